/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "vkfd_renderer.h"

#include <errno.h>
#include <stdlib.h>

#include "virglrenderer.h"

#include "core/vkfd_backend.h"
#include "core/vkfd_context.h"
#include "core/vkfd_resource.h"
#include "util/vkfd_log.h"

static struct vkfd_renderer the_renderer = {
   .lock = PTHREAD_MUTEX_INITIALIZER,
};

struct vkfd_renderer *
vkfd_renderer_get(void)
{
   return &the_renderer;
}

static void
renderer_retire_global(void *data, uint32_t fence_id)
{
   struct vkfd_renderer *renderer = data;
   if (renderer->ctx0_retired_hook) {
      renderer->ctx0_retired_hook(renderer->ctx0_retired_hook_data, fence_id);
      return;
   }
   void (*write_fence)(void *, uint32_t) = VKFD_CB(renderer, 1, write_fence);
   if (write_fence)
      write_fence(renderer->cookie, fence_id);
}

static void
renderer_retire_context(void *data, uint32_t ctx_id, uint32_t ring_idx, uint64_t fence_id)
{
   struct vkfd_renderer *renderer = data;
   void (*write_context_fence)(void *, uint32_t, uint32_t, uint64_t) =
      VKFD_CB(renderer, 3, write_context_fence);
   if (write_context_fence)
      write_context_fence(renderer->cookie, ctx_id, ring_idx, fence_id);
}

int
vkfd_renderer_init(struct vkfd_renderer *renderer, void *cookie, int flags,
                   struct virgl_renderer_callbacks *cbs)
{
   if (renderer->initialized) {
      if (renderer->cookie != cookie || renderer->flags != flags ||
          renderer->cbs != cbs) {
         vkfd_err("init: already initialised with another cookie, flags or callbacks");
         return -EBUSY;
      }
      /* QEMU re-initialises with the same triple after a device reset */
      return 0;
   }
   if (!cbs || cbs->version < 1 || cbs->version > VIRGL_RENDERER_CALLBACKS_VERSION) {
      vkfd_err("init: callbacks %s (version %d, supported 1..%d)",
               cbs ? "have an unsupported version" : "missing", cbs ? cbs->version : 0,
               VIRGL_RENDERER_CALLBACKS_VERSION);
      return -1;
   }
   if (cbs->version >= 4 && cbs->get_egl_display &&
       (!cbs->create_gl_context || !cbs->destroy_gl_context || !cbs->make_current)) {
      vkfd_err("init: get_egl_display given without the GL context callbacks");
      return EINVAL;
   }

   vkfd_log_reload_level();
   renderer->cookie = cookie;
   renderer->flags = flags;
   renderer->cbs = cbs;
   vkfd_hash_init(&renderer->contexts);
   vkfd_hash_init(&renderer->resources);

   bool async = flags & VIRGL_RENDERER_ASYNC_FENCE_CB;
   const struct vkfd_fence_sink sink = {
      .retire_global = renderer_retire_global,
      .retire_context = renderer_retire_context,
      .data = renderer,
   };
   int ret = vkfd_fence_queue_init(&renderer->fences, async, &sink);
   if (ret) {
      renderer->cbs = NULL;
      return ENOMEM;
   }

   const struct vkfd_backend_init_args args = {
      .renderer_flags = flags,
      .rocm_requested = flags & VIRGL_RENDERER_USE_ROCM,
      .get_drm_fd = VKFD_CB(renderer, 2, get_drm_fd),
      .cookie = cookie,
   };
   vkfd_backends_init(&args);
   renderer->initialized = true;
   vkfd_info("initialised (flags 0x%x, callbacks v%d, %s fence callbacks)", flags,
             cbs->version, async ? "asynchronous" : "polled");
   return 0;
}

static void *
hash_any(const struct vkfd_hash *hash)
{
   size_t cursor = 0;
   void *value = NULL;
   vkfd_hash_next(hash, &cursor, NULL, &value);
   return value;
}

void
vkfd_renderer_reset(struct vkfd_renderer *renderer)
{
   if (!renderer->initialized)
      return;
   /* contexts first: their detach hooks release the objects behind resources */
   struct vkfd_context *ctx;
   while ((ctx = hash_any(&renderer->contexts)))
      vkfd_context_destroy(renderer, ctx);
   struct vkfd_resource *res;
   while ((res = hash_any(&renderer->resources)))
      vkfd_resource_unref(renderer, res);
   vkfd_fence_queue_drop_all(&renderer->fences);
}

void
vkfd_renderer_fini(struct vkfd_renderer *renderer)
{
   if (!renderer->initialized)
      return;
   vkfd_renderer_reset(renderer);
   vkfd_fence_queue_fini(&renderer->fences);
   vkfd_backends_fini();
   vkfd_hash_fini(&renderer->contexts);
   vkfd_hash_fini(&renderer->resources);
   renderer->initialized = false;
   renderer->cookie = NULL;
   renderer->flags = 0;
   renderer->cbs = NULL;
   vkfd_info("cleaned up");
}
