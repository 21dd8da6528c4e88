/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Forwarding to the system's virglrenderer: what src/api calls. virtkfd owns the API;
 * capsets with a virtkfd backend (8) are served by its core, every other capset by
 * the system library (forward_library.h), in the same process. See README.md here.
 *
 * The routing hooks return true when they handled the call (the context, resource or
 * capset belongs to the system library) and put the result in `*ret`; false means
 * virtkfd's core handles it. They take the API lock themselves, so they are called
 * before the entry point takes it, and cost one atomic load while forwarding is off.
 *
 * The *_locked and lifecycle functions are called with the API lock held, at the
 * places their comments name.
 */
#ifndef FORWARD_H
#define FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include "forward/forward_library.h"

struct iovec;
struct virgl_box;
struct vkfd_renderer;

/* ---- re-entry: the system library calling its own exports ------------------ */

/* The entry points of the library the calling thread is inside of (no lock). */
const struct forward_entry_points *forward_reentry(void);

/* ---- lifecycle (API lock held) ---------------------------------------------- */

/* After the core's first successful init: loads and initialises the system library. */
void forward_renderer_start(struct vkfd_renderer *renderer);
/* Before the core's cleanup: the system library's cleanup (its threads stop). */
void forward_renderer_stop(struct vkfd_renderer *renderer);
/* After the core's cleanup: frees the forwarding state. */
void forward_renderer_fini(struct vkfd_renderer *renderer);
/* After the core's reset. */
void forward_renderer_reset(struct vkfd_renderer *renderer);

/* virgl_renderer_poll, without the API lock: before and after the core's poll. */
void forward_poll_begin(void);
void forward_poll_end(void);

bool forward_get_poll_fd(int *fd);
void forward_force_ctx_0(void);
bool forward_get_cap_set(uint32_t set, uint32_t *max_ver, uint32_t *max_size);
bool forward_fill_caps(uint32_t set, uint32_t version, void *caps);

/* virgl_renderer_create_fence, around the core's fence (API lock held). */
int forward_create_fence_begin(uint32_t fence_id, uint32_t ctx_id);
void forward_create_fence_end(bool core_created);

/* ---- one id space (API lock held): true, with a log line, when the id is taken */

bool forward_context_id_taken(uint32_t ctx_id);
bool forward_resource_id_taken(const char *what, uint32_t res_id);

/* ---- contexts (forward_context.c) ------------------------------------------- */

bool forward_context_create(uint32_t ctx_id, uint32_t ctx_flags, uint32_t nlen,
                            const char *name, int *ret);
bool forward_context_destroy(uint32_t ctx_id);
bool forward_submit_cmd(void *buffer, int ctx_id, int ndw, int *ret);
bool forward_submit_cmd2(void *buffer, int ctx_id, int ndw, uint64_t *in_fence_ids,
                         uint32_t num_in_fences, int *ret);
bool forward_ctx_attach_resource(int ctx_id, int res_handle);
bool forward_ctx_detach_resource(int ctx_id, int res_handle);
bool forward_context_create_fence(uint32_t ctx_id, uint32_t flags, uint32_t ring_idx,
                                  uint64_t fence_id, int *ret);
bool forward_context_poll(uint32_t ctx_id);
bool forward_context_get_poll_fd(uint32_t ctx_id, int *ret);
bool forward_get_dev_fd(int ctx_id, int *ret);
bool forward_attach_fence(int ctx_id, int fence_fd, int *ret);
bool forward_export_fence(uint64_t client_fence_id, int *fd, int *ret);
bool forward_export_signalled_fence(int *ret);
bool forward_get_fence_fd(uint64_t fence_id, int *ret);

/* ---- resources (forward_resource.c) ----------------------------------------- */

bool forward_resource_create(struct virgl_renderer_resource_create_args *args,
                             struct iovec *iov, uint32_t num_iovs, int *ret);
bool forward_resource_import_eglimage(struct virgl_renderer_resource_create_args *args,
                                      void *image, int *ret);
bool
forward_resource_create_blob(const struct virgl_renderer_resource_create_blob_args *args,
                             int *ret);
bool forward_resource_unref(uint32_t res_id);
bool forward_resource_set_priv(uint32_t res_id, void *priv);
bool forward_resource_get_priv(uint32_t res_id, void **priv);
bool forward_resource_attach_iov(int res_id, struct iovec *iov, int num_iovs, int *ret);
bool forward_resource_detach_iov(int res_id, struct iovec **iov, int *num_iovs);
bool forward_resource_get_info(int res_id, struct virgl_renderer_resource_info *info,
                               int *ret);
bool
forward_resource_get_info_ext(int res_id, struct virgl_renderer_resource_info_ext *info,
                              int *ret);
bool forward_resource_map(uint32_t res_id, void **map, uint64_t *out_size, int *ret);
bool forward_resource_map_fixed(uint32_t res_id, void *addr, int *ret);
bool forward_resource_unmap(uint32_t res_id, int *ret);
bool forward_resource_get_map_info(uint32_t res_id, uint32_t *map_info, int *ret);
bool forward_resource_export_blob(uint32_t res_id, uint32_t *fd_type, int *fd, int *ret);
bool forward_execute(void *execute_args, uint32_t execute_size, int *ret);
bool
forward_get_cursor_data(uint32_t res_id, uint32_t *width, uint32_t *height, void **data);
bool forward_get_rect(int res_id, struct iovec *iov, unsigned int num_iovs,
                      uint32_t offset, int x, int y, int width, int height);
bool forward_get_fd_for_texture(uint32_t tex_id, int *fd, int *ret);
bool
forward_get_fd_for_texture2(uint32_t tex_id, int *fd, int *stride, int *offset, int *ret);
bool
forward_transfer_read_iov(uint32_t handle, uint32_t ctx_id, uint32_t level,
                          uint32_t stride, uint32_t layer_stride, struct virgl_box *box,
                          uint64_t offset, struct iovec *iov, int iovec_cnt, int *ret);
bool
forward_transfer_write_iov(uint32_t handle, uint32_t ctx_id, int level, uint32_t stride,
                           uint32_t layer_stride, struct virgl_box *box, uint64_t offset,
                           struct iovec *iovec, unsigned int iovec_cnt, int *ret);

#endif /* FORWARD_H */
