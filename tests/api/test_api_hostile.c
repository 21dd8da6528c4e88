/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Bad arguments at the API layer (hostile-inputs.md: the vtest blob and resource-id
 * items that reach the library, and the iovec/blob layer). Each test asserts the
 * exact upstream-shaped error, that nothing was created, and that no fd or backend
 * object leaked; other contexts keep working.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_backend.h"
#include "test_common.h"

#define PAGE 4096u
#define CTX  3
#define CTX2 4

static struct test_vmm vmm;
static struct test_guest_ram ram;
static int fds_at_start;

static int
setup(void **state)
{
   test_backend_register();
   fds_at_start = test_count_fds();
   test_vmm_init(&vmm, 3);
   assert_int_equal(virgl_renderer_init(&vmm, VIRGL_RENDERER_ASYNC_FENCE_CB, &vmm.cbs),
                    0);
   assert_int_equal(virgl_renderer_context_create_with_flags(CTX, TEST_CAPSET_ID, 1, "a"),
                    0);
   assert_int_equal(
      virgl_renderer_context_create_with_flags(CTX2, TEST_CAPSET_ID, 1, "b"), 0);
   test_guest_ram_create(&ram, 64 * PAGE);
   return 0;
}

static int
teardown(void **state)
{
   virgl_renderer_cleanup(NULL);
   test_vmm_fini(&vmm);
   test_guest_ram_destroy(&ram);
   assert_int_equal(test_count_fds(), fds_at_start);
   struct test_backend_stats stats = test_backend_stats();
   assert_int_equal(stats.contexts, 0);
   assert_int_equal(stats.objects, 0);
   assert_int_equal(stats.va_backings, 0);
   return 0;
}

static void
assert_no_resource(uint32_t res_id)
{
   struct virgl_renderer_resource_info info;
   assert_int_equal(virgl_renderer_resource_get_info((int)res_id, &info), EINVAL);
}

/* The other context still works after a refused request. */
static void
assert_other_context_healthy(void)
{
   uint32_t cmd = 1;
   assert_int_equal(virgl_renderer_submit_cmd(&cmd, CTX2, 1), 0);
   struct virgl_renderer_resource_create_blob_args args = {
      .res_handle = 999,
      .ctx_id = CTX2,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
      .blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE,
      .blob_id = TEST_BLOB_SHM,
      .size = PAGE,
   };
   assert_int_equal(virgl_renderer_resource_create_blob(&args), 0);
   virgl_renderer_resource_unref(999);
}

static struct virgl_renderer_resource_create_blob_args
guest_blob(uint32_t res_id, struct iovec *iov, uint32_t count, uint64_t size)
{
   struct virgl_renderer_resource_create_blob_args args = {
      .res_handle = res_id,
      .ctx_id = CTX,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_GUEST,
      .size = size,
      .iovecs = iov,
      .num_iovs = count,
   };
   return args;
}

static void
test_init_bad_callbacks(void **state)
{
   virgl_renderer_cleanup(NULL);
   assert_int_equal(virgl_renderer_init(NULL, 0, NULL), -1);
   struct virgl_renderer_callbacks cbs = { .version = 0 };
   assert_int_equal(virgl_renderer_init(NULL, 0, &cbs), -1);
   cbs.version = 5;
   assert_int_equal(virgl_renderer_init(NULL, 0, &cbs), -1);
   cbs.version = -1;
   assert_int_equal(virgl_renderer_init(NULL, 0, &cbs), -1);
   /* an EGL display without the GL callbacks, like upstream */
   cbs.version = 4;
   cbs.get_egl_display = (void *(*)(void *))(uintptr_t)1;
   assert_int_equal(virgl_renderer_init(NULL, 0, &cbs), EINVAL);
   /* nothing is initialised after a refusal */
   assert_int_equal(virgl_renderer_create_fence(1, 0), EINVAL);
   assert_int_equal(
      virgl_renderer_context_create_with_flags(CTX, TEST_CAPSET_ID, 0, NULL), EINVAL);
   /* a real init still works */
   assert_int_equal(virgl_renderer_init(&vmm, 0, &vmm.cbs), 0);
   assert_int_equal(virgl_renderer_init(&vmm, 0, &cbs), -EBUSY);
   assert_int_equal(virgl_renderer_init(NULL, 0, &vmm.cbs), -EBUSY);
}

static void
test_context_create_bad_arguments(void **state)
{
   assert_int_equal(virgl_renderer_context_create_with_flags(0, TEST_CAPSET_ID, 0, NULL),
                    EINVAL);
   assert_int_equal(
      virgl_renderer_context_create_with_flags(9, TEST_CAPSET_ID | 0x100, 0, NULL),
      EINVAL);
   for (uint32_t capset = 0; capset < 0xff; capset++) {
      if (capset != TEST_CAPSET_ID)
         assert_int_equal(virgl_renderer_context_create_with_flags(9, capset, 0, NULL),
                          EINVAL);
   }
   /* the same id with another capset */
   assert_int_equal(virgl_renderer_context_create_with_flags(CTX, 8, 0, NULL), EINVAL);
   /* the legacy GL entry point */
   assert_int_equal(virgl_renderer_context_create(9, 0, NULL), EINVAL);
   /* a backend failure is ENOMEM and leaves nothing */
   test_backend_fail_next_context();
   assert_int_equal(virgl_renderer_context_create_with_flags(9, TEST_CAPSET_ID, 0, NULL),
                    ENOMEM);
   assert_int_equal(test_backend_stats().contexts, 2);
   /* a name with control bytes and no terminator, longer than any buffer */
   char name[300];
   memset(name, 0x01, sizeof(name));
   assert_int_equal(
      virgl_renderer_context_create_with_flags(9, TEST_CAPSET_ID, sizeof(name), name), 0);
   virgl_renderer_context_destroy(9);
   virgl_renderer_context_destroy(9);    /* unknown: ignored */
   virgl_renderer_context_destroy(1234); /* never existed */
   assert_other_context_healthy();
}

static void
test_backend_init_failure_hides_capset(void **state)
{
   virgl_renderer_cleanup(NULL);
   test_backend_fail_next_init();
   assert_int_equal(virgl_renderer_init(&vmm, 0, &vmm.cbs), 0);
   assert_int_equal(
      virgl_renderer_context_create_with_flags(CTX, TEST_CAPSET_ID, 0, NULL), EINVAL);
   uint8_t caps[TEST_CAPSET_SIZE] = { 0 }, zero[TEST_CAPSET_SIZE] = { 0 };
   virgl_renderer_fill_caps(TEST_CAPSET_ID, 1, caps);
   assert_memory_equal(caps, zero, sizeof(caps));
}

static void
test_fill_caps_bad_version(void **state)
{
   uint8_t caps[TEST_CAPSET_SIZE] = { 0 }, zero[TEST_CAPSET_SIZE] = { 0 };
   virgl_renderer_fill_caps(TEST_CAPSET_ID, TEST_CAPSET_VERSION + 1, caps);
   assert_memory_equal(caps, zero, sizeof(caps));
   virgl_renderer_fill_caps(8, 0, caps); /* absent capset */
   assert_memory_equal(caps, zero, sizeof(caps));
   virgl_renderer_fill_caps(TEST_CAPSET_ID, 0, NULL);
   uint32_t v = 5, s = 5;
   virgl_renderer_get_cap_set(UINT32_MAX, &v, &s);
   assert_int_equal(v, 0);
   assert_int_equal(s, 0);
}

static void
test_submit_bad_arguments(void **state)
{
   uint32_t cmd[4] = { 0 };
   assert_int_equal(virgl_renderer_submit_cmd(cmd, 77, 1), EINVAL);
   assert_int_equal(virgl_renderer_submit_cmd(cmd, CTX, -1), EINVAL);
   assert_int_equal(virgl_renderer_submit_cmd(cmd, CTX, INT_MAX), EINVAL);
   assert_int_equal(virgl_renderer_submit_cmd(cmd, CTX, 0x40000000), EINVAL);
   assert_int_equal(virgl_renderer_submit_cmd(NULL, CTX, 4), EINVAL);
   assert_int_equal(virgl_renderer_submit_cmd((uint8_t *)cmd + 1, CTX, 1), EFAULT);
   /* submit_cmd2 checks alignment before the size */
   assert_int_equal(virgl_renderer_submit_cmd2((uint8_t *)cmd + 2, CTX, -1, NULL, 0),
                    EFAULT);
   assert_int_equal(virgl_renderer_submit_cmd2(cmd, CTX, -1, NULL, 0), EINVAL);
   uint64_t in_fences[2] = { 1, 2 };
   assert_int_equal(virgl_renderer_submit_cmd2(cmd, CTX, 1, in_fences, 2), 0);
   /* the backend's own failure comes back negative */
   cmd[0] = TEST_CMD_FAIL;
   assert_int_equal(virgl_renderer_submit_cmd(cmd, CTX, 1), -EINVAL);
   assert_int_equal(virgl_renderer_submit_cmd(cmd, CTX, 0), 0);
   assert_other_context_healthy();
}

static void
test_blob_mem_and_flags_invalid(void **state)
{
   struct iovec iov = { ram.base, PAGE };
   const uint32_t bad_mem[] = { 0, VIRGL_RENDERER_BLOB_MEM_GUEST_VRAM, 5, UINT32_MAX };
   for (size_t i = 0; i < sizeof(bad_mem) / sizeof(bad_mem[0]); i++) {
      struct virgl_renderer_resource_create_blob_args args =
         guest_blob(30, &iov, 1, PAGE);
      args.blob_mem = bad_mem[i];
      assert_int_equal(virgl_renderer_resource_create_blob(&args), -EINVAL);
   }
   const uint32_t bad_flags[] = {
      0x20, 0x80000000u, VIRGL_RENDERER_BLOB_FLAG_USERPTR_RDONLY,
      VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR, /* with GUEST */
   };
   for (size_t i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
      struct virgl_renderer_resource_create_blob_args args =
         guest_blob(30, &iov, 1, PAGE);
      args.blob_flags = bad_flags[i];
      assert_int_equal(virgl_renderer_resource_create_blob(&args), -EINVAL);
   }
   struct virgl_renderer_resource_create_blob_args host = guest_blob(30, NULL, 0, PAGE);
   host.blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D;
   host.blob_id = TEST_BLOB_SHM;
   host.blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR; /* HOST3D has no user pages */
   assert_int_equal(virgl_renderer_resource_create_blob(&host), -EINVAL);
   assert_int_equal(virgl_renderer_resource_create_blob(NULL), -EINVAL);
   assert_no_resource(30);
   assert_other_context_healthy();
}

static void
test_blob_size_invalid(void **state)
{
   struct iovec iov = { ram.base, PAGE };
   struct virgl_renderer_resource_create_blob_args args = guest_blob(31, &iov, 1, 0);
   assert_int_equal(virgl_renderer_resource_create_blob(&args), -EINVAL);
   /* more than the iovecs hold: 2^63, 2^64-1, one byte too many */
   const uint64_t sizes[] = { 1ull << 63, UINT64_MAX, PAGE + 1 };
   for (size_t i = 0; i < 3; i++) {
      args.size = sizes[i];
      assert_int_equal(virgl_renderer_resource_create_blob(&args), -EINVAL);
   }
   /* fewer bytes than the iovecs hold is fine (QEMU rounds entries) */
   args.size = 1;
   assert_int_equal(virgl_renderer_resource_create_blob(&args), 0);
   virgl_renderer_resource_unref(31);
   /* a host blob the backend cannot back: its error, no object left */
   for (size_t i = 0; i < 2; i++) {
      struct virgl_renderer_resource_create_blob_args host =
         guest_blob(32, NULL, 0, sizes[i]);
      host.blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D;
      host.blob_id = TEST_BLOB_SHM;
      assert_int_equal(virgl_renderer_resource_create_blob(&host), -ENOMEM);
      assert_no_resource(32);
   }
   assert_int_equal(test_backend_stats().objects, 0);
}

static void
test_blob_iovecs_invalid(void **state)
{
   struct iovec iov[3] = { { ram.base, PAGE }, { ram.base + PAGE, PAGE } };
   struct virgl_renderer_resource_create_blob_args args = guest_blob(33, iov, 0, PAGE);
   assert_int_equal(virgl_renderer_resource_create_blob(&args), -EINVAL); /* num_iovs 0 */
   args = guest_blob(33, NULL, 2, PAGE);
   assert_int_equal(virgl_renderer_resource_create_blob(&args), -EINVAL); /* no array */

   iov[1].iov_len = 0; /* a zero-length entry */
   args = guest_blob(33, iov, 2, PAGE);
   assert_int_equal(virgl_renderer_resource_create_blob(&args), -EINVAL);
   iov[1].iov_len = PAGE;
   iov[1].iov_base = NULL;
   assert_int_equal(virgl_renderer_resource_create_blob(&args), -EINVAL);

   /* base + len wraps the address space */
   iov[1].iov_base = (void *)(UINTPTR_MAX - PAGE + 1);
   iov[1].iov_len = 2 * PAGE;
   assert_int_equal(virgl_renderer_resource_create_blob(&args), -EINVAL);

   /* the sum of the lengths wraps 64 bits */
   iov[0].iov_base = (void *)(uintptr_t)0x1000;
   iov[0].iov_len = (size_t)1 << 63;
   iov[1].iov_base = (void *)(uintptr_t)0x1000;
   iov[1].iov_len = (size_t)1 << 63;
   iov[2].iov_base = ram.base;
   iov[2].iov_len = PAGE;
   args = guest_blob(33, iov, 3, 3 * PAGE);
   assert_int_equal(virgl_renderer_resource_create_blob(&args), -EINVAL);

   /* HOST3D must not carry iovecs; HOST3D_GUEST must */
   struct iovec good = { ram.base, PAGE };
   args = guest_blob(33, &good, 1, PAGE);
   args.blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D;
   args.blob_id = TEST_BLOB_SHM;
   assert_int_equal(virgl_renderer_resource_create_blob(&args), -EINVAL);
   args = guest_blob(33, NULL, 0, PAGE);
   args.blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D_GUEST;
   args.blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR;
   assert_int_equal(virgl_renderer_resource_create_blob(&args), -EINVAL);
   assert_no_resource(33);

   /* duplicate and overlapping entries are the context's business: accepted here */
   struct iovec dup[2] = { { ram.base, PAGE }, { ram.base, PAGE } };
   args = guest_blob(34, dup, 2, 2 * PAGE);
   assert_int_equal(virgl_renderer_resource_create_blob(&args), 0);
   virgl_renderer_resource_unref(34);
   assert_other_context_healthy();
}

static void
test_blob_ids_and_contexts_invalid(void **state)
{
   struct iovec iov = { ram.base, PAGE };
   struct virgl_renderer_resource_create_blob_args args = guest_blob(0, &iov, 1, PAGE);
   assert_int_equal(virgl_renderer_resource_create_blob(&args), -EINVAL); /* id 0 */
   args.res_handle = 35;
   assert_int_equal(virgl_renderer_resource_create_blob(&args), 0);
   assert_int_equal(virgl_renderer_resource_create_blob(&args), -EINVAL); /* twice */

   struct virgl_renderer_resource_create_blob_args host = guest_blob(36, NULL, 0, PAGE);
   host.blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D;
   host.blob_id = TEST_BLOB_SHM;
   host.ctx_id = 4242; /* no such context */
   assert_int_equal(virgl_renderer_resource_create_blob(&host), -EINVAL);
   host.ctx_id = CTX;
   host.blob_id = 12345; /* a blob id the context never issued */
   assert_int_equal(virgl_renderer_resource_create_blob(&host), -EINVAL);
   assert_no_resource(36);
   assert_int_equal(test_backend_stats().objects, 0);
   virgl_renderer_resource_unref(35);

   /* ids are reusable after unref */
   assert_int_equal(virgl_renderer_resource_create_blob(&args), 0);
   virgl_renderer_resource_unref(35);
}

static void
test_resource_use_after_unref(void **state)
{
   struct virgl_renderer_resource_create_blob_args host = guest_blob(40, NULL, 0, PAGE);
   host.blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D;
   host.blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE;
   host.blob_id = TEST_BLOB_SHM;
   assert_int_equal(virgl_renderer_resource_create_blob(&host), 0);
   void *map;
   assert_int_equal(virgl_renderer_resource_map(40, &map, NULL), 0);
   virgl_renderer_resource_unref(40); /* unref while mapped: the library's map goes too */
   virgl_renderer_resource_unref(40); /* double unref */
   virgl_renderer_resource_unref(0);
   virgl_renderer_resource_unref(UINT32_MAX);

   uint64_t size;
   uint32_t fd_type, map_info;
   int fd = -7;
   struct virgl_renderer_resource_info info;
   assert_int_equal(virgl_renderer_resource_map(40, &map, &size), -EINVAL);
   assert_int_equal(virgl_renderer_resource_map_fixed(40, ram.base), -EINVAL);
   assert_int_equal(virgl_renderer_resource_unmap(40), -EINVAL);
   assert_int_equal(virgl_renderer_resource_get_map_info(40, &map_info), -EINVAL);
   assert_int_equal(virgl_renderer_resource_export_blob(40, &fd_type, &fd), -EINVAL);
   assert_int_equal(fd, -7);
   assert_int_equal(virgl_renderer_resource_get_info(40, &info), EINVAL);
   assert_int_equal(virgl_renderer_resource_get_info_ext(40, NULL), EINVAL);
   assert_int_equal(virgl_renderer_resource_attach_iov(40, NULL, 0), EINVAL);
   assert_null(virgl_renderer_resource_get_priv(40));
   virgl_renderer_resource_set_priv(40, &fd);
   struct iovec *iov = (struct iovec *)&fd;
   int count = -3;
   virgl_renderer_resource_detach_iov(40, &iov, &count); /* outputs untouched */
   assert_ptr_equal(iov, (struct iovec *)&fd);
   assert_int_equal(count, -3);
   virgl_renderer_ctx_attach_resource(CTX, 40);
   virgl_renderer_ctx_detach_resource(CTX, 40);
   struct virgl_renderer_export_query query = {
      .hdr = { VIRGL_RENDERER_STRUCTURE_TYPE_EXPORT_QUERY, 0, sizeof(query) },
      .in_resource_id = 40,
   };
   assert_int_equal(virgl_renderer_execute(&query, sizeof(query)), -EINVAL);
   assert_other_context_healthy();
}

static void
test_map_rules(void **state)
{
   struct virgl_renderer_resource_create_blob_args host = guest_blob(41, NULL, 0, PAGE);
   host.blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D;
   host.blob_id = TEST_BLOB_SHM; /* not MAPPABLE */
   assert_int_equal(virgl_renderer_resource_create_blob(&host), 0);
   void *map;
   assert_int_equal(virgl_renderer_resource_map(41, &map, NULL), -EINVAL);
   assert_int_equal(virgl_renderer_resource_map_fixed(41, ram.base), -EINVAL);

   host.res_handle = 42;
   host.blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE;
   assert_int_equal(virgl_renderer_resource_create_blob(&host), 0);
   assert_int_equal(virgl_renderer_resource_map(42, NULL, NULL), -EINVAL);
   assert_int_equal(virgl_renderer_resource_map(42, &map, NULL), 0);
   assert_int_equal(virgl_renderer_resource_map(42, &map, NULL), -EINVAL); /* twice */
   assert_int_equal(virgl_renderer_resource_unmap(42), 0);
   assert_int_equal(virgl_renderer_resource_unmap(42), -EINVAL);
   assert_int_equal(virgl_renderer_resource_map_fixed(42, NULL), -EINVAL);
   assert_int_equal(virgl_renderer_resource_map_fixed(42, (uint8_t *)ram.base + 1),
                    -EINVAL);
   assert_int_equal(virgl_renderer_resource_map_fixed(4343, ram.base), -EINVAL);

   host.res_handle = 43;
   host.blob_id = TEST_BLOB_OPAQUE;
   assert_int_equal(virgl_renderer_resource_create_blob(&host), 0);
   assert_int_equal(virgl_renderer_resource_map(43, &map, NULL), -EINVAL);
   assert_int_equal(virgl_renderer_resource_map_fixed(43, ram.base), -EOPNOTSUPP);
   uint32_t map_info;
   assert_int_equal(virgl_renderer_resource_get_map_info(43, &map_info), -EINVAL);
   assert_int_equal(virgl_renderer_resource_get_map_info(42, NULL), -EINVAL);
   uint32_t fd_type;
   int fd;
   assert_int_equal(virgl_renderer_resource_export_blob(42, NULL, &fd), -EINVAL);
   assert_int_equal(virgl_renderer_resource_export_blob(42, &fd_type, NULL), -EINVAL);
   assert_int_equal(virgl_renderer_resource_get_info(42, NULL), EINVAL);
   for (uint32_t id = 41; id <= 43; id++)
      virgl_renderer_resource_unref(id);
}

static void
test_attach_iov_rules(void **state)
{
   struct iovec iov = { ram.base, PAGE };
   struct virgl_renderer_resource_create_blob_args args = guest_blob(50, &iov, 1, PAGE);
   assert_int_equal(virgl_renderer_resource_create_blob(&args), 0);
   assert_int_equal(virgl_renderer_resource_attach_iov(50, &iov, 1),
                    EINVAL); /* has some */
   assert_int_equal(virgl_renderer_resource_attach_iov(9999, &iov, 1), EINVAL);
   struct iovec *back;
   int count;
   virgl_renderer_resource_detach_iov(50, &back, &count);
   virgl_renderer_resource_detach_iov(50, NULL, NULL); /* crosvm passes NULLs */
   assert_int_equal(virgl_renderer_resource_attach_iov(50, &iov, -1), EINVAL);
   assert_int_equal(virgl_renderer_resource_attach_iov(50, NULL, 2), EINVAL);
   assert_int_equal(virgl_renderer_resource_attach_iov(50, &iov, 1), 0);
   virgl_renderer_resource_unref(50);
}

static void
test_import_blob_invalid_keeps_fd(void **state)
{
   int fd = memfd_create("import", MFD_CLOEXEC);
   assert_true(fd >= 0);
   struct virgl_renderer_resource_import_blob_args good = {
      .res_handle = 60,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
      .fd_type = VIRGL_RENDERER_BLOB_FD_TYPE_DMABUF,
      .fd = fd,
      .size = PAGE,
   };
   struct virgl_renderer_resource_import_blob_args bad[7];
   for (int i = 0; i < 7; i++)
      bad[i] = good;
   bad[0].res_handle = 0;
   bad[1].blob_mem = VIRGL_RENDERER_BLOB_MEM_GUEST;
   bad[2].fd_type = 0;
   bad[3].fd_type = 4;
   bad[4].fd = -1;
   bad[5].size = 0;
   bad[6].fd = 1000; /* not open */
   for (int i = 0; i < 7; i++) {
      assert_int_equal(virgl_renderer_resource_import_blob(&bad[i]), -EINVAL);
      assert_true(fcntl(fd, F_GETFD) >= 0); /* crosvm closes it itself */
   }
   assert_int_equal(virgl_renderer_resource_import_blob(NULL), -EINVAL);
   assert_int_equal(virgl_renderer_resource_import_blob(&good), 0);
   struct virgl_renderer_resource_info info;
   assert_int_equal(virgl_renderer_resource_get_info(60, &info), 0);
   assert_int_equal(info.fd, fd); /* a dmabuf, borrowed */
   assert_int_equal(virgl_renderer_resource_import_blob(&good), -EINVAL); /* duplicate */
   virgl_renderer_resource_unref(60); /* closes the fd it owns */
   assert_true(fcntl(fd, F_GETFD) < 0);
}

static void
test_fence_bad_arguments(void **state)
{
   assert_int_equal(virgl_renderer_context_create_fence(77, 0, 0, 1), -EINVAL);
   assert_int_equal(virgl_renderer_context_create_fence(CTX, 0, 64, 1), -EINVAL);
   assert_int_equal(virgl_renderer_context_create_fence(CTX, 0, UINT32_MAX, 1), -EINVAL);
   assert_int_equal(virgl_renderer_context_create_fence(CTX, 2, 0, 1), -EINVAL);
   assert_int_equal(virgl_renderer_context_create_fence(CTX, 0, 63, 1), 0);
   assert_int_equal(virgl_renderer_get_dev_fd(77), -EINVAL);
   assert_int_equal(virgl_renderer_context_get_poll_fd(CTX), -1);
   virgl_renderer_context_poll(77);

   int fd = -5;
   assert_int_equal(virgl_renderer_export_fence(1, &fd), -EINVAL);
   assert_int_equal(fd, -1);
   assert_int_equal(virgl_renderer_export_fence(1, NULL), -EINVAL);
   assert_int_equal(virgl_renderer_get_fence_fd(1), -1);
   assert_int_equal(virgl_renderer_export_signalled_fence(), -1);

   int pipefd[2];
   assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
   assert_int_equal(virgl_renderer_attach_fence(77, pipefd[0]), EINVAL);
   assert_true(fcntl(pipefd[0], F_GETFD) >= 0); /* not consumed for an unknown ctx */
   assert_int_equal(virgl_renderer_attach_fence(CTX, pipefd[0]), 0);
   assert_true(fcntl(pipefd[0], F_GETFD) < 0); /* consumed */
   close(pipefd[1]);
}

static void
test_execute_bad_arguments(void **state)
{
   struct virgl_renderer_export_query query = {
      .hdr = { VIRGL_RENDERER_STRUCTURE_TYPE_EXPORT_QUERY, 0, sizeof(query) },
   };
   assert_int_equal(virgl_renderer_execute(NULL, sizeof(query)), -EINVAL);
   assert_int_equal(virgl_renderer_execute(&query, 11), -EINVAL);
   assert_int_equal(virgl_renderer_execute(&query, sizeof(query) - 8), -EINVAL);
   query.hdr.size = 80;
   assert_int_equal(virgl_renderer_execute(&query, sizeof(query)), -EINVAL);
   query.hdr.size = sizeof(query);
   query.hdr.stype_version = 1;
   assert_int_equal(virgl_renderer_execute(&query, sizeof(query)), -EINVAL);
   query.hdr.stype_version = 0;
   query.hdr.stype = 4;
   assert_int_equal(virgl_renderer_execute(&query, sizeof(query)), -EINVAL);

   struct iovec iov = { ram.base, PAGE };
   struct virgl_renderer_resource_create_blob_args args = guest_blob(70, &iov, 1, PAGE);
   assert_int_equal(virgl_renderer_resource_create_blob(&args), 0);
   query.hdr.stype = VIRGL_RENDERER_STRUCTURE_TYPE_EXPORT_QUERY;
   query.in_resource_id = 70;
   query.in_export_fds = 1;
   assert_int_equal(virgl_renderer_execute(&query, sizeof(query)), -EINVAL);
   struct virgl_renderer_supported_structures supported = {
      .hdr = { VIRGL_RENDERER_STRUCTURE_TYPE_SUPPORTED_STRUCTURES, 0, 12 },
   };
   assert_int_equal(virgl_renderer_execute(&supported, sizeof(supported)), -EINVAL);
   virgl_renderer_resource_unref(70);
}

static void
test_gl_entry_points_refuse(void **state)
{
   struct virgl_renderer_resource_create_args create = { .handle = 80, .width = 64 };
   assert_int_equal(virgl_renderer_resource_create(&create, NULL, 0), EINVAL);
   assert_int_equal(virgl_renderer_resource_create(NULL, NULL, 0), EINVAL);
   assert_int_equal(virgl_renderer_resource_import_eglimage(&create, NULL), EINVAL);
   assert_no_resource(80);
   assert_int_equal(virgl_renderer_transfer_read_iov(80, 0, 0, 0, 0, NULL, 0, NULL, 0),
                    EINVAL);
   assert_int_equal(virgl_renderer_transfer_write_iov(80, 0, 0, 0, 0, NULL, 0, NULL, 0),
                    EINVAL);
   uint32_t w = 7, h = 8;
   assert_null(virgl_renderer_get_cursor_data(80, &w, &h));
   assert_int_equal(w, 7);
   assert_int_equal(h, 8);
   int fd = 3, stride, offset;
   assert_int_equal(virgl_renderer_get_fd_for_texture(1, &fd), -1);
   assert_int_equal(virgl_renderer_get_fd_for_texture2(1, &fd, &stride, &offset), -1);
   virgl_renderer_get_rect(80, NULL, 0, 0, 0, 0, 1, 1);
   virgl_renderer_force_ctx_0();
}

static void
test_cross_context_resources(void **state)
{
   /* CTX's blob attached to CTX2: CTX2's destruction leaves it working */
   struct virgl_renderer_resource_create_blob_args host = guest_blob(90, NULL, 0, PAGE);
   host.blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D;
   host.blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE;
   host.blob_id = TEST_BLOB_VA;
   assert_int_equal(virgl_renderer_resource_create_blob(&host), 0);
   virgl_renderer_ctx_attach_resource(CTX2, 90);
   virgl_renderer_ctx_attach_resource(CTX2, 12345); /* unknown resource: ignored */
   virgl_renderer_ctx_attach_resource(4321, 90);    /* unknown context: ignored */
   virgl_renderer_context_destroy(CTX2);
   void *map;
   /* a VA-handle blob the library never mapped: unmap is a no-op success */
   assert_int_equal(virgl_renderer_resource_unmap(90), 0);
   assert_int_equal(virgl_renderer_resource_map(90, &map, NULL), 0);
   assert_int_equal(virgl_renderer_resource_unmap(90), 0);
   assert_int_equal(virgl_renderer_resource_unmap(90), 0);

   /*
    * The owner goes while the VMM maps the blob: its object goes, but the memory stays
    * mapped and unchanged until the VMM's unmap and unref (wire-protocol.md §4.1).
    */
   assert_int_equal(virgl_renderer_resource_map(90, &map, NULL), 0);
   memset(map, 0x5a, PAGE);
   virgl_renderer_context_destroy(CTX);
   assert_int_equal(test_backend_stats().objects, 0);
   assert_int_equal(test_backend_stats().va_backings, 1);
   assert_int_equal(((uint8_t *)map)[PAGE - 1], 0x5a);
   void *again;
   assert_int_equal(virgl_renderer_resource_map(90, &again, NULL), -EINVAL);
   struct virgl_renderer_resource_info info;
   assert_int_equal(virgl_renderer_resource_get_info(90, &info), 0);
   assert_int_equal(virgl_renderer_resource_unmap(90), 0);
   assert_int_equal(test_backend_stats().va_backings, 1);
   virgl_renderer_resource_unref(90);
   assert_int_equal(test_backend_stats().va_backings, 0);
   assert_no_resource(90);
}

static void
test_reset_releases_everything(void **state)
{
   struct virgl_renderer_resource_create_blob_args host = guest_blob(91, NULL, 0, PAGE);
   host.blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D;
   host.blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE;
   host.blob_id = TEST_BLOB_SHM;
   assert_int_equal(virgl_renderer_resource_create_blob(&host), 0);
   void *map;
   assert_int_equal(virgl_renderer_resource_map(91, &map, NULL), 0);
   struct iovec iov = { ram.base, PAGE };
   struct virgl_renderer_resource_create_blob_args args = guest_blob(92, &iov, 1, PAGE);
   assert_int_equal(virgl_renderer_resource_create_blob(&args), 0);
   virgl_renderer_reset();
   assert_no_resource(91);
   assert_no_resource(92);
   assert_int_equal(test_backend_stats().contexts, 0);
   assert_int_equal(test_backend_stats().objects, 0);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
   const struct CMUnitTest tests[] = {
      T(test_init_bad_callbacks),
      T(test_context_create_bad_arguments),
      T(test_backend_init_failure_hides_capset),
      T(test_fill_caps_bad_version),
      T(test_submit_bad_arguments),
      T(test_blob_mem_and_flags_invalid),
      T(test_blob_size_invalid),
      T(test_blob_iovecs_invalid),
      T(test_blob_ids_and_contexts_invalid),
      T(test_resource_use_after_unref),
      T(test_map_rules),
      T(test_attach_iov_rules),
      T(test_import_blob_invalid_keeps_fd),
      T(test_fence_bad_arguments),
      T(test_execute_bad_arguments),
      T(test_gl_entry_points_refuse),
      T(test_cross_context_resources),
      T(test_reset_releases_everything),
   };
#undef T
   return cmocka_run_group_tests_name("api-hostile", tests, NULL, NULL);
}
