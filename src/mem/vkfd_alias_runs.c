/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Steps 1 and 2 of an alias build: from the VMM's iovecs to runs that are known to be
 * placeable, without mapping anything. Sorting by host address is what makes the
 * validation cheap: duplicates and overlaps become neighbours, and all runs inside
 * one mapping become consecutive, so one PROCMAP_QUERY (or one lookup in one read of
 * /proc/self/maps) validates all of them.
 */
#include "mem/vkfd_alias_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/vkfd_log.h"
#include "util/vkfd_math.h"

static uintptr_t
iov_base(const struct alias_build *b, uint32_t i)
{
   return (uintptr_t)b->params->iovecs[i].iov_base;
}

static uint64_t
iov_len(const struct alias_build *b, uint32_t i)
{
   return b->params->iovecs[i].iov_len;
}

/*
 * Step 1 without allocating: shape of every iovec, alignment of those inside the
 * blob, and how many runs they merge into.
 */
static int
alias_iovecs_check(struct alias_build *b, uint32_t *run_count)
{
   const struct vkfd_alias_params *p = b->params;
   const uint64_t page = b->page_size;
   uint64_t total = 0;
   uintptr_t prev_end = 0;
   uint32_t runs = 0;

   for (uint32_t i = 0; i < p->num_iovs; i++) {
      uintptr_t base = iov_base(b, i), end;
      uint64_t len = iov_len(b, i);
      if (!base) {
         vkfd_err(LOG_PREFIX "iovec %" PRIu32 " has a NULL base", p->res_id, i);
         return -EINVAL;
      }
      if (!len) {
         vkfd_err(LOG_PREFIX "iovec %" PRIu32 " (0x%" PRIxPTR "+0x0) is empty", p->res_id,
                  i, base);
         return -EINVAL;
      }
      if (vkfd_ckd_add(&end, base, len)) {
         vkfd_err(LOG_PREFIX "iovec %" PRIu32 " (0x%" PRIxPTR "+0x%" PRIx64
                             ") wraps around the address space",
                  p->res_id, i, base, len);
         return -EINVAL;
      }
      if (total >= p->size)
         continue; /* past the blob: not aliased, so only its shape matters */

      if (!vkfd_is_aligned(base, page) || !vkfd_is_aligned(len, page)) {
         vkfd_err(LOG_PREFIX "iovec %" PRIu32 " (0x%" PRIxPTR "+0x%" PRIx64
                             "): %s is not a multiple of the page size 0x%" PRIx64,
                  p->res_id, i, base, len,
                  vkfd_is_aligned(base, page) ? "the length" : "the base", page);
         return -EINVAL;
      }
      if (!runs || base != prev_end)
         runs++;
      prev_end = end;
      if (vkfd_ckd_add(&total, total, len))
         total = UINT64_MAX; /* more than any size: the blob is covered */
      b->used_iovs = i + 1;
   }
   if (total < p->size) {
      vkfd_err(LOG_PREFIX "the %" PRIu32 " iovecs hold 0x%" PRIx64
                          " bytes, less than the blob size 0x%" PRIx64,
               p->res_id, p->num_iovs, total, p->size);
      return -EINVAL;
   }
   *run_count = runs;
   return 0;
}

/* Step 1, second pass: the runs, in blob order; the last iovec may be cut at `size`. */
static void
alias_runs_fill(struct alias_build *b)
{
   struct vkfd_alias *a = b->alias;
   uint64_t offset = 0;
   struct vkfd_alias_run *run = NULL;

   for (uint32_t i = 0; i < b->used_iovs; i++) {
      uintptr_t base = iov_base(b, i);
      uint64_t len = VKFD_MIN(iov_len(b, i), a->size - offset);
      if (!run || base != run->start + run->len) {
         run = run ? run + 1 : a->runs;
         *run = (struct vkfd_alias_run){
            .start = base,
            .offset = offset,
            .first_iov = i,
         };
      }
      run->len += len;
      run->iov_count++;
      offset += len;
   }
   a->run_count = (uint32_t)(run - a->runs) + 1;
}

struct alias_sort_key {
   uintptr_t start;
   uint32_t run;
};

static int
alias_sort_key_compare(const void *pa, const void *pb)
{
   const struct alias_sort_key *ka = pa, *kb = pb;
   return (ka->start > kb->start) - (ka->start < kb->start);
}

static int
alias_runs_sort(struct vkfd_alias *a)
{
   uint32_t n = a->run_count;
   uint32_t i = 1;
   while (i < n && a->runs[i].start > a->runs[i - 1].start)
      i++;
   if (i >= n) { /* already ascending, e.g. guest pages in order but not adjacent */
      for (i = 0; i < n; i++)
         a->sorted[i] = i;
      return 0;
   }

   /* keys beside the indices: the comparison never touches the run array */
   struct alias_sort_key *keys = malloc((size_t)n * sizeof(*keys));
   if (!keys)
      return -ENOMEM;
   for (i = 0; i < n; i++)
      keys[i] = (struct alias_sort_key){ a->runs[i].start, i };
   qsort(keys, n, sizeof(*keys), alias_sort_key_compare);
   for (i = 0; i < n; i++)
      a->sorted[i] = keys[i].run;
   free(keys);
   return 0;
}

/* The iovec of `run` holding host address `addr` (inside the run). */
static uint32_t
alias_run_iovec_at(const struct alias_build *b, const struct vkfd_alias_run *run,
                   uintptr_t addr)
{
   uintptr_t start = run->start;
   uint32_t last = run->first_iov + run->iov_count - 1;
   for (uint32_t i = run->first_iov; i < last; i++) {
      if (addr - start < iov_len(b, i))
         return i;
      start += iov_len(b, i);
   }
   return last;
}

static int
alias_runs_check_overlap(const struct alias_build *b)
{
   const struct vkfd_alias *a = b->alias;
   for (uint32_t p = 1; p < a->run_count; p++) {
      const struct vkfd_alias_run *prev = &a->runs[a->sorted[p - 1]];
      const struct vkfd_alias_run *cur = &a->runs[a->sorted[p]];
      if (cur->start - prev->start >= prev->len)
         continue;
      uint32_t i = alias_run_iovec_at(b, prev, cur->start), j = cur->first_iov;
      if (i > j) {
         uint32_t t = i;
         i = j;
         j = t;
      }
      vkfd_err(LOG_PREFIX "iovec %" PRIu32 " (0x%" PRIxPTR "+0x%" PRIx64
                          ") overlaps iovec %" PRIu32 " (0x%" PRIxPTR "+0x%" PRIx64
                          "): the same guest memory twice in one blob",
               a->res_id, i, iov_base(b, i), iov_len(b, i), j, iov_base(b, j),
               iov_len(b, j));
      return -EINVAL;
   }
   return 0;
}

/* Checks that hold for a whole mapping; `run` is the first run met inside it. */
static int
alias_vma_check(const struct alias_build *b, const struct vkfd_vma_info *vma,
                const struct vkfd_alias_run *run)
{
   const char *why = NULL;
   int ret = -EFAULT;
   if (!(vma->flags & VKFD_VMA_SHARED))
      why = vma->inode ? "is in a private file mapping" : "is in a private mapping";
   else if (!(vma->flags & VKFD_VMA_READ))
      why = "is in a mapping without read permission";
   else if (!(vma->flags & VKFD_VMA_WRITE) && !b->params->read_only)
      why = "is in a read-only mapping, but the blob is not RDONLY";
   if (!why)
      return 0;

   uint32_t i = run->first_iov;
   vkfd_err(
      LOG_PREFIX "iovec %" PRIu32 " (0x%" PRIxPTR "+0x%" PRIx64 ") %s (0x%" PRIxPTR
                 "-0x%" PRIxPTR " %c%c%c%c)%s",
      b->params->res_id, i, iov_base(b, i), iov_len(b, i), why, vma->start, vma->end,
      vma->flags & VKFD_VMA_READ ? 'r' : '-', vma->flags & VKFD_VMA_WRITE ? 'w' : '-',
      vma->flags & VKFD_VMA_EXEC ? 'x' : '-', vma->flags & VKFD_VMA_SHARED ? 's' : 'p',
      vma->flags & VKFD_VMA_SHARED
         ? ""
         : "; guest RAM must be shared (memory-backend-memfd,share=on)");
   return ret;
}

void
vkfd_alias_backing_open(struct alias_build *b, struct alias_vma *vma)
{
   vma->fd_tried = true;
   if (b->force_mremap || !vma->info.inode)
      return;
   int fd = vkfd_vma_backing_open(&vma->info, !b->params->read_only);
   if (fd < 0) {
      /* unprivileged VMMs land here (map_files needs CAP_SYS_ADMIN): not an error */
      vkfd_debug("alias: res %" PRIu32 ": map_files of 0x%" PRIxPTR "-0x%" PRIxPTR
                 " not usable (%s); duplicating with mremap",
                 b->params->res_id, vma->info.start, vma->info.end, strerror(-fd));
      return;
   }
   vma->fd = fd;
}

/* Looks up the mapping holding the start of `run` and appends it to the cache. */
static int
alias_vma_lookup(struct alias_build *b, const struct vkfd_alias_run *run)
{
   struct vkfd_vma_info info;
   int ret = vkfd_vma_query_find(&b->query, run->start, &info);
   if (ret == -ENOENT) {
      vkfd_err(LOG_PREFIX "iovec %" PRIu32 " (0x%" PRIxPTR "+0x%" PRIx64
                          ") is not mapped",
               b->params->res_id, run->first_iov, run->start, iov_len(b, run->first_iov));
      return -EFAULT;
   }
   if (ret)
      return ret;
   ret = alias_vma_check(b, &info, run);
   if (ret)
      return ret;

   if (b->vma_count == b->vma_capacity) {
      uint32_t capacity = b->vma_capacity ? b->vma_capacity * 2 : 8;
      struct alias_vma *vmas = realloc(b->vmas, (size_t)capacity * sizeof(*vmas));
      if (!vmas)
         return -ENOMEM;
      b->vmas = vmas;
      b->vma_capacity = capacity;
   }
   struct alias_vma *vma = &b->vmas[b->vma_count++];
   *vma = (struct alias_vma){ .info = info, .fd = -1 };
   /* the /proc/self/maps text has no page size: hugetlbfs tells it through the fd */
   if (!vma->info.page_size)
      vkfd_alias_backing_open(b, vma);
   if (!vma->info.page_size)
      vma->info.page_size = b->page_size;
   b->max_page_size = VKFD_MAX(b->max_page_size, vma->info.page_size);
   return 0;
}

/*
 * The run at sorted position `pos` runs past its mapping's end `at`. Iovecs adjacent
 * in host VA may still come from two mappings (two memory backends mapped side by
 * side); then the run is split where the mapping ends. An iovec that itself crosses
 * the end is refused.
 */
static int
alias_run_split(struct alias_build *b, uint32_t pos, uintptr_t at)
{
   struct vkfd_alias *a = b->alias;
   uint32_t r = a->sorted[pos];
   uint32_t i = alias_run_iovec_at(b, &a->runs[r], at);
   if (iov_base(b, i) != at) {
      vkfd_err(LOG_PREFIX
               "iovec %" PRIu32 " (0x%" PRIxPTR "+0x%" PRIx64
               ") is not inside one mapping: it runs past the end of 0x%" PRIxPTR
               "-0x%" PRIxPTR,
               a->res_id, i, iov_base(b, i), iov_len(b, i),
               b->vmas[b->vma_count - 1].info.start, at);
      return -EFAULT;
   }

   if (a->run_count == a->run_capacity) {
      /* rare: at most one split per mapping boundary; each run holds an iovec */
      uint32_t capacity = (uint32_t)VKFD_MIN((uint64_t)a->run_capacity * 2, b->used_iovs);
      if (capacity <= a->run_count)
         return -ENOMEM; /* cannot happen: a split leaves an iovec on each side */
      struct vkfd_alias_run *runs = realloc(a->runs, (size_t)capacity * sizeof(*runs));
      if (!runs)
         return -ENOMEM;
      a->runs = runs;
      uint32_t *sorted = realloc(a->sorted, (size_t)capacity * sizeof(*sorted));
      if (!sorted)
         return -ENOMEM;
      a->sorted = sorted;
      a->run_capacity = capacity;
   }
   struct vkfd_alias_run *head = &a->runs[r], *tail = &a->runs[a->run_count];
   *tail = (struct vkfd_alias_run){
      .start = at,
      .len = head->start + head->len - at,
      .offset = head->offset + (at - head->start),
      .first_iov = i,
      .iov_count = head->first_iov + head->iov_count - i,
   };
   head->len = at - head->start;
   head->iov_count = i - head->first_iov;
   memmove(&a->sorted[pos + 2], &a->sorted[pos + 1],
           (size_t)(a->run_count - pos - 1) * sizeof(*a->sorted));
   a->sorted[pos + 1] = a->run_count++;
   return 0;
}

/* Step 2: every run against the mapping it lies in, one query per mapping. */
static int
alias_runs_validate(struct alias_build *b)
{
   struct vkfd_alias *a = b->alias;
   for (uint32_t pos = 0; pos < a->run_count; pos++) {
      struct vkfd_alias_run *run = &a->runs[a->sorted[pos]];
      /* sorted and disjoint: a run either is in the current mapping or past it */
      if (!b->vma_count || run->start >= b->vmas[b->vma_count - 1].info.end) {
         int ret = alias_vma_lookup(b, run);
         if (ret)
            return ret;
      }
      const struct vkfd_vma_info *vma = &b->vmas[b->vma_count - 1].info;
      run->vma = b->vma_count - 1;
      if (run->len > vma->end - run->start) {
         int ret = alias_run_split(b, pos, vma->end);
         if (ret)
            return ret;
         run = &a->runs[a->sorted[pos]];
      }
      /* base pages were checked per iovec; this catches hugetlb memory */
      if (!vkfd_is_aligned(run->start | run->len | run->offset, vma->page_size)) {
         vkfd_err(LOG_PREFIX "iovec %" PRIu32 " (0x%" PRIxPTR "+0x%" PRIx64
                             ") is in a mapping with 0x%" PRIx64
                             "-byte pages (hugetlb); its run 0x%" PRIxPTR "+0x%" PRIx64
                             " at blob offset 0x%" PRIx64 " is not aligned to them",
                  a->res_id, run->first_iov, iov_base(b, run->first_iov),
                  iov_len(b, run->first_iov), vma->page_size, run->start, run->len,
                  run->offset);
         return -EINVAL;
      }
   }
   return 0;
}

int
vkfd_alias_runs_collect(struct alias_build *b)
{
   struct vkfd_alias *a = b->alias;
   uint32_t run_count;
   int ret = alias_iovecs_check(b, &run_count);
   if (ret)
      return ret;

   a->runs = malloc((size_t)run_count * sizeof(*a->runs));
   a->sorted = malloc((size_t)run_count * sizeof(*a->sorted));
   if (!a->runs || !a->sorted)
      return -ENOMEM;
   a->run_capacity = run_count;
   alias_runs_fill(b);

   ret = alias_runs_sort(a);
   if (!ret)
      ret = alias_runs_check_overlap(b);
   if (!ret)
      ret = vkfd_vma_query_init(&b->query, b->force_proc_maps);
   if (!ret)
      ret = alias_runs_validate(b);
   return ret;
}
