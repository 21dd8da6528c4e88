/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Fence timelines and their delivery to the VMM.
 *
 * A fence belongs to one timeline: the context-0 timeline (virgl_renderer_create_fence)
 * or one ring of one context. It is retired when it and every fence created before it
 * on the same timeline have signalled. Retired fences wait on the ready list until
 * they are delivered: by a worker thread when the VMM asked for ASYNC_FENCE_CB, else
 * by vkfd_fence_poll() on the VMM's own thread (virgl_renderer_poll). A fence is never
 * delivered from inside the call that created it, because QEMU queues the command only
 * after that call returns.
 *
 * Delivery callbacks run without the queue lock and must not call back into the
 * library.
 */
#ifndef VKFD_FENCE_H
#define VKFD_FENCE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/vkfd_list.h"

struct vkfd_fence_timeline {
   struct vkfd_list pending; /* fences not yet retired, in creation order */
   uint32_t ctx_id;          /* 0 for the context-0 timeline */
   uint32_t ring_idx;
};

/* Owned by its timeline until retired, then by the queue until delivered. */
struct vkfd_fence {
   struct vkfd_list link;
   uint32_t ctx_id;
   uint32_t ring_idx;
   uint64_t id;
   bool mergeable;
   bool signaled;
   bool context_fence; /* false for context-0 fences */
};

struct vkfd_fence_sink {
   void (*retire_global)(void *data, uint32_t fence_id);
   void (*retire_context)(void *data, uint32_t ctx_id, uint32_t ring_idx,
                          uint64_t fence_id);
   void *data;
};

struct vkfd_fence_queue {
   pthread_mutex_t lock;
   pthread_cond_t cond;
   struct vkfd_list ready; /* retired, undelivered, in retirement order */
   struct vkfd_fence_timeline global;
   struct vkfd_fence_sink sink;
   bool async;
   int event_fd; /* non-async: readable while `ready` is not empty */
   bool worker_started;
   bool stopping;
   bool delivering; /* one delivery at a time keeps each timeline in order */
   pthread_t delivery_thread;
   pthread_t worker;
};

/* 0 or a negative errno. */
int vkfd_fence_queue_init(struct vkfd_fence_queue *queue, bool async,
                          const struct vkfd_fence_sink *sink);

/* Stops the worker and frees every fence without delivering it. */
void vkfd_fence_queue_fini(struct vkfd_fence_queue *queue);

/* Drops every fence of the context-0 timeline and every undelivered fence. */
void vkfd_fence_queue_drop_all(struct vkfd_fence_queue *queue);

void vkfd_fence_timeline_init(struct vkfd_fence_timeline *timeline, uint32_t ctx_id,
                              uint32_t ring_idx);

/*
 * Frees the timeline's fences, pending or retired, and waits for a delivery in
 * progress, so that no callback for them runs after this returns.
 */
void vkfd_fence_timeline_fini(struct vkfd_fence_queue *queue,
                              struct vkfd_fence_timeline *timeline);

/*
 * Appends a fence to `timeline`. With `signaled` it retires as soon as the fences
 * before it have; otherwise the caller keeps `*out` and calls vkfd_fence_signal().
 * 0 or -ENOMEM.
 */
int
vkfd_fence_create(struct vkfd_fence_queue *queue, struct vkfd_fence_timeline *timeline,
                  uint64_t id, bool mergeable, bool signaled, struct vkfd_fence **out);

/* Marks a fence signalled from any thread. */
void vkfd_fence_signal(struct vkfd_fence_queue *queue,
                       struct vkfd_fence_timeline *timeline, struct vkfd_fence *fence);

/* Non-async mode: delivers retired fences of one context (all when !filter). */
void vkfd_fence_poll(struct vkfd_fence_queue *queue, bool filter, uint32_t ctx_id);

/* The eventfd of non-async mode, or -1. */
int vkfd_fence_queue_poll_fd(const struct vkfd_fence_queue *queue);

/* True while context-0 fences are pending or undelivered (vtest BUSY_WAIT). */
bool vkfd_fence_queue_busy(struct vkfd_fence_queue *queue);

#endif /* VKFD_FENCE_H */
