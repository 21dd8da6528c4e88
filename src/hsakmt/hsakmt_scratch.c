/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "hsakmt_scratch.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "virglrenderer.h"

#include "hsakmt/hsakmt_context.h"
#include "hsakmt/hsakmt_va.h"
#include "kfd/vkfd_kfd.h"
#include "util/vkfd_log.h"
#include "util/vkfd_math.h"
#include "util/vkfd_range.h"

#define SCRATCH_PER_XCC        (4ull << 30)
#define SCRATCH_CONTEXTS       5
#define SCRATCH_ALIGNMENT      (64u << 10) /* libhsakmt's SCRATCH_ALIGN */
#define SCRATCH_WINDOW_ALIGNED HSAKMT_DEVICE_ALIGNMENT

/* A node's scratch window: process-wide, like libhsakmt's one scratch allocation. */
struct scratch_window {
   bool placed;
   bool kept; /* its free failed: never released, never placed again */
   uint64_t base;
   uint64_t size;
   unsigned ranges; /* sub-ranges handed out and not yet given back */
   struct vkfd_range free;
};

static struct {
   pthread_mutex_t lock;
   struct scratch_window nodes[HSAKMT_MAX_NODES];
} scratch = { .lock = PTHREAD_MUTEX_INITIALIZER };

/*
 * A context's sub-range of a window. Its SCRATCH object and every SCRATCH_MAP inside it
 * hold a reference: the range returns to the window only when all of them are gone,
 * so no other context gets it while part of it may still be mapped.
 */
struct scratch_range {
   uint32_t node;
   uint64_t va;
   uint64_t size;
   unsigned refs;
   bool gpu_may_hold; /* a GPU unmap failed: never handed out again */
};

/* Owned by the context's object table (kind SCRATCH), on ctx->scratch. */
struct hsakmt_scratch_mem {
   struct hsakmt_object base;
   struct scratch_range *range;
};

/* Owned by the context's object table (kind SCRATCH_MAP), on ctx->scratch. */
struct hsakmt_scratch_map {
   struct hsakmt_object base;
   struct scratch_range *range;
   uint64_t va;
   uint64_t size;
   bool gpu_mapped;
};

static uint64_t
page_size(void)
{
   return (uint64_t)sysconf(_SC_PAGESIZE);
}

/*
 * The node's window: five contexts' worth of NumXcc x 4 GiB (§5.1), but no more than a
 * quarter of the KFD window it is carved from (measured: under valgrind libhsakmt's
 * aperture, and with it the window, is 16 GiB, less than one 20 GiB scratch window).
 */
static uint64_t
window_size_for(uint32_t node)
{
   struct hsakmt_wire_node_properties props;
   uint32_t xcc = 1;
   if (!vkfd_kfd_node_properties(node, &props) && props.num_xcc)
      xcc = props.num_xcc;
   uint64_t size = (uint64_t)xcc * SCRATCH_PER_XCC * SCRATCH_CONTEXTS, start, window;
   if (hsakmt_va_window_bounds(&start, &window))
      size = VKFD_MIN(size, vkfd_align_down(window / 4, SCRATCH_WINDOW_ALIGNED));
   return size;
}

uint64_t
hsakmt_scratch_context_share(uint32_t node)
{
   return vkfd_align_down(window_size_for(node) / SCRATCH_CONTEXTS, SCRATCH_ALIGNMENT);
}

static int
window_place_locked(struct scratch_window *window, uint32_t node)
{
   uint64_t size = window_size_for(node), va;
   if (!size)
      return VKFD_STATUS_NO_MEMORY;
   if (vkfd_kfd_device_acquire())
      return VKFD_STATUS_KERNEL_IO_CHANNEL_NOT_OPENED;
   int status = hsakmt_va_alloc(size, SCRATCH_WINDOW_ALIGNED, &va);
   if (status) {
      vkfd_err(
         "MEMORY/ALLOC: no room for node %u's 0x%llx-byte scratch window in the KFD "
         "window",
         node, (unsigned long long)size);
   } else {
      status =
         vkfd_kfd_alloc_fixed(node, size, HSAKMT_MEMFLAG_SCRATCH, (void *)(uintptr_t)va);
      if (status) {
         vkfd_err("MEMORY/ALLOC: node %u's scratch window at 0x%llx+0x%llx failed "
                  "(status %d)",
                  node, (unsigned long long)va, (unsigned long long)size, status);
         hsakmt_va_free(va, size);
      }
   }
   if (!status && vkfd_range_init(&window->free, va, size)) {
      vkfd_kfd_free((void *)(uintptr_t)va, size);
      hsakmt_va_free(va, size);
      status = VKFD_STATUS_NO_MEMORY;
   }
   if (status) {
      vkfd_kfd_device_release();
      return status;
   }
   window->placed = true;
   window->base = va;
   window->size = size;
   vkfd_info("scratch window of node %u: 0x%llx+0x%llx", node, (unsigned long long)va,
             (unsigned long long)size);
   return VKFD_STATUS_SUCCESS;
}

static void
window_remove_locked(struct scratch_window *window, uint32_t node)
{
   vkfd_range_fini(&window->free);
   /* frees the scratch allocation, unmapping whatever libhsakmt still maps in it */
   int status = vkfd_kfd_free((void *)(uintptr_t)window->base, window->size);
   if (status) {
      vkfd_err("scratch window of node %u: free failed (status %d); it stays for good",
               node, status);
      window->kept = true;
   } else {
      hsakmt_va_free(window->base, window->size);
   }
   window->placed = false;
   if (!window->kept)
      vkfd_kfd_device_release();
}

static void
range_put(struct scratch_range *range)
{
   if (--range->refs)
      return;
   if (range->gpu_may_hold) {
      /* the range, and with it the window, stays out of use for good */
      free(range);
      return;
   }
   pthread_mutex_lock(&scratch.lock);
   struct scratch_window *window = &scratch.nodes[range->node];
   if (vkfd_range_give(&window->free, range->va, range->size))
      vkfd_err("scratch window of node %u: out of memory returning 0x%llx+0x%llx",
               range->node, (unsigned long long)range->va,
               (unsigned long long)range->size);
   if (--window->ranges == 0)
      window_remove_locked(window, range->node);
   pthread_mutex_unlock(&scratch.lock);
   free(range);
}

static void
scratch_mem_destroy(struct hsakmt_context *ctx, struct hsakmt_object *obj)
{
   struct hsakmt_scratch_mem *mem = (struct hsakmt_scratch_mem *)obj;
   /* mappings inside it keep the range until their own detach */
   range_put(mem->range);
   hsakmt_charge_release(&obj->charge);
   vkfd_list_del(&obj->memory_link);
   free(mem);
}

static int
tracking_blob_claim(struct hsakmt_context *ctx, const struct vkfd_blob_request *request,
                    struct vkfd_blob *blob, uint64_t size, const char *what)
{
   uint64_t limit;
   /* the guest never maps scratch: flags 0, no more than the range (§4.2) */
   if (request->blob_flags || vkfd_ckd_align_up(&limit, size, page_size()) ||
       request->size > limit) {
      vkfd_err("ctx %u: res %u: %s blob with flags 0x%x and size 0x%llx (flags 0, at "
               "most 0x%llx)",
               ctx->base.id, request->res_id, what, request->blob_flags,
               (unsigned long long)request->size, (unsigned long long)size);
      return -EINVAL;
   }
   blob->kind = VKFD_BLOB_NONE;
   blob->map_info = VIRGL_RENDERER_MAP_CACHE_NONE;
   return 0;
}

static int
scratch_mem_claim(struct hsakmt_context *ctx, struct hsakmt_object *obj,
                  const struct vkfd_blob_request *request, struct vkfd_blob *blob)
{
   struct hsakmt_scratch_mem *mem = (struct hsakmt_scratch_mem *)obj;
   return tracking_blob_claim(ctx, request, blob, mem->range->size, "scratch");
}

static const struct hsakmt_object_ops scratch_mem_ops = {
   .name = "scratch",
   .claim = scratch_mem_claim,
   .destroy = scratch_mem_destroy,
};

/* Bytes of scratch this context holds on `node`. */
static uint64_t
context_scratch(struct hsakmt_context *ctx, uint32_t node)
{
   uint64_t total = 0;
   vkfd_list_for_each_safe(struct hsakmt_object, obj, &ctx->scratch, memory_link)
   {
      struct hsakmt_scratch_mem *mem = (struct hsakmt_scratch_mem *)obj;
      if (obj->kind == HSAKMT_OBJECT_SCRATCH && mem->range->node == node)
         total += mem->range->size;
   }
   return total;
}

/* Takes a sub-range of the node's window, placing the window first if need be. */
static int
range_take(uint32_t node, uint64_t size, uint64_t alignment, struct scratch_range *range)
{
   pthread_mutex_lock(&scratch.lock);
   struct scratch_window *window = &scratch.nodes[node];
   int status = VKFD_STATUS_SUCCESS;
   if (window->kept)
      status = VKFD_STATUS_NO_MEMORY;
   else if (!window->placed)
      status = window_place_locked(window, node);
   if (!status) {
      int ret = vkfd_range_take(&window->free, size, alignment, &range->va);
      if (ret)
         status = VKFD_STATUS_NO_MEMORY;
      if (ret == -ENOSPC)
         vkfd_err("MEMORY/ALLOC: node %u's scratch window has no 0x%llx bytes left", node,
                  (unsigned long long)size);
      if (!ret)
         window->ranges++;
      else if (window->ranges == 0)
         window_remove_locked(window, node);
   }
   pthread_mutex_unlock(&scratch.lock);
   range->node = node;
   range->size = size;
   range->refs = 1;
   return status;
}

void
hsakmt_scratch_alloc(struct hsakmt_request *r, struct hsakmt_memory_rsp *rsp)
{
   const struct hsakmt_memory_req *req = r->req;
   struct hsakmt_context *ctx = r->ctx;
   uint32_t node = req->alloc.preferred_node;
   uint64_t size = req->alloc.size_in_bytes, alignment = req->alloc.alignment;
   int status = VKFD_STATUS_SUCCESS;
   if (!vkfd_kfd_node_is_gpu(node)) {
      vkfd_err("ctx %u: MEMORY/ALLOC: scratch on node %u, which is not a GPU",
               ctx->base.id, node);
      status = VKFD_STATUS_INVALID_NODE_UNIT;
   } else if (!size || size % page_size() ||
              (alignment &&
               (!vkfd_is_power_of_two(alignment) || alignment < page_size()))) {
      vkfd_err("ctx %u: MEMORY/ALLOC: scratch of 0x%llx bytes aligned to 0x%llx",
               ctx->base.id, (unsigned long long)size, (unsigned long long)alignment);
      status = VKFD_STATUS_INVALID_PARAMETER;
   } else if (size > hsakmt_scratch_context_share(node) ||
              context_scratch(ctx, node) > hsakmt_scratch_context_share(node) - size) {
      vkfd_err("ctx %u: MEMORY/ALLOC: 0x%llx more bytes of scratch on node %u would pass "
               "the context's share of 0x%llx",
               ctx->base.id, (unsigned long long)size, node,
               (unsigned long long)hsakmt_scratch_context_share(node));
      status = VKFD_STATUS_NO_MEMORY;
   } else if (!hsakmt_va_can_allocate()) {
      vkfd_err(
         "ctx %u: MEMORY/ALLOC: no fixed-address window for scratch (OPEN_KFD first)",
         ctx->base.id);
      status = VKFD_STATUS_NO_MEMORY;
   }
   struct hsakmt_scratch_mem *mem = NULL;
   if (!status) {
      mem = calloc(1, sizeof(*mem));
      if (mem)
         mem->range = calloc(1, sizeof(*mem->range));
      if (!mem || !mem->range) {
         free(mem);
         mem = NULL;
         status = VKFD_STATUS_NO_MEMORY;
      }
   }
   if (status) {
      rsp->hdr.ret = status;
      return;
   }
   mem->base.kind = HSAKMT_OBJECT_SCRATCH;
   mem->base.ops = &scratch_mem_ops;
   vkfd_list_init(&mem->base.memory_link);
   status = hsakmt_object_charge(ctx, &mem->base, "MEMORY/ALLOC (scratch)");
   if (!status)
      status = range_take(node, size, VKFD_MAX(alignment, (uint64_t)SCRATCH_ALIGNMENT),
                          mem->range);
   if (status) {
      hsakmt_charge_release(&mem->base.charge);
      free(mem->range);
      free(mem);
      rsp->hdr.ret = status;
      return;
   }
   vkfd_list_add_tail(&mem->base.memory_link, &ctx->scratch);
   status = hsakmt_objects_add_pending(&ctx->objects, (uint32_t)req->blob_id, &mem->base);
   if (status) {
      scratch_mem_destroy(ctx, &mem->base);
      rsp->hdr.ret = status;
      return;
   }
   rsp->memory_handle = mem->range->va;
}

static void
scratch_map_destroy(struct hsakmt_context *ctx, struct hsakmt_object *obj)
{
   struct hsakmt_scratch_map *map = (struct hsakmt_scratch_map *)obj;
   if (map->gpu_mapped) {
      int status = vkfd_kfd_unmap_from_gpu((void *)(uintptr_t)map->va);
      if (status) {
         /* the GPU may still reach it: the range never returns to the window */
         vkfd_err("ctx %u: res %u: GPU unmap of scratch 0x%llx+0x%llx failed (status "
                  "%d); its range stays out of the scratch window",
                  ctx->base.id, obj->res_id, (unsigned long long)map->va,
                  (unsigned long long)map->size, status);
         map->range->gpu_may_hold = true;
      }
   }
   range_put(map->range);
   hsakmt_charge_release(&obj->charge);
   vkfd_list_del(&obj->memory_link);
   free(map);
}

static int
scratch_map_claim(struct hsakmt_context *ctx, struct hsakmt_object *obj,
                  const struct vkfd_blob_request *request, struct vkfd_blob *blob)
{
   struct hsakmt_scratch_map *map = (struct hsakmt_scratch_map *)obj;
   return tracking_blob_claim(ctx, request, blob, map->size, "scratch mapping");
}

static const struct hsakmt_object_ops scratch_map_ops = {
   .name = "scratch mapping",
   .claim = scratch_map_claim,
   .destroy = scratch_map_destroy,
};

/*
 * The scratch sub-range of this context wholly containing [va, va + size) that no
 * mapping of the context overlaps yet; NULL with a log line otherwise.
 */
static struct scratch_range *
find_unmapped_range(struct hsakmt_context *ctx, uint64_t va, uint64_t size)
{
   struct scratch_range *found = NULL;
   uint64_t end = va + size;
   vkfd_list_for_each_safe(struct hsakmt_object, obj, &ctx->scratch, memory_link)
   {
      if (obj->kind == HSAKMT_OBJECT_SCRATCH) {
         struct scratch_range *range = ((struct hsakmt_scratch_mem *)obj)->range;
         if (va >= range->va && end <= range->va + range->size)
            found = range;
         continue;
      }
      struct hsakmt_scratch_map *map = (struct hsakmt_scratch_map *)obj;
      if (va < map->va + map->size && map->va < end) {
         vkfd_err("ctx %u: MEMORY/MAP_MEM_TO_GPU: scratch 0x%llx+0x%llx overlaps the "
                  "mapping of res %u",
                  ctx->base.id, (unsigned long long)va, (unsigned long long)size,
                  obj->res_id);
         return NULL;
      }
   }
   if (!found)
      vkfd_err("ctx %u: MEMORY/MAP_MEM_TO_GPU: 0x%llx+0x%llx is not inside a scratch "
               "allocation of this context",
               ctx->base.id, (unsigned long long)va, (unsigned long long)size);
   return found;
}

void
hsakmt_scratch_map(struct hsakmt_request *r, struct hsakmt_memory_rsp *rsp)
{
   const struct hsakmt_memory_req *req = r->req;
   struct hsakmt_context *ctx = r->ctx;
   uint64_t va = req->map_to_gpu.memory_address;
   uint64_t size = req->map_to_gpu.memory_size_in_bytes, end;
   int status =
      hsakmt_objects_check_blob_id(&ctx->objects, req->blob_id, "MEMORY/MAP_MEM_TO_GPU");
   bool pad_zero = true;
   for (unsigned i = 0; i < sizeof(req->map_to_gpu.pad); i++)
      pad_zero &= req->map_to_gpu.pad[i] == 0;
   if (!status && (!size || va % page_size() || size % page_size() || !pad_zero ||
                   vkfd_ckd_add(&end, va, size))) {
      vkfd_err(
         "ctx %u: MEMORY/MAP_MEM_TO_GPU: scratch 0x%llx+0x%llx is not a page-aligned "
         "range, or padding is not zero",
         ctx->base.id, (unsigned long long)va, (unsigned long long)size);
      status = VKFD_STATUS_INVALID_PARAMETER;
   }
   struct scratch_range *range = status ? NULL : find_unmapped_range(ctx, va, size);
   if (!status && !range)
      status = VKFD_STATUS_INVALID_PARAMETER;
   struct hsakmt_scratch_map *map = NULL;
   if (!status && !(map = calloc(1, sizeof(*map))))
      status = VKFD_STATUS_NO_MEMORY;
   if (status) {
      rsp->hdr.ret = status;
      return;
   }
   map->base.kind = HSAKMT_OBJECT_SCRATCH_MAP;
   map->base.ops = &scratch_map_ops;
   map->range = range;
   map->va = va;
   map->size = size;
   range->refs++;
   vkfd_list_add_tail(&map->base.memory_link, &ctx->scratch);
   /* libhsakmt backs the mapped part of scratch with VRAM of the node */
   const struct hsakmt_charge charge = { .objects = 1,
                                         .vram = size,
                                         .vram_node = range->node };
   status = hsakmt_account_charge(&ctx->account, &map->base.charge, &charge,
                                  "MEMORY/MAP_MEM_TO_GPU (scratch)");
   uint64_t gpu_va = 0;
   if (!status) {
      status = vkfd_kfd_map_to_gpu((void *)(uintptr_t)va, size, &gpu_va);
      map->gpu_mapped = status == VKFD_STATUS_SUCCESS;
      if (status)
         vkfd_err("ctx %u: MEMORY/MAP_MEM_TO_GPU: scratch 0x%llx+0x%llx failed (status "
                  "%d)",
                  ctx->base.id, (unsigned long long)va, (unsigned long long)size, status);
   }
   if (!status)
      status =
         hsakmt_objects_add_pending(&ctx->objects, (uint32_t)req->blob_id, &map->base);
   if (status) {
      scratch_map_destroy(ctx, &map->base);
      rsp->hdr.ret = status;
      return;
   }
   /* libhsakmt leaves AlternateVAGPU unset for scratch: the GPU VA is the address */
   rsp->memory_handle = va;
}

uint64_t
hsakmt_scratch_window_used(uint32_t node, uint64_t *window_size)
{
   pthread_mutex_lock(&scratch.lock);
   struct scratch_window *window = &scratch.nodes[node % HSAKMT_MAX_NODES];
   uint64_t used = window->placed ? window->free.used : 0;
   *window_size = window->placed ? window->size : 0;
   pthread_mutex_unlock(&scratch.lock);
   return used;
}
