/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * A VMM for the forwarding tests, shaped like QEMU's virtio-gpu-gl device: callbacks
 * version 4 with its own EGL contexts (surfaceless, as -display egl-headless makes
 * them) when the tests are built with EGL; a fence recorder that knows when a
 * callback is allowed (ASYNC_FENCE_CB: any thread; else only the VMM's thread inside
 * virgl_renderer_poll); QEMU's async model, where callbacks only queue work for a
 * bottom half on the main loop; and the log messages the library sends.
 *
 * These programs link virtkfd's libvirglrenderer.so.1, as a VMM does, so the system
 * library's calls to its own exports really land in virtkfd.
 */
#ifndef FORWARD_VMM_H
#define FORWARD_VMM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virglrenderer.h"

#define FWD_MAX_FENCES 8192
#define FWD_MAX_LOG    64

struct fwd_context_fence {
   uint32_t ctx_id;
   uint32_t ring_idx;
   uint64_t id;
};

struct fwd_vmm {
   struct virgl_renderer_callbacks cbs;
   int flags;
   bool gl_callbacks; /* create_gl_context & co. over the VMM's own EGL display */
   pthread_t main_thread;

   pthread_mutex_t lock;
   pthread_cond_t cond;
   /* where a callback may come from */
   bool in_poll;
   bool in_create;
   bool cleaned_up;
   int violations;
   char violation[256];
   /* what arrived, in order */
   uint32_t ctx0[FWD_MAX_FENCES];
   size_t ctx0_count;
   struct fwd_context_fence ctx_fences[FWD_MAX_FENCES];
   size_t ctx_fence_count;
   bool callback_on_other_thread;
   /* QEMU's async handlers: queued here, applied by fwd_vmm_bottom_half() */
   int bh_fd;
   uint32_t queued_ctx0[FWD_MAX_FENCES];
   size_t queued_ctx0_count;
   struct fwd_context_fence queued_ctx[FWD_MAX_FENCES];
   size_t queued_ctx_count;
};

/* EGL is compiled in (FORWARD_TESTS_EGL): the VMM can offer GL callbacks. */
bool fwd_vmm_has_egl(void);

/* Callbacks version 4, with GL callbacks over EGL when `gl_callbacks` (QEMU's way). */
void fwd_vmm_init(struct fwd_vmm *vmm, int flags, bool gl_callbacks);

void fwd_vmm_fini(struct fwd_vmm *vmm);

/* virgl_renderer_init with the VMM's flags; returns its result. */
int fwd_vmm_renderer_init(struct fwd_vmm *vmm);

/* virgl_renderer_cleanup; afterwards every callback is a violation. */
void fwd_vmm_renderer_cleanup(struct fwd_vmm *vmm);

/* virgl_renderer_poll, marked, then the bottom half (async mode). */
void fwd_vmm_poll(struct fwd_vmm *vmm);

/* virgl_renderer_create_fence, marked. */
int fwd_vmm_create_fence(struct fwd_vmm *vmm, uint32_t fence_id);

/* virgl_renderer_context_create_fence, marked. */
int fwd_vmm_context_create_fence(struct fwd_vmm *vmm, uint32_t ctx_id, uint32_t flags,
                                 uint32_t ring_idx, uint64_t fence_id);

/* Whether the system virglrenderer is there (its GL capset is offered before init);
 * prints why not. */
bool fwd_system_library_usable(void);

/* Polls (10 ms apart, QEMU's timer) until `count` context-0 fences arrived. */
bool fwd_vmm_wait_ctx0(struct fwd_vmm *vmm, size_t count, int timeout_ms);

/* The same for the last context fence of (ctx, ring) to be `id`. */
bool fwd_vmm_wait_context_fence(struct fwd_vmm *vmm, uint32_t ctx_id, uint32_t ring_idx,
                                uint64_t id, int timeout_ms);

/* The library's log messages since the last call, as "level: text" lines. */
void fwd_log_capture_start(void);
/* Whether a captured message contains `text`; how many do. */
int fwd_log_count(const char *text);
void fwd_log_capture_stop(void);

/*
 * Marks every loaded library NODELETE. Mesa unloads its driver at eglTerminate,
 * while memory it allocated is still referenced only from the driver's data: to
 * LeakSanitizer that memory then looks leaked. Pinned, it stays reachable.
 */
void fwd_pin_loaded_libraries(void);

#endif /* FORWARD_VMM_H */
