/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "hsakmt_test_env.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

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
