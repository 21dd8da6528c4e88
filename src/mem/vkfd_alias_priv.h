/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Inside the alias builder, shared by vkfd_alias.c (create, placement, destroy) and
 * vkfd_alias_runs.c (iovecs to validated runs). Not for other layers.
 */
#ifndef VKFD_ALIAS_PRIV_H
#define VKFD_ALIAS_PRIV_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>

#include "mem/vkfd_alias.h"
#include "mem/vkfd_vma.h"

#define LOG_PREFIX "MAP_USERPTR: res %" PRIu32 ": "

/* A run: iovecs consecutive in the blob and adjacent in host VA. */
struct vkfd_alias_run {
   uintptr_t start; /* host VA of the guest memory */
   uint64_t len;
   uint64_t offset;    /* where the run sits in the alias */
   uint32_t first_iov; /* for log lines and splits */
   uint32_t iov_count;
   uint32_t vma; /* during create: index into the build's mapping cache */
};

/*
 * Owned by the caller of vkfd_alias_create (the resource's userptr state). It owns
 * the reserved range with every mapping placed in it, and the run arrays; it keeps
 * no fd and no pointer to the iovecs.
 */
struct vkfd_alias {
   uint8_t *address;
   uint64_t size;
   uint8_t *reservation; /* NULL when direct or not reserved yet */
   uint64_t reservation_size;
   bool placed; /* the reservation is the caller's: restore, never unmap */
   struct vkfd_alias_run *runs; /* in blob order, plus runs split off at the end */
   uint32_t *sorted;            /* run indices in host address order */
   uint32_t run_count;
   uint32_t run_capacity;
   uint32_t res_id;
};

/* One mapping met during a build, with the fd of its file once opened. */
struct alias_vma {
   struct vkfd_vma_info info;
   int fd; /* -1: runs inside are placed by mremap duplication */
   bool fd_tried;
};

/* One vkfd_alias_create call; it owns the query, the mapping cache and its fds. */
struct alias_build {
   const struct vkfd_alias_params *params;
   struct vkfd_alias *alias;
   struct vkfd_vma_query query;
   struct alias_vma *vmas;
   uint32_t vma_count;
   uint32_t vma_capacity;
   uint64_t page_size;     /* the base page size */
   uint64_t max_page_size; /* the largest page size of the mappings used */
   uint32_t used_iovs;     /* iovecs holding the first `size` bytes */
   bool force_mremap;
   bool force_proc_maps;
   uint64_t max_map_count; /* from the environment; 0: read vm.max_map_count */
   bool duplicated;        /* some run was placed by mremap */
};

/*
 * Steps 1 and 2 of a build: shape checks, runs in blob order, sorted, checked for
 * overlaps and validated against the mappings they lie in (splitting a run where two
 * mappings meet). Fills b->alias's runs and b->vmas; maps nothing.
 */
int vkfd_alias_runs_collect(struct alias_build *b);

/* Opens the mapping's file once; on failure its runs are placed by mremap. */
void vkfd_alias_backing_open(struct alias_build *b, struct alias_vma *vma);

#endif /* VKFD_ALIAS_PRIV_H */
