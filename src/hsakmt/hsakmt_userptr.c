/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Userptr: guest pages handed to the GPU with zero copies (design.md "The userptr
 * path"). CREATE_BLOB(HOST3D_GUEST) records the VMM's iovecs; MAP_USERPTR turns them
 * into one contiguous host alias; REG_MEM_WITH_FLAG registers it with libhsakmt;
 * MAP_TO_GPU_NODES maps it. Detach (or detach_iov) undoes it all: GPU unmap,
 * deregistration, alias removal, in that order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "virglrenderer.h"

#include "hsakmt/hsakmt_backend.h"
#include "hsakmt/hsakmt_context.h"
#include "hsakmt/hsakmt_memory.h"
#include "kfd/vkfd_kfd.h"
#include "mem/vkfd_alias.h"
#include "util/vkfd_log.h"
#include "util/vkfd_math.h"

uint64_t
hsakmt_userptr_address(const struct hsakmt_userptr *userptr)
{
   return userptr->alias ? (uint64_t)(uintptr_t)vkfd_alias_address(userptr->alias) : 0;
}

void
hsakmt_userptr_teardown(struct hsakmt_context *ctx, struct hsakmt_userptr *userptr)
{
   void *address = (void *)(uintptr_t)hsakmt_userptr_address(userptr);
   uint32_t id = ctx->base.id, res = userptr->base.res_id;
   if (userptr->gpu_mapped) {
      int status = vkfd_kfd_unmap_from_gpu(address);
      if (status)
         vkfd_err("ctx %u: res %u: GPU unmap of userptr %p failed (status %d)", id, res,
                  address, status);
      userptr->gpu_mapped = false;
      userptr->gpu_va = 0;
      userptr->mapped.count = 0;
   }
   if (userptr->registered) {
      int status = vkfd_kfd_deregister_memory(address);
      if (status)
         vkfd_err("ctx %u: res %u: deregistering userptr %p failed (status %d)", id, res,
                  address, status);
      userptr->registered = false;
   }
   vkfd_alias_destroy(userptr->alias);
   userptr->alias = NULL;
}

static void
userptr_destroy(struct hsakmt_context *ctx, struct hsakmt_object *obj)
{
   struct hsakmt_userptr *userptr = (struct hsakmt_userptr *)obj;
   hsakmt_userptr_teardown(ctx, userptr);
   vkfd_list_del(&userptr->base.memory_link);
   free(userptr);
}

static const struct hsakmt_object_ops userptr_ops = {
   .name = "userptr",
   .destroy = userptr_destroy,
};

int
hsakmt_userptr_create(struct hsakmt_context *ctx, const struct vkfd_blob_request *request,
                      struct vkfd_blob *blob)
{
   uint32_t id = ctx->base.id;
   long page = sysconf(_SC_PAGESIZE);
   /*
    * USE_USERPTR is honoured, not required: HOST3D_GUEST with iovecs and a later
    * MAP_USERPTR is enough. The guest never maps a userptr blob.
    */
   if (request->blob_flags &
       (VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE | VIRGL_RENDERER_BLOB_FLAG_USE_SHAREABLE |
        VIRGL_RENDERER_BLOB_FLAG_USE_CROSS_DEVICE)) {
      vkfd_err("ctx %u: res %u: userptr blob with flags 0x%x (mappable or shareable)", id,
               request->res_id, request->blob_flags);
      return -EINVAL;
   }
   if (request->size % (uint64_t)page) {
      vkfd_err("ctx %u: res %u: userptr size 0x%llx is not a page multiple", id,
               request->res_id, (unsigned long long)request->size);
      return -EINVAL;
   }

   struct hsakmt_userptr *userptr = calloc(1, sizeof(*userptr));
   if (!userptr)
      return -ENOMEM;
   userptr->base.kind = HSAKMT_OBJECT_USERPTR;
   userptr->base.ops = &userptr_ops;
   userptr->iovecs = request->iovecs;
   userptr->num_iovs = request->num_iovs;
   userptr->size = request->size;
   userptr->read_only = request->blob_flags & VIRGL_RENDERER_BLOB_FLAG_USERPTR_RDONLY;
   if (hsakmt_objects_bind(&ctx->objects, request->res_id, &userptr->base)) {
      free(userptr);
      return -ENOMEM;
   }
   vkfd_list_add_tail(&userptr->base.memory_link, &ctx->memory);
   blob->kind = VKFD_BLOB_NONE;
   blob->map_info = VIRGL_RENDERER_MAP_CACHE_NONE;
   vkfd_debug("ctx %u: res %u: userptr of 0x%llx bytes in %u iovecs", id, request->res_id,
              (unsigned long long)request->size, request->num_iovs);
   return 0;
}

/* Two blobs must not register the same guest pages: the GPU would alias them. */
static bool
userptr_overlaps_other(struct hsakmt_context *ctx, const struct hsakmt_userptr *userptr)
{
   const struct vkfd_alias *mine = userptr->alias;
   vkfd_list_for_each_safe(struct hsakmt_object, obj, &ctx->memory, memory_link)
   {
      struct hsakmt_userptr *other = (struct hsakmt_userptr *)obj;
      if (other == userptr || obj->kind != HSAKMT_OBJECT_USERPTR || !other->alias)
         continue;
      uint32_t i = 0, j = 0;
      uint32_t n = vkfd_alias_run_count(mine), m = vkfd_alias_run_count(other->alias);
      /* both run lists are sorted by host address: one merge pass */
      while (i < n && j < m) {
         uintptr_t a, b;
         uint64_t alen, blen;
         vkfd_alias_run(mine, i, &a, &alen);
         vkfd_alias_run(other->alias, j, &b, &blen);
         if (a < b + blen && b < a + alen) {
            vkfd_err("ctx %u: res %u: guest pages 0x%lx+0x%llx are already registered by "
                     "res %u",
                     ctx->base.id, userptr->base.res_id, (unsigned long)a,
                     (unsigned long long)alen, other->base.res_id);
            return true;
         }
         if (a < b)
            i++;
         else
            j++;
      }
   }
   return false;
}

int
hsakmt_userptr_map(struct hsakmt_context *ctx, struct hsakmt_userptr *userptr)
{
   if (userptr->alias)
      return VKFD_STATUS_SUCCESS;
   if (!userptr->iovecs) {
      vkfd_err("ctx %u: res %u: MAP_USERPTR after the VMM took the pages back",
               ctx->base.id, userptr->base.res_id);
      return VKFD_STATUS_INVALID_HANDLE;
   }
   const struct vkfd_alias_params params = {
      .iovecs = userptr->iovecs,
      .num_iovs = userptr->num_iovs,
      .size = userptr->size,
      .read_only = userptr->read_only,
      .res_id = userptr->base.res_id,
   };
   int ret = vkfd_alias_create(&params, &userptr->alias);
   if (ret)
      return ret == -ENOMEM ? VKFD_STATUS_NO_MEMORY : VKFD_STATUS_INVALID_PARAMETER;
   if (userptr_overlaps_other(ctx, userptr)) {
      vkfd_alias_destroy(userptr->alias);
      userptr->alias = NULL;
      return VKFD_STATUS_INVALID_PARAMETER;
   }
   return VKFD_STATUS_SUCCESS;
}

int
hsakmt_userptr_register(struct hsakmt_context *ctx, struct hsakmt_userptr *userptr,
                        uint32_t mem_flags)
{
   if (userptr->registered)
      return VKFD_STATUS_SUCCESS;
   if (!userptr->alias) {
      vkfd_err("ctx %u: res %u: REG_MEM_WITH_FLAG before MAP_USERPTR", ctx->base.id,
               userptr->base.res_id);
      return VKFD_STATUS_INVALID_HANDLE;
   }
   /* libhsakmt registers host-accessible, pageable memory only */
   uint32_t flags = (mem_flags & HSAKMT_MEMFLAGS_BASE_MASK) | HSAKMT_MEMFLAG_HOST_ACCESS;
   flags &= ~(HSAKMT_MEMFLAG_NON_PAGED | HSAKMT_MEMFLAG_FIXED_ADDRESS |
              HSAKMT_MEMFLAG_SCRATCH | HSAKMT_MEMFLAG_GDS_MEMORY);
   if (userptr->read_only)
      flags |= HSAKMT_MEMFLAG_READ_ONLY;
   void *address = vkfd_alias_address(userptr->alias);
   int status = vkfd_kfd_register_memory(address, userptr->size, flags);
   if (status) {
      /*
       * libhsakmt 5.2.3 asks KFD for write access to every userptr, ReadOnly or not,
       * and the kernel refuses read-only pages. Widening the GPU's access would break
       * what the guest pinned read-only (COW pages, read-only files): fail instead.
       */
      vkfd_err("ctx %u: res %u: registering %suserptr %p+0x%llx failed (status %d)%s",
               ctx->base.id, userptr->base.res_id, userptr->read_only ? "read-only " : "",
               address, (unsigned long long)userptr->size, status,
               userptr->read_only ? "; the host libhsakmt may not support read-only "
                                    "userptrs (it requests write access)"
                                  : "");
      return status;
   }
   userptr->registered = true;
   return VKFD_STATUS_SUCCESS;
}

void
hsakmt_userptr_release_pages(struct hsakmt_context *ctx, struct hsakmt_object *obj)
{
   struct hsakmt_userptr *userptr = (struct hsakmt_userptr *)obj;
   /* the VMM unmaps the iovecs when detach_iov returns: stop using them first */
   hsakmt_userptr_teardown(ctx, userptr);
   userptr->iovecs = NULL;
   userptr->num_iovs = 0;
}
