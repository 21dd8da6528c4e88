/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * A node's doorbell page as a blob (wire-protocol.md §4.2, §4.5). libhsakmt maps one
 * doorbell page per GPU for the whole KFD process, the first time it creates a queue
 * there, and keeps it until hsaKmtCloseKFD. The guest maps it once per node, 8 KiB,
 * MAP_FIXED at the host's own VA, and rings every later queue of that node through
 * it; so the page's base and size come from the host mapping that holds the doorbell,
 * and every queue's doorbell must lie in the same window.
 *
 * Lifetime (§4.1, lifetime rule): the blob's backing holds a reference on the KFD
 * device, so the page stays mapped while the VMM may map it, until resource_unref;
 * the DOORBELL object (one live per node and context) only says the guest has it.
 *
 * The doorbell VA is a host address outside the KFD window: one of the two values the
 * protocol must carry because the GPU uses them (docs/security.md).
 */
#ifndef HSAKMT_DOORBELL_H
#define HSAKMT_DOORBELL_H

#include <stdbool.h>
#include <stdint.h>

#include "virtkfd/hsakmt_proto.h"

struct hsakmt_context;

/* What the guest maps for every node (Appendix A). */
#define HSAKMT_DOORBELL_WINDOW HSAKMT_DOORBELL_BLOB_SIZE

/*
 * The base of the 8 KiB window of the host mapping that holds `doorbell`. Returns an
 * HSAKMT status, with a log line when the mapping cannot be exposed as 8 KiB.
 */
int hsakmt_doorbell_window(struct hsakmt_context *ctx, uint64_t doorbell, uint64_t *base);

/*
 * Checks that `base` is the node's window as the context's guest has it, if it has
 * one. Returns an HSAKMT status.
 */
int hsakmt_doorbell_check(struct hsakmt_context *ctx, uint32_t node, uint64_t base);

/* True when the context has a live doorbell object for `node`. */
bool hsakmt_doorbell_exists(struct hsakmt_context *ctx, uint32_t node);

/*
 * Files the node's DOORBELL object under a checked blob id, for the guest's
 * CREATE_BLOB(HOST3D, MAPPABLE, 0x2000). Returns an HSAKMT status.
 */
int hsakmt_doorbell_create(struct hsakmt_context *ctx, uint32_t node, uint64_t base,
                           uint32_t blob_id);

#endif /* HSAKMT_DOORBELL_H */
