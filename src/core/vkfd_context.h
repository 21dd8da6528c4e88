/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Contexts: the generic part of a virtio-gpu context. A backend allocates its own
 * context struct with `struct vkfd_context` as its first member, initialises the base
 * with vkfd_context_base_init() and implements `struct vkfd_context_ops`.
 *
 * Ownership: the context table owns every context; vkfd_context_destroy() detaches
 * the context's resources, lets the backend free its part, then frees the fences.
 */
#ifndef VKFD_CONTEXT_H
#define VKFD_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/vkfd_fence.h"
#include "util/vkfd_list.h"

struct iovec;
struct vkfd_renderer;
struct vkfd_resource;

/* virtio-gpu allows 64 rings per context (VIRTGPU_CONTEXT_PARAM_NUM_RINGS). */
#define VKFD_MAX_RINGS 64

/* What the VMM asked for in resource_create_blob, as handed to the backend. */
struct vkfd_blob_request {
   uint32_t res_id;
   uint32_t blob_mem;
   uint32_t blob_flags;
   uint64_t blob_id;
   uint64_t size;
   /* Borrowed from the VMM until the backend's release_iovecs hook returns. */
   const struct iovec *iovecs;
   uint32_t num_iovs;
};

enum vkfd_blob_kind {
   VKFD_BLOB_NONE, /* not mappable, not exportable (tracking objects, userptr) */
   VKFD_BLOB_FD,   /* an fd whose ownership passes to the resource */
   VKFD_BLOB_VA,   /* a host VA whose memory the blob's backing keeps alive */
};

/*
 * What keeps a blob's memory alive. A backend hands it to the resource in get_blob;
 * the resource releases it at resource_unref and never earlier, whatever happens to
 * the context: the VMM may map the memory into the guest until its resource_unmap,
 * and a guest process may keep that mapping after its context let go of the object
 * (wire-protocol.md §4.1, lifetime rule). Embedded in the backend's own struct.
 */
struct vkfd_blob_backing {
   void (*release)(struct vkfd_blob_backing *backing);
};

/* What a backend returns from get_blob. */
struct vkfd_blob {
   enum vkfd_blob_kind kind;
   int fd;                            /* VKFD_BLOB_FD */
   uint32_t fd_type;                  /* VIRGL_RENDERER_BLOB_FD_TYPE_* */
   void *va;                          /* VKFD_BLOB_VA */
   struct vkfd_blob_backing *backing; /* VKFD_BLOB_VA: required; owned by the resource */
   uint32_t map_info; /* VIRGL_RENDERER_MAP_CACHE_*; NONE means not mappable */
};

struct vkfd_context;

struct vkfd_context_ops {
   /* Frees the backend's part; must stop signalling fences before returning. */
   void (*destroy)(struct vkfd_context *ctx);
   /* Executes a command buffer; 0 or a negative errno. */
   int (*submit_cmd)(struct vkfd_context *ctx, const void *buffer, size_t size);
   /* Creates the host side of a HOST3D or HOST3D_GUEST blob; 0 or a negative errno. */
   int (*get_blob)(struct vkfd_context *ctx, const struct vkfd_blob_request *request,
                   struct vkfd_blob *blob);
   /* Optional: a resource created elsewhere became visible to this context. */
   void (*attach_resource)(struct vkfd_context *ctx, struct vkfd_resource *res);
   /*
    * The resource is no longer visible to this context. For a blob this context
    * created, the backend tears its object's GPU state down here; memory the blob's
    * backing holds stays until the resource goes.
    */
   void (*detach_resource)(struct vkfd_context *ctx, struct vkfd_resource *res);
   /* Optional: stop using the resource's iovecs and the memory behind them. */
   void (*release_iovecs)(struct vkfd_context *ctx, struct vkfd_resource *res);
   /*
    * Optional: an fd for a VA blob this context made (a dma-buf of its memory), for
    * resource_export_blob. 0 or a negative errno; the caller owns the fd.
    */
   int (*export_blob)(struct vkfd_context *ctx, struct vkfd_resource *res,
                      uint32_t *fd_type, int *fd);
   /*
    * Optional: a fence was created on ring_idx after the work submitted so far.
    * Returns 1 when that work is complete, 0 when the backend keeps `fence` and
    * calls vkfd_context_signal_fence() later, or a negative errno. NULL means
    * every ring executes synchronously in submit_cmd.
    */
   int (*submit_fence)(struct vkfd_context *ctx, uint32_t ring_idx,
                       struct vkfd_fence *fence);
};

struct vkfd_context {
   uint32_t id;
   uint32_t capset_id;
   const struct vkfd_context_ops *ops;
   uint32_t num_rings;
   char name[64];
   struct vkfd_renderer *renderer;
   struct vkfd_list attachments; /* struct vkfd_attachment.ctx_link */
   struct vkfd_fence_timeline *rings[VKFD_MAX_RINGS]; /* created on first use */
};

/* One resource visible to one context; owned by both lists, freed on detach. */
struct vkfd_attachment {
   struct vkfd_list ctx_link;
   struct vkfd_list res_link;
   struct vkfd_context *ctx;
   struct vkfd_resource *res;
};

void vkfd_context_base_init(struct vkfd_context *ctx, const struct vkfd_context_ops *ops,
                            uint32_t num_rings);

/* Positive errno, as virgl_renderer_context_create_with_flags() returns it. */
int vkfd_context_create(struct vkfd_renderer *renderer, uint32_t ctx_id,
                        uint32_t ctx_flags, const char *name, size_t name_len);

struct vkfd_context *vkfd_context_lookup(struct vkfd_renderer *renderer, uint32_t ctx_id);

void vkfd_context_destroy(struct vkfd_renderer *renderer, struct vkfd_context *ctx);

/* Attaching twice is a no-op; `owner_attach` skips the attach hook (get_blob did it). */
int vkfd_context_attach(struct vkfd_context *ctx, struct vkfd_resource *res,
                        bool owner_attach);

void vkfd_context_detach(struct vkfd_context *ctx, struct vkfd_resource *res);

bool
vkfd_context_is_attached(const struct vkfd_context *ctx, const struct vkfd_resource *res);

/* resource_export_blob of a VA blob: asks the context that made it; negative errno. */
int vkfd_context_export_blob(struct vkfd_renderer *renderer, struct vkfd_resource *res,
                             uint32_t *fd_type, int *fd);

/* Negative errno (virgl_renderer_context_create_fence). */
int vkfd_context_create_fence(struct vkfd_context *ctx, uint32_t flags, uint32_t ring_idx,
                              uint64_t fence_id);

/* For backends that keep fences: the work before `fence` has completed. */
void vkfd_context_signal_fence(struct vkfd_context *ctx, uint32_t ring_idx,
                               struct vkfd_fence *fence);

#endif /* VKFD_CONTEXT_H */
