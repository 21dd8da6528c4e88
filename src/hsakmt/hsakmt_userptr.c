/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Userptr: guest pages handed to the GPU with zero copies (design.md "The userptr
 * path"). CREATE_BLOB(HOST3D_GUEST) records the VMM's iovecs; MAP_USERPTR turns them
 * into one contiguous host alias; REG_MEM_WITH_FLAG registers it with libhsakmt;
 * MAP_TO_GPU_NODES maps it. Detach (or detach_iov) undoes it all: GPU unmap,
 * deregistration, alias removal, in that order.
 *
 * No host address reaches the guest (§6.2 #24): MAP_USERPTR answers a handle, and
 * where the host library maps userptrs at their CPU address (libhsakmt 5.7 and later,
 * whose fixed allocations are "native"), the alias is built inside the KFD window, so
 * the GPU VA the guest receives is a window address as well.
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
#include "hsakmt/hsakmt_va.h"
#include "kfd/vkfd_kfd.h"
#include "mem/vkfd_alias.h"
#include "mem/vkfd_vma.h"
#include "util/vkfd_log.h"
#include "util/vkfd_math.h"

/*
 * Handles are page-aligned, non-canonical on 4- and 5-level paging (bit 60 set), so
 * they never name host memory, and one slot of HSAKMT_USERPTR_MAX_SIZE each.
 */
#define USERPTR_HANDLE_BASE  (1ull << 60)
#define USERPTR_HANDLE_SLOTS (1u << 19)

uint64_t
hsakmt_userptr_handle(const struct hsakmt_userptr *userptr)
{
   return userptr->alias ? userptr->handle : 0;
}

/* A slot no live userptr of the context uses, going round so a stale handle waits. */
static uint64_t
userptr_pick_handle(struct hsakmt_context *ctx)
{
   for (uint32_t tries = 0; tries < USERPTR_HANDLE_SLOTS; tries++) {
      uint32_t slot = ctx->next_userptr_slot++ % USERPTR_HANDLE_SLOTS;
      uint64_t handle = USERPTR_HANDLE_BASE + (uint64_t)slot * HSAKMT_USERPTR_MAX_SIZE;
      bool used = false;
      vkfd_list_for_each_safe(struct hsakmt_object, obj, &ctx->memory, memory_link)
      {
         if (obj->kind == HSAKMT_OBJECT_USERPTR &&
             ((struct hsakmt_userptr *)obj)->handle == handle) {
            used = true;
            break;
         }
      }
      if (!used)
         return handle;
   }
   return 0; /* the object limit keeps this from happening */
}

/* Drops the alias, or keeps its range for good when the GPU may still hold it. */
static void
userptr_alias_remove(struct hsakmt_userptr *userptr, bool gpu_may_hold)
{
   if (gpu_may_hold)
      vkfd_alias_abandon(userptr->alias);
   else
      vkfd_alias_destroy(userptr->alias);
   /* a window range the GPU may hold never returns to the window either */
   if (userptr->window_va && !gpu_may_hold)
      hsakmt_va_free(userptr->window_va, userptr->size);
   hsakmt_charge_release(&userptr->window_charge);
   userptr->alias = NULL;
   userptr->window_va = 0;
}

void
hsakmt_userptr_teardown(struct hsakmt_context *ctx, struct hsakmt_userptr *userptr)
{
   void *address = userptr->alias ? vkfd_alias_address(userptr->alias) : NULL;
   uint32_t id = ctx->base.id, res = userptr->base.res_id;
   bool gpu_may_hold = false;
   if (userptr->gpu_mapped) {
      int status = vkfd_kfd_unmap_from_gpu(address);
      if (status) {
         vkfd_err("ctx %u: res %u: GPU unmap of userptr %p failed (status %d)", id, res,
                  address, status);
         gpu_may_hold = true;
      }
      userptr->gpu_mapped = false;
      userptr->gpu_va_refused = false;
      userptr->gpu_va = 0;
      userptr->mapped.count = 0;
   }
   if (userptr->registered && !gpu_may_hold) {
      int status = vkfd_kfd_deregister_memory(address);
      if (status) {
         vkfd_err("ctx %u: res %u: deregistering userptr %p failed (status %d)", id, res,
                  address, status);
         gpu_may_hold = true;
      }
   }
   userptr->registered = false;
   userptr_alias_remove(userptr, gpu_may_hold);
}

static void
userptr_destroy(struct hsakmt_context *ctx, struct hsakmt_object *obj)
{
   struct hsakmt_userptr *userptr = (struct hsakmt_userptr *)obj;
   hsakmt_userptr_teardown(ctx, userptr);
   hsakmt_charge_release(&userptr->base.charge);
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
   if (request->size % (uint64_t)page || request->size > HSAKMT_USERPTR_MAX_SIZE) {
      vkfd_err("ctx %u: res %u: userptr size 0x%llx is not a page multiple of at most "
               "0x%llx",
               id, request->res_id, (unsigned long long)request->size,
               (unsigned long long)HSAKMT_USERPTR_MAX_SIZE);
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
   userptr->handle = userptr_pick_handle(ctx);
   if (!userptr->handle ||
       hsakmt_object_charge(ctx, &userptr->base, "RESOURCE_CREATE_BLOB (userptr)")) {
      free(userptr);
      return -ENOSPC;
   }
   if (hsakmt_objects_bind(&ctx->objects, request->res_id, &userptr->base)) {
      hsakmt_charge_release(&userptr->base.charge);
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

/*
 * Where the library maps a userptr at its CPU address, the alias takes a range of the
 * window, so the GPU VA is a window address. Sets *placement, or leaves it NULL where
 * the library gives userptrs GPU VAs of its own (5.2.3). Returns an HSAKMT status.
 */
static int
userptr_window_place(struct hsakmt_context *ctx, struct hsakmt_userptr *userptr,
                     void **placement)
{
   *placement = NULL;
   struct vkfd_kfd_va_info info;
   vkfd_kfd_va_info(&info);
   if (info.mode != VKFD_KFD_VA_NATIVE)
      return VKFD_STATUS_SUCCESS;
   uint64_t start, size;
   /* the guest opens KFD before registering memory; place the window if not */
   int status = hsakmt_va_window(ctx, 0, &start, &size);
   const struct hsakmt_charge request = { .window = userptr->size };
   if (!status)
      status = hsakmt_account_charge(&ctx->account, &userptr->window_charge, &request,
                                     "MEMORY/MAP_USERPTR");
   if (status)
      return status;
   uint64_t align = userptr->size >= HSAKMT_DEVICE_ALIGNMENT
                       ? HSAKMT_DEVICE_ALIGNMENT
                       : (uint64_t)sysconf(_SC_PAGESIZE);
   status = hsakmt_va_reserve(userptr->size, align, &userptr->window_va);
   if (status) {
      vkfd_err("ctx %u: res %u: MAP_USERPTR: no 0x%llx bytes left in the KFD window "
               "for the alias",
               ctx->base.id, userptr->base.res_id, (unsigned long long)userptr->size);
      hsakmt_charge_release(&userptr->window_charge);
      return status;
   }
   *placement = (void *)(uintptr_t)userptr->window_va;
   return VKFD_STATUS_SUCCESS;
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
   struct vkfd_alias_params params = {
      .iovecs = userptr->iovecs,
      .num_iovs = userptr->num_iovs,
      .size = userptr->size,
      .read_only = userptr->read_only,
      .res_id = userptr->base.res_id,
   };
   int status = userptr_window_place(ctx, userptr, &params.placement);
   if (status)
      return status;
   int ret = vkfd_alias_create(&params, &userptr->alias);
   if (!ret && userptr_overlaps_other(ctx, userptr))
      ret = -EINVAL;
   if (ret) {
      userptr_alias_remove(userptr, false);
      return ret == -ENOMEM ? VKFD_STATUS_NO_MEMORY : VKFD_STATUS_INVALID_PARAMETER;
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

/* True when `gpu_va` is readable host memory outside the KFD window. */
static bool
gpu_va_is_host_memory(uint64_t gpu_va, uint64_t size)
{
   if (hsakmt_va_contains(gpu_va, size))
      return false;
   struct vkfd_vma_query query;
   struct vkfd_vma_info info;
   bool readable = true; /* when the map cannot be read, assume the worst */
   if (!vkfd_vma_query_init(&query, false)) {
      int ret = vkfd_vma_query_find(&query, (uintptr_t)gpu_va, &info);
      readable = ret == 0 ? (info.flags & VKFD_VMA_READ) != 0 : ret != -ENOENT;
   }
   vkfd_vma_query_fini(&query);
   return readable;
}

int
hsakmt_userptr_map_to_gpu(struct hsakmt_context *ctx, struct hsakmt_userptr *userptr,
                          const uint32_t *nodes, uint32_t count)
{
   if (!userptr->registered)
      return VKFD_STATUS_MEMORY_NOT_REGISTERED;
   if (userptr->gpu_mapped)
      return userptr->gpu_va_refused ? VKFD_STATUS_ERROR : VKFD_STATUS_SUCCESS;
   void *address = vkfd_alias_address(userptr->alias);
   uint64_t gpu_va = 0;
   int status =
      nodes ? vkfd_kfd_map_to_gpu_nodes(address, userptr->size, nodes, count, &gpu_va)
            : vkfd_kfd_map_to_gpu(address, userptr->size, &gpu_va);
   if (status)
      return status;
   userptr->gpu_mapped = true;
   userptr->gpu_va = gpu_va;
   if (gpu_va_is_host_memory(gpu_va, userptr->size)) {
      /* the guest adds offsets to this number; it must not learn the host's layout */
      vkfd_err("ctx %u: res %u: the host library put the userptr's GPU VA at 0x%llx, "
               "readable host memory outside the KFD window; refused",
               ctx->base.id, userptr->base.res_id, (unsigned long long)gpu_va);
      /* never answer it, nor show it in POINTER_INFO */
      userptr->gpu_va = 0;
      if (!vkfd_kfd_unmap_from_gpu(address))
         userptr->gpu_mapped = false;
      else
         userptr->gpu_va_refused = true;
      /* else it stays mapped: the teardown unmaps it, or keeps the range for good */
      return VKFD_STATUS_ERROR;
   }
   hsakmt_mapped_nodes_set(&userptr->mapped, nodes, count);
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
