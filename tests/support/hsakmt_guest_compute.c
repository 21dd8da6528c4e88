/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "hsakmt_guest_compute.h"

#include <string.h>

#include "virglrenderer.h"

#define AQL_HEADER_INVALID     1
#define AQL_HEADER_BARRIER_AND 3
#define COARSE_HOST            ((1u << 6) | (1u << 13))   /* HostAccess | CoarseGrain */
#define RING_FLAGS             (COARSE_HOST | (1u << 12)) /* | ExecuteAccess */

struct hsakmt_event_rsp *
hsakmt_guest_event(struct hsakmt_guest *guest, struct hsakmt_event_req *req)
{
   req->hdr.cmd = HSAKMT_CCMD_EVENT;
   return hsakmt_guest_call(guest, req, sizeof(*req), sizeof(struct hsakmt_event_rsp));
}

int
hsakmt_guest_create_event(struct hsakmt_guest *guest, uint32_t node, bool manual_reset,
                          bool signaled, uint64_t blob_id, struct hsakmt_event_rsp *out)
{
   struct hsakmt_event_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_EVENT_CREATE;
   req.blob_id = blob_id;
   req.create.desc.event_type = 0; /* HSA_EVENTTYPE_SIGNAL */
   req.create.desc.node_id = node;
   req.create.desc.sync_var_user_data = 0x5a5a0000ull; /* a guest pointer, echoed */
   req.create.manual_reset = manual_reset;
   req.create.is_signaled = signaled;
   struct hsakmt_event_rsp *rsp = hsakmt_guest_event(guest, &req);
   if (!rsp)
      return -1;
   if (out)
      memcpy(out, rsp, sizeof(*out));
   return rsp->hdr.ret;
}

int
hsakmt_guest_event_op(struct hsakmt_guest *guest, uint32_t type, uint64_t handle,
                      uint32_t res_id)
{
   struct hsakmt_event_req req;
   memset(&req, 0, sizeof(req));
   req.type = type;
   req.event_handle = handle;
   req.res_id = res_id;
   struct hsakmt_event_rsp *rsp = hsakmt_guest_event(guest, &req);
   return rsp ? rsp->hdr.ret : -1;
}

struct hsakmt_queue_rsp *
hsakmt_guest_queue(struct hsakmt_guest *guest, struct hsakmt_queue_req *req, uint32_t len,
                   uint32_t rsp_len)
{
   req->hdr.cmd = HSAKMT_CCMD_QUEUE;
   return hsakmt_guest_call(guest, req, len ? len : sizeof(*req),
                            rsp_len ? rsp_len : sizeof(struct hsakmt_queue_rsp));
}

/* ALLOC, a MAPPABLE claim, the VMM's mapping and MAP_TO_GPU_NODES of one buffer. */
static int
mapped_buffer(struct hsakmt_guest *guest, uint32_t node, uint32_t flags, uint64_t size,
              uint64_t *va, uint32_t *res, uint8_t **map)
{
   uint64_t blob_id = hsakmt_guest_new_blob_id(guest), gpu_va;
   int ret = hsakmt_guest_alloc(guest, 0, flags, size, 0, blob_id, va);
   if (ret)
      return ret;
   *res = hsakmt_guest_new_res_id(guest);
   ret = hsakmt_guest_claim(guest, *res, blob_id, VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE,
                            size);
   if (ret)
      return ret;
   void *ptr = NULL;
   ret = virgl_renderer_resource_map(*res, &ptr, NULL);
   if (ret)
      return ret;
   *map = ptr;
   return hsakmt_guest_map_to_gpu_nodes(guest, *res, *va, size, &node, 1, 0, &gpu_va);
}

int
hsakmt_guest_aql_memory(struct hsakmt_guest *guest, uint32_t node, uint64_t ring_size,
                        struct hsakmt_guest_aql *aql)
{
   memset(aql, 0, sizeof(*aql));
   aql->node = node;
   aql->ring_size = ring_size;
   int ret = mapped_buffer(guest, node, RING_FLAGS, ring_size, &aql->ring_va,
                           &aql->ring_res, &aql->ring);
   if (!ret)
      ret = mapped_buffer(guest, node, COARSE_HOST, 4096, &aql->amd_queue_va,
                          &aql->amd_queue_res, &aql->amd_queue);
   if (ret)
      return ret;
   /* ROCr starts every slot INVALID, and both dispatch ids at 0 */
   for (uint64_t off = 0; off < ring_size; off += HSAKMT_GUEST_AQL_PACKET) {
      uint16_t header = AQL_HEADER_INVALID;
      memcpy(aql->ring + off, &header, sizeof(header));
   }
   memset(aql->amd_queue, 0, 4096);
   return 0;
}

int
hsakmt_guest_aql_create(struct hsakmt_guest *guest, struct hsakmt_guest_aql *aql,
                        uint64_t event, bool doorbell_blob)
{
   struct hsakmt_queue_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_QUEUE_CREATE;
   req.create.node_id = aql->node;
   req.create.type = HSAKMT_QUEUE_TYPE_COMPUTE_AQL;
   req.create.queue_percentage = 100;
   req.create.priority = 0;
   req.create.sdma_engine_id = HSAKMT_SDMA_ENGINE_NONE;
   req.create.queue_address = aql->ring_va;
   req.create.queue_size_in_bytes = aql->ring_size;
   req.create.event = event;
   req.create.queue_write_ptr_aql = aql->amd_queue_va + HSAKMT_GUEST_WRITE_DISPATCH_ID;
   req.create.queue_read_ptr_aql = aql->amd_queue_va + HSAKMT_GUEST_READ_DISPATCH_ID;
   req.res_id = aql->amd_queue_res;
   req.queue_mem_res_id = aql->ring_res;
   req.blob_id = hsakmt_guest_new_blob_id(guest);
   uint64_t doorbell_id = doorbell_blob ? hsakmt_guest_new_blob_id(guest) : 0;
   req.doorbell_blob_id = doorbell_id;
   struct hsakmt_queue_rsp *rsp = hsakmt_guest_queue(guest, &req, 0, 0);
   if (!rsp)
      return -1;
   memcpy(&aql->rsp, rsp, sizeof(aql->rsp));
   if (rsp->hdr.ret)
      return rsp->hdr.ret;
   aql->doorbell = aql->rsp.vqueue_res.host_doorbell;
   if (doorbell_id) {
      aql->doorbell_res = hsakmt_guest_new_res_id(guest);
      int ret = hsakmt_guest_claim(guest, aql->doorbell_res, doorbell_id,
                                   VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE,
                                   HSAKMT_DOORBELL_BLOB_SIZE);
      if (ret)
         return ret;
   }
   aql->queue_res = hsakmt_guest_new_res_id(guest);
   return hsakmt_guest_claim(guest, aql->queue_res, req.blob_id, 0, aql->ring_size);
}

void
hsakmt_guest_aql_barrier(struct hsakmt_guest_aql *aql, uint64_t index,
                         uint64_t completion_signal)
{
   uint8_t packet[HSAKMT_GUEST_AQL_PACKET];
   memset(packet, 0, sizeof(packet));
   memcpy(packet + 56, &completion_signal, sizeof(completion_signal));
   uint64_t slot = index % (aql->ring_size / HSAKMT_GUEST_AQL_PACKET);
   uint8_t *dst = aql->ring + slot * HSAKMT_GUEST_AQL_PACKET;
   /* the body first, the header last, as user mode publishes a packet */
   memcpy(dst + 2, packet + 2, sizeof(packet) - 2);
   __atomic_store_n((uint16_t *)dst, (uint16_t)AQL_HEADER_BARRIER_AND, __ATOMIC_RELEASE);
}

void
hsakmt_guest_aql_memory_release(struct hsakmt_guest *guest, struct hsakmt_guest_aql *aql)
{
   if (aql->ring_res) {
      hsakmt_guest_unmap_from_gpu(guest, aql->ring_va);
      virgl_renderer_resource_unmap(aql->ring_res);
      virgl_renderer_resource_unref(aql->ring_res);
   }
   if (aql->amd_queue_res) {
      hsakmt_guest_unmap_from_gpu(guest, aql->amd_queue_va);
      virgl_renderer_resource_unmap(aql->amd_queue_res);
      virgl_renderer_resource_unref(aql->amd_queue_res);
   }
   aql->ring_res = aql->amd_queue_res = 0;
}
