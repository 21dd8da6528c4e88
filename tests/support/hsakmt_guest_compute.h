/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The guest's event and queue steps, on top of the miniature guest of hsakmt_guest.h:
 * the requests as its libhsakmt sends them (§2.3, §2.5), and an AQL queue laid out
 * the way ROCr lays it out (§4.5): the ring and the amd_queue_t in KFD memory at
 * fixed VAs, mapped for the CPU through the VMM's mapping and to the GPU.
 */
#ifndef HSAKMT_GUEST_COMPUTE_H
#define HSAKMT_GUEST_COMPUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "hsakmt_guest.h"

/* amd_queue_t (ROCr's amd_hsa_queue.h): where CP and user mode keep the dispatch ids. */
#define HSAKMT_GUEST_WRITE_DISPATCH_ID 56
#define HSAKMT_GUEST_READ_DISPATCH_ID  128
/* Where the tests keep an amd_signal_t of their own inside the amd_queue_t page. */
#define HSAKMT_GUEST_SIGNAL_OFFSET 2048
#define HSAKMT_GUEST_AQL_PACKET    64

struct hsakmt_event_rsp *
hsakmt_guest_event(struct hsakmt_guest *guest, struct hsakmt_event_req *req);

/* EVENT/CREATE of a signal event on `node` (0 is fine); copies the response. */
int
hsakmt_guest_create_event(struct hsakmt_guest *guest, uint32_t node, bool manual_reset,
                          bool signaled, uint64_t blob_id, struct hsakmt_event_rsp *out);

/* EVENT/SET, RESET, QUERY_STATE or DESTROY of a handle and res_id: rsp.ret. */
int hsakmt_guest_event_op(struct hsakmt_guest *guest, uint32_t type, uint64_t handle,
                          uint32_t res_id);

/* A QUEUE request with a response slot of `rsp_len` bytes (0: the baseline 168). */
struct hsakmt_queue_rsp *
hsakmt_guest_queue(struct hsakmt_guest *guest, struct hsakmt_queue_req *req, uint32_t len,
                   uint32_t rsp_len);

struct hsakmt_guest_aql {
   uint32_t node;
   /* the ring and the amd_queue_t: KFD memory, its blob, the VMM's mapping */
   uint64_t ring_va;
   uint64_t ring_size;
   uint32_t ring_res;
   uint8_t *ring;
   uint64_t amd_queue_va;
   uint32_t amd_queue_res;
   uint8_t *amd_queue;
   /* after hsakmt_guest_aql_create */
   struct hsakmt_queue_rsp rsp;
   uint32_t queue_res;
   uint32_t doorbell_res; /* 0 when the node's page was the guest's already */
   uint64_t doorbell;     /* host_doorbell: the VA the guest rings */
};

/*
 * ALLOCs the ring (coarse-grained system memory, headers set INVALID) and the
 * amd_queue_t, claims their MAPPABLE blobs, maps both for the CPU (the VMM's
 * resource_map) and to the GPU node. Returns 0 or the first failure.
 */
int hsakmt_guest_aql_memory(struct hsakmt_guest *guest, uint32_t node, uint64_t ring_size,
                            struct hsakmt_guest_aql *aql);

/*
 * QUEUE/CREATE of an AQL queue on that memory with `event` (a token, or 0), asking
 * for the node's doorbell page blob when `doorbell_blob`; then claims the queue's
 * tracking blob and the doorbell page. Returns rsp.ret, or a claim's failure.
 */
int hsakmt_guest_aql_create(struct hsakmt_guest *guest, struct hsakmt_guest_aql *aql,
                            uint64_t event, bool doorbell_blob);

/* Writes a BARRIER_AND packet at `index` with a completion signal (or 0). */
void hsakmt_guest_aql_barrier(struct hsakmt_guest_aql *aql, uint64_t index,
                              uint64_t completion_signal);

/* Unmaps and unrefs the ring and the amd_queue_t. */
void
hsakmt_guest_aql_memory_release(struct hsakmt_guest *guest, struct hsakmt_guest_aql *aql);

#endif /* HSAKMT_GUEST_COMPUTE_H */
