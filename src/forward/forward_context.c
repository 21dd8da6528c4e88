/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Contexts of the system library: created by capset, then routed by context id. The
 * context ids of both halves are one space, as in one virglrenderer.
 */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "core/vkfd_backend.h"
#include "core/vkfd_context.h"
#include "core/vkfd_resource.h"
#include "forward.h"
#include "forward/forward_private.h"
#include "util/vkfd_log.h"

static void *
capset_value(uint32_t capset)
{
   return (void *)(uintptr_t)(capset + 1);
}

bool
forward_context_create(uint32_t ctx_id, uint32_t ctx_flags, uint32_t nlen,
                       const char *name, int *ret)
{
   uint32_t capset = ctx_flags & VIRGL_RENDERER_CONTEXT_FLAG_CAPSET_ID_MASK;
   /* virtkfd's capsets, and flags the core refuses, are the core's */
   if ((ctx_flags & ~VIRGL_RENDERER_CONTEXT_FLAG_CAPSET_ID_MASK) ||
       vkfd_backend_find(capset))
      return false;
   const struct forward_library *lib = forward_lock();
   if (!lib)
      return false;
   struct vkfd_context *core_ctx = vkfd_context_lookup(vkfd_renderer_get(), ctx_id);
   if (ctx_id && core_ctx) {
      vkfd_err("context_create: ctx %u exists with capset %u, not %u", ctx_id,
               core_ctx->capset_id, capset);
      *ret = EINVAL;
   } else {
      FORWARD_SYS(*ret, lib, context_create_with_flags, ctx_id, ctx_flags, nlen, name);
      /* a second create of the same context, which it accepted, keeps its entry */
      if (*ret == 0 &&
          forward_table_insert(&forward_state.contexts, ctx_id, capset_value(capset))) {
         FORWARD_SYS_VOID(lib, context_destroy, ctx_id);
         *ret = ENOMEM;
      }
      if (*ret)
         vkfd_err("context_create: ctx %u: capset %u is not available from the system "
                  "virglrenderer (%d)",
                  ctx_id, capset, *ret);
   }
   forward_unlock();
   return true;
}

bool
forward_context_destroy(uint32_t ctx_id)
{
   const struct forward_library *lib = forward_lock_context(ctx_id);
   if (!lib)
      return false;
   FORWARD_SYS_VOID(lib, context_destroy, ctx_id);
   forward_table_remove(&forward_state.contexts, ctx_id);
   forward_unlock();
   return true;
}

bool
forward_submit_cmd(void *buffer, int ctx_id, int ndw, int *ret)
{
   const struct forward_library *lib = forward_lock_context((uint32_t)ctx_id);
   if (!lib)
      return false;
   FORWARD_SYS(*ret, lib, submit_cmd, buffer, ctx_id, ndw);
   forward_unlock();
   return true;
}

bool
forward_submit_cmd2(void *buffer, int ctx_id, int ndw, uint64_t *in_fence_ids,
                    uint32_t num_in_fences, int *ret)
{
   const struct forward_library *lib = forward_lock_context((uint32_t)ctx_id);
   if (!lib)
      return false;
   if (lib->fn.submit_cmd2) {
      FORWARD_SYS(*ret, lib, submit_cmd2, buffer, ctx_id, ndw, in_fence_ids,
                  num_in_fences);
   } else if ((uintptr_t)buffer & 3) {
      /* 0.x has submit_cmd only; keep submit_cmd2's order of checks */
      vkfd_err("submit_cmd2: ctx %d: buffer %p is not 4-byte aligned", ctx_id, buffer);
      *ret = EFAULT;
   } else {
      if (num_in_fences)
         vkfd_debug("submit_cmd2: ctx %d: the system virglrenderer (0.x) cannot wait "
                    "for %u in-fences",
                    ctx_id, num_in_fences);
      FORWARD_SYS(*ret, lib, submit_cmd, buffer, ctx_id, ndw);
   }
   forward_unlock();
   return true;
}

/*
 * Which renderer a context or resource id belongs to: the system library, virtkfd's
 * core, or neither.
 */
enum owner {
   OWNER_NONE,
   OWNER_CORE,
   OWNER_SYSTEM
};

static enum owner
context_owner(uint32_t ctx_id)
{
   if (forward_has_context(ctx_id))
      return OWNER_SYSTEM;
   return vkfd_context_lookup(vkfd_renderer_get(), ctx_id) ? OWNER_CORE : OWNER_NONE;
}

static enum owner
resource_owner(uint32_t res_id)
{
   if (forward_has_resource(res_id))
      return OWNER_SYSTEM;
   return vkfd_resource_lookup(vkfd_renderer_get(), res_id) ? OWNER_CORE : OWNER_NONE;
}

static const char *
owner_name(enum owner owner)
{
   return owner == OWNER_SYSTEM ? "the system virglrenderer" : "virtkfd";
}

/* Takes the lock; returns the library when the pair is the system's (or mixed). */
static const struct forward_library *
lock_pair(int ctx_id, int res_handle, bool *mixed)
{
   const struct forward_library *lib = forward_lock();
   if (!lib)
      return NULL;
   enum owner ctx = context_owner((uint32_t)ctx_id);
   enum owner res = resource_owner((uint32_t)res_handle);
   *mixed = ctx != OWNER_NONE && res != OWNER_NONE && ctx != res;
   if (*mixed) {
      vkfd_err("ctx %d belongs to %s and res %d to %s: a resource cannot cross between "
               "them",
               ctx_id, owner_name(ctx), res_handle, owner_name(res));
   } else if (ctx != OWNER_SYSTEM && res != OWNER_SYSTEM) {
      forward_unlock();
      return NULL;
   }
   return lib;
}

bool
forward_ctx_attach_resource(int ctx_id, int res_handle)
{
   bool mixed;
   const struct forward_library *lib = lock_pair(ctx_id, res_handle, &mixed);
   if (!lib)
      return false;
   if (!mixed)
      FORWARD_SYS_VOID(lib, ctx_attach_resource, ctx_id, res_handle);
   forward_unlock();
   return true;
}

bool
forward_ctx_detach_resource(int ctx_id, int res_handle)
{
   bool mixed;
   const struct forward_library *lib = lock_pair(ctx_id, res_handle, &mixed);
   if (!lib)
      return false;
   if (!mixed)
      FORWARD_SYS_VOID(lib, ctx_detach_resource, ctx_id, res_handle);
   forward_unlock();
   return true;
}

bool
forward_context_create_fence(uint32_t ctx_id, uint32_t flags, uint32_t ring_idx,
                             uint64_t fence_id, int *ret)
{
   const struct forward_library *lib = forward_lock_context(ctx_id);
   if (!lib)
      return false;
   FORWARD_SYS(*ret, lib, context_create_fence, ctx_id, flags, ring_idx, fence_id);
   forward_unlock();
   return true;
}

bool
forward_context_poll(uint32_t ctx_id)
{
   const struct forward_library *lib = forward_lock_context(ctx_id);
   if (!lib)
      return false;
   forward_unlock();
   /* without the API lock: its callbacks may call the API */
   FORWARD_SYS_VOID(lib, context_poll, ctx_id);
   return true;
}

bool
forward_context_get_poll_fd(uint32_t ctx_id, int *ret)
{
   const struct forward_library *lib = forward_lock_context(ctx_id);
   if (!lib)
      return false;
   FORWARD_SYS(*ret, lib, context_get_poll_fd, ctx_id);
   forward_unlock();
   return true;
}

bool
forward_get_dev_fd(int ctx_id, int *ret)
{
   const struct forward_library *lib = forward_lock_context((uint32_t)ctx_id);
   if (!lib)
      return false;
   if (lib->fn.get_dev_fd)
      FORWARD_SYS(*ret, lib, get_dev_fd, ctx_id);
   else
      *ret = -ENODEV;
   forward_unlock();
   return true;
}

bool
forward_attach_fence(int ctx_id, int fence_fd, int *ret)
{
   const struct forward_library *lib = forward_lock_context((uint32_t)ctx_id);
   if (!lib)
      return false;
   if (lib->fn.attach_fence) {
      FORWARD_SYS(*ret, lib, attach_fence, ctx_id, fence_fd);
   } else {
      /* the caller keeps its fd, as for an unknown context */
      vkfd_err("attach_fence: ctx %d: the system virglrenderer (0.x) cannot attach "
               "fences",
               ctx_id);
      *ret = EINVAL;
   }
   forward_unlock();
   return true;
}

/*
 * Fence ids are the VMM's per-context fence ids; virtkfd's core never has an
 * unsignalled fence to export, so the system library is the owner of any fence that
 * can be exported at all.
 */
bool
forward_export_fence(uint64_t client_fence_id, int *fd, int *ret)
{
   const struct forward_library *lib = forward_lock();
   if (!lib)
      return false;
   int result = -EINVAL;
   int out = -1;
   if (lib->fn.export_fence)
      FORWARD_SYS(result, lib, export_fence, client_fence_id, &out);
   else if (client_fence_id <= UINT32_MAX) {
      forward_call_depth++;
      result = lib->export_fence_v0((uint32_t)client_fence_id, &out);
      forward_call_depth--;
   }
   forward_unlock();
   if (result)
      return false;
   if (fd)
      *fd = out;
   else if (out >= 0)
      close(out);
   *ret = 0;
   return true;
}

bool
forward_export_signalled_fence(int *ret)
{
   const struct forward_library *lib = forward_lock();
   if (!lib)
      return false;
   int fd = -1;
   if (lib->fn.export_signalled_fence)
      FORWARD_SYS(fd, lib, export_signalled_fence);
   forward_unlock();
   if (fd < 0)
      return false;
   *ret = fd;
   return true;
}

bool
forward_get_fence_fd(uint64_t fence_id, int *ret)
{
   const struct forward_library *lib = forward_lock();
   if (!lib)
      return false;
   int fd = -1;
   if (lib->fn.get_fence_fd)
      FORWARD_SYS(fd, lib, get_fence_fd, fence_id);
   forward_unlock();
   if (fd < 0)
      return false;
   *ret = fd;
   return true;
}
