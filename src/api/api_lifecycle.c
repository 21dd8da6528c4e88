/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Init, cleanup, reset, polling, capsets and logging.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_private.h"
#include "core/vkfd_backend.h"
#include "core/vkfd_fence.h"
#include "util/vkfd_log.h"

VIRGL_EXPORT int
virgl_renderer_init(void *cookie, int flags, struct virgl_renderer_callbacks *cb)
{
   API_REENTRY(init(cookie, flags, cb));
   struct vkfd_renderer *renderer = api_lock();
   bool first = !renderer->initialized;
   int ret = vkfd_renderer_init(renderer, cookie, flags, cb);
   if (!ret && first)
      forward_renderer_start(renderer);
   api_unlock(renderer);
   return ret;
}

VIRGL_EXPORT void
virgl_renderer_poll(void)
{
   API_REENTRY_VOID(poll());
   forward_poll_begin();
   struct vkfd_renderer *renderer = api_lock();
   bool ready = renderer->initialized;
   api_unlock(renderer);
   /* callbacks run on this thread, without the API lock */
   if (ready)
      vkfd_fence_poll(&renderer->fences, false, 0);
   forward_poll_end();
}

VIRGL_EXPORT void
virgl_renderer_cleanup(void *cookie)
{
   API_REENTRY_VOID(cleanup(cookie));
   struct vkfd_renderer *renderer = api_lock();
   forward_renderer_stop(renderer);
   vkfd_renderer_fini(renderer);
   forward_renderer_fini(renderer);
   api_unlock(renderer);
}

VIRGL_EXPORT void
virgl_renderer_reset(void)
{
   API_REENTRY_VOID(reset());
   struct vkfd_renderer *renderer = api_lock();
   vkfd_renderer_reset(renderer);
   forward_renderer_reset(renderer);
   api_unlock(renderer);
}

VIRGL_EXPORT int
virgl_renderer_get_poll_fd(void)
{
   API_REENTRY(get_poll_fd());
   int forwarded_fd;
   if (forward_get_poll_fd(&forwarded_fd))
      return forwarded_fd;
   struct vkfd_renderer *renderer = api_lock();
   int fd = renderer->initialized ? vkfd_fence_queue_poll_fd(&renderer->fences) : -1;
   api_unlock(renderer);
   return fd;
}

VIRGL_EXPORT void
virgl_renderer_force_ctx_0(void)
{
   API_REENTRY_VOID(force_ctx_0());
   /* virtkfd has no GL context to make current; the system library may */
   forward_force_ctx_0();
}

VIRGL_EXPORT void
virgl_renderer_get_cap_set(uint32_t set, uint32_t *max_ver, uint32_t *max_size)
{
   API_REENTRY_VOID(get_cap_set(set, max_ver, max_size));
   if (forward_get_cap_set(set, max_ver, max_size))
      return;
   uint32_t version = 0, size = 0;
   const struct vkfd_backend *backend = vkfd_backend_find(set);
   if (backend && backend->get_capset_info)
      backend->get_capset_info(&version, &size);
   if (max_ver)
      *max_ver = version;
   if (max_size)
      *max_size = size;
}

VIRGL_EXPORT void
virgl_renderer_fill_caps(uint32_t set, uint32_t version, void *caps)
{
   API_REENTRY_VOID(fill_caps(set, version, caps));
   if (forward_fill_caps(set, version, caps))
      return;
   struct vkfd_renderer *renderer = api_lock();
   const struct vkfd_backend *backend = vkfd_backend_find(set);
   if (!caps || !renderer->initialized || !backend || !vkfd_backend_is_ready(set)) {
      vkfd_warn("fill_caps: capset %u is not available", set);
   } else {
      uint32_t max_version = 0, max_size = 0;
      backend->get_capset_info(&max_version, &max_size);
      if (version > max_version)
         vkfd_warn("fill_caps: capset %u version %u > %u", set, version, max_version);
      else if (max_size)
         backend->fill_capset(version, caps);
   }
   api_unlock(renderer);
}

/* The VMM's log callback and its data, owned by the logging module once installed. */
struct vmm_log_sink {
   virgl_log_callback_type cb;
   void *data;
   virgl_free_data_callback_type free_data;
};

static void
vmm_log_deliver(enum vkfd_log_level level, const char *message, void *user_data)
{
   struct vmm_log_sink *sink = user_data;
   if (sink->cb)
      sink->cb((enum virgl_log_level_flags)level, message, sink->data);
}

static void
vmm_log_release(void *user_data)
{
   struct vmm_log_sink *sink = user_data;
   if (sink->free_data)
      sink->free_data(sink->data);
   free(sink);
}

VIRGL_EXPORT void
virgl_set_log_callback(virgl_log_callback_type cb, void *user_data,
                       virgl_free_data_callback_type free_user_data_cb)
{
   API_REENTRY_VOID(set_log_callback(cb, user_data, free_user_data_cb));
   struct vmm_log_sink *sink = calloc(1, sizeof(*sink));
   if (!sink) {
      vkfd_err("set_log_callback: out of memory; keeping the previous callback");
      if (free_user_data_cb)
         free_user_data_cb(user_data);
      return;
   }
   sink->cb = cb;
   sink->data = user_data;
   sink->free_data = free_user_data_cb;
   /* the previous sink's data is released by vmm_log_release */
   vkfd_log_set_sink(cb ? vmm_log_deliver : NULL, sink, vmm_log_release);
}

VIRGL_EXPORT virgl_debug_callback_type
virgl_set_debug_callback(virgl_debug_callback_type cb)
{
   API_REENTRY(set_debug_callback(cb));
   return vkfd_log_set_legacy_sink(cb);
}
