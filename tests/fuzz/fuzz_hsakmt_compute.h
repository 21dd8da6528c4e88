/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The fuzz harness's compute set-up. A fuzzed stream cannot know what the host hands
 * out at run time (event tokens are salted per context, VAs are chosen by the host),
 * so, as the guest's libhsakmt would have done before, the harness creates an event,
 * an AQL queue on its ring and amd_queue_t, and a scratch allocation, each claimed by
 * a blob at a fixed res_id, and the stream names them through placeholders:
 *
 *   0xfeedf00e_XXXXXXXX  the event's token (XXXXXXXX ignored)
 *   0xfeedf00f_XXXXXXXX  the ring's VA + XXXXXXXX
 *   0xfeedf010_XXXXXXXX  the amd_queue_t's VA + XXXXXXXX
 *   0xfeedf011_XXXXXXXX  the scratch allocation's VA + XXXXXXXX
 *
 * Res ids: event 5, ring 6, amd_queue_t 7, queue 8, doorbell page 9, scratch 10. What
 * cannot be made (no fixed-address window under ASan) is skipped; its placeholders
 * become 0.
 */
#ifndef FUZZ_HSAKMT_COMPUTE_H
#define FUZZ_HSAKMT_COMPUTE_H

#include <stddef.h>
#include <stdint.h>

#define FUZZ_EVENT_RES     5u
#define FUZZ_RING_RES      6u
#define FUZZ_AMD_QUEUE_RES 7u
#define FUZZ_QUEUE_RES     8u
#define FUZZ_DOORBELL_RES  9u
#define FUZZ_SCRATCH_RES   10u

struct fuzz_compute {
   uint32_t ctx_id;
   uint8_t *shmem; /* the context's shared memory, as the VMM maps it */
   uint64_t event_token;
   uint64_t ring_va;
   uint64_t amd_queue_va;
   uint64_t scratch_va;
   uint32_t made; /* bit per res id above: which ones exist */
};

/*
 * libhsakmt keeps the events page and each GPU's doorbell page for the life of the
 * KFD process once it needed them: make them once, in a context of its own, so that
 * no input is blamed for them.
 */
void fuzz_compute_warm_up(uint32_t ctx_id);

/* Makes the objects above in `c->ctx_id`, whose shmem `c->shmem` is mapped. */
void fuzz_compute_setup(struct fuzz_compute *c);

/* Replaces the placeholders in the stream. */
void fuzz_compute_patch(const struct fuzz_compute *c, uint8_t *stream, size_t size);

/* Unrefs every resource the set-up made. */
void fuzz_compute_release(struct fuzz_compute *c);

#endif /* FUZZ_HSAKMT_COMPUTE_H */
