/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "hsakmt_guest.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/uio.h>

#include "virglrenderer.h"

int
hsakmt_guest_open(struct hsakmt_guest *guest, uint32_t ctx_id, uint32_t first_res_id)
{
   memset(guest, 0, sizeof(*guest));
   guest->ctx_id = ctx_id;
   guest->next_res_id = first_res_id;
   guest->next_blob_id = 1;
   int ret =
      virgl_renderer_context_create_with_flags(ctx_id, HSAKMT_CAPSET_ID, 5, "guest");
   if (ret)
      return ret;
   guest->shmem_res_id = hsakmt_guest_new_res_id(guest);
   struct virgl_renderer_resource_create_blob_args args = {
      .res_handle = guest->shmem_res_id,
      .ctx_id = ctx_id,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
      .blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE,
      .blob_id = 0,
      .size = HSAKMT_GUEST_SHMEM_SIZE,
   };
   ret = virgl_renderer_resource_create_blob(&args);
   if (ret)
      return -ret;
   void *map;
   uint64_t size;
   ret = virgl_renderer_resource_map(guest->shmem_res_id, &map, &size);
   if (ret)
      return -ret;
   guest->shmem = map;
   const struct hsakmt_shmem *shmem = map;
   guest->rsp_mem_offset = shmem->rsp_mem_offset;
   guest->rsp_area_size = HSAKMT_GUEST_SHMEM_SIZE - guest->rsp_mem_offset;
   return 0;
}

void
hsakmt_guest_close(struct hsakmt_guest *guest)
{
   if (guest->shmem)
      virgl_renderer_resource_unmap(guest->shmem_res_id);
   virgl_renderer_resource_unref(guest->shmem_res_id);
   virgl_renderer_context_destroy(guest->ctx_id);
   guest->shmem = NULL;
}

uint32_t
hsakmt_guest_published_seqno(const struct hsakmt_guest *guest)
{
   return atomic_load_explicit((_Atomic uint32_t *)guest->shmem, memory_order_acquire);
}

int
hsakmt_guest_submit_raw(struct hsakmt_guest *guest, const void *buffer, size_t size)
{
   guest->last_submit =
      virgl_renderer_submit_cmd((void *)buffer, (int)guest->ctx_id, (int)(size / 4));
   return guest->last_submit;
}

void *
hsakmt_guest_frame(struct hsakmt_guest *guest, void *req, uint32_t req_len,
                   uint32_t rsp_len)
{
   struct hsakmt_ccmd_req *hdr = req;
   uint32_t slot = (rsp_len + 7) & ~7u;
   /* the guest's slot allocator: wrap to 0 when the slot would reach the end */
   if (guest->next_rsp_off + slot >= guest->rsp_area_size)
      guest->next_rsp_off = 0;
   hdr->len = req_len;
   hdr->seqno = ++guest->seqno;
   hdr->rsp_off = guest->next_rsp_off;
   guest->next_rsp_off += slot;
   if (!rsp_len)
      return NULL;
   uint8_t *rsp = guest->shmem + guest->rsp_mem_offset + hdr->rsp_off;
   /* a test may declare a slot larger than the area (the host must refuse it);
    * the guest itself never writes past the shared memory */
   uint32_t room = guest->rsp_area_size - hdr->rsp_off;
   memset(rsp, 0xcc, slot < room ? slot : room);
   memcpy(rsp, &slot, sizeof(slot));
   return rsp;
}

void *
hsakmt_guest_call(struct hsakmt_guest *guest, void *req, uint32_t req_len,
                  uint32_t rsp_len)
{
   const struct hsakmt_ccmd_req *hdr = req;
   hsakmt_guest_frame(guest, req, req_len, rsp_len);
   uint32_t seqno = hdr->seqno, rsp_off = hdr->rsp_off;
   /* commands are 4-byte aligned buffers, as QEMU hands them over */
   hsakmt_guest_submit_raw(guest, req, req_len);
   if ((int32_t)(hsakmt_guest_published_seqno(guest) - seqno) < 0)
      return NULL;
   return guest->shmem + guest->rsp_mem_offset + rsp_off;
}

struct hsakmt_query_info_rsp *
hsakmt_guest_query(struct hsakmt_guest *guest, uint32_t type, const void *arg,
                   size_t arg_size, uint32_t rsp_len)
{
   struct hsakmt_query_info_req req;
   memset(&req, 0, sizeof(req));
   req.hdr.cmd = HSAKMT_CCMD_QUERY_INFO;
   req.type = type;
   if (arg)
      memcpy(req.raw, arg, arg_size);
   return hsakmt_guest_call(guest, &req, sizeof(req),
                            rsp_len ? rsp_len : sizeof(struct hsakmt_query_info_rsp));
}

struct hsakmt_memory_rsp *
hsakmt_guest_memory(struct hsakmt_guest *guest, struct hsakmt_memory_req *req,
                    uint32_t req_len)
{
   req->hdr.cmd = HSAKMT_CCMD_MEMORY;
   return hsakmt_guest_call(guest, req, req_len ? req_len : sizeof(*req),
                            sizeof(struct hsakmt_memory_rsp));
}

int
hsakmt_guest_open_kfd(struct hsakmt_guest *guest, uint64_t *start, uint64_t *size)
{
   /* the guest's hint is a heap address it just freed */
   uint64_t hint = 0x7f0000001000ull;
   struct hsakmt_query_info_rsp *rsp =
      hsakmt_guest_query(guest, HSAKMT_QUERY_OPEN_KFD, &hint, sizeof(hint), 0);
   *start = rsp->open_kfd.vm_start;
   *size = rsp->open_kfd.vm_size;
   return rsp->hdr.ret;
}

int
hsakmt_guest_alloc(struct hsakmt_guest *guest, uint32_t node, uint32_t flags,
                   uint64_t size, uint64_t alignment, uint64_t blob_id, uint64_t *va)
{
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_ALLOC;
   req.blob_id = blob_id;
   req.alloc.preferred_node = node;
   req.alloc.mem_flags = flags;
   req.alloc.size_in_bytes = size;
   req.alloc.alignment = alignment;
   struct hsakmt_memory_rsp *rsp = hsakmt_guest_memory(guest, &req, 0);
   *va = rsp->memory_handle;
   return rsp->hdr.ret;
}

int
hsakmt_guest_claim(struct hsakmt_guest *guest, uint32_t res_id, uint64_t blob_id,
                   uint32_t blob_flags, uint64_t size)
{
   struct virgl_renderer_resource_create_blob_args args = {
      .res_handle = res_id,
      .ctx_id = guest->ctx_id,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
      .blob_flags = blob_flags,
      .blob_id = blob_id,
      .size = size,
   };
   return virgl_renderer_resource_create_blob(&args);
}

int
hsakmt_guest_map_to_gpu_nodes(struct hsakmt_guest *guest, uint32_t res_id,
                              uint64_t address, uint64_t size, const uint32_t *nodes,
                              uint32_t count, uint32_t len, uint64_t *gpu_va)
{
   uint8_t buffer[512];
   memset(buffer, 0, sizeof(buffer));
   struct hsakmt_memory_req *req = (struct hsakmt_memory_req *)buffer;
   req->type = HSAKMT_MEMORY_MAP_TO_GPU_NODES;
   req->res_id = res_id;
   req->map_to_gpu_nodes.memory_address = address;
   req->map_to_gpu_nodes.memory_size_in_bytes = size;
   req->map_to_gpu_nodes.number_of_nodes = count;
   memcpy(buffer + HSAKMT_MEMORY_PAYLOAD_OFFSET, nodes, (count < 32 ? count : 32) * 4);
   if (!len)
      len = (HSAKMT_MEMORY_PAYLOAD_OFFSET + 4 * count + 7) & ~7u;
   struct hsakmt_memory_rsp *rsp = hsakmt_guest_memory(guest, req, len);
   if (gpu_va)
      *gpu_va = rsp->memory_handle;
   return rsp->hdr.ret;
}

int
hsakmt_guest_unmap_from_gpu(struct hsakmt_guest *guest, uint64_t address)
{
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_UNMAP_TO_GPU;
   req.memory_address = address;
   return hsakmt_guest_memory(guest, &req, 0)->hdr.ret;
}

int
hsakmt_guest_create_userptr(struct hsakmt_guest *guest, uint32_t res_id,
                            const struct iovec *iov, uint32_t count, uint64_t size,
                            uint32_t blob_flags)
{
   struct virgl_renderer_resource_create_blob_args args = {
      .res_handle = res_id,
      .ctx_id = guest->ctx_id,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D_GUEST,
      .blob_flags = blob_flags,
      .blob_id = hsakmt_guest_new_blob_id(guest),
      .size = size,
      .iovecs = iov,
      .num_iovs = count,
   };
   return virgl_renderer_resource_create_blob(&args);
}

int
hsakmt_guest_map_userptr(struct hsakmt_guest *guest, uint32_t res_id, uint64_t *handle)
{
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_MAP_USERPTR;
   req.res_id = res_id;
   struct hsakmt_memory_rsp *rsp = hsakmt_guest_memory(guest, &req, 0);
   *handle = rsp->map_userptr.userptr_handle;
   return rsp->hdr.ret;
}

int
hsakmt_guest_register_userptr(struct hsakmt_guest *guest, uint32_t res_id,
                              uint64_t handle, uint64_t size, uint32_t mem_flags)
{
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_REG_MEM_WITH_FLAG;
   req.res_id = res_id;
   req.reg_mem_with_flag.memory_address = handle;
   req.reg_mem_with_flag.memory_size_in_bytes = size;
   req.reg_mem_with_flag.mem_flags = mem_flags;
   return hsakmt_guest_memory(guest, &req, 0)->hdr.ret;
}

uint64_t
hsakmt_guest_new_blob_id(struct hsakmt_guest *guest)
{
   return guest->next_blob_id++;
}

uint32_t
hsakmt_guest_new_res_id(struct hsakmt_guest *guest)
{
   return guest->next_res_id++;
}
