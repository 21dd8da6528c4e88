/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * QUEUE (wire-protocol.md §2.5, §4.5) on the real libhsakmt and the KFD emulator: the
 * guest's sequence for an AQL compute queue end to end (the ring and the amd_queue_t
 * at fixed VAs, CREATE, the doorbell blob mapped by the VMM, a packet written and the
 * doorbell rung through that mapping, the emulated GPU's command processor taking the
 * packet), destroyed in both orders; what the response may carry; every hostile
 * variant of the commands; SET_TRAP, whose ranges must be the context's memory.
 *
 * KFD memory needs the fixed-address window, which ASan builds do not have.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hsakmt/hsakmt_va.h"
#include "hsakmt_guest_compute.h"
#include "hsakmt_test_env.h"
#include "kfdsim.h"

#define RING_SIZE        (64u << 10)
#define CTX_B            2
#define KFD_CREATE_QUEUE 0x02
#define KFD_SET_TRAP     0x13
#define KFD_SET_CU_MASK  0x1a

static struct hsakmt_test_env env;
static struct hsakmt_guest b;
static uint32_t gpu = 1;
static uint32_t gpu_id;

static int
setup(void **state)
{
   hsakmt_test_env_start(&env);
   uint64_t start, size;
   assert_int_equal(hsakmt_guest_open_kfd(&env.guest, &start, &size), 0);
   assert_int_equal(kfdsim_gpu_id(0, &gpu_id), 0);
   hsakmt_test_env_warm_up_compute(&env, gpu);
   return 0;
}

static int
teardown(void **state)
{
   assert_int_equal(kfdsim_live_queues(), 0);
   hsakmt_test_env_stop(&env);
   return 0;
}

/* The emulator's id of the queue running on this ring. */
static uint32_t
kfd_queue_of(const struct hsakmt_guest_aql *aql)
{
   uint32_t id = 0;
   assert_int_equal(kfdsim_queue_find(aql->ring_va, &id), 0);
   return id;
}

/* The response carries tokens and the doorbell, nothing else of the host's. */
static void
check_create_response(const struct hsakmt_guest_aql *aql)
{
   const struct hsakmt_wire_vqueue_resource *res = &aql->rsp.vqueue_res;
   assert_true(res->r.queue_id != 0);
   assert_true(res->r.queue_id == res->queue_handle);
   hsakmt_test_assert_no_host_address(res->queue_handle, 1, "queue handle");
   assert_int_equal(res->r.queue_wptr_value,
                    aql->amd_queue_va + HSAKMT_GUEST_WRITE_DISPATCH_ID);
   assert_int_equal(res->r.queue_rptr_value,
                    aql->amd_queue_va + HSAKMT_GUEST_READ_DISPATCH_ID);
   assert_int_equal(res->r.error_reason, 0);
   assert_int_equal(res->host_rw_handle, 0);
   assert_int_equal(res->host_write_offset, 0);
   assert_int_equal(res->host_read_offset, 0);
   assert_true(res->host_doorbell_offset < HSAKMT_DOORBELL_BLOB_SIZE);
   assert_int_equal(res->host_doorbell_offset % 8, 0);
}

/* The guest's sequence: memory, CREATE, doorbell blob, a packet, the doorbell. */
static void
run_one_queue(struct hsakmt_guest_aql *aql, uint8_t **doorbell_page)
{
   unsigned queues = kfdsim_live_queues();
   assert_int_equal(hsakmt_guest_aql_memory(&env.guest, gpu, RING_SIZE, aql), 0);
   kfdsim_log_clear();
   assert_int_equal(hsakmt_guest_aql_create(&env.guest, aql, 0, true), 0);
   check_create_response(aql);
   assert_int_equal(kfdsim_live_queues(), queues + 1);

   /* what the kernel was asked: the guest's ring and dispatch ids, an AQL queue */
   struct kfdsim_ioctl_record rec;
   assert_int_equal(kfdsim_log_find_last(KFD_CREATE_QUEUE, &rec), 0);
   assert_int_equal(rec.ret, 0);
   uint64_t ring_base, ring_size_and_gpu, wptr, rptr;
   memcpy(&ring_base, rec.out + 0, 8);          /* ring_base_address */
   memcpy(&wptr, rec.out + 8, 8);               /* write_pointer_address */
   memcpy(&rptr, rec.out + 16, 8);              /* read_pointer_address */
   memcpy(&ring_size_and_gpu, rec.out + 32, 8); /* ring_size, gpu_id */
   assert_int_equal(ring_base, aql->ring_va);
   assert_int_equal(wptr, aql->amd_queue_va + HSAKMT_GUEST_WRITE_DISPATCH_ID);
   assert_int_equal(rptr, aql->amd_queue_va + HSAKMT_GUEST_READ_DISPATCH_ID);
   assert_int_equal((uint32_t)ring_size_and_gpu, RING_SIZE);
   assert_int_equal((uint32_t)(ring_size_and_gpu >> 32), gpu_id);

   /* the VMM maps the doorbell blob: guest VA == host VA == the page of host_doorbell */
   void *map = NULL;
   uint64_t map_size = 0;
   uint32_t map_info = 0;
   assert_int_equal(virgl_renderer_resource_map(aql->doorbell_res, &map, &map_size), 0);
   assert_int_equal(map_size, HSAKMT_DOORBELL_BLOB_SIZE);
   assert_int_equal(virgl_renderer_resource_get_map_info(aql->doorbell_res, &map_info),
                    0);
   assert_int_equal(map_info, VIRGL_RENDERER_MAP_CACHE_UNCACHED);
   assert_int_equal((uint64_t)(uintptr_t)map,
                    aql->rsp.vqueue_res.host_doorbell -
                       aql->rsp.vqueue_res.host_doorbell_offset);
   *doorbell_page = map;
}

/* Three barriers with one completion signal, published and rung through `page`. */
static void
ring_three_barriers(struct hsakmt_guest_aql *aql, uint8_t *page)
{
   uint64_t signal = aql->amd_queue_va + HSAKMT_GUEST_SIGNAL_OFFSET;
   int64_t value = 3;
   memcpy(aql->amd_queue + HSAKMT_GUEST_SIGNAL_OFFSET + 8, &value, sizeof(value));
   for (uint64_t i = 0; i < 3; i++)
      hsakmt_guest_aql_barrier(aql, i, signal);
   uint64_t write_id = 3;
   memcpy(aql->amd_queue + HSAKMT_GUEST_WRITE_DISPATCH_ID, &write_id, sizeof(write_id));
   /* the doorbell carries the last packet's index */
   uint64_t offset = aql->rsp.vqueue_res.host_doorbell_offset;
   __atomic_store_n((uint64_t *)(page + offset), (uint64_t)2, __ATOMIC_RELEASE);

   uint64_t seen = 0;
   assert_int_equal(kfdsim_doorbell_read(gpu_id, (uint32_t)offset, &seen), 0);
   assert_int_equal(seen, 2);
   struct kfdsim_cp_report report;
   assert_int_equal(kfdsim_queue_run(kfd_queue_of(aql), &report), 0);
   assert_int_equal(report.doorbell, 2);
   assert_int_equal(report.packets, 3);
   assert_int_equal(report.signals_completed, 3);
   assert_int_equal(report.last_packet[0], 3); /* BARRIER_AND, as the guest wrote it */
   assert_memory_equal(report.last_packet + 56, &signal, sizeof(signal));
   /* the CP's effects, seen through the guest's own mappings */
   memcpy(&value, aql->amd_queue + HSAKMT_GUEST_SIGNAL_OFFSET + 8, sizeof(value));
   assert_int_equal(value, 0);
   uint64_t read_id = 0;
   memcpy(&read_id, aql->amd_queue + HSAKMT_GUEST_READ_DISPATCH_ID, sizeof(read_id));
   assert_int_equal(read_id, 3);
   assert_int_equal(aql->ring[0], 1); /* INVALID again */
}

static void
test_aql_queue_queue_destroyed_first(void **state)
{
   struct hsakmt_guest_aql aql;
   uint8_t *page;
   unsigned bos = kfdsim_live_bos();
   uint64_t used = hsakmt_test_window_used();
   run_one_queue(&aql, &page);
   ring_three_barriers(&aql, page);

   /* ROCr's order: the queue's blob goes, then its memory */
   virgl_renderer_resource_unref(aql.queue_res);
   assert_int_equal(kfdsim_live_queues(), 0);
   struct kfdsim_bo_info bo;
   assert_int_equal(kfdsim_bo_find(aql.ring_va, &bo), 0);
   hsakmt_guest_aql_memory_release(&env.guest, &aql);
   assert_int_equal(kfdsim_bo_find(aql.ring_va, &bo), -ENOENT);
   assert_int_equal(kfdsim_bo_find(aql.amd_queue_va, &bo), -ENOENT);
   /* the doorbell page stays the guest's until it lets go of the blob */
   assert_int_equal(virgl_renderer_resource_unmap(aql.doorbell_res), 0);
   virgl_renderer_resource_unref(aql.doorbell_res);
   assert_int_equal(hsakmt_test_window_used(), used);
   assert_int_equal(kfdsim_live_bos(), bos);
}

static void
test_aql_queue_memory_destroyed_first(void **state)
{
   struct hsakmt_guest_aql aql;
   uint8_t *page;
   unsigned bos = kfdsim_live_bos();
   uint64_t used = hsakmt_test_window_used();
   run_one_queue(&aql, &page);

   /* a packet is published; then the guest lets go of the ring and the amd_queue_t
    * while the queue runs */
   hsakmt_guest_aql_barrier(&aql, 0, 0);
   uint32_t ring_res = aql.ring_res;
   const uint32_t memory[] = { aql.ring_res, aql.amd_queue_res };
   for (unsigned i = 0; i < 2; i++) {
      assert_int_equal(virgl_renderer_resource_unmap(memory[i]), 0);
      virgl_renderer_resource_unref(memory[i]);
   }
   struct kfdsim_bo_info bo;
   assert_int_equal(kfdsim_bo_find(aql.ring_va, &bo), 0);
   assert_true(bo.mapped_gpus >= 1);
   assert_int_equal(kfdsim_bo_find(aql.amd_queue_va, &bo), 0);
   assert_true(hsakmt_test_window_used() > used);
   /* the queue still runs on them: the CP reads the ring and writes the read id */
   uint64_t offset = aql.rsp.vqueue_res.host_doorbell_offset;
   __atomic_store_n((uint64_t *)(page + offset), (uint64_t)0, __ATOMIC_RELEASE);
   struct kfdsim_cp_report report;
   assert_int_equal(kfdsim_queue_run(kfd_queue_of(&aql), &report), 0);
   assert_int_equal(report.packets, 1);
   /* nothing of them can be named any more */
   uint64_t gpu_va;
   assert_int_equal(hsakmt_guest_map_to_gpu_nodes(&env.guest, ring_res, aql.ring_va,
                                                  RING_SIZE, &gpu, 1, 0, &gpu_va),
                    VKFD_STATUS_INVALID_PARAMETER);

   /* the queue goes last: only now are its memory and its window range given back */
   virgl_renderer_resource_unref(aql.queue_res);
   assert_int_equal(kfdsim_bo_find(aql.ring_va, &bo), -ENOENT);
   assert_int_equal(kfdsim_bo_find(aql.amd_queue_va, &bo), -ENOENT);
   assert_int_equal(virgl_renderer_resource_unmap(aql.doorbell_res), 0);
   virgl_renderer_resource_unref(aql.doorbell_res);
   assert_int_equal(hsakmt_test_window_used(), used);
   assert_int_equal(kfdsim_live_bos(), bos);
}

static void
test_doorbell_once_per_node(void **state)
{
   struct hsakmt_guest_aql first, second;
   uint8_t *page;
   run_one_queue(&first, &page);
   /* a second queue on the node rings through the page the guest has */
   assert_int_equal(hsakmt_guest_aql_memory(&env.guest, gpu, RING_SIZE, &second), 0);
   assert_int_equal(hsakmt_guest_aql_create(&env.guest, &second, 0, true),
                    VKFD_STATUS_INVALID_PARAMETER); /* a second doorbell blob: refused */
   assert_int_equal(kfdsim_live_queues(), 1);
   assert_int_equal(hsakmt_guest_aql_create(&env.guest, &second, 0, false), 0);
   assert_int_equal(second.doorbell_res, 0);
   uint64_t first_page = first.doorbell - first.rsp.vqueue_res.host_doorbell_offset;
   assert_int_equal(second.doorbell - second.rsp.vqueue_res.host_doorbell_offset,
                    first_page);
   assert_true(second.doorbell != first.doorbell);
   uint64_t offset = second.rsp.vqueue_res.host_doorbell_offset, seen = 0;
   __atomic_store_n((uint64_t *)(page + offset), (uint64_t)77, __ATOMIC_RELEASE);
   assert_int_equal(kfdsim_doorbell_read(gpu_id, (uint32_t)offset, &seen), 0);
   assert_int_equal(seen, 77);

   virgl_renderer_resource_unref(second.queue_res);
   virgl_renderer_resource_unref(first.queue_res);
   hsakmt_guest_aql_memory_release(&env.guest, &second);
   hsakmt_guest_aql_memory_release(&env.guest, &first);
   /* once the guest let go of the page, a new queue may ask for it again */
   assert_int_equal(virgl_renderer_resource_unmap(first.doorbell_res), 0);
   virgl_renderer_resource_unref(first.doorbell_res);
   assert_int_equal(hsakmt_guest_aql_memory(&env.guest, gpu, RING_SIZE, &second), 0);
   assert_int_equal(hsakmt_guest_aql_create(&env.guest, &second, 0, true), 0);
   assert_true(second.doorbell_res != 0);
   virgl_renderer_resource_unref(second.doorbell_res);
   virgl_renderer_resource_unref(second.queue_res);
   hsakmt_guest_aql_memory_release(&env.guest, &second);
}

/* A CREATE of the AQL queue on `aql`'s memory, with one field changed by `edit`. */
static int
create_edited(struct hsakmt_guest_aql *aql, void (*edit)(struct hsakmt_queue_req *),
              uint32_t rsp_len)
{
   struct hsakmt_queue_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_QUEUE_CREATE;
   req.create.node_id = gpu;
   req.create.type = HSAKMT_QUEUE_TYPE_COMPUTE_AQL;
   req.create.queue_percentage = 100;
   req.create.sdma_engine_id = HSAKMT_SDMA_ENGINE_NONE;
   req.create.queue_address = aql->ring_va;
   req.create.queue_size_in_bytes = RING_SIZE;
   req.create.queue_write_ptr_aql = aql->amd_queue_va + HSAKMT_GUEST_WRITE_DISPATCH_ID;
   req.create.queue_read_ptr_aql = aql->amd_queue_va + HSAKMT_GUEST_READ_DISPATCH_ID;
   req.res_id = aql->amd_queue_res;
   req.queue_mem_res_id = aql->ring_res;
   req.blob_id = hsakmt_guest_new_blob_id(&env.guest);
   edit(&req);
   struct hsakmt_queue_rsp *rsp = hsakmt_guest_queue(&env.guest, &req, 0, rsp_len);
   assert_non_null(rsp);
   /* a failed CREATE hands out no handle (the rest of a bigger slot is stale) */
   if (rsp->hdr.ret && !rsp_len)
      assert_int_equal(rsp->vqueue_res.queue_handle, 0);
   return rsp->hdr.ret;
}

static uint32_t userptr_res, other_ctx_ring_res;
static struct hsakmt_guest_aql *edit_aql;

static void
edit_type_pm4(struct hsakmt_queue_req *q)
{
   q->create.type = 1;
}
static void
edit_type_sdma(struct hsakmt_queue_req *q)
{
   q->create.type = 2;
}
static void
edit_type_sdma_eng(struct hsakmt_queue_req *q)
{
   q->create.type = 6;
}
static void
edit_type_unknown(struct hsakmt_queue_req *q)
{
   q->create.type = 99;
}
static void
edit_node_cpu(struct hsakmt_queue_req *q)
{
   q->create.node_id = 0;
}
static void
edit_node_absent(struct hsakmt_queue_req *q)
{
   q->create.node_id = 77;
}
static void
edit_priority(struct hsakmt_queue_req *q)
{
   q->create.priority = 4;
}
static void
edit_priority_low(struct hsakmt_queue_req *q)
{
   q->create.priority = -4;
}
static void
edit_percentage(struct hsakmt_queue_req *q)
{
   q->create.queue_percentage = 101;
}
static void
edit_pad(struct hsakmt_queue_req *q)
{
   q->create.pad1 = 1;
}
static void
edit_rw_blob(struct hsakmt_queue_req *q)
{
   q->rw_ptr_blob_id = 99999;
}
static void
edit_blob_zero(struct hsakmt_queue_req *q)
{
   q->blob_id = 0;
}
static void
edit_blob_wide(struct hsakmt_queue_req *q)
{
   q->blob_id = 1ull << 32;
}
static void
edit_same_blobs(struct hsakmt_queue_req *q)
{
   q->doorbell_blob_id = q->blob_id;
}
static void
edit_ring_past_end(struct hsakmt_queue_req *q)
{
   q->create.queue_address += 4096;
}
static void
edit_ring_huge(struct hsakmt_queue_req *q)
{
   q->create.queue_size_in_bytes = ~0ull;
}
static void
edit_ring_zero(struct hsakmt_queue_req *q)
{
   q->create.queue_size_in_bytes = 0;
}
static void
edit_ring_res_wrong(struct hsakmt_queue_req *q)
{
   q->queue_mem_res_id = q->res_id;
}
static void
edit_ring_userptr(struct hsakmt_queue_req *q)
{
   q->queue_mem_res_id = userptr_res;
}
static void
edit_ring_other_ctx(struct hsakmt_queue_req *q)
{
   q->queue_mem_res_id = other_ctx_ring_res;
}
static void
edit_wptr_outside(struct hsakmt_queue_req *q)
{
   q->create.queue_write_ptr_aql = edit_aql->amd_queue_va + 4092;
}
static void
edit_rptr_host(struct hsakmt_queue_req *q)
{
   q->create.queue_read_ptr_aql = (uint64_t)(uintptr_t)&edit_aql;
}
static void
edit_nothing(struct hsakmt_queue_req *q)
{
}

static void
test_create_hostile(void **state)
{
   struct hsakmt_guest_aql aql;
   assert_int_equal(hsakmt_guest_aql_memory(&env.guest, gpu, RING_SIZE, &aql), 0);
   edit_aql = &aql;
   /* a userptr of this context, and KFD memory of another context */
   struct test_guest_ram ram;
   test_guest_ram_create(&ram, 2 * RING_SIZE);
   struct iovec *iov = test_guest_ram_iovecs(&ram, 0, RING_SIZE, 1);
   userptr_res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_create_userptr(&env.guest, userptr_res, iov, 1,
                                                RING_SIZE,
                                                VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR),
                    0);
   assert_int_equal(hsakmt_guest_open(&b, CTX_B, 5000), 0);
   uint64_t start, size;
   assert_int_equal(hsakmt_guest_open_kfd(&b, &start, &size), 0);
   struct hsakmt_guest_aql other;
   assert_int_equal(hsakmt_guest_aql_memory(&b, gpu, RING_SIZE, &other), 0);
   other_ctx_ring_res = other.ring_res;

   unsigned queues = kfdsim_live_queues();
   uint64_t calls = kfdsim_ioctl_count(KFD_CREATE_QUEUE);
   assert_int_equal(create_edited(&aql, edit_type_pm4, 0), VKFD_STATUS_NOT_SUPPORTED);
   assert_int_equal(create_edited(&aql, edit_type_sdma, 0), VKFD_STATUS_NOT_SUPPORTED);
   assert_int_equal(create_edited(&aql, edit_type_sdma_eng, 0),
                    VKFD_STATUS_NOT_SUPPORTED);
   assert_int_equal(create_edited(&aql, edit_type_unknown, 0),
                    VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(create_edited(&aql, edit_node_cpu, 0), VKFD_STATUS_INVALID_NODE_UNIT);
   assert_int_equal(create_edited(&aql, edit_node_absent, 0),
                    VKFD_STATUS_INVALID_NODE_UNIT);
   void (*const invalid[])(struct hsakmt_queue_req *) = {
      edit_priority,      edit_priority_low,   edit_percentage,   edit_pad,
      edit_rw_blob,       edit_blob_zero,      edit_blob_wide,    edit_same_blobs,
      edit_ring_past_end, edit_ring_huge,      edit_ring_zero,    edit_ring_res_wrong,
      edit_ring_userptr,  edit_ring_other_ctx, edit_wptr_outside, edit_rptr_host,
   };
   for (unsigned i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
      print_message("invalid CREATE %u\n", i);
      assert_int_equal(create_edited(&aql, invalid[i], 0), VKFD_STATUS_INVALID_PARAMETER);
   }
   /* a slot of an unknown layout: a header-only error, and nothing created */
   assert_int_equal(create_edited(&aql, edit_nothing, 192),
                    VKFD_STATUS_INVALID_PARAMETER);
   /* none of it reached the kernel, and nothing is left behind */
   assert_int_equal(kfdsim_ioctl_count(KFD_CREATE_QUEUE), calls);
   assert_int_equal(kfdsim_live_queues(), queues);

   virgl_renderer_resource_unref(userptr_res);
   test_guest_ram_destroy(&ram);
   free(iov);
   hsakmt_guest_aql_memory_release(&b, &other);
   hsakmt_guest_close(&b);
   hsakmt_guest_aql_memory_release(&env.guest, &aql);
}

static void
test_unknown_event_means_no_event(void **state)
{
   struct hsakmt_guest_aql aql;
   assert_int_equal(hsakmt_guest_aql_memory(&env.guest, gpu, RING_SIZE, &aql), 0);
   /* what the guest reads past a 48-byte HsaEvent ROCr made without the transport */
   assert_int_equal(
      hsakmt_guest_aql_create(&env.guest, &aql, 0xdeadbeefcafef00dull, false), 0);
   virgl_renderer_resource_unref(aql.queue_res);
   /* an event of this context is passed on */
   struct hsakmt_event_rsp event;
   uint64_t blob_id = hsakmt_guest_new_blob_id(&env.guest);
   assert_int_equal(
      hsakmt_guest_create_event(&env.guest, gpu, false, false, blob_id, &event), 0);
   uint32_t event_res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_claim(&env.guest, event_res, blob_id, 0, 72), 0);
   assert_int_equal(hsakmt_guest_aql_create(&env.guest, &aql, event.event_handle, false),
                    0);
   virgl_renderer_resource_unref(aql.queue_res);
   virgl_renderer_resource_unref(event_res);
   hsakmt_guest_aql_memory_release(&env.guest, &aql);
}

static void
test_completion_signal_raises_event(void **state)
{
   /* the emulated GPU signals an event through its mailbox; QUERY_STATE sees it */
   struct hsakmt_guest_aql aql;
   uint8_t *page;
   run_one_queue(&aql, &page);
   struct hsakmt_event_rsp event;
   uint64_t blob_id = hsakmt_guest_new_blob_id(&env.guest);
   assert_int_equal(
      hsakmt_guest_create_event(&env.guest, gpu, false, false, blob_id, &event), 0);
   uint32_t event_res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_claim(&env.guest, event_res, blob_id, 0, 72), 0);
   assert_int_equal(hsakmt_guest_event_op(&env.guest, HSAKMT_EVENT_QUERY_STATE,
                                          event.event_handle, event_res),
                    VKFD_STATUS_WAIT_TIMEOUT);
   /* an amd_signal_t whose mailbox is the event's slot (HWData2), as ROCr makes it */
   uint8_t *signal = aql.amd_queue + HSAKMT_GUEST_SIGNAL_OFFSET;
   int64_t one = 1;
   uint64_t mailbox = event.event.hw_data2, event_id = event.event.event_id;
   memcpy(signal + 8, &one, 8);
   memcpy(signal + 16, &mailbox, 8);
   memcpy(signal + 24, &event_id, 8);
   hsakmt_guest_aql_barrier(&aql, 0, aql.amd_queue_va + HSAKMT_GUEST_SIGNAL_OFFSET);
   __atomic_store_n((uint64_t *)(page + aql.rsp.vqueue_res.host_doorbell_offset),
                    (uint64_t)0, __ATOMIC_RELEASE);
   struct kfdsim_cp_report report;
   assert_int_equal(kfdsim_queue_run(kfd_queue_of(&aql), &report), 0);
   assert_int_equal(report.events_raised, 1);
   assert_int_equal(hsakmt_guest_event_op(&env.guest, HSAKMT_EVENT_QUERY_STATE,
                                          event.event_handle, event_res),
                    VKFD_STATUS_SUCCESS);
   virgl_renderer_resource_unref(event_res);
   virgl_renderer_resource_unref(aql.queue_res);
   hsakmt_guest_aql_memory_release(&env.guest, &aql);
   assert_int_equal(virgl_renderer_resource_unmap(aql.doorbell_res), 0);
   virgl_renderer_resource_unref(aql.doorbell_res);
}

/* A QUEUE command other than CREATE on `res`: rsp.ret; `rsp_len` 0 is 168. */
static int
queue_op(uint32_t type, uint32_t res, struct hsakmt_queue_req *req, uint32_t len,
         uint32_t rsp_len, struct hsakmt_queue_rsp *out)
{
   req->type = type;
   req->res_id = res;
   struct hsakmt_queue_rsp *rsp = hsakmt_guest_queue(&env.guest, req, len, rsp_len);
   assert_non_null(rsp);
   if (out)
      memcpy(out, rsp, rsp_len ? rsp_len : sizeof(*rsp));
   return rsp->hdr.ret;
}

static void
test_update_info_cu_mask_destroy(void **state)
{
   struct hsakmt_guest_aql aql;
   assert_int_equal(hsakmt_guest_aql_memory(&env.guest, gpu, RING_SIZE, &aql), 0);
   assert_int_equal(hsakmt_guest_aql_create(&env.guest, &aql, 0, false), 0);
   uint32_t kfd_id = kfd_queue_of(&aql);
   struct kfdsim_queue_info info;
   uint8_t buffer[136 + 512];
   struct hsakmt_queue_req *req = (struct hsakmt_queue_req *)buffer;

   /* UPDATE: the ring must be the context's memory; a valid one reaches the kernel */
   memset(buffer, 0, sizeof(buffer));
   req->update.queue_percentage = 50;
   req->update.priority = 2;
   req->update.queue_address = aql.ring_va + RING_SIZE / 2;
   req->update.queue_size_in_bytes = RING_SIZE;
   req->queue_mem_res_id = aql.ring_res;
   assert_int_equal(queue_op(HSAKMT_QUEUE_UPDATE, aql.queue_res, req, 0, 0, NULL),
                    VKFD_STATUS_INVALID_PARAMETER);
   req->update.queue_address = aql.ring_va;
   req->update.priority = 9;
   assert_int_equal(queue_op(HSAKMT_QUEUE_UPDATE, aql.queue_res, req, 0, 0, NULL),
                    VKFD_STATUS_INVALID_PARAMETER);
   req->update.priority = 2;
   assert_int_equal(queue_op(HSAKMT_QUEUE_UPDATE, aql.amd_queue_res, req, 0, 0, NULL),
                    VKFD_STATUS_INVALID_HANDLE);
   assert_int_equal(queue_op(HSAKMT_QUEUE_UPDATE, aql.queue_res, req, 0, 0, NULL), 0);
   assert_int_equal(kfdsim_queue_info(kfd_id, &info), 0);
   assert_int_equal(info.percentage, 50);

   /* GET_INFO: a running queue has no saved state (the kernel refuses); a stopped
    * one answers numbers, never the CWSR area's host pointers */
   struct hsakmt_queue_rsp rsp;
   memset(buffer, 0, sizeof(buffer));
   assert_int_not_equal(queue_op(HSAKMT_QUEUE_GET_INFO, aql.queue_res, req, 0, 0, &rsp),
                        0);
   req->update.queue_percentage = 0;
   req->update.queue_address = aql.ring_va;
   req->update.queue_size_in_bytes = RING_SIZE;
   req->queue_mem_res_id = aql.ring_res;
   assert_int_equal(queue_op(HSAKMT_QUEUE_UPDATE, aql.queue_res, req, 0, 0, NULL), 0);
   memset(buffer, 0, sizeof(buffer));
   uint8_t wide[176];
   assert_int_equal(queue_op(HSAKMT_QUEUE_GET_INFO, aql.queue_res, req, 0, 176,
                             (struct hsakmt_queue_rsp *)wide),
                    0);
   memcpy(&rsp, wide, sizeof(rsp));
   assert_int_equal(rsp.queue_info.cu_mask_info, 0);
   assert_int_equal(rsp.queue_info.user_context_save_area, 0);
   assert_int_equal(rsp.queue_info.control_stack_top, 0);
   assert_int_equal(rsp.queue_info.save_area_header, 0);
   uint64_t alloc_size;
   memcpy(&alloc_size, wide + 168, 8); /* SaveAreaAllocSize: unknown to the host */
   assert_int_equal(alloc_size, 0);
   assert_int_equal(queue_op(HSAKMT_QUEUE_GET_INFO, aql.queue_res, req, 0, 184, NULL),
                    VKFD_STATUS_INVALID_PARAMETER);

   /* SET_CU_MASK: bits, whole words, at most 128 of them, counted against len */
   memset(buffer, 0, sizeof(buffer));
   uint32_t words[4] = { 0xffffffffu, 0xffffffffu, 0xffu, 0 };
   memcpy(buffer + HSAKMT_QUEUE_PAYLOAD_OFFSET, words, sizeof(words));
   req->cu_mask_count = 64;
   uint64_t calls = kfdsim_ioctl_count(KFD_SET_CU_MASK);
   assert_int_equal(
      queue_op(HSAKMT_QUEUE_SET_CU_MASK, aql.queue_res, req, 136 + 4, 0, NULL),
      VKFD_STATUS_INVALID_PARAMETER); /* len too short */
   req->cu_mask_count = 33;
   assert_int_equal(
      queue_op(HSAKMT_QUEUE_SET_CU_MASK, aql.queue_res, req, 136 + 8, 0, NULL),
      VKFD_STATUS_INVALID_PARAMETER);
   req->cu_mask_count = 4096 + 32;
   assert_int_equal(
      queue_op(HSAKMT_QUEUE_SET_CU_MASK, aql.queue_res, req, sizeof(buffer), 0, NULL),
      VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(kfdsim_ioctl_count(KFD_SET_CU_MASK), calls);
   /* 96 bits: a length of 136 + 12, 4 mod 8, tolerated as the last command */
   req->cu_mask_count = 96;
   assert_int_equal(
      queue_op(HSAKMT_QUEUE_SET_CU_MASK, aql.queue_res, req, 136 + 12, 0, NULL), 0);
   assert_int_equal(kfdsim_queue_info(kfd_id, &info), 0);
   assert_int_equal(info.cu_mask_count, 96);

   /* ALLOC_GWS: the protocol has no room for the answer */
   memset(buffer, 0, sizeof(buffer));
   req->n_gws = 1;
   assert_int_equal(
      queue_op(HSAKMT_QUEUE_ALLOC_GWS, aql.queue_res, req, 136 + 8, 0, NULL),
      VKFD_STATUS_NOT_SUPPORTED);

   /* DESTROY by res_id only; the blob's detach afterwards finds nothing to do */
   memset(buffer, 0, sizeof(buffer));
   req->queue_id = aql.rsp.vqueue_res.queue_handle;
   assert_int_equal(queue_op(HSAKMT_QUEUE_DESTROY, 0, req, 0, 0, NULL),
                    VKFD_STATUS_INVALID_HANDLE);
   assert_int_equal(queue_op(HSAKMT_QUEUE_DESTROY, aql.ring_res, req, 0, 0, NULL),
                    VKFD_STATUS_INVALID_HANDLE);
   assert_int_equal(queue_op(HSAKMT_QUEUE_DESTROY, aql.queue_res, req, 0, 0, NULL), 0);
   assert_int_equal(kfdsim_live_queues(), 0);
   assert_int_equal(queue_op(HSAKMT_QUEUE_DESTROY, aql.queue_res, req, 0, 0, NULL),
                    VKFD_STATUS_INVALID_HANDLE);
   assert_int_equal(queue_op(HSAKMT_QUEUE_GET_INFO, aql.queue_res, req, 0, 0, NULL),
                    VKFD_STATUS_INVALID_HANDLE);
   virgl_renderer_resource_unref(aql.queue_res);
   hsakmt_guest_aql_memory_release(&env.guest, &aql);
}

static void
test_blob_claims(void **state)
{
   struct hsakmt_guest_aql aql;
   assert_int_equal(hsakmt_guest_aql_memory(&env.guest, gpu, RING_SIZE, &aql), 0);
   struct hsakmt_queue_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_QUEUE_CREATE;
   req.create.node_id = gpu;
   req.create.type = HSAKMT_QUEUE_TYPE_COMPUTE_AQL;
   req.create.queue_percentage = 100;
   req.create.sdma_engine_id = HSAKMT_SDMA_ENGINE_NONE;
   req.create.queue_address = aql.ring_va;
   req.create.queue_size_in_bytes = RING_SIZE;
   req.create.queue_write_ptr_aql = aql.amd_queue_va + HSAKMT_GUEST_WRITE_DISPATCH_ID;
   req.create.queue_read_ptr_aql = aql.amd_queue_va + HSAKMT_GUEST_READ_DISPATCH_ID;
   req.res_id = aql.amd_queue_res;
   req.queue_mem_res_id = aql.ring_res;
   req.blob_id = hsakmt_guest_new_blob_id(&env.guest);
   req.doorbell_blob_id = hsakmt_guest_new_blob_id(&env.guest);
   assert_int_equal(hsakmt_guest_queue(&env.guest, &req, 0, 0)->hdr.ret, 0);
   uint32_t res = hsakmt_guest_new_res_id(&env.guest);
   /* the doorbell page: exactly MAPPABLE, at most 8 KiB; a refusal destroys it */
   assert_int_equal(hsakmt_guest_claim(&env.guest, res, req.doorbell_blob_id,
                                       VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE, 0x3000),
                    -EINVAL);
   assert_int_equal(hsakmt_guest_claim(&env.guest, res, req.doorbell_blob_id,
                                       VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE, 0x2000),
                    -EINVAL); /* claim-once */
   /* the queue's tracking blob: flags 0, no larger than the ring, never mappable */
   assert_int_equal(hsakmt_guest_claim(&env.guest, res, req.blob_id,
                                       VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE, RING_SIZE),
                    -EINVAL);
   assert_int_equal(kfdsim_live_queues(), 0); /* the refused claim destroyed the queue */
   req.blob_id = hsakmt_guest_new_blob_id(&env.guest);
   req.doorbell_blob_id = 0;
   assert_int_equal(hsakmt_guest_queue(&env.guest, &req, 0, 0)->hdr.ret, 0);
   assert_int_equal(hsakmt_guest_claim(&env.guest, res, req.blob_id, 0, 2 * RING_SIZE),
                    -EINVAL);
   req.blob_id = hsakmt_guest_new_blob_id(&env.guest);
   assert_int_equal(hsakmt_guest_queue(&env.guest, &req, 0, 0)->hdr.ret, 0);
   assert_int_equal(hsakmt_guest_claim(&env.guest, res, req.blob_id, 0, RING_SIZE), 0);
   void *map;
   assert_int_equal(virgl_renderer_resource_map(res, &map, NULL), -EINVAL);
   virgl_renderer_resource_unref(res);
   hsakmt_guest_aql_memory_release(&env.guest, &aql);
}

static void
test_set_trap(void **state)
{
   struct hsakmt_guest_aql aql;
   assert_int_equal(hsakmt_guest_aql_memory(&env.guest, gpu, RING_SIZE, &aql), 0);
   struct hsakmt_event_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_EVENT_SET_TRAP;
   req.set_trap_handler.node_id = gpu;
   req.set_trap_handler.trap_handler_base_address = aql.ring_va;
   req.set_trap_handler.trap_handler_size_in_bytes = 4096;
   req.set_trap_handler.trap_buffer_base_address = aql.amd_queue_va;
   req.set_trap_handler.trap_buffer_size_in_bytes = 4096;
   kfdsim_log_clear();
   assert_int_equal(hsakmt_guest_event(&env.guest, &req)->hdr.ret, 0);
   struct kfdsim_ioctl_record rec;
   assert_int_equal(kfdsim_log_find_last(KFD_SET_TRAP, &rec), 0);
   uint64_t tba;
   memcpy(&tba, rec.in, 8);
   assert_int_equal(tba, aql.ring_va);

   /* ranges outside the context's KFD memory, the CPU node, padding */
   req.set_trap_handler.trap_handler_size_in_bytes = RING_SIZE + 4096;
   assert_int_equal(hsakmt_guest_event(&env.guest, &req)->hdr.ret,
                    VKFD_STATUS_INVALID_PARAMETER);
   req.set_trap_handler.trap_handler_size_in_bytes = 4096;
   req.set_trap_handler.trap_buffer_base_address = (uint64_t)(uintptr_t)&req;
   assert_int_equal(hsakmt_guest_event(&env.guest, &req)->hdr.ret,
                    VKFD_STATUS_INVALID_PARAMETER);
   req.set_trap_handler.trap_buffer_base_address = 0;
   req.set_trap_handler.trap_buffer_size_in_bytes = 0; /* no buffer: fine */
   assert_int_equal(hsakmt_guest_event(&env.guest, &req)->hdr.ret, 0);
   req.set_trap_handler.pad = 1;
   assert_int_equal(hsakmt_guest_event(&env.guest, &req)->hdr.ret,
                    VKFD_STATUS_INVALID_PARAMETER);
   req.set_trap_handler.pad = 0;
   req.set_trap_handler.node_id = 0;
   assert_int_equal(hsakmt_guest_event(&env.guest, &req)->hdr.ret,
                    VKFD_STATUS_INVALID_NODE_UNIT);
   hsakmt_guest_aql_memory_release(&env.guest, &aql);
}

int
main(void)
{
#if defined(__SANITIZE_ADDRESS__)
   printf("SKIP: KFD memory needs the fixed-address window, and libhsakmt's reserved "
          "SVM aperture lies below 2^40, where AddressSanitizer keeps its shadow\n");
   return 77;
#endif
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_aql_queue_queue_destroyed_first),
      cmocka_unit_test(test_aql_queue_memory_destroyed_first),
      cmocka_unit_test(test_doorbell_once_per_node),
      cmocka_unit_test(test_create_hostile),
      cmocka_unit_test(test_unknown_event_means_no_event),
      cmocka_unit_test(test_completion_signal_raises_event),
      cmocka_unit_test(test_update_info_cu_mask_destroy),
      cmocka_unit_test(test_blob_claims),
      cmocka_unit_test(test_set_trap),
   };
   return cmocka_run_group_tests(tests, setup, teardown);
}
