/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Questions about this process's own memory map, asked by the alias builder: which
 * mapping (VMA) covers an address, with which permissions, file and page size; how
 * many mappings exist and may exist; and an fd of the file behind a mapping.
 *
 * Answers come from the PROCMAP_QUERY ioctl on /proc/self/maps (Linux 6.11+), one
 * ioctl per mapping; on older kernels from one read of /proc/self/maps per query
 * object, parsed into a sorted table.
 */
#ifndef VKFD_VMA_H
#define VKFD_VMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vkfd_vma_flags {
   VKFD_VMA_READ = 1u << 0,
   VKFD_VMA_WRITE = 1u << 1,
   VKFD_VMA_EXEC = 1u << 2,
   VKFD_VMA_SHARED = 1u << 3, /* MAP_SHARED ('s' in /proc/self/maps) */
};

/* One mapping as the kernel reports it. */
struct vkfd_vma_info {
   uintptr_t start;
   uintptr_t end;
   uint64_t file_offset; /* file offset of `start`; meaningful when inode != 0 */
   uint64_t page_size;   /* 0 when unknown (the /proc/self/maps text has no field) */
   uint64_t inode;       /* 0 for anonymous private memory */
   uint32_t dev_major;
   uint32_t dev_minor;
   uint32_t flags; /* enum vkfd_vma_flags */
};

/*
 * A source of answers for one alias build. Lives on the builder's stack and is
 * owned by it; it owns the /proc/self/maps fd and, in text mode, the parsed table.
 */
struct vkfd_vma_query {
   int maps_fd;
   bool text_mode; /* PROCMAP_QUERY missing or refused, or forced off */
   bool table_loaded;
   struct vkfd_vma_info *table; /* text mode: every mapping, sorted by address */
   size_t table_count;
};

/* Opens /proc/self/maps. `force_text` skips PROCMAP_QUERY (tests, old kernels). */
int vkfd_vma_query_init(struct vkfd_vma_query *query, bool force_text);

/* Closes and frees everything; safe after a failed init. */
void vkfd_vma_query_fini(struct vkfd_vma_query *query);

/* The mapping covering `addr`: 0, -ENOENT when nothing is mapped there, or -errno. */
int vkfd_vma_query_find(struct vkfd_vma_query *query, uintptr_t addr,
                        struct vkfd_vma_info *info);

/* The number of mappings of this process right now. */
int vkfd_vma_query_count(struct vkfd_vma_query *query, uint64_t *count);

/* vm.max_map_count, read from /proc/sys/vm/max_map_count. */
int vkfd_vma_max_map_count(uint64_t *limit);

/*
 * Opens the file behind a shared mapping through /proc/self/map_files (this needs
 * CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE), checks that it is still the file the
 * query reported, and fills info->page_size when it was unknown (hugetlbfs).
 * Returns the fd (O_CLOEXEC; the caller closes it) or -errno.
 */
int vkfd_vma_backing_open(struct vkfd_vma_info *info, bool writable);

#endif /* VKFD_VMA_H */
