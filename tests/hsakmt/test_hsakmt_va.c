/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The KFD VA window in its two placements (design.md "The VA window"):
 * - "exhaustion": a 32 MiB window (VIRTKFD_VA_WINDOW_SIZE), in libhsakmt 5.2.3's
 *   reserved aperture or, on libhsakmt 6.x, placed natively; allocations fail
 *   cleanly when it is full and succeed again once memory is released. The reserved
 *   mode cannot work under ASan: there it skips.
 * - "unreserved": VIRTKFD_KFD_VA_MODE=none, the mode a host library without fixed
 *   addresses ends up in: the window is reserved at 16 TiB (or the next free 256 GiB
 *   step), ALLOC answers NO_MEMORY, everything else works. Runs everywhere.
 * Also AVAIL_MEM and SET_MEM_POLICY, whose checks need the window.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "hsakmt/hsakmt_va.h"
#include "hsakmt_test_env.h"
#include "kfdsim.h"
#include "test_hsakmt_library.h"

#define MIB (1ull << 20)

static struct hsakmt_test_env env;
static const uint32_t gpu = 1;

static int
setup(void **state)
{
   hsakmt_test_env_start(&env);
   return 0;
}

static int
teardown(void **state)
{
   hsakmt_test_env_stop(&env);
   return 0;
}

static int
open_kfd(uint64_t *start, uint64_t *size)
{
   uint64_t hint = 0x5555aaaa0000ull;
   struct hsakmt_query_info_rsp *rsp =
      hsakmt_guest_query(&env.guest, HSAKMT_QUERY_OPEN_KFD, &hint, sizeof(hint), 0);
   *start = rsp->open_kfd.vm_start;
   *size = rsp->open_kfd.vm_size;
   return rsp->hdr.ret;
}

static int
alloc_vram(uint64_t size, uint64_t blob_id, uint64_t *va)
{
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_ALLOC;
   req.blob_id = blob_id;
   req.alloc.preferred_node = gpu;
   req.alloc.mem_flags = HSAKMT_MEMFLAG_NON_PAGED;
   req.alloc.size_in_bytes = size;
   struct hsakmt_memory_rsp *rsp = hsakmt_guest_memory(&env.guest, &req, 0);
   *va = rsp->memory_handle;
   return rsp->hdr.ret;
}

static void
test_window_exhaustion(void **state)
{
   uint64_t start, size, va;
   assert_int_equal(open_kfd(&start, &size), 0);
   assert_true(size == 32 * MIB);
   uint32_t res = 100, count = 0;
   unsigned bos = kfdsim_live_bos();
   for (;;) {
      uint64_t id = hsakmt_guest_new_blob_id(&env.guest);
      int status = alloc_vram(2 * MIB, id, &va);
      if (status) {
         assert_int_equal(status, VKFD_STATUS_NO_MEMORY);
         break;
      }
      struct virgl_renderer_resource_create_blob_args args = {
         .res_handle = res + count,
         .ctx_id = 1,
         .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
         .blob_id = id,
         .size = 2 * MIB,
      };
      assert_int_equal(virgl_renderer_resource_create_blob(&args), 0);
      assert_true(++count < 64);
   }
   if (test_hsakmt_native_fixed_va()) {
      /* libhsakmt 6.x keeps no guard page after a fixed allocation: 2 MiB apiece */
      assert_int_equal(count, 16);
   } else {
      /* 2 MiB aligned and each followed by libhsakmt 5.2.3's guard page: 4 MiB apiece */
      assert_true(count >= 7 && count <= 8);
   }
   assert_int_equal(kfdsim_live_bos(), bos + count); /* the failure left nothing */
   virgl_renderer_resource_unref(res + 3);
   uint64_t id = hsakmt_guest_new_blob_id(&env.guest);
   assert_int_equal(alloc_vram(2 * MIB, id, &va), 0);
   struct virgl_renderer_resource_create_blob_args again = {
      .res_handle = res + 3,
      .ctx_id = 1,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
      .blob_id = id,
      .size = 2 * MIB,
   };
   assert_int_equal(virgl_renderer_resource_create_blob(&again), 0);
   for (uint32_t i = 0; i < count; i++)
      virgl_renderer_resource_unref(res + i);
}

static void
test_unreserved_window(void **state)
{
   uint64_t start, size, va;
   assert_int_equal(open_kfd(&start, &size), 0);
   /* 16 TiB, or a 256 GiB step above it (ASan's shadow reaches past 16 TiB) */
   assert_true(start >= HSAKMT_FIXED_VA_BASE &&
               (start - HSAKMT_FIXED_VA_BASE) % (256ull << 30) == 0);
   assert_true(size > 0);
   /* held PROT_NONE for the guest's reservation to mirror: nothing can land there */
   assert_true(test_range_mapped((uintptr_t)start, 4096));
   assert_int_equal(alloc_vram(2 * MIB, hsakmt_guest_new_blob_id(&env.guest), &va),
                    VKFD_STATUS_NO_MEMORY);
}

static void
test_available_memory(void **state)
{
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_AVAIL_MEM;
   req.node = gpu;
   struct hsakmt_memory_rsp *rsp = hsakmt_guest_memory(&env.guest, &req, 0);
   assert_int_equal(rsp->hdr.ret, 0);
   assert_true(rsp->memory_handle > 0);
   req.node = 0; /* the CPU node has no VRAM */
   assert_int_equal(hsakmt_guest_memory(&env.guest, &req, 0)->hdr.ret,
                    VKFD_STATUS_INVALID_NODE_UNIT);
   req.node = UINT32_MAX;
   assert_int_equal(hsakmt_guest_memory(&env.guest, &req, 0)->hdr.ret,
                    VKFD_STATUS_INVALID_NODE_UNIT);
}

static int
set_policy(uint32_t node, uint32_t def, uint32_t alt, uint64_t address, uint64_t size)
{
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_SET_MEM_POLICY;
   req.set_mem_policy.node = node;
   req.set_mem_policy.default_policy = def;
   req.set_mem_policy.alternate_policy = alt;
   req.set_mem_policy.memory_address_alternate = address;
   req.set_mem_policy.memory_size_in_bytes = size;
   return hsakmt_guest_memory(&env.guest, &req, 0)->hdr.ret;
}

static void
test_memory_policy(void **state)
{
   uint64_t start, size;
   assert_int_equal(open_kfd(&start, &size), 0);
   assert_int_equal(set_policy(0, 1, 0, 0, 0), VKFD_STATUS_INVALID_NODE_UNIT);
   assert_int_equal(set_policy(gpu, 2, 0, 0, 0), VKFD_STATUS_INVALID_PARAMETER);
   /* hostile-inputs ccmd item 5: padding must be zero */
   struct hsakmt_memory_req padded;
   memset(&padded, 0, sizeof(padded));
   padded.type = HSAKMT_MEMORY_SET_MEM_POLICY;
   padded.set_mem_policy.node = gpu;
   padded.set_mem_policy.default_policy = 1;
   padded.set_mem_policy.pad = 1;
   assert_int_equal(hsakmt_guest_memory(&env.guest, &padded, 0)->hdr.ret,
                    VKFD_STATUS_INVALID_PARAMETER);
   /* an alternate aperture over host memory outside the window */
   assert_int_equal(set_policy(gpu, 1, 0, (uint64_t)(uintptr_t)&env, 4096),
                    VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(set_policy(gpu, 1, 0, start + size - 4096, 8192),
                    VKFD_STATUS_INVALID_PARAMETER);
   int status = set_policy(gpu, 1, 0, 0, 0);
   /* passed through: 5.2.3 implements memory policies for APUs only (NOT_IMPLEMENTED) */
   assert_true(status == 0 || status == VKFD_STATUS_NOT_IMPLEMENTED);
   struct hsakmt_guest other;
   assert_int_equal(hsakmt_guest_open(&other, 2, 5000), 0);
   assert_int_equal(set_policy(gpu, 1, 0, 0, 0), VKFD_STATUS_NOT_SUPPORTED);
   hsakmt_guest_close(&other);
}

int
main(int argc, char **argv)
{
   const char *group = argc > 1 ? argv[1] : "";
   if (!strcmp(group, "exhaustion")) {
#if defined(__SANITIZE_ADDRESS__)
      if (!test_hsakmt_native_fixed_va()) {
         printf("SKIP: libhsakmt 5.2.3's reserved SVM aperture must lie below 2^40, "
                "where AddressSanitizer keeps its shadow memory\n");
         return 77;
      }
#endif
      printf("on %s\n", test_hsakmt_library_name());
      const struct CMUnitTest tests[] = {
         cmocka_unit_test_setup_teardown(test_window_exhaustion, setup, teardown),
      };
      return cmocka_run_group_tests_name("hsakmt-va-exhaustion", tests, NULL, NULL);
   }
   const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_unreserved_window, setup, teardown),
      cmocka_unit_test_setup_teardown(test_available_memory, setup, teardown),
      cmocka_unit_test_setup_teardown(test_memory_policy, setup, teardown),
   };
   return cmocka_run_group_tests_name("hsakmt-va-unreserved", tests, NULL, NULL);
}
