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

struct hsakmt_context;
struct iovec;
struct vkfd_alias;

/* The GPU nodes an object is mapped to, as the guest named them. */
struct hsakmt_mapped_nodes {
   uint32_t count;
   uint32_t nodes[HSAKMT_MAX_MEMORY_NODES];
};

/* Owned by the context's object table. */
struct hsakmt_host_mem {
   struct hsakmt_object base;
   uint64_t va;
   uint64_t size;
   uint32_t node;
   uint32_t flags; /* HsaMemFlags as allocated */
   bool gpu_mapped;
   struct hsakmt_mapped_nodes mapped; /* for POINTER_INFO */
   int dmabuf_fd; /* its dma-buf once exported (hsakmt_export.c), else -1 */
};

/* Owned by the context's object table; the iovecs are the VMM's until released. */
struct hsakmt_userptr {
   struct hsakmt_object base;
   const struct iovec *iovecs;
   uint32_t num_iovs;
   uint64_t size;
   bool read_only;           /* the blob's USERPTR_RDONLY */
   struct vkfd_alias *alias; /* built by MAP_USERPTR */
   bool registered;
   bool gpu_mapped;
   uint64_t gpu_va; /* libhsakmt's AlternateVAGPU: not the alias address */
   struct hsakmt_mapped_nodes mapped; /* for POINTER_INFO */
};

/* The object of this context that wholly contains [address, address + size). */
struct hsakmt_object *
hsakmt_memory_find(struct hsakmt_context *ctx, uint64_t address, uint64_t size);

/* The userptr's alias address, or 0 before MAP_USERPTR. */
uint64_t hsakmt_userptr_address(const struct hsakmt_userptr *userptr);

/* Unmaps from the GPU, deregisters and removes the alias, in that order. */
void hsakmt_userptr_teardown(struct hsakmt_context *ctx, struct hsakmt_userptr *userptr);

/* MAP_USERPTR for a USERPTR object: builds the alias; returns an HSAKMT status. */
int hsakmt_userptr_map(struct hsakmt_context *ctx, struct hsakmt_userptr *userptr);

/* REG_MEM_WITH_FLAG: registers the whole object; repeats succeed. */
int hsakmt_userptr_register(struct hsakmt_context *ctx, struct hsakmt_userptr *userptr,
                            uint32_t mem_flags);

#endif /* HSAKMT_MEMORY_H */
