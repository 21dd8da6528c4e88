/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "vkfd_range.h"

#include <errno.h>
#include <stdlib.h>

#include "util/vkfd_math.h"

struct vkfd_range_extent {
   uint64_t start;
   uint64_t size;
   struct vkfd_range_extent *next;
};

int
vkfd_range_init(struct vkfd_range *range, uint64_t start, uint64_t size)
{
   range->used = 0;
   range->free = calloc(1, sizeof(*range->free));
   if (!range->free)
      return -ENOMEM;
   range->free->start = start;
   range->free->size = size;
   return 0;
}

void
vkfd_range_fini(struct vkfd_range *range)
{
   while (range->free) {
      struct vkfd_range_extent *next = range->free->next;
      free(range->free);
      range->free = next;
   }
}

int
vkfd_range_take(struct vkfd_range *range, uint64_t size, uint64_t alignment,
                uint64_t *out)
{
   if (!size || !vkfd_is_power_of_two(alignment))
      return -EINVAL;
   for (struct vkfd_range_extent **link = &range->free; *link; link = &(*link)->next) {
      struct vkfd_range_extent *e = *link;
      uint64_t start, end, extent_end = e->start + e->size;
      if (vkfd_ckd_align_up(&start, e->start, alignment) ||
          vkfd_ckd_add(&end, start, size) || end > extent_end)
         continue;
      /* [e->start, start) stays free, [end, extent_end) becomes an extent of its own */
      if (end < extent_end) {
         struct vkfd_range_extent *tail = calloc(1, sizeof(*tail));
         if (!tail)
            return -ENOMEM;
         tail->start = end;
         tail->size = extent_end - end;
         tail->next = e->next;
         e->next = tail;
      }
      if (start > e->start) {
         e->size = start - e->start;
      } else {
         *link = e->next;
         free(e);
      }
      range->used += size;
      *out = start;
      return 0;
   }
   return -ENOSPC;
}

int
vkfd_range_give(struct vkfd_range *range, uint64_t start, uint64_t size)
{
   struct vkfd_range_extent *prev = NULL, *next = range->free;
   while (next && next->start < start) {
      prev = next;
      next = next->next;
   }
   range->used -= size;
   if (prev && prev->start + prev->size == start) {
      prev->size += size;
      if (next && prev->start + prev->size == next->start) {
         prev->size += next->size;
         prev->next = next->next;
         free(next);
      }
      return 0;
   }
   if (next && start + size == next->start) {
      next->start = start;
      next->size += size;
      return 0;
   }
   struct vkfd_range_extent *e = calloc(1, sizeof(*e));
   if (!e)
      return -ENOMEM;
   e->start = start;
   e->size = size;
   e->next = next;
   if (prev)
      prev->next = e;
   else
      range->free = e;
   return 0;
}

uint32_t
vkfd_range_extent_count(const struct vkfd_range *range)
{
   uint32_t n = 0;
   for (const struct vkfd_range_extent *e = range->free; e; e = e->next)
      n++;
   return n;
}
