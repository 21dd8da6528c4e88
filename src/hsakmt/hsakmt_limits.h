/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Per-context limits (docs/security.md, "Fairness"). Every context of a VMM shares one
 * KFD process: one VA window, every GPU's memory and the host's memory. Without a
 * limit one guest process could take all of it and starve the others. Each context
 * has an account; an object charges it when created and the charge is released when
 * the object's memory is finally freed. KFD memory that the VMM still maps after the
 * context let go of it keeps counting against that context while the context lives,
 * so detaching blobs one keeps mapped is no way around the limits.
 *
 * The limits come from VIRTKFD_CONTEXT_LIMITS, read once per process:
 *   "window=50%,vram=90%,sysmem=50%,objects=65536,queues=256,events=1024"
 * window: bytes of the KFD VA window (percent of the window, or a size);
 * vram: device memory per GPU node (percent of the node's memory, or a size);
 * sysmem: system memory allocated through KFD (percent of host RAM, or a size);
 * objects: live objects (KFD allocations, userptrs, events, queues, ...);
 * queues, events: live user-mode queues and KFD events, of which amdkfd grants the
 * whole KFD process (every context) 1024 and 4096.
 * Sizes take a K, M, G or T suffix; items left out keep their defaults.
 *
 * Ownership: the context owns its account; a charge is embedded in the object or
 * buffer that holds it and outlives the account safely (the account orphans it).
 */
#ifndef HSAKMT_LIMITS_H
#define HSAKMT_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

#include "util/vkfd_list.h"
#include "virtkfd/hsakmt_proto.h"

enum hsakmt_limit {
   HSAKMT_LIMIT_WINDOW,
   HSAKMT_LIMIT_VRAM,
   HSAKMT_LIMIT_SYSMEM,
   HSAKMT_LIMIT_OBJECTS,
   HSAKMT_LIMIT_QUEUES,
   HSAKMT_LIMIT_EVENTS,
   HSAKMT_LIMIT_COUNT,
};

struct hsakmt_account {
   uint32_t ctx_id; /* for log lines */
   uint64_t window;
   uint64_t sysmem;
   uint64_t objects;
   uint64_t queues;
   uint64_t events;
   uint64_t vram[HSAKMT_MAX_MEMORY_NODES];
   struct vkfd_list charges; /* struct hsakmt_charge.link, while the account lives */
};

/* What one object holds against its context's account. */
struct hsakmt_charge {
   struct hsakmt_account *account; /* NULL: not charged, or the context is gone */
   struct vkfd_list link;
   uint64_t window;
   uint64_t sysmem;
   uint64_t vram;
   uint32_t vram_node;
   uint32_t objects;
   uint32_t queues;
   uint32_t events;
};

void hsakmt_account_init(struct hsakmt_account *account, uint32_t ctx_id);

/* The context is going: live charges stay with their objects but count nowhere. */
void hsakmt_account_fini(struct hsakmt_account *account);

/*
 * Charges `request` (its amounts; `account` and `link` are ignored) to the account and
 * fills `charge`. Returns 0, or NO_MEMORY with a log line naming the limit and `what`
 * when any limit would be exceeded; nothing is charged then.
 */
int hsakmt_account_charge(struct hsakmt_account *account, struct hsakmt_charge *charge,
                          const struct hsakmt_charge *request, const char *what);

/* Returns what the charge holds; NULL-safe and idempotent. */
void hsakmt_charge_release(struct hsakmt_charge *charge);

/* The account's limit (bytes or objects); for VRAM, of `node`. */
uint64_t hsakmt_limit_of(enum hsakmt_limit limit, uint32_t node);

/* VRAM the account may still take on `node` (AVAIL_MEM reports no more). */
uint64_t hsakmt_account_vram_left(const struct hsakmt_account *account, uint32_t node);

/* Tests: re-reads VIRTKFD_CONTEXT_LIMITS at the next charge. */
void hsakmt_limits_reset(void);

#endif /* HSAKMT_LIMITS_H */
