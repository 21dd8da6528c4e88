/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * A first-fit allocator of aligned sub-ranges of one address range, for windows the
 * library carves up itself (the KFD VA window, a node's scratch window). Free extents are
 * kept sorted and merged with their neighbours when a range comes back.
 *
 * Ownership: the allocator owns its extent list; the caller owns the allocator and
 * serialises calls.
 */
#ifndef VKFD_RANGE_H
#define VKFD_RANGE_H

#include <stdint.h>

struct vkfd_range_extent;

struct vkfd_range {
   struct vkfd_range_extent *free; /* sorted by start, never adjacent */
   uint64_t used;
};

/* All of [start, start + size) free; 0 or -ENOMEM. */
int vkfd_range_init(struct vkfd_range *range, uint64_t start, uint64_t size);

void vkfd_range_fini(struct vkfd_range *range);

/* Takes `size` bytes aligned to `alignment` (a power of two); 0, -ENOSPC or -ENOMEM. */
int vkfd_range_take(struct vkfd_range *range, uint64_t size, uint64_t alignment,
                    uint64_t *out);

/*
 * Returns a range taken before. -ENOMEM when a new extent cannot be allocated: the
 * range is then lost to the allocator (never handed out twice).
 */
int vkfd_range_give(struct vkfd_range *range, uint64_t start, uint64_t size);

/* The number of free extents (how fragmented the range is). */
uint32_t vkfd_range_extent_count(const struct vkfd_range *range);

#endif /* VKFD_RANGE_H */
