/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "hsakmt_channel.h"

#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

/* how long a request may stay unanswered before the channel gives up */
#define HKC_TIMEOUT_S 20

void
hkc_init(struct hkc_channel *ch, const struct hkc_transport *transport)
{
   memset(ch, 0, sizeof(*ch));
   ch->transport = transport;
   ch->next_blob_id = 1;
}

int
hkc_attach_shmem(struct hkc_channel *ch, void *shmem, size_t size)
{
   const struct hsakmt_shmem *header = shmem;
   /* the host writes the offset once, before the guest maps the blob */
   uint32_t offset = header->rsp_mem_offset;
   if (size < sizeof(*header) || offset < sizeof(*header) || offset % 8 || offset >= size)
      return -EPROTO;
   ch->shmem = shmem;
   ch->shmem_size = size;
   ch->rsp_mem_offset = offset;
   ch->next_rsp_off = 0;
   return 0;
}

uint64_t
hkc_new_blob_id(struct hkc_channel *ch)
{
   return ch->next_blob_id++;
}

void *
hkc_frame(struct hkc_channel *ch, void *req, uint32_t req_len, uint32_t rsp_len)
{
   struct hsakmt_ccmd_req *hdr = req;
   uint32_t slot = (rsp_len + 7) & ~7u;
   uint32_t area = (uint32_t)ch->shmem_size - ch->rsp_mem_offset;
   if (!ch->shmem || slot > area)
      return NULL; /* the response cannot fit the shared memory */
   /* the guest's slot allocator: a slot never crosses the end of the area */
   if (ch->next_rsp_off + slot >= area)
      ch->next_rsp_off = 0;
   hdr->len = req_len;
   hdr->seqno = ++ch->seqno;
   hdr->rsp_off = ch->next_rsp_off;
   ch->next_rsp_off += slot;
   uint8_t *rsp = ch->shmem + ch->rsp_mem_offset + hdr->rsp_off;
   if (rsp_len) {
      memset(rsp, 0, slot);
      memcpy(rsp, &slot, sizeof(slot));
   }
   return rsp_len ? rsp : (void *)ch->shmem;
}

bool
hkc_wait(struct hkc_channel *ch, uint32_t seqno)
{
   /* Mesa vdrm's wait: spin on the seqno the host publishes after each request */
   struct timespec start, now;
   clock_gettime(CLOCK_MONOTONIC, &start);
   for (uint32_t spins = 0;; spins++) {
      uint32_t seen =
         atomic_load_explicit((_Atomic uint32_t *)ch->shmem, memory_order_acquire);
      if ((int32_t)(seen - seqno) >= 0)
         return true;
      if (spins < 100)
         continue;
      /* yield to the host (it may share our CPU); ask the transport only when slow */
      if (spins < 20000) {
         sched_yield();
         continue;
      }
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (now.tv_sec - start.tv_sec > HKC_TIMEOUT_S || !ch->transport->alive(ch))
         return false;
   }
}

void *
hkc_call(struct hkc_channel *ch, void *req, uint32_t req_len, uint32_t rsp_len)
{
   uint8_t *rsp = hkc_frame(ch, req, req_len, rsp_len);
   if (!rsp || ch->transport->submit(ch, req, req_len))
      return NULL;
   return hkc_wait(ch, ((struct hsakmt_ccmd_req *)req)->seqno) ? rsp : NULL;
}

static struct hsakmt_query_info_rsp *
query(struct hkc_channel *ch, uint32_t type, const void *args, size_t args_size)
{
   struct hsakmt_query_info_req req;
   memset(&req, 0, sizeof(req));
   req.hdr.cmd = HSAKMT_CCMD_QUERY_INFO;
   req.type = type;
   if (args_size)
      memcpy(req.raw, args, args_size);
   return hkc_call(ch, &req, sizeof(req), sizeof(struct hsakmt_query_info_rsp));
}

int
hkc_get_version(struct hkc_channel *ch, struct hsakmt_wire_version_info *version)
{
   struct hsakmt_query_info_rsp *rsp = query(ch, HSAKMT_QUERY_GET_VER, NULL, 0);
   if (!rsp)
      return HKC_NO_ANSWER;
   if (!rsp->hdr.ret)
      *version = rsp->kfd_version;
   return rsp->hdr.ret;
}

int
hkc_get_system_properties(struct hkc_channel *ch,
                          struct hsakmt_wire_system_properties *props)
{
   struct hsakmt_query_info_rsp *rsp = query(ch, HSAKMT_QUERY_GET_SYS_PROP, NULL, 0);
   if (!rsp)
      return HKC_NO_ANSWER;
   if (!rsp->hdr.ret)
      *props = rsp->sys_props;
   return rsp->hdr.ret;
}

int
hkc_get_node_gpu_id(struct hkc_channel *ch, uint32_t node, uint32_t *gpu_id)
{
   struct hsakmt_query_info_rsp *rsp =
      query(ch, HSAKMT_QUERY_GET_NODE_PROP, &node, sizeof(node));
   if (!rsp)
      return HKC_NO_ANSWER;
   if (!rsp->hdr.ret)
      *gpu_id = rsp->node_props.kfd_gpu_id;
   return rsp->hdr.ret;
}

int
hkc_open_kfd(struct hkc_channel *ch, uint64_t hint, uint64_t *start, uint64_t *size)
{
   struct hsakmt_query_info_rsp *rsp =
      query(ch, HSAKMT_QUERY_OPEN_KFD, &hint, sizeof(hint));
   if (!rsp)
      return HKC_NO_ANSWER;
   if (!rsp->hdr.ret) {
      *start = rsp->open_kfd.vm_start;
      *size = rsp->open_kfd.vm_size;
   }
   return rsp->hdr.ret;
}

static struct hsakmt_memory_rsp *
memory(struct hkc_channel *ch, struct hsakmt_memory_req *req, uint32_t type,
       uint32_t res_id, uint32_t len)
{
   req->hdr.cmd = HSAKMT_CCMD_MEMORY;
   req->type = type;
   req->res_id = res_id;
   return hkc_call(ch, req, len, sizeof(struct hsakmt_memory_rsp));
}

int
hkc_alloc(struct hkc_channel *ch, uint32_t node, uint32_t mem_flags, uint64_t size,
          uint64_t blob_id, uint64_t *va)
{
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.blob_id = blob_id;
   req.alloc.preferred_node = node;
   req.alloc.mem_flags = mem_flags;
   req.alloc.size_in_bytes = size;
   struct hsakmt_memory_rsp *rsp = memory(ch, &req, HSAKMT_MEMORY_ALLOC, 0, sizeof(req));
   if (!rsp)
      return HKC_NO_ANSWER;
   if (!rsp->hdr.ret)
      *va = rsp->memory_handle;
   return rsp->hdr.ret;
}

int
hkc_map_userptr(struct hkc_channel *ch, uint32_t res_id, uint64_t *handle)
{
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   struct hsakmt_memory_rsp *rsp =
      memory(ch, &req, HSAKMT_MEMORY_MAP_USERPTR, res_id, sizeof(req));
   if (!rsp)
      return HKC_NO_ANSWER;
   if (!rsp->hdr.ret)
      *handle = rsp->map_userptr.userptr_handle;
   return rsp->hdr.ret;
}

int
hkc_reg_mem(struct hkc_channel *ch, uint32_t res_id, uint64_t address, uint64_t size,
            uint32_t mem_flags)
{
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.reg_mem_with_flag.memory_address = address;
   req.reg_mem_with_flag.memory_size_in_bytes = size;
   req.reg_mem_with_flag.mem_flags = mem_flags;
   struct hsakmt_memory_rsp *rsp =
      memory(ch, &req, HSAKMT_MEMORY_REG_MEM_WITH_FLAG, res_id, sizeof(req));
   return rsp ? rsp->hdr.ret : HKC_NO_ANSWER;
}

int
hkc_map_to_gpu_nodes(struct hkc_channel *ch, uint32_t res_id, uint64_t address,
                     uint64_t size, const uint32_t *nodes, uint32_t count,
                     uint64_t *gpu_va)
{
   uint8_t buffer[HSAKMT_MEMORY_PAYLOAD_OFFSET + 4 * HSAKMT_MAX_MEMORY_NODES];
   if (count > HSAKMT_MAX_MEMORY_NODES)
      return -EINVAL;
   memset(buffer, 0, sizeof(buffer));
   struct hsakmt_memory_req *req = (struct hsakmt_memory_req *)buffer;
   req->map_to_gpu_nodes.memory_address = address;
   req->map_to_gpu_nodes.memory_size_in_bytes = size;
   req->map_to_gpu_nodes.number_of_nodes = count;
   memcpy(buffer + HSAKMT_MEMORY_PAYLOAD_OFFSET, nodes, (size_t)count * 4);
   /* the guest's length: ALIGN8(312 + 4 N) */
   uint32_t len = (HSAKMT_MEMORY_PAYLOAD_OFFSET + 4 * count + 7) & ~7u;
   struct hsakmt_memory_rsp *rsp =
      memory(ch, req, HSAKMT_MEMORY_MAP_TO_GPU_NODES, res_id, len);
   if (!rsp)
      return HKC_NO_ANSWER;
   if (!rsp->hdr.ret)
      *gpu_va = rsp->memory_handle;
   return rsp->hdr.ret;
}

int
hkc_unmap_to_gpu(struct hkc_channel *ch, uint64_t address)
{
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.memory_address = address;
   struct hsakmt_memory_rsp *rsp =
      memory(ch, &req, HSAKMT_MEMORY_UNMAP_TO_GPU, 0, sizeof(req));
   return rsp ? rsp->hdr.ret : HKC_NO_ANSWER;
}
