/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "forward_vmm.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#ifdef FORWARD_TESTS_EGL
#include <EGL/egl.h>
#include <EGL/eglext.h>
#endif

/* ---- GL callbacks over the VMM's own EGL display (QEMU's egl-headless) -------- */

#ifdef FORWARD_TESTS_EGL
static struct {
   pthread_mutex_t lock;
   EGLDisplay display;
   EGLContext root;
   int bad_params; /* contexts asked for with a parameter QEMU could not use */
} egl = {
   .lock = PTHREAD_MUTEX_INITIALIZER,
   .display = EGL_NO_DISPLAY,
   .root = EGL_NO_CONTEXT,
};

/* Once per process, kept to the end: a driver that is unloaded and reloaded leaks. */
static bool
egl_open(void)
{
   pthread_mutex_lock(&egl.lock);
   if (egl.display == EGL_NO_DISPLAY) {
      PFNEGLGETPLATFORMDISPLAYEXTPROC get_platform_display =
         (PFNEGLGETPLATFORMDISPLAYEXTPROC)eglGetProcAddress("eglGetPlatformDisplayEXT");
      EGLDisplay display = get_platform_display
                              ? get_platform_display(EGL_PLATFORM_SURFACELESS_MESA,
                                                     EGL_DEFAULT_DISPLAY, NULL)
                              : EGL_NO_DISPLAY;
      static const EGLint attribs[] = {
         EGL_CONTEXT_MAJOR_VERSION,
         3,
         EGL_CONTEXT_MINOR_VERSION,
         3,
         EGL_CONTEXT_OPENGL_PROFILE_MASK,
         EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT,
         EGL_NONE,
      };
      if (display != EGL_NO_DISPLAY && eglInitialize(display, NULL, NULL) &&
          eglBindAPI(EGL_OPENGL_API)) {
         egl.root = eglCreateContext(display, EGL_NO_CONFIG_KHR, EGL_NO_CONTEXT, attribs);
         if (egl.root != EGL_NO_CONTEXT)
            egl.display = display;
      }
   }
   bool ok = egl.display != EGL_NO_DISPLAY;
   pthread_mutex_unlock(&egl.lock);
   return ok;
}

static virgl_renderer_gl_context
vmm_create_gl_context(void *cookie, int scanout_idx,
                      struct virgl_renderer_gl_ctx_param *param)
{
   /* QEMU reads these fields of the 1.x layout; a 0.x caller's must be translated */
   if (!param || param->major_ver < 2 || param->major_ver > 4 || param->minor_ver < 0 ||
       param->minor_ver > 6 || (param->compat_ctx != 0 && param->compat_ctx != 1))
      __atomic_add_fetch(&egl.bad_params, 1, __ATOMIC_RELAXED);
   if (!param)
      return NULL;
   EGLint attribs[] = {
      EGL_CONTEXT_MAJOR_VERSION,
      param->major_ver,
      EGL_CONTEXT_MINOR_VERSION,
      param->minor_ver,
      EGL_CONTEXT_OPENGL_PROFILE_MASK,
      param->compat_ctx ? EGL_CONTEXT_OPENGL_COMPATIBILITY_PROFILE_BIT
                        : EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT,
      EGL_NONE,
   };
   /* like egl-headless: make the root context current, then share with it */
   eglMakeCurrent(egl.display, EGL_NO_SURFACE, EGL_NO_SURFACE, egl.root);
   EGLContext ctx = eglCreateContext(egl.display, EGL_NO_CONFIG_KHR, egl.root, attribs);
   return ctx == EGL_NO_CONTEXT ? NULL : ctx;
}

static void
vmm_destroy_gl_context(void *cookie, virgl_renderer_gl_context ctx)
{
   eglDestroyContext(egl.display, ctx);
}

static int
vmm_make_current(void *cookie, int scanout_idx, virgl_renderer_gl_context ctx)
{
   return eglMakeCurrent(egl.display, EGL_NO_SURFACE, EGL_NO_SURFACE, ctx) ? 0 : -1;
}

static void *
vmm_get_egl_display(void *cookie)
{
   return egl.display;
}
#endif

bool
fwd_vmm_has_egl(void)
{
#ifdef FORWARD_TESTS_EGL
   return true;
#else
   return false;
#endif
}

/* ---- fences -------------------------------------------------------------------- */

static void
violation(struct fwd_vmm *vmm, const char *what)
{
   if (!vmm->violations)
      snprintf(vmm->violation, sizeof(vmm->violation), "%s", what);
   vmm->violations++;
}

static void
callback_check_locked(struct fwd_vmm *vmm)
{
   bool main_thread = pthread_equal(pthread_self(), vmm->main_thread);
   if (!main_thread)
      vmm->callback_on_other_thread = true;
   if (vmm->cleaned_up)
      violation(vmm, "a fence callback after virgl_renderer_cleanup returned");
   /* in either mode: QEMU queues the command only after create_fence returns */
   if (main_thread && vmm->in_create)
      violation(vmm, "a fence callback from inside create_fence");
   if (vmm->flags & VIRGL_RENDERER_ASYNC_FENCE_CB)
      return;
   if (!main_thread)
      violation(vmm, "a polled-mode fence callback on another thread");
   else if (!vmm->in_poll)
      violation(vmm, "a polled-mode fence callback outside virgl_renderer_poll");
}

static void
bottom_half_schedule(struct fwd_vmm *vmm)
{
   uint64_t one = 1;
   if (write(vmm->bh_fd, &one, sizeof(one)) < 0)
      violation(vmm, "the bottom-half eventfd failed");
}

static void
vmm_write_fence(void *cookie, uint32_t fence)
{
   struct fwd_vmm *vmm = cookie;
   pthread_mutex_lock(&vmm->lock);
   callback_check_locked(vmm);
   if (vmm->flags & VIRGL_RENDERER_ASYNC_FENCE_CB) {
      /* QEMU's async handler: queue it (as ctx 0, ring UINT32_MAX) for a bottom half */
      if (vmm->queued_ctx0_count < FWD_MAX_FENCES)
         vmm->queued_ctx0[vmm->queued_ctx0_count++] = fence;
      bottom_half_schedule(vmm);
   } else if (vmm->ctx0_count < FWD_MAX_FENCES) {
      vmm->ctx0[vmm->ctx0_count++] = fence;
   }
   pthread_cond_broadcast(&vmm->cond);
   pthread_mutex_unlock(&vmm->lock);
}

static void
vmm_write_context_fence(void *cookie, uint32_t ctx_id, uint32_t ring_idx,
                        uint64_t fence_id)
{
   struct fwd_vmm *vmm = cookie;
   struct fwd_context_fence fence = { ctx_id, ring_idx, fence_id };
   pthread_mutex_lock(&vmm->lock);
   callback_check_locked(vmm);
   if (vmm->flags & VIRGL_RENDERER_ASYNC_FENCE_CB) {
      if (vmm->queued_ctx_count < FWD_MAX_FENCES)
         vmm->queued_ctx[vmm->queued_ctx_count++] = fence;
      bottom_half_schedule(vmm);
   } else if (vmm->ctx_fence_count < FWD_MAX_FENCES) {
      vmm->ctx_fences[vmm->ctx_fence_count++] = fence;
   }
   pthread_cond_broadcast(&vmm->cond);
   pthread_mutex_unlock(&vmm->lock);
}

/* The main loop runs the bottom half: queued completions become visible. */
static void
fwd_vmm_bottom_half(struct fwd_vmm *vmm)
{
   uint64_t value;
   while (read(vmm->bh_fd, &value, sizeof(value)) > 0)
      ;
   pthread_mutex_lock(&vmm->lock);
   for (size_t i = 0; i < vmm->queued_ctx0_count && vmm->ctx0_count < FWD_MAX_FENCES; i++)
      vmm->ctx0[vmm->ctx0_count++] = vmm->queued_ctx0[i];
   vmm->queued_ctx0_count = 0;
   for (size_t i = 0; i < vmm->queued_ctx_count && vmm->ctx_fence_count < FWD_MAX_FENCES;
        i++)
      vmm->ctx_fences[vmm->ctx_fence_count++] = vmm->queued_ctx[i];
   vmm->queued_ctx_count = 0;
   pthread_mutex_unlock(&vmm->lock);
}

void
fwd_vmm_init(struct fwd_vmm *vmm, int flags, bool gl_callbacks)
{
   memset(vmm, 0, sizeof(*vmm));
   vmm->flags = flags;
   vmm->main_thread = pthread_self();
   pthread_mutex_init(&vmm->lock, NULL);
   pthread_cond_init(&vmm->cond, NULL);
   vmm->bh_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
   vmm->cbs.version = 4;
   vmm->cbs.write_fence = vmm_write_fence;
   vmm->cbs.write_context_fence = vmm_write_context_fence;
#ifdef FORWARD_TESTS_EGL
   if (gl_callbacks && egl_open()) {
      vmm->gl_callbacks = true;
      vmm->cbs.create_gl_context = vmm_create_gl_context;
      vmm->cbs.destroy_gl_context = vmm_destroy_gl_context;
      vmm->cbs.make_current = vmm_make_current;
      vmm->cbs.get_egl_display = vmm_get_egl_display;
   }
#endif
}

void
fwd_vmm_fini(struct fwd_vmm *vmm)
{
   if (vmm->bh_fd >= 0)
      close(vmm->bh_fd);
   vmm->bh_fd = -1;
#ifdef FORWARD_TESTS_EGL
   /* the contexts the library made are gone: leave the root current, as QEMU does */
   if (vmm->gl_callbacks && egl.bad_params)
      fprintf(stderr, "forward_vmm: %d GL contexts asked for with unusable parameters\n",
              egl.bad_params);
   if (vmm->gl_callbacks && egl.bad_params)
      vmm->violations++;
#endif
   pthread_cond_destroy(&vmm->cond);
   pthread_mutex_destroy(&vmm->lock);
}

int
fwd_vmm_renderer_init(struct fwd_vmm *vmm)
{
   int ret = virgl_renderer_init(vmm, vmm->flags, &vmm->cbs);
   pthread_mutex_lock(&vmm->lock);
   vmm->cleaned_up = false;
   pthread_mutex_unlock(&vmm->lock);
   return ret;
}

void
fwd_vmm_renderer_cleanup(struct fwd_vmm *vmm)
{
   virgl_renderer_cleanup(NULL);
   pthread_mutex_lock(&vmm->lock);
   vmm->cleaned_up = true;
   pthread_mutex_unlock(&vmm->lock);
}

void
fwd_vmm_poll(struct fwd_vmm *vmm)
{
   pthread_mutex_lock(&vmm->lock);
   vmm->in_poll = true;
   pthread_mutex_unlock(&vmm->lock);
   virgl_renderer_poll();
   pthread_mutex_lock(&vmm->lock);
   vmm->in_poll = false;
   pthread_mutex_unlock(&vmm->lock);
   fwd_vmm_bottom_half(vmm);
}

int
fwd_vmm_create_fence(struct fwd_vmm *vmm, uint32_t fence_id)
{
   pthread_mutex_lock(&vmm->lock);
   vmm->in_create = true;
   pthread_mutex_unlock(&vmm->lock);
   int ret = virgl_renderer_create_fence((int)fence_id, 0);
   pthread_mutex_lock(&vmm->lock);
   vmm->in_create = false;
   pthread_mutex_unlock(&vmm->lock);
   return ret;
}

int
fwd_vmm_context_create_fence(struct fwd_vmm *vmm, uint32_t ctx_id, uint32_t flags,
                             uint32_t ring_idx, uint64_t fence_id)
{
   pthread_mutex_lock(&vmm->lock);
   vmm->in_create = true;
   pthread_mutex_unlock(&vmm->lock);
   int ret = virgl_renderer_context_create_fence(ctx_id, flags, ring_idx, fence_id);
   pthread_mutex_lock(&vmm->lock);
   vmm->in_create = false;
   pthread_mutex_unlock(&vmm->lock);
   return ret;
}

bool
fwd_system_library_usable(void)
{
   uint32_t version = 0, size = 0;
   virgl_renderer_get_cap_set(2, &version, &size);
   if (size)
      return true;
   printf("skipped: no system virglrenderer with GL to forward to (install "
          "libvirglrenderer1, see ci/setup.sh)\n");
   return false;
}

static int64_t
now_ms(void)
{
   struct timespec ts;
   clock_gettime(CLOCK_MONOTONIC, &ts);
   return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* QEMU's fence timer: poll every 10 ms; also wake for the bottom half. */
static void
main_loop_turn(struct fwd_vmm *vmm)
{
   struct pollfd fds[2] = { { .fd = vmm->bh_fd, .events = POLLIN },
                            { .fd = virgl_renderer_get_poll_fd(), .events = POLLIN } };
   poll(fds, fds[1].fd >= 0 ? 2 : 1, 10);
   fwd_vmm_poll(vmm);
}

bool
fwd_vmm_wait_ctx0(struct fwd_vmm *vmm, size_t count, int timeout_ms)
{
   int64_t end = now_ms() + timeout_ms;
   for (;;) {
      pthread_mutex_lock(&vmm->lock);
      bool done = vmm->ctx0_count >= count;
      pthread_mutex_unlock(&vmm->lock);
      if (done)
         return true;
      if (now_ms() > end)
         return false;
      main_loop_turn(vmm);
   }
}

bool
fwd_vmm_wait_context_fence(struct fwd_vmm *vmm, uint32_t ctx_id, uint32_t ring_idx,
                           uint64_t id, int timeout_ms)
{
   int64_t end = now_ms() + timeout_ms;
   for (;;) {
      bool done = false;
      pthread_mutex_lock(&vmm->lock);
      for (size_t i = vmm->ctx_fence_count; i-- > 0;) {
         const struct fwd_context_fence *fence = &vmm->ctx_fences[i];
         if (fence->ctx_id == ctx_id && fence->ring_idx == ring_idx) {
            done = fence->id == id;
            break;
         }
      }
      pthread_mutex_unlock(&vmm->lock);
      if (done)
         return true;
      if (now_ms() > end)
         return false;
      pthread_mutex_lock(&vmm->lock);
      vmm->in_poll = true; /* context_poll may deliver that context's fences */
      pthread_mutex_unlock(&vmm->lock);
      virgl_renderer_context_poll(ctx_id);
      pthread_mutex_lock(&vmm->lock);
      vmm->in_poll = false;
      pthread_mutex_unlock(&vmm->lock);
      main_loop_turn(vmm);
   }
}

/* ---- log messages -------------------------------------------------------------- */

static struct {
   pthread_mutex_t lock;
   char *lines[FWD_MAX_LOG];
   int count;
} captured = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void
log_record(enum virgl_log_level_flags level, const char *message, void *user_data)
{
   pthread_mutex_lock(&captured.lock);
   if (captured.count < FWD_MAX_LOG) {
      char *line = NULL;
      if (asprintf(&line, "%d: %s", (int)level, message) >= 0)
         captured.lines[captured.count++] = line;
   }
   pthread_mutex_unlock(&captured.lock);
}

static void
log_clear(void)
{
   pthread_mutex_lock(&captured.lock);
   for (int i = 0; i < captured.count; i++)
      free(captured.lines[i]);
   captured.count = 0;
   pthread_mutex_unlock(&captured.lock);
}

void
fwd_log_capture_start(void)
{
   log_clear();
   virgl_set_log_callback(log_record, NULL, NULL);
}

int
fwd_log_count(const char *text)
{
   int count = 0;
   pthread_mutex_lock(&captured.lock);
   for (int i = 0; i < captured.count; i++)
      count += strstr(captured.lines[i], text) != NULL;
   pthread_mutex_unlock(&captured.lock);
   return count;
}

void
fwd_log_capture_stop(void)
{
   virgl_set_log_callback(NULL, NULL, NULL);
   log_clear();
}

/* ---- LeakSanitizer and unloaded drivers ---------------------------------------- */

static int
pin_one(struct dl_phdr_info *info, size_t size, void *data)
{
   if (info->dlpi_name && info->dlpi_name[0] == '/') {
      void *handle = dlopen(info->dlpi_name, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
      /* the extra reference is never dropped: the library stays to the end */
      (void)handle;
   }
   return 0;
}

void
fwd_pin_loaded_libraries(void)
{
   dl_iterate_phdr(pin_one, NULL);
}
