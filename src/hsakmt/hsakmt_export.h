/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * dma-bufs of KFD memory (wire-protocol.md §2.4 EXPORT_DMABUF, §4.2, §4.7): the guest's
 * EXPORT_DMABUF, HOST3D blobs of KFD memory created SHAREABLE, and the fd a VMM or the
 * vtest server gets from resource_export_blob for a MAPPABLE or SHAREABLE one. Each
 * allocation is exported once and the dma-buf kept with it, as amdkfd keeps one
 * dma-buf per BO. On a libhsakmt without dma-buf export (Debian's 5.2.3) every one of
 * these answers NOT_SUPPORTED (or -EOPNOTSUPP) and the log says why. The dma-buf
 * belongs to the memory (hsakmt_buffer.h) and goes when the memory does.
 */
#ifndef HSAKMT_EXPORT_H
#define HSAKMT_EXPORT_H

#include <stdint.h>

struct hsakmt_context;
struct hsakmt_host_mem;
struct hsakmt_request;
struct vkfd_context;
struct vkfd_resource;

/* MEMORY/EXPORT_DMABUF. */
void hsakmt_memory_export_dmabuf(struct hsakmt_request *r);

/* A SHAREABLE blob of `mem` must be exportable: exports it now; 0 or -errno. */
int hsakmt_export_prepare(struct hsakmt_context *ctx, struct hsakmt_host_mem *mem,
                          uint32_t res_id);

/* The context's export_blob hook: a dup of the dma-buf of the resource's memory. */
int hsakmt_export_blob(struct vkfd_context *ctx, struct vkfd_resource *res,
                       uint32_t *fd_type, int *fd);

#endif /* HSAKMT_EXPORT_H */
