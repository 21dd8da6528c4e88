/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The parts of the Linux virtio-gpu DRM uapi (include/uapi/drm/virtgpu_drm.h and
 * drm.h, as in Linux 6.1) that a capset-8 guest uses. Debian 12's libdrm 2.4.114
 * headers predate blobs and context init, and linux-libc-dev ships no DRM headers,
 * so the layouts are spelled out here; the sizes are checked below because the
 * kernel copies by the size encoded in the ioctl number.
 */
#ifndef VIRTGPU_UAPI_H
#define VIRTGPU_UAPI_H

#include <linux/ioctl.h>
#include <stdint.h>

#define VGPU_IOCTL_BASE   'd'
#define VGPU_COMMAND_BASE 0x40

struct vgpu_gem_close {
   uint32_t handle;
   uint32_t pad;
};

struct vgpu_map {
   uint64_t offset; /* out: the mmap offset of the handle on the DRM fd */
   uint32_t handle;
   uint32_t pad;
};

#define VGPU_EXECBUF_FENCE_FD_IN  0x01
#define VGPU_EXECBUF_FENCE_FD_OUT 0x02
#define VGPU_EXECBUF_RING_IDX     0x04

struct vgpu_execbuffer {
   uint32_t flags;
   uint32_t size;
   uint64_t command; /* a pointer to the command buffer */
   uint64_t bo_handles;
   uint32_t num_bo_handles;
   int32_t fence_fd; /* in or out, per the flags */
   uint32_t ring_idx;
   uint32_t pad;
};

#define VGPU_PARAM_3D_FEATURES          1
#define VGPU_PARAM_CAPSET_QUERY_FIX     2
#define VGPU_PARAM_RESOURCE_BLOB        3
#define VGPU_PARAM_HOST_VISIBLE         4
#define VGPU_PARAM_CROSS_DEVICE         5
#define VGPU_PARAM_CONTEXT_INIT         6
#define VGPU_PARAM_SUPPORTED_CAPSET_IDS 7

struct vgpu_getparam {
   uint64_t param;
   uint64_t value; /* a pointer to an int the kernel fills */
};

struct vgpu_resource_info {
   uint32_t bo_handle;
   uint32_t res_handle;
   uint32_t size;
   uint32_t blob_mem;
};

struct vgpu_get_caps {
   uint32_t cap_set_id;
   uint32_t cap_set_ver;
   uint64_t addr;
   uint32_t size;
   uint32_t pad;
};

#define VGPU_BLOB_MEM_GUEST             1
#define VGPU_BLOB_MEM_HOST3D            2
#define VGPU_BLOB_MEM_HOST3D_GUEST      3

#define VGPU_BLOB_FLAG_USE_MAPPABLE     1
#define VGPU_BLOB_FLAG_USE_SHAREABLE    2
#define VGPU_BLOB_FLAG_USE_CROSS_DEVICE 4

struct vgpu_resource_create_blob {
   uint32_t blob_mem;
   uint32_t blob_flags;
   uint32_t bo_handle;  /* out */
   uint32_t res_handle; /* out */
   uint64_t size;
   uint32_t pad;
   uint32_t cmd_size;
   uint64_t cmd;
   uint64_t blob_id;
};

#define VGPU_CONTEXT_PARAM_CAPSET_ID       1
#define VGPU_CONTEXT_PARAM_NUM_RINGS       2
#define VGPU_CONTEXT_PARAM_POLL_RINGS_MASK 3

struct vgpu_context_set_param {
   uint64_t param;
   uint64_t value;
};

struct vgpu_context_init {
   uint32_t num_params;
   uint32_t pad;
   uint64_t ctx_set_params; /* a pointer to struct vgpu_context_set_param[] */
};

_Static_assert(sizeof(struct vgpu_map) == 16, "drm_virtgpu_map");
_Static_assert(sizeof(struct vgpu_execbuffer) == 40, "drm_virtgpu_execbuffer");
_Static_assert(sizeof(struct vgpu_getparam) == 16, "drm_virtgpu_getparam");
_Static_assert(sizeof(struct vgpu_resource_info) == 16, "drm_virtgpu_resource_info");
_Static_assert(sizeof(struct vgpu_get_caps) == 24, "drm_virtgpu_get_caps");
_Static_assert(sizeof(struct vgpu_resource_create_blob) == 48,
               "drm_virtgpu_resource_create_blob");
_Static_assert(sizeof(struct vgpu_context_init) == 16, "drm_virtgpu_context_init");

#define VGPU_IOCTL(nr, type)            _IOWR(VGPU_IOCTL_BASE, VGPU_COMMAND_BASE + (nr), type)

#define VGPU_IOCTL_GEM_CLOSE            _IOW(VGPU_IOCTL_BASE, 0x09, struct vgpu_gem_close)
#define VGPU_IOCTL_MAP                  VGPU_IOCTL(0x01, struct vgpu_map)
#define VGPU_IOCTL_EXECBUFFER           VGPU_IOCTL(0x02, struct vgpu_execbuffer)
#define VGPU_IOCTL_GETPARAM             VGPU_IOCTL(0x03, struct vgpu_getparam)
#define VGPU_IOCTL_RESOURCE_INFO        VGPU_IOCTL(0x05, struct vgpu_resource_info)
#define VGPU_IOCTL_GET_CAPS             VGPU_IOCTL(0x09, struct vgpu_get_caps)
#define VGPU_IOCTL_RESOURCE_CREATE_BLOB VGPU_IOCTL(0x0a, struct vgpu_resource_create_blob)
#define VGPU_IOCTL_CONTEXT_INIT         VGPU_IOCTL(0x0b, struct vgpu_context_init)

#endif /* VIRTGPU_UAPI_H */
