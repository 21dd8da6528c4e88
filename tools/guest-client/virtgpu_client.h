/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The capset-8 transport of a real guest: the virtio-gpu DRM uapi of the guest
 * kernel (render node ioctls), as the guest libhsakmt uses it (wire-protocol.md
 * §1.1-§1.6). Each open render-node fd is one context on the host. Calls return 0
 * or a negative errno.
 */
#ifndef VIRTGPU_CLIENT_H
#define VIRTGPU_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "hsakmt_channel.h"

struct vgc {
   int fd;
   char path[32];
   /* the capset-8 channel: requests go in EXECBUFFER on ring 0 with an out-fence */
   struct hkc_channel hk;
   uint32_t shmem_handle, shmem_res;
};

/*
 * Opens `path`, or without one the first render node (/dev/dri/renderD128..191)
 * whose capset 8 reports context_type 1, as the guest libhsakmt picks its device.
 */
int vgc_open(struct vgc *g, const char *path);
/* Unmaps the shared memory and closes the fd: the kernel then destroys the context
 * and drops every blob whose only reference was a handle of this fd. */
void vgc_close(struct vgc *g);

/* GETPARAM: the kernel's answer for one VGPU_PARAM_*. */
int vgc_get_param(struct vgc *g, uint64_t param, int *value);
/* GET_CAPS: copies at most `size` bytes of capset `id`. */
int vgc_get_caps(struct vgc *g, uint32_t id, uint32_t version, void *caps, uint32_t size);
int vgc_context_init(struct vgc *g, uint32_t capset, uint32_t num_rings);
/* RESOURCE_CREATE_BLOB: the GEM handle and the virtio resource id. */
int vgc_blob_create(struct vgc *g, uint32_t blob_mem, uint32_t flags, uint64_t size,
                    uint64_t blob_id, uint32_t *handle, uint32_t *res_id);
/* MAP + mmap of a blob, shared and read-write; at `fixed` (MAP_FIXED) unless NULL.
 * MAP_FAILED on failure, with errno set. */
void *vgc_map(struct vgc *g, uint32_t handle, size_t size, void *fixed);
/* GEM_CLOSE: the kernel detaches the resource from this context; mappings keep the
 * blob itself alive until they go. */
int vgc_close_handle(struct vgc *g, uint32_t handle);
/* EXECBUFFER on `ring` with an out-fence; waits for the fence (bounded). */
int vgc_execbuffer(struct vgc *g, uint32_t ring, const void *cmds, uint32_t size);

/* CONTEXT_INIT(8, 64 rings) and the shared-memory blob (blob_id 0, mapped): after
 * that, g->hk carries requests (hsakmt_channel.h). */
int vgc_hsakmt_open(struct vgc *g, uint32_t shmem_size);

#endif /* VIRTGPU_CLIENT_H */
