/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Helpers for the src/mem tests: the four ways an alias can be built (PROCMAP_QUERY
 * or /proc/self/maps, map_files mmap or mremap duplication), leftover accounting
 * (mappings and fds), log capture and data checks through an alias.
 */
#ifndef ALIAS_TEST_UTIL_H
#define ALIAS_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "mem/vkfd_alias.h"
#include "test_common.h"

/* A build mode, selected through the VIRTKFD_ALIAS_FORCE_* environment knobs. */
struct alias_test_mode {
   const char *name;
   bool force_mremap;
   bool force_proc_maps;
};

extern const struct alias_test_mode alias_test_modes[4];

/* cmocka setup/teardown: *state is a const struct alias_test_mode *. */
int alias_test_mode_setup(void **state);
int alias_test_mode_teardown(void **state);

/*
 * What a failed or destroyed alias must give back: its mappings and fds. Sanitizer
 * allocators map memory of their own at any time, so the mappings are compared as a
 * set: after the alias, every mapping must have existed before, or be private
 * anonymous read-write memory (allocator growth: the alias never makes any), or be
 * private anonymous memory carved out of a range that was mapped before. Shared
 * mappings (placed runs) and new PROT_NONE ranges (reservations) are leftovers.
 * Without AddressSanitizer the mapping count must also match exactly.
 */
struct alias_test_mapping {
   uintptr_t start, end;
   uint64_t inode;
   char perms[5];
};

struct alias_test_snapshot {
   int maps;
   int fds;
   struct alias_test_mapping *mappings;
   size_t count;
};

/* One snapshot at a time: the mapping list lives in static storage. */
void alias_test_snapshot_take(struct alias_test_snapshot *snapshot);
/* No mapping made since the snapshot (see above), and no fd. */
void alias_test_assert_no_leftovers(const struct alias_test_snapshot *snapshot);
/* Only the mapping half, e.g. while a direct alias is alive. */
void alias_test_assert_no_new_mappings(const struct alias_test_snapshot *snapshot);

int alias_test_count_maps(void);

/* The number of mappings overlapping [start, start + len). */
int alias_test_count_maps_in(uintptr_t start, uint64_t len);

/* True when any mapping overlaps [start, start + len). */
bool alias_test_range_mapped(uintptr_t start, uint64_t len);

/* The "rwxp" field of the mapping holding addr; false when unmapped. */
bool alias_test_perms_at(uintptr_t addr, char perms[5]);

/* Deterministic Fisher-Yates shuffle. */
void alias_test_shuffle_iovecs(struct iovec *iov, size_t count, uint64_t seed);

/* `count` iovecs of `chunk` bytes covering ram from `offset`, in ascending order. */
struct iovec *alias_test_iovecs(const struct test_guest_ram *ram, size_t offset,
                                size_t chunk, size_t count);

/* Runs the alias layer should produce: iovecs merged when adjacent in order. */
uint32_t alias_test_expected_runs(const struct iovec *iov, size_t count, uint64_t size);

/* Fills memory with a pattern that differs on every 8 bytes. */
void alias_test_fill(void *base, size_t len, uint64_t seed);

/*
 * Proves the alias shows the iovecs' bytes in blob order, that writes through the
 * alias reach guest RAM and writes to guest RAM show through the alias, and that the
 * runs are sorted, disjoint and cover `size` bytes.
 */
void alias_test_assert_alias_matches(const struct vkfd_alias *alias,
                                     const struct iovec *iov, size_t count);

/* Log capture: every error message of the library is kept (and echoed to stderr). */
void alias_test_log_capture_start(void);
void alias_test_log_capture_stop(void);
/* True when the captured messages contain `needle`. */
bool alias_test_log_contains(const char *needle);

#endif /* ALIAS_TEST_UTIL_H */
