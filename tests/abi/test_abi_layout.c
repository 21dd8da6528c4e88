/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The public header's layouts and constants against the 1.3.0 ABI (virgl-api.md §2,
 * §3, §9). Most checks are compile-time; the run-time part covers the version macros.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "virglrenderer.h"

#define CHECK_SIZE(type, size) _Static_assert(sizeof(type) == (size), #type " size")
#define CHECK_OFFSET(type, member, off) \
   _Static_assert(offsetof(type, member) == (off), #type "." #member " offset")

CHECK_SIZE(struct virgl_renderer_callbacks, 72);
CHECK_OFFSET(struct virgl_renderer_callbacks, write_fence, 8);
CHECK_OFFSET(struct virgl_renderer_callbacks, get_drm_fd, 40);
CHECK_OFFSET(struct virgl_renderer_callbacks, write_context_fence, 48);
CHECK_OFFSET(struct virgl_renderer_callbacks, get_server_fd, 56);
CHECK_OFFSET(struct virgl_renderer_callbacks, get_egl_display, 64);
CHECK_SIZE(struct virgl_renderer_gl_ctx_param, 20);
CHECK_OFFSET(struct virgl_renderer_gl_ctx_param, compat_ctx, 16);
CHECK_SIZE(struct virgl_renderer_resource_create_args, 44);
CHECK_SIZE(struct virgl_renderer_hdr, 12);
CHECK_SIZE(struct virgl_renderer_export_query, 88);
CHECK_OFFSET(struct virgl_renderer_export_query, out_fds, 32);
CHECK_OFFSET(struct virgl_renderer_export_query, out_strides, 48);
CHECK_OFFSET(struct virgl_renderer_export_query, out_offsets, 64);
CHECK_OFFSET(struct virgl_renderer_export_query, out_modifier, 80);
CHECK_SIZE(struct virgl_renderer_supported_structures, 20);
CHECK_SIZE(struct virgl_renderer_resource_info, 40);
CHECK_OFFSET(struct virgl_renderer_resource_info, drm_fourcc, 32);
CHECK_OFFSET(struct virgl_renderer_resource_info, fd, 36);
CHECK_SIZE(struct virgl_renderer_resource_info_ext, 72);
CHECK_OFFSET(struct virgl_renderer_resource_info_ext, base, 4);
CHECK_OFFSET(struct virgl_renderer_resource_info_ext, has_dmabuf_export, 44);
CHECK_OFFSET(struct virgl_renderer_resource_info_ext, planes, 48);
CHECK_OFFSET(struct virgl_renderer_resource_info_ext, modifiers, 56);
CHECK_OFFSET(struct virgl_renderer_resource_info_ext, d3d_tex2d, 64);
CHECK_SIZE(struct virgl_renderer_resource_create_blob_args, 48);
CHECK_OFFSET(struct virgl_renderer_resource_create_blob_args, blob_id, 16);
CHECK_OFFSET(struct virgl_renderer_resource_create_blob_args, size, 24);
CHECK_OFFSET(struct virgl_renderer_resource_create_blob_args, iovecs, 32);
CHECK_OFFSET(struct virgl_renderer_resource_create_blob_args, num_iovs, 40);
CHECK_SIZE(struct virgl_renderer_resource_import_blob_args, 24);
CHECK_OFFSET(struct virgl_renderer_resource_import_blob_args, fd, 12);
CHECK_OFFSET(struct virgl_renderer_resource_import_blob_args, size, 16);

_Static_assert(VIRGL_RENDERER_CALLBACKS_VERSION == 4, "callbacks version");
_Static_assert(VIRGL_RENDERER_ASYNC_FENCE_CB == 0x100, "ASYNC_FENCE_CB");
_Static_assert(VIRGL_RENDERER_DRM == 0x400, "DRM");
_Static_assert(VIRGL_RENDERER_USE_ROCM == 0x4000, "USE_ROCM");
_Static_assert(VIRGL_RENDERER_USE_GUEST_VRAM == 0x4000, "USE_GUEST_VRAM");
_Static_assert(VIRGL_RENDERER_D3D11_SHARE_TEXTURE == 0x1000, "D3D11");
_Static_assert(VIRGL_RENDERER_COMPAT_PROFILE == 0x2000, "COMPAT_PROFILE");
_Static_assert(VIRGL_RENDERER_USE_VIDEO == 0x800, "USE_VIDEO (unstable)");
_Static_assert(VIRGL_RENDERER_CONTEXT_FLAG_CAPSET_ID_MASK == 0xff, "capset mask");
_Static_assert(VIRGL_RENDERER_BLOB_MEM_HOST3D_GUEST == 3, "HOST3D_GUEST");
_Static_assert(VIRGL_RENDERER_BLOB_MEM_GUEST_VRAM == 4, "GUEST_VRAM");
_Static_assert(VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR == 8, "USE_USERPTR");
_Static_assert(VIRGL_RENDERER_BLOB_FLAG_USERPTR_RDONLY == 0x10, "USERPTR_RDONLY");
_Static_assert(VIRGL_RENDERER_MAP_CACHE_WC == 3, "MAP_CACHE_WC");
_Static_assert(VIRGL_RENDERER_BLOB_FD_TYPE_SHM == 3, "FD_TYPE_SHM");
_Static_assert(VIRGL_RENDERER_FENCE_FLAG_MERGEABLE == 1, "MERGEABLE");
_Static_assert(VIRGL_RENDERER_STRUCTURE_TYPE_SUPPORTED_STRUCTURES == 2, "stype");
_Static_assert(VIRGL_RENDERER_RESOURCE_INFO_EXT_VERSION == 0, "info ext version");
_Static_assert(VIRGL_LOG_LEVEL_SILENT == 4, "log levels");
_Static_assert(VIRGL_RES_BIND_SHARED == (1 << 20), "bind flags");

/* QEMU and crosvm gate whole features on these in #if */
#if !VIRGL_CHECK_VERSION(1, 3, 0) || VIRGL_CHECK_VERSION(1, 3, 1)
#error "virgl-version.h must report exactly 1.3.0"
#endif
#if !VIRGL_CHECK_VERSION(1, 1, 2) || !VIRGL_CHECK_VERSION(0, 99, 99)
#error "VIRGL_CHECK_VERSION ordering"
#endif

static void
test_version_macros(void **state)
{
   assert_int_equal(VIRGL_MAJOR_VERSION, 1);
   assert_int_equal(VIRGL_MINOR_VERSION, 3);
   assert_int_equal(VIRGL_MICRO_VERSION, 0);
   assert_true(VIRGL_CHECK_VERSION(1, 2, 9));
   assert_false(VIRGL_CHECK_VERSION(2, 0, 0));
   assert_false(VIRGL_CHECK_VERSION(1, 4, 0));
}

int
main(void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_version_macros),
   };
   return cmocka_run_group_tests_name("abi-layout", tests, NULL, NULL);
}
