/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The KFD VA window (wire-protocol.md §5, design.md "The VA window"). KFD allocations
 * live at fixed addresses that are the same for the guest, the host and the GPU. The
 * window is process-wide, because every context shares one libhsakmt; the first
 * OPEN_KFD places it and later contexts get the same one.
 *
 * Modes: with a library that places fixed allocations itself (native), the window is
 * reserved PROT_NONE at 16 TiB (or the documented fallbacks) and each allocation
 * replaces its placeholder; with Debian's 5.2.3 it is carved from the upper part of
 * libhsakmt's reserved SVM aperture, which libhsakmt already holds PROT_NONE.
 */
#ifndef HSAKMT_VA_H
#define HSAKMT_VA_H

#include <stdbool.h>
#include <stdint.h>

struct hsakmt_context;

/* OPEN_KFD: the window this context's guest must reserve. Returns an HSAKMT status. */
int hsakmt_va_window(struct hsakmt_context *ctx, uint64_t guest_hint, uint64_t *start,
                     uint64_t *size);

/* The context no longer uses the window (context destroy). */
void hsakmt_va_context_release(struct hsakmt_context *ctx);

/*
 * Takes `size` bytes aligned to `alignment` (a power of two >= page) from the window
 * and makes the range ready for a fixed allocation. Returns an HSAKMT status
 * (NO_MEMORY when the window is full or missing).
 */
int hsakmt_va_alloc(uint64_t size, uint64_t alignment, uint64_t *va);

/*
 * Native mode only: takes a range that stays PROT_NONE for the caller to map over
 * with MAP_FIXED (the userptr alias, where the library maps userptrs at their CPU
 * address). NO_MEMORY in the other modes or when the window is full.
 */
int hsakmt_va_reserve(uint64_t size, uint64_t alignment, uint64_t *va);

/* True when [start, start + size) lies inside the placed window. */
bool hsakmt_va_contains(uint64_t start, uint64_t size);

/* Returns a range to the window, restoring its placeholder. */
void hsakmt_va_free(uint64_t va, uint64_t size);

/* The window, if placed; false before the first OPEN_KFD. */
bool hsakmt_va_window_bounds(uint64_t *start, uint64_t *size);

/* True when fixed allocations can be made in the window. */
bool hsakmt_va_can_allocate(void);

/* Tests: the window's bytes in use and the number of free extents. */
void hsakmt_va_stats(uint64_t *used, uint32_t *free_extents);

#endif /* HSAKMT_VA_H */
