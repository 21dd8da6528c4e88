/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "vtest_client_compute.h"

#include "guest_steps.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RING_SIZE         (64u << 10)
#define AMD_QUEUE_SIZE    4096u
#define EVENT_BLOB_SIZE   72u
#define AQL_PACKET        64u
#define AQL_INVALID       1u
#define AQL_BARRIER_AND   3u
#define WRITE_DISPATCH_ID 56u /* amd_queue_t (ROCr's amd_hsa_queue.h) */
#define READ_DISPATCH_ID  128u
#define SIGNAL_OFFSET     2048u /* an amd_signal_t of ours in the amd_queue_t page */
#define PACKETS           2u
/*
 * Host-accessible VRAM: on the KFD emulator device memory is a file the server can
 * hand over, where system memory is anonymous memory of the server process.
 */
#define VRAM_HOST      (HSAKMT_MEMFLAG_NON_PAGED | HSAKMT_MEMFLAG_HOST_ACCESS)
#define EXECUTE_ACCESS (1u << 12)

void *
vtc_debug_map_blob(struct vtc *c, uint32_t res_id, uint64_t address, uint64_t *size,
                   int *status)
{
   uint32_t reply[5] = { 0 };
   *status = vtc_send(c, VCMD_VIRTKFD_DEBUG_MAP_BLOB, &res_id, 1);
   if (!*status)
      *status = vtc_reply(c, VCMD_VIRTKFD_DEBUG_MAP_BLOB, reply, 5, NULL);
   if (!*status)
      *status = (int)reply[0];
   if (*status)
      return NULL;
   int fd = vtc_recv_fd(c);
   if (fd < 0) {
      *status = fd;
      return NULL;
   }
   uint64_t offset = reply[1] | (uint64_t)reply[2] << 32;
   *size = reply[3] | (uint64_t)reply[4] << 32;
   /* where the guest maps it (MAP_FIXED at the VA) if that is free here */
   void *map = mmap((void *)(uintptr_t)address, *size, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_FIXED_NOREPLACE, fd, (off_t)offset);
   if (map == MAP_FAILED)
      map = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)offset);
   *status = map == MAP_FAILED ? -errno : 0;
   close(fd);
   return map == MAP_FAILED ? NULL : map;
}

int
vtc_debug_queue_run(struct vtc *c, uint64_t ring_va, uint32_t reply[VTEST_QUEUE_RUN_SIZE])
{
   uint32_t req[2] = { (uint32_t)ring_va, (uint32_t)(ring_va >> 32) };
   int ret = vtc_send(c, VCMD_VIRTKFD_DEBUG_QUEUE_RUN, req, 2);
   if (!ret)
      ret = vtc_reply(c, VCMD_VIRTKFD_DEBUG_QUEUE_RUN, reply, VTEST_QUEUE_RUN_SIZE, NULL);
   return ret ? ret : (int)reply[VTEST_QUEUE_RUN_STATUS];
}

/* KFD memory the guest maps at its VA: ALLOC, its blob, the mapping, the GPU. */
struct mapped {
   uint64_t va;
   uint64_t size;
   uint32_t res;
   uint8_t *map;
   bool at_va;
};

static int
memory_request(struct vtc *c, struct hsakmt_memory_req *req, uint32_t len,
               struct hsakmt_memory_rsp *out)
{
   req->hdr.cmd = HSAKMT_CCMD_MEMORY;
   struct hsakmt_memory_rsp *rsp = vtc_hsakmt_call(c, req, len, sizeof(*rsp));
   if (!rsp)
      return -EPIPE;
   if (out)
      memcpy(out, rsp, sizeof(*out));
   return rsp->hdr.ret;
}

static int
mapped_alloc(struct vtc *c, uint32_t node, uint32_t flags, uint64_t size,
             struct mapped *m)
{
   memset(m, 0, sizeof(*m));
   uint8_t buffer[HSAKMT_MEMORY_PAYLOAD_OFFSET + 8];
   struct hsakmt_memory_req *req = (struct hsakmt_memory_req *)buffer;
   struct hsakmt_memory_rsp rsp;
   memset(buffer, 0, sizeof(buffer));
   req->type = HSAKMT_MEMORY_ALLOC;
   req->blob_id = vtc_new_blob_id(c);
   req->alloc.preferred_node = node;
   req->alloc.mem_flags = flags;
   req->alloc.size_in_bytes = size;
   int ret = memory_request(c, req, sizeof(*req), &rsp);
   if (ret)
      return ret;
   m->va = rsp.memory_handle;
   ret = vtc_blob_create(c, VCMD_BLOB_TYPE_HOST3D, VCMD_BLOB_FLAG_MAPPABLE, size,
                         req->blob_id, &m->res, NULL);
   if (ret)
      return ret;
   m->map = vtc_debug_map_blob(c, m->res, m->va, &m->size, &ret);
   if (!m->map)
      return ret;
   m->at_va = (uint64_t)(uintptr_t)m->map == m->va;
   memset(buffer, 0, sizeof(buffer));
   req->type = HSAKMT_MEMORY_MAP_TO_GPU_NODES;
   req->res_id = m->res;
   req->map_to_gpu_nodes.memory_address = m->va;
   req->map_to_gpu_nodes.memory_size_in_bytes = size;
   req->map_to_gpu_nodes.number_of_nodes = 1;
   memcpy(buffer + HSAKMT_MEMORY_PAYLOAD_OFFSET, &node, sizeof(node));
   return memory_request(c, req, sizeof(buffer), NULL);
}

static void
mapped_release(struct vtc *c, struct mapped *m)
{
   if (!m->res)
      return;
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_UNMAP_TO_GPU;
   req.memory_address = m->va;
   memory_request(c, &req, sizeof(req), NULL);
   if (m->map)
      munmap(m->map, m->size);
   vtc_unref(c, m->res);
   m->res = 0;
}

/* Everything the demo holds, released in the guest's order by compute_release. */
struct compute {
   struct mapped ring, amd_queue;
   uint32_t event_res, queue_res, doorbell_res;
   uint8_t *doorbell_page;
   uint64_t doorbell_size;
};

static void
compute_release(struct vtc *c, struct compute *s)
{
   /* the queue first, then what it ran on; the doorbell page last */
   if (s->queue_res)
      vtc_unref(c, s->queue_res);
   if (s->event_res)
      vtc_unref(c, s->event_res);
   mapped_release(c, &s->ring);
   mapped_release(c, &s->amd_queue);
   if (s->doorbell_page)
      munmap(s->doorbell_page, s->doorbell_size);
   if (s->doorbell_res)
      vtc_unref(c, s->doorbell_res);
}

static int
event_request(struct vtc *c, struct hsakmt_event_req *req, struct hsakmt_event_rsp *out)
{
   req->hdr.cmd = HSAKMT_CCMD_EVENT;
   struct hsakmt_event_rsp *rsp = vtc_hsakmt_call(c, req, sizeof(*req), sizeof(*rsp));
   if (!rsp)
      return -EPIPE;
   if (out)
      memcpy(out, rsp, sizeof(*out));
   return rsp->hdr.ret;
}

/* The ring, the amd_queue_t and an event. */
static bool
prepare(struct vtc *c, uint32_t node, struct compute *s, struct hsakmt_event_rsp *event,
        bool *skipped)
{
   struct hsakmt_query_info_req q;
   memset(&q, 0, sizeof(q));
   q.hdr.cmd = HSAKMT_CCMD_QUERY_INFO;
   q.type = HSAKMT_QUERY_OPEN_KFD;
   q.open_kfd.cur_vm_start = 0x7f0000001000ull;
   struct hsakmt_query_info_rsp *qr = vtc_hsakmt_call(c, &q, sizeof(q), sizeof(*qr));
   step(qr && !qr->hdr.ret, "ccmd QUERY_INFO(OPEN_KFD) -> window 0x%llx+0x%llx",
        qr ? (unsigned long long)qr->open_kfd.vm_start : 0ull,
        qr ? (unsigned long long)qr->open_kfd.vm_size : 0ull);
   if (!qr || qr->hdr.ret)
      return false;

   int ret = mapped_alloc(c, node, VRAM_HOST | EXECUTE_ACCESS, RING_SIZE, &s->ring);
   if (ret == VKFD_STATUS_NO_MEMORY && !s->ring.va) {
      /* a server whose KFD has no fixed-address window (an AddressSanitizer build) */
      printf("  (the server cannot place KFD memory at fixed addresses: compute "
             "skipped)\n");
      *skipped = true;
      return false;
   }
   step(!ret,
        "ring: ALLOC 64 KiB of VRAM, blob res %u, mapped %s 0x%llx, MAP_TO_GPU_NODES "
        "-> %d",
        s->ring.res, s->ring.at_va ? "at its VA" : "at", (unsigned long long)s->ring.va,
        ret);
   if (ret)
      return false;
   ret = mapped_alloc(c, node, VRAM_HOST, AMD_QUEUE_SIZE, &s->amd_queue);
   step(!ret, "amd_queue_t: ALLOC 4 KiB, blob res %u at 0x%llx -> %d", s->amd_queue.res,
        (unsigned long long)s->amd_queue.va, ret);
   if (ret)
      return false;
   /* ROCr starts every slot INVALID and both dispatch ids at 0 */
   for (uint32_t off = 0; off < RING_SIZE; off += AQL_PACKET)
      *(volatile uint16_t *)(s->ring.map + off) = AQL_INVALID;
   memset(s->amd_queue.map, 0, AMD_QUEUE_SIZE);

   struct hsakmt_event_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_EVENT_CREATE;
   req.blob_id = vtc_new_blob_id(c);
   req.create.desc.node_id = node;
   ret = event_request(c, &req, event);
   if (!ret)
      ret = vtc_blob_create(c, VCMD_BLOB_TYPE_HOST3D, 0, EVENT_BLOB_SIZE, req.blob_id,
                            &s->event_res, NULL);
   step(!ret,
        "ccmd EVENT(CREATE, signal) -> handle 0x%llx (a token), event %u, mailbox "
        "0x%llx; blob res %u",
        (unsigned long long)event->event_handle, event->event.event_id,
        (unsigned long long)event->event.hw_data2, s->event_res);
   return !ret;
}

/* QUEUE CREATE with the doorbell page, and the client's mapping of the page. */
static bool
create_queue(struct vtc *c, uint32_t node, struct compute *s, uint64_t event,
             struct hsakmt_queue_rsp *out)
{
   struct hsakmt_queue_req req;
   memset(&req, 0, sizeof(req));
   req.hdr.cmd = HSAKMT_CCMD_QUEUE;
   req.type = HSAKMT_QUEUE_CREATE;
   req.create.node_id = node;
   req.create.type = HSAKMT_QUEUE_TYPE_COMPUTE_AQL;
   req.create.queue_percentage = 100;
   req.create.sdma_engine_id = HSAKMT_SDMA_ENGINE_NONE;
   req.create.queue_address = s->ring.va;
   req.create.queue_size_in_bytes = RING_SIZE;
   req.create.event = event;
   req.create.queue_write_ptr_aql = s->amd_queue.va + WRITE_DISPATCH_ID;
   req.create.queue_read_ptr_aql = s->amd_queue.va + READ_DISPATCH_ID;
   req.res_id = s->amd_queue.res;
   req.queue_mem_res_id = s->ring.res;
   req.blob_id = vtc_new_blob_id(c);
   req.doorbell_blob_id = vtc_new_blob_id(c);
   struct hsakmt_queue_rsp *rsp = vtc_hsakmt_call(c, &req, sizeof(req), sizeof(*rsp));
   int ret = rsp ? rsp->hdr.ret : -EPIPE;
   if (rsp)
      memcpy(out, rsp, sizeof(*out));
   if (!ret)
      ret = vtc_blob_create(c, VCMD_BLOB_TYPE_HOST3D, VCMD_BLOB_FLAG_MAPPABLE,
                            HSAKMT_DOORBELL_BLOB_SIZE, req.doorbell_blob_id,
                            &s->doorbell_res, NULL);
   if (!ret)
      ret = vtc_blob_create(c, VCMD_BLOB_TYPE_HOST3D, 0, RING_SIZE, req.blob_id,
                            &s->queue_res, NULL);
   step(!ret,
        "ccmd QUEUE(CREATE, AQL, node %u) -> queue 0x%llx (a token), doorbell 0x%llx "
        "(page + 0x%llx); blobs: queue res %u, doorbell page res %u",
        node, ret ? 0ull : (unsigned long long)out->vqueue_res.queue_handle,
        ret ? 0ull : (unsigned long long)out->vqueue_res.host_doorbell,
        ret ? 0ull : (unsigned long long)out->vqueue_res.host_doorbell_offset,
        s->queue_res, s->doorbell_res);
   if (ret)
      return false;
   uint64_t page = out->vqueue_res.host_doorbell - out->vqueue_res.host_doorbell_offset;
   s->doorbell_page =
      vtc_debug_map_blob(c, s->doorbell_res, page, &s->doorbell_size, &ret);
   step(s->doorbell_page != NULL,
        "doorbell blob mapped, 0x%llx bytes, %s 0x%llx (status %d)",
        (unsigned long long)s->doorbell_size,
        (uint64_t)(uintptr_t)s->doorbell_page == page ? "MAP_FIXED at" : "not at",
        (unsigned long long)page, ret);
   return s->doorbell_page != NULL;
}

bool
vtc_compute_demo(struct vtc *c, uint32_t node)
{
   struct compute s;
   memset(&s, 0, sizeof(s));
   struct hsakmt_event_rsp event;
   struct hsakmt_queue_rsp queue;
   bool skipped = false;
   bool ok = prepare(c, node, &s, &event, &skipped) &&
             create_queue(c, node, &s, event.event_handle, &queue);
   if (ok) {
      /* an amd_signal_t whose mailbox is the event's slot, as ROCr makes one */
      uint8_t *signal = s.amd_queue.map + SIGNAL_OFFSET;
      int64_t pending = PACKETS;
      uint64_t mailbox = event.event.hw_data2, event_id = event.event.event_id;
      memcpy(signal + 8, &pending, 8);
      memcpy(signal + 16, &mailbox, 8);
      memcpy(signal + 24, &event_id, 8);
      /* BARRIER_AND packets at indices 0 and 1: each body, then its header */
      uint64_t completion = s.amd_queue.va + SIGNAL_OFFSET;
      for (uint32_t i = 0; i < PACKETS; i++) {
         uint8_t *slot = s.ring.map + i * AQL_PACKET;
         memset(slot + 2, 0, AQL_PACKET - 2);
         memcpy(slot + 56, &completion, 8);
         __atomic_store_n((uint16_t *)slot, (uint16_t)AQL_BARRIER_AND, __ATOMIC_RELEASE);
      }
      __atomic_store_n((uint64_t *)(s.amd_queue.map + WRITE_DISPATCH_ID),
                       (uint64_t)PACKETS, __ATOMIC_RELEASE);
      /* ring: the index of the last packet, through the client's mapping of the page */
      uint8_t *doorbell = s.doorbell_page + queue.vqueue_res.host_doorbell_offset;
      __atomic_store_n((uint64_t *)doorbell, (uint64_t)(PACKETS - 1), __ATOMIC_RELEASE);
      step(true,
           "%u BARRIER_AND packets written at ring slots 0-%u, completion signal at "
           "0x%llx; doorbell rung with index %u through the mapping",
           PACKETS, PACKETS - 1, (unsigned long long)completion, PACKETS - 1);

      uint32_t seen[VTEST_QUEUE_RUN_SIZE];
      int ret = vtc_debug_queue_run(c, s.ring.va, seen);
      uint64_t packet_signal;
      memcpy(&packet_signal, (uint8_t *)&seen[VTEST_QUEUE_RUN_PACKET] + 56, 8);
      ok = !ret && seen[VTEST_QUEUE_RUN_DOORBELL] == PACKETS - 1 &&
           seen[VTEST_QUEUE_RUN_PACKETS] == PACKETS &&
           (seen[VTEST_QUEUE_RUN_PACKET] & 0xff) == AQL_BARRIER_AND &&
           packet_signal == completion && seen[VTEST_QUEUE_RUN_EVENTS] == PACKETS;
      step(ok,
           "the emulated GPU saw doorbell %u, took %u packet(s), the last of type %u "
           "(BARRIER_AND) with completion signal 0x%llx; %u signal(s) completed, %u "
           "event(s) raised",
           seen[VTEST_QUEUE_RUN_DOORBELL], seen[VTEST_QUEUE_RUN_PACKETS],
           seen[VTEST_QUEUE_RUN_PACKET] & 0xff, (unsigned long long)packet_signal,
           seen[VTEST_QUEUE_RUN_SIGNALS], seen[VTEST_QUEUE_RUN_EVENTS]);

      int64_t value;
      uint64_t read_id;
      memcpy(&value, signal + 8, 8);
      memcpy(&read_id, s.amd_queue.map + READ_DISPATCH_ID, 8);
      bool effects = value == 0 && read_id == PACKETS && s.ring.map[0] == AQL_INVALID;
      step(effects,
           "through the client's mappings: signal value %lld, read dispatch id %llu, "
           "slot 0 header %u (INVALID)",
           (long long)value, (unsigned long long)read_id, s.ring.map[0]);
      ok &= effects;

      struct hsakmt_event_req req;
      memset(&req, 0, sizeof(req));
      req.type = HSAKMT_EVENT_QUERY_STATE;
      req.event_handle = event.event_handle;
      req.res_id = s.event_res;
      ret = event_request(c, &req, NULL);
      step(ret == VKFD_STATUS_SUCCESS, "ccmd EVENT(QUERY_STATE) -> %d (%s)", ret,
           ret == VKFD_STATUS_SUCCESS ? "signalled by the GPU" : "not signalled");
      ok &= ret == VKFD_STATUS_SUCCESS;
   }
   compute_release(c, &s);
   if (skipped)
      return true;
   uint32_t after[VTEST_QUEUE_RUN_SIZE];
   int gone = ok ? vtc_debug_queue_run(c, s.ring.va, after) : 0;
   if (ok)
      step(gone == ENOENT,
           "RESOURCE_UNREF of the queue, event, ring, amd_queue_t and doorbell page -> "
           "the emulated GPU has no queue at the ring any more (%d)",
           gone);
   return ok && gone == ENOENT;
}
