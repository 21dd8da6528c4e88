/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * HSA_RESERVE_SVM and the VMM's environment (README "Run-time configuration").
 * libhsakmt 5.2.3 places fixed addresses only with the variable set while it opens
 * KFD. virtkfd may write it only while the process has one thread; a VMM has more,
 * whose getenv would race with setenv. Three runs:
 * - "alone": one thread: virtkfd sets the variable for the open and removes it;
 * - "threads": another thread keeps reading the environment: virtkfd must not
 *   write it (the reader never sees the variable), so on 5.2.3 there are no fixed
 *   addresses (ALLOC answers NO_MEMORY) and the log says what to set;
 * - "given": the VMM's environment has HSA_RESERVE_SVM=1: fixed addresses work
 *   with a thread reading the environment, inside the reserved aperture, on either
 *   library, and the variable stays as it was.
 * The reserved aperture cannot exist under ASan: the runs that need it skip there.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hsakmt_test_env.h"
#include "kfd/vkfd_kfd.h"
#include "kfdsim.h"
#include "test_hsakmt_library.h"

static struct hsakmt_test_env env;
static const char *run = "alone";

/* Another thread of the "VMM", reading the environment the whole time. */
static struct {
   pthread_t thread;
   atomic_bool stop;
   atomic_bool saw_variable;
   atomic_ulong reads;
} reader;

static void *
read_environment(void *unused)
{
   while (!atomic_load(&reader.stop)) {
      if (getenv("HSA_RESERVE_SVM"))
         atomic_store(&reader.saw_variable, true);
      atomic_fetch_add(&reader.reads, 1);
      /* valgrind runs one thread at a time: let the main one on */
      sched_yield();
   }
   return NULL;
}

static int
alloc_vram(uint64_t *va)
{
   uint64_t hint = 0x7f0000001000ull;
   struct hsakmt_query_info_rsp *opened =
      hsakmt_guest_query(&env.guest, HSAKMT_QUERY_OPEN_KFD, &hint, sizeof(hint), 0);
   assert_int_equal(opened->hdr.ret, 0);
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_ALLOC;
   req.blob_id = hsakmt_guest_new_blob_id(&env.guest);
   req.alloc.preferred_node = 1;
   req.alloc.mem_flags = HSAKMT_MEMFLAG_NON_PAGED;
   req.alloc.size_in_bytes = 2u << 20;
   struct hsakmt_memory_rsp *rsp = hsakmt_guest_memory(&env.guest, &req, 0);
   *va = rsp->memory_handle;
   if (!rsp->hdr.ret) {
      /* claimed and released, so that the teardown finds nothing left */
      struct virgl_renderer_resource_create_blob_args args = {
         .res_handle = hsakmt_guest_new_res_id(&env.guest),
         .ctx_id = env.guest.ctx_id,
         .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
         .blob_id = req.blob_id,
         .size = 2u << 20,
      };
      assert_int_equal(virgl_renderer_resource_create_blob(&args), 0);
      virgl_renderer_resource_unref(args.res_handle);
   }
   return rsp->hdr.ret;
}

static void
test_environment_and_fixed_addresses(void **state)
{
   const char *given = getenv("HSA_RESERVE_SVM");
   bool threads = strcmp(run, "alone") != 0;
   if (threads) {
      assert_int_equal(pthread_create(&reader.thread, NULL, read_environment, NULL), 0);
      while (!atomic_load(&reader.reads))
         sched_yield(); /* reading before KFD opens */
   }
   /* the renderer opens KFD at init and again for the context */
   hsakmt_test_env_start(&env);
   uint64_t va = 0;
   int status = alloc_vram(&va);
   struct vkfd_kfd_va_info info;
   vkfd_kfd_va_info(&info);
   hsakmt_test_env_stop(&env);
   if (threads) {
      atomic_store(&reader.stop, true);
      pthread_join(reader.thread, NULL);
   }

   if (!strcmp(run, "given")) {
      /* the VMM's value decides, on either library, and stays */
      assert_int_equal(status, 0);
      assert_int_equal(info.mode, VKFD_KFD_VA_RESERVED_SVM);
      assert_non_null(getenv("HSA_RESERVE_SVM"));
      assert_string_equal(getenv("HSA_RESERVE_SVM"), given);
      return;
   }
   /* never written where a thread could see it, and gone afterwards */
   assert_null(getenv("HSA_RESERVE_SVM"));
   assert_false(atomic_load(&reader.saw_variable));
   if (test_hsakmt_native_fixed_va()) {
      assert_int_equal(status, 0);
      assert_int_equal(info.mode, VKFD_KFD_VA_NATIVE);
   } else if (threads) {
      /* 5.2.3 without the variable: no fixed addresses (the log says what to set) */
      assert_int_equal(status, VKFD_STATUS_NO_MEMORY);
      assert_int_equal(info.mode, VKFD_KFD_VA_NONE);
   } else {
      assert_int_equal(status, 0);
      assert_int_equal(info.mode, VKFD_KFD_VA_RESERVED_SVM);
   }
}

int
main(int argc, char **argv)
{
   if (argc > 1)
      run = argv[1];
#if defined(__SANITIZE_ADDRESS__)
   if (!strcmp(run, "given") ||
       (!test_hsakmt_native_fixed_va() && !strcmp(run, "alone"))) {
      printf("SKIP: the reserved SVM aperture must lie below 2^40, where "
             "AddressSanitizer keeps its shadow memory\n");
      return 77;
   }
#endif
   printf("on %s, run \"%s\"\n", test_hsakmt_library_name(), run);
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_environment_and_fixed_addresses),
   };
   return cmocka_run_group_tests_name("hsakmt-reserve-env", tests, NULL, NULL);
}
