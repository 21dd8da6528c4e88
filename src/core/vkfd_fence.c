/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "vkfd_fence.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/vkfd_hash.h"
#include "util/vkfd_log.h"

static void
queue_notify_locked(struct vkfd_fence_queue *queue)
{
   if (queue->async) {
      pthread_cond_broadcast(&queue->cond);
   } else if (queue->event_fd >= 0) {
      uint64_t one = 1;
      /* EAGAIN only when the counter is saturated, which still reads as readable */
      if (write(queue->event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
         vkfd_warn("fence eventfd write failed: %s", strerror(errno));
   }
}

static void
queue_clear_event_locked(struct vkfd_fence_queue *queue)
{
   if (queue->event_fd >= 0 && vkfd_list_is_empty(&queue->ready)) {
      uint64_t value;
      while (read(queue->event_fd, &value, sizeof(value)) > 0)
         ;
   }
}

/* Moves the retired head of `timeline` to the ready list. */
static void
timeline_advance_locked(struct vkfd_fence_queue *queue,
                        struct vkfd_fence_timeline *timeline)
{
   /* a ready list that was not empty has been announced already: one syscall a batch */
   bool announced = !vkfd_list_is_empty(&queue->ready);
   bool moved = false;
   while (!vkfd_list_is_empty(&timeline->pending)) {
      struct vkfd_fence *fence =
         vkfd_container_of(timeline->pending.next, struct vkfd_fence, link);
      if (!fence->signaled)
         break;
      vkfd_list_del(&fence->link);
      vkfd_list_add_tail(&fence->link, &queue->ready);
      moved = true;
   }
   if (moved && !announced)
      queue_notify_locked(queue);
}

static void
free_fence_list(struct vkfd_list *list)
{
   vkfd_list_for_each_safe(struct vkfd_fence, fence, list, link)
   {
      vkfd_list_del(&fence->link);
      free(fence);
   }
}

static uint64_t
timeline_key(const struct vkfd_fence *fence)
{
   return ((uint64_t)fence->ctx_id << 32) | fence->ring_idx;
}

/*
 * A MERGEABLE fence may go unreported when a later fence of the same timeline is in
 * the same batch: its callback then covers it. Reported cookies are never compared.
 */
static void
batch_mark_merged(struct vkfd_list *batch, bool *skip, size_t count)
{
   struct vkfd_hash later;
   vkfd_hash_init(&later);
   size_t index = count;
   for (struct vkfd_list *it = batch->prev; it != batch; it = it->prev) {
      struct vkfd_fence *fence = vkfd_container_of(it, struct vkfd_fence, link);
      index--;
      if (!fence->context_fence)
         continue;
      uint64_t key = timeline_key(fence);
      if (fence->mergeable && vkfd_hash_lookup(&later, key)) {
         skip[index] = true;
         continue;
      }
      /* on -ENOMEM nothing is merged, which is always correct */
      vkfd_hash_insert(&later, key, fence);
   }
   vkfd_hash_fini(&later);
}

static void
batch_deliver(struct vkfd_fence_queue *queue, struct vkfd_list *batch)
{
   size_t count = 0;
   for (struct vkfd_list *it = batch->next; it != batch; it = it->next)
      count++;
   bool *skip = count ? calloc(count, sizeof(*skip)) : NULL;
   if (skip)
      batch_mark_merged(batch, skip, count);

   size_t index = 0;
   vkfd_list_for_each_safe(struct vkfd_fence, fence, batch, link)
   {
      bool skipped = skip && skip[index];
      index++;
      if (!skipped) {
         if (fence->context_fence) {
            if (queue->sink.retire_context)
               queue->sink.retire_context(queue->sink.data, fence->ctx_id,
                                          fence->ring_idx, fence->id);
         } else if (queue->sink.retire_global) {
            queue->sink.retire_global(queue->sink.data, (uint32_t)fence->id);
         }
      }
      vkfd_list_del(&fence->link);
      free(fence);
   }
   free(skip);
}

/* Takes the ready fences (of one context when filtered) and delivers them. */
static void
queue_deliver_locked(struct vkfd_fence_queue *queue, bool filter, uint32_t ctx_id)
{
   while (queue->delivering)
      pthread_cond_wait(&queue->cond, &queue->lock);

   struct vkfd_list batch;
   vkfd_list_init(&batch);
   if (!filter) {
      vkfd_list_splice_tail(&queue->ready, &batch);
   } else {
      vkfd_list_for_each_safe(struct vkfd_fence, fence, &queue->ready, link)
      {
         if (fence->context_fence && fence->ctx_id == ctx_id) {
            vkfd_list_del(&fence->link);
            vkfd_list_add_tail(&fence->link, &batch);
         }
      }
   }
   queue_clear_event_locked(queue);
   if (vkfd_list_is_empty(&batch))
      return;

   queue->delivering = true;
   queue->delivery_thread = pthread_self();
   pthread_mutex_unlock(&queue->lock);
   batch_deliver(queue, &batch);
   pthread_mutex_lock(&queue->lock);
   queue->delivering = false;
   pthread_cond_broadcast(&queue->cond);
}

static void *
fence_worker_main(void *arg)
{
   struct vkfd_fence_queue *queue = arg;
   pthread_mutex_lock(&queue->lock);
   while (!queue->stopping) {
      if (vkfd_list_is_empty(&queue->ready) || queue->delivering) {
         pthread_cond_wait(&queue->cond, &queue->lock);
         continue;
      }
      queue_deliver_locked(queue, false, 0);
   }
   pthread_mutex_unlock(&queue->lock);
   return NULL;
}

int
vkfd_fence_queue_init(struct vkfd_fence_queue *queue, bool async,
                      const struct vkfd_fence_sink *sink)
{
   memset(queue, 0, sizeof(*queue));
   queue->event_fd = -1;
   queue->async = async;
   queue->sink = *sink;
   vkfd_list_init(&queue->ready);
   vkfd_fence_timeline_init(&queue->global, 0, 0);
   pthread_mutex_init(&queue->lock, NULL);

   pthread_condattr_t attr;
   pthread_condattr_init(&attr);
   pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
   pthread_cond_init(&queue->cond, &attr);
   pthread_condattr_destroy(&attr);

   int ret = 0;
   if (async) {
      ret = -pthread_create(&queue->worker, NULL, fence_worker_main, queue);
      queue->worker_started = ret == 0;
   } else {
      queue->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
      if (queue->event_fd < 0)
         ret = -errno;
   }
   if (ret) {
      vkfd_err("fence queue: cannot start %s: %s", async ? "worker" : "eventfd",
               strerror(-ret));
      vkfd_fence_queue_fini(queue);
   }
   return ret;
}

void
vkfd_fence_queue_fini(struct vkfd_fence_queue *queue)
{
   pthread_mutex_lock(&queue->lock);
   queue->stopping = true;
   pthread_cond_broadcast(&queue->cond);
   pthread_mutex_unlock(&queue->lock);
   if (queue->worker_started)
      pthread_join(queue->worker, NULL);
   queue->worker_started = false;

   free_fence_list(&queue->global.pending);
   free_fence_list(&queue->ready);
   if (queue->event_fd >= 0)
      close(queue->event_fd);
   queue->event_fd = -1;
   pthread_cond_destroy(&queue->cond);
   pthread_mutex_destroy(&queue->lock);
}

static void
queue_wait_delivery_locked(struct vkfd_fence_queue *queue)
{
   /* a callback that tears down state must not wait for its own delivery */
   while (queue->delivering && !pthread_equal(queue->delivery_thread, pthread_self()))
      pthread_cond_wait(&queue->cond, &queue->lock);
}

void
vkfd_fence_queue_drop_all(struct vkfd_fence_queue *queue)
{
   pthread_mutex_lock(&queue->lock);
   free_fence_list(&queue->global.pending);
   free_fence_list(&queue->ready);
   queue_clear_event_locked(queue);
   queue_wait_delivery_locked(queue);
   pthread_mutex_unlock(&queue->lock);
}

void
vkfd_fence_timeline_init(struct vkfd_fence_timeline *timeline, uint32_t ctx_id,
                         uint32_t ring_idx)
{
   vkfd_list_init(&timeline->pending);
   timeline->ctx_id = ctx_id;
   timeline->ring_idx = ring_idx;
}

void
vkfd_fence_timeline_fini(struct vkfd_fence_queue *queue,
                         struct vkfd_fence_timeline *timeline)
{
   pthread_mutex_lock(&queue->lock);
   free_fence_list(&timeline->pending);
   vkfd_list_for_each_safe(struct vkfd_fence, fence, &queue->ready, link)
   {
      if (fence->context_fence && fence->ctx_id == timeline->ctx_id &&
          fence->ring_idx == timeline->ring_idx) {
         vkfd_list_del(&fence->link);
         free(fence);
      }
   }
   queue_clear_event_locked(queue);
   queue_wait_delivery_locked(queue);
   pthread_mutex_unlock(&queue->lock);
}

int
vkfd_fence_create(struct vkfd_fence_queue *queue, struct vkfd_fence_timeline *timeline,
                  uint64_t id, bool mergeable, bool signaled, struct vkfd_fence **out)
{
   struct vkfd_fence *fence = calloc(1, sizeof(*fence));
   if (!fence)
      return -ENOMEM;
   fence->ctx_id = timeline->ctx_id;
   fence->ring_idx = timeline->ring_idx;
   fence->id = id;
   fence->mergeable = mergeable;
   fence->signaled = signaled;
   fence->context_fence = timeline != &queue->global;

   pthread_mutex_lock(&queue->lock);
   vkfd_list_add_tail(&fence->link, &timeline->pending);
   timeline_advance_locked(queue, timeline);
   pthread_mutex_unlock(&queue->lock);
   if (out)
      *out = signaled ? NULL : fence;
   return 0;
}

void
vkfd_fence_signal(struct vkfd_fence_queue *queue, struct vkfd_fence_timeline *timeline,
                  struct vkfd_fence *fence)
{
   pthread_mutex_lock(&queue->lock);
   fence->signaled = true;
   timeline_advance_locked(queue, timeline);
   pthread_mutex_unlock(&queue->lock);
}

void
vkfd_fence_poll(struct vkfd_fence_queue *queue, bool filter, uint32_t ctx_id)
{
   if (queue->async)
      return;
   pthread_mutex_lock(&queue->lock);
   queue_deliver_locked(queue, filter, ctx_id);
   pthread_mutex_unlock(&queue->lock);
}

int
vkfd_fence_queue_poll_fd(const struct vkfd_fence_queue *queue)
{
   return queue->async ? -1 : queue->event_fd;
}

bool
vkfd_fence_queue_busy(struct vkfd_fence_queue *queue)
{
   pthread_mutex_lock(&queue->lock);
   bool busy = !vkfd_list_is_empty(&queue->global.pending);
   vkfd_list_for_each_safe(struct vkfd_fence, fence, &queue->ready, link)
   {
      if (!fence->context_fence)
         busy = true;
   }
   pthread_mutex_unlock(&queue->lock);
   return busy;
}
