/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The VMM thread model with forwarding, as QEMU uses it: every API call from the main
 * loop's thread; fence callbacks from the library's threads with ASYNC_FENCE_CB (they
 * only queue a bottom half), else only inside virgl_renderer_poll on the main thread,
 * found by a 10 ms timer or the poll fd. THREAD_SYNC and ASYNC_FENCE_CB on and off,
 * with the VMM's GL callbacks (QEMU) and with the library's own EGL (crosvm, vtest).
 *
 * For each: a ROCm context and a GL context submit side by side; every context-0
 * fence arrives once, in order; each context's ring reports its newest fence last;
 * no callback comes at a forbidden time or after cleanup.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <cmocka.h>

#include "forward_vmm.h"
#include "hsakmt_guest.h"
#include "virglrenderer.h"

#define ROCM_CTX  1
#define VIRGL_CTX 2
#define TEXTURE   50
#define WIDTH     32
#define HEIGHT    32
#define ROUNDS    120

struct box {
   uint32_t x, y, z, w, h, d;
};

struct model {
   int flags;
   bool gl_callbacks;
};

static bool
ring_order_ok(const struct fwd_vmm *vmm, uint32_t ctx_id, uint64_t last)
{
   /* MERGEABLE: any subset may arrive, in creation order, ending with the newest */
   uint64_t previous = 0;
   bool any = false;
   for (size_t i = 0; i < vmm->ctx_fence_count; i++) {
      const struct fwd_context_fence *fence = &vmm->ctx_fences[i];
      if (fence->ctx_id != ctx_id)
         continue;
      if (fence->ring_idx != 0 || (any && fence->id <= previous))
         return false;
      previous = fence->id;
      any = true;
   }
   return any && previous == last;
}

static void
run_model(const struct model *model)
{
   struct fwd_vmm vmm;
   fwd_vmm_init(&vmm, model->flags, model->gl_callbacks);
   if (model->gl_callbacks && !vmm.gl_callbacks) {
      fwd_vmm_fini(&vmm);
      skip();
   }
   assert_int_equal(fwd_vmm_renderer_init(&vmm), 0);
   fwd_pin_loaded_libraries();
   bool async = model->flags & VIRGL_RENDERER_ASYNC_FENCE_CB;
   bool thread_sync = model->flags & VIRGL_RENDERER_THREAD_SYNC;

   /* one fd over both halves in polled mode, when the GL half has one (THREAD_SYNC) */
   int poll_fd = virgl_renderer_get_poll_fd();
   if (async || !thread_sync)
      assert_int_equal(poll_fd, -1);
   else
      assert_true(poll_fd >= 0);

   struct hsakmt_guest guest;
   assert_int_equal(hsakmt_guest_open(&guest, ROCM_CTX, 100), 0);
   assert_int_equal(virgl_renderer_context_create_with_flags(VIRGL_CTX, 2, 0, NULL), 0);
   size_t size = WIDTH * HEIGHT * 4;
   uint8_t *backing = calloc(1, size);
   struct iovec iov = { backing, size };
   struct virgl_renderer_resource_create_args args = {
      .handle = TEXTURE,
      .target = 2,
      .format = 1,
      .bind = 1u << 1,
      .width = WIDTH,
      .height = HEIGHT,
      .depth = 1,
      .array_size = 1,
   };
   assert_int_equal(virgl_renderer_resource_create(&args, NULL, 0), 0);
   assert_int_equal(virgl_renderer_resource_attach_iov(TEXTURE, &iov, 1), 0);
   virgl_renderer_ctx_attach_resource(VIRGL_CTX, TEXTURE);
   struct box box = { 0, 0, 0, WIDTH, HEIGHT, 1 };

   uint64_t last_cookie[3] = { 0 };
   for (uint32_t i = 1; i <= ROUNDS; i++) {
      virgl_renderer_force_ctx_0();
      uint32_t query[3] = { 0 };
      struct hsakmt_query_info_rsp *rsp =
         hsakmt_guest_query(&guest, HSAKMT_QUERY_GET_SYS_PROP, query, sizeof(query), 0);
      assert_non_null(rsp);
      memset(backing, (int)i, size);
      virgl_renderer_force_ctx_0();
      assert_int_equal(virgl_renderer_transfer_write_iov(TEXTURE, VIRGL_CTX, 0, 0, 0,
                                                         (struct virgl_box *)&box, 0,
                                                         NULL, 0),
                       0);
      assert_int_equal(fwd_vmm_create_fence(&vmm, i), 0);
      if (i % 4 == 0) {
         /* ring 0 of each context, as QEMU does for INFO_RING_IDX commands */
         for (uint32_t ctx = ROCM_CTX; ctx <= VIRGL_CTX; ctx++) {
            last_cookie[ctx] = ((uint64_t)ctx << 32) | i;
            assert_int_equal(
               fwd_vmm_context_create_fence(
                  &vmm, ctx, VIRGL_RENDERER_FENCE_FLAG_MERGEABLE, 0, last_cookie[ctx]),
               0);
         }
      }
      if (i % 16 == 0 && poll_fd >= 0) {
         /* the fd wakes the VMM for work of either half */
         struct pollfd pfd = { .fd = poll_fd, .events = POLLIN };
         assert_int_equal(poll(&pfd, 1, 5000), 1);
      }
      if (i % 8 == 0)
         fwd_vmm_poll(&vmm);
   }
   assert_true(fwd_vmm_wait_ctx0(&vmm, ROUNDS, 20000));
   for (uint32_t ctx = ROCM_CTX; ctx <= VIRGL_CTX; ctx++)
      assert_true(fwd_vmm_wait_context_fence(&vmm, ctx, 0, last_cookie[ctx], 20000));
   for (int i = 0; i < 5; i++)
      fwd_vmm_poll(&vmm);

   assert_int_equal(vmm.ctx0_count, ROUNDS);
   for (uint32_t i = 0; i < ROUNDS; i++)
      assert_int_equal(vmm.ctx0[i], i + 1);
   for (uint32_t ctx = ROCM_CTX; ctx <= VIRGL_CTX; ctx++)
      assert_true(ring_order_ok(&vmm, ctx, last_cookie[ctx]));

   /* fences still in flight at cleanup are dropped, never delivered afterwards */
   for (uint32_t i = 1; i <= 8; i++) {
      assert_int_equal(virgl_renderer_transfer_write_iov(TEXTURE, VIRGL_CTX, 0, 0, 0,
                                                         (struct virgl_box *)&box, 0,
                                                         NULL, 0),
                       0);
      assert_int_equal(fwd_vmm_create_fence(&vmm, ROUNDS + i), 0);
   }
   hsakmt_guest_close(&guest);
   struct iovec *out = NULL;
   int count = 0;
   virgl_renderer_resource_detach_iov(TEXTURE, &out, &count);
   virgl_renderer_resource_unref(TEXTURE);
   virgl_renderer_context_destroy(VIRGL_CTX);
   fwd_vmm_renderer_cleanup(&vmm);
   free(backing);
   if (vmm.violations)
      fail_msg("%d violations, the first: %s", vmm.violations, vmm.violation);
   if (!async)
      assert_false(vmm.callback_on_other_thread);
   fwd_vmm_fini(&vmm);
}

#define QEMU_MODEL(name, extra)                                               \
   static void name(void **state)                                             \
   {                                                                          \
      const struct model model = { VIRGL_RENDERER_USE_ROCM | (extra), true }; \
      run_model(&model);                                                      \
   }

#define EGL_MODEL(name, extra)                              \
   static void name(void **state)                           \
   {                                                        \
      const struct model model = {                          \
         VIRGL_RENDERER_USE_ROCM | VIRGL_RENDERER_USE_EGL | \
            VIRGL_RENDERER_USE_SURFACELESS | (extra),       \
         false,                                             \
      };                                                    \
      run_model(&model);                                    \
   }

QEMU_MODEL(test_qemu_polled, 0)
QEMU_MODEL(test_qemu_thread_sync, VIRGL_RENDERER_THREAD_SYNC)
QEMU_MODEL(test_qemu_async, VIRGL_RENDERER_ASYNC_FENCE_CB)
QEMU_MODEL(test_qemu_async_thread_sync,
           VIRGL_RENDERER_THREAD_SYNC | VIRGL_RENDERER_ASYNC_FENCE_CB)
EGL_MODEL(test_egl_polled, 0)
EGL_MODEL(test_egl_thread_sync, VIRGL_RENDERER_THREAD_SYNC)
EGL_MODEL(test_egl_async_thread_sync,
          VIRGL_RENDERER_THREAD_SYNC | VIRGL_RENDERER_ASYNC_FENCE_CB)

int
main(int argc, char **argv)
{
   setenv("VIRTKFD_LOG_LEVEL", "error", 0);
   /* the VMM models, one per process: test_qemu_* or test_egl_* */
   if (argc > 1)
      cmocka_set_test_filter(argv[1]);
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_qemu_polled),
      cmocka_unit_test(test_qemu_thread_sync),
      cmocka_unit_test(test_qemu_async),
      cmocka_unit_test(test_qemu_async_thread_sync),
      cmocka_unit_test(test_egl_polled),
      cmocka_unit_test(test_egl_thread_sync),
      cmocka_unit_test(test_egl_async_thread_sync),
   };
   if (!fwd_system_library_usable())
      return 77;
   return cmocka_run_group_tests_name("forward-threads", tests, NULL, NULL);
}
