/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Context-0 fences with two halves. virgl_renderer_create_fence(id) creates the fence
 * in virtkfd's core and in the system library; the VMM's write_fence(id) may run only
 * when both have retired it, because the guest's fenced command may have work in
 * either. The merger keeps the fences in creation order and delivers each exactly
 * once, in that order, when both halves are done with it and with every fence before
 * it.
 *
 * A half reports retirement with the id of its newest retired fence (the system
 * library merges: 0.10.4 reports only the last of a batch), which retires that fence
 * and every earlier one for that half. Ids are the VMM's 32-bit values and are never
 * compared numerically: the first pending fence with the id is the one meant.
 *
 * Delivery: with ASYNC_FENCE_CB, from whichever thread completes a fence (the system
 * library's sync thread or the core's fence worker), one thread at a time. Without
 * it, only from forward_fence_merger_flush(), which virgl_renderer_poll() calls on
 * the VMM's thread; `event_fd` is readable while a fence waits for that.
 */
#ifndef FORWARD_FENCE_H
#define FORWARD_FENCE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/vkfd_list.h"

enum forward_fence_half {
   FORWARD_FENCE_CORE = 1 << 0,
   FORWARD_FENCE_SYSTEM = 1 << 1,
};

#define FORWARD_FENCE_BOTH (FORWARD_FENCE_CORE | FORWARD_FENCE_SYSTEM)

struct forward_fence_merger {
   pthread_mutex_t lock;
   pthread_cond_t idle;     /* signalled when a delivery ends */
   struct vkfd_list fences; /* struct forward_fence, creation order */
   /*
    * Per half (core, system): its first fence not retired yet, or `fences` when none;
    * every fence before it is retired for that half, so a retirement scans from
    * there and a batch of N fences costs O(N), not O(N^2).
    */
   struct vkfd_list *first_open[2];
   bool async;
   bool delivering;
   pthread_t delivery_thread;
   int event_fd;      /* polled mode: readable while a fence is ready */
   bool event_raised; /* written since the last flush: one syscall per batch */
   void (*deliver)(void *data, uint32_t fence_id);
   void *data;
};

/* 0 or a negative errno. */
int forward_fence_merger_init(struct forward_fence_merger *merger, bool async,
                              void (*deliver)(void *data, uint32_t fence_id), void *data);

/* Waits for a delivery in progress, then frees every fence without delivering it. */
void forward_fence_merger_fini(struct forward_fence_merger *merger);

/* Appends a fence that neither half has retired; 0 or -ENOMEM. */
int forward_fence_merger_add(struct forward_fence_merger *merger, uint32_t fence_id);

/* Forgets the newest fence again (its core half could not be created). */
void forward_fence_merger_remove_last(struct forward_fence_merger *merger);

/* `half` has nothing to wait for in the newest fence (it refused to create it). */
void forward_fence_merger_retire_last(struct forward_fence_merger *merger,
                                      enum forward_fence_half half);

/* `half` retired `fence_id` and everything before it; unknown ids are ignored. */
void forward_fence_merger_retire(struct forward_fence_merger *merger,
                                 enum forward_fence_half half, uint32_t fence_id);

/* Polled mode: delivers the fences both halves retired, on the caller's thread. */
void forward_fence_merger_flush(struct forward_fence_merger *merger);

/* Drops every fence without delivering it (reset). */
void forward_fence_merger_drop_all(struct forward_fence_merger *merger);

/* The eventfd of polled mode, or -1. */
int forward_fence_merger_poll_fd(const struct forward_fence_merger *merger);

#endif /* FORWARD_FENCE_H */
