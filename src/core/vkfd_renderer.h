/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The process-wide renderer: one struct, in one file, with the API lock beside it.
 * Every virgl_renderer_* entry point takes `lock` before touching anything else;
 * fence callbacks run without it.
 */
#ifndef VKFD_RENDERER_H
#define VKFD_RENDERER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/vkfd_fence.h"
#include "util/vkfd_hash.h"

struct virgl_renderer_callbacks;

struct vkfd_renderer {
   pthread_mutex_t lock;
   bool initialized;
   void *cookie;
   int flags;
   struct virgl_renderer_callbacks *cbs; /* the VMM's struct, read in place */
   struct vkfd_hash contexts;            /* ctx_id -> struct vkfd_context * */
   struct vkfd_hash resources;           /* res_id -> struct vkfd_resource * */
   struct vkfd_fence_queue fences;
   /*
    * Set while another renderer shares context-0 fences (src/forward): a retired
    * context-0 fence goes to this hook instead of straight to the VMM. Set and cleared
    * with the lock held, while no context-0 fence exists.
    */
   void (*ctx0_retired_hook)(void *data, uint32_t fence_id);
   void *ctx0_retired_hook_data;
};

struct vkfd_renderer *vkfd_renderer_get(void);

/* With the lock held. Returns what virgl_renderer_init() returns. */
int vkfd_renderer_init(struct vkfd_renderer *renderer, void *cookie, int flags,
                       struct virgl_renderer_callbacks *cbs);

/* Destroys every context and resource and drops pending fences. */
void vkfd_renderer_reset(struct vkfd_renderer *renderer);

void vkfd_renderer_fini(struct vkfd_renderer *renderer);

/* Reads a callback member only when the VMM's struct version includes it. */
#define VKFD_CB(renderer, min_version, member)                   \
   ((renderer)->cbs && (renderer)->cbs->version >= (min_version) \
       ? (renderer)->cbs->member                                 \
       : NULL)

#endif /* VKFD_RENDERER_H */
