/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "vkfd_resource.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "virglrenderer.h"

#include "core/vkfd_renderer.h"
#include "util/vkfd_log.h"
#include "util/vkfd_math.h"

#define VKFD_BLOB_FLAGS_KNOWN                                                          \
   (VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE | VIRGL_RENDERER_BLOB_FLAG_USE_SHAREABLE |   \
    VIRGL_RENDERER_BLOB_FLAG_USE_CROSS_DEVICE | VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR | \
    VIRGL_RENDERER_BLOB_FLAG_USERPTR_RDONLY)

struct vkfd_resource *
vkfd_resource_lookup(struct vkfd_renderer *renderer, uint32_t res_id)
{
   return vkfd_hash_lookup(&renderer->resources, res_id);
}

int
vkfd_iovecs_check(const struct iovec *iovecs, uint32_t num_iovs, uint64_t size,
                  uint32_t res_id)
{
   if (!iovecs || num_iovs == 0) {
      vkfd_err("create_blob: res %u: guest memory without iovecs", res_id);
      return -EINVAL;
   }
   uint64_t total = 0;
   for (uint32_t i = 0; i < num_iovs; i++) {
      uintptr_t base = (uintptr_t)iovecs[i].iov_base;
      uint64_t len = iovecs[i].iov_len;
      uintptr_t end;
      if (!base || !len) {
         vkfd_err("create_blob: res %u: iovec %u (%p+0x%zx) is empty", res_id, i,
                  iovecs[i].iov_base, iovecs[i].iov_len);
         return -EINVAL;
      }
      if (vkfd_ckd_add(&end, base, len) || vkfd_ckd_add(&total, total, len)) {
         vkfd_err("create_blob: res %u: iovec %u (%p+0x%zx) wraps the address space",
                  res_id, i, iovecs[i].iov_base, iovecs[i].iov_len);
         return -EINVAL;
      }
   }
   if (total < size) {
      vkfd_err("create_blob: res %u: iovecs hold 0x%llx bytes, blob size is 0x%llx",
               res_id, (unsigned long long)total, (unsigned long long)size);
      return -EINVAL;
   }
   return 0;
}

static int
create_blob_check(struct vkfd_renderer *renderer,
                  const struct virgl_renderer_resource_create_blob_args *args)
{
   uint32_t res_id = args->res_handle;

   if (args->blob_mem != VIRGL_RENDERER_BLOB_MEM_GUEST &&
       args->blob_mem != VIRGL_RENDERER_BLOB_MEM_HOST3D &&
       args->blob_mem != VIRGL_RENDERER_BLOB_MEM_HOST3D_GUEST) {
      vkfd_err("create_blob: res %u: unsupported blob_mem %u", res_id, args->blob_mem);
      return -EINVAL;
   }
   if (res_id == 0) {
      vkfd_err("create_blob: resource id 0 is reserved");
      return -EINVAL;
   }
   if (vkfd_resource_lookup(renderer, res_id)) {
      vkfd_err("create_blob: res %u already exists", res_id);
      return -EINVAL;
   }
   if (args->size == 0) {
      vkfd_err("create_blob: res %u: size 0", res_id);
      return -EINVAL;
   }
   if (args->blob_flags & ~VKFD_BLOB_FLAGS_KNOWN) {
      vkfd_err("create_blob: res %u: unknown blob flags 0x%x", res_id,
               args->blob_flags & ~VKFD_BLOB_FLAGS_KNOWN);
      return -EINVAL;
   }
   if ((args->blob_flags & VIRGL_RENDERER_BLOB_FLAG_USERPTR_RDONLY) &&
       !(args->blob_flags & VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR)) {
      vkfd_err("create_blob: res %u: USERPTR_RDONLY without USE_USERPTR", res_id);
      return -EINVAL;
   }
   if ((args->blob_flags & VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR) &&
       args->blob_mem != VIRGL_RENDERER_BLOB_MEM_HOST3D_GUEST) {
      vkfd_err("create_blob: res %u: USE_USERPTR needs blob_mem HOST3D_GUEST, not %u",
               res_id, args->blob_mem);
      return -EINVAL;
   }
   if (args->blob_mem == VIRGL_RENDERER_BLOB_MEM_HOST3D) {
      if (args->num_iovs) {
         vkfd_err("create_blob: res %u: HOST3D blob with %u iovecs", res_id,
                  args->num_iovs);
         return -EINVAL;
      }
      return 0;
   }
   return vkfd_iovecs_check(args->iovecs, args->num_iovs, args->size, res_id);
}

static struct vkfd_resource *
resource_alloc(uint32_t res_id)
{
   struct vkfd_resource *res = calloc(1, sizeof(*res));
   if (!res)
      return NULL;
   res->id = res_id;
   res->blob.kind = VKFD_BLOB_NONE;
   res->blob.fd = -1;
   vkfd_list_init(&res->attachments);
   return res;
}

/* Releases what the resource owns; works on a half-built resource. */
static void
resource_free(struct vkfd_resource *res)
{
   if (res->mapped && res->blob.kind == VKFD_BLOB_FD && res->mapping)
      munmap(res->mapping, res->size);
   if (res->blob.kind == VKFD_BLOB_FD && res->blob.fd >= 0)
      close(res->blob.fd);
   if (res->blob.backing)
      res->blob.backing->release(res->blob.backing);
   free(res);
}

static bool
blob_is_valid(const struct vkfd_blob *blob)
{
   switch (blob->kind) {
   case VKFD_BLOB_NONE:
      return true;
   case VKFD_BLOB_VA:
      return blob->va != NULL && blob->backing != NULL;
   case VKFD_BLOB_FD:
      return blob->fd >= 0 && blob->fd_type >= VIRGL_RENDERER_BLOB_FD_TYPE_DMABUF &&
             blob->fd_type <= VIRGL_RENDERER_BLOB_FD_TYPE_SHM;
   }
   return false;
}

int
vkfd_resource_create_blob(struct vkfd_renderer *renderer,
                          const struct virgl_renderer_resource_create_blob_args *args)
{
   int ret = create_blob_check(renderer, args);
   if (ret)
      return ret;

   struct vkfd_context *ctx = NULL;
   if (args->blob_mem != VIRGL_RENDERER_BLOB_MEM_GUEST) {
      ctx = vkfd_context_lookup(renderer, args->ctx_id);
      if (!ctx) {
         vkfd_err("create_blob: res %u: unknown context %u", args->res_handle,
                  args->ctx_id);
         return -EINVAL;
      }
   }

   struct vkfd_resource *res = resource_alloc(args->res_handle);
   if (!res)
      return -ENOMEM;
   res->blob_mem = args->blob_mem;
   res->blob_flags = args->blob_flags;
   res->blob_id = args->blob_id;
   res->size = args->size;
   if (args->blob_mem != VIRGL_RENDERER_BLOB_MEM_HOST3D) {
      res->iovecs = args->iovecs;
      res->num_iovs = args->num_iovs;
   }

   if (!ctx) {
      /* GUEST: iov-only, like upstream; ctx_id and blob_id are ignored */
      res->blob.map_info = VIRGL_RENDERER_MAP_CACHE_CACHED;
   } else {
      struct vkfd_blob_request request = {
         .res_id = res->id,
         .blob_mem = res->blob_mem,
         .blob_flags = res->blob_flags,
         .blob_id = res->blob_id,
         .size = res->size,
         .iovecs = res->iovecs,
         .num_iovs = res->num_iovs,
      };
      struct vkfd_blob blob = { .kind = VKFD_BLOB_NONE, .fd = -1 };
      ret = ctx->ops->get_blob(ctx, &request, &blob);
      if (ret) {
         free(res);
         return ret;
      }
      /* from here on the resource owns the blob, backing included */
      res->blob = blob;
      res->owner_ctx_id = ctx->id;
      if (!blob_is_valid(&blob)) {
         vkfd_err("create_blob: res %u: context %u returned an invalid blob", res->id,
                  ctx->id);
         ret = -EINVAL;
         goto fail_owned;
      }
   }

   ret = vkfd_hash_insert(&renderer->resources, res->id, res);
   if (ret)
      goto fail_owned;
   if (ctx) {
      ret = vkfd_context_attach(ctx, res, true);
      if (ret) {
         vkfd_hash_remove(&renderer->resources, res->id);
         goto fail_owned;
      }
   }
   vkfd_debug("res %u: blob_mem %u flags 0x%x size 0x%llx iovecs %u ctx %u", res->id,
              res->blob_mem, res->blob_flags, (unsigned long long)res->size,
              res->num_iovs, args->ctx_id);
   return 0;

fail_owned:
   /* the context made an object for this blob: let it tear that down */
   if (ctx && ctx->ops->detach_resource)
      ctx->ops->detach_resource(ctx, res);
   resource_free(res);
   return ret;
}

int
vkfd_resource_import_blob(struct vkfd_renderer *renderer,
                          const struct virgl_renderer_resource_import_blob_args *args)
{
   if (args->res_handle == 0 || vkfd_resource_lookup(renderer, args->res_handle)) {
      vkfd_err("import_blob: res %u: id is 0 or already in use", args->res_handle);
      return -EINVAL;
   }
   if (args->blob_mem != VIRGL_RENDERER_BLOB_MEM_HOST3D &&
       args->blob_mem != VIRGL_RENDERER_BLOB_MEM_GUEST_VRAM) {
      vkfd_err("import_blob: res %u: unsupported blob_mem %u", args->res_handle,
               args->blob_mem);
      return -EINVAL;
   }
   if (args->fd_type < VIRGL_RENDERER_BLOB_FD_TYPE_DMABUF ||
       args->fd_type > VIRGL_RENDERER_BLOB_FD_TYPE_SHM || args->fd < 0 || !args->size) {
      vkfd_err("import_blob: res %u: bad fd %d, fd_type %u or size 0x%llx",
               args->res_handle, args->fd, args->fd_type, (unsigned long long)args->size);
      return -EINVAL;
   }
   if (fcntl(args->fd, F_GETFD) < 0) {
      vkfd_err("import_blob: res %u: fd %d is not open", args->res_handle, args->fd);
      return -EINVAL;
   }

   struct vkfd_resource *res = resource_alloc(args->res_handle);
   if (!res)
      return -ENOMEM;
   res->blob_mem = args->blob_mem;
   res->size = args->size;
   res->blob.kind = VKFD_BLOB_FD;
   res->blob.fd_type = args->fd_type;
   /* like upstream, imported blobs carry no cache type: get_map_info fails */
   res->blob.map_info = VIRGL_RENDERER_MAP_CACHE_NONE;
   int ret = vkfd_hash_insert(&renderer->resources, res->id, res);
   if (ret) {
      free(res); /* the caller keeps its fd */
      return ret;
   }
   res->blob.fd = args->fd;
   return 0;
}

void
vkfd_resource_owner_released(struct vkfd_resource *res)
{
   /*
    * The object's GPU state is gone, but a VA blob's memory stays where it is: the
    * VMM may still map it, and it is freed only at unref (see resource_free).
    */
   res->owner_released = true;
}

void
vkfd_resource_unref(struct vkfd_renderer *renderer, struct vkfd_resource *res)
{
   if (res->mapped && res->blob.kind == VKFD_BLOB_VA)
      vkfd_warn("resource_unref: res %u is still mapped by the VMM; its memory is "
                "released now",
                res->id);
   while (!vkfd_list_is_empty(&res->attachments)) {
      struct vkfd_attachment *att =
         vkfd_container_of(res->attachments.next, struct vkfd_attachment, res_link);
      vkfd_context_detach(att->ctx, res);
   }
   vkfd_hash_remove(&renderer->resources, res->id);
   resource_free(res);
}

void
vkfd_resource_detach_iovecs(struct vkfd_renderer *renderer, struct vkfd_resource *res,
                            struct iovec **iovecs, int *num_iovs)
{
   /* QEMU unmaps guest memory as soon as this returns: every user stops first */
   if (res->iovecs) {
      for (struct vkfd_list *it = res->attachments.next; it != &res->attachments;
           it = it->next) {
         struct vkfd_attachment *att =
            vkfd_container_of(it, struct vkfd_attachment, res_link);
         if (att->ctx->ops->release_iovecs)
            att->ctx->ops->release_iovecs(att->ctx, res);
      }
   }
   if (iovecs)
      *iovecs = (struct iovec *)res->iovecs;
   if (num_iovs)
      *num_iovs = (int)res->num_iovs;
   res->iovecs = NULL;
   res->num_iovs = 0;
   (void)renderer;
}

static bool
resource_is_mappable(const struct vkfd_resource *res)
{
   if (res->blob.kind == VKFD_BLOB_NONE)
      return false;
   if (res->blob.kind == VKFD_BLOB_FD &&
       res->blob.fd_type == VIRGL_RENDERER_BLOB_FD_TYPE_OPAQUE)
      return false;
   /* blobs a context made are mappable only when the guest asked for it */
   if (res->owner_ctx_id && !(res->blob_flags & VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE))
      return false;
   return true;
}

int
vkfd_resource_map(struct vkfd_resource *res, void **map, uint64_t *size)
{
   if (res->mapped) {
      vkfd_err("resource_map: res %u is already mapped", res->id);
      return -EINVAL;
   }
   if (!resource_is_mappable(res)) {
      vkfd_err("resource_map: res %u (blob_mem %u, flags 0x%x) is not mappable", res->id,
               res->blob_mem, res->blob_flags);
      return -EINVAL;
   }
   if (res->owner_released && res->blob.kind == VKFD_BLOB_VA) {
      /* the memory only waits for unmap and unref; it has no user left to map it */
      vkfd_err("resource_map: res %u: context %u has released its object", res->id,
               res->owner_ctx_id);
      return -EINVAL;
   }
   if (res->size > SIZE_MAX) {
      vkfd_err("resource_map: res %u: size 0x%llx too large", res->id,
               (unsigned long long)res->size);
      return -EINVAL;
   }

   void *ptr;
   if (res->blob.kind == VKFD_BLOB_VA) {
      ptr = res->blob.va;
   } else {
      ptr = mmap(NULL, res->size, PROT_READ | PROT_WRITE, MAP_SHARED, res->blob.fd, 0);
      if (ptr == MAP_FAILED) {
         int err = errno;
         vkfd_err("resource_map: res %u: mmap of 0x%llx bytes failed: %s", res->id,
                  (unsigned long long)res->size, strerror(err));
         return -err;
      }
   }
   res->mapping = ptr;
   res->mapped = true;
   *map = ptr;
   if (size)
      *size = res->size;
   return 0;
}

int
vkfd_resource_map_fixed(struct vkfd_resource *res, void *addr)
{
   if (res->owner_ctx_id && !(res->blob_flags & VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE)) {
      vkfd_err("resource_map_fixed: res %u was created without USE_MAPPABLE", res->id);
      return -EINVAL;
   }
   /* only an fd can be placed at the VMM's address; the VMM falls back to map */
   if (res->blob.kind != VKFD_BLOB_FD ||
       res->blob.fd_type == VIRGL_RENDERER_BLOB_FD_TYPE_OPAQUE)
      return -EOPNOTSUPP;
   if (!addr || !vkfd_is_aligned((uintptr_t)addr, (uint64_t)sysconf(_SC_PAGESIZE)) ||
       res->size > SIZE_MAX) {
      vkfd_err("resource_map_fixed: res %u: bad address %p", res->id, addr);
      return -EINVAL;
   }
   void *ptr = mmap(addr, res->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
                    res->blob.fd, 0);
   if (ptr == MAP_FAILED) {
      vkfd_err("resource_map_fixed: res %u: mmap at %p failed: %s", res->id, addr,
               strerror(errno));
      return -EINVAL;
   }
   return 0;
}

int
vkfd_resource_unmap(struct vkfd_resource *res)
{
   if (!res->mapped) {
      /* MR !1568's VA handle: the VA belongs to the backend's object, so an unmap
       * of one the library never mapped has nothing to undo and succeeds */
      if (res->blob.kind == VKFD_BLOB_VA)
         return 0;
      vkfd_err("resource_unmap: res %u is not mapped", res->id);
      return -EINVAL;
   }
   int ret = 0;
   if (res->blob.kind == VKFD_BLOB_FD)
      ret = munmap(res->mapping, res->size); /* upstream forwards munmap's -1 */
   res->mapped = false;
   res->mapping = NULL;
   return ret;
}

int
vkfd_resource_export(struct vkfd_resource *res, uint32_t *fd_type, int *fd)
{
   if (res->blob.kind != VKFD_BLOB_FD) {
      vkfd_debug("export_blob: res %u has no fd to export", res->id);
      return -EINVAL;
   }
   int copy = fcntl(res->blob.fd, F_DUPFD_CLOEXEC, 0);
   if (copy < 0) {
      int err = errno;
      vkfd_err("export_blob: res %u: dup failed: %s", res->id, strerror(err));
      return -err;
   }
   *fd_type = res->blob.fd_type;
   *fd = copy;
   return 0;
}

void
vkfd_resource_fill_info(const struct vkfd_resource *res,
                        struct virgl_renderer_resource_info *info)
{
   memset(info, 0, sizeof(*info));
   info->handle = res->id;
   /* only a dmabuf is useful to the VMM (scanout); it stays owned by the library */
   info->fd = (res->blob.kind == VKFD_BLOB_FD &&
               res->blob.fd_type == VIRGL_RENDERER_BLOB_FD_TYPE_DMABUF)
                 ? res->blob.fd
                 : -1;
}
