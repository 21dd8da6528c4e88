/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The context-0 fence merger (src/forward/forward_fence.c): a fence reaches the VMM
 * once, in creation order, only when virtkfd's half and the system library's half
 * have both retired it, in polled and in async mode.
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "forward/forward_fence.h"

#define MAX_DELIVERED 40000

static struct {
   pthread_mutex_t lock;
   uint32_t ids[MAX_DELIVERED];
   size_t count;
   int inside;     /* deliveries running right now */
   int overlapped; /* deliveries that ran at the same time as another */
} delivered = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void
deliver(void *data, uint32_t fence_id)
{
   pthread_mutex_lock(&delivered.lock);
   if (delivered.inside++)
      delivered.overlapped++;
   if (delivered.count < MAX_DELIVERED)
      delivered.ids[delivered.count++] = fence_id;
   pthread_mutex_unlock(&delivered.lock);
   pthread_mutex_lock(&delivered.lock);
   delivered.inside--;
   pthread_mutex_unlock(&delivered.lock);
}

static void
reset_delivered(void)
{
   delivered.count = 0;
   delivered.inside = 0;
   delivered.overlapped = 0;
}

static void
expect_delivered(const uint32_t *ids, size_t count)
{
   assert_int_equal(delivered.count, count);
   for (size_t i = 0; i < count; i++)
      assert_int_equal(delivered.ids[i], ids[i]);
}

static bool
readable(const struct forward_fence_merger *merger)
{
   struct pollfd pfd = { .fd = forward_fence_merger_poll_fd(merger), .events = POLLIN };
   return poll(&pfd, 1, 0) == 1;
}

static void
add_range(struct forward_fence_merger *merger, uint32_t first, uint32_t last)
{
   for (uint32_t id = first; id <= last; id++)
      assert_int_equal(forward_fence_merger_add(merger, id), 0);
}

static void
test_polled_waits_for_both_halves(void **state)
{
   struct forward_fence_merger merger;
   reset_delivered();
   assert_int_equal(forward_fence_merger_init(&merger, false, deliver, NULL), 0);
   add_range(&merger, 1, 5);
   forward_fence_merger_retire(&merger, FORWARD_FENCE_CORE, 3);
   assert_false(readable(&merger));
   forward_fence_merger_flush(&merger);
   expect_delivered(NULL, 0);
   /* the system half lags: only what both retired goes out, and only in flush */
   forward_fence_merger_retire(&merger, FORWARD_FENCE_SYSTEM, 2);
   expect_delivered(NULL, 0);
   assert_true(readable(&merger));
   forward_fence_merger_flush(&merger);
   expect_delivered((uint32_t[]){ 1, 2 }, 2);
   assert_false(readable(&merger));
   /* now the core half lags */
   forward_fence_merger_retire(&merger, FORWARD_FENCE_SYSTEM, 5);
   forward_fence_merger_flush(&merger);
   expect_delivered((uint32_t[]){ 1, 2, 3 }, 3);
   forward_fence_merger_retire(&merger, FORWARD_FENCE_CORE, 5);
   forward_fence_merger_flush(&merger);
   expect_delivered((uint32_t[]){ 1, 2, 3, 4, 5 }, 5);
   /* retiring again, or an id never created, changes nothing */
   forward_fence_merger_retire(&merger, FORWARD_FENCE_CORE, 5);
   forward_fence_merger_retire(&merger, FORWARD_FENCE_SYSTEM, 99);
   forward_fence_merger_flush(&merger);
   assert_int_equal(delivered.count, 5);
   forward_fence_merger_fini(&merger);
}

/* 0.10.4 reports only the newest fence of a batch: it covers the earlier ones. */
static void
test_merged_report_covers_earlier_fences(void **state)
{
   struct forward_fence_merger merger;
   reset_delivered();
   assert_int_equal(forward_fence_merger_init(&merger, false, deliver, NULL), 0);
   add_range(&merger, 10, 19);
   forward_fence_merger_retire(&merger, FORWARD_FENCE_SYSTEM, 19);
   for (uint32_t id = 10; id <= 19; id++)
      forward_fence_merger_retire(&merger, FORWARD_FENCE_CORE, id);
   forward_fence_merger_flush(&merger);
   expect_delivered((uint32_t[]){ 10, 11, 12, 13, 14, 15, 16, 17, 18, 19 }, 10);
   forward_fence_merger_fini(&merger);
}

/* Ids are 32-bit VMM values that wrap: the first pending one is meant. */
static void
test_repeated_ids_match_in_order(void **state)
{
   struct forward_fence_merger merger;
   reset_delivered();
   assert_int_equal(forward_fence_merger_init(&merger, false, deliver, NULL), 0);
   add_range(&merger, 7, 8);
   add_range(&merger, 7, 7);
   forward_fence_merger_retire(&merger, FORWARD_FENCE_CORE, 7);
   forward_fence_merger_retire(&merger, FORWARD_FENCE_SYSTEM, 8);
   forward_fence_merger_flush(&merger);
   expect_delivered((uint32_t[]){ 7 }, 1);
   forward_fence_merger_retire(&merger, FORWARD_FENCE_CORE, 7); /* the second 7 */
   forward_fence_merger_flush(&merger);
   expect_delivered((uint32_t[]){ 7, 8 }, 2);
   forward_fence_merger_retire(&merger, FORWARD_FENCE_SYSTEM, 7);
   forward_fence_merger_flush(&merger);
   expect_delivered((uint32_t[]){ 7, 8, 7 }, 3);
   forward_fence_merger_fini(&merger);
}

static void
test_refused_half_and_failed_create(void **state)
{
   struct forward_fence_merger merger;
   reset_delivered();
   assert_int_equal(forward_fence_merger_init(&merger, false, deliver, NULL), 0);
   add_range(&merger, 1, 2);
   /* the system library refused fence 2: it has nothing to wait for there */
   forward_fence_merger_retire_last(&merger, FORWARD_FENCE_SYSTEM);
   forward_fence_merger_retire(&merger, FORWARD_FENCE_CORE, 2);
   forward_fence_merger_flush(&merger);
   expect_delivered(NULL, 0); /* fence 1 still waits for its system half */
   /* the core could not create fence 3: it never existed */
   add_range(&merger, 3, 3);
   forward_fence_merger_remove_last(&merger);
   forward_fence_merger_retire(&merger, FORWARD_FENCE_SYSTEM, 1);
   forward_fence_merger_flush(&merger);
   expect_delivered((uint32_t[]){ 1, 2 }, 2);
   forward_fence_merger_retire(&merger, FORWARD_FENCE_CORE, 3);
   forward_fence_merger_retire(&merger, FORWARD_FENCE_SYSTEM, 3);
   forward_fence_merger_flush(&merger);
   assert_int_equal(delivered.count, 2);
   forward_fence_merger_fini(&merger);
}

static void
test_drop_and_fini_deliver_nothing(void **state)
{
   struct forward_fence_merger merger;
   reset_delivered();
   assert_int_equal(forward_fence_merger_init(&merger, false, deliver, NULL), 0);
   add_range(&merger, 1, 4);
   forward_fence_merger_retire(&merger, FORWARD_FENCE_SYSTEM, 4);
   forward_fence_merger_retire(&merger, FORWARD_FENCE_CORE, 4);
   assert_true(readable(&merger));
   forward_fence_merger_drop_all(&merger);
   assert_false(readable(&merger));
   forward_fence_merger_flush(&merger);
   expect_delivered(NULL, 0);
   /* late reports of dropped fences are ignored; new fences work */
   forward_fence_merger_retire(&merger, FORWARD_FENCE_CORE, 2);
   add_range(&merger, 5, 6);
   forward_fence_merger_retire(&merger, FORWARD_FENCE_SYSTEM, 6);
   forward_fence_merger_retire(&merger, FORWARD_FENCE_CORE, 6);
   forward_fence_merger_flush(&merger);
   expect_delivered((uint32_t[]){ 5, 6 }, 2);
   add_range(&merger, 7, 9);
   forward_fence_merger_retire(&merger, FORWARD_FENCE_SYSTEM, 9);
   forward_fence_merger_fini(&merger);
   assert_int_equal(delivered.count, 2);
}

#define RACE_FENCES 20000

struct racer {
   struct forward_fence_merger *merger;
   enum forward_fence_half half;
   uint32_t stride; /* reports every stride-th id and the last, like a merging half */
};

static void *
racer_main(void *arg)
{
   struct racer *racer = arg;
   for (uint32_t id = 1; id <= RACE_FENCES; id++) {
      if (id % racer->stride == 0 || id == RACE_FENCES)
         forward_fence_merger_retire(racer->merger, racer->half, id);
   }
   return NULL;
}

/* Async mode: both halves retire from their own threads and deliver themselves. */
static void
test_async_halves_race(void **state)
{
   struct forward_fence_merger merger;
   reset_delivered();
   assert_int_equal(forward_fence_merger_init(&merger, true, deliver, NULL), 0);
   assert_int_equal(forward_fence_merger_poll_fd(&merger), -1);
   add_range(&merger, 1, RACE_FENCES);
   struct racer core = { &merger, FORWARD_FENCE_CORE, 1 };
   struct racer system = { &merger, FORWARD_FENCE_SYSTEM, 7 };
   pthread_t threads[2];
   assert_int_equal(pthread_create(&threads[0], NULL, racer_main, &core), 0);
   assert_int_equal(pthread_create(&threads[1], NULL, racer_main, &system), 0);
   pthread_join(threads[0], NULL);
   pthread_join(threads[1], NULL);
   forward_fence_merger_fini(&merger);
   assert_int_equal(delivered.count, RACE_FENCES);
   for (uint32_t i = 0; i < RACE_FENCES; i++) {
      if (delivered.ids[i] != i + 1)
         fail_msg("delivery %u is fence %u", i, delivered.ids[i]);
   }
   assert_int_equal(delivered.overlapped, 0);
}

int
main(void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_polled_waits_for_both_halves),
      cmocka_unit_test(test_merged_report_covers_earlier_fences),
      cmocka_unit_test(test_repeated_ids_match_in_order),
      cmocka_unit_test(test_refused_half_and_failed_create),
      cmocka_unit_test(test_drop_and_fini_deliver_nothing),
      cmocka_unit_test(test_async_halves_race),
   };
   return cmocka_run_group_tests_name("forward-fence", tests, NULL, NULL);
}
