/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * KFD memory at fixed VAs (wire-protocol.md §2.4, §4.4, §5): OPEN_KFD, ALLOC, the
 * claiming CREATE_BLOB, resource_map at the allocation's VA, MAP/UNMAP, and teardown
 * on detach. On Debian's libhsakmt 5.2.3 this is its reserved-SVM mode, which cannot
 * work under AddressSanitizer (its shadow occupies the aperture's range), so the test
 * skips there and runs plain, under UBSan and under valgrind. On libhsakmt 6.x the
 * library places fixed addresses itself (native mode) and the test runs under ASan
 * too. Expectations that differ between the two say so.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hsakmt/hsakmt_va.h"
#include "hsakmt_test_env.h"
#include "kfdsim.h"
#include "test_hsakmt_library.h"

#define MIB          (1ull << 20)
#define GIB          (1ull << 30)
#define KFD_ALLOC_NR 0x16
#define KFD_MAP_NR   0x18

static struct hsakmt_test_env env;
static uint32_t gpu;
static uint64_t window_start, window_size;

static int
setup(void **state)
{
   hsakmt_test_env_start(&env);
   gpu = 1;
   assert_int_equal(hsakmt_guest_open_kfd(&env.guest, &window_start, &window_size), 0);
   return 0;
}

static int
teardown(void **state)
{
   hsakmt_test_env_stop(&env);
   uint64_t used;
   uint32_t extents;
   hsakmt_va_stats(&used, &extents);
   assert_int_equal(used, 0);
   return 0;
}

/* MAP_TO_GPU_NODES to the one GPU of the emulated topology. */
static int
map_nodes(uint64_t va, uint64_t size, uint64_t *gpu_va)
{
   return hsakmt_guest_map_to_gpu_nodes(&env.guest, 0, va, size, &gpu, 1, 0, gpu_va);
}

static void check_window_in_svm_aperture(void);

static void
test_window(void **state)
{
   assert_true(window_start && window_size);
   if (test_hsakmt_native_fixed_va()) {
      /* libhsakmt 6.x places fixed addresses anywhere: the window of §5.2 */
      assert_true(window_start >= HSAKMT_FIXED_VA_BASE &&
                  window_start + window_size <= (1ull << 47));
   } else {
      check_window_in_svm_aperture();
   }
   /* every context of the process gets the same window */
   struct hsakmt_guest other;
   assert_int_equal(hsakmt_guest_open(&other, 2, 5000), 0);
   uint64_t start, size;
   assert_int_equal(hsakmt_guest_open_kfd(&other, &start, &size), 0);
   assert_true(start == window_start && size == window_size);
   hsakmt_guest_close(&other);
}

/* On libhsakmt 5.2.3 the window is carved from the reserved SVM aperture. */
static void
check_window_in_svm_aperture(void)
{
   uint32_t args[2] = { gpu, 0 };
   struct hsakmt_query_info_rsp *rsp =
      hsakmt_guest_query(&env.guest, HSAKMT_QUERY_GET_NODE_PROP, args, 4, 0);
   uint32_t banks = rsp->node_props.num_memory_banks;
   args[1] = banks;
   rsp = hsakmt_guest_query(&env.guest, HSAKMT_QUERY_GET_NOD_MEM_PROP, args, 8,
                            424 + 32 * banks);
   const struct hsakmt_wire_memory_properties *mem = (const void *)((uint8_t *)rsp + 424);
   bool inside = false;
   for (uint32_t i = 0; i < banks; i++) {
      if (mem[i].heap_type == HSAKMT_HEAPTYPE_DEVICE_SVM)
         inside = window_start >= mem[i].virtual_base_address &&
                  window_start + window_size <=
                     mem[i].virtual_base_address + mem[i].size_in_bytes;
   }
   assert_true(inside);
}

static void
check_alloc_roundtrip(uint32_t node, uint32_t flags, uint64_t size, uint32_t map_info)
{
   unsigned bos = kfdsim_live_bos();
   uint64_t blob_id = hsakmt_guest_new_blob_id(&env.guest), va = 0;
   assert_int_equal(hsakmt_guest_alloc(&env.guest, node, flags, size, 0, blob_id, &va),
                    0);
   assert_true(va >= window_start && va + size <= window_start + window_size);
   uint32_t res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_claim(&env.guest, res, blob_id,
                                       VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE, size),
                    0);
   assert_int_equal(hsakmt_guest_claim(&env.guest, res + 1, blob_id,
                                       VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE, size),
                    -EINVAL); /* claim once */

   /* the VMM maps the blob at the allocation's VA: guest VA == host VA == GPU VA */
   void *map;
   uint64_t map_size;
   assert_int_equal(virgl_renderer_resource_map(res, &map, &map_size), 0);
   assert_true((uint64_t)(uintptr_t)map == va && map_size == size);
   uint32_t cache;
   assert_int_equal(virgl_renderer_resource_get_map_info(res, &cache), 0);
   assert_int_equal(cache, map_info);
   assert_int_equal(virgl_renderer_resource_map_fixed(res, map), -EOPNOTSUPP);
   memcpy(map, "written by the guest CPU", 25);

   /* AlternateVAGPU is passed through; 0 tells ROCr to use the CPU VA */
   uint64_t gpu_va = 1;
   assert_int_equal(map_nodes(va, size, &gpu_va), 0);
   assert_true(gpu_va == va || gpu_va == 0);
   char seen[25];
   assert_int_equal(kfdsim_gpu_read(va, seen, sizeof(seen)), 0);
   assert_memory_equal(seen, "written by the guest CPU", 25);
   assert_int_equal(hsakmt_guest_unmap_from_gpu(&env.guest, va), 0);
   assert_int_equal(virgl_renderer_resource_unmap(res), 0);
   virgl_renderer_resource_unref(res);
   assert_int_equal(kfdsim_live_bos(), bos);
}

static void
test_vram_roundtrip(void **state)
{
   check_alloc_roundtrip(gpu, HSAKMT_MEMFLAG_NON_PAGED | HSAKMT_MEMFLAG_HOST_ACCESS,
                         2 * MIB, VIRGL_RENDERER_MAP_CACHE_WC);
}

static void
test_system_memory_roundtrip(void **state)
{
   check_alloc_roundtrip(0, HSAKMT_MEMFLAG_HOST_ACCESS | HSAKMT_MEMFLAG_COARSE_GRAIN,
                         64 * 1024, VIRGL_RENDERER_MAP_CACHE_CACHED);
}

static void
test_gtt_roundtrip(void **state)
{
   check_alloc_roundtrip(0,
                         HSAKMT_MEMFLAG_NON_PAGED | HSAKMT_MEMFLAG_HOST_ACCESS |
                            HSAKMT_MEMFLAG_COARSE_GRAIN,
                         64 * 1024, VIRGL_RENDERER_MAP_CACHE_CACHED);
}

static void
test_fine_grained_system_memory(void **state)
{
   const uint32_t fine[] = { HSAKMT_MEMFLAG_HOST_ACCESS,
                             HSAKMT_MEMFLAG_HOST_ACCESS | HSAKMT_MEMFLAG_NON_PAGED };
   if (test_hsakmt_native_fixed_va()) {
      /* measured on libhsakmt 6.2.4: allocated, mapped, seen by the GPU and freed */
      for (int i = 0; i < 2; i++)
         check_alloc_roundtrip(0, fine[i], 64 * 1024, VIRGL_RENDERER_MAP_CACHE_CACHED);
      /* pageable memory near the GPU */
      check_alloc_roundtrip(gpu, HSAKMT_MEMFLAG_HOST_ACCESS, 64 * 1024,
                            VIRGL_RENDERER_MAP_CACHE_CACHED);
      return;
   }
   /* libhsakmt 5.2.3 would allocate it, then fail to map or free it (a leak) */
   unsigned bos = kfdsim_live_bos();
   uint64_t va;
   for (int i = 0; i < 2; i++)
      assert_int_equal(hsakmt_guest_alloc(&env.guest, 0, fine[i], 64 * 1024, 0,
                                          hsakmt_guest_new_blob_id(&env.guest), &va),
                       VKFD_STATUS_NOT_SUPPORTED);
   assert_int_equal(hsakmt_guest_alloc(&env.guest, gpu, HSAKMT_MEMFLAG_HOST_ACCESS,
                                       64 * 1024, 0, hsakmt_guest_new_blob_id(&env.guest),
                                       &va),
                    VKFD_STATUS_NOT_SUPPORTED); /* pageable memory near the GPU */
   assert_int_equal(kfdsim_live_bos(), bos);
}

static void
test_map_mem_to_gpu(void **state)
{
   uint64_t va, id = hsakmt_guest_new_blob_id(&env.guest);
   assert_int_equal(
      hsakmt_guest_alloc(&env.guest, gpu, HSAKMT_MEMFLAG_NON_PAGED, 2 * MIB, 0, id, &va),
      0);
   uint32_t res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_claim(&env.guest, res, id, 0, 2 * MIB), 0);
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_MAP_MEM_TO_GPU;
   req.map_to_gpu.memory_address = va + 4096;
   req.map_to_gpu.memory_size_in_bytes = 4096;
   assert_int_equal(hsakmt_guest_memory(&env.guest, &req, 0)->hdr.ret, 0);
   struct kfdsim_bo_info bo;
   assert_int_equal(kfdsim_bo_find(va, &bo), 0);
   assert_true(bo.mapped_gpus >= 1);
   /* a boolean of 2, and the scratch form on memory that is no scratch (§6.2 row 16) */
   req.map_to_gpu.need_create_bo = 2;
   assert_int_equal(hsakmt_guest_memory(&env.guest, &req, 0)->hdr.ret,
                    VKFD_STATUS_INVALID_PARAMETER);
   req.map_to_gpu.need_create_bo = 1;
   req.blob_id = hsakmt_guest_new_blob_id(&env.guest);
   assert_int_equal(hsakmt_guest_memory(&env.guest, &req, 0)->hdr.ret,
                    VKFD_STATUS_INVALID_PARAMETER);
   req.map_to_gpu.need_create_bo = 0;
   req.blob_id = 0;
   req.map_to_gpu.memory_address = va + 2 * MIB; /* past the end */
   assert_int_equal(hsakmt_guest_memory(&env.guest, &req, 0)->hdr.ret,
                    VKFD_STATUS_INVALID_PARAMETER);
   virgl_renderer_resource_unref(res);
}

static void
test_large_allocation_keeps_64bit_size(void **state)
{
   /* 6 GiB of VRAM: sizes must not be truncated to 32 bits anywhere */
   uint64_t size = 6 * GIB, blob_id = hsakmt_guest_new_blob_id(&env.guest), va;
   assert_int_equal(hsakmt_guest_alloc(&env.guest, gpu, HSAKMT_MEMFLAG_NON_PAGED, size, 0,
                                       blob_id, &va),
                    0);
   struct kfdsim_bo_info bo;
   assert_int_equal(kfdsim_bo_find(va, &bo), 0);
   assert_true(bo.size == size);
   uint32_t res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_claim(&env.guest, res, blob_id, 0, size + 4096),
                    -EINVAL); /* larger: refused */
   /* the refused claim destroyed the allocation: claim-once */
   assert_int_equal(kfdsim_bo_find(va, &bo), -ENOENT);

   blob_id = hsakmt_guest_new_blob_id(&env.guest);
   assert_int_equal(hsakmt_guest_alloc(&env.guest, gpu, HSAKMT_MEMFLAG_NON_PAGED, size, 0,
                                       blob_id, &va),
                    0);
   assert_int_equal(hsakmt_guest_claim(&env.guest, res, blob_id, 0, size), 0);
   uint64_t gpu_va;
   assert_int_equal(map_nodes(va + 5 * GIB, GIB, &gpu_va), 0);
   struct kfdsim_bo_info mapped;
   assert_int_equal(kfdsim_bo_find(va, &mapped), 0);
   assert_int_equal(mapped.mapped_gpus, 1);
   void *map;
   assert_int_equal(virgl_renderer_resource_map(res, &map, NULL),
                    -EINVAL); /* not mappable */
   virgl_renderer_resource_unref(res);
}

static void
test_alloc_refusals(void **state)
{
   uint64_t va, id = hsakmt_guest_new_blob_id(&env.guest);
   const uint32_t vram = HSAKMT_MEMFLAG_NON_PAGED;
   assert_int_equal(hsakmt_guest_alloc(&env.guest, gpu, vram, 0, 0, id, &va),
                    VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(hsakmt_guest_alloc(&env.guest, gpu, vram, 4097, 0, id, &va),
                    VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(hsakmt_guest_alloc(&env.guest, 77, vram, 4096, 0, id, &va),
                    VKFD_STATUS_INVALID_NODE_UNIT);
   assert_int_equal(
      hsakmt_guest_alloc(&env.guest, gpu, vram | (1u << 25), 4096, 0, id, &va),
      VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(hsakmt_guest_alloc(&env.guest, gpu, vram | HSAKMT_MEMFLAG_GDS_MEMORY,
                                       4096, 0, id, &va),
                    VKFD_STATUS_NOT_SUPPORTED);
   assert_int_equal(hsakmt_guest_alloc(&env.guest, gpu, vram | HSAKMT_MEMFLAG_NO_ADDRESS,
                                       4096, 0, id, &va),
                    VKFD_STATUS_NOT_SUPPORTED);
   assert_int_equal(hsakmt_guest_alloc(&env.guest, gpu, vram, 4096, 3, id, &va),
                    VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(hsakmt_guest_alloc(&env.guest, gpu, vram, 4096, 1024, id, &va),
                    VKFD_STATUS_INVALID_PARAMETER);
   /* blob ids: 0, wider than 32 bits, already pending */
   assert_int_equal(hsakmt_guest_alloc(&env.guest, gpu, vram, 4096, 0, 0, &va),
                    VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(hsakmt_guest_alloc(&env.guest, gpu, vram, 4096, 0, 1ull << 32, &va),
                    VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(hsakmt_guest_alloc(&env.guest, gpu, vram, 2 * MIB, 0, id, &va), 0);
   assert_int_equal(hsakmt_guest_alloc(&env.guest, gpu, vram, 2 * MIB, 0, id, &va),
                    VKFD_STATUS_INVALID_PARAMETER);
   /* a MAPPABLE blob of memory without host access, then a blob id never issued */
   uint32_t res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_claim(&env.guest, res, id,
                                       VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE, 2 * MIB),
                    -EINVAL);
   assert_int_equal(hsakmt_guest_claim(&env.guest, res, 999999, 0, 4096), -EINVAL);
   assert_int_equal(hsakmt_guest_claim(&env.guest, res, 1ull << 40, 0, 4096), -EINVAL);
}

static void
test_addresses_must_be_own_objects(void **state)
{
   uint64_t a, b, gpu_va;
   uint64_t ida = hsakmt_guest_new_blob_id(&env.guest),
            idb = hsakmt_guest_new_blob_id(&env.guest);
   assert_int_equal(
      hsakmt_guest_alloc(&env.guest, gpu, HSAKMT_MEMFLAG_NON_PAGED, 2 * MIB, 0, ida, &a),
      0);
   assert_int_equal(
      hsakmt_guest_alloc(&env.guest, gpu, HSAKMT_MEMFLAG_NON_PAGED, 2 * MIB, 0, idb, &b),
      0);
   uint32_t res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_claim(&env.guest, res, ida, 0, 2 * MIB), 0);
   assert_int_equal(hsakmt_guest_claim(&env.guest, res + 1, idb, 0, 2 * MIB), 0);
   env.guest.next_res_id++;
   /* straddling two allocations, running past the end, outside the window */
   uint64_t lo = a < b ? a : b;
   assert_int_equal(map_nodes(lo + MIB, 2 * MIB, &gpu_va), VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(map_nodes(a, 4 * MIB, &gpu_va), VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(map_nodes(0x1000, 4096, &gpu_va), VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(hsakmt_guest_unmap_from_gpu(&env.guest, a + 4096),
                    VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(hsakmt_guest_unmap_from_gpu(&env.guest, a),
                    0); /* not mapped: ROCr does this */

   /* another context cannot map, unmap or claim this context's memory */
   struct hsakmt_guest other;
   assert_int_equal(hsakmt_guest_open(&other, 2, 5000), 0);
   uint8_t buffer[320] = { 0 };
   struct hsakmt_memory_req *req = (struct hsakmt_memory_req *)buffer;
   req->type = HSAKMT_MEMORY_MAP_TO_GPU_NODES;
   req->map_to_gpu_nodes.memory_address = a;
   req->map_to_gpu_nodes.memory_size_in_bytes = 4096;
   req->map_to_gpu_nodes.number_of_nodes = 1;
   memcpy(buffer + HSAKMT_MEMORY_PAYLOAD_OFFSET, &gpu, 4);
   assert_int_equal(hsakmt_guest_memory(&other, req, 320)->hdr.ret,
                    VKFD_STATUS_INVALID_PARAMETER);
   hsakmt_guest_close(&other);
   virgl_renderer_resource_unref(res);
   virgl_renderer_resource_unref(res + 1);
}

static void
test_failures_leave_nothing(void **state)
{
   unsigned bos = kfdsim_live_bos();
   uint64_t va, gpu_va, id = hsakmt_guest_new_blob_id(&env.guest);
   uint64_t used_before, used;
   uint32_t extents;
   hsakmt_va_stats(&used_before, &extents);

   assert_int_equal(kfdsim_fail_next(KFD_ALLOC_NR, 1, ENOMEM), 0);
   assert_true(hsakmt_guest_alloc(&env.guest, gpu, HSAKMT_MEMFLAG_NON_PAGED, 2 * MIB, 0,
                                  id, &va) != 0);
   assert_int_equal(kfdsim_live_bos(), bos);
   hsakmt_va_stats(&used, &extents);
   assert_true(used == used_before); /* the VA went back to the window */

   assert_int_equal(kfdsim_fail_next(KFDSIM_NR_MMAP, 1, ENOMEM), 0);
   assert_true(hsakmt_guest_alloc(&env.guest, gpu,
                                  HSAKMT_MEMFLAG_NON_PAGED | HSAKMT_MEMFLAG_HOST_ACCESS,
                                  2 * MIB, 0, id, &va) != 0);
   kfdsim_fail_clear();
   assert_int_equal(kfdsim_live_bos(), bos);

   assert_int_equal(
      hsakmt_guest_alloc(&env.guest, gpu, HSAKMT_MEMFLAG_NON_PAGED, 2 * MIB, 0, id, &va),
      0);
   uint32_t res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_claim(&env.guest, res, id, 0, 2 * MIB), 0);
   assert_int_equal(kfdsim_fail_next(KFD_MAP_NR, 1, ENOMEM), 0);
   assert_true(map_nodes(va, 2 * MIB, &gpu_va) != 0);
   assert_int_equal(map_nodes(va, 2 * MIB, &gpu_va), 0);
   virgl_renderer_resource_unref(res);
   assert_int_equal(kfdsim_live_bos(), bos);
}

static void
test_context_destroy_frees_everything(void **state)
{
   struct hsakmt_guest other;
   assert_int_equal(hsakmt_guest_open(&other, 3, 7000), 0);
   unsigned bos = kfdsim_live_bos();
   uint64_t start, size, va;
   assert_int_equal(hsakmt_guest_open_kfd(&other, &start, &size), 0);
   struct hsakmt_memory_req req;
   for (int i = 0; i < 3; i++) {
      memset(&req, 0, sizeof(req));
      req.type = HSAKMT_MEMORY_ALLOC;
      req.blob_id = hsakmt_guest_new_blob_id(&other);
      req.alloc.preferred_node = gpu;
      req.alloc.mem_flags = HSAKMT_MEMFLAG_NON_PAGED;
      req.alloc.size_in_bytes = 2 * MIB;
      assert_int_equal(hsakmt_guest_memory(&other, &req, 0)->hdr.ret, 0);
      va = hsakmt_guest_memory(&other, &req, 0)->memory_handle; /* same id: refused */
      (void)va;
   }
   assert_true(kfdsim_live_bos() == bos + 3);
   /* one claimed, two still pending: destroy frees the pending ones */
   struct virgl_renderer_resource_create_blob_args args = {
      .res_handle = 7500,
      .ctx_id = 3,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
      .blob_id = 1,
      .size = 2 * MIB,
   };
   assert_int_equal(virgl_renderer_resource_create_blob(&args), 0);
   hsakmt_guest_close(&other);
   /* the claimed one is the resource's now: it goes with the unref (§4.1) */
   assert_int_equal(kfdsim_live_bos(), bos + 1);
   virgl_renderer_resource_unref(7500);
   assert_int_equal(kfdsim_live_bos(), bos);
}

int
main(void)
{
#if defined(__SANITIZE_ADDRESS__)
   if (!test_hsakmt_native_fixed_va()) {
      printf("SKIP: libhsakmt 5.2.3's reserved SVM aperture must lie below 2^40, where "
             "AddressSanitizer keeps its shadow memory\n");
      return 77;
   }
#endif
   printf("on %s\n", test_hsakmt_library_name());
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
   const struct CMUnitTest tests[] = {
      T(test_window),
      T(test_vram_roundtrip),
      T(test_system_memory_roundtrip),
      T(test_gtt_roundtrip),
      T(test_fine_grained_system_memory),
      T(test_map_mem_to_gpu),
      T(test_large_allocation_keeps_64bit_size),
      T(test_alloc_refusals),
      T(test_addresses_must_be_own_objects),
      T(test_failures_leave_nothing),
      T(test_context_destroy_frees_everything),
   };
#undef T
   return cmocka_run_group_tests_name("hsakmt-memory", tests, NULL, NULL);
}
