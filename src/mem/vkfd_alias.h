/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The userptr alias (design.md, "The userptr path", step 4): a blob's host iovecs,
 * each a chunk of guest RAM somewhere in the VMM's address space, turned into ONE
 * contiguous host user pointer without copying a byte.
 *
 * - iovecs adjacent in host VA, in the order given, are merged into runs; when one
 *   run is left its base is the alias and no mapping is made ("direct"), unless the
 *   caller gives the alias a place of its own;
 * - otherwise a PROT_NONE range of the blob's size is reserved (or the caller's place
 *   is used) and every run is placed into it: mmap(MAP_FIXED | MAP_SHARED) of the
 * mapping's backing file when /proc/self/map_files lets us open it, else mremap(old, 0,
 * len, MAYMOVE | FIXED), which duplicates a shared mapping;
 * - every run is validated first: page-aligned (to the mapping's page size, so huge
 *   for hugetlb), inside one shared mapping, readable, writable unless read-only, and
 *   no guest page appears twice. Private memory (malloc, MAP_PRIVATE files) is
 *   refused, never copied.
 *
 * Environment knobs, for tests and for working around a misbehaving kernel:
 *   VIRTKFD_ALIAS_FORCE_MREMAP=1     never open map_files; duplicate with mremap
 *   VIRTKFD_ALIAS_FORCE_PROC_MAPS=1  parse /proc/self/maps, never PROCMAP_QUERY
 *   VIRTKFD_ALIAS_MAX_MAP_COUNT=N    use N instead of vm.max_map_count (tests)
 *
 * Thread-safety: create and destroy keep no shared state; distinct aliases may be
 * built concurrently. One alias is not locked: its owner serialises destroy.
 */
#ifndef VKFD_ALIAS_H
#define VKFD_ALIAS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct vkfd_alias;

struct vkfd_alias_params {
   const struct iovec *iovecs; /* borrowed from the VMM for the call only */
   uint32_t num_iovs;
   /*
    * Blob size, a multiple of the page size. The iovecs may hold more; only the
    * first `size` bytes are aliased and iovecs past them are not mapped.
    */
   uint64_t size;
   /* RDONLY userptr: the alias is mapped PROT_READ, the memory need not be writable */
   bool read_only;
   uint32_t res_id; /* for log lines only */
   /*
    * Optional: a PROT_NONE range of `size` bytes the caller reserved (aligned to the
    * largest page size of the guest memory). The alias is built there, even for a
    * single run, and destroy turns it back into a PROT_NONE reservation instead of
    * unmapping it: the range stays the caller's.
    */
   void *placement;
};

/*
 * Builds the alias. Returns 0 and sets *out, or a negative errno and leaves no
 * mapping and no fd behind (*out is then NULL):
 *   -EINVAL  bad shape: no iovecs, a NULL base, zero length, base + len wrapping,
 *            base or length not page-aligned (huge-page-aligned in hugetlb memory),
 *            the same guest memory twice, iovecs summing to less than size
 *   -EFAULT  memory that is not mapped, not in one mapping, private, not readable,
 *            or read-only while the blob is not; hugetlb memory whose file cannot be
 *            opened through /proc/self/map_files (mremap cannot duplicate it)
 *   -ENOMEM  out of memory, address space or mappings (vm.max_map_count)
 * Every failure is logged with the resource id, iovec index and addresses.
 */
int vkfd_alias_create(const struct vkfd_alias_params *params, struct vkfd_alias **out);

/* Removes every mapping the alias made (none when direct). NULL-safe. */
void vkfd_alias_destroy(struct vkfd_alias *alias);

/*
 * For an alias the GPU may still hold (its unmap or deregistration failed): drops
 * the guest pages but keeps the address range reserved, inaccessible, for the life of
 * the process, so nothing else is ever mapped where the GPU may still look; then
 * frees the alias. A direct alias is the VMM's own memory and stays as it is.
 * Returns false when the guest pages could not be dropped. NULL-safe.
 */
bool vkfd_alias_abandon(struct vkfd_alias *alias);

/*
 * The contiguous host user pointer; valid until destroy. It shares pages with guest
 * RAM (a hole punched there reads as zeros here) and, unless direct, keeps the
 * guest RAM's file alive by itself.
 */
void *vkfd_alias_address(const struct vkfd_alias *alias);

/* The blob size given at create. */
uint64_t vkfd_alias_size(const struct vkfd_alias *alias);

/*
 * True when the alias is the guest memory itself (a single run, no mapping made); it
 * then keeps the guest mapping's protection, even for a read-only blob.
 */
bool vkfd_alias_is_direct(const struct vkfd_alias *alias);

/*
 * The merged source runs, sorted by host address, so the caller can check that no
 * other blob's runs overlap them. Runs never overlap each other; neighbours may be
 * adjacent (adjacent in host VA but not in blob order, or split at a mapping
 * boundary).
 */
uint32_t vkfd_alias_run_count(const struct vkfd_alias *alias);

/* Run `index` (< run_count) in host address order: its host VA and length. */
void vkfd_alias_run(const struct vkfd_alias *alias, uint32_t index, uintptr_t *start,
                    uint64_t *len);

#endif /* VKFD_ALIAS_H */
