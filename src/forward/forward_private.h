/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Shared by the files of src/forward: the one forwarding state, next to the API lock
 * it lives under.
 *
 * Locking: every field below is read and written with the API lock held
 * (vkfd_renderer.lock), except `active`, which the entry points test first without it
 * so that a VMM that uses only capset 8 pays nothing more than that load. Calls into
 * the system library are made with the API lock held, like calls into virtkfd's core,
 * except virgl_renderer_poll and context_poll, whose callbacks may call the API again.
 */
#ifndef FORWARD_PRIVATE_H
#define FORWARD_PRIVATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "virglrenderer.h"

#include "core/vkfd_renderer.h"
#include "forward/forward_fence.h"
#include "forward/forward_library.h"
#include "util/vkfd_hash.h"

/* Ids that live in the system library; `count` lets the hooks skip the lock when
 * it has none (a VMM with only ROCm contexts). */
struct forward_table {
   struct vkfd_hash ids;
   atomic_uint count;
};

struct forward_state {
   /* the system library is initialised and serves its capsets */
   atomic_bool active;
   const struct forward_library *lib;
   struct vkfd_renderer *renderer; /* the VMM's cookie and callbacks live there */
   /* its init failed in this init cycle: its capsets report 0/0 until cleanup */
   bool init_failed;
   int flags;                                 /* what the system library was given */
   struct virgl_renderer_callbacks callbacks; /* what it calls, read in place */
   /* ctx_id -> capset + 1, for the contexts that live in the system library */
   struct forward_table contexts;
   /* res_id -> forward_resource_marker, for its resources */
   struct forward_table resources;
   struct forward_fence_merger ctx0;
   int system_poll_fd;
   int epoll_fd; /* polled mode: one fd for the VMM over both halves */
};

extern struct forward_state forward_state;

/* The value stored for every resource of the system library. */
extern char forward_resource_marker;

static inline bool
forward_is_active(void)
{
   return atomic_load_explicit(&forward_state.active, memory_order_acquire);
}

/* Takes the API lock and returns the library while forwarding is active, else NULL
 * without the lock. */
const struct forward_library *forward_lock(void);

void forward_unlock(void);

/* The same, only when the id is one of the system library's contexts / resources. */
const struct forward_library *forward_lock_context(uint32_t ctx_id);
const struct forward_library *forward_lock_resource(uint32_t res_id);

/* With the lock: the tables of ids (0 or -ENOMEM; an id already there is kept). */
int forward_table_insert(struct forward_table *table, uint32_t id, void *value);
void forward_table_remove(struct forward_table *table, uint32_t id);
void forward_table_clear(struct forward_table *table);

/* With the lock: whether an id lives in the system library. */
bool forward_has_context(uint32_t ctx_id);
bool forward_has_resource(uint32_t res_id);

/* Fills forward_state.callbacks from the VMM's callbacks (forward_callbacks.c). */
void forward_callbacks_build(const struct vkfd_renderer *renderer);

/* Delivers a context-0 fence both halves retired to the VMM (the merger's sink). */
void forward_deliver_ctx0_fence(void *data, uint32_t fence_id);

/* Routes the system library's log messages to virtkfd's log (forward_callbacks.c). */
void forward_log_attach(const struct forward_library *lib);

#endif /* FORWARD_PRIVATE_H */
