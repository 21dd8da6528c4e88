/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The system library's lifecycle beside virtkfd's core: init, cleanup, reset, polling,
 * the one poll fd, capsets and the two halves of context-0 fences.
 */
#include "forward.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/vkfd_backend.h"
#include "core/vkfd_fence.h"
#include "forward/forward_private.h"
#include "util/vkfd_log.h"

struct forward_state forward_state = {
   .system_poll_fd = -1,
   .epoll_fd = -1,
};

char forward_resource_marker;

const struct forward_library *
forward_lock(void)
{
   if (!forward_is_active())
      return NULL;
   pthread_mutex_lock(&vkfd_renderer_get()->lock);
   if (!forward_is_active()) {
      pthread_mutex_unlock(&vkfd_renderer_get()->lock);
      return NULL;
   }
   return forward_state.lib;
}

void
forward_unlock(void)
{
   pthread_mutex_unlock(&vkfd_renderer_get()->lock);
}

int
forward_table_insert(struct forward_table *table, uint32_t id, void *value)
{
   int ret = vkfd_hash_insert(&table->ids, id, value);
   atomic_store(&table->count, (unsigned)vkfd_hash_count(&table->ids));
   return ret == -EEXIST ? 0 : ret;
}

void
forward_table_remove(struct forward_table *table, uint32_t id)
{
   vkfd_hash_remove(&table->ids, id);
   atomic_store(&table->count, (unsigned)vkfd_hash_count(&table->ids));
}

void
forward_table_clear(struct forward_table *table)
{
   vkfd_hash_fini(&table->ids); /* empties it; usable again */
   atomic_store(&table->count, 0);
}

/* Takes the lock only when the library has ids of that kind at all. */
static const struct forward_library *
lock_if_in(struct forward_table *table, uint32_t id)
{
   if (!forward_is_active() || !atomic_load_explicit(&table->count, memory_order_acquire))
      return NULL;
   const struct forward_library *lib = forward_lock();
   if (lib && !vkfd_hash_lookup(&table->ids, id)) {
      forward_unlock();
      lib = NULL;
   }
   return lib;
}

const struct forward_library *
forward_lock_context(uint32_t ctx_id)
{
   return lock_if_in(&forward_state.contexts, ctx_id);
}

const struct forward_library *
forward_lock_resource(uint32_t res_id)
{
   return lock_if_in(&forward_state.resources, res_id);
}

bool
forward_has_context(uint32_t ctx_id)
{
   return forward_is_active() && vkfd_hash_lookup(&forward_state.contexts.ids, ctx_id);
}

bool
forward_has_resource(uint32_t res_id)
{
   return forward_is_active() && vkfd_hash_lookup(&forward_state.resources.ids, res_id);
}

bool
forward_context_id_taken(uint32_t ctx_id)
{
   if (!forward_has_context(ctx_id))
      return false;
   vkfd_err("context_create: ctx %u is a context of the system virglrenderer", ctx_id);
   return true;
}

bool
forward_resource_id_taken(const char *what, uint32_t res_id)
{
   if (!forward_has_resource(res_id))
      return false;
   vkfd_err("%s: res %u is a resource of the system virglrenderer", what, res_id);
   return true;
}

/* The flags the system library gets: the VMM's, with virtkfd's own meaning removed. */
static int
system_flags(const struct vkfd_renderer *renderer)
{
   /* bit 14 is ROCm for virtkfd; for virglrenderer 1.x it means USE_GUEST_VRAM */
   int flags = renderer->flags & ~VIRGL_RENDERER_USE_ROCM;
   bool winsys = (flags & (VIRGL_RENDERER_USE_EGL | VIRGL_RENDERER_USE_GLX)) ||
                 VKFD_CB(renderer, 1, create_gl_context);
   if (!winsys && !(flags & VIRGL_RENDERER_NO_VIRGL)) {
      /* the library would call a NULL create_gl_context: no GL, other capsets stay */
      vkfd_info("forwarding: the VMM asks for no EGL or GLX and has no GL callbacks; "
                "the system virglrenderer runs without GL (NO_VIRGL)");
      flags |= VIRGL_RENDERER_NO_VIRGL;
   }
   return flags;
}

static bool
system_has_gl(void)
{
   return !(forward_state.flags & VIRGL_RENDERER_NO_VIRGL);
}

static void
core_ctx0_retired(void *data, uint32_t fence_id)
{
   forward_fence_merger_retire(&forward_state.ctx0, FORWARD_FENCE_CORE, fence_id);
}

static int
epoll_add(int epoll_fd, int fd)
{
   struct epoll_event event = { .events = EPOLLIN, .data.fd = fd };
   if (fd < 0 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) == 0)
      return 0;
   return -errno;
}

/* Polled mode: one fd, readable when either half, or the merger, has work. */
static int
poll_fd_create(struct vkfd_renderer *renderer)
{
   int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
   if (epoll_fd < 0)
      return -errno;
   int ret = epoll_add(epoll_fd, vkfd_fence_queue_poll_fd(&renderer->fences));
   if (!ret)
      ret = epoll_add(epoll_fd, forward_state.system_poll_fd);
   if (!ret)
      ret = epoll_add(epoll_fd, forward_fence_merger_poll_fd(&forward_state.ctx0));
   if (ret) {
      close(epoll_fd);
      return ret;
   }
   forward_state.epoll_fd = epoll_fd;
   return 0;
}

static void
state_release(struct vkfd_renderer *renderer)
{
   if (renderer->ctx0_retired_hook == core_ctx0_retired) {
      renderer->ctx0_retired_hook = NULL;
      renderer->ctx0_retired_hook_data = NULL;
   }
   forward_fence_merger_fini(&forward_state.ctx0);
   if (forward_state.epoll_fd >= 0)
      close(forward_state.epoll_fd);
   forward_state.epoll_fd = -1;
   forward_state.system_poll_fd = -1;
   forward_table_clear(&forward_state.contexts);
   forward_table_clear(&forward_state.resources);
   forward_state.renderer = NULL;
   forward_state.lib = NULL;
}

void
forward_renderer_start(struct vkfd_renderer *renderer)
{
   if (forward_is_active())
      return; /* a re-init with the same arguments */
   const struct forward_library *lib = forward_library_get();
   if (!lib)
      return;

   forward_state.lib = lib;
   forward_state.renderer = renderer;
   forward_state.init_failed = false;
   forward_state.flags = system_flags(renderer);
   forward_callbacks_build(renderer);
   forward_table_clear(&forward_state.contexts);
   forward_table_clear(&forward_state.resources);
   bool async = forward_state.flags & VIRGL_RENDERER_ASYNC_FENCE_CB;
   int ret = forward_fence_merger_init(&forward_state.ctx0, async,
                                       forward_deliver_ctx0_fence, renderer);
   if (ret) {
      vkfd_warn("forwarding off: %s", strerror(-ret));
      forward_state.init_failed = true;
      forward_state.renderer = NULL;
      forward_state.lib = NULL;
      return;
   }

   /* the cookie only has to be non-NULL (0.10.4 refuses NULL): it is never read */
   FORWARD_SYS(ret, lib, init, &forward_state, forward_state.flags,
               &forward_state.callbacks);
   if (ret) {
      vkfd_warn(
         "forwarding off: the system virglrenderer's init failed (%d, flags 0x%x); "
         "only virtkfd's capsets are served",
         ret, forward_state.flags);
      forward_state.init_failed = true;
      state_release(renderer);
      return;
   }
   FORWARD_SYS(forward_state.system_poll_fd, lib, get_poll_fd);
   if (!async) {
      ret = poll_fd_create(renderer);
      if (ret) {
         vkfd_warn("forwarding off: cannot create the poll fd: %s", strerror(-ret));
         FORWARD_SYS_VOID(lib, cleanup, &forward_state);
         forward_state.init_failed = true;
         state_release(renderer);
         return;
      }
   }
   renderer->ctx0_retired_hook_data = NULL;
   renderer->ctx0_retired_hook = core_ctx0_retired;
   atomic_store_explicit(&forward_state.active, true, memory_order_release);
   vkfd_info("forwarding: the system virglrenderer is initialised (flags 0x%x)",
             forward_state.flags);
}

void
forward_renderer_stop(struct vkfd_renderer *renderer)
{
   if (!forward_is_active())
      return;
   /* joins its threads: no callback of it runs after this */
   FORWARD_SYS_VOID(forward_state.lib, cleanup, &forward_state);
   atomic_store_explicit(&forward_state.active, false, memory_order_release);
}

void
forward_renderer_fini(struct vkfd_renderer *renderer)
{
   /* after the core's cleanup: its fence worker, which feeds the merger, has stopped */
   if (forward_state.lib)
      state_release(renderer);
   forward_state.init_failed = false;
}

/* Its poll fd after a re-init: the epoll set follows it (the VMM keeps one fd). */
static void
poll_fd_replace(int old_fd, int new_fd)
{
   if (forward_state.epoll_fd < 0 || old_fd == new_fd)
      return;
   if (old_fd >= 0)
      epoll_ctl(forward_state.epoll_fd, EPOLL_CTL_DEL, old_fd, NULL); /* may be gone */
   int ret = epoll_add(forward_state.epoll_fd, new_fd);
   if (ret && ret != -EEXIST)
      vkfd_err("forwarding: cannot poll the system virglrenderer's new fd: %s",
               strerror(-ret));
}

void
forward_renderer_reset(struct vkfd_renderer *renderer)
{
   if (!forward_is_active())
      return;
   /*
    * Not virgl_renderer_reset: Debian's 0.10.4 stops its fence thread there and never
    * starts it again, so with THREAD_SYNC | ASYNC_FENCE_CB (QEMU's flags) no GL fence
    * retires after a device reset (measured). A cleanup and an init with the same
    * arguments leave what a reset leaves: no contexts, no resources, no fences.
    */
   const struct forward_library *lib = forward_state.lib;
   FORWARD_SYS_VOID(lib, cleanup, &forward_state);
   forward_fence_merger_drop_all(&forward_state.ctx0);
   forward_table_clear(&forward_state.contexts);
   forward_table_clear(&forward_state.resources);
   int ret;
   FORWARD_SYS(ret, lib, init, &forward_state, forward_state.flags,
               &forward_state.callbacks);
   if (ret) {
      vkfd_warn("forwarding off: the system virglrenderer's init failed after a reset "
                "(%d); only virtkfd's capsets are served",
                ret);
      atomic_store_explicit(&forward_state.active, false, memory_order_release);
      forward_state.init_failed = true;
      state_release(renderer);
      return;
   }
   int old_fd = forward_state.system_poll_fd;
   FORWARD_SYS(forward_state.system_poll_fd, lib, get_poll_fd);
   poll_fd_replace(old_fd, forward_state.system_poll_fd);
}

void
forward_poll_begin(void)
{
   /* without the API lock: its callbacks may call the API */
   if (forward_is_active())
      FORWARD_SYS_VOID(forward_state.lib, poll);
}

void
forward_poll_end(void)
{
   if (forward_is_active() && !forward_state.ctx0.async)
      forward_fence_merger_flush(&forward_state.ctx0);
}

bool
forward_get_poll_fd(int *fd)
{
   if (!forward_lock())
      return false;
   if (forward_state.ctx0.async)
      *fd = -1;
   else if (system_has_gl() && forward_state.system_poll_fd < 0)
      *fd = -1; /* its GL fences are found only by calling poll: the VMM's timer */
   else
      *fd = forward_state.epoll_fd;
   forward_unlock();
   return true;
}

void
forward_force_ctx_0(void)
{
   const struct forward_library *lib = forward_lock();
   if (lib) {
      FORWARD_SYS_VOID(lib, force_ctx_0);
      forward_unlock();
   }
}

/* Capsets with a virtkfd backend are virtkfd's; the system library serves the rest. */
static bool
capset_is_forwarded(uint32_t set)
{
   return !vkfd_backend_find(set);
}

/*
 * Once initialised, the system library still reports the static sizes of capsets
 * whose renderer its flags left off, and then fills nothing: a VMM or vtest client
 * would offer a capset no context can use. Those report 0/0 instead.
 */
static bool
capset_is_usable(uint32_t set)
{
   if (!forward_is_active())
      return !forward_state.init_failed; /* before init: what the library says */
   switch (set) {
   case 1: /* VIRGL */
   case 2: /* VIRGL2 */
      return system_has_gl();
   case 4: /* VENUS */
      return forward_state.flags & VIRGL_RENDERER_VENUS;
   case 6: /* DRM */
      return forward_state.flags & VIRGL_RENDERER_DRM;
   default:
      return true;
   }
}

bool
forward_get_cap_set(uint32_t set, uint32_t *max_ver, uint32_t *max_size)
{
   if (!capset_is_forwarded(set))
      return false;
   /* QEMU asks at device realize, before init: load the library now */
   const struct forward_library *lib = forward_library_get();
   if (!lib)
      return false;
   struct vkfd_renderer *renderer = vkfd_renderer_get();
   pthread_mutex_lock(&renderer->lock);
   uint32_t version = 0, size = 0;
   if (capset_is_usable(set))
      FORWARD_SYS_VOID(lib, get_cap_set, set, &version, &size);
   pthread_mutex_unlock(&renderer->lock);
   if (max_ver)
      *max_ver = version;
   if (max_size)
      *max_size = size;
   return true;
}

bool
forward_fill_caps(uint32_t set, uint32_t version, void *caps)
{
   if (!capset_is_forwarded(set))
      return false;
   const struct forward_library *lib = forward_library_get();
   if (!lib)
      return false;
   struct vkfd_renderer *renderer = vkfd_renderer_get();
   pthread_mutex_lock(&renderer->lock);
   /* like upstream, nothing before init: a renderer fills only once initialised */
   if (!forward_is_active() || !capset_is_usable(set))
      vkfd_warn("fill_caps: capset %u is not available from the system virglrenderer",
                set);
   else if (caps)
      FORWARD_SYS_VOID(lib, fill_caps, set, version, caps);
   pthread_mutex_unlock(&renderer->lock);
   return true;
}

int
forward_create_fence_begin(uint32_t fence_id, uint32_t ctx_id)
{
   if (!forward_is_active())
      return 0;
   int ret = forward_fence_merger_add(&forward_state.ctx0, fence_id);
   if (ret)
      return ret;
   /*
    * The system half first: while virtkfd's half does not exist, nothing can make
    * this fence deliverable, so no callback runs on this thread, inside this call.
    */
   FORWARD_SYS(ret, forward_state.lib, create_fence, (int)fence_id, ctx_id);
   if (ret) {
      /* without its GL renderer it has no fences (EINVAL) and no work to wait for */
      if (system_has_gl())
         vkfd_err("create_fence: fence %u: the system virglrenderer refused it (%d)",
                  fence_id, ret);
      forward_fence_merger_retire_last(&forward_state.ctx0, FORWARD_FENCE_SYSTEM);
   }
   return 0;
}

void
forward_create_fence_end(bool core_created)
{
   /* a fence virtkfd's core could not create does not exist for the VMM */
   if (forward_is_active() && !core_created)
      forward_fence_merger_remove_last(&forward_state.ctx0);
}
