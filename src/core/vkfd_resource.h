/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The global resource table: res_id -> resource. Resources are created by the VMM
 * (create_blob, import_blob) and live until resource_unref, independently of the
 * contexts they are attached to.
 *
 * Ownership: the table owns each resource. A resource owns its fd (VKFD_BLOB_FD) and
 * the library's own mapping of it, or the backing of its VA (VKFD_BLOB_VA), which it
 * releases only at unref: the memory and its address stay while the VMM may map them,
 * even after the owner context let go of the object. The iovec array is borrowed from
 * the VMM until detach_iov or unref.
 */
#ifndef VKFD_RESOURCE_H
#define VKFD_RESOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/vkfd_context.h"
#include "util/vkfd_list.h"

struct iovec;
struct virgl_renderer_resource_create_blob_args;
struct virgl_renderer_resource_import_blob_args;
struct virgl_renderer_resource_info;
struct vkfd_renderer;

struct vkfd_resource {
   uint32_t id;
   uint32_t blob_mem;
   uint32_t blob_flags;
   uint64_t blob_id;
   uint64_t size;
   const struct iovec *iovecs; /* borrowed */
   uint32_t num_iovs;
   uint32_t owner_ctx_id; /* the context whose get_blob made it, or 0 */
   bool owner_released;   /* that context let go of the object: no new mapping */
   struct vkfd_blob blob;
   void *mapping; /* the library's mapping from resource_map, or NULL */
   bool mapped;
   void *priv;
   struct vkfd_list attachments; /* struct vkfd_attachment.res_link */
};

/* Checks a VMM iovec array against a blob size; 0 or -EINVAL (with a log line). */
int vkfd_iovecs_check(const struct iovec *iovecs, uint32_t num_iovs, uint64_t size,
                      uint32_t res_id);

struct vkfd_resource *
vkfd_resource_lookup(struct vkfd_renderer *renderer, uint32_t res_id);

/* Negative errno, as virgl_renderer_resource_create_blob() returns it. */
int
vkfd_resource_create_blob(struct vkfd_renderer *renderer,
                          const struct virgl_renderer_resource_create_blob_args *args);

/* Negative errno; takes ownership of the fd only on success. */
int
vkfd_resource_import_blob(struct vkfd_renderer *renderer,
                          const struct virgl_renderer_resource_import_blob_args *args);

/* Detaches from every context, then releases the resource. */
void vkfd_resource_unref(struct vkfd_renderer *renderer, struct vkfd_resource *res);

/* The owner context let go of the blob's object; its memory waits for unmap/unref. */
void vkfd_resource_owner_released(struct vkfd_resource *res);

/* Stops every user of the resource's iovecs, then forgets them. */
void
vkfd_resource_detach_iovecs(struct vkfd_renderer *renderer, struct vkfd_resource *res,
                            struct iovec **iovecs, int *num_iovs);

/* Negative errno. */
int vkfd_resource_map(struct vkfd_resource *res, void **map, uint64_t *size);
int vkfd_resource_map_fixed(struct vkfd_resource *res, void *addr);
int vkfd_resource_unmap(struct vkfd_resource *res);
int vkfd_resource_export(struct vkfd_resource *res, uint32_t *fd_type, int *fd);

void vkfd_resource_fill_info(const struct vkfd_resource *res,
                             struct virgl_renderer_resource_info *info);

#endif /* VKFD_RESOURCE_H */
