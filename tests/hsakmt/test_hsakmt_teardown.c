/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Teardown and failure (hostile-inputs.md "ROCm command layer" item 7; style.md,
 * "SQLite's test culture"). A context destroyed with everything still live (a queue
 * whose doorbell page and ring the VMM maps, events pending and bound, GPU-mapped KFD
 * memory, a registered userptr, scratch and its mapping) releases every object in
 * dependency order, queues before their memory, and the emulated kernel's counters
 * come back to their baseline once the VMM lets go of its resources. Then every
 * libhsakmt call the event, queue and scratch handlers make fails once, injected at
 * the kernel: the command answers the error, nothing is left behind, and the same
 * command works when tried again; where a teardown step fails, what the GPU may still
 * reach stays allocated for good (docs/security.md, guarantee 4).
 *
 * Run with VIRTKFD_HSAKMT_LIBRARY naming another libhsakmt (6.2.4) to check it there.
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

#include "hsakmt/hsakmt_scratch.h"
#include "hsakmt/hsakmt_va.h"
#include "hsakmt_guest_compute.h"
#include "hsakmt_test_env.h"
#include "kfdsim.h"

#define MIB               (1ull << 20)
#define RING_SIZE         (64u << 10)
#define CTX_B             2
#define KFD_CREATE_QUEUE  0x02
#define KFD_DESTROY_QUEUE 0x03
#define KFD_UPDATE_QUEUE  0x07
#define KFD_CREATE_EVENT  0x08
#define KFD_DESTROY_EVENT 0x09
#define KFD_SET_EVENT     0x0a
#define KFD_RESET_EVENT   0x0b
#define KFD_WAIT_EVENTS   0x0c
#define KFD_SCRATCH_VA    0x11
#define KFD_SET_TRAP      0x13
#define KFD_ALLOC         0x16
#define KFD_MAP           0x18
#define KFD_UNMAP         0x19
#define KFD_SET_CU_MASK   0x1a
#define KFD_WAVE_STATE    0x1b
#define SCRATCH           (HSAKMT_MEMFLAG_SCRATCH | HSAKMT_MEMFLAG_HOST_ACCESS)

static struct hsakmt_test_env env;
static uint32_t gpu = 1;
/* what failure tests keep on purpose: the GPU may still reach it */
static unsigned kept_bos, kept_userptrs, kept_queues, kept_events;
static uint64_t kept_window;

static int
setup(void **state)
{
   hsakmt_test_env_start(&env);
   uint64_t start, size;
   assert_int_equal(hsakmt_guest_open_kfd(&env.guest, &start, &size), 0);
   hsakmt_test_env_warm_up_compute(&env, gpu);
   return 0;
}

static int
teardown(void **state)
{
   assert_int_equal(kfdsim_live_queues(), kept_queues);
   env.live_bos += kept_bos;
   env.userptrs += kept_userptrs;
   hsakmt_test_env_stop(&env);
   assert_int_equal(hsakmt_test_window_used(), kept_window);
   return 0;
}

/* A scratch ALLOC with its blob, and a mapping of its first `mapped` bytes (ctx B). */
static void
scratch(struct hsakmt_guest *guest, uint64_t size, uint64_t mapped, uint32_t *res,
        uint32_t *map_res)
{
   uint64_t blob_id = hsakmt_guest_new_blob_id(guest), va;
   assert_int_equal(hsakmt_guest_alloc(guest, gpu, SCRATCH, size, 0, blob_id, &va), 0);
   *res = hsakmt_guest_new_res_id(guest);
   assert_int_equal(hsakmt_guest_claim(guest, *res, blob_id, 0, size), 0);
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_MAP_MEM_TO_GPU;
   req.blob_id = hsakmt_guest_new_blob_id(guest);
   req.map_to_gpu.memory_address = va;
   req.map_to_gpu.memory_size_in_bytes = mapped;
   req.map_to_gpu.need_create_bo = 1;
   assert_int_equal(hsakmt_guest_memory(guest, &req, 0)->hdr.ret, 0);
   *map_res = hsakmt_guest_new_res_id(guest);
   assert_int_equal(hsakmt_guest_claim(guest, *map_res, req.blob_id, 0, mapped), 0);
}

/* The position in the ioctl log of the first call of `nr`, or SIZE_MAX. */
static size_t
first_call(unsigned nr)
{
   struct kfdsim_ioctl_record rec;
   for (size_t i = 0; i < kfdsim_log_count(); i++) {
      assert_int_equal(kfdsim_log_get(i, &rec), 0);
      if (rec.nr == nr)
         return i;
   }
   return SIZE_MAX;
}

static void
test_context_destroyed_with_everything_live(void **state)
{
   unsigned queues = kfdsim_live_queues(), events = kfdsim_live_events();
   unsigned bos = kfdsim_live_bos(), userptrs = kfdsim_userptr_count();
   uint64_t vram = kfdsim_vram_used(), used = hsakmt_test_window_used();
   struct hsakmt_guest b;
   uint64_t start, size;
   assert_int_equal(hsakmt_guest_open(&b, CTX_B, 5000), 0);
   assert_int_equal(hsakmt_guest_open_kfd(&b, &start, &size), 0);

   /* a queue whose ring and doorbell page the VMM maps */
   struct hsakmt_guest_aql aql;
   assert_int_equal(hsakmt_guest_aql_memory(&b, gpu, RING_SIZE, &aql), 0);
   struct hsakmt_event_rsp event;
   uint64_t event_blob = hsakmt_guest_new_blob_id(&b);
   assert_int_equal(hsakmt_guest_create_event(&b, gpu, false, false, event_blob, &event),
                    0);
   uint32_t event_res = hsakmt_guest_new_res_id(&b);
   assert_int_equal(hsakmt_guest_claim(&b, event_res, event_blob, 0, 72), 0);
   assert_int_equal(hsakmt_guest_aql_create(&b, &aql, event.event_handle, true), 0);
   void *doorbell;
   assert_int_equal(virgl_renderer_resource_map(aql.doorbell_res, &doorbell, NULL), 0);
   /* an event still pending (no blob claimed it) */
   assert_int_equal(
      hsakmt_guest_create_event(&b, gpu, true, true, hsakmt_guest_new_blob_id(&b), NULL),
      0);
   /* GPU-mapped VRAM */
   uint64_t vram_blob = hsakmt_guest_new_blob_id(&b), vram_va, gpu_va;
   assert_int_equal(hsakmt_guest_alloc(&b, gpu, HSAKMT_MEMFLAG_NON_PAGED, 4 * MIB, 0,
                                       vram_blob, &vram_va),
                    0);
   uint32_t vram_res = hsakmt_guest_new_res_id(&b);
   assert_int_equal(hsakmt_guest_claim(&b, vram_res, vram_blob, 0, 4 * MIB), 0);
   assert_int_equal(
      hsakmt_guest_map_to_gpu_nodes(&b, vram_res, vram_va, 4 * MIB, &gpu, 1, 0, &gpu_va),
      0);
   /* a registered, GPU-mapped userptr */
   struct test_guest_ram ram;
   test_guest_ram_create(&ram, 8 * 4096);
   struct iovec *iov = test_guest_ram_iovecs(&ram, 0, 4096, 8);
   uint32_t userptr_res = hsakmt_guest_new_res_id(&b);
   uint64_t handle;
   assert_int_equal(hsakmt_guest_create_userptr(&b, userptr_res, iov, 8, 8 * 4096,
                                                VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR),
                    0);
   assert_int_equal(hsakmt_guest_map_userptr(&b, userptr_res, &handle), 0);
   assert_int_equal(hsakmt_guest_register_userptr(&b, userptr_res, handle, 8 * 4096,
                                                  HSAKMT_MEMFLAG_HOST_ACCESS),
                    0);
   uint64_t userptr_gpu_va;
   assert_int_equal(hsakmt_guest_map_to_gpu_nodes(&b, userptr_res, handle, 8 * 4096, &gpu,
                                                  1, 0, &userptr_gpu_va),
                    0);
   /* scratch and a mapping of it */
   uint32_t scratch_res, scratch_map_res;
   scratch(&b, 8 * MIB, 2 * MIB, &scratch_res, &scratch_map_res);

   assert_int_equal(kfdsim_live_queues(), queues + 1);
   assert_int_equal(kfdsim_live_events(), events + 2);
   struct kfdsim_bo_info bo;
   assert_int_equal(kfdsim_bo_find(userptr_gpu_va, &bo), 0);
   assert_true(kfdsim_vram_used() > vram);

   /* the guest process dies: its context goes with all of it still live */
   kfdsim_log_clear();
   virgl_renderer_context_destroy(CTX_B);
   assert_int_equal(kfdsim_live_queues(), queues);
   assert_int_equal(kfdsim_live_events(), events);
   /* the guest's pages are no longer registered */
   assert_int_equal(kfdsim_bo_find(userptr_gpu_va, &bo), -ENOENT);
   /* the queue stopped before anything it runs on was unmapped */
   size_t destroyed = first_call(KFD_DESTROY_QUEUE), unmapped = first_call(KFD_UNMAP);
   assert_true(destroyed != SIZE_MAX && unmapped != SIZE_MAX && destroyed < unmapped);
   /* memory the VMM still maps stays until it lets go (§4.1, lifetime rule) */
   assert_int_equal(kfdsim_bo_find(aql.ring_va, &bo), 0);
   assert_int_equal(kfdsim_bo_find(vram_va, &bo), 0);
   assert_int_equal(bo.mapped_gpus, 0);

   /* the VMM unmaps and unrefs what it had: everything is back at its baseline */
   const uint32_t mapped[] = { aql.doorbell_res, aql.ring_res, aql.amd_queue_res };
   for (unsigned i = 0; i < 3; i++)
      assert_int_equal(virgl_renderer_resource_unmap(mapped[i]), 0);
   const uint32_t all[] = { aql.doorbell_res, aql.ring_res, aql.amd_queue_res,
                            aql.queue_res,    event_res,    vram_res,
                            userptr_res,      scratch_res,  scratch_map_res };
   for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++)
      virgl_renderer_resource_unref(all[i]);
   free(iov);
   test_guest_ram_destroy(&ram);
   assert_int_equal(kfdsim_live_bos(), bos);
   assert_int_equal(kfdsim_userptr_count(), userptrs);
   assert_int_equal(kfdsim_vram_used(), vram);
   assert_int_equal(hsakmt_test_window_used(), used);
   uint64_t window;
   assert_int_equal(hsakmt_scratch_window_used(gpu, &window), 0);
   assert_int_equal(window, 0);
   hsakmt_guest_close(&b); /* the shmem blob; the context is gone already */
}

/* Counters the emulated kernel keeps, to compare before and after a failure. */
struct counters {
   unsigned bos, queues, events, userptrs;
   uint64_t vram, window;
};

static struct counters
counters_now(void)
{
   return (struct counters){ kfdsim_live_bos(),    kfdsim_live_queues(),
                             kfdsim_live_events(), kfdsim_userptr_count(),
                             kfdsim_vram_used(),   hsakmt_test_window_used() };
}

static void
assert_counters(struct counters before)
{
   struct counters now = counters_now();
   assert_int_equal(now.bos, before.bos);
   assert_int_equal(now.queues, before.queues);
   assert_int_equal(now.events, before.events);
   assert_int_equal(now.userptrs, before.userptrs);
   assert_int_equal(now.vram, before.vram);
   assert_int_equal(now.window, before.window);
}

static void
test_event_calls_fail(void **state)
{
   struct counters before = counters_now();
   struct hsakmt_event_rsp event;
   uint64_t blob_id = hsakmt_guest_new_blob_id(&env.guest);
   /* hsaKmtCreateEvent: no event, no object, the blob id stays free */
   assert_int_equal(kfdsim_fail_next(KFD_CREATE_EVENT, 1, ENOMEM), 0);
   assert_int_not_equal(
      hsakmt_guest_create_event(&env.guest, gpu, false, false, blob_id, &event), 0);
   assert_int_equal(event.event_handle, 0);
   assert_counters(before);
   assert_int_equal(
      hsakmt_guest_create_event(&env.guest, gpu, false, false, blob_id, &event), 0);
   uint32_t res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_claim(&env.guest, res, blob_id, 0, 72), 0);
   uint64_t token = event.event_handle;

   /* hsaKmtSetEvent, hsaKmtResetEvent, hsaKmtWaitOnEvent: the error, then success */
   const struct {
      unsigned nr;
      uint32_t type;
      int32_t after;
   } calls[] = {
      { KFD_SET_EVENT, HSAKMT_EVENT_SET, 0 },
      { KFD_RESET_EVENT, HSAKMT_EVENT_RESET, 0 },
      { KFD_WAIT_EVENTS, HSAKMT_EVENT_QUERY_STATE, VKFD_STATUS_WAIT_TIMEOUT },
   };
   for (unsigned i = 0; i < 3; i++) {
      assert_int_equal(kfdsim_fail_next(calls[i].nr, 1, EIO), 0);
      int32_t ret = hsakmt_guest_event_op(&env.guest, calls[i].type, token, res);
      assert_true(ret != 0 && ret != VKFD_STATUS_WAIT_TIMEOUT);
      assert_int_equal(hsakmt_guest_event_op(&env.guest, calls[i].type, token, res),
                       calls[i].after);
   }
   /* the re-signal after a query of an auto-reset event fails: the query still tells */
   assert_int_equal(hsakmt_guest_event_op(&env.guest, HSAKMT_EVENT_SET, token, res), 0);
   assert_int_equal(kfdsim_fail_next(KFD_SET_EVENT, 1, EIO), 0);
   assert_int_equal(
      hsakmt_guest_event_op(&env.guest, HSAKMT_EVENT_QUERY_STATE, token, res),
      VKFD_STATUS_SUCCESS);

   /* hsaKmtDestroyEvent at the detach: logged; the handle is gone all the same */
   assert_int_equal(kfdsim_fail_next(KFD_DESTROY_EVENT, 1, EIO), 0);
   virgl_renderer_resource_unref(res);
   assert_int_equal(hsakmt_guest_event_op(&env.guest, HSAKMT_EVENT_QUERY_STATE, token, 0),
                    VKFD_STATUS_INVALID_HANDLE);
   /* libhsakmt keeps an event whose destroy failed */
   assert_int_equal(kfdsim_live_events(), before.events + 1);
   kept_events++;
}

static void
test_trap_and_queue_calls_fail(void **state)
{
   struct counters start = counters_now();
   struct hsakmt_guest_aql aql;
   assert_int_equal(hsakmt_guest_aql_memory(&env.guest, gpu, RING_SIZE, &aql), 0);
   struct counters before = counters_now();

   /* hsaKmtSetTrapHandler */
   struct hsakmt_event_req trap;
   memset(&trap, 0, sizeof(trap));
   trap.type = HSAKMT_EVENT_SET_TRAP;
   trap.set_trap_handler.node_id = gpu;
   trap.set_trap_handler.trap_handler_base_address = aql.ring_va;
   trap.set_trap_handler.trap_handler_size_in_bytes = 4096;
   assert_int_equal(kfdsim_fail_next(KFD_SET_TRAP, 1, EINVAL), 0);
   assert_int_not_equal(hsakmt_guest_event(&env.guest, &trap)->hdr.ret, 0);
   assert_int_equal(hsakmt_guest_event(&env.guest, &trap)->hdr.ret, 0);

   /* hsaKmtCreateQueue, failing in its own buffers and in the ioctl: no queue, no
    * object, no pin, and the doorbell page is not handed out */
   const unsigned create_nrs[] = { KFD_ALLOC, KFD_MAP, KFD_CREATE_QUEUE };
   for (unsigned i = 0; i < 3; i++) {
      assert_int_equal(kfdsim_fail_next(create_nrs[i], 1, ENOMEM), 0);
      assert_int_not_equal(hsakmt_guest_aql_create(&env.guest, &aql, 0, true), 0);
      assert_int_equal(aql.rsp.vqueue_res.queue_handle, 0);
      assert_counters(before);
   }
   assert_int_equal(hsakmt_guest_aql_create(&env.guest, &aql, 0, true), 0);
   uint32_t kfd_id;
   assert_int_equal(kfdsim_queue_find(aql.ring_va, &kfd_id), 0);

   /* hsaKmtUpdateQueue, hsaKmtGetQueueInfo, hsaKmtSetQueueCUMask */
   uint8_t buffer[136 + 8];
   struct hsakmt_queue_req *req = (struct hsakmt_queue_req *)buffer;
   memset(buffer, 0, sizeof(buffer));
   req->type = HSAKMT_QUEUE_UPDATE;
   req->res_id = aql.queue_res;
   req->queue_mem_res_id = aql.ring_res;
   req->update.queue_address = aql.ring_va;
   req->update.queue_size_in_bytes = RING_SIZE;
   assert_int_equal(kfdsim_fail_next(KFD_UPDATE_QUEUE, 1, EINVAL), 0);
   assert_int_not_equal(hsakmt_guest_queue(&env.guest, req, 0, 0)->hdr.ret, 0);
   assert_int_equal(hsakmt_guest_queue(&env.guest, req, 0, 0)->hdr.ret, 0);
   req->type = HSAKMT_QUEUE_GET_INFO; /* the queue is stopped (percentage 0) now */
   assert_int_equal(kfdsim_fail_next(KFD_WAVE_STATE, 1, EINVAL), 0);
   assert_int_not_equal(hsakmt_guest_queue(&env.guest, req, 0, 0)->hdr.ret, 0);
   assert_int_equal(hsakmt_guest_queue(&env.guest, req, 0, 0)->hdr.ret, 0);
   memset(buffer, 0, sizeof(buffer));
   req->type = HSAKMT_QUEUE_SET_CU_MASK;
   req->res_id = aql.queue_res;
   req->cu_mask_count = 64;
   memset(buffer + 136, 0xff, 8);
   assert_int_equal(kfdsim_fail_next(KFD_SET_CU_MASK, 1, EINVAL), 0);
   assert_int_not_equal(hsakmt_guest_queue(&env.guest, req, sizeof(buffer), 0)->hdr.ret,
                        0);
   assert_int_equal(hsakmt_guest_queue(&env.guest, req, sizeof(buffer), 0)->hdr.ret, 0);

   /* hsaKmtDestroyQueue at the detach: logged; the queue may still run, so its ring
    * and dispatch ids stay allocated and out of the window for good */
   uint64_t used = hsakmt_test_window_used();
   unsigned bos = kfdsim_live_bos();
   assert_int_equal(kfdsim_fail_next(KFD_DESTROY_QUEUE, 1, EIO), 0);
   virgl_renderer_resource_unref(aql.queue_res);
   hsakmt_guest_aql_memory_release(&env.guest, &aql);
   struct kfdsim_bo_info bo;
   assert_int_equal(kfdsim_bo_find(aql.ring_va, &bo), 0);
   assert_int_equal(kfdsim_bo_find(aql.amd_queue_va, &bo), 0);
   assert_int_equal(hsakmt_test_window_used(), used);
   assert_int_equal(kfdsim_live_bos(), bos);
   assert_int_equal(virgl_renderer_resource_unmap(aql.doorbell_res), 0);
   virgl_renderer_resource_unref(aql.doorbell_res);
   /* libhsakmt keeps its queue record and buffers; the kernel keeps the queue */
   kept_queues++;
   kept_bos += kfdsim_live_bos() - start.bos;
   kept_userptrs += kfdsim_userptr_count() - start.userptrs;
   kept_window += hsakmt_test_window_used() - start.window;
}

/* MAP_MEM_TO_GPU with need_create_bo; rsp.ret, and the blob claimed on success. */
static int
scratch_map(uint64_t va, uint64_t size, uint32_t *res)
{
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_MAP_MEM_TO_GPU;
   req.blob_id = hsakmt_guest_new_blob_id(&env.guest);
   req.map_to_gpu.memory_address = va;
   req.map_to_gpu.memory_size_in_bytes = size;
   req.map_to_gpu.need_create_bo = 1;
   int ret = hsakmt_guest_memory(&env.guest, &req, 0)->hdr.ret;
   if (ret)
      return ret;
   *res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_claim(&env.guest, *res, req.blob_id, 0, size), 0);
   return 0;
}

static void
test_scratch_calls_fail(void **state)
{
   struct counters before = counters_now();
   uint64_t window;
   /* hsaKmtAllocMemory(Scratch): the window is not placed, nothing is kept */
   uint64_t blob_id = hsakmt_guest_new_blob_id(&env.guest), va;
   assert_int_equal(kfdsim_fail_next(KFD_SCRATCH_VA, 1, EINVAL), 0);
   assert_int_not_equal(
      hsakmt_guest_alloc(&env.guest, gpu, SCRATCH, 8 * MIB, 0, blob_id, &va), 0);
   assert_int_equal(hsakmt_scratch_window_used(gpu, &window), 0);
   assert_int_equal(window, 0);
   assert_counters(before);
   assert_int_equal(
      hsakmt_guest_alloc(&env.guest, gpu, SCRATCH, 8 * MIB, 0, blob_id, &va), 0);
   uint32_t res = hsakmt_guest_new_res_id(&env.guest), map_res;
   assert_int_equal(hsakmt_guest_claim(&env.guest, res, blob_id, 0, 8 * MIB), 0);

   /* hsaKmtMapMemoryToGPU of scratch, failing in its VRAM and in the map: no BO,
    * no charge, no object, and the same mapping works afterwards */
   struct counters placed = counters_now();
   const unsigned map_nrs[] = { KFD_ALLOC, KFD_MAP };
   for (unsigned i = 0; i < 2; i++) {
      assert_int_equal(kfdsim_fail_next(map_nrs[i], 1, ENOMEM), 0);
      assert_int_not_equal(scratch_map(va, 2 * MIB, &map_res), 0);
      assert_counters(placed);
   }
   assert_int_equal(scratch_map(va, 2 * MIB, &map_res), 0);
   struct kfdsim_bo_info bo;
   assert_int_equal(kfdsim_bo_find(va, &bo), 0);

   /* hsaKmtUnmapMemoryToGPU at the mapping's detach: logged; the GPU may still reach
    * the range, so it never returns to the window, nor the window to the KFD window */
   assert_int_equal(kfdsim_fail_next(KFD_UNMAP, 1, EIO), 0);
   virgl_renderer_resource_unref(map_res);
   assert_int_equal(kfdsim_bo_find(va, &bo), 0);
   virgl_renderer_resource_unref(res);
   assert_int_equal(hsakmt_scratch_window_used(gpu, &window), 8 * MIB);
   assert_true(window > 0);
   uint64_t blob2 = hsakmt_guest_new_blob_id(&env.guest), va2;
   assert_int_equal(hsakmt_guest_alloc(&env.guest, gpu, SCRATCH, 8 * MIB, 0, blob2, &va2),
                    0);
   assert_true(va2 >= va + 8 * MIB || va2 + 8 * MIB <= va);
   uint32_t res2 = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_claim(&env.guest, res2, blob2, 0, 8 * MIB), 0);
   virgl_renderer_resource_unref(res2);
   kept_bos += kfdsim_live_bos() - before.bos;
   kept_window += hsakmt_test_window_used() - before.window;
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
      cmocka_unit_test(test_context_destroyed_with_everything_live),
      cmocka_unit_test(test_event_calls_fail),
      cmocka_unit_test(test_trap_and_queue_calls_fail),
      cmocka_unit_test(test_scratch_calls_fail),
   };
   return cmocka_run_group_tests(tests, setup, teardown);
}
