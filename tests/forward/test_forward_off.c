/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Forwarding off, for each reason, with capset 8 unaffected: one log line says why,
 * the GL capsets are absent, the GL entry points answer like a library without GL,
 * and a ROCm context works with its fences. Run once per reason:
 *
 *   test_forward_off none               VIRTKFD_FORWARD_LIBRARY=none
 *   test_forward_off missing            a path where no library is
 *   test_forward_off relative           a name, not a path
 *   test_forward_off foreign LIB        a library that is not a virglrenderer
 *   test_forward_off self LIB           virtkfd's own library, by another path
 *   test_forward_off init-fails         the system library's init fails (GLX, no X
 *                                       display); its error path calls its own
 *                                       virgl_renderer_cleanup, which binds to virtkfd's
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "forward_vmm.h"
#include "hsakmt_guest.h"
#include "virglrenderer.h"

static const char *mode;
static const char *library_arg;

static bool
init_fails_mode(void)
{
   return !strcmp(mode, "init-fails");
}

static void
assert_rocm_works(struct fwd_vmm *vmm)
{
   uint32_t version = 0, size = 0;
   virgl_renderer_get_cap_set(8, &version, &size);
   assert_int_equal(version, 1);
   assert_true(size > 0);
   struct hsakmt_guest guest;
   assert_int_equal(hsakmt_guest_open(&guest, 1, 100), 0);
   uint32_t args[3] = { 0 };
   struct hsakmt_query_info_rsp *rsp =
      hsakmt_guest_query(&guest, HSAKMT_QUERY_GET_SYS_PROP, args, sizeof(args), 0);
   assert_non_null(rsp);
   assert_int_equal(rsp->hdr.ret, 0);
   assert_true(rsp->sys_props.num_nodes >= 2);
   /* context-0 fences: virtkfd's half alone retires them */
   size_t seen = vmm->ctx0_count;
   for (uint32_t i = 1; i <= 3; i++)
      assert_int_equal(fwd_vmm_create_fence(vmm, 40 + i), 0);
   assert_true(fwd_vmm_wait_ctx0(vmm, seen + 3, 5000));
   for (uint32_t i = 0; i < 3; i++)
      assert_int_equal(vmm->ctx0[seen + i], 41 + i);
   hsakmt_guest_close(&guest);
}

static void
assert_no_gl(void)
{
   for (uint32_t set = 1; set <= 7; set++) {
      uint32_t version = 9, size = 9;
      virgl_renderer_get_cap_set(set, &version, &size);
      assert_int_equal(version, 0);
      assert_int_equal(size, 0);
   }
   assert_int_equal(virgl_renderer_context_create_with_flags(5, 2, 0, NULL), EINVAL);
   assert_int_equal(virgl_renderer_context_create(5, 0, NULL), EINVAL);
   struct virgl_renderer_resource_create_args args = {
      .handle = 60,
      .target = 2,
      .format = 1,
      .width = 4,
      .height = 4,
      .depth = 1,
      .array_size = 1,
   };
   assert_int_equal(virgl_renderer_resource_create(&args, NULL, 0), EINVAL);
   assert_int_equal(virgl_renderer_transfer_write_iov(60, 0, 0, 0, 0, NULL, 0, NULL, 0),
                    EINVAL);
   int fd = -1;
   assert_int_equal(virgl_renderer_get_fd_for_texture(1, &fd), -1);
}

static void
test_forwarding_off_rocm_unaffected(void **state)
{
   fwd_log_capture_start();
   int flags = VIRGL_RENDERER_USE_ROCM;
   if (init_fails_mode()) {
      /* the library is there and answers before init, as QEMU asks at realize */
      uint32_t version = 0, size = 0;
      virgl_renderer_get_cap_set(2, &version, &size);
      assert_true(size > 0);
      unsetenv("DISPLAY");
      flags |= VIRGL_RENDERER_USE_GLX;
   } else {
      assert_no_gl();
   }

   for (int round = 0; round < 2; round++) {
      struct fwd_vmm vmm;
      fwd_vmm_init(&vmm, flags, false);
      assert_int_equal(fwd_vmm_renderer_init(&vmm), 0);
      /* polled mode without the system library: virtkfd's eventfd */
      assert_true(virgl_renderer_get_poll_fd() >= 0);
      assert_no_gl();
      assert_rocm_works(&vmm);
      /* a second init with the same triple: still 0, still one reason logged */
      assert_int_equal(fwd_vmm_renderer_init(&vmm), 0);
      fwd_vmm_renderer_cleanup(&vmm);
      assert_int_equal(vmm.violations, 0);
      fwd_vmm_fini(&vmm);
      /* one line says why: per process when the library cannot be used, per failed
       * init when its init fails */
      assert_int_equal(fwd_log_count("forwarding off"),
                       init_fails_mode() ? round + 1 : 1);
   }
   if (init_fails_mode())
      assert_int_equal(fwd_log_count("init failed"), 2);
   else if (!strcmp(mode, "missing"))
      assert_int_equal(fwd_log_count("no system virglrenderer at"), 1);
   else if (!strcmp(mode, "self"))
      assert_int_equal(fwd_log_count("is virtkfd itself"), 1);
   else if (!strcmp(mode, "foreign"))
      assert_int_equal(fwd_log_count("is not a virglrenderer"), 1);
   else if (!strcmp(mode, "relative"))
      assert_int_equal(fwd_log_count("not an absolute path"), 1);
   fwd_log_capture_stop();
}

int
main(int argc, char **argv)
{
   mode = argc > 1 ? argv[1] : "";
   library_arg = argc > 2 ? argv[2] : NULL;
   setenv("VIRTKFD_LOG_LEVEL", "info", 1);
   if (!strcmp(mode, "none")) {
      setenv("VIRTKFD_FORWARD_LIBRARY", "none", 1);
   } else if (!strcmp(mode, "missing")) {
      setenv("VIRTKFD_FORWARD_LIBRARY", "/nonexistent/libvirglrenderer.so.1", 1);
   } else if (!strcmp(mode, "relative")) {
      setenv("VIRTKFD_FORWARD_LIBRARY", "libvirglrenderer.so.1", 1);
   } else if ((!strcmp(mode, "foreign") || !strcmp(mode, "self")) && library_arg) {
      setenv("VIRTKFD_FORWARD_LIBRARY", library_arg, 1);
   } else if (init_fails_mode()) {
      unsetenv("VIRTKFD_FORWARD_LIBRARY");
   } else {
      fprintf(stderr, "usage: %s none|missing|relative|foreign LIB|self LIB|init-fails\n",
              argv[0]);
      return 2;
   }
   if (init_fails_mode() && !fwd_system_library_usable())
      return 77;
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forwarding_off_rocm_unaffected),
   };
   return cmocka_run_group_tests_name(mode, tests, NULL, NULL);
}
