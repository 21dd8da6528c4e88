/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "fuzz_hsakmt_compute.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virglrenderer.h"
#include "virtkfd/hsakmt_proto.h"

#define CPU_NODE       0u
#define GPU_NODE       1u
#define RING_SIZE      (64u << 10)
#define SCRATCH_SIZE   (2u << 20)
#define SHMEM_SIZE     (80u * 4096u)
#define WARM_SHMEM_RES 900u
#define BLOB_ID_BASE   1000u
#define COARSE_HOST    (HSAKMT_MEMFLAG_HOST_ACCESS | HSAKMT_MEMFLAG_COARSE_GRAIN)
#define PLACEHOLDER    0xfeedf00eu /* the event's; ring, amd_queue_t, scratch follow */

/* One request, answered in the first slot; returns the response or NULL. */
static const void *
call(uint32_t ctx_id, uint8_t *shmem, void *req, uint32_t len, uint32_t rsp_len)
{
   static uint32_t seqno;
   struct hsakmt_shmem header;
   memcpy(&header, shmem, sizeof(header));
   uint8_t *slot = shmem + header.rsp_mem_offset;
   memcpy(slot, &rsp_len, sizeof(rsp_len));
   struct hsakmt_ccmd_req *hdr = req;
   hdr->len = len;
   hdr->seqno = ++seqno;
   hdr->rsp_off = 0;
   if (virgl_renderer_submit_cmd(req, (int)ctx_id, (int)(len / 4)))
      return NULL;
   memcpy(&header, shmem, sizeof(header));
   return header.seqno == seqno ? slot : NULL;
}

static bool
claim(uint32_t ctx_id, uint32_t res_id, uint64_t blob_id, uint32_t flags, uint64_t size)
{
   struct virgl_renderer_resource_create_blob_args args = {
      .res_handle = res_id,
      .ctx_id = ctx_id,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
      .blob_flags = flags,
      .blob_id = blob_id,
      .size = size,
   };
   return virgl_renderer_resource_create_blob(&args) == 0;
}

static bool
open_kfd(uint32_t ctx_id, uint8_t *shmem)
{
   struct hsakmt_query_info_req req;
   memset(&req, 0, sizeof(req));
   req.hdr.cmd = HSAKMT_CCMD_QUERY_INFO;
   req.type = HSAKMT_QUERY_OPEN_KFD;
   req.open_kfd.cur_vm_start = 0x7f0000001000ull;
   const struct hsakmt_query_info_rsp *rsp =
      call(ctx_id, shmem, &req, sizeof(req), sizeof(*rsp));
   return rsp && !rsp->hdr.ret;
}

static bool
create_event(uint32_t ctx_id, uint8_t *shmem, uint64_t blob_id, uint64_t *token)
{
   struct hsakmt_event_req req;
   memset(&req, 0, sizeof(req));
   req.hdr.cmd = HSAKMT_CCMD_EVENT;
   req.type = HSAKMT_EVENT_CREATE;
   req.blob_id = blob_id;
   req.create.desc.node_id = GPU_NODE;
   const struct hsakmt_event_rsp *rsp =
      call(ctx_id, shmem, &req, sizeof(req), sizeof(*rsp));
   if (!rsp || rsp->hdr.ret)
      return false;
   *token = rsp->event_handle;
   return true;
}

/* ALLOC of system memory, its blob, and MAP_TO_GPU_NODES; false when any fails. */
static bool
mapped_memory(uint32_t ctx_id, uint8_t *shmem, uint32_t res_id, uint64_t blob_id,
              uint64_t size, uint64_t *va)
{
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.hdr.cmd = HSAKMT_CCMD_MEMORY;
   req.type = HSAKMT_MEMORY_ALLOC;
   req.blob_id = blob_id;
   req.alloc.preferred_node = CPU_NODE;
   req.alloc.mem_flags = COARSE_HOST;
   req.alloc.size_in_bytes = size;
   const struct hsakmt_memory_rsp *rsp =
      call(ctx_id, shmem, &req, sizeof(req), sizeof(*rsp));
   if (!rsp || rsp->hdr.ret)
      return false;
   *va = rsp->memory_handle;
   if (!claim(ctx_id, res_id, blob_id, VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE, size))
      return false;
   uint8_t buffer[HSAKMT_MEMORY_PAYLOAD_OFFSET + 8];
   memset(buffer, 0, sizeof(buffer));
   struct hsakmt_memory_req *map = (struct hsakmt_memory_req *)buffer;
   map->hdr.cmd = HSAKMT_CCMD_MEMORY;
   map->type = HSAKMT_MEMORY_MAP_TO_GPU_NODES;
   map->res_id = res_id;
   map->map_to_gpu_nodes.memory_address = *va;
   map->map_to_gpu_nodes.memory_size_in_bytes = size;
   map->map_to_gpu_nodes.number_of_nodes = 1;
   const uint32_t node = GPU_NODE;
   memcpy(buffer + HSAKMT_MEMORY_PAYLOAD_OFFSET, &node, sizeof(node));
   rsp = call(ctx_id, shmem, buffer, sizeof(buffer), sizeof(*rsp));
   return rsp && !rsp->hdr.ret;
}

static bool
create_queue(uint32_t ctx_id, uint8_t *shmem, uint64_t ring, uint64_t amd_queue,
             uint64_t blob_id, uint64_t doorbell_blob_id)
{
   struct hsakmt_queue_req req;
   memset(&req, 0, sizeof(req));
   req.hdr.cmd = HSAKMT_CCMD_QUEUE;
   req.type = HSAKMT_QUEUE_CREATE;
   req.create.node_id = GPU_NODE;
   req.create.type = HSAKMT_QUEUE_TYPE_COMPUTE_AQL;
   req.create.queue_percentage = 100;
   req.create.sdma_engine_id = HSAKMT_SDMA_ENGINE_NONE;
   req.create.queue_address = ring;
   req.create.queue_size_in_bytes = RING_SIZE;
   req.create.queue_write_ptr_aql = amd_queue + 56;
   req.create.queue_read_ptr_aql = amd_queue + 128;
   req.res_id = FUZZ_AMD_QUEUE_RES;
   req.queue_mem_res_id = FUZZ_RING_RES;
   req.blob_id = blob_id;
   req.doorbell_blob_id = doorbell_blob_id;
   const struct hsakmt_queue_rsp *rsp = call(ctx_id, shmem, &req, sizeof(req), 168);
   return rsp && !rsp->hdr.ret;
}

void
fuzz_compute_warm_up(uint32_t ctx_id)
{
   if (virgl_renderer_context_create_with_flags(ctx_id, HSAKMT_CAPSET_ID, 4, "warm-up"))
      return;
   struct virgl_renderer_resource_create_blob_args args = {
      .res_handle = WARM_SHMEM_RES,
      .ctx_id = ctx_id,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
      .blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE,
      .size = SHMEM_SIZE,
   };
   void *shmem = NULL;
   if (!virgl_renderer_resource_create_blob(&args) &&
       !virgl_renderer_resource_map(WARM_SHMEM_RES, &shmem, NULL)) {
      struct fuzz_compute c = { .ctx_id = ctx_id, .shmem = shmem };
      fuzz_compute_setup(&c); /* an event, and a queue where KFD memory can be had */
      fuzz_compute_release(&c);
      virgl_renderer_resource_unmap(WARM_SHMEM_RES);
   }
   virgl_renderer_resource_unref(WARM_SHMEM_RES);
   virgl_renderer_context_destroy(ctx_id);
}

void
fuzz_compute_setup(struct fuzz_compute *c)
{
   uint32_t ctx = c->ctx_id;
   uint64_t id = BLOB_ID_BASE;
   c->made = 0;
   if (create_event(ctx, c->shmem, id, &c->event_token) &&
       claim(ctx, FUZZ_EVENT_RES, id, 0, 72))
      c->made |= 1u << FUZZ_EVENT_RES;
   if (!open_kfd(ctx, c->shmem))
      return;
   /* each blob is claimed, so made at once: release unrefs what exists */
   bool ring = mapped_memory(ctx, c->shmem, FUZZ_RING_RES, ++id, RING_SIZE, &c->ring_va);
   c->made |= ring ? 1u << FUZZ_RING_RES : 0;
   bool amd_queue =
      mapped_memory(ctx, c->shmem, FUZZ_AMD_QUEUE_RES, ++id, 4096, &c->amd_queue_va);
   c->made |= amd_queue ? 1u << FUZZ_AMD_QUEUE_RES : 0;
   uint64_t queue_id = ++id, doorbell_id = ++id;
   if (ring && amd_queue &&
       create_queue(ctx, c->shmem, c->ring_va, c->amd_queue_va, queue_id, doorbell_id)) {
      if (claim(ctx, FUZZ_QUEUE_RES, queue_id, 0, RING_SIZE))
         c->made |= 1u << FUZZ_QUEUE_RES;
      if (claim(ctx, FUZZ_DOORBELL_RES, doorbell_id,
                VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE, HSAKMT_DOORBELL_BLOB_SIZE))
         c->made |= 1u << FUZZ_DOORBELL_RES;
   }
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.hdr.cmd = HSAKMT_CCMD_MEMORY;
   req.type = HSAKMT_MEMORY_ALLOC;
   req.blob_id = ++id;
   req.alloc.preferred_node = GPU_NODE;
   req.alloc.mem_flags = HSAKMT_MEMFLAG_SCRATCH | HSAKMT_MEMFLAG_HOST_ACCESS;
   req.alloc.size_in_bytes = SCRATCH_SIZE;
   const struct hsakmt_memory_rsp *rsp =
      call(ctx, c->shmem, &req, sizeof(req), sizeof(*rsp));
   if (rsp && !rsp->hdr.ret) {
      c->scratch_va = rsp->memory_handle;
      if (claim(ctx, FUZZ_SCRATCH_RES, req.blob_id, 0, SCRATCH_SIZE))
         c->made |= 1u << FUZZ_SCRATCH_RES;
   }
}

void
fuzz_compute_patch(const struct fuzz_compute *c, uint8_t *stream, size_t size)
{
   const uint64_t bases[4] = { 0, c->ring_va, c->amd_queue_va, c->scratch_va };
   const uint32_t needed[4] = { FUZZ_EVENT_RES, FUZZ_RING_RES, FUZZ_AMD_QUEUE_RES,
                                FUZZ_SCRATCH_RES };
   for (size_t off = 0; off + 8 <= size; off += 4) {
      uint64_t value;
      memcpy(&value, stream + off, sizeof(value));
      uint32_t kind = (uint32_t)(value >> 32) - PLACEHOLDER;
      if (kind >= 4)
         continue;
      if (!(c->made & (1u << needed[kind])))
         value = 0;
      else if (kind == 0)
         value = c->event_token;
      else
         value = bases[kind] + (value & 0xffffffffu);
      memcpy(stream + off, &value, sizeof(value));
   }
}

void
fuzz_compute_release(struct fuzz_compute *c)
{
   /* the queue first, as ROCr lets go of it; the rest in any order */
   for (uint32_t res = FUZZ_QUEUE_RES; res <= FUZZ_SCRATCH_RES; res++) {
      if (c->made & (1u << res))
         virgl_renderer_resource_unref(res);
   }
   for (uint32_t res = FUZZ_EVENT_RES; res < FUZZ_QUEUE_RES; res++) {
      if (c->made & (1u << res))
         virgl_renderer_resource_unref(res);
   }
   c->made = 0;
}
