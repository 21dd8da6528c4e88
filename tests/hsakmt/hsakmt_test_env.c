/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "hsakmt_test_env.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "hsakmt/hsakmt_va.h"
#include "hsakmt_guest_compute.h"
#include "kfdsim.h"

int
hsakmt_test_count_maps(void)
{
   FILE *maps = fopen("/proc/self/maps", "re");
   if (!maps)
      return -1;
   int lines = 0, c;
   while ((c = fgetc(maps)) != EOF)
      lines += c == '\n';
   fclose(maps);
   return lines;
}

void
hsakmt_test_assert_no_host_address(uint64_t value, uint64_t size, const char *what)
{
   uint64_t start, window, end = value + size;
   if (end < value)
      end = UINT64_MAX;
   if (hsakmt_va_window_bounds(&start, &window) && value >= start &&
       end <= start + window)
      return;
   FILE *maps = fopen("/proc/self/maps", "re");
   assert_non_null(maps);
   char line[512];
   while (fgets(line, sizeof(line), maps)) {
      unsigned long lo, hi;
      char perms[8];
      if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3)
         continue;
      if (lo < end && value < hi && perms[0] == 'r') {
         fclose(maps);
         fail_msg("%s 0x%llx+0x%llx is readable host memory outside the KFD window: %s",
                  what, (unsigned long long)value, (unsigned long long)size, line);
      }
   }
   fclose(maps);
}

uint64_t
hsakmt_test_window_used(void)
{
   uint64_t used;
   uint32_t extents;
   hsakmt_va_stats(&used, &extents);
   return used;
}

void
hsakmt_test_env_start(struct hsakmt_test_env *env)
{
   assert_true(kfdsim_active());
   test_vmm_init(&env->vmm, 3);
   assert_int_equal(
      virgl_renderer_init(&env->vmm, VIRGL_RENDERER_USE_ROCM, &env->vmm.cbs), 0);
   /* the baseline includes what libhsakmt itself keeps open (render fds, MMIO page) */
   assert_int_equal(hsakmt_guest_open(&env->guest, 1, 1), 0);
   env->fds = test_count_fds();
   env->live_bos = kfdsim_live_bos();
   env->userptrs = kfdsim_userptr_count();
}

void
hsakmt_test_env_warm_up_compute(struct hsakmt_test_env *env, uint32_t node)
{
   unsigned bos = kfdsim_live_bos(), userptrs = kfdsim_userptr_count();
   int fds = test_count_fds();
   struct hsakmt_guest_aql aql;
   assert_int_equal(hsakmt_guest_aql_memory(&env->guest, node, 4096, &aql), 0);
   assert_int_equal(hsakmt_guest_aql_create(&env->guest, &aql, 0, false), 0);
   struct hsakmt_event_rsp event;
   uint64_t blob_id = hsakmt_guest_new_blob_id(&env->guest);
   assert_int_equal(
      hsakmt_guest_create_event(&env->guest, node, false, false, blob_id, &event), 0);
   uint32_t event_res = hsakmt_guest_new_res_id(&env->guest);
   assert_int_equal(hsakmt_guest_claim(&env->guest, event_res, blob_id, 0, 72), 0);
   virgl_renderer_resource_unref(event_res);
   virgl_renderer_resource_unref(aql.queue_res);
   hsakmt_guest_aql_memory_release(&env->guest, &aql);
   assert_int_equal(kfdsim_live_queues(), 0);
   /* what stays: the events page libhsakmt never frees, and the emulator's memfd
    * behind that buffer */
   env->live_bos += kfdsim_live_bos() - bos;
   env->userptrs += kfdsim_userptr_count() - userptrs;
   env->fds += test_count_fds() - fds;
}

void
hsakmt_test_env_stop(struct hsakmt_test_env *env)
{
   /* measured before, asserted after the cleanup, so a failure cannot cascade */
   unsigned userptrs = kfdsim_userptr_count();
   unsigned live_bos = kfdsim_live_bos();
   int fds = test_count_fds();
   hsakmt_guest_close(&env->guest);
   virgl_renderer_cleanup(NULL);
   test_vmm_fini(&env->vmm);
   /* everything the test made is gone once its resources are unref'd */
   assert_int_equal(userptrs, env->userptrs);
   assert_int_equal(live_bos, env->live_bos);
   assert_int_equal(fds, env->fds);
}
