/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * How a build goes, and why in this order:
 * 1. shape checks on the iovecs alone (no syscall), merged into runs in blob order;
 * 2. runs sorted by host address and validated, one query per mapping
 *    (vkfd_alias_runs.c);
 * 3. only then is anything mapped: one reservation, then ONE syscall per run. A
 *    failure at any point unmaps the reservation, which takes every placed run with
 *    it, and the fds of map_files are closed before create returns either way.
 */
#include "mem/vkfd_alias_priv.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/vkfd_log.h"
#include "util/vkfd_math.h"

/*
 * Below this many runs the vm.max_map_count pre-check is skipped: counting mappings
 * costs a read of /proc/self/maps (~30 us, more in a big process), several times the
 * cost of placing a few runs, and a small alias that still hits the limit fails in
 * place and is rolled back just as cleanly.
 */
#define ALIAS_MAP_COUNT_CHECK_MIN_RUNS 64

static bool
alias_env_flag(const char *name)
{
   const char *value = getenv(name);
   return value && *value && strcmp(value, "0") != 0;
}

static uint64_t
alias_env_u64(const char *name)
{
   const char *value = getenv(name);
   if (!value || !*value)
      return 0;
   char *end;
   unsigned long long n = strtoull(value, &end, 0);
   return *end ? 0 : (uint64_t)n;
}

/*
 * mremap refuses to grow hugetlb mappings (old_len 0 is growing; measured EINVAL on
 * Linux 6.18), so hugetlb memory can only be placed through its file.
 */
static int
alias_vmas_check_placeable(struct alias_build *b)
{
   for (uint32_t v = 0; v < b->vma_count; v++) {
      struct alias_vma *vma = &b->vmas[v];
      if (vma->info.page_size <= b->page_size)
         continue;
      if (!vma->fd_tried)
         vkfd_alias_backing_open(b, vma);
      if (vma->fd >= 0)
         continue;
      vkfd_err(LOG_PREFIX "guest memory 0x%" PRIxPTR "-0x%" PRIxPTR
                          " is hugetlb (0x%" PRIx64
                          "-byte pages), which mremap cannot duplicate, and its file "
                          "cannot be opened through /proc/self/map_files%s",
               b->params->res_id, vma->info.start, vma->info.end, vma->info.page_size,
               b->force_mremap ? " (VIRTKFD_ALIAS_FORCE_MREMAP is set)"
                               : " (needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE)");
      return -EFAULT;
   }
   return 0;
}

static int
alias_map_count_check(struct alias_build *b)
{
   const struct vkfd_alias *a = b->alias;
   if (a->run_count < ALIAS_MAP_COUNT_CHECK_MIN_RUNS && !b->max_map_count &&
       !b->query.table_loaded)
      return 0;

   uint64_t limit = b->max_map_count, current;
   int ret = limit ? 0 : vkfd_vma_max_map_count(&limit);
   if (!ret)
      ret = vkfd_vma_query_count(&b->query, &current);
   if (ret) {
      /* only an early warning is lost: placement still fails cleanly at the limit */
      vkfd_warn("alias: res %" PRIu32 ": cannot count mappings: %s", a->res_id,
                strerror(-ret));
      return 0;
   }
   /* one per run, plus the rest of the reservation and one split in flight */
   uint64_t needed = (uint64_t)a->run_count + 2;
   if (current + needed > limit) {
      vkfd_err(LOG_PREFIX
               "aliasing %" PRIu32 " runs needs %" PRIu64
               " more mappings, but the process has %" PRIu64
               " of vm.max_map_count=%" PRIu64
               "; raise that sysctl or give the guest larger contiguous memory",
               a->res_id, a->run_count, needed, current, limit);
      return -ENOMEM;
   }
   return 0;
}

/* A PROT_NONE range to place runs into, aligned for the largest page size used. */
static int
alias_reserve(struct alias_build *b)
{
   struct vkfd_alias *a = b->alias;
   uint64_t align = VKFD_MAX(b->max_page_size, b->page_size), total;
   if (vkfd_ckd_add(&total, a->size, align - b->page_size) || total > SIZE_MAX) {
      vkfd_err(LOG_PREFIX "blob size 0x%" PRIx64 " does not fit the address space",
               a->res_id, a->size);
      return -ENOMEM;
   }
   uint8_t *raw = mmap(NULL, (size_t)total, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
   if (raw == MAP_FAILED) {
      int ret = -errno;
      vkfd_err(LOG_PREFIX "cannot reserve 0x%" PRIx64 " bytes of address space: %s",
               a->res_id, total, strerror(-ret));
      return ret;
   }
   /*
    * VMMs keep PROT_NONE NORESERVE ranges of their own (QEMU's RAM guard pages); one
    * next to ours would merge with it, and a rollback would then have to split that
    * merged VMA, which fails with ENOMEM exactly when it matters: at the map-count
    * limit. A flag no neighbour has keeps the reservation its own VMA. Placed runs
    * replace it, so the flag never reaches the alias itself.
    */
   if (madvise(raw, (size_t)total, MADV_DONTFORK))
      vkfd_debug("alias: res %" PRIu32 ": madvise(MADV_DONTFORK): %s", a->res_id,
                 strerror(errno));
   uint8_t *start =
      raw + (vkfd_align_down((uintptr_t)raw + align - 1, align) - (uintptr_t)raw);
   size_t head = (size_t)(start - raw), tail = (size_t)(total - head - a->size);
   if ((head && munmap(raw, head)) || (tail && munmap(start + a->size, tail))) {
      int ret = -errno;
      munmap(raw, (size_t)total);
      vkfd_err(LOG_PREFIX "cannot trim the alias reservation: %s", a->res_id,
               strerror(-ret));
      return ret;
   }
   a->reservation = start;
   a->reservation_size = a->size;
   a->address = start;
   return 0;
}

/* The caller's reservation; it must suit the largest page size of the guest memory. */
static int
alias_use_placement(struct alias_build *b)
{
   struct vkfd_alias *a = b->alias;
   uint64_t align = VKFD_MAX(b->max_page_size, b->page_size);
   if (!vkfd_is_aligned((uintptr_t)b->params->placement, align)) {
      vkfd_err(LOG_PREFIX "the alias's place %p is not aligned to the guest memory's "
                          "0x%" PRIx64 "-byte pages",
               a->res_id, b->params->placement, align);
      return -EINVAL;
   }
   a->reservation = b->params->placement;
   a->reservation_size = a->size;
   a->address = a->reservation;
   a->placed = true;
   return 0;
}

/* Replaces [start, start + size) with an inaccessible reservation, in one syscall. */
static bool
alias_range_clear(uint8_t *start, uint64_t size)
{
   return mmap(start, size, PROT_NONE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
               0) != MAP_FAILED;
}

static int
alias_run_place(struct alias_build *b, const struct vkfd_alias_run *run, int prot)
{
   uint8_t *dst = b->alias->address + run->offset;
   struct alias_vma *vma = &b->vmas[run->vma];
   if (!vma->fd_tried)
      vkfd_alias_backing_open(b, vma);

   if (vma->fd >= 0) {
      uint64_t file_offset = vma->info.file_offset + (run->start - vma->info.start);
      if (mmap(dst, run->len, prot, MAP_SHARED | MAP_FIXED, vma->fd,
               (off_t)file_offset) != MAP_FAILED)
         return 0;
      if (errno == ENOMEM)
         return -ENOMEM;
      /* e.g. a write-sealed memfd: the existing mapping can still be duplicated */
      vkfd_debug("alias: res %" PRIu32 ": mmap of map_files for 0x%" PRIxPTR
                 " failed (%s); duplicating with mremap",
                 b->params->res_id, run->start, strerror(errno));
      close(vma->fd);
      vma->fd = -1;
   }

   /* with old_len 0, mremap maps the same pages again instead of moving them */
   if (mremap((void *)run->start, 0, run->len, MREMAP_MAYMOVE | MREMAP_FIXED, dst) ==
       MAP_FAILED)
      return -errno;
   b->duplicated = true;
   return 0;
}

/* Step 3: one syscall per run, in blob order so each one splits the rest's edge. */
static int
alias_runs_place(struct alias_build *b)
{
   struct vkfd_alias *a = b->alias;
   const int prot = b->params->read_only ? PROT_READ : PROT_READ | PROT_WRITE;
   for (uint32_t r = 0; r < a->run_count; r++) {
      const struct vkfd_alias_run *run = &a->runs[r];
      int ret = alias_run_place(b, run, prot);
      if (ret) {
         const char *hint = "";
         if (ret == -ENOMEM)
            hint = "; out of address space or of mappings (vm.max_map_count)";
         else if (ret == -EINVAL)
            hint = "; mremap cannot duplicate hugetlb memory";
         vkfd_err(LOG_PREFIX "placing the run 0x%" PRIxPTR "+0x%" PRIx64
                             " (from iovec %" PRIu32 ") at alias offset 0x%" PRIx64
                             " failed: %s%s",
                  a->res_id, run->start, run->len, run->first_iov, run->offset,
                  strerror(-ret), hint);
         return ret;
      }
   }
   /* a duplicate keeps the source's protection */
   if (b->duplicated && b->params->read_only &&
       mprotect(a->address, a->size, PROT_READ)) {
      int ret = -errno;
      vkfd_err(LOG_PREFIX "cannot make the alias read-only: %s", a->res_id,
               strerror(-ret));
      return ret;
   }
   return 0;
}

static void
alias_build_fini(struct alias_build *b)
{
   for (uint32_t i = 0; i < b->vma_count; i++) {
      if (b->vmas[i].fd >= 0)
         close(b->vmas[i].fd);
   }
   free(b->vmas);
   vkfd_vma_query_fini(&b->query);
}

static int
alias_build(struct alias_build *b)
{
   struct vkfd_alias *a = calloc(1, sizeof(*a));
   if (!a)
      return -ENOMEM;
   b->alias = a;
   a->size = b->params->size;
   a->res_id = b->params->res_id;
   int ret = vkfd_alias_runs_collect(b);
   if (ret)
      return ret;

   if (a->run_count == 1 && !b->params->placement) {
      a->address = (uint8_t *)a->runs[0].start;
      return 0;
   }
   ret = alias_vmas_check_placeable(b);
   if (!ret)
      ret = alias_map_count_check(b);
   if (!ret)
      ret = b->params->placement ? alias_use_placement(b) : alias_reserve(b);
   if (!ret)
      ret = alias_runs_place(b);
   return ret;
}

int
vkfd_alias_create(const struct vkfd_alias_params *params, struct vkfd_alias **out)
{
   if (!out)
      return -EINVAL;
   *out = NULL;
   if (!params)
      return -EINVAL;

   struct alias_build b = {
      .params = params,
      .page_size = (uint64_t)sysconf(_SC_PAGESIZE),
      .query = { .maps_fd = -1 },
      .force_mremap = alias_env_flag("VIRTKFD_ALIAS_FORCE_MREMAP"),
      .force_proc_maps = alias_env_flag("VIRTKFD_ALIAS_FORCE_PROC_MAPS"),
      .max_map_count = alias_env_u64("VIRTKFD_ALIAS_MAX_MAP_COUNT"),
   };
   b.max_page_size = b.page_size;
   if (!params->num_iovs || !params->iovecs) {
      vkfd_err(LOG_PREFIX "no iovecs", params->res_id);
      return -EINVAL;
   }
   if (!params->size || !vkfd_is_aligned(params->size, b.page_size)) {
      vkfd_err(LOG_PREFIX "blob size 0x%" PRIx64
                          " is not a nonzero multiple of the page size 0x%" PRIx64,
               params->res_id, params->size, b.page_size);
      return -EINVAL;
   }

   int ret = alias_build(&b);
   alias_build_fini(&b);
   if (ret) {
      vkfd_alias_destroy(b.alias);
      return ret;
   }
   struct vkfd_alias *a = b.alias;
   vkfd_debug("alias: res %" PRIu32 ": %" PRIu32 " iovecs, %" PRIu32 " runs, %" PRIu32
              " mappings -> %p+0x%" PRIx64 "%s",
              a->res_id, params->num_iovs, a->run_count, b.vma_count, (void *)a->address,
              a->size, a->reservation ? "" : " (direct)");
   *out = a;
   return 0;
}

void
vkfd_alias_destroy(struct vkfd_alias *alias)
{
   if (!alias)
      return;
   /* one call removes every run placed in the reservation */
   if (alias->placed) {
      if (!alias_range_clear(alias->reservation, alias->reservation_size))
         vkfd_err("alias: res %" PRIu32 ": cannot restore the reservation %p+0x%" PRIx64
                  ": %s",
                  alias->res_id, (void *)alias->reservation, alias->reservation_size,
                  strerror(errno));
   } else if (alias->reservation && munmap(alias->reservation, alias->reservation_size)) {
      vkfd_err("alias: res %" PRIu32 ": munmap of %p+0x%" PRIx64 " failed: %s",
               alias->res_id, (void *)alias->reservation, alias->reservation_size,
               strerror(errno));
   }
   free(alias->runs);
   free(alias->sorted);
   free(alias);
}

bool
vkfd_alias_abandon(struct vkfd_alias *alias)
{
   if (!alias)
      return true;
   bool cleared = true;
   if (alias->reservation) {
      cleared = alias_range_clear(alias->reservation, alias->reservation_size);
      vkfd_err("alias: res %" PRIu32 ": %p+0x%" PRIx64 " %s and stays reserved for "
               "good, because the GPU may still use it",
               alias->res_id, (void *)alias->reservation, alias->reservation_size,
               cleared ? "no longer maps guest memory" : "still maps guest memory");
   } else {
      vkfd_err("alias: res %" PRIu32 ": the GPU may still use guest memory %p+0x%" PRIx64,
               alias->res_id, (void *)alias->address, alias->size);
   }
   free(alias->runs);
   free(alias->sorted);
   free(alias);
   return cleared;
}

void *
vkfd_alias_address(const struct vkfd_alias *alias)
{
   return alias->address;
}

uint64_t
vkfd_alias_size(const struct vkfd_alias *alias)
{
   return alias->size;
}

bool
vkfd_alias_is_direct(const struct vkfd_alias *alias)
{
   return !alias->reservation;
}

uint32_t
vkfd_alias_run_count(const struct vkfd_alias *alias)
{
   return alias->run_count;
}

void
vkfd_alias_run(const struct vkfd_alias *alias, uint32_t index, uintptr_t *start,
               uint64_t *len)
{
   assert(index < alias->run_count);
   if (index >= alias->run_count) {
      *start = 0;
      *len = 0;
      return;
   }
   const struct vkfd_alias_run *run = &alias->runs[alias->sorted[index]];
   *start = run->start;
   *len = run->len;
}
