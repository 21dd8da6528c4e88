/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The system's own libvirglrenderer.so.1, loaded at run time beside virtkfd. It is
 * found at the path chosen at build time (meson option forward-library), which
 * VIRTKFD_FORWARD_LIBRARY overrides ("none" turns forwarding off). It is loaded once
 * per process, by file: a path that names virtkfd's own library is refused, whatever
 * its name.
 *
 * The library is opened with RTLD_NOW | RTLD_LOCAL and without RTLD_DEEPBIND, which
 * AddressSanitizer refuses: so its own calls to its exported functions (in 0.10.4,
 * virgl_renderer_init's error path calls virgl_renderer_cleanup through the PLT) bind
 * to virtkfd's exports. Every call virtkfd makes into it goes through
 * FORWARD_SYS/FORWARD_SYS_VOID, which mark the thread as inside the library; virtkfd's
 * entry points send such re-entrant calls straight back to the library
 * (forward_reentered()), which is what the library's own binding would have done.
 *
 * Ownership: the library stays loaded until the process exits (GL drivers do not
 * survive being unloaded and reloaded); the entry-point table is read-only once
 * loaded.
 */
#ifndef FORWARD_LIBRARY_H
#define FORWARD_LIBRARY_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "virglrenderer.h"

/*
 * The entry points virtkfd calls: member, symbol, and whether a library without it is
 * refused. The required ones are the 41 functions every library since 0.10 exports;
 * the others arrived in 1.0 to 1.3.
 */
#define FORWARD_ENTRY_POINTS(X)                                                 \
   X(init, virgl_renderer_init, true)                                           \
   X(poll, virgl_renderer_poll, true)                                           \
   X(cleanup, virgl_renderer_cleanup, true)                                     \
   X(reset, virgl_renderer_reset, true)                                         \
   X(get_poll_fd, virgl_renderer_get_poll_fd, true)                             \
   X(force_ctx_0, virgl_renderer_force_ctx_0, true)                             \
   X(get_cap_set, virgl_renderer_get_cap_set, true)                             \
   X(fill_caps, virgl_renderer_fill_caps, true)                                 \
   X(context_create, virgl_renderer_context_create, true)                       \
   X(context_create_with_flags, virgl_renderer_context_create_with_flags, true) \
   X(context_destroy, virgl_renderer_context_destroy, true)                     \
   X(submit_cmd, virgl_renderer_submit_cmd, true)                               \
   X(ctx_attach_resource, virgl_renderer_ctx_attach_resource, true)             \
   X(ctx_detach_resource, virgl_renderer_ctx_detach_resource, true)             \
   X(create_fence, virgl_renderer_create_fence, true)                           \
   X(context_create_fence, virgl_renderer_context_create_fence, true)           \
   X(context_poll, virgl_renderer_context_poll, true)                           \
   X(context_get_poll_fd, virgl_renderer_context_get_poll_fd, true)             \
   X(export_fence, virgl_renderer_export_fence, true)                           \
   X(resource_create, virgl_renderer_resource_create, true)                     \
   X(resource_import_eglimage, virgl_renderer_resource_import_eglimage, true)   \
   X(resource_unref, virgl_renderer_resource_unref, true)                       \
   X(resource_set_priv, virgl_renderer_resource_set_priv, true)                 \
   X(resource_get_priv, virgl_renderer_resource_get_priv, true)                 \
   X(resource_attach_iov, virgl_renderer_resource_attach_iov, true)             \
   X(resource_detach_iov, virgl_renderer_resource_detach_iov, true)             \
   X(resource_get_info, virgl_renderer_resource_get_info, true)                 \
   X(resource_create_blob, virgl_renderer_resource_create_blob, true)           \
   X(resource_import_blob, virgl_renderer_resource_import_blob, true)           \
   X(resource_export_blob, virgl_renderer_resource_export_blob, true)           \
   X(resource_map, virgl_renderer_resource_map, true)                           \
   X(resource_unmap, virgl_renderer_resource_unmap, true)                       \
   X(resource_get_map_info, virgl_renderer_resource_get_map_info, true)         \
   X(execute, virgl_renderer_execute, true)                                     \
   X(get_cursor_data, virgl_renderer_get_cursor_data, true)                     \
   X(get_rect, virgl_renderer_get_rect, true)                                   \
   X(get_fd_for_texture, virgl_renderer_get_fd_for_texture, true)               \
   X(get_fd_for_texture2, virgl_renderer_get_fd_for_texture2, true)             \
   X(transfer_read_iov, virgl_renderer_transfer_read_iov, true)                 \
   X(transfer_write_iov, virgl_renderer_transfer_write_iov, true)               \
   X(set_debug_callback, virgl_set_debug_callback, true)                        \
   X(set_log_callback, virgl_set_log_callback, false)                           \
   X(resource_get_info_ext, virgl_renderer_resource_get_info_ext, false)        \
   X(resource_map_fixed, virgl_renderer_resource_map_fixed, false)              \
   X(submit_cmd2, virgl_renderer_submit_cmd2, false)                            \
   X(export_signalled_fence, virgl_renderer_export_signalled_fence, false)      \
   X(attach_fence, virgl_renderer_attach_fence, false)                          \
   X(get_fence_fd, virgl_renderer_get_fence_fd, false)                          \
   X(get_dev_fd, virgl_renderer_get_dev_fd, false)

/* Typed like virtkfd's own (1.3.0) declarations of the same functions. */
struct forward_entry_points {
#define FORWARD_MEMBER(member, symbol, required) __typeof__(symbol) *member;
   FORWARD_ENTRY_POINTS(FORWARD_MEMBER)
#undef FORWARD_MEMBER
};

/* 0.x layouts that 1.0 changed (the 0.10.4 header). */
struct forward_resource_info_v0 {
   uint32_t handle;
   uint32_t virgl_format;
   uint32_t width;
   uint32_t height;
   uint32_t depth;
   uint32_t flags;
   uint32_t tex_id;
   uint32_t stride;
   int drm_fourcc;
};

struct forward_gl_ctx_param_v0 {
   int version;
   bool shared;
   int major_ver;
   int minor_ver;
};

struct forward_library {
   void *handle;
   char path[PATH_MAX];
   /*
    * 1.0 or later (it has virgl_set_log_callback): resource_info has `fd`,
    * gl_ctx_param has `compat_ctx`, export_fence takes a 64-bit id. Before 1.0 the
    * older layouts above apply.
    */
   bool api_v1;
   struct forward_entry_points fn;
   int (*export_fence_v0)(uint32_t client_fence_id, int *fd);
};

/*
 * The loaded library, or NULL when forwarding is off (turned off, missing, not a
 * virglrenderer, virtkfd itself). The first call decides, with one log line when it
 * is off for a reason other than "none"; later calls return the same answer.
 */
const struct forward_library *forward_library_get(void);

/* The calling thread is inside a call into the system library (re-entry test). */
extern _Thread_local unsigned forward_call_depth;

static inline bool
forward_reentered(void)
{
   return forward_call_depth != 0;
}

#define FORWARD_SYS(out, lib, member, ...)   \
   do {                                      \
      forward_call_depth++;                  \
      (out) = (lib)->fn.member(__VA_ARGS__); \
      forward_call_depth--;                  \
   } while (0)

#define FORWARD_SYS_VOID(lib, member, ...) \
   do {                                    \
      forward_call_depth++;                \
      (lib)->fn.member(__VA_ARGS__);       \
      forward_call_depth--;                \
   } while (0)

/*
 * Callbacks from the system library into the VMM leave the library for their
 * duration, so that the VMM's own calls into virtkfd from a callback are routed
 * normally.
 */
static inline unsigned
forward_library_leave(void)
{
   unsigned depth = forward_call_depth;
   forward_call_depth = 0;
   return depth;
}

static inline void
forward_library_return(unsigned depth)
{
   forward_call_depth = depth;
}

#endif /* FORWARD_LIBRARY_H */
