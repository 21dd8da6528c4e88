/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Fences through the public API (virgl-api.md §6.2, §6.3, §9): no callback from
 * inside create_fence, in order per (context, ring), MERGEABLE coalescing, work that
 * completes later on another thread, both callback modes, and no callback after
 * context destruction, reset or cleanup.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_backend.h"
#include "test_common.h"

#define CTX_A 1
#define CTX_B 2

static struct test_vmm vmm;

static void
start(bool async)
{
   test_backend_register();
   test_vmm_init(&vmm, 3);
   int flags = async ? VIRGL_RENDERER_ASYNC_FENCE_CB | VIRGL_RENDERER_THREAD_SYNC : 0;
   assert_int_equal(virgl_renderer_init(&vmm, flags, &vmm.cbs), 0);
   assert_int_equal(
      virgl_renderer_context_create_with_flags(CTX_A, TEST_CAPSET_ID, 0, NULL), 0);
   assert_int_equal(
      virgl_renderer_context_create_with_flags(CTX_B, TEST_CAPSET_ID, 0, NULL), 0);
}

static void
stop(void)
{
   virgl_renderer_cleanup(NULL);
   test_backend_join();
   test_vmm_fini(&vmm);
}

/* Creates a fence the way QEMU does, checking that no callback runs inside. */
static void
create_fence(uint32_t ctx, uint32_t flags, uint32_t ring, uint64_t id)
{
   pthread_mutex_lock(&vmm.lock);
   vmm.inside_create = true;
   pthread_mutex_unlock(&vmm.lock);
   int ret = ctx ? virgl_renderer_context_create_fence(ctx, flags, ring, id)
                 : virgl_renderer_create_fence((int)id, 0);
   pthread_mutex_lock(&vmm.lock);
   vmm.inside_create = false;
   bool inside = vmm.callback_inside_create;
   pthread_mutex_unlock(&vmm.lock);
   assert_int_equal(ret, 0);
   assert_false(inside);
}

static int
deliver(bool async, int expected)
{
   if (!async)
      virgl_renderer_poll();
   return test_vmm_wait(&vmm, expected, async ? 5000 : 0);
}

static void
check_ring_order(bool async)
{
   start(async);
   /* ring 5 has work that completes later; ring 0 and context 0 finish at once */
   create_fence(CTX_A, 0, TEST_ASYNC_RING, 500);
   create_fence(CTX_A, 0, TEST_ASYNC_RING, 501);
   create_fence(CTX_A, 0, 0, 10);
   create_fence(0, 0, 0, 1);
   assert_int_equal(deliver(async, 2), 2);
   usleep(10000);
   assert_int_equal(deliver(async, 2), 2); /* ring 5 still waits for its work */

   /* the work completes on another thread; the fences retire in creation order */
   test_backend_complete_async(CTX_A, 5);
   test_backend_join();
   assert_int_equal(deliver(async, 3), 3);
   assert_int_equal(vmm.records[2].ring_idx, TEST_ASYNC_RING);
   assert_int_equal(vmm.records[2].id, 500);
   test_backend_complete(CTX_A);
   assert_int_equal(deliver(async, 4), 4);
   assert_int_equal(vmm.records[3].id, 501);
   for (int i = 0; i < 4; i++)
      assert_int_equal(vmm.records[i].other_thread, async);
   stop();
}

static void
test_ring_order_polled(void **state)
{
   check_ring_order(false);
}

static void
test_ring_order_async(void **state)
{
   check_ring_order(true);
}

static void
test_polled_needs_poll_and_fd(void **state)
{
   start(false);
   int fd = virgl_renderer_get_poll_fd();
   assert_true(fd >= 0);
   struct pollfd pfd = { .fd = fd, .events = POLLIN };
   for (uint64_t id = 1; id <= 10; id++)
      create_fence(0, 0, 0, id);
   usleep(10000);
   assert_int_equal(test_vmm_count(&vmm), 0);
   assert_int_equal(poll(&pfd, 1, 0), 1);
   virgl_renderer_context_poll(CTX_A); /* only CTX_A's fences: none */
   assert_int_equal(test_vmm_count(&vmm), 0);
   virgl_renderer_poll();
   assert_int_equal(test_vmm_count(&vmm), 10);
   for (int i = 0; i < 10; i++)
      assert_int_equal(vmm.records[i].id, (uint64_t)i + 1);
   assert_int_equal(poll(&pfd, 1, 0), 0);

   /* context_poll delivers one context's fences */
   create_fence(CTX_A, 0, 0, 100);
   create_fence(CTX_B, 0, 0, 200);
   virgl_renderer_context_poll(CTX_B);
   assert_int_equal(test_vmm_count(&vmm), 11);
   assert_int_equal(vmm.records[10].ctx_id, CTX_B);
   virgl_renderer_poll();
   assert_int_equal(test_vmm_count(&vmm), 12);
   stop();
}

static void
test_mergeable_coalesced(void **state)
{
   start(false);
   for (uint64_t id = 1; id <= 5; id++)
      create_fence(CTX_A, VIRGL_RENDERER_FENCE_FLAG_MERGEABLE, 0, id * 0x1000);
   for (uint64_t id = 1; id <= 3; id++)
      create_fence(CTX_B, 0, 0, id);
   virgl_renderer_poll();
   int a = 0, b = 0;
   for (int i = 0; i < test_vmm_count(&vmm); i++) {
      if (vmm.records[i].ctx_id == CTX_A) {
         assert_int_equal(vmm.records[i].id, 0x5000); /* the newest covers the rest */
         a++;
      } else {
         assert_int_equal(vmm.records[i].id, (uint64_t)++b);
      }
   }
   assert_int_equal(a, 1);
   assert_int_equal(b, 3);
   stop();
}

static void
test_no_callback_after_destroy_reset_cleanup(void **state)
{
   start(false);
   create_fence(CTX_A, 0, 0, 1);
   create_fence(CTX_A, 0, TEST_ASYNC_RING, 2); /* pending when its context goes */
   virgl_renderer_context_destroy(CTX_A);
   virgl_renderer_poll();
   assert_int_equal(test_vmm_count(&vmm), 0);

   create_fence(CTX_B, 0, 0, 3);
   create_fence(0, 0, 0, 4);
   virgl_renderer_reset();
   virgl_renderer_poll();
   assert_int_equal(test_vmm_count(&vmm), 0);
   stop();

   start(true);
   for (uint64_t id = 1; id <= 50; id++)
      create_fence(id % 2 ? CTX_A : 0, 0, 0, id);
   virgl_renderer_cleanup(NULL); /* joins the worker */
   int delivered = test_vmm_count(&vmm);
   usleep(20000);
   assert_int_equal(test_vmm_count(&vmm), delivered);
   test_vmm_fini(&vmm);
}

static void
test_callbacks_v1_without_context_fences(void **state)
{
   /* a version-1 VMM has no write_context_fence: context fences retire silently */
   test_backend_register();
   test_vmm_init(&vmm, 1);
   assert_int_equal(virgl_renderer_init(&vmm, 0, &vmm.cbs), 0);
   assert_int_equal(
      virgl_renderer_context_create_with_flags(CTX_A, TEST_CAPSET_ID, 0, NULL), 0);
   create_fence(CTX_A, 0, 0, 9);
   create_fence(0, 0, 0, 10);
   virgl_renderer_poll();
   assert_int_equal(test_vmm_count(&vmm), 1);
   assert_int_equal(vmm.records[0].id, 10);
   stop();
}

int
main(void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ring_order_polled),
      cmocka_unit_test(test_ring_order_async),
      cmocka_unit_test(test_polled_needs_poll_and_fd),
      cmocka_unit_test(test_mergeable_coalesced),
      cmocka_unit_test(test_no_callback_after_destroy_reset_cleanup),
      cmocka_unit_test(test_callbacks_v1_without_context_fences),
   };
   return cmocka_run_group_tests_name("api-fences", tests, NULL, NULL);
}
