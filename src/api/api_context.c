/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Contexts, command submission and fences.
 */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "api/api_private.h"
#include "core/vkfd_context.h"
#include "core/vkfd_resource.h"
#include "util/vkfd_log.h"

VIRGL_EXPORT int
virgl_renderer_context_create_with_flags(uint32_t ctx_id, uint32_t ctx_flags,
                                         uint32_t nlen, const char *name)
{
   API_REENTRY(context_create_with_flags(ctx_id, ctx_flags, nlen, name));
   int ret;
   if (forward_context_create(ctx_id, ctx_flags, nlen, name, &ret))
      return ret;
   struct vkfd_renderer *renderer = api_lock();
   if (forward_context_id_taken(ctx_id))
      ret = EINVAL;
   else
      ret = vkfd_context_create(renderer, ctx_id, ctx_flags, name, nlen);
   api_unlock(renderer);
   return ret;
}

VIRGL_EXPORT int
virgl_renderer_context_create(uint32_t handle, uint32_t nlen, const char *name)
{
   API_REENTRY(context_create(handle, nlen, name));
   /* a VIRGL2 (GL) context, like upstream: the system library's, when it has GL */
   return virgl_renderer_context_create_with_flags(handle, 2, nlen, name);
}

VIRGL_EXPORT void
virgl_renderer_context_destroy(uint32_t handle)
{
   API_REENTRY_VOID(context_destroy(handle));
   if (forward_context_destroy(handle))
      return;
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_context *ctx = vkfd_context_lookup(renderer, handle);
   if (ctx)
      vkfd_context_destroy(renderer, ctx);
   api_unlock(renderer);
}

static int
submit_check(struct vkfd_renderer *renderer, const void *buffer, int ctx_id, int ndw,
             bool alignment_first, struct vkfd_context **out)
{
   struct vkfd_context *ctx = vkfd_context_lookup(renderer, (uint32_t)ctx_id);
   if (!ctx) {
      vkfd_err("submit_cmd: unknown context %d", ctx_id);
      return EINVAL;
   }
   bool misaligned = ((uintptr_t)buffer & 3) != 0;
   bool bad_size = ndw < 0 || (uint64_t)ndw > UINT32_MAX / 4 || (ndw && !buffer);
   if (alignment_first && misaligned) {
      vkfd_err("submit_cmd: ctx %d: buffer %p is not 4-byte aligned", ctx_id, buffer);
      return EFAULT;
   }
   if (bad_size) {
      vkfd_err("submit_cmd: ctx %d: bad dword count %d", ctx_id, ndw);
      return EINVAL;
   }
   if (misaligned) {
      vkfd_err("submit_cmd: ctx %d: buffer %p is not 4-byte aligned", ctx_id, buffer);
      return EFAULT;
   }
   *out = ctx;
   return 0;
}

VIRGL_EXPORT int
virgl_renderer_submit_cmd(void *buffer, int ctx_id, int ndw)
{
   API_REENTRY(submit_cmd(buffer, ctx_id, ndw));
   int ret;
   if (forward_submit_cmd(buffer, ctx_id, ndw, &ret))
      return ret;
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_context *ctx;
   ret = submit_check(renderer, buffer, ctx_id, ndw, false, &ctx);
   if (!ret)
      ret = ctx->ops->submit_cmd(ctx, buffer, (size_t)ndw * 4);
   api_unlock(renderer);
   return ret;
}

VIRGL_EXPORT int
virgl_renderer_submit_cmd2(void *buffer, int ctx_id, int ndw, uint64_t *in_fence_ids,
                           uint32_t num_in_fences)
{
   API_REENTRY(submit_cmd2(buffer, ctx_id, ndw, in_fence_ids, num_in_fences));
   int ret;
   if (forward_submit_cmd2(buffer, ctx_id, ndw, in_fence_ids, num_in_fences, &ret))
      return ret;
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_context *ctx;
   ret = submit_check(renderer, buffer, ctx_id, ndw, true, &ctx);
   if (!ret) {
      /*
       * In-fence ids name exportable fences of other timelines. virtkfd's contexts
       * complete their work before a fence exists, so every id is already signalled
       * and upstream's rule (signalled or unknown ids are skipped) leaves nothing.
       */
      if (num_in_fences && !in_fence_ids)
         vkfd_debug("submit_cmd2: ctx %d: %u in-fences without an array", ctx_id,
                    num_in_fences);
      ret = ctx->ops->submit_cmd(ctx, buffer, (size_t)ndw * 4);
   }
   api_unlock(renderer);
   return ret;
}

VIRGL_EXPORT void
virgl_renderer_ctx_attach_resource(int ctx_id, int res_handle)
{
   API_REENTRY_VOID(ctx_attach_resource(ctx_id, res_handle));
   if (forward_ctx_attach_resource(ctx_id, res_handle))
      return;
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_context *ctx = vkfd_context_lookup(renderer, (uint32_t)ctx_id);
   struct vkfd_resource *res = vkfd_resource_lookup(renderer, (uint32_t)res_handle);
   if (ctx && res) {
      if (vkfd_context_attach(ctx, res, false))
         vkfd_err("ctx_attach_resource: ctx %d res %d: out of memory", ctx_id,
                  res_handle);
   } else {
      vkfd_debug("ctx_attach_resource: unknown ctx %d or res %d", ctx_id, res_handle);
   }
   api_unlock(renderer);
}

VIRGL_EXPORT void
virgl_renderer_ctx_detach_resource(int ctx_id, int res_handle)
{
   API_REENTRY_VOID(ctx_detach_resource(ctx_id, res_handle));
   if (forward_ctx_detach_resource(ctx_id, res_handle))
      return;
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_context *ctx = vkfd_context_lookup(renderer, (uint32_t)ctx_id);
   struct vkfd_resource *res = vkfd_resource_lookup(renderer, (uint32_t)res_handle);
   if (ctx && res)
      vkfd_context_detach(ctx, res);
   api_unlock(renderer);
}

VIRGL_EXPORT int
virgl_renderer_create_fence(int client_fence_id, uint32_t ctx_id)
{
   API_REENTRY(create_fence(client_fence_id, ctx_id));
   struct vkfd_renderer *renderer = api_lock();
   int ret = EINVAL;
   if (renderer->initialized) {
      /*
       * Context 0 is the host CPU timeline: every submit finished inside its call,
       * so the fence is complete now. It is delivered later (poll or worker), never
       * from inside this call. With forwarding, the VMM hears of it once the system
       * library has retired it too.
       */
      ret = forward_create_fence_begin((uint32_t)client_fence_id, ctx_id);
      if (!ret) {
         ret = vkfd_fence_create(&renderer->fences, &renderer->fences.global,
                                 (uint32_t)client_fence_id, false, true, NULL);
         forward_create_fence_end(ret == 0);
      }
      ret = ret ? ENOMEM : 0;
   } else {
      vkfd_err("create_fence: renderer not initialised");
   }
   api_unlock(renderer);
   return ret;
}

VIRGL_EXPORT int
virgl_renderer_context_create_fence(uint32_t ctx_id, uint32_t flags, uint32_t ring_idx,
                                    uint64_t fence_id)
{
   API_REENTRY(context_create_fence(ctx_id, flags, ring_idx, fence_id));
   int ret;
   if (forward_context_create_fence(ctx_id, flags, ring_idx, fence_id, &ret))
      return ret;
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_context *ctx = vkfd_context_lookup(renderer, ctx_id);
   if (!ctx) {
      vkfd_err("context_create_fence: unknown context %u", ctx_id);
      ret = -EINVAL;
   } else {
      ret = vkfd_context_create_fence(ctx, flags, ring_idx, fence_id);
   }
   api_unlock(renderer);
   return ret;
}

VIRGL_EXPORT void
virgl_renderer_context_poll(uint32_t ctx_id)
{
   API_REENTRY_VOID(context_poll(ctx_id));
   if (forward_context_poll(ctx_id))
      return;
   struct vkfd_renderer *renderer = api_lock();
   bool known = vkfd_context_lookup(renderer, ctx_id) != NULL;
   api_unlock(renderer);
   if (known)
      vkfd_fence_poll(&renderer->fences, true, ctx_id);
}

VIRGL_EXPORT int
virgl_renderer_context_get_poll_fd(uint32_t ctx_id)
{
   API_REENTRY(context_get_poll_fd(ctx_id));
   int fd;
   if (forward_context_get_poll_fd(ctx_id, &fd))
      return fd;
   /* like DRM contexts: one renderer-wide fd (virgl_renderer_get_poll_fd) */
   return -1;
}

VIRGL_EXPORT int
virgl_renderer_get_dev_fd(int ctx_id)
{
   API_REENTRY(get_dev_fd(ctx_id));
   int ret;
   if (forward_get_dev_fd(ctx_id, &ret))
      return ret;
   struct vkfd_renderer *renderer = api_lock();
   ret = vkfd_context_lookup(renderer, (uint32_t)ctx_id) ? -ENODEV : -EINVAL;
   api_unlock(renderer);
   return ret;
}

VIRGL_EXPORT int
virgl_renderer_export_fence(uint64_t client_fence_id, int *fd)
{
   API_REENTRY(export_fence(client_fence_id, fd));
   int ret;
   if (forward_export_fence(client_fence_id, fd, &ret))
      return ret;
   /* virtkfd's fences retire as soon as they exist: none is left to export */
   vkfd_debug("export_fence: fence 0x%llx is not exportable",
              (unsigned long long)client_fence_id);
   if (fd)
      *fd = -1;
   return -EINVAL;
}

VIRGL_EXPORT int
virgl_renderer_export_signalled_fence(void)
{
   API_REENTRY(export_signalled_fence());
   int fd;
   if (forward_export_signalled_fence(&fd))
      return fd;
   /* a sync_file needs a kernel fence; no device of virtkfd's provides one */
   return -1;
}

VIRGL_EXPORT int
virgl_renderer_get_fence_fd(uint64_t fence_id)
{
   API_REENTRY(get_fence_fd(fence_id));
   int fd;
   if (forward_get_fence_fd(fence_id, &fd))
      return fd;
   return -1;
}

VIRGL_EXPORT int
virgl_renderer_attach_fence(int ctx_id, int fence_fd)
{
   API_REENTRY(attach_fence(ctx_id, fence_fd));
   int ret;
   if (forward_attach_fence(ctx_id, fence_fd, &ret))
      return ret;
   struct vkfd_renderer *renderer = api_lock();
   ret = EINVAL;
   if (vkfd_context_lookup(renderer, (uint32_t)ctx_id)) {
      /*
       * The fence orders GPU work after the fence's producer. virtkfd contexts run
       * their commands synchronously on the host, after the VMM delivered them, so
       * there is nothing to order: the fd is consumed.
       */
      if (fence_fd >= 0)
         close(fence_fd);
      ret = 0;
   } else {
      vkfd_err("attach_fence: unknown context %d", ctx_id);
   }
   api_unlock(renderer);
   return ret;
}
