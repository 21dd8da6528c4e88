/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Shared by the virgl_renderer_* entry points: every entry point takes the renderer
 * lock for its whole duration, except the fence delivery of virgl_renderer_poll,
 * which calls the VMM back without it. Calls that belong to the system virglrenderer
 * are routed first (the forward_* hooks take the lock themselves).
 */
#ifndef VKFD_API_PRIVATE_H
#define VKFD_API_PRIVATE_H

#include "virglrenderer.h"

#include "core/vkfd_renderer.h"
#include "forward/forward.h"

/*
 * The system virglrenderer (src/forward) calls some of its own exported functions
 * through its PLT, and those calls bind to virtkfd's: each entry point sends a call
 * made from inside that library straight back to it, before taking any lock.
 */
#define API_REENTRY(call)                \
   do {                                  \
      if (forward_reentered())           \
         return forward_reentry()->call; \
   } while (0)

#define API_REENTRY_VOID(call)    \
   do {                           \
      if (forward_reentered()) {  \
         forward_reentry()->call; \
         return;                  \
      }                           \
   } while (0)

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
