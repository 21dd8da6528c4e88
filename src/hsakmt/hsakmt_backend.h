/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#ifndef HSAKMT_BACKEND_H
#define HSAKMT_BACKEND_H

#include "core/vkfd_backend.h"
#include "core/vkfd_context.h"

struct hsakmt_context;
struct hsakmt_object;

/* The capset-8 backend, listed in the core's built-in backends. */
extern const struct vkfd_backend hsakmt_backend;

/* HOST3D_GUEST blobs: a userptr object over the VMM's iovecs. */
int
hsakmt_userptr_create(struct hsakmt_context *ctx, const struct vkfd_blob_request *request,
                      struct vkfd_blob *blob);

/* detach_iov: unmap from the GPU, deregister and drop the alias now. */
void hsakmt_userptr_release_pages(struct hsakmt_context *ctx, struct hsakmt_object *obj);

#endif /* HSAKMT_BACKEND_H */
