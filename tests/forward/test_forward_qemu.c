/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * A QEMU-like VMM on virtkfd's libvirglrenderer.so.1 with forwarding on: the GL
 * capset on llvmpipe through the system virglrenderer beside a ROCm context on the
 * KFD emulator, in one process, in the order QEMU's virtio-gpu-gl device makes the
 * calls (capsets at realize, lazy init, force_ctx_0 before every command, fences on
 * every fenced command, reset and re-init, cleanup).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <cmocka.h>

#include "forward_vmm.h"
#include "hsakmt_guest.h"
#include "virglrenderer.h"

/* QEMU with an EGL display, virglrenderer >= 1.1.2 and rocm=on */
#define QEMU_FLAGS \
   (VIRGL_RENDERER_THREAD_SYNC | VIRGL_RENDERER_ASYNC_FENCE_CB | VIRGL_RENDERER_USE_ROCM)

#define ROCM_CTX   1
#define VIRGL_CTX  2
#define TEXTURE    50
#define CURSOR     51
#define FIRST_ROCM 100 /* the ROCm guest's resource ids */

/* Gallium values the guest's virgl driver sends */
#define PIPE_TEXTURE_2D              2
#define VIRGL_FORMAT_B8G8R8A8_UNORM  1
#define VIRGL_BIND_RENDER_TARGET     (1u << 1)
#define VIRGL_BIND_SAMPLER_VIEW      (1u << 3)
#define VIRTIO_GPU_RESOURCE_FLAG_Y_0 1

#define WIDTH                        64
#define HEIGHT                       64

struct box {
   uint32_t x, y, z, w, h, d;
};

static struct fwd_vmm vmm;
static struct hsakmt_guest guest;
static bool guest_open;

static void
fill_pattern(uint8_t *bytes, size_t size, unsigned seed)
{
   for (size_t i = 0; i < size; i++)
      bytes[i] = (uint8_t)(i * 7 + seed + (i >> 8));
}

/* What QEMU does for RESOURCE_CREATE_2D and ATTACH_BACKING. */
static void
create_texture(uint32_t res_id, uint32_t bind, uint8_t *backing, size_t size,
               struct iovec *iov)
{
   struct virgl_renderer_resource_create_args args = {
      .handle = res_id,
      .target = PIPE_TEXTURE_2D,
      .format = VIRGL_FORMAT_B8G8R8A8_UNORM,
      .bind = bind,
      .width = WIDTH,
      .height = HEIGHT,
      .depth = 1,
      .array_size = 1,
      .flags = VIRTIO_GPU_RESOURCE_FLAG_Y_0,
   };
   virgl_renderer_force_ctx_0();
   assert_int_equal(virgl_renderer_resource_create(&args, NULL, 0), 0);
   iov->iov_base = backing;
   iov->iov_len = size;
   virgl_renderer_force_ctx_0();
   assert_int_equal(virgl_renderer_resource_attach_iov((int)res_id, iov, 1), 0);
   /* the guest's GL context uses it (3D transfers name that context) */
   virgl_renderer_ctx_attach_resource(VIRGL_CTX, (int)res_id);
}

static void
destroy_texture(uint32_t res_id)
{
   struct iovec *iov = NULL;
   int count = 0;
   virgl_renderer_force_ctx_0();
   virgl_renderer_resource_detach_iov((int)res_id, &iov, &count);
   assert_int_equal(count, 1);
   virgl_renderer_resource_unref(res_id);
}

/* TRANSFER_TO_HOST_2D, then TRANSFER_FROM_HOST_3D into the cleared backing. */
static void
texture_round_trip(uint32_t res_id, uint8_t *backing, size_t size, unsigned seed)
{
   struct box box = { 0, 0, 0, WIDTH, HEIGHT, 1 };
   fill_pattern(backing, size, seed);
   virgl_renderer_force_ctx_0();
   assert_int_equal(virgl_renderer_transfer_write_iov(
                       res_id, 0, 0, 0, 0, (struct virgl_box *)&box, 0, NULL, 0),
                    0);
   memset(backing, 0, size);
   virgl_renderer_force_ctx_0();
   assert_int_equal(virgl_renderer_transfer_read_iov(res_id, VIRGL_CTX, 0, WIDTH * 4, 0,
                                                     (struct virgl_box *)&box, 0, NULL,
                                                     0),
                    0);
   uint8_t *expected = malloc(size);
   assert_non_null(expected);
   fill_pattern(expected, size, seed);
   for (size_t i = 0; i < size; i++) {
      if (backing[i] != expected[i])
         fail_msg("texture byte %zu: 0x%02x, wrote 0x%02x", i, backing[i], expected[i]);
   }
   free(expected);
}

static int
setup(void **state)
{
   setenv("VIRTKFD_LOG_LEVEL", "warning", 1);
   fwd_log_capture_start();
   /* without EGL in the test build, the library makes its own GL: EGL surfaceless */
   int flags = QEMU_FLAGS;
   if (!fwd_vmm_has_egl())
      flags |= VIRGL_RENDERER_USE_EGL | VIRGL_RENDERER_USE_SURFACELESS;
   fwd_vmm_init(&vmm, flags, true);
   assert_int_equal(fwd_vmm_renderer_init(&vmm), 0);
   fwd_pin_loaded_libraries();
   assert_int_equal(hsakmt_guest_open(&guest, ROCM_CTX, FIRST_ROCM), 0);
   guest_open = true;
   static const char name[] = "virgl";
   assert_int_equal(
      virgl_renderer_context_create_with_flags(VIRGL_CTX, 2, sizeof(name) - 1, name), 0);
   return 0;
}

static int
teardown(void **state)
{
   virgl_renderer_context_destroy(VIRGL_CTX);
   if (guest_open)
      hsakmt_guest_close(&guest);
   guest_open = false;
   fwd_vmm_renderer_cleanup(&vmm);
   int violations = vmm.violations;
   char violation[sizeof(vmm.violation)];
   memcpy(violation, vmm.violation, sizeof(violation));
   fwd_vmm_fini(&vmm);
   fwd_log_capture_stop();
   if (violations)
      fail_msg("%d callback violations, the first: %s", violations, violation);
   return 0;
}

/* QEMU asks at device realize, before init, and again for GET_CAPSET_INFO. */
static void
test_capsets_before_and_after_init(void **state)
{
   uint32_t before[10][2];
   for (uint32_t set = 0; set < 10; set++)
      virgl_renderer_get_cap_set(set, &before[set][0], &before[set][1]);
   assert_true(before[1][0] >= 1 && before[1][1] > 0);
   assert_true(before[2][0] >= 2 && before[2][1] > before[1][1] / 2);
   assert_int_equal(before[8][0], 1);
   assert_true(before[8][1] > 0);
   assert_int_equal(before[3][1], 0);

   assert_int_equal(setup(state), 0);
   for (uint32_t set = 0; set < 10; set++) {
      uint32_t version, size;
      virgl_renderer_get_cap_set(set, &version, &size);
      if (set == 1 || set == 2 || set == 8) {
         assert_int_equal(version, before[set][0]);
         assert_int_equal(size, before[set][1]);
      }
   }
   /* fill_caps by id: the GL capset from the system library, capset 8 from virtkfd */
   uint8_t *caps = calloc(1, before[2][1]);
   assert_non_null(caps);
   virgl_renderer_fill_caps(2, 2, caps);
   bool written = false;
   for (uint32_t i = 0; i < before[2][1]; i++)
      written |= caps[i] != 0;
   assert_true(written);
   free(caps);
   caps = calloc(1, before[8][1]);
   assert_non_null(caps);
   virgl_renderer_fill_caps(8, 1, caps);
   assert_int_equal(*(uint32_t *)caps != 0 || caps[4] != 0, true);
   free(caps);
   /* async fence callbacks: no fd to poll, from either half */
   assert_int_equal(virgl_renderer_get_poll_fd(), -1);
   assert_int_equal(teardown(state), 0);
}

static void
test_texture_round_trip(void **state)
{
   size_t size = WIDTH * HEIGHT * 4;
   uint8_t *backing = calloc(1, size);
   struct iovec iov;
   create_texture(TEXTURE, VIRGL_BIND_RENDER_TARGET | VIRGL_BIND_SAMPLER_VIEW, backing,
                  size, &iov);
   texture_round_trip(TEXTURE, backing, size, 3);
   texture_round_trip(TEXTURE, backing, size, 200);

   /* SET_SCANOUT: QEMU asks get_info_ext and shows info.tex_id */
   struct virgl_renderer_resource_info_ext ext;
   memset(&ext, 0xa5, sizeof(ext));
   assert_int_equal(virgl_renderer_resource_get_info_ext(TEXTURE, &ext), 0);
   assert_int_equal(ext.base.handle, TEXTURE);
   assert_int_equal(ext.base.width, WIDTH);
   assert_int_equal(ext.base.height, HEIGHT);
   assert_int_not_equal(ext.base.tex_id, 0);
   struct virgl_renderer_resource_info info;
   memset(&info, 0xa5, sizeof(info));
   assert_int_equal(virgl_renderer_resource_get_info(TEXTURE, &info), 0);
   assert_int_equal(info.tex_id, ext.base.tex_id);
   assert_int_equal(info.virgl_format, VIRGL_FORMAT_B8G8R8A8_UNORM);
   assert_int_equal(info.fd, ext.base.fd);

   virgl_renderer_resource_set_priv(TEXTURE, &iov);
   assert_ptr_equal(virgl_renderer_resource_get_priv(TEXTURE), &iov);
   virgl_renderer_ctx_detach_resource(VIRGL_CTX, TEXTURE);
   destroy_texture(TEXTURE);
   assert_int_equal(virgl_renderer_resource_get_info(TEXTURE, &info), EINVAL);
   free(backing);
}

static void
test_cursor(void **state)
{
   size_t size = WIDTH * HEIGHT * 4;
   uint8_t *backing = calloc(1, size);
   struct iovec iov;
   create_texture(CURSOR, VIRGL_BIND_RENDER_TARGET | (1u << 16), backing, size, &iov);
   struct box box = { 0, 0, 0, WIDTH, HEIGHT, 1 };
   fill_pattern(backing, size, 9);
   assert_int_equal(virgl_renderer_transfer_write_iov(
                       CURSOR, 0, 0, 0, 0, (struct virgl_box *)&box, 0, NULL, 0),
                    0);
   uint32_t width = 0, height = 0;
   uint8_t *data = virgl_renderer_get_cursor_data(CURSOR, &width, &height);
   assert_non_null(data);
   assert_int_equal(width, WIDTH);
   assert_int_equal(height, HEIGHT);
   /* vrend returns the rows bottom-up for a Y_0_TOP resource; the bytes are ours */
   size_t row = WIDTH * 4;
   for (size_t y = 0; y < HEIGHT; y++) {
      const uint8_t *got = data + y * row;
      if (memcmp(got, backing + y * row, row) &&
          memcmp(got, backing + (HEIGHT - 1 - y) * row, row))
         fail_msg("cursor row %zu differs", y);
   }
   free(data); /* QEMU frees it */
   destroy_texture(CURSOR);
   free(backing);
}

/* Context-0 fences from both halves: each retires once, in order. */
static void
test_rocm_beside_virgl_fences(void **state)
{
   size_t size = WIDTH * HEIGHT * 4;
   uint8_t *backing = calloc(1, size);
   struct iovec iov;
   create_texture(TEXTURE, VIRGL_BIND_RENDER_TARGET | VIRGL_BIND_SAMPLER_VIEW, backing,
                  size, &iov);
   struct box box = { 0, 0, 0, WIDTH, HEIGHT, 1 };
   const uint32_t fences = 40;
   for (uint32_t i = 1; i <= fences; i++) {
      if (i % 2) {
         /* a ROCm command, fenced on the global timeline */
         uint32_t args[3] = { 0 };
         struct hsakmt_query_info_rsp *rsp =
            hsakmt_guest_query(&guest, HSAKMT_QUERY_GET_SYS_PROP, args, sizeof(args), 0);
         assert_non_null(rsp);
         assert_int_equal(rsp->hdr.ret, 0);
      } else {
         fill_pattern(backing, size, i);
         virgl_renderer_force_ctx_0();
         assert_int_equal(virgl_renderer_transfer_write_iov(
                             TEXTURE, 0, 0, 0, 0, (struct virgl_box *)&box, 0, NULL, 0),
                          0);
      }
      assert_int_equal(fwd_vmm_create_fence(&vmm, 1000 + i), 0);
   }
   assert_true(fwd_vmm_wait_ctx0(&vmm, fences, 10000));
   /* nothing more arrives later */
   for (int i = 0; i < 5; i++)
      fwd_vmm_poll(&vmm);
   assert_int_equal(vmm.ctx0_count, fences);
   for (uint32_t i = 0; i < fences; i++)
      assert_int_equal(vmm.ctx0[i], 1000 + i + 1);
   destroy_texture(TEXTURE);
   free(backing);
}

/* One id space: an id live in either half is refused for a new object. */
static void
test_id_collisions_refused(void **state)
{
   size_t size = WIDTH * HEIGHT * 4;
   uint8_t *backing = calloc(1, size);
   struct iovec iov;
   create_texture(TEXTURE, VIRGL_BIND_RENDER_TARGET, backing, size, &iov);

   /* the ROCm guest's shmem blob (FIRST_ROCM) as a GL resource */
   struct virgl_renderer_resource_create_args args = {
      .handle = FIRST_ROCM,
      .target = PIPE_TEXTURE_2D,
      .format = 1,
      .width = 4,
      .height = 4,
      .depth = 1,
      .array_size = 1,
   };
   assert_int_equal(virgl_renderer_resource_create(&args, NULL, 0), -EINVAL);
   /* the GL texture's id as a blob of the ROCm context */
   static uint8_t page[4096] __attribute__((aligned(4096)));
   struct iovec page_iov = { page, sizeof(page) };
   struct virgl_renderer_resource_create_blob_args blob = {
      .res_handle = TEXTURE,
      .ctx_id = ROCM_CTX,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_GUEST,
      .size = sizeof(page),
      .iovecs = &page_iov,
      .num_iovs = 1,
   };
   assert_int_equal(virgl_renderer_resource_create_blob(&blob), -EINVAL);
   assert_true(fwd_log_count("res 50 is a resource of the system virglrenderer") >= 1);
   /* context ids: each context keeps its capset */
   assert_int_equal(virgl_renderer_context_create_with_flags(ROCM_CTX, 2, 0, NULL),
                    EINVAL);
   assert_int_equal(virgl_renderer_context_create_with_flags(VIRGL_CTX, 8, 0, NULL),
                    EINVAL);
   assert_int_equal(virgl_renderer_context_create_with_flags(VIRGL_CTX, 2, 0, NULL), 0);

   /* both halves still work, and a freed id can be taken by the other half */
   texture_round_trip(TEXTURE, backing, size, 77);
   destroy_texture(TEXTURE);
   assert_int_equal(virgl_renderer_resource_create_blob(&blob), 0);
   struct virgl_renderer_resource_info info;
   assert_int_equal(virgl_renderer_resource_get_info(TEXTURE, &info), 0);
   assert_int_equal(info.fd, -1);
   virgl_renderer_resource_unref(TEXTURE);
   uint32_t query[3] = { 0 };
   struct hsakmt_query_info_rsp *rsp =
      hsakmt_guest_query(&guest, HSAKMT_QUERY_GET_SYS_PROP, query, sizeof(query), 0);
   assert_non_null(rsp);
   assert_int_equal(rsp->hdr.ret, 0);
   free(backing);
}

/* A resource of one half cannot be attached to a context of the other. */
static void
test_cross_half_attach_refused(void **state)
{
   size_t size = WIDTH * HEIGHT * 4;
   uint8_t *backing = calloc(1, size);
   struct iovec iov;
   create_texture(TEXTURE, VIRGL_BIND_RENDER_TARGET, backing, size, &iov);
   int before = fwd_log_count("cannot cross");
   virgl_renderer_ctx_attach_resource(VIRGL_CTX, FIRST_ROCM);
   virgl_renderer_ctx_attach_resource(ROCM_CTX, TEXTURE);
   virgl_renderer_ctx_detach_resource(ROCM_CTX, TEXTURE);
   assert_int_equal(fwd_log_count("cannot cross"), before + 3);
   /* unknown ids are ignored, as upstream does */
   virgl_renderer_ctx_attach_resource(VIRGL_CTX, 4321);
   virgl_renderer_ctx_attach_resource(4321, TEXTURE);
   assert_int_equal(fwd_log_count("cannot cross"), before + 3);
   texture_round_trip(TEXTURE, backing, size, 5);
   destroy_texture(TEXTURE);
   free(backing);
}

/* Device reset: reset, then init again with the same triple (QEMU's order). */
static void
test_reset_and_reinit(void **state)
{
   size_t size = WIDTH * HEIGHT * 4;
   uint8_t *backing = calloc(1, size);
   struct iovec iov;
   create_texture(TEXTURE, VIRGL_BIND_RENDER_TARGET, backing, size, &iov);
   assert_int_equal(fwd_vmm_create_fence(&vmm, 7), 0);
   virgl_renderer_reset();
   assert_int_equal(fwd_vmm_renderer_init(&vmm), 0);
   /* both halves dropped everything: contexts and resources of both are gone */
   struct virgl_renderer_resource_info info;
   assert_int_equal(virgl_renderer_resource_get_info(TEXTURE, &info), EINVAL);
   assert_int_equal(virgl_renderer_resource_get_info(FIRST_ROCM, &info), EINVAL);
   guest_open = false;
   /* and both work again, with the same ids */
   assert_int_equal(virgl_renderer_context_create_with_flags(VIRGL_CTX, 2, 0, NULL), 0);
   assert_int_equal(hsakmt_guest_open(&guest, ROCM_CTX, FIRST_ROCM), 0);
   guest_open = true;
   create_texture(TEXTURE, VIRGL_BIND_RENDER_TARGET, backing, size, &iov);
   texture_round_trip(TEXTURE, backing, size, 11);
   /* fence 7 may have retired before the reset; after it, nothing of it arrives */
   fwd_vmm_poll(&vmm);
   size_t seen = vmm.ctx0_count;
   assert_int_equal(fwd_vmm_create_fence(&vmm, 8), 0);
   assert_true(fwd_vmm_wait_ctx0(&vmm, seen + 1, 10000));
   for (int i = 0; i < 5; i++)
      fwd_vmm_poll(&vmm);
   assert_int_equal(vmm.ctx0_count, seen + 1);
   assert_int_equal(vmm.ctx0[seen], 8);
   destroy_texture(TEXTURE);
   free(backing);
}

/* Cleanup and a fresh init in the same process (device unrealize and realize). */
static void
test_cleanup_and_reinit(void **state)
{
   hsakmt_guest_close(&guest);
   guest_open = false;
   fwd_vmm_renderer_cleanup(&vmm);
   for (int round = 0; round < 2; round++) {
      uint32_t version, size;
      virgl_renderer_get_cap_set(2, &version, &size);
      assert_true(size > 0);
      assert_int_equal(fwd_vmm_renderer_init(&vmm), 0);
      assert_int_equal(virgl_renderer_context_create_with_flags(VIRGL_CTX, 2, 0, NULL),
                       0);
      assert_int_equal(hsakmt_guest_open(&guest, ROCM_CTX, FIRST_ROCM), 0);
      guest_open = true;
      size_t bytes = WIDTH * HEIGHT * 4;
      uint8_t *backing = calloc(1, bytes);
      struct iovec iov;
      create_texture(TEXTURE, VIRGL_BIND_RENDER_TARGET, backing, bytes, &iov);
      texture_round_trip(TEXTURE, backing, bytes, 30 + round);
      destroy_texture(TEXTURE);
      free(backing);
      if (round == 0) {
         hsakmt_guest_close(&guest);
         guest_open = false;
         virgl_renderer_context_destroy(VIRGL_CTX);
         fwd_vmm_renderer_cleanup(&vmm);
      }
   }
}

/*
 * The system library's own messages reach the VMM's log callback through virtkfd's
 * log: 0.x has no levels (its debug callback), so they arrive as warnings, which is
 * how upstream shows them (stderr). Debian's 0.10.4 reports its GL version at init,
 * which setup() did while the capture ran.
 */
static void
test_system_log_reaches_callback(void **state)
{
   int messages = fwd_log_count("virglrenderer: ");
   assert_true(messages >= 1);
   assert_int_equal(fwd_log_count("2: virglrenderer: "), messages);
   /* and nothing arrives once the level filters it */
   setenv("VIRTKFD_LOG_LEVEL", "error", 1);
   virgl_renderer_context_destroy(VIRGL_CTX);
   fwd_vmm_renderer_cleanup(&vmm);
   assert_int_equal(fwd_vmm_renderer_init(&vmm), 0);
   assert_int_equal(fwd_log_count("virglrenderer: "), messages);
   assert_int_equal(virgl_renderer_context_create_with_flags(VIRGL_CTX, 2, 0, NULL), 0);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_capsets_before_and_after_init),
      T(test_texture_round_trip),
      T(test_cursor),
      T(test_rocm_beside_virgl_fences),
      T(test_id_collisions_refused),
      T(test_cross_half_attach_refused),
      T(test_reset_and_reinit),
      T(test_cleanup_and_reinit),
      T(test_system_log_reaches_callback),
   };
#undef T
   if (!fwd_vmm_has_egl())
      printf("forward-qemu: built without EGL: the VMM gives no GL callbacks\n");
   if (!fwd_system_library_usable())
      return 77;
   return cmocka_run_group_tests_name("forward-qemu", tests, NULL, NULL);
}
