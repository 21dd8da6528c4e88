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
   API_REENTRY(resource_create_blob(args));
   if (!args) {
      vkfd_err("create_blob: no arguments");
      return -EINVAL;
   }
   int ret;
   if (forward_resource_create_blob(args, &ret))
      return ret;
   struct vkfd_renderer *renderer = api_lock();
   ret = -EINVAL;
   if (!renderer->initialized)
      vkfd_err("create_blob: renderer not initialised");
   else if (!forward_resource_id_taken("create_blob", args->res_handle))
      ret = vkfd_resource_create_blob(renderer, args);
   api_unlock(renderer);
   return ret;
}

VIRGL_EXPORT int
virgl_renderer_resource_import_blob(
   const struct virgl_renderer_resource_import_blob_args *args)
{
   API_REENTRY(resource_import_blob(args));
   if (!args) {
      vkfd_err("import_blob: no arguments");
      return -EINVAL;
   }
   /* imports have no context: they are virtkfd's, in the one id space */
   struct vkfd_renderer *renderer = api_lock();
   int ret = -EINVAL;
   if (!renderer->initialized)
      vkfd_err("import_blob: renderer not initialised");
   else if (!forward_resource_id_taken("import_blob", args->res_handle))
      ret = vkfd_resource_import_blob(renderer, args);
   api_unlock(renderer);
   return ret;
}

VIRGL_EXPORT void
virgl_renderer_resource_unref(uint32_t res_handle)
{
   API_REENTRY_VOID(resource_unref(res_handle));
   if (forward_resource_unref(res_handle))
      return;
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
   API_REENTRY_VOID(resource_set_priv(res_handle, priv));
   if (forward_resource_set_priv(res_handle, priv))
      return;
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_resource *res = vkfd_resource_lookup(renderer, res_handle);
   if (res)
      res->priv = priv;
   api_unlock(renderer);
}

VIRGL_EXPORT void *
virgl_renderer_resource_get_priv(uint32_t res_handle)
{
   API_REENTRY(resource_get_priv(res_handle));
   void *priv;
   if (forward_resource_get_priv(res_handle, &priv))
      return priv;
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_resource *res = vkfd_resource_lookup(renderer, res_handle);
   priv = res ? res->priv : NULL;
   api_unlock(renderer);
   return priv;
}

VIRGL_EXPORT int
virgl_renderer_resource_attach_iov(int res_handle, struct iovec *iov, int num_iovs)
{
   API_REENTRY(resource_attach_iov(res_handle, iov, num_iovs));
   int ret;
   if (forward_resource_attach_iov(res_handle, iov, num_iovs, &ret))
      return ret;
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_resource *res = vkfd_resource_lookup(renderer, (uint32_t)res_handle);
   ret = EINVAL;
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
   API_REENTRY_VOID(resource_detach_iov(res_handle, iov, num_iovs));
   if (forward_resource_detach_iov(res_handle, iov, num_iovs))
      return;
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
   API_REENTRY(resource_get_info(res_handle, info));
   int ret;
   if (forward_resource_get_info(res_handle, info, &ret))
      return ret;
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_resource *res = vkfd_resource_lookup(renderer, (uint32_t)res_handle);
   ret = EINVAL;
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
   API_REENTRY(resource_get_info_ext(res_handle, info));
   int ret;
   if (forward_resource_get_info_ext(res_handle, info, &ret))
      return ret;
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
   API_REENTRY(resource_map(res_handle, map, out_size));
   int ret;
   if (forward_resource_map(res_handle, map, out_size, &ret))
      return ret;
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_resource *res = vkfd_resource_lookup(renderer, res_handle);
   ret = -EINVAL;
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
   API_REENTRY(resource_map_fixed(res_handle, addr));
   int ret;
   if (forward_resource_map_fixed(res_handle, addr, &ret))
      return ret;
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_resource *res = vkfd_resource_lookup(renderer, res_handle);
   ret = -EINVAL;
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
   API_REENTRY(resource_unmap(res_handle));
   int ret;
   if (forward_resource_unmap(res_handle, &ret))
      return ret;
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_resource *res = vkfd_resource_lookup(renderer, res_handle);
   ret = -EINVAL;
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
   API_REENTRY(resource_get_map_info(res_handle, map_info));
   int ret;
   if (forward_resource_get_map_info(res_handle, map_info, &ret))
      return ret;
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_resource *res = vkfd_resource_lookup(renderer, res_handle);
   ret = -EINVAL;
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
   API_REENTRY(resource_export_blob(res_id, fd_type, fd));
   int ret;
   if (forward_resource_export_blob(res_id, fd_type, fd, &ret))
      return ret;
   struct vkfd_renderer *renderer = api_lock();
   struct vkfd_resource *res = vkfd_resource_lookup(renderer, res_id);
   ret = -EINVAL;
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
   API_REENTRY(execute(execute_args, execute_size));
   int ret;
   if (forward_execute(execute_args, execute_size, &ret))
      return ret;
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
