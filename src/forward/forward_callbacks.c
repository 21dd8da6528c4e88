/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The callbacks the system library calls. Its cookie is virtkfd's forwarding state;
 * each callback passes the call on to the VMM's callback with the VMM's cookie,
 * translating the 0.x structure layouts, except write_fence, whose context-0 fences
 * first wait for virtkfd's half (forward_fence.h). The system library sees exactly
 * the callbacks the VMM gave: a member the VMM left NULL stays NULL.
 */
#include <stdio.h>
#include <string.h>

#include "forward/forward_private.h"
#include "util/vkfd_log.h"

static struct vkfd_renderer *
vmm(void)
{
   return forward_state.renderer;
}

static void
system_write_fence(void *cookie, uint32_t fence_id)
{
   forward_fence_merger_retire(&forward_state.ctx0, FORWARD_FENCE_SYSTEM, fence_id);
}

void
forward_deliver_ctx0_fence(void *data, uint32_t fence_id)
{
   struct vkfd_renderer *renderer = data;
   void (*write_fence)(void *, uint32_t) = VKFD_CB(renderer, 1, write_fence);
   if (!write_fence)
      return;
   unsigned depth = forward_library_leave();
   write_fence(renderer->cookie, fence_id);
   forward_library_return(depth);
}

static virgl_renderer_gl_context
system_create_gl_context(void *cookie, int scanout_idx,
                         struct virgl_renderer_gl_ctx_param *param)
{
   /* the VMM reads the layout of the header it was built with: 1.x */
   struct virgl_renderer_gl_ctx_param copy;
   memset(&copy, 0, sizeof(copy));
   if (param && forward_state.lib->api_v1) {
      copy = *param;
   } else if (param) {
      const struct forward_gl_ctx_param_v0 *v0 = (const void *)param;
      copy.version = v0->version;
      copy.shared = v0->shared;
      copy.major_ver = v0->major_ver;
      copy.minor_ver = v0->minor_ver;
   }
   unsigned depth = forward_library_leave();
   virgl_renderer_gl_context ctx =
      vmm()->cbs->create_gl_context(vmm()->cookie, scanout_idx, param ? &copy : NULL);
   forward_library_return(depth);
   return ctx;
}

static void
system_destroy_gl_context(void *cookie, virgl_renderer_gl_context ctx)
{
   unsigned depth = forward_library_leave();
   vmm()->cbs->destroy_gl_context(vmm()->cookie, ctx);
   forward_library_return(depth);
}

static int
system_make_current(void *cookie, int scanout_idx, virgl_renderer_gl_context ctx)
{
   unsigned depth = forward_library_leave();
   int ret = vmm()->cbs->make_current(vmm()->cookie, scanout_idx, ctx);
   forward_library_return(depth);
   return ret;
}

static int
system_get_drm_fd(void *cookie)
{
   unsigned depth = forward_library_leave();
   int fd = vmm()->cbs->get_drm_fd(vmm()->cookie);
   forward_library_return(depth);
   return fd;
}

static void
system_write_context_fence(void *cookie, uint32_t ctx_id, uint32_t ring_idx,
                           uint64_t fence_id)
{
   unsigned depth = forward_library_leave();
   vmm()->cbs->write_context_fence(vmm()->cookie, ctx_id, ring_idx, fence_id);
   forward_library_return(depth);
}

static int
system_get_server_fd(void *cookie, uint32_t version)
{
   unsigned depth = forward_library_leave();
   int fd = vmm()->cbs->get_server_fd(vmm()->cookie, version);
   forward_library_return(depth);
   return fd;
}

static void *
system_get_egl_display(void *cookie)
{
   unsigned depth = forward_library_leave();
   void *display = vmm()->cbs->get_egl_display(vmm()->cookie);
   forward_library_return(depth);
   return display;
}

void
forward_callbacks_build(const struct vkfd_renderer *renderer)
{
   struct virgl_renderer_callbacks *cbs = &forward_state.callbacks;
   memset(cbs, 0, sizeof(*cbs));
   cbs->version = renderer->cbs->version;
   /* always: the system half of every context-0 fence */
   cbs->write_fence = system_write_fence;
#define FORWARD_CALLBACK(version, member, trampoline) \
   if (VKFD_CB(renderer, version, member))            \
      cbs->member = trampoline;
   FORWARD_CALLBACK(1, create_gl_context, system_create_gl_context)
   FORWARD_CALLBACK(1, destroy_gl_context, system_destroy_gl_context)
   FORWARD_CALLBACK(1, make_current, system_make_current)
   FORWARD_CALLBACK(2, get_drm_fd, system_get_drm_fd)
   FORWARD_CALLBACK(3, write_context_fence, system_write_context_fence)
   FORWARD_CALLBACK(3, get_server_fd, system_get_server_fd)
   FORWARD_CALLBACK(4, get_egl_display, system_get_egl_display)
#undef FORWARD_CALLBACK
}

/* ---- the system library's log messages -------------------------------------- */

static void
log_system_message(enum vkfd_log_level level, const char *message)
{
   size_t len = strlen(message);
   while (len && (message[len - 1] == '\n' || message[len - 1] == '\r'))
      len--;
   if (len)
      vkfd_log(level, "virglrenderer: %.*s", (int)len, message);
}

/* 0.x: printf-style, no level. Upstream prints these to stderr, so they are warnings. */
__attribute__((format(printf, 1, 0))) static void
system_debug_log(const char *fmt, va_list ap)
{
   if (!vkfd_log_enabled(VKFD_LOG_WARNING))
      return;
   char message[1024];
   va_list copy;
   va_copy(copy, ap);
   vsnprintf(message, sizeof(message), fmt, copy);
   va_end(copy);
   log_system_message(VKFD_LOG_WARNING, message);
}

/* 1.x: leveled messages, the same levels as virtkfd's. */
static void
system_log(enum virgl_log_level_flags level, const char *message, void *user_data)
{
   enum vkfd_log_level mapped =
      level <= VIRGL_LOG_LEVEL_ERROR ? (enum vkfd_log_level)level : VKFD_LOG_ERROR;
   if (message && vkfd_log_enabled(mapped))
      log_system_message(mapped, message);
}

void
forward_log_attach(const struct forward_library *lib)
{
   /* before any other call, so that its init messages arrive here too */
   forward_call_depth++;
   if (lib->fn.set_log_callback)
      lib->fn.set_log_callback(system_log, NULL, NULL);
   else
      lib->fn.set_debug_callback(system_debug_log);
   forward_call_depth--;
}
