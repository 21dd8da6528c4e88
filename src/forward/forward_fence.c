/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "forward_fence.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/vkfd_log.h"

/* One context-0 fence; owned by the merger's list until delivered or dropped. */
struct forward_fence {
   struct vkfd_list link;
   uint32_t id;
   unsigned done; /* enum forward_fence_half bits */
};

static unsigned
half_index(enum forward_fence_half half)
{
   return half == FORWARD_FENCE_CORE ? 0 : 1;
}

/* Moves the half's cursor past the fences it has retired. */
static void
merger_advance_open(struct forward_fence_merger *merger, enum forward_fence_half half)
{
   struct vkfd_list **open = &merger->first_open[half_index(half)];
   while (*open != &merger->fences &&
          (vkfd_container_of(*open, struct forward_fence, link)->done & half))
      *open = (*open)->next;
}

static void
merger_reset_open(struct forward_fence_merger *merger)
{
   merger->first_open[0] = &merger->fences;
   merger->first_open[1] = &merger->fences;
}

static struct forward_fence *
merger_head(struct forward_fence_merger *merger)
{
   if (vkfd_list_is_empty(&merger->fences))
      return NULL;
   return vkfd_container_of(merger->fences.next, struct forward_fence, link);
}

static bool
merger_head_ready(struct forward_fence_merger *merger)
{
   struct forward_fence *head = merger_head(merger);
   return head && head->done == FORWARD_FENCE_BOTH;
}

static void
merger_event_set(struct forward_fence_merger *merger)
{
   if (merger->event_raised)
      return;
   merger->event_raised = true;
   uint64_t one = 1;
   /* EAGAIN only when the counter is saturated, which still reads as readable */
   if (merger->event_fd >= 0 && write(merger->event_fd, &one, sizeof(one)) < 0 &&
       errno != EAGAIN)
      vkfd_warn("forwarding: fence eventfd write failed: %s", strerror(errno));
}

static void
merger_event_clear(struct forward_fence_merger *merger)
{
   uint64_t value;
   if (merger->event_raised)
      while (read(merger->event_fd, &value, sizeof(value)) > 0)
         ;
   merger->event_raised = false;
}

/*
 * Delivers the ready fences at the head, in order, without the lock; a thread that
 * finds another one delivering leaves its fences to it.
 */
static void
merger_deliver_locked(struct forward_fence_merger *merger)
{
   if (merger->delivering)
      return;
   merger->delivering = true;
   merger->delivery_thread = pthread_self();
   while (merger_head_ready(merger)) {
      struct forward_fence *fence = merger_head(merger);
      vkfd_list_del(&fence->link);
      pthread_mutex_unlock(&merger->lock);
      merger->deliver(merger->data, fence->id);
      free(fence);
      pthread_mutex_lock(&merger->lock);
   }
   merger->delivering = false;
   pthread_cond_broadcast(&merger->idle);
}

static void
merger_wait_idle_locked(struct forward_fence_merger *merger)
{
   /* a VMM callback that resets or cleans up must not wait for its own delivery */
   while (merger->delivering && !pthread_equal(merger->delivery_thread, pthread_self()))
      pthread_cond_wait(&merger->idle, &merger->lock);
}

static void
merger_free_all_locked(struct forward_fence_merger *merger)
{
   vkfd_list_for_each_safe(struct forward_fence, fence, &merger->fences, link)
   {
      vkfd_list_del(&fence->link);
      free(fence);
   }
   merger_reset_open(merger);
   merger_event_clear(merger);
}

int
forward_fence_merger_init(struct forward_fence_merger *merger, bool async,
                          void (*deliver)(void *data, uint32_t fence_id), void *data)
{
   memset(merger, 0, sizeof(*merger));
   vkfd_list_init(&merger->fences);
   merger_reset_open(merger);
   merger->async = async;
   merger->deliver = deliver;
   merger->data = data;
   merger->event_fd = -1;
   if (!async) {
      merger->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
      if (merger->event_fd < 0) {
         int err = errno;
         vkfd_err("forwarding: cannot create the fence eventfd: %s", strerror(err));
         return -err;
      }
   }
   pthread_mutex_init(&merger->lock, NULL);
   pthread_cond_init(&merger->idle, NULL);
   return 0;
}

void
forward_fence_merger_fini(struct forward_fence_merger *merger)
{
   pthread_mutex_lock(&merger->lock);
   merger_wait_idle_locked(merger);
   merger_free_all_locked(merger);
   pthread_mutex_unlock(&merger->lock);
   if (merger->event_fd >= 0)
      close(merger->event_fd);
   merger->event_fd = -1;
   pthread_cond_destroy(&merger->idle);
   pthread_mutex_destroy(&merger->lock);
}

int
forward_fence_merger_add(struct forward_fence_merger *merger, uint32_t fence_id)
{
   struct forward_fence *fence = calloc(1, sizeof(*fence));
   if (!fence)
      return -ENOMEM;
   fence->id = fence_id;
   pthread_mutex_lock(&merger->lock);
   vkfd_list_add_tail(&fence->link, &merger->fences);
   for (unsigned i = 0; i < 2; i++) {
      if (merger->first_open[i] == &merger->fences)
         merger->first_open[i] = &fence->link;
   }
   pthread_mutex_unlock(&merger->lock);
   return 0;
}

void
forward_fence_merger_remove_last(struct forward_fence_merger *merger)
{
   pthread_mutex_lock(&merger->lock);
   if (!vkfd_list_is_empty(&merger->fences)) {
      struct forward_fence *last =
         vkfd_container_of(merger->fences.prev, struct forward_fence, link);
      for (unsigned i = 0; i < 2; i++) {
         if (merger->first_open[i] == &last->link)
            merger->first_open[i] = &merger->fences;
      }
      vkfd_list_del(&last->link);
      free(last);
   }
   pthread_mutex_unlock(&merger->lock);
}

static void
merger_progress_locked(struct forward_fence_merger *merger)
{
   if (!merger_head_ready(merger))
      return;
   if (merger->async)
      merger_deliver_locked(merger);
   else
      merger_event_set(merger);
}

void
forward_fence_merger_retire_last(struct forward_fence_merger *merger,
                                 enum forward_fence_half half)
{
   pthread_mutex_lock(&merger->lock);
   if (!vkfd_list_is_empty(&merger->fences)) {
      struct forward_fence *last =
         vkfd_container_of(merger->fences.prev, struct forward_fence, link);
      last->done |= half;
      merger_advance_open(merger, half);
      merger_progress_locked(merger);
   }
   pthread_mutex_unlock(&merger->lock);
}

void
forward_fence_merger_retire(struct forward_fence_merger *merger,
                            enum forward_fence_half half, uint32_t fence_id)
{
   pthread_mutex_lock(&merger->lock);
   struct vkfd_list *open = merger->first_open[half_index(half)];
   struct forward_fence *target = NULL;
   for (struct vkfd_list *it = open; it != &merger->fences; it = it->next) {
      struct forward_fence *fence = vkfd_container_of(it, struct forward_fence, link);
      if (fence->id == fence_id && !(fence->done & half)) {
         target = fence;
         break;
      }
   }
   if (!target) {
      /* dropped by a reset, or never created here: nothing waits for it */
      vkfd_debug("forwarding: %s half retired unknown context-0 fence %u",
                 half == FORWARD_FENCE_CORE ? "virtkfd's" : "the system's", fence_id);
      pthread_mutex_unlock(&merger->lock);
      return;
   }
   for (struct vkfd_list *it = open;; it = it->next) {
      struct forward_fence *fence = vkfd_container_of(it, struct forward_fence, link);
      fence->done |= half;
      if (fence == target)
         break;
   }
   merger->first_open[half_index(half)] = target->link.next;
   merger_advance_open(merger, half);
   merger_progress_locked(merger);
   pthread_mutex_unlock(&merger->lock);
}

void
forward_fence_merger_flush(struct forward_fence_merger *merger)
{
   pthread_mutex_lock(&merger->lock);
   merger_deliver_locked(merger);
   if (!merger_head_ready(merger))
      merger_event_clear(merger);
   pthread_mutex_unlock(&merger->lock);
}

void
forward_fence_merger_drop_all(struct forward_fence_merger *merger)
{
   pthread_mutex_lock(&merger->lock);
   merger_wait_idle_locked(merger);
   merger_free_all_locked(merger);
   pthread_mutex_unlock(&merger->lock);
}

int
forward_fence_merger_poll_fd(const struct forward_fence_merger *merger)
{
   return merger->event_fd;
}
