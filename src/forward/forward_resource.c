/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Resources of the system library: classic (GL) resources, and blobs of its
 * contexts, routed by resource id. One id space for both halves: an id live in either
 * is refused for a new resource. The 0.x layouts are translated here.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "core/vkfd_context.h"
#include "core/vkfd_resource.h"
#include "forward.h"
#include "forward/forward_private.h"
#include "util/vkfd_log.h"

/* With the lock: refuses an id that is live in either half. */
static bool
resource_id_free(const char *what, uint32_t res_id)
{
   if (!vkfd_resource_lookup(vkfd_renderer_get(), res_id) &&
       !forward_has_resource(res_id))
      return true;
   vkfd_err("%s: res %u already exists", what, res_id);
   return false;
}

static void
resource_record(const struct forward_library *lib, const char *what, uint32_t res_id,
                int *ret)
{
   if (*ret)
      return;
   if (forward_table_insert(&forward_state.resources, res_id, &forward_resource_marker)) {
      vkfd_err("%s: res %u: out of memory", what, res_id);
      FORWARD_SYS_VOID(lib, resource_unref, res_id);
      *ret = -ENOMEM;
   }
}

bool
forward_resource_create(struct virgl_renderer_resource_create_args *args,
                        struct iovec *iov, uint32_t num_iovs, int *ret)
{
   const struct forward_library *lib = forward_lock();
   if (!lib)
      return false;
   if (!args) {
      vkfd_err("resource_create: no arguments");
      *ret = EINVAL;
   } else if (!resource_id_free("resource_create", args->handle)) {
      *ret = -EINVAL; /* upstream's sign for a duplicate */
   } else {
      FORWARD_SYS(*ret, lib, resource_create, args, iov, num_iovs);
      resource_record(lib, "resource_create", args->handle, ret);
   }
   forward_unlock();
   return true;
}

bool
forward_resource_import_eglimage(struct virgl_renderer_resource_create_args *args,
                                 void *image, int *ret)
{
   const struct forward_library *lib = forward_lock();
   if (!lib)
      return false;
   if (!args) {
      vkfd_err("resource_import_eglimage: no arguments");
      *ret = EINVAL;
   } else if (!resource_id_free("resource_import_eglimage", args->handle)) {
      *ret = -EINVAL;
   } else {
      FORWARD_SYS(*ret, lib, resource_import_eglimage, args, image);
      resource_record(lib, "resource_import_eglimage", args->handle, ret);
   }
   forward_unlock();
   return true;
}

bool
forward_resource_create_blob(const struct virgl_renderer_resource_create_blob_args *args,
                             int *ret)
{
   /* a blob belongs to the renderer of its context */
   const struct forward_library *lib = args ? forward_lock_context(args->ctx_id) : NULL;
   if (!lib)
      return false;
   if (!resource_id_free("create_blob", args->res_handle)) {
      *ret = -EINVAL;
   } else {
      FORWARD_SYS(*ret, lib, resource_create_blob, args);
      resource_record(lib, "create_blob", args->res_handle, ret);
   }
   forward_unlock();
   return true;
}

bool
forward_resource_unref(uint32_t res_id)
{
   const struct forward_library *lib = forward_lock_resource(res_id);
   if (!lib)
      return false;
   FORWARD_SYS_VOID(lib, resource_unref, res_id);
   forward_table_remove(&forward_state.resources, res_id);
   forward_unlock();
   return true;
}

bool
forward_resource_set_priv(uint32_t res_id, void *priv)
{
   const struct forward_library *lib = forward_lock_resource(res_id);
   if (!lib)
      return false;
   FORWARD_SYS_VOID(lib, resource_set_priv, res_id, priv);
   forward_unlock();
   return true;
}

bool
forward_resource_get_priv(uint32_t res_id, void **priv)
{
   const struct forward_library *lib = forward_lock_resource(res_id);
   if (!lib)
      return false;
   FORWARD_SYS(*priv, lib, resource_get_priv, res_id);
   forward_unlock();
   return true;
}

bool
forward_resource_attach_iov(int res_id, struct iovec *iov, int num_iovs, int *ret)
{
   const struct forward_library *lib = forward_lock_resource((uint32_t)res_id);
   if (!lib)
      return false;
   FORWARD_SYS(*ret, lib, resource_attach_iov, res_id, iov, num_iovs);
   forward_unlock();
   return true;
}

bool
forward_resource_detach_iov(int res_id, struct iovec **iov, int *num_iovs)
{
   const struct forward_library *lib = forward_lock_resource((uint32_t)res_id);
   if (!lib)
      return false;
   FORWARD_SYS_VOID(lib, resource_detach_iov, res_id, iov, num_iovs);
   forward_unlock();
   return true;
}

/* With the lock: get_info through the layout of the loaded library. */
static int
system_get_info(const struct forward_library *lib, int res_id,
                struct virgl_renderer_resource_info *info)
{
   int ret;
   if (lib->api_v1) {
      FORWARD_SYS(ret, lib, resource_get_info, res_id, info);
      return ret;
   }
   /* 0.x has no `fd`: its struct is 4 bytes shorter */
   struct forward_resource_info_v0 v0;
   memset(&v0, 0, sizeof(v0));
   FORWARD_SYS(ret, lib, resource_get_info, res_id,
               (struct virgl_renderer_resource_info *)&v0);
   if (ret)
      return ret;
   memset(info, 0, sizeof(*info));
   info->handle = v0.handle;
   info->virgl_format = v0.virgl_format;
   info->width = v0.width;
   info->height = v0.height;
   info->depth = v0.depth;
   info->flags = v0.flags;
   info->tex_id = v0.tex_id;
   info->stride = v0.stride;
   info->drm_fourcc = v0.drm_fourcc;
   info->fd = -1;
   return 0;
}

bool
forward_resource_get_info(int res_id, struct virgl_renderer_resource_info *info, int *ret)
{
   const struct forward_library *lib = forward_lock_resource((uint32_t)res_id);
   if (!lib)
      return false;
   if (!info) {
      vkfd_err("resource_get_info: no info for res %d", res_id);
      *ret = EINVAL;
   } else {
      *ret = system_get_info(lib, res_id, info);
   }
   forward_unlock();
   return true;
}

bool
forward_resource_get_info_ext(int res_id, struct virgl_renderer_resource_info_ext *info,
                              int *ret)
{
   const struct forward_library *lib = forward_lock_resource((uint32_t)res_id);
   if (!lib)
      return false;
   if (!info) {
      vkfd_err("resource_get_info_ext: no info for res %d", res_id);
      *ret = EINVAL;
   } else if (lib->fn.resource_get_info_ext) {
      FORWARD_SYS(*ret, lib, resource_get_info_ext, res_id, info);
   } else {
      /* 0.x: what QEMU's SET_SCANOUT needs is the base info; no dma-buf export */
      struct virgl_renderer_resource_info base;
      *ret = system_get_info(lib, res_id, &base);
      if (!*ret) {
         memset(info, 0, sizeof(*info));
         info->version = VIRGL_RENDERER_RESOURCE_INFO_EXT_VERSION;
         info->base = base;
      }
   }
   forward_unlock();
   return true;
}

bool
forward_resource_map(uint32_t res_id, void **map, uint64_t *out_size, int *ret)
{
   const struct forward_library *lib = forward_lock_resource(res_id);
   if (!lib)
      return false;
   FORWARD_SYS(*ret, lib, resource_map, res_id, map, out_size);
   forward_unlock();
   return true;
}

bool
forward_resource_map_fixed(uint32_t res_id, void *addr, int *ret)
{
   const struct forward_library *lib = forward_lock_resource(res_id);
   if (!lib)
      return false;
   if (lib->fn.resource_map_fixed)
      FORWARD_SYS(*ret, lib, resource_map_fixed, res_id, addr);
   else
      *ret = -EOPNOTSUPP; /* before 1.3: QEMU falls back to resource_map */
   forward_unlock();
   return true;
}

bool
forward_resource_unmap(uint32_t res_id, int *ret)
{
   const struct forward_library *lib = forward_lock_resource(res_id);
   if (!lib)
      return false;
   FORWARD_SYS(*ret, lib, resource_unmap, res_id);
   forward_unlock();
   return true;
}

bool
forward_resource_get_map_info(uint32_t res_id, uint32_t *map_info, int *ret)
{
   const struct forward_library *lib = forward_lock_resource(res_id);
   if (!lib)
      return false;
   FORWARD_SYS(*ret, lib, resource_get_map_info, res_id, map_info);
   forward_unlock();
   return true;
}

bool
forward_resource_export_blob(uint32_t res_id, uint32_t *fd_type, int *fd, int *ret)
{
   const struct forward_library *lib = forward_lock_resource(res_id);
   if (!lib)
      return false;
   FORWARD_SYS(*ret, lib, resource_export_blob, res_id, fd_type, fd);
   forward_unlock();
   return true;
}

bool
forward_execute(void *execute_args, uint32_t execute_size, int *ret)
{
   /* only EXPORT_QUERY names a resource; SUPPORTED_STRUCTURES is virtkfd's answer */
   const struct virgl_renderer_export_query *query = execute_args;
   if (!query ||
       execute_size < offsetof(struct virgl_renderer_export_query, in_resource_id) +
                         sizeof(query->in_resource_id) ||
       query->hdr.stype != VIRGL_RENDERER_STRUCTURE_TYPE_EXPORT_QUERY)
      return false;
   const struct forward_library *lib = forward_lock_resource(query->in_resource_id);
   if (!lib)
      return false;
   FORWARD_SYS(*ret, lib, execute, execute_args, execute_size);
   forward_unlock();
   return true;
}

bool
forward_get_cursor_data(uint32_t res_id, uint32_t *width, uint32_t *height, void **data)
{
   const struct forward_library *lib = forward_lock_resource(res_id);
   if (!lib)
      return false;
   FORWARD_SYS(*data, lib, get_cursor_data, res_id, width, height);
   forward_unlock();
   return true;
}

bool
forward_get_rect(int res_id, struct iovec *iov, unsigned int num_iovs, uint32_t offset,
                 int x, int y, int width, int height)
{
   const struct forward_library *lib = forward_lock_resource((uint32_t)res_id);
   if (!lib)
      return false;
   FORWARD_SYS_VOID(lib, get_rect, res_id, iov, num_iovs, offset, x, y, width, height);
   forward_unlock();
   return true;
}

bool
forward_get_fd_for_texture(uint32_t tex_id, int *fd, int *ret)
{
   /* texture names are the system library's own: virtkfd has none */
   const struct forward_library *lib = forward_lock();
   if (!lib)
      return false;
   FORWARD_SYS(*ret, lib, get_fd_for_texture, tex_id, fd);
   forward_unlock();
   return true;
}

bool
forward_get_fd_for_texture2(uint32_t tex_id, int *fd, int *stride, int *offset, int *ret)
{
   const struct forward_library *lib = forward_lock();
   if (!lib)
      return false;
   FORWARD_SYS(*ret, lib, get_fd_for_texture2, tex_id, fd, stride, offset);
   forward_unlock();
   return true;
}

bool
forward_transfer_read_iov(uint32_t handle, uint32_t ctx_id, uint32_t level,
                          uint32_t stride, uint32_t layer_stride, struct virgl_box *box,
                          uint64_t offset, struct iovec *iov, int iovec_cnt, int *ret)
{
   const struct forward_library *lib = forward_lock_resource(handle);
   if (!lib)
      return false;
   FORWARD_SYS(*ret, lib, transfer_read_iov, handle, ctx_id, level, stride, layer_stride,
               box, offset, iov, iovec_cnt);
   forward_unlock();
   return true;
}

bool
forward_transfer_write_iov(uint32_t handle, uint32_t ctx_id, int level, uint32_t stride,
                           uint32_t layer_stride, struct virgl_box *box, uint64_t offset,
                           struct iovec *iovec, unsigned int iovec_cnt, int *ret)
{
   const struct forward_library *lib = forward_lock_resource(handle);
   if (!lib)
      return false;
   FORWARD_SYS(*ret, lib, transfer_write_iov, handle, ctx_id, level, stride, layer_stride,
               box, offset, iovec, iovec_cnt);
   forward_unlock();
   return true;
}
