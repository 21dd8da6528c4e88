/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * MEMORY (wire-protocol.md §2.4, §4.3, §4.4). KFD allocations live at fixed VAs in the
 * process-wide window, so guest VA == host VA == GPU VA; userptrs are registered
 * through an alias of the guest pages. Every address, size and node the guest names
 * is checked against this context's own objects first (§6 problem 5).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "virglrenderer.h"

#include "hsakmt/hsakmt_backend.h"
#include "hsakmt/hsakmt_buffer.h"
#include "hsakmt/hsakmt_context.h"
#include "hsakmt/hsakmt_interop.h"
#include "hsakmt/hsakmt_export.h"
#include "hsakmt/hsakmt_memory.h"
#include "hsakmt/hsakmt_scratch.h"
#include "hsakmt/hsakmt_va.h"
#include "kfd/vkfd_kfd.h"
#include "util/vkfd_log.h"
#include "util/vkfd_math.h"

/* HsaMemFlags a Debian 5.2.3 host may pass on, or must refuse (§3.8). */
#define MEMFLAGS_REFUSED                                      \
   (HSAKMT_MEMFLAG_NO_ADDRESS | HSAKMT_MEMFLAG_ONLY_ADDRESS | \
    HSAKMT_MEMFLAG_CONTIGUOUS | HSAKMT_MEMFLAG_GDS_MEMORY)
#define MEMFLAGS_CLEARED                                      \
   (HSAKMT_MEMFLAG_EXT_COHERENT | HSAKMT_MEMFLAG_GTT_ACCESS | \
    HSAKMT_MEMFLAG_EXECUTE_BLIT | HSAKMT_MEMFLAG_QUEUE_OBJECT)
#define MEMFLAGS_KNOWN 0x01ffffffu

static const struct hsakmt_memory_req *
memory_req(const struct hsakmt_request *r)
{
   return r->req;
}

static struct hsakmt_memory_rsp *
memory_rsp(struct hsakmt_request *r)
{
   return hsakmt_response(r, sizeof(struct hsakmt_memory_rsp));
}

static uint64_t
page_size(void)
{
   return (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The address the guest names the object by: its VA, or a userptr's handle. */
static uint64_t
object_address(const struct hsakmt_object *obj, uint64_t *size)
{
   if (obj->kind == HSAKMT_OBJECT_HOST_MEM) {
      const struct hsakmt_host_mem *mem = (const struct hsakmt_host_mem *)obj;
      *size = mem->size;
      return mem->va;
   }
   const struct hsakmt_userptr *userptr = (const struct hsakmt_userptr *)obj;
   *size = userptr->size;
   return hsakmt_userptr_handle(userptr);
}

struct hsakmt_object *
hsakmt_memory_find(struct hsakmt_context *ctx, uint64_t address, uint64_t size)
{
   uint64_t end;
   if (vkfd_ckd_add(&end, address, size))
      return NULL;
   vkfd_list_for_each_safe(struct hsakmt_object, obj, &ctx->memory, memory_link)
   {
      uint64_t obj_size, start = object_address(obj, &obj_size);
      if (start && address >= start && end <= start + obj_size && end > address)
         return obj;
   }
   return NULL;
}

static void
host_mem_destroy(struct hsakmt_context *ctx, struct hsakmt_object *obj)
{
   struct hsakmt_host_mem *mem = (struct hsakmt_host_mem *)obj;
   void *address = (void *)(uintptr_t)mem->va;
   /*
    * The GPU state goes now; the memory goes with the resource that claimed it,
    * because the VMM may still map it into the guest (§4.1, lifetime rule).
    */
   if (mem->gpu_mapped && mem->buffer->queue_pins) {
      /* a queue still runs on it: its last unpin unmaps it */
      mem->buffer->unmap_deferred = true;
   } else if (mem->gpu_mapped && vkfd_kfd_unmap_from_gpu(address)) {
      vkfd_err("ctx %u: res %u: GPU unmap of KFD memory %p failed", ctx->base.id,
               obj->res_id, address);
      mem->buffer->gpu_may_hold = true;
   }
   if (!mem->buffer_claimed)
      hsakmt_buffer_free(mem->buffer);
   hsakmt_charge_release(&mem->base.charge);
   vkfd_list_del(&mem->base.memory_link);
   free(mem);
}

static int
host_mem_claim(struct hsakmt_context *ctx, struct hsakmt_object *obj,
               const struct vkfd_blob_request *request, struct vkfd_blob *blob)
{
   struct hsakmt_host_mem *mem = (struct hsakmt_host_mem *)obj;
   bool host_access = mem->flags & HSAKMT_MEMFLAG_HOST_ACCESS;
   bool mappable = request->blob_flags & VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE;
   uint64_t limit;
   /* QEMU maps `size` bytes at the VA: never more than the allocation (§6 #7) */
   if (vkfd_ckd_align_up(&limit, mem->size, page_size()) || request->size > limit) {
      vkfd_err("ctx %u: res %u: blob size 0x%llx exceeds its allocation 0x%llx",
               ctx->base.id, request->res_id, (unsigned long long)request->size,
               (unsigned long long)mem->size);
      return -EINVAL;
   }
   if (mappable && !host_access) {
      vkfd_err("ctx %u: res %u: MAPPABLE blob of memory without host access",
               ctx->base.id, request->res_id);
      return -EINVAL;
   }
   if (request->blob_flags & ~(VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE |
                               VIRGL_RENDERER_BLOB_FLAG_USE_SHAREABLE)) {
      vkfd_err("ctx %u: res %u: blob flags 0x%x for KFD memory", ctx->base.id,
               request->res_id, request->blob_flags);
      return -EINVAL;
   }
   /* a SHAREABLE blob is a dma-buf of the memory: it must export (logged) */
   if (request->blob_flags & VIRGL_RENDERER_BLOB_FLAG_USE_SHAREABLE) {
      int ret = hsakmt_export_prepare(ctx, mem, request->res_id);
      if (ret)
         return ret;
   }
   bool vram = mem->node != 0 && (mem->flags & HSAKMT_MEMFLAG_NON_PAGED);
   blob->kind = mappable ? VKFD_BLOB_VA : VKFD_BLOB_NONE;
   blob->va = (void *)(uintptr_t)mem->va;
   blob->backing = &mem->buffer->backing;
   blob->map_info =
      mappable ? (vram ? VIRGL_RENDERER_MAP_CACHE_WC : VIRGL_RENDERER_MAP_CACHE_CACHED)
               : VIRGL_RENDERER_MAP_CACHE_NONE;
   return 0;
}

static void
host_mem_claimed(struct hsakmt_object *obj)
{
   /* the resource owns the memory now and frees it at its unref */
   ((struct hsakmt_host_mem *)obj)->buffer_claimed = true;
}

static const struct hsakmt_object_ops host_mem_ops = {
   .name = "KFD memory",
   .claim = host_mem_claim,
   .claimed = host_mem_claimed,
   .destroy = host_mem_destroy,
};

static void
memory_alloc(struct hsakmt_request *r)
{
   const struct hsakmt_memory_req *req = memory_req(r);
   struct hsakmt_memory_rsp *rsp = memory_rsp(r);
   if (!rsp)
      return;
   struct hsakmt_context *ctx = r->ctx;
   uint32_t node = req->alloc.preferred_node;
   uint32_t flags = req->alloc.mem_flags;
   uint64_t size = req->alloc.size_in_bytes;
   uint64_t alignment = req->alloc.alignment;

   int status = hsakmt_objects_check_blob_id(&ctx->objects, req->blob_id, "MEMORY/ALLOC");
   if (!status && (flags & ~MEMFLAGS_KNOWN)) {
      vkfd_err("ctx %u: MEMORY/ALLOC: unknown flag bits 0x%x", ctx->base.id,
               flags & ~MEMFLAGS_KNOWN);
      status = VKFD_STATUS_INVALID_PARAMETER;
   }
   if (!status && (flags & MEMFLAGS_REFUSED)) {
      vkfd_err("ctx %u: MEMORY/ALLOC: flags 0x%x (GDS, NoAddress, OnlyAddress or "
               "Contiguous) are not supported",
               ctx->base.id, flags & MEMFLAGS_REFUSED);
      status = VKFD_STATUS_NOT_SUPPORTED;
   }
   if (!status && (flags & HSAKMT_MEMFLAG_SCRATCH)) {
      /* a sub-range of the node's scratch window (hsakmt_scratch.h) */
      hsakmt_scratch_alloc(r, rsp);
      return;
   }
   if (!status && (!size || size % page_size())) {
      vkfd_err("ctx %u: MEMORY/ALLOC: size 0x%llx is not a non-zero page multiple",
               ctx->base.id, (unsigned long long)size);
      status = VKFD_STATUS_INVALID_PARAMETER;
   }
   if (!status && node >= vkfd_kfd_node_count()) {
      vkfd_err("ctx %u: MEMORY/ALLOC: node %u does not exist", ctx->base.id, node);
      status = VKFD_STATUS_INVALID_NODE_UNIT;
   }
   struct vkfd_kfd_va_info va_info;
   vkfd_kfd_va_info(&va_info);
   bool system_memory =
      !vkfd_kfd_node_is_gpu(node) || !(flags & HSAKMT_MEMFLAG_NON_PAGED);
   if (!status && va_info.mode == VKFD_KFD_VA_RESERVED_SVM && system_memory &&
       !(flags & HSAKMT_MEMFLAG_COARSE_GRAIN)) {
      /*
       * Measured with libhsakmt 5.2.3 in its reserved-aperture mode: fine-grained
       * system memory at a fixed address (pageable or GTT) is allocated but can then
       * be neither mapped nor freed, leaking the KFD buffer. Refuse it up front.
       */
      vkfd_err("ctx %u: MEMORY/ALLOC: fine-grained system memory (flags 0x%x) at a "
               "fixed address is not supported by this libhsakmt (before ROCm 5.7); "
               "coarse-grained system memory and VRAM work",
               ctx->base.id, flags);
      status = VKFD_STATUS_NOT_SUPPORTED;
   }
   bool device_local = node != 0 && (flags & HSAKMT_MEMFLAG_NON_PAGED) &&
                       !(flags & HSAKMT_MEMFLAG_GTT_ACCESS);
   if (!status && alignment == 0)
      alignment = device_local ? HSAKMT_DEVICE_ALIGNMENT : page_size();
   if (!status && (!vkfd_is_power_of_two(alignment) || alignment < page_size())) {
      vkfd_err("ctx %u: MEMORY/ALLOC: alignment 0x%llx", ctx->base.id,
               (unsigned long long)alignment);
      status = VKFD_STATUS_INVALID_PARAMETER;
   }
   /*
    * libhsakmt aligns a buffer to the largest power of two it spans, up to 2 MiB (GPU
    * TLB fragments), and in its reserved-aperture mode refuses a fixed address that
    * is less aligned (measured: 2 MiB of system memory at a 4 KiB boundary fails).
    */
   while (!status && alignment < HSAKMT_DEVICE_ALIGNMENT && size >= alignment << 1)
      alignment <<= 1;
   if (!status && !hsakmt_va_can_allocate()) {
      vkfd_err("ctx %u: MEMORY/ALLOC: no fixed-address window (OPEN_KFD first, and a "
               "library or mode that supports fixed addresses)",
               ctx->base.id);
      status = VKFD_STATUS_NO_MEMORY;
   }
   if (status) {
      rsp->hdr.ret = status;
      return;
   }

   struct hsakmt_host_mem *mem = calloc(1, sizeof(*mem));
   if (!mem) {
      rsp->hdr.ret = VKFD_STATUS_NO_MEMORY;
      return;
   }
   mem->base.kind = HSAKMT_OBJECT_HOST_MEM;
   mem->base.ops = &host_mem_ops;
   vkfd_list_init(&mem->base.memory_link);
   status = hsakmt_object_charge(ctx, &mem->base, "MEMORY/ALLOC");
   /* the host library does not know bits 18 and up: never pass them on */
   uint32_t host_flags = (flags & ~MEMFLAGS_CLEARED) & HSAKMT_MEMFLAGS_BASE_MASK;
   if (!status)
      status = hsakmt_buffer_alloc(ctx, node, size, alignment, host_flags, &mem->buffer);
   if (status) {
      hsakmt_charge_release(&mem->base.charge);
      free(mem);
      rsp->hdr.ret = status;
      return;
   }
   mem->va = mem->buffer->va;
   mem->size = size;
   mem->node = node;
   mem->flags = host_flags;
   vkfd_list_add_tail(&mem->base.memory_link, &ctx->memory);
   status = hsakmt_objects_add_pending(&ctx->objects, (uint32_t)req->blob_id, &mem->base);
   if (status) {
      host_mem_destroy(ctx, &mem->base);
      rsp->hdr.ret = status;
      return;
   }
   rsp->memory_handle = mem->va;
}

void
hsakmt_mapped_nodes_set(struct hsakmt_mapped_nodes *mapped, const uint32_t *nodes,
                        uint32_t count)
{
   mapped->count = 0;
   if (nodes) {
      memcpy(mapped->nodes, nodes, count * sizeof(*nodes));
      mapped->count = count;
      return;
   }
   /* without a node list libhsakmt maps to every GPU */
   for (uint32_t n = 0; n < vkfd_kfd_node_count(); n++) {
      if (vkfd_kfd_node_is_gpu(n) && mapped->count < HSAKMT_MAX_MEMORY_NODES)
         mapped->nodes[mapped->count++] = n;
   }
}

/* The node list of MAP_TO_GPU_NODES: counted against len, every id a GPU node. */
static int
read_gpu_nodes(struct hsakmt_request *r, uint64_t count, uint32_t *nodes)
{
   uint64_t needed = HSAKMT_MEMORY_PAYLOAD_OFFSET + count * 4;
   if (count == 0 || count > HSAKMT_MAX_MEMORY_NODES || r->len < needed) {
      vkfd_err("ctx %u: MEMORY/MAP_TO_GPU_NODES: %llu nodes in a %u-byte request",
               r->ctx->base.id, (unsigned long long)count, r->len);
      return VKFD_STATUS_INVALID_PARAMETER;
   }
   memcpy(nodes, (const uint8_t *)r->req + HSAKMT_MEMORY_PAYLOAD_OFFSET, count * 4);
   for (uint64_t i = 0; i < count; i++) {
      if (!vkfd_kfd_node_is_gpu(nodes[i])) {
         vkfd_err("ctx %u: MEMORY/MAP_TO_GPU_NODES: node %u is not a GPU",
                  r->ctx->base.id, nodes[i]);
         return VKFD_STATUS_INVALID_NODE_UNIT;
      }
   }
   return VKFD_STATUS_SUCCESS;
}

static struct hsakmt_object *
find_range(struct hsakmt_request *r, const char *what, uint64_t address, uint64_t size)
{
   struct hsakmt_object *obj = hsakmt_memory_find(r->ctx, address, size ? size : 1);
   if (!obj)
      vkfd_err(
         "ctx %u: MEMORY/%s: 0x%llx+0x%llx is not inside one object of this context",
         r->ctx->base.id, what, (unsigned long long)address, (unsigned long long)size);
   return obj;
}

static void
memory_map_to_gpu_nodes(struct hsakmt_request *r)
{
   const struct hsakmt_memory_req *req = memory_req(r);
   struct hsakmt_memory_rsp *rsp = memory_rsp(r);
   if (!rsp)
      return;
   uint32_t nodes[HSAKMT_MAX_MEMORY_NODES];
   int status = read_gpu_nodes(r, req->map_to_gpu_nodes.number_of_nodes, nodes);
   if (status) {
      rsp->hdr.ret = status;
      return;
   }
   struct hsakmt_object *obj =
      find_range(r, "MAP_TO_GPU_NODES", req->map_to_gpu_nodes.memory_address,
                 req->map_to_gpu_nodes.memory_size_in_bytes);
   if (!obj || (req->res_id && obj->res_id != req->res_id)) {
      rsp->hdr.ret = VKFD_STATUS_INVALID_PARAMETER;
      return;
   }
   uint32_t count = (uint32_t)req->map_to_gpu_nodes.number_of_nodes;
   if (obj->kind == HSAKMT_OBJECT_USERPTR) {
      struct hsakmt_userptr *userptr = (struct hsakmt_userptr *)obj;
      rsp->hdr.ret = hsakmt_userptr_map_to_gpu(r->ctx, userptr, nodes, count);
      rsp->memory_handle = rsp->hdr.ret ? 0 : userptr->gpu_va;
      return;
   }
   struct hsakmt_host_mem *mem = (struct hsakmt_host_mem *)obj;
   uint64_t gpu_va = mem->va;
   if (!mem->gpu_mapped) {
      status = vkfd_kfd_map_to_gpu_nodes((void *)(uintptr_t)mem->va, mem->size, nodes,
                                         count, &gpu_va);
      mem->gpu_mapped = status == VKFD_STATUS_SUCCESS;
      if (mem->gpu_mapped)
         hsakmt_mapped_nodes_set(&mem->mapped, nodes, count);
   }
   rsp->hdr.ret = status;
   rsp->memory_handle = status ? 0 : gpu_va;
}

static void
memory_map_to_gpu(struct hsakmt_request *r)
{
   const struct hsakmt_memory_req *req = memory_req(r);
   struct hsakmt_memory_rsp *rsp = memory_rsp(r);
   if (!rsp)
      return;
   if (req->map_to_gpu.need_create_bo == 1) {
      /* a scratch mapping, which the guest tracks as an object of its own */
      hsakmt_scratch_map(r, rsp);
      return;
   }
   if (req->map_to_gpu.need_create_bo) {
      vkfd_err("ctx %u: MEMORY/MAP_MEM_TO_GPU: need_create_bo %u is not a boolean",
               r->ctx->base.id, req->map_to_gpu.need_create_bo);
      rsp->hdr.ret = VKFD_STATUS_INVALID_PARAMETER;
      return;
   }
   struct hsakmt_object *obj =
      find_range(r, "MAP_MEM_TO_GPU", req->map_to_gpu.memory_address,
                 req->map_to_gpu.memory_size_in_bytes);
   if (!obj) {
      rsp->hdr.ret = VKFD_STATUS_INVALID_PARAMETER;
      return;
   }
   if (obj->kind == HSAKMT_OBJECT_USERPTR) {
      struct hsakmt_userptr *userptr = (struct hsakmt_userptr *)obj;
      rsp->hdr.ret = hsakmt_userptr_map_to_gpu(r->ctx, userptr, NULL, 0);
      rsp->memory_handle = rsp->hdr.ret ? 0 : userptr->gpu_va;
      return;
   }
   struct hsakmt_host_mem *mem = (struct hsakmt_host_mem *)obj;
   uint64_t gpu_va = mem->va;
   int status = VKFD_STATUS_SUCCESS;
   if (!mem->gpu_mapped) {
      status = vkfd_kfd_map_to_gpu((void *)(uintptr_t)mem->va, mem->size, &gpu_va);
      mem->gpu_mapped = status == VKFD_STATUS_SUCCESS;
      if (mem->gpu_mapped)
         hsakmt_mapped_nodes_set(&mem->mapped, NULL, 0);
   }
   rsp->hdr.ret = status;
   rsp->memory_handle = status ? 0 : gpu_va;
}

static void
memory_unmap_from_gpu(struct hsakmt_request *r)
{
   const struct hsakmt_memory_req *req = memory_req(r);
   struct hsakmt_memory_rsp *rsp = memory_rsp(r);
   if (!rsp)
      return;
   struct hsakmt_object *obj = hsakmt_memory_find(r->ctx, req->memory_address, 1);
   uint64_t size;
   if (!obj || obj->kind != HSAKMT_OBJECT_HOST_MEM ||
       object_address(obj, &size) != req->memory_address) {
      vkfd_err("ctx %u: MEMORY/UNMAP_TO_GPU: 0x%llx is not the start of a KFD allocation "
               "of this context",
               r->ctx->base.id, (unsigned long long)req->memory_address);
      rsp->hdr.ret = VKFD_STATUS_INVALID_PARAMETER;
      return;
   }
   struct hsakmt_host_mem *mem = (struct hsakmt_host_mem *)obj;
   if (!mem->gpu_mapped) {
      rsp->hdr.ret = VKFD_STATUS_SUCCESS; /* ROCr unmaps what it may not have mapped */
      return;
   }
   rsp->hdr.ret = vkfd_kfd_unmap_from_gpu((void *)(uintptr_t)mem->va);
   if (!rsp->hdr.ret) {
      mem->gpu_mapped = false;
      mem->mapped.count = 0;
   }
}

static void
memory_available(struct hsakmt_request *r)
{
   struct hsakmt_memory_rsp *rsp = memory_rsp(r);
   if (!rsp)
      return;
   uint32_t node = memory_req(r)->node;
   rsp->hdr.ret = vkfd_kfd_available_memory(node, &rsp->memory_handle);
   /* what ROCr sizes its pools by: never more than this context may still take, in
    * the 2 MiB steps the driver reports */
   uint64_t left = vkfd_align_down(hsakmt_account_vram_left(&r->ctx->account, node),
                                   HSAKMT_DEVICE_ALIGNMENT);
   if (!rsp->hdr.ret && rsp->memory_handle > left)
      rsp->memory_handle = left;
}

static void
memory_register(struct hsakmt_request *r)
{
   const struct hsakmt_memory_req *req = memory_req(r);
   struct hsakmt_memory_rsp *rsp = memory_rsp(r);
   if (!rsp)
      return;
   /* only a userptr object built from the blob's iovecs: never a raw host address */
   struct hsakmt_userptr *userptr = (struct hsakmt_userptr *)hsakmt_objects_lookup(
      &r->ctx->objects, req->res_id, HSAKMT_OBJECT_USERPTR);
   if (!userptr) {
      vkfd_err("ctx %u: MEMORY/REG_MEM_WITH_FLAG: res %u is not a userptr blob of this "
               "context",
               r->ctx->base.id, req->res_id);
      rsp->hdr.ret = VKFD_STATUS_INVALID_HANDLE;
      return;
   }
   uint64_t address = hsakmt_userptr_handle(userptr);
   uint64_t size = req->reg_mem_with_flag.memory_size_in_bytes;
   if (!address) {
      vkfd_err("ctx %u: MEMORY/REG_MEM_WITH_FLAG: res %u has no MAP_USERPTR handle yet",
               r->ctx->base.id, req->res_id);
      rsp->hdr.ret = VKFD_STATUS_INVALID_HANDLE;
      return;
   }
   if (req->reg_mem_with_flag.memory_address != address || !size ||
       size > userptr->size || req->reg_mem_with_flag.pad) {
      vkfd_err("ctx %u: MEMORY/REG_MEM_WITH_FLAG: res %u: 0x%llx+0x%llx is not its "
               "MAP_USERPTR handle 0x%llx+0x%llx",
               r->ctx->base.id, req->res_id,
               (unsigned long long)req->reg_mem_with_flag.memory_address,
               (unsigned long long)size, (unsigned long long)address,
               (unsigned long long)userptr->size);
      rsp->hdr.ret = VKFD_STATUS_INVALID_PARAMETER;
      return;
   }
   if (req->reg_mem_with_flag.mem_flags & ~MEMFLAGS_KNOWN) {
      rsp->hdr.ret = VKFD_STATUS_INVALID_PARAMETER;
      return;
   }
   rsp->hdr.ret =
      hsakmt_userptr_register(r->ctx, userptr, req->reg_mem_with_flag.mem_flags);
}

static void
memory_map_userptr(struct hsakmt_request *r)
{
   const struct hsakmt_memory_req *req = memory_req(r);
   struct hsakmt_memory_rsp *rsp = memory_rsp(r);
   if (!rsp)
      return;
   struct hsakmt_object *obj = hsakmt_objects_lookup(&r->ctx->objects, req->res_id, -1);
   uint64_t size = 0, address = 0;
   int status = VKFD_STATUS_INVALID_HANDLE;
   if (obj && obj->kind == HSAKMT_OBJECT_USERPTR) {
      status = hsakmt_userptr_map(r->ctx, (struct hsakmt_userptr *)obj);
      if (!status)
         address = object_address(obj, &size);
   } else if (obj && obj->kind == HSAKMT_OBJECT_HOST_MEM) {
      address = object_address(obj, &size);
      status = VKFD_STATUS_SUCCESS;
   } else {
      vkfd_err(
         "ctx %u: MEMORY/MAP_USERPTR: res %u is not a memory object of this context",
         r->ctx->base.id, req->res_id);
   }
   rsp->hdr.ret = status;
   rsp->map_userptr.userptr_handle = address;
   uint64_t pages = size / 4096;
   rsp->map_userptr.npfns = pages > UINT32_MAX ? UINT32_MAX : (uint32_t)pages;
}

static void
memory_set_policy(struct hsakmt_request *r)
{
   const struct hsakmt_memory_req *req = memory_req(r);
   struct hsakmt_memory_rsp *rsp = memory_rsp(r);
   if (!rsp)
      return;
   uint32_t node = req->set_mem_policy.node;
   uint64_t address = req->set_mem_policy.memory_address_alternate;
   uint64_t size = req->set_mem_policy.memory_size_in_bytes;
   uint64_t window_start, window_size, end;
   /* policies are COHERENT (0) or NONCOHERENT (1); the alternate aperture, if any,
    * must lie inside the process's KFD window, never over arbitrary host memory */
   bool aperture_ok = (!address && !size) ||
                      (hsakmt_va_window_bounds(&window_start, &window_size) &&
                       !vkfd_ckd_add(&end, address, size) && address >= window_start &&
                       end <= window_start + window_size && size &&
                       address % page_size() == 0 && size % page_size() == 0);
   if (!vkfd_kfd_node_is_gpu(node)) {
      rsp->hdr.ret = VKFD_STATUS_INVALID_NODE_UNIT;
   } else if (req->set_mem_policy.default_policy > 1 ||
              req->set_mem_policy.alternate_policy > 1 || req->set_mem_policy.pad ||
              !aperture_ok) {
      vkfd_err("ctx %u: MEMORY/SET_MEM_POLICY: policies %u/%u, aperture 0x%llx+0x%llx",
               r->ctx->base.id, req->set_mem_policy.default_policy,
               req->set_mem_policy.alternate_policy, (unsigned long long)address,
               (unsigned long long)size);
      rsp->hdr.ret = VKFD_STATUS_INVALID_PARAMETER;
   } else {
      rsp->hdr.ret =
         vkfd_kfd_set_memory_policy(node, req->set_mem_policy.default_policy,
                                    req->set_mem_policy.alternate_policy, address, size);
   }
}

static void
memory_deregister(struct hsakmt_request *r)
{
   /* DEREG_MEM is for GL-interop registrations only, and there are none (§2.4) */
   vkfd_err("ctx %u: MEMORY/DEREG_MEM: 0x%llx is not a graphics registration of this "
            "context",
            r->ctx->base.id, (unsigned long long)memory_req(r)->memory_address);
   struct hsakmt_memory_rsp *rsp = memory_rsp(r);
   if (rsp)
      rsp->hdr.ret = VKFD_STATUS_INVALID_HANDLE;
}

static const struct hsakmt_subcommand memory_table[HSAKMT_MEMORY_COUNT] = {
   [HSAKMT_MEMORY_ALLOC] = { "ALLOC", memory_alloc },
   [HSAKMT_MEMORY_MAP_TO_GPU_NODES] = { "MAP_TO_GPU_NODES", memory_map_to_gpu_nodes },
   /* freeing happens on resource detach; FREE of a raw address is refused */
   [HSAKMT_MEMORY_FREE] = { "FREE", NULL },
   [HSAKMT_MEMORY_UNMAP_TO_GPU] = { "UNMAP_TO_GPU", memory_unmap_from_gpu },
   [HSAKMT_MEMORY_AVAIL_MEM] = { "AVAIL_MEM", memory_available },
   [HSAKMT_MEMORY_MAP_MEM_TO_GPU] = { "MAP_MEM_TO_GPU", memory_map_to_gpu },
   [HSAKMT_MEMORY_REG_MEM_WITH_FLAG] = { "REG_MEM_WITH_FLAG", memory_register },
   [HSAKMT_MEMORY_DEREG_MEM] = { "DEREG_MEM", memory_deregister },
   [HSAKMT_MEMORY_MAP_USERPTR] = { "MAP_USERPTR", memory_map_userptr },
   [HSAKMT_MEMORY_EXPORT_DMABUF] = { "EXPORT_DMABUF", hsakmt_memory_export_dmabuf },
   [HSAKMT_MEMORY_AMDGPU_IMPORT] = { "AMDGPU_IMPORT", hsakmt_memory_amdgpu },
   [HSAKMT_MEMORY_AMDGPU_EXPORT] = { "AMDGPU_EXPORT", hsakmt_memory_amdgpu },
   [HSAKMT_MEMORY_AMDGPU_VA_OP] = { "AMDGPU_VA_OP", hsakmt_memory_amdgpu },
   [HSAKMT_MEMORY_AMDGPU_BO_FREE] = { "AMDGPU_BO_FREE", hsakmt_memory_amdgpu },
   [HSAKMT_MEMORY_SHARE_MEMORY] = { "SHARE_MEMORY", hsakmt_memory_share },
   [HSAKMT_MEMORY_REGISTER_SHARED_HANDLE] = { "REGISTER_SHARED_HANDLE",
                                              hsakmt_memory_register_shared_handle },
   [HSAKMT_MEMORY_SET_MEM_POLICY] = { "SET_MEM_POLICY", memory_set_policy },
   [HSAKMT_MEMORY_SVM_GET_ATTR] = { "SVM_GET_ATTR", hsakmt_memory_svm_attr },
   [HSAKMT_MEMORY_SVM_SET_ATTR] = { "SVM_SET_ATTR", hsakmt_memory_svm_attr },
   [HSAKMT_MEMORY_AMDGPU_BO_QUERY_INFO] = { "AMDGPU_BO_QUERY_INFO",
                                            hsakmt_memory_amdgpu },
   [HSAKMT_MEMORY_AMDGPU_BO_SET_METADATA] = { "AMDGPU_BO_SET_METADATA",
                                              hsakmt_memory_amdgpu },
};

void
hsakmt_memory(struct hsakmt_request *r)
{
   hsakmt_dispatch_subcommand(r, "MEMORY", memory_table, HSAKMT_MEMORY_COUNT,
                              memory_req(r)->type, sizeof(struct hsakmt_memory_rsp));
}
