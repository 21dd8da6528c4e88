/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * KFD memory at a fixed address of the VA window: the libhsakmt allocation and its
 * range of the window, which the guest, the host and the GPU all use at the same VA
 * (wire-protocol.md §4.4, §5).
 *
 * It lives as long as anything can still see it (§4.1, lifetime rule). Until a blob
 * claims it, the context's HOST_MEM object owns it; from then on the resource does
 * (it is the blob's backing) and frees it only at resource_unref, after the VMM has
 * unmapped it, however the context let go of its object before. Its range of the
 * window is never handed out again while it lives, so no other context's allocation
 * can land where a guest process may still look.
 *
 * A queue that runs on the buffer (its ring, or the amd_queue_t holding the dispatch
 * ids) pins it: while pinned, neither the owner's detach nor the resource's unref
 * unmaps it from the GPU or frees it; the last unpin does what they deferred
 * (§4.4 "QUEUE_MEM", §4.5).
 *
 * Each buffer holds a reference on the KFD device, so it can outlive every context.
 */
#ifndef HSAKMT_BUFFER_H
#define HSAKMT_BUFFER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/vkfd_context.h"
#include "hsakmt/hsakmt_limits.h"

struct hsakmt_context;

struct hsakmt_buffer {
   struct vkfd_blob_backing backing; /* what a claiming resource releases */
   uint64_t va;
   uint64_t size;
   uint64_t window_size; /* its range of the window: twice `size` for AQL queue memory */
   uint32_t node;
   /*
    * A teardown step failed (GPU unmap, free, or the destruction of a queue running on
    * it): the GPU may still reach the memory, so it stays mapped and allocated, and its
    * range never returns to the window.
    */
   bool gpu_may_hold;
   int dmabuf_fd;               /* its dma-buf once exported (hsakmt_export.c), or -1 */
   unsigned queue_pins;         /* live queues running on it */
   bool unmap_deferred;         /* unmap from the GPU at the last unpin */
   bool free_deferred;          /* free at the last unpin */
   struct hsakmt_charge charge; /* window and device or system memory */
};

/*
 * Allocates `size` bytes on `node` at a fresh range of the window, charged to the
 * context. Returns an HSAKMT status, with a log line on failure; nothing is left
 * behind then.
 */
int
hsakmt_buffer_alloc(struct hsakmt_context *ctx, uint32_t node, uint64_t size,
                    uint64_t alignment, uint32_t host_flags, struct hsakmt_buffer **out);

/*
 * Frees the memory and returns its range to the window, or, when the GPU may still
 * hold it, keeps both for good and says so. A pinned buffer is freed at its last
 * unpin instead. NULL-safe.
 */
void hsakmt_buffer_free(struct hsakmt_buffer *buffer);

/* A queue runs on the buffer from now on. */
void hsakmt_buffer_pin(struct hsakmt_buffer *buffer);

/* The queue is gone: does the GPU unmap and the free that were deferred. */
void hsakmt_buffer_unpin(struct hsakmt_buffer *buffer);

#endif /* HSAKMT_BUFFER_H */
