/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * GL-only entry points. virtkfd has no GL renderer: with forwarding they are the
 * system library's; without it each keeps the error shape of an upstream library
 * built without one and touches nothing.
 */
#include <errno.h>

#include "api/api_private.h"
#include "util/vkfd_log.h"

VIRGL_EXPORT int
virgl_renderer_resource_create(struct virgl_renderer_resource_create_args *args,
                               struct iovec *iov, uint32_t num_iovs)
{
   API_REENTRY(resource_create(args, iov, num_iovs));
   int ret;
   if (forward_resource_create(args, iov, num_iovs, &ret))
      return ret;
   vkfd_debug("resource_create: res %u: GL resources are not supported",
              args ? args->handle : 0);
   return EINVAL;
}

VIRGL_EXPORT int
virgl_renderer_resource_import_eglimage(struct virgl_renderer_resource_create_args *args,
                                        void *image)
{
   API_REENTRY(resource_import_eglimage(args, image));
   int ret;
   if (forward_resource_import_eglimage(args, image, &ret))
      return ret;
   vkfd_debug("resource_import_eglimage: GL resources are not supported");
   return EINVAL;
}

VIRGL_EXPORT int
virgl_renderer_transfer_read_iov(uint32_t handle, uint32_t ctx_id, uint32_t level,
                                 uint32_t stride, uint32_t layer_stride,
                                 struct virgl_box *box, uint64_t offset,
                                 struct iovec *iov, int iovec_cnt)
{
   API_REENTRY(transfer_read_iov(handle, ctx_id, level, stride, layer_stride, box, offset,
                                 iov, iovec_cnt));
   int ret;
   if (forward_transfer_read_iov(handle, ctx_id, level, stride, layer_stride, box, offset,
                                 iov, iovec_cnt, &ret))
      return ret;
   vkfd_debug("transfer_read_iov: res %u: transfers are not supported", handle);
   return EINVAL;
}

VIRGL_EXPORT int
virgl_renderer_transfer_write_iov(uint32_t handle, uint32_t ctx_id, int level,
                                  uint32_t stride, uint32_t layer_stride,
                                  struct virgl_box *box, uint64_t offset,
                                  struct iovec *iovec, unsigned int iovec_cnt)
{
   API_REENTRY(transfer_write_iov(handle, ctx_id, level, stride, layer_stride, box,
                                  offset, iovec, iovec_cnt));
   int ret;
   if (forward_transfer_write_iov(handle, ctx_id, level, stride, layer_stride, box,
                                  offset, iovec, iovec_cnt, &ret))
      return ret;
   vkfd_debug("transfer_write_iov: res %u: transfers are not supported", handle);
   return EINVAL;
}

VIRGL_EXPORT void *
virgl_renderer_get_cursor_data(uint32_t resource_id, uint32_t *width, uint32_t *height)
{
   API_REENTRY(get_cursor_data(resource_id, width, height));
   void *data;
   if (forward_get_cursor_data(resource_id, width, height, &data))
      return data;
   return NULL;
}

VIRGL_EXPORT void
virgl_renderer_get_rect(int resource_id, struct iovec *iov, unsigned int num_iovs,
                        uint32_t offset, int x, int y, int width, int height)
{
   API_REENTRY_VOID(get_rect(resource_id, iov, num_iovs, offset, x, y, width, height));
   forward_get_rect(resource_id, iov, num_iovs, offset, x, y, width, height);
}

VIRGL_EXPORT int
virgl_renderer_get_fd_for_texture(uint32_t tex_id, int *fd)
{
   API_REENTRY(get_fd_for_texture(tex_id, fd));
   int ret;
   if (forward_get_fd_for_texture(tex_id, fd, &ret))
      return ret;
   return -1;
}

VIRGL_EXPORT int
virgl_renderer_get_fd_for_texture2(uint32_t tex_id, int *fd, int *stride, int *offset)
{
   API_REENTRY(get_fd_for_texture2(tex_id, fd, stride, offset));
   int ret;
   if (forward_get_fd_for_texture2(tex_id, fd, stride, offset, &ret))
      return ret;
   return -1;
}
