/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The libvirglrenderer 1.3.0 API, as implemented by virtkfd.
 *
 * virtkfd is linked by VMMs (QEMU, crosvm) in place of libvirglrenderer.so.1. It
 * implements virtio-gpu native contexts only (no GL renderer), starting with the
 * ROCm/KFD context, capset 8. Every prototype, structure layout and constant below is
 * ABI-compatible with virglrenderer 1.3.0; callers built against upstream headers link
 * and run unchanged.
 *
 * Return conventions differ between entry points and are part of the ABI: each
 * declaration says whether it returns 0 / positive errno, 0 / negative errno, or -1.
 * Unless stated otherwise, every entry point may be called from any one thread at a
 * time; the library serialises calls with a single lock.
 */
#ifndef VIRGLRENDERER_H
#define VIRGLRENDERER_H

#include <stdint.h>
#include <stdbool.h>
#include <stdarg.h>

#include "virgl-version.h"

struct virgl_box;
struct iovec;

#define VIRGL_EXPORT __attribute__((visibility("default")))

typedef void *virgl_renderer_gl_context;

struct virgl_renderer_gl_ctx_param {
   int version;
   bool shared;
   int major_ver;
   int minor_ver;
   int compat_ctx;
};

/* Callback structure versions 1..4 are accepted by virgl_renderer_init(). */
#define VIRGL_RENDERER_CALLBACKS_VERSION 4

/*
 * The library keeps the pointer to this structure (it does not copy it) and reads a
 * member only when `version` is high enough and the member is non-NULL.
 */
struct virgl_renderer_callbacks {
   int version;
   /* v1: a context-0 fence (virgl_renderer_create_fence) retired. */
   void (*write_fence)(void *cookie, uint32_t fence);
   /* v1: GL winsys hooks; never called by virtkfd. */
   virgl_renderer_gl_context (*create_gl_context)(
      void *cookie, int scanout_idx, struct virgl_renderer_gl_ctx_param *param);
   void (*destroy_gl_context)(void *cookie, virgl_renderer_gl_context ctx);
   int (*make_current)(void *cookie, int scanout_idx, virgl_renderer_gl_context ctx);
   /* v2: returns a DRM fd whose ownership passes to the library, or -1. */
   int (*get_drm_fd)(void *cookie);
   /* v3: a per-context fence retired; fences of one (ctx, ring) retire in order. */
   void (*write_context_fence)(void *cookie, uint32_t ctx_id, uint32_t ring_idx,
                               uint64_t fence_id);
   /* v3: a connected render-server socket, or -1; unused by virtkfd. */
   int (*get_server_fd)(void *cookie, uint32_t version);
   /* v4: the caller's EGLDisplay; unused by virtkfd. */
   void *(*get_egl_display)(void *cookie);
};

/* virgl_renderer_init() flags. Unknown bits are accepted. */
#define VIRGL_RENDERER_USE_EGL             1
#define VIRGL_RENDERER_THREAD_SYNC         2
#define VIRGL_RENDERER_USE_GLX             (1 << 2)
#define VIRGL_RENDERER_USE_SURFACELESS     (1 << 3)
#define VIRGL_RENDERER_USE_GLES            (1 << 4)
#define VIRGL_RENDERER_USE_EXTERNAL_BLOB   (1 << 5)
#define VIRGL_RENDERER_VENUS               (1 << 6)
#define VIRGL_RENDERER_NO_VIRGL            (1 << 7)
#define VIRGL_RENDERER_ASYNC_FENCE_CB      (1 << 8)
#define VIRGL_RENDERER_RENDER_SERVER       (1 << 9)
#define VIRGL_RENDERER_DRM                 (1 << 10)
#define VIRGL_RENDERER_D3D11_SHARE_TEXTURE (1 << 12)
#define VIRGL_RENDERER_COMPAT_PROFILE      (1 << 13)
#define VIRGL_RENDERER_USE_GUEST_VRAM      (1 << 14)
/*
 * The ROCm enable bit of AMD's QEMU patches. It shares bit 14 with USE_GUEST_VRAM;
 * virtkfd reads the bit as "ROCm requested" and does not implement guest VRAM.
 */
#define VIRGL_RENDERER_USE_ROCM (1 << 14)

#ifdef VIRGL_RENDERER_UNSTABLE_APIS
#define VIRGL_RENDERER_USE_VIDEO (1 << 11)
#endif

/* 0 on success; -1 for bad callbacks; -EBUSY when re-initialised differently. */
VIRGL_EXPORT int
virgl_renderer_init(void *cookie, int flags, struct virgl_renderer_callbacks *cb);
/* Delivers retired fences on this thread when ASYNC_FENCE_CB is not set. */
VIRGL_EXPORT void virgl_renderer_poll(void);
/* Tears everything down; no callback runs after it returns. */
VIRGL_EXPORT void virgl_renderer_cleanup(void *cookie);
/* Destroys all contexts and resources, drops pending fences, keeps the init state. */
VIRGL_EXPORT void virgl_renderer_reset(void);
/* An eventfd readable while retired fences wait for virgl_renderer_poll(), or -1. */
VIRGL_EXPORT int virgl_renderer_get_poll_fd(void);
VIRGL_EXPORT void virgl_renderer_force_ctx_0(void);

/* Capsets. get_cap_set() may be called before init and always writes both outputs. */
VIRGL_EXPORT void
virgl_renderer_get_cap_set(uint32_t set, uint32_t *max_ver, uint32_t *max_size);
VIRGL_EXPORT void virgl_renderer_fill_caps(uint32_t set, uint32_t version, void *caps);

#define VIRGL_RENDERER_CONTEXT_FLAG_CAPSET_ID_MASK 0xff

/* Contexts: positive errno. `name` holds `nlen` bytes and need not be terminated. */
VIRGL_EXPORT int
virgl_renderer_context_create(uint32_t handle, uint32_t nlen, const char *name);
VIRGL_EXPORT int
virgl_renderer_context_create_with_flags(uint32_t ctx_id, uint32_t ctx_flags,
                                         uint32_t nlen, const char *name);
VIRGL_EXPORT void virgl_renderer_context_destroy(uint32_t handle);

/* Positive EINVAL/EFAULT for bad arguments, else the context's negative errno. */
VIRGL_EXPORT int virgl_renderer_submit_cmd(void *buffer, int ctx_id, int ndw);

VIRGL_EXPORT void virgl_renderer_ctx_attach_resource(int ctx_id, int res_handle);
VIRGL_EXPORT void virgl_renderer_ctx_detach_resource(int ctx_id, int res_handle);

/* A context-0 fence, retired in order through write_fence. Positive errno. */
VIRGL_EXPORT int virgl_renderer_create_fence(int client_fence_id, uint32_t ctx_id);

#define VIRGL_RENDERER_FENCE_FLAG_MERGEABLE (1 << 0)

/* A per-context fence on ring_idx, retired through write_context_fence. Negative errno.
 */
VIRGL_EXPORT int
virgl_renderer_context_create_fence(uint32_t ctx_id, uint32_t flags, uint32_t ring_idx,
                                    uint64_t fence_id);
VIRGL_EXPORT void virgl_renderer_context_poll(uint32_t ctx_id);
VIRGL_EXPORT int virgl_renderer_context_get_poll_fd(uint32_t ctx_id);

/* Resources created by the legacy GL path. */
struct virgl_renderer_resource_create_args {
   uint32_t handle;
   uint32_t target;
   uint32_t format;
   uint32_t bind;
   uint32_t width;
   uint32_t height;
   uint32_t depth;
   uint32_t array_size;
   uint32_t last_level;
   uint32_t nr_samples;
   uint32_t flags;
};

#define VIRGL_RES_BIND_DEPTH_STENCIL   (1 << 0)
#define VIRGL_RES_BIND_RENDER_TARGET   (1 << 1)
#define VIRGL_RES_BIND_SAMPLER_VIEW    (1 << 3)
#define VIRGL_RES_BIND_VERTEX_BUFFER   (1 << 4)
#define VIRGL_RES_BIND_INDEX_BUFFER    (1 << 5)
#define VIRGL_RES_BIND_CONSTANT_BUFFER (1 << 6)
#define VIRGL_RES_BIND_STREAM_OUTPUT   (1 << 11)
#define VIRGL_RES_BIND_CURSOR          (1 << 16)
#define VIRGL_RES_BIND_CUSTOM          (1 << 17)
#define VIRGL_RES_BIND_SCANOUT         (1 << 18)
#define VIRGL_RES_BIND_SHARED          (1 << 20)

/* GL resources do not exist in virtkfd: positive EINVAL. */
VIRGL_EXPORT int
virgl_renderer_resource_create(struct virgl_renderer_resource_create_args *args,
                               struct iovec *iov, uint32_t num_iovs);
VIRGL_EXPORT int
virgl_renderer_resource_import_eglimage(struct virgl_renderer_resource_create_args *args,
                                        void *image);
/* Detaches the resource from every context, then releases it. */
VIRGL_EXPORT void virgl_renderer_resource_unref(uint32_t res_handle);

VIRGL_EXPORT void virgl_renderer_resource_set_priv(uint32_t res_handle, void *priv);
VIRGL_EXPORT void *virgl_renderer_resource_get_priv(uint32_t res_handle);

/* Stores the caller's array (no copy). Positive EINVAL. */
VIRGL_EXPORT int
virgl_renderer_resource_attach_iov(int res_handle, struct iovec *iov, int num_iovs);
/*
 * Returns the stored array to the caller, who frees it. Before this returns, the
 * library stops using the iovecs and the memory behind them (userptr registrations
 * built from them are torn down).
 */
VIRGL_EXPORT void
virgl_renderer_resource_detach_iov(int res_handle, struct iovec **iov, int *num_iovs);

struct virgl_renderer_resource_info {
   uint32_t handle;
   uint32_t virgl_format;
   uint32_t width;
   uint32_t height;
   uint32_t depth;
   uint32_t flags;
   uint32_t tex_id;
   uint32_t stride;
   int drm_fourcc;
   int fd;
};

#define VIRGL_RENDERER_RESOURCE_INFO_EXT_VERSION 0

struct virgl_renderer_resource_info_ext {
   int version;
   struct virgl_renderer_resource_info base;
   bool has_dmabuf_export;
   int planes;
   uint64_t modifiers;
   void *d3d_tex2d;
};

/* 0 for every existing resource; `info->fd` is borrowed. Positive EINVAL. */
VIRGL_EXPORT int
virgl_renderer_resource_get_info(int res_handle,
                                 struct virgl_renderer_resource_info *info);
/* Positive EINVAL: no virtkfd resource is displayable. */
VIRGL_EXPORT int
virgl_renderer_resource_get_info_ext(int res_handle,
                                     struct virgl_renderer_resource_info_ext *info);

VIRGL_EXPORT void
virgl_renderer_get_rect(int resource_id, struct iovec *iov, unsigned int num_iovs,
                        uint32_t offset, int x, int y, int width, int height);
VIRGL_EXPORT void *
virgl_renderer_get_cursor_data(uint32_t resource_id, uint32_t *width, uint32_t *height);
VIRGL_EXPORT int virgl_renderer_get_fd_for_texture(uint32_t tex_id, int *fd);
VIRGL_EXPORT int
virgl_renderer_get_fd_for_texture2(uint32_t tex_id, int *fd, int *stride, int *offset);

/* GL transfers do not exist in virtkfd: positive EINVAL. */
VIRGL_EXPORT int
virgl_renderer_transfer_read_iov(uint32_t handle, uint32_t ctx_id, uint32_t level,
                                 uint32_t stride, uint32_t layer_stride,
                                 struct virgl_box *box, uint64_t offset,
                                 struct iovec *iov, int iovec_cnt);
VIRGL_EXPORT int
virgl_renderer_transfer_write_iov(uint32_t handle, uint32_t ctx_id, int level,
                                  uint32_t stride, uint32_t layer_stride,
                                  struct virgl_box *box, uint64_t offset,
                                  struct iovec *iovec, unsigned int iovec_cnt);

/* Blob memory types. */
#define VIRGL_RENDERER_BLOB_MEM_GUEST        0x0001
#define VIRGL_RENDERER_BLOB_MEM_HOST3D       0x0002
#define VIRGL_RENDERER_BLOB_MEM_HOST3D_GUEST 0x0003
#define VIRGL_RENDERER_BLOB_MEM_GUEST_VRAM   0x0004

/* Blob flags. USE_USERPTR and USERPTR_RDONLY are the proposed userptr extension. */
#define VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE     0x0001
#define VIRGL_RENDERER_BLOB_FLAG_USE_SHAREABLE    0x0002
#define VIRGL_RENDERER_BLOB_FLAG_USE_CROSS_DEVICE 0x0004
#define VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR      0x0008
#define VIRGL_RENDERER_BLOB_FLAG_USERPTR_RDONLY   0x0010

struct virgl_renderer_resource_create_blob_args {
   uint32_t res_handle;
   uint32_t ctx_id;
   uint32_t blob_mem;
   uint32_t blob_flags;
   uint64_t blob_id;
   uint64_t size;
   /* Host VAs of guest memory; the library keeps the pointer until detach_iov/unref. */
   const struct iovec *iovecs;
   uint32_t num_iovs;
};

/* Negative errno. */
VIRGL_EXPORT int virgl_renderer_resource_create_blob(
   const struct virgl_renderer_resource_create_blob_args *args);

/* Map cache types, equal to virtio-gpu's VIRTIO_GPU_MAP_CACHE_*. */
#define VIRGL_RENDERER_MAP_CACHE_MASK     0x0f
#define VIRGL_RENDERER_MAP_CACHE_NONE     0x00
#define VIRGL_RENDERER_MAP_CACHE_CACHED   0x01
#define VIRGL_RENDERER_MAP_CACHE_UNCACHED 0x02
#define VIRGL_RENDERER_MAP_CACHE_WC       0x03

/* Negative errno; unmap returns munmap's -1 on failure. */
VIRGL_EXPORT int
virgl_renderer_resource_map(uint32_t res_handle, void **map, uint64_t *out_size);
VIRGL_EXPORT int virgl_renderer_resource_unmap(uint32_t res_handle);
VIRGL_EXPORT int
virgl_renderer_resource_get_map_info(uint32_t res_handle, uint32_t *map_info);
/*
 * Maps the resource MAP_FIXED at `addr`; the mapping belongs to the caller. Exactly
 * -EOPNOTSUPP when the resource cannot be mapped that way (callers then fall back to
 * virgl_renderer_resource_map()), -EINVAL for unknown resources.
 */
VIRGL_EXPORT int virgl_renderer_resource_map_fixed(uint32_t res_handle, void *addr);

#define VIRGL_RENDERER_BLOB_FD_TYPE_DMABUF 0x0001
#define VIRGL_RENDERER_BLOB_FD_TYPE_OPAQUE 0x0002
#define VIRGL_RENDERER_BLOB_FD_TYPE_SHM    0x0003

/* Returns a new fd owned by the caller. Negative errno. */
VIRGL_EXPORT int
virgl_renderer_resource_export_blob(uint32_t res_id, uint32_t *fd_type, int *fd);

struct virgl_renderer_resource_import_blob_args {
   uint32_t res_handle;
   uint32_t blob_mem;
   uint32_t fd_type;
   int fd;
   uint64_t size;
};

/* Negative errno; the fd is never closed on failure. */
VIRGL_EXPORT int virgl_renderer_resource_import_blob(
   const struct virgl_renderer_resource_import_blob_args *args);

/* Generic structure-based queries through virgl_renderer_execute(). */
enum virgl_renderer_structure_type_v0 {
   VIRGL_RENDERER_STRUCTURE_TYPE_NONE = 0x00000000,
   VIRGL_RENDERER_STRUCTURE_TYPE_EXPORT_QUERY = (1 << 0),
   VIRGL_RENDERER_STRUCTURE_TYPE_SUPPORTED_STRUCTURES = (1 << 1),
};

struct virgl_renderer_hdr {
   uint32_t stype;
   uint32_t stype_version;
   uint32_t size;
};

struct virgl_renderer_export_query {
   struct virgl_renderer_hdr hdr;
   uint32_t in_resource_id;
   uint32_t out_num_fds;
   uint32_t in_export_fds;
   uint32_t out_fourcc;
   uint32_t pad;
   int32_t out_fds[4];
   uint32_t out_strides[4];
   uint32_t out_offsets[4];
   uint64_t out_modifier;
};

struct virgl_renderer_supported_structures {
   struct virgl_renderer_hdr hdr;
   uint32_t in_stype_version;
   uint32_t out_supported_structures_mask;
};

/* Negative errno. The caller must pass at least the 12-byte header. */
VIRGL_EXPORT int virgl_renderer_execute(void *execute_args, uint32_t execute_size);

/* Logging. */
typedef void (*virgl_debug_callback_type)(const char *fmt, va_list ap);

/* Deprecated: prefer virgl_set_log_callback(). Returns the previous callback. */
VIRGL_EXPORT virgl_debug_callback_type
virgl_set_debug_callback(virgl_debug_callback_type cb);

enum virgl_log_level_flags {
   VIRGL_LOG_LEVEL_DEBUG = 0,
   VIRGL_LOG_LEVEL_INFO = 1,
   VIRGL_LOG_LEVEL_WARNING = 2,
   VIRGL_LOG_LEVEL_ERROR = 3,
   /* Never passed to a callback; must stay the largest value. */
   VIRGL_LOG_LEVEL_SILENT = 4,
};

typedef void (*virgl_free_data_callback_type)(void *user_data);
typedef void (*virgl_log_callback_type)(enum virgl_log_level_flags log_level,
                                        const char *message, void *user_data);

/* free_user_data_cb(user_data) runs when the callback is replaced and at exit. */
VIRGL_EXPORT void virgl_set_log_callback(virgl_log_callback_type cb, void *user_data,
                                         virgl_free_data_callback_type free_user_data_cb);

/*
 * Entry points that upstream declares only with VIRGL_RENDERER_UNSTABLE_APIS. The
 * library exports them unconditionally.
 */
#ifdef VIRGL_RENDERER_UNSTABLE_APIS
/* Negative errno; *fd = -1 on failure, else a new sync_file fd owned by the caller. */
VIRGL_EXPORT int virgl_renderer_export_fence(uint64_t client_fence_id, int *fd);
/* An already-signalled sync_file fd owned by the caller, or -1. */
VIRGL_EXPORT int virgl_renderer_export_signalled_fence(void);
VIRGL_EXPORT int
virgl_renderer_submit_cmd2(void *buffer, int ctx_id, int ndw, uint64_t *in_fence_ids,
                           uint32_t num_in_fences);
/* Consumes fence_fd when the context exists; positive EINVAL (fd kept) otherwise. */
VIRGL_EXPORT int virgl_renderer_attach_fence(int ctx_id, int fence_fd);
VIRGL_EXPORT int virgl_renderer_get_fence_fd(uint64_t fence_id);
/* -EINVAL for unknown contexts, -ENODEV for contexts without a DRM device. */
VIRGL_EXPORT int virgl_renderer_get_dev_fd(int ctx_id);
#endif /* VIRGL_RENDERER_UNSTABLE_APIS */

#endif /* VIRGLRENDERER_H */
