/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Memory objects of a ROCm context: KFD allocations at fixed VAs (HOST_MEM) and
 * registered guest pages (USERPTR). Every address the guest names is resolved
 * against these objects of the calling context before anything reaches libhsakmt.
 */
#ifndef HSAKMT_MEMORY_H
#define HSAKMT_MEMORY_H

#include <stdbool.h>
#include <stdint.h>

#include "hsakmt/hsakmt_objects.h"
#include "virtkfd/hsakmt_proto.h"

struct hsakmt_buffer;
struct hsakmt_context;
struct iovec;
struct vkfd_alias;

/* The GPU nodes an object is mapped to, as the guest named them. */
struct hsakmt_mapped_nodes {
   uint32_t count;
   uint32_t nodes[HSAKMT_MAX_MEMORY_NODES];
};

/* Records the nodes a map named, or every GPU node when `nodes` is NULL. */
void hsakmt_mapped_nodes_set(struct hsakmt_mapped_nodes *mapped, const uint32_t *nodes,
                             uint32_t count);

/*
 * Owned by the context's object table: the context's view of a KFD allocation (its
 * GPU mappings). The memory itself is the buffer's, which the object owns only until
 * a blob claims it (hsakmt_buffer.h): the object's destruction then releases the GPU
 * state and leaves the memory to the resource.
 */
struct hsakmt_host_mem {
   struct hsakmt_object base;
   struct hsakmt_buffer *buffer;
   bool buffer_claimed; /* the resource owns the buffer */
   uint64_t va;         /* the buffer's, for lookups */
   uint64_t size;
   uint32_t node;
   uint32_t flags; /* HsaMemFlags as allocated */
   bool gpu_mapped;
   struct hsakmt_mapped_nodes mapped; /* for POINTER_INFO */
};

/*
 * Largest userptr, and the span of guest-visible handle values each one takes: live
 * handles of one context never overlap, so address lookups stay interval lookups.
 */
#define HSAKMT_USERPTR_MAX_SIZE (1ull << 40)

/* Owned by the context's object table; the iovecs are the VMM's until released. */
struct hsakmt_userptr {
   struct hsakmt_object base;
   const struct iovec *iovecs;
   uint32_t num_iovs;
   uint64_t size;
   bool read_only; /* the blob's USERPTR_RDONLY */
   /*
    * What MAP_USERPTR answers and the guest echoes (§4.3): never the alias's host
    * address, which for guest RAM in one piece is the VMM's own mapping (§6.2 #24).
    */
   uint64_t handle;
   struct vkfd_alias *alias; /* built by MAP_USERPTR */
   uint64_t window_va;       /* the alias's range of the KFD window, or 0 */
   struct hsakmt_charge window_charge;
   bool registered;
   bool gpu_mapped;
   uint64_t gpu_va;     /* libhsakmt's AlternateVAGPU: not the alias address on 5.2.3 */
   bool gpu_va_refused; /* mapped at a host address and the unmap failed: never used */
   struct hsakmt_mapped_nodes mapped; /* for POINTER_INFO */
};

/* The object of this context that wholly contains [address, address + size). */
struct hsakmt_object *
hsakmt_memory_find(struct hsakmt_context *ctx, uint64_t address, uint64_t size);

/* The userptr's guest-visible handle, or 0 before MAP_USERPTR. */
uint64_t hsakmt_userptr_handle(const struct hsakmt_userptr *userptr);

/*
 * Unmaps from the GPU, deregisters and removes the alias, in that order. When a step
 * fails the GPU may still hold the pages: the alias's range is then kept for good.
 */
void hsakmt_userptr_teardown(struct hsakmt_context *ctx, struct hsakmt_userptr *userptr);

/* MAP_USERPTR for a USERPTR object: builds the alias; returns an HSAKMT status. */
int hsakmt_userptr_map(struct hsakmt_context *ctx, struct hsakmt_userptr *userptr);

/* REG_MEM_WITH_FLAG: registers the whole object; repeats succeed. */
int hsakmt_userptr_register(struct hsakmt_context *ctx, struct hsakmt_userptr *userptr,
                            uint32_t mem_flags);

/*
 * MAP_TO_GPU_NODES (`nodes`) or MAP_MEM_TO_GPU (`nodes` NULL: every GPU) of a
 * registered userptr; repeats succeed. Refuses a GPU VA that is a readable host
 * address outside the KFD window. Returns an HSAKMT status.
 */
int hsakmt_userptr_map_to_gpu(struct hsakmt_context *ctx, struct hsakmt_userptr *userptr,
                              const uint32_t *nodes, uint32_t count);

#endif /* HSAKMT_MEMORY_H */
