/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Resources, blobs and virgl_renderer_execute().
 */
#include <errno.h>
#include <string.h>

#include "api/api_private.h"
#include "core/vkfd_resource.h"
#include "util/vkfd_log.h"

/* DRM_FORMAT_MOD_INVALID, reported for untyped blobs */
#define VKFD_FORMAT_MOD_INVALID 0x00ffffffffffffffull

VIRGL_EXPORT int
virgl_renderer_resource_create_blob(
   const struct virgl_renderer_resource_create_blob_args *args)
{
   if (!args) {
      vkfd_err("create_blob: no arguments");
      return -EINVAL;
   }
   struct vkfd_renderer *renderer = api_lock();
   int ret = -EINVAL;
   if (renderer->initialized)
      ret = vkfd_resource_create_blob(renderer, args);
   else
      vkfd_err("create_blob: renderer not initialised");
   api_unlock(renderer);
   return ret;
}

VIRGL_EXPORT int
virgl_renderer_resource_import_blob(
   const struct virgl_renderer_resource_import_blob_args *args)
{
   if (!args) {
      vkfd_err("import_blob: no arguments");
      return -EINVAL;
   }
   struct vkfd_renderer *renderer = api_lock();
   int ret = -EINVAL;
   if (renderer->initialized)
      ret = vkfd_resource_import_blob(renderer, args);
   else
      vkfd_err("import_blob: renderer not initialised");
   api_unlock(renderer);
   return ret;
}

VIRGL_EXPORT void
virgl_renderer_resource_unref(uint32_t res_handle)
{
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_resource *res = vkfd_resource_lookup(renderer, res_handle);
   if (res)
      vkfd_resource_unref(renderer, res);
   else
      vkfd_debug("resource_unref: unknown res %u", res_handle);
   api_unlock(renderer);
}

VIRGL_EXPORT void
virgl_renderer_resource_set_priv(uint32_t res_handle, void *priv)
{
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_resource *res = vkfd_resource_lookup(renderer, res_handle);
   if (res)
      res->priv = priv;
   api_unlock(renderer);
}

VIRGL_EXPORT void *
virgl_renderer_resource_get_priv(uint32_t res_handle)
{
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_resource *res = vkfd_resource_lookup(renderer, res_handle);
   void *priv = res ? res->priv : NULL;
   api_unlock(renderer);
   return priv;
}

VIRGL_EXPORT int
virgl_renderer_resource_attach_iov(int res_handle, struct iovec *iov, int num_iovs)
{
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_resource *res = vkfd_resource_lookup(renderer, (uint32_t)res_handle);
   int ret = EINVAL;
   if (!res) {
      vkfd_err("resource_attach_iov: unknown res %d", res_handle);
   } else if (res->iovecs) {
      vkfd_err("resource_attach_iov: res %d already has backing", res_handle);
   } else if (num_iovs < 0 || (num_iovs && !iov)) {
      vkfd_err("resource_attach_iov: res %d: bad iovec array (%d)", res_handle, num_iovs);
   } else {
      /* stored, not copied, like upstream; nothing in virtkfd reads it later */
      res->iovecs = iov;
      res->num_iovs = (uint32_t)num_iovs;
      ret = 0;
   }
   api_unlock(renderer);
   return ret;
}

VIRGL_EXPORT void
virgl_renderer_resource_detach_iov(int res_handle, struct iovec **iov, int *num_iovs)
{
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_resource *res = vkfd_resource_lookup(renderer, (uint32_t)res_handle);
   if (res)
      vkfd_resource_detach_iovecs(renderer, res, iov, num_iovs);
   api_unlock(renderer);
}

VIRGL_EXPORT int
virgl_renderer_resource_get_info(int res_handle,
                                 struct virgl_renderer_resource_info *info)
{
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_resource *res = vkfd_resource_lookup(renderer, (uint32_t)res_handle);
   int ret = EINVAL;
   if (res && info) {
      vkfd_resource_fill_info(res, info);
      ret = 0;
   } else {
      vkfd_err("resource_get_info: %s res %d", info ? "unknown" : "no info for",
               res_handle);
   }
   api_unlock(renderer);
   return ret;
}

VIRGL_EXPORT int
virgl_renderer_resource_get_info_ext(int res_handle,
                                     struct virgl_renderer_resource_info_ext *info)
{
   /* no virtkfd resource can be scanned out: SET_SCANOUT fails cleanly */
   struct vkfd_renderer *renderer = api_lock();
   if (!vkfd_resource_lookup(renderer, (uint32_t)res_handle))
      vkfd_err("resource_get_info_ext: unknown res %d", res_handle);
   else
      vkfd_debug("resource_get_info_ext: res %d is not displayable", res_handle);
   api_unlock(renderer);
   (void)info;
   return EINVAL;
}

VIRGL_EXPORT int
virgl_renderer_resource_map(uint32_t res_handle, void **map, uint64_t *out_size)
{
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_resource *res = vkfd_resource_lookup(renderer, res_handle);
   int ret = -EINVAL;
   if (!res)
      vkfd_err("resource_map: unknown res %u", res_handle);
   else if (!map)
      vkfd_err("resource_map: res %u: no output pointer", res_handle);
   else
      ret = vkfd_resource_map(res, map, out_size);
   api_unlock(renderer);
   return ret;
}

VIRGL_EXPORT int
virgl_renderer_resource_map_fixed(uint32_t res_handle, void *addr)
{
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_resource *res = vkfd_resource_lookup(renderer, res_handle);
   int ret = -EINVAL;
   if (res)
      ret = vkfd_resource_map_fixed(res, addr);
   else
      vkfd_err("resource_map_fixed: unknown res %u", res_handle);
   api_unlock(renderer);
   return ret;
}

VIRGL_EXPORT int
virgl_renderer_resource_unmap(uint32_t res_handle)
{
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_resource *res = vkfd_resource_lookup(renderer, res_handle);
   int ret = -EINVAL;
   if (res)
      ret = vkfd_resource_unmap(res);
   else
      vkfd_err("resource_unmap: unknown res %u", res_handle);
   api_unlock(renderer);
   return ret;
}

VIRGL_EXPORT int
virgl_renderer_resource_get_map_info(uint32_t res_handle, uint32_t *map_info)
{
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_resource *res = vkfd_resource_lookup(renderer, res_handle);
   int ret = -EINVAL;
   if (!res) {
      vkfd_err("resource_get_map_info: unknown res %u", res_handle);
   } else if ((res->blob.map_info & VIRGL_RENDERER_MAP_CACHE_MASK) ==
                 VIRGL_RENDERER_MAP_CACHE_NONE ||
              !map_info) {
      vkfd_debug("resource_get_map_info: res %u has no cache type", res_handle);
   } else {
      *map_info = res->blob.map_info;
      ret = 0;
   }
   api_unlock(renderer);
   return ret;
}

VIRGL_EXPORT int
virgl_renderer_resource_export_blob(uint32_t res_id, uint32_t *fd_type, int *fd)
{
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_resource *res = vkfd_resource_lookup(renderer, res_id);
   int ret = -EINVAL;
   if (!res)
      vkfd_err("export_blob: unknown res %u", res_id);
   else if (!fd_type || !fd)
      vkfd_err("export_blob: res %u: no output pointers", res_id);
   else if (res->blob.kind == VKFD_BLOB_VA)
      ret = vkfd_context_export_blob(renderer, res, fd_type, fd);
   else
      ret = vkfd_resource_export(res, fd_type, fd);
   api_unlock(renderer);
   return ret;
}

static int
execute_export_query(struct vkfd_renderer *renderer,
                     struct virgl_renderer_export_query *query, uint32_t size)
{
   if (size != sizeof(*query) || query->hdr.size != sizeof(*query)) {
      vkfd_err("execute: EXPORT_QUERY with size %u/%u, expected %zu", size,
               query->hdr.size, sizeof(*query));
      return -EINVAL;
   }
   if (!vkfd_resource_lookup(renderer, query->in_resource_id)) {
      vkfd_err("execute: EXPORT_QUERY for unknown res %u", query->in_resource_id);
      return -EINVAL;
   }
   /* virtkfd resources are untyped blobs: the upstream answer for them */
   if (query->in_export_fds)
      return -EINVAL;
   query->out_num_fds = 1;
   query->out_fourcc = 0;
   query->out_fds[0] = -1;
   query->out_strides[0] = 0;
   query->out_offsets[0] = 0;
   query->out_modifier = VKFD_FORMAT_MOD_INVALID;
   return 0;
}

static int
execute_supported_structures(struct virgl_renderer_supported_structures *query,
                             uint32_t size)
{
   if (size != sizeof(*query) || query->hdr.size != sizeof(*query)) {
      vkfd_err("execute: SUPPORTED_STRUCTURES with size %u/%u, expected %zu", size,
               query->hdr.size, sizeof(*query));
      return -EINVAL;
   }
   query->out_supported_structures_mask =
      query->in_stype_version == 0 ? (VIRGL_RENDERER_STRUCTURE_TYPE_EXPORT_QUERY |
                                      VIRGL_RENDERER_STRUCTURE_TYPE_SUPPORTED_STRUCTURES)
                                   : 0;
   return 0;
}

VIRGL_EXPORT int
virgl_renderer_execute(void *execute_args, uint32_t execute_size)
{
   if (!execute_args || execute_size < sizeof(struct virgl_renderer_hdr)) {
      vkfd_err("execute: %u bytes is shorter than the header", execute_size);
      return -EINVAL;
   }
   struct virgl_renderer_hdr *hdr = execute_args;
   if (hdr->stype_version != 0) {
      vkfd_err("execute: stype %u version %u unsupported", hdr->stype,
               hdr->stype_version);
      return -EINVAL;
   }

   struct vkfd_renderer *renderer = api_lock();
   int ret;
   switch (hdr->stype) {
   case VIRGL_RENDERER_STRUCTURE_TYPE_EXPORT_QUERY:
      ret = execute_export_query(renderer, execute_args, execute_size);
      break;
   case VIRGL_RENDERER_STRUCTURE_TYPE_SUPPORTED_STRUCTURES:
      ret = execute_supported_structures(execute_args, execute_size);
      break;
   default:
      vkfd_err("execute: unknown stype %u", hdr->stype);
      ret = -EINVAL;
      break;
   }
   api_unlock(renderer);
   return ret;
}
