/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Shared by the virgl_renderer_* entry points: every entry point takes the renderer
 * lock for its whole duration, except the fence delivery of virgl_renderer_poll,
 * which calls the VMM back without it.
 */
#ifndef VKFD_API_PRIVATE_H
#define VKFD_API_PRIVATE_H

#include "virglrenderer.h"

#include "core/vkfd_renderer.h"

static inline struct vkfd_renderer *
api_lock(void)
{
   struct vkfd_renderer *renderer = vkfd_renderer_get();
   pthread_mutex_lock(&renderer->lock);
   return renderer;
}

static inline void
api_unlock(struct vkfd_renderer *renderer)
{
   pthread_mutex_unlock(&renderer->lock);
}

#endif /* VKFD_API_PRIVATE_H */
