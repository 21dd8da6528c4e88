/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Scratch (wire-protocol.md §2.4 sub-types 0 and 5, §4.4 "Scratch", §5.1). libhsakmt
 * allows one Scratch allocation per GPU and KFD process, and every context shares the
 * KFD process: so each GPU node has one process-wide scratch window, NumXcc x 4 GiB x
 * 5 (five contexts' worth), backed by one libhsakmt Scratch allocation made when the
 * first context needs it, and given back when the last user is gone (the window is
 * smaller when the KFD window is: a quarter of it at most). A context's scratch
 * ALLOC is a sub-range of it, a fifth of the window at most per context and node;
 * MAP_MEM_TO_GPU with need_create_bo maps part of such a sub-range (libhsakmt then
 * backs it with VRAM) and files a SCRATCH_MAP object whose detach unmaps it. Nothing
 * outside this context's own scratch sub-ranges can be mapped (§6.2 row 16).
 *
 * The windows are carved from the KFD VA window: the guest never CPU-maps scratch, so
 * addresses inside its reservation are harmless, and the window is the only part of
 * libhsakmt's reserved aperture (5.2.3) this host manages.
 */
#ifndef HSAKMT_SCRATCH_H
#define HSAKMT_SCRATCH_H

#include <stdint.h>

struct hsakmt_request;
struct hsakmt_memory_rsp;

/* MEMORY/ALLOC with the Scratch flag. */
void hsakmt_scratch_alloc(struct hsakmt_request *r, struct hsakmt_memory_rsp *rsp);

/* MEMORY/MAP_MEM_TO_GPU with need_create_bo set. */
void hsakmt_scratch_map(struct hsakmt_request *r, struct hsakmt_memory_rsp *rsp);

/* What one context may hold in scratch on `node`: a fifth of the node's window. */
uint64_t hsakmt_scratch_context_share(uint32_t node);

/* Tests: bytes of `node`'s scratch window handed out, and whether it is placed. */
uint64_t hsakmt_scratch_window_used(uint32_t node, uint64_t *window_size);

#endif /* HSAKMT_SCRATCH_H */
