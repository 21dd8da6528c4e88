/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Unit tests of the fence queue (src/core/vkfd_fence.c): per-timeline order,
 * MERGEABLE coalescing, polled and worker delivery, teardown without callbacks.
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

#include "core/vkfd_fence.h"

struct recorder {
   pthread_mutex_t lock;
   int count;
   uint32_t ctx[64];
   uint32_t ring[64];
   uint64_t id[64];
   bool on_worker[64];
   pthread_t main;
};

static void
rec_add(struct recorder *rec, uint32_t ctx, uint32_t ring, uint64_t id)
{
   pthread_mutex_lock(&rec->lock);
   if (rec->count < 64) {
      rec->ctx[rec->count] = ctx;
      rec->ring[rec->count] = ring;
      rec->id[rec->count] = id;
      rec->on_worker[rec->count] = !pthread_equal(pthread_self(), rec->main);
   }
   rec->count++;
   pthread_mutex_unlock(&rec->lock);
}

static void
retire_global(void *data, uint32_t id)
{
   rec_add(data, 0, 0, id);
}

static void
retire_context(void *data, uint32_t ctx, uint32_t ring, uint64_t id)
{
   rec_add(data, ctx, ring, id);
}

static int
rec_count(struct recorder *rec)
{
   pthread_mutex_lock(&rec->lock);
   int n = rec->count;
   pthread_mutex_unlock(&rec->lock);
   return n;
}

static void
rec_init(struct recorder *rec)
{
   memset(rec, 0, sizeof(*rec));
   pthread_mutex_init(&rec->lock, NULL);
   rec->main = pthread_self();
}

static void
queue_init(struct vkfd_fence_queue *q, struct recorder *rec, bool async)
{
   rec_init(rec);
   const struct vkfd_fence_sink sink = { retire_global, retire_context, rec };
   assert_int_equal(vkfd_fence_queue_init(q, async, &sink), 0);
}

static bool
fd_readable(int fd)
{
   struct pollfd pfd = { .fd = fd, .events = POLLIN };
   return poll(&pfd, 1, 0) == 1;
}

static void
test_polled_global_fences_in_order(void **state)
{
   struct vkfd_fence_queue q;
   struct recorder rec;
   queue_init(&q, &rec, false);
   int fd = vkfd_fence_queue_poll_fd(&q);
   assert_true(fd >= 0);
   assert_false(fd_readable(fd));

   for (uint64_t id = 1; id <= 5; id++)
      assert_int_equal(vkfd_fence_create(&q, &q.global, id, false, true, NULL), 0);
   assert_int_equal(rec_count(&rec), 0); /* nothing before poll */
   assert_true(fd_readable(fd));
   assert_true(vkfd_fence_queue_busy(&q));

   vkfd_fence_poll(&q, false, 0);
   assert_int_equal(rec_count(&rec), 5);
   for (int i = 0; i < 5; i++) {
      assert_int_equal(rec.ctx[i], 0);
      assert_int_equal(rec.id[i], (uint64_t)i + 1);
      assert_false(rec.on_worker[i]);
   }
   assert_false(fd_readable(fd));
   assert_false(vkfd_fence_queue_busy(&q));
   vkfd_fence_queue_fini(&q);
}

static void
test_unsignaled_head_holds_timeline(void **state)
{
   struct vkfd_fence_queue q;
   struct recorder rec;
   queue_init(&q, &rec, false);
   struct vkfd_fence_timeline ring1, ring2;
   vkfd_fence_timeline_init(&ring1, 7, 1);
   vkfd_fence_timeline_init(&ring2, 7, 2);

   struct vkfd_fence *a, *b;
   assert_int_equal(vkfd_fence_create(&q, &ring1, 100, false, false, &a), 0);
   assert_int_equal(vkfd_fence_create(&q, &ring1, 101, false, false, &b), 0);
   assert_int_equal(vkfd_fence_create(&q, &ring1, 102, false, true, NULL), 0);
   assert_int_equal(vkfd_fence_create(&q, &ring2, 200, false, true, NULL), 0);

   vkfd_fence_poll(&q, false, 0);
   assert_int_equal(rec_count(&rec), 1); /* only the other ring */
   assert_int_equal(rec.id[0], 200);

   vkfd_fence_signal(&q, &ring1, b); /* out of order: still held by a */
   vkfd_fence_poll(&q, false, 0);
   assert_int_equal(rec_count(&rec), 1);

   vkfd_fence_signal(&q, &ring1, a);
   vkfd_fence_poll(&q, false, 0);
   assert_int_equal(rec_count(&rec), 4);
   assert_int_equal(rec.id[1], 100);
   assert_int_equal(rec.id[2], 101);
   assert_int_equal(rec.id[3], 102);

   vkfd_fence_timeline_fini(&q, &ring1);
   vkfd_fence_timeline_fini(&q, &ring2);
   vkfd_fence_queue_fini(&q);
}

static void
test_mergeable_reports_newest(void **state)
{
   struct vkfd_fence_queue q;
   struct recorder rec;
   queue_init(&q, &rec, false);
   struct vkfd_fence_timeline ring0, other;
   vkfd_fence_timeline_init(&ring0, 3, 0);
   vkfd_fence_timeline_init(&other, 4, 0);

   /* cookies are not monotonic (vtest uses pointers): the newest is reported */
   const uint64_t ids[] = { 0x9000, 0x1000, 0x5000 };
   for (int i = 0; i < 3; i++)
      vkfd_fence_create(&q, &ring0, ids[i], true, true, NULL);
   for (uint64_t id = 1; id <= 2; id++)
      vkfd_fence_create(&q, &other, id, false, true, NULL);
   vkfd_fence_poll(&q, false, 0);
   assert_int_equal(rec_count(&rec), 3);
   int merged = 0, separate = 0;
   for (int i = 0; i < 3; i++) {
      if (rec.ctx[i] == 3) {
         assert_int_equal(rec.id[i], 0x5000);
         merged++;
      } else {
         assert_int_equal(rec.id[i], (uint64_t)++separate);
      }
   }
   assert_int_equal(merged, 1);
   vkfd_fence_timeline_fini(&q, &ring0);
   vkfd_fence_timeline_fini(&q, &other);
   vkfd_fence_queue_fini(&q);
}

static void
test_filtered_poll_and_timeline_fini(void **state)
{
   struct vkfd_fence_queue q;
   struct recorder rec;
   queue_init(&q, &rec, false);
   struct vkfd_fence_timeline a, b;
   vkfd_fence_timeline_init(&a, 1, 0);
   vkfd_fence_timeline_init(&b, 2, 0);
   vkfd_fence_create(&q, &a, 11, false, true, NULL);
   vkfd_fence_create(&q, &b, 22, false, true, NULL);
   struct vkfd_fence *pending;
   vkfd_fence_create(&q, &b, 23, false, false, &pending);

   vkfd_fence_poll(&q, true, 1);
   assert_int_equal(rec_count(&rec), 1);
   assert_int_equal(rec.id[0], 11);
   assert_true(fd_readable(vkfd_fence_queue_poll_fd(&q))); /* b's fence still ready */

   /* destroying context 2 drops its ready and pending fences without callbacks */
   vkfd_fence_timeline_fini(&q, &b);
   vkfd_fence_poll(&q, false, 0);
   assert_int_equal(rec_count(&rec), 1);
   assert_false(fd_readable(vkfd_fence_queue_poll_fd(&q)));
   vkfd_fence_timeline_fini(&q, &a);
   vkfd_fence_queue_fini(&q);
}

static void
test_async_worker_delivers(void **state)
{
   struct vkfd_fence_queue q;
   struct recorder rec;
   queue_init(&q, &rec, true);
   assert_int_equal(vkfd_fence_queue_poll_fd(&q), -1);
   struct vkfd_fence_timeline ring;
   vkfd_fence_timeline_init(&ring, 9, 0);
   for (uint64_t id = 1; id <= 20; id++)
      vkfd_fence_create(&q, id % 2 ? &ring : &q.global, id, false, true, NULL);
   for (int i = 0; i < 2000 && rec_count(&rec) < 20; i++)
      usleep(1000);
   assert_int_equal(rec_count(&rec), 20);
   uint64_t last_global = 0, last_ring = 0;
   for (int i = 0; i < 20; i++) {
      assert_true(rec.on_worker[i]);
      uint64_t *last = rec.ctx[i] ? &last_ring : &last_global;
      assert_true(rec.id[i] > *last);
      *last = rec.id[i];
   }
   vkfd_fence_poll(&q, false, 0); /* a no-op in async mode */
   assert_int_equal(rec_count(&rec), 20);
   vkfd_fence_timeline_fini(&q, &ring);
   vkfd_fence_queue_fini(&q);
}

static void
test_fini_drops_undelivered(void **state)
{
   struct vkfd_fence_queue q;
   struct recorder rec;
   queue_init(&q, &rec, false);
   for (uint64_t id = 1; id <= 3; id++)
      vkfd_fence_create(&q, &q.global, id, false, true, NULL);
   vkfd_fence_queue_drop_all(&q);
   vkfd_fence_poll(&q, false, 0);
   assert_int_equal(rec_count(&rec), 0);
   vkfd_fence_create(&q, &q.global, 4, false, true, NULL);
   vkfd_fence_queue_fini(&q); /* frees the undelivered fence: ASan checks */
   assert_int_equal(rec_count(&rec), 0);
}

int
main(void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_polled_global_fences_in_order),
      cmocka_unit_test(test_unsignaled_head_holds_timeline),
      cmocka_unit_test(test_mergeable_reports_newest),
      cmocka_unit_test(test_filtered_poll_and_timeline_fini),
      cmocka_unit_test(test_async_worker_delivers),
      cmocka_unit_test(test_fini_drops_undelivered),
   };
   return cmocka_run_group_tests_name("fence", tests, NULL, NULL);
}
