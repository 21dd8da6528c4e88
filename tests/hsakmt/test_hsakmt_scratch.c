/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Scratch (wire-protocol.md §4.4 "Scratch", §2.4 MAP_MEM_TO_GPU, §6.2 row 16) on the
 * real libhsakmt and the KFD emulator: the node's window is one libhsakmt Scratch
 * allocation shared by every context, placed at the first need and given back with
 * the last user; a context's ALLOC is a sub-range of it, within the context's share;
 * MAP_MEM_TO_GPU with need_create_bo maps part of such a sub-range (the emulated KFD
 * backs it with VRAM) and nothing else; a sub-range stays out of the window while
 * part of it may still be mapped, whatever the order of the guest's releases.
 *
 * Scratch lives in the fixed-address window, which ASan builds do not have.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hsakmt/hsakmt_scratch.h"
#include "hsakmt_test_env.h"
#include "kfdsim.h"

#define MIB            (1ull << 20)
#define GIB            (1ull << 30)
#define CTX_B          2
#define KFD_SCRATCH_VA 0x11
#define KFD_MAP        0x18
#define SCRATCH        (HSAKMT_MEMFLAG_SCRATCH | HSAKMT_MEMFLAG_HOST_ACCESS)

static struct hsakmt_test_env env;
static struct hsakmt_guest b;
static uint32_t gpu = 1;

static int
setup(void **state)
{
   hsakmt_test_env_start(&env);
   uint64_t start, size;
   assert_int_equal(hsakmt_guest_open_kfd(&env.guest, &start, &size), 0);
   assert_int_equal(hsakmt_guest_open(&b, CTX_B, 5000), 0);
   assert_int_equal(hsakmt_guest_open_kfd(&b, &start, &size), 0);
   return 0;
}

static int
teardown(void **state)
{
   hsakmt_guest_close(&b);
   uint64_t window;
   assert_int_equal(hsakmt_scratch_window_used(gpu, &window), 0);
   assert_int_equal(window, 0); /* the last user gave the window back */
   hsakmt_test_env_stop(&env);
   return 0;
}

/* A scratch ALLOC and its blob (flags 0, as the guest makes it). */
static int
scratch_alloc(struct hsakmt_guest *guest, uint64_t size, uint64_t *va, uint32_t *res)
{
   uint64_t blob_id = hsakmt_guest_new_blob_id(guest);
   int ret = hsakmt_guest_alloc(guest, gpu, SCRATCH, size, 0, blob_id, va);
   if (ret)
      return ret;
   *res = hsakmt_guest_new_res_id(guest);
   return hsakmt_guest_claim(guest, *res, blob_id, 0, size);
}

/* MAP_MEM_TO_GPU with need_create_bo, then its blob; rsp.ret or the claim's result. */
static int
scratch_map(struct hsakmt_guest *guest, uint64_t va, uint64_t size, uint32_t *res)
{
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_MAP_MEM_TO_GPU;
   req.blob_id = hsakmt_guest_new_blob_id(guest);
   req.map_to_gpu.memory_address = va;
   req.map_to_gpu.memory_size_in_bytes = size;
   req.map_to_gpu.need_create_bo = 1;
   struct hsakmt_memory_rsp *rsp = hsakmt_guest_memory(guest, &req, 0);
   if (rsp->hdr.ret)
      return rsp->hdr.ret;
   assert_int_equal(rsp->memory_handle, va);
   *res = hsakmt_guest_new_res_id(guest);
   return hsakmt_guest_claim(guest, *res, req.blob_id, 0, size);
}

static void
test_scratch_window_and_mapping(void **state)
{
   uint64_t window, va;
   uint32_t res, map_res;
   unsigned bos = kfdsim_live_bos();
   uint64_t vram = kfdsim_vram_used();
   uint64_t backings = kfdsim_ioctl_count(KFD_SCRATCH_VA);
   assert_int_equal(scratch_alloc(&env.guest, 64 * MIB, &va, &res), 0);
   /* the first scratch of the node placed the window: one libhsakmt allocation */
   assert_int_equal(hsakmt_scratch_window_used(gpu, &window), 64 * MIB);
   assert_true(window >= 5 * hsakmt_scratch_context_share(gpu));
   assert_int_equal(kfdsim_ioctl_count(KFD_SCRATCH_VA), backings + 1);
   hsakmt_test_assert_no_host_address(va, 64 * MIB, "scratch VA");
   /* a scratch blob is never mapped for the CPU */
   void *map;
   assert_int_equal(virgl_renderer_resource_map(res, &map, NULL), -EINVAL);

   /* a mapping of part of it is backed with VRAM and reached by the GPU */
   assert_int_equal(scratch_map(&env.guest, va + 2 * MIB, 4 * MIB, &map_res), 0);
   struct kfdsim_bo_info bo;
   assert_int_equal(kfdsim_bo_find(va + 2 * MIB, &bo), 0);
   assert_int_equal(bo.va, va + 2 * MIB);
   assert_int_equal(bo.size, 4 * MIB);
   assert_true(bo.mapped_gpus >= 1);
   assert_int_equal(kfdsim_vram_used(), vram + 4 * MIB);
   uint32_t pattern = 0x5c5c5c5cu, back = 0;
   assert_int_equal(kfdsim_gpu_write(va + 3 * MIB, &pattern, 4), 0);
   assert_int_equal(kfdsim_gpu_read(va + 3 * MIB, &back, 4), 0);
   assert_int_equal(back, pattern);

   /* the mapping's detach unmaps it; the ALLOC's detach gives the window back */
   virgl_renderer_resource_unref(map_res);
   assert_int_equal(kfdsim_bo_find(va + 2 * MIB, &bo), -ENOENT);
   assert_int_equal(kfdsim_vram_used(), vram);
   virgl_renderer_resource_unref(res);
   assert_int_equal(hsakmt_scratch_window_used(gpu, &window), 0);
   assert_int_equal(window, 0);
   assert_int_equal(kfdsim_live_bos(), bos);
}

static void
test_mappings_limited_to_own_scratch(void **state)
{
   uint64_t va, other_va, kfd_va;
   uint32_t res, other_res, map_res, kfd_res;
   assert_int_equal(scratch_alloc(&env.guest, 16 * MIB, &va, &res), 0);
   assert_int_equal(scratch_alloc(&b, 16 * MIB, &other_va, &other_res), 0);
   uint64_t blob_id = hsakmt_guest_new_blob_id(&env.guest);
   assert_int_equal(hsakmt_guest_alloc(&env.guest, gpu, HSAKMT_MEMFLAG_NON_PAGED, 2 * MIB,
                                       0, blob_id, &kfd_va),
                    0);
   kfd_res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_claim(&env.guest, kfd_res, blob_id, 0, 2 * MIB), 0);
   uint64_t maps = kfdsim_ioctl_count(KFD_MAP);

   const struct {
      uint64_t va, size;
   } refused[] = {
      { other_va, 2 * MIB },               /* another context's scratch */
      { kfd_va, 2 * MIB },                 /* KFD memory, not scratch */
      { va + 14 * MIB, 4 * MIB },          /* runs past the end */
      { va - 2 * MIB, 4 * MIB },           /* starts before it */
      { va + 4096 + 1, 4096 },             /* not page aligned */
      { va, 0 },                           /* empty */
      { ~0ull - 4095, 8192 },              /* wraps */
      { (uint64_t)(uintptr_t)&env, 4096 }, /* host memory */
   };
   for (unsigned i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
      print_message("refused scratch mapping %u\n", i);
      assert_int_equal(scratch_map(&env.guest, refused[i].va, refused[i].size, &map_res),
                       VKFD_STATUS_INVALID_PARAMETER);
   }
   assert_int_equal(kfdsim_ioctl_count(KFD_MAP), maps);
   /* an overlap with a mapping the context has */
   assert_int_equal(scratch_map(&env.guest, va, 4 * MIB, &map_res), 0);
   uint32_t second;
   assert_int_equal(scratch_map(&env.guest, va + 2 * MIB, 4 * MIB, &second),
                    VKFD_STATUS_INVALID_PARAMETER);
   /* blob id and boolean checks */
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_MAP_MEM_TO_GPU;
   req.map_to_gpu.memory_address = va + 8 * MIB;
   req.map_to_gpu.memory_size_in_bytes = 4096;
   req.map_to_gpu.need_create_bo = 1;
   assert_int_equal(hsakmt_guest_memory(&env.guest, &req, 0)->hdr.ret,
                    VKFD_STATUS_INVALID_PARAMETER); /* blob id 0 */
   req.blob_id = hsakmt_guest_new_blob_id(&env.guest);
   req.map_to_gpu.pad[2] = 1;
   assert_int_equal(hsakmt_guest_memory(&env.guest, &req, 0)->hdr.ret,
                    VKFD_STATUS_INVALID_PARAMETER);

   virgl_renderer_resource_unref(map_res);
   virgl_renderer_resource_unref(kfd_res);
   virgl_renderer_resource_unref(other_res);
   virgl_renderer_resource_unref(res);
}

static void
test_alloc_refusals(void **state)
{
   uint64_t va;
   uint32_t res;
   uint64_t id = hsakmt_guest_new_blob_id(&env.guest);
   assert_int_equal(hsakmt_guest_alloc(&env.guest, 0, SCRATCH, 2 * MIB, 0, id, &va),
                    VKFD_STATUS_INVALID_NODE_UNIT); /* the CPU node */
   assert_int_equal(hsakmt_guest_alloc(&env.guest, gpu, SCRATCH, 4097, 0, id, &va),
                    VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(hsakmt_guest_alloc(&env.guest, gpu, SCRATCH, 4096, 3, id, &va),
                    VKFD_STATUS_INVALID_PARAMETER);
   /* one context's share of a node: a fifth of the window (4 GiB per XCC where the
    * KFD window has room for a window of 20 GiB) */
   uint64_t share = hsakmt_scratch_context_share(gpu);
   assert_true(share >= 64 * MIB);
   assert_int_equal(
      hsakmt_guest_alloc(&env.guest, gpu, SCRATCH, share + 65536, 0, id, &va),
      VKFD_STATUS_NO_MEMORY);
   uint64_t most = share / 4 * 3, rest = share - most + 65536;
   assert_int_equal(scratch_alloc(&env.guest, most, &va, &res), 0);
   uint64_t more = hsakmt_guest_new_blob_id(&env.guest), va2;
   assert_int_equal(hsakmt_guest_alloc(&env.guest, gpu, SCRATCH, rest, 0, more, &va2),
                    VKFD_STATUS_NO_MEMORY);
   /* another context has a share of its own */
   uint32_t res_b;
   assert_int_equal(scratch_alloc(&b, rest, &va2, &res_b), 0);
   assert_true(va2 >= va + most || va2 + rest <= va);
   virgl_renderer_resource_unref(res_b);
   virgl_renderer_resource_unref(res);
}

static void
test_range_waits_for_its_mappings(void **state)
{
   uint64_t va, window;
   uint32_t res, map_res;
   assert_int_equal(scratch_alloc(&env.guest, 8 * MIB, &va, &res), 0);
   assert_int_equal(scratch_map(&env.guest, va, 8 * MIB, &map_res), 0);
   /* the guest lets go of the ALLOC first: the mapping and its range stay */
   virgl_renderer_resource_unref(res);
   assert_int_equal(hsakmt_scratch_window_used(gpu, &window), 8 * MIB);
   struct kfdsim_bo_info bo;
   assert_int_equal(kfdsim_bo_find(va, &bo), 0);
   /* no new mapping of it, and no other context gets the range meanwhile */
   uint32_t again;
   assert_int_equal(scratch_map(&env.guest, va + 8 * MIB - 4096, 4096, &again),
                    VKFD_STATUS_INVALID_PARAMETER);
   uint64_t va_b;
   uint32_t res_b;
   assert_int_equal(scratch_alloc(&b, 8 * MIB, &va_b, &res_b), 0);
   assert_true(va_b >= va + 8 * MIB || va_b + 8 * MIB <= va);
   virgl_renderer_resource_unref(map_res);
   assert_int_equal(kfdsim_bo_find(va, &bo), -ENOENT);
   assert_int_equal(hsakmt_scratch_window_used(gpu, &window), 8 * MIB);
   virgl_renderer_resource_unref(res_b);
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
      cmocka_unit_test(test_scratch_window_and_mapping),
      cmocka_unit_test(test_mappings_limited_to_own_scratch),
      cmocka_unit_test(test_alloc_refusals),
      cmocka_unit_test(test_range_waits_for_its_mappings),
   };
   return cmocka_run_group_tests(tests, setup, teardown);
}
