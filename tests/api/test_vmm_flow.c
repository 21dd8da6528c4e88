/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Drives the public API the way QEMU does (virgl-api.md §7.2, §8.1), against the
 * test backend: realize-time capset query, init with THREAD_SYNC | ASYNC_FENCE_CB |
 * DRM, context creation by flags, blobs from memfd-backed guest RAM split into
 * iovecs, get_info, map_fixed/map, fences, unref, reset, re-init and cleanup. A
 * second flow is QEMU without an EGL display: polled, synchronous callbacks.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_backend.h"
#include "test_common.h"

#define RAM_SIZE (16u << 20)
#define PAGE     4096u
#define CTX      1
#define NAME     "qemu-guest-ctx"

static int fds_at_start;

static int
setup(void **state)
{
   test_backend_register();
   fds_at_start = test_count_fds();
   return 0;
}

static int
teardown(void **state)
{
   virgl_renderer_cleanup(NULL);
   assert_int_equal(test_count_fds(), fds_at_start);
   struct test_backend_stats stats = test_backend_stats();
   assert_int_equal(stats.contexts, 0);
   assert_int_equal(stats.objects, 0);
   assert_int_equal(stats.va_backings, 0);
   assert_int_equal(stats.guest_blobs, 0);
   return 0;
}

static int log_messages;

static void
vmm_log(enum virgl_log_level_flags level, const char *message, void *data)
{
   assert_true(level < VIRGL_LOG_LEVEL_SILENT);
   assert_non_null(message);
   (*(int *)data)++;
}

static void
vmm_log_free(void *data)
{
   *(int *)data = -1000;
}

static void
qemu_guest_blob_flow(void)
{
   struct test_guest_ram ram;
   test_guest_ram_create(&ram, RAM_SIZE);
   memset(ram.base, 0x5a, 8 * PAGE);

   /* QEMU: one iovec per guest-contiguous and host-contiguous chunk, never merged */
   struct iovec *iov = test_guest_ram_iovecs(&ram, 0, 2 * PAGE, 4);
   struct virgl_renderer_resource_create_blob_args args = {
      .res_handle = 10,
      .ctx_id = CTX,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_GUEST,
      .blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_SHAREABLE,
      .size = 8 * PAGE,
      .iovecs = iov,
      .num_iovs = 4,
   };
   assert_int_equal(virgl_renderer_resource_create_blob(&args), 0);

   /* QEMU calls get_info after every create_blob with an uninitialised struct */
   struct virgl_renderer_resource_info info;
   memset(&info, 0xff, sizeof(info));
   assert_int_equal(virgl_renderer_resource_get_info(10, &info), 0);
   assert_int_equal(info.handle, 10);
   assert_int_equal(info.fd, -1);
   assert_int_equal(info.width, 0);

   uint32_t map_info = 0;
   assert_int_equal(virgl_renderer_resource_get_map_info(10, &map_info), 0);
   assert_int_equal(map_info, VIRGL_RENDERER_MAP_CACHE_CACHED);
   void *map;
   assert_int_equal(virgl_renderer_resource_map(10, &map, NULL), -EINVAL);
   assert_int_equal(virgl_renderer_resource_map_fixed(10, ram.base), -EOPNOTSUPP);

   /* QEMU's unref order: detach_iov, free the iovecs, unref */
   struct iovec *back = NULL;
   int count = 0;
   virgl_renderer_resource_detach_iov(10, &back, &count);
   assert_ptr_equal(back, iov);
   assert_int_equal(count, 4);
   free(back);
   virgl_renderer_resource_unref(10);
   assert_int_equal(virgl_renderer_resource_get_info(10, &info), EINVAL);
   test_guest_ram_destroy(&ram);
}

static void
qemu_host_blob_flow(void)
{
   /* a host SHM blob: map_fixed into the hostmem window, then "unmap" like QEMU */
   struct virgl_renderer_resource_create_blob_args args = {
      .res_handle = 11,
      .ctx_id = CTX,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
      .blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE,
      .blob_id = TEST_BLOB_SHM,
      .size = 4 * PAGE,
   };
   assert_int_equal(virgl_renderer_resource_create_blob(&args), 0);
   struct virgl_renderer_resource_info info;
   assert_int_equal(virgl_renderer_resource_get_info(11, &info), 0);

   uint8_t *hostmem =
      mmap(NULL, 16 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
   assert_true(hostmem != MAP_FAILED);
   assert_int_equal(virgl_renderer_resource_map_fixed(11, hostmem + 4 * PAGE), 0);
   memcpy(hostmem + 4 * PAGE, "guest-visible", 14);

   void *map = NULL;
   uint64_t size = 0;
   assert_int_equal(virgl_renderer_resource_map(11, &map, &size), 0);
   assert_int_equal(size, 4 * PAGE);
   assert_memory_equal(map, "guest-visible", 14);
   uint32_t map_info;
   assert_int_equal(virgl_renderer_resource_get_map_info(11, &map_info), 0);
   assert_int_equal(map_info, VIRGL_RENDERER_MAP_CACHE_CACHED);
   assert_int_equal(virgl_renderer_resource_unmap(11), 0);
   munmap(hostmem, 16 * PAGE);

   /* a VA blob: map_fixed must answer exactly -EOPNOTSUPP so QEMU falls back */
   args.res_handle = 12;
   args.blob_id = TEST_BLOB_VA;
   assert_int_equal(virgl_renderer_resource_create_blob(&args), 0);
   assert_int_equal(virgl_renderer_resource_map_fixed(12, (void *)0x10000), -EOPNOTSUPP);
   assert_int_equal(virgl_renderer_resource_map(12, &map, &size), 0);
   memset(map, 1, 4 * PAGE);
   assert_int_equal(virgl_renderer_resource_get_map_info(12, &map_info), 0);
   assert_int_equal(map_info, VIRGL_RENDERER_MAP_CACHE_WC);
   assert_int_equal(virgl_renderer_resource_unmap(12), 0);

   /* crosvm: export after create, EXPORT_QUERY */
   uint32_t fd_type = 0;
   int fd = -1;
   assert_int_equal(virgl_renderer_resource_export_blob(11, &fd_type, &fd), 0);
   assert_int_equal(fd_type, VIRGL_RENDERER_BLOB_FD_TYPE_SHM);
   assert_true(fd >= 0);
   close(fd);
   assert_int_equal(virgl_renderer_resource_export_blob(12, &fd_type, &fd), -EINVAL);
   struct virgl_renderer_export_query query = {
      .hdr = { VIRGL_RENDERER_STRUCTURE_TYPE_EXPORT_QUERY, 0, sizeof(query) },
      .in_resource_id = 11,
   };
   assert_int_equal(virgl_renderer_execute(&query, sizeof(query)), 0);
   assert_int_equal(query.out_num_fds, 1);
   assert_int_equal(query.out_fds[0], -1);
   assert_true(query.out_modifier == 0x00ffffffffffffffull);

   virgl_renderer_resource_unref(11);
   virgl_renderer_resource_unref(12);
}

static void
qemu_userptr_blob_flow(void)
{
   struct test_guest_ram ram;
   test_guest_ram_create(&ram, RAM_SIZE);
   struct iovec *iov = test_guest_ram_iovecs(&ram, 0, PAGE, 16);
   struct virgl_renderer_resource_create_blob_args args = {
      .res_handle = 13,
      .ctx_id = CTX,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D_GUEST,
      .blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR,
      .blob_id = 77,
      .size = 16 * PAGE,
      .iovecs = iov,
      .num_iovs = 16,
   };
   assert_int_equal(virgl_renderer_resource_create_blob(&args), 0);
   assert_int_equal(test_backend_stats().guest_blobs, 1);

   /* DETACH_BACKING: the context must stop using the pages before QEMU unmaps them */
   int releases = test_backend_stats().iovec_releases;
   struct iovec *back;
   int count;
   virgl_renderer_resource_detach_iov(13, &back, &count);
   assert_int_equal(test_backend_stats().iovec_releases, releases + 1);
   assert_int_equal(test_backend_stats().guest_blobs, 0);
   free(back);
   virgl_renderer_resource_unref(13);
   test_guest_ram_destroy(&ram);
}

static void
test_qemu_async_flow(void **state)
{
   /* realize: before init */
   uint32_t max_ver = 9, max_size = 9;
   virgl_renderer_get_cap_set(TEST_CAPSET_ID, &max_ver, &max_size);
   assert_int_equal(max_ver, TEST_CAPSET_VERSION);
   assert_int_equal(max_size, TEST_CAPSET_SIZE);
   virgl_renderer_get_cap_set(1, &max_ver, &max_size);
   assert_int_equal(max_ver, 0);
   assert_int_equal(max_size, 0);
   virgl_renderer_get_cap_set(2, &max_ver, &max_size);
   assert_int_equal(max_ver, 0);

   log_messages = 0;
   virgl_set_log_callback(vmm_log, &log_messages, vmm_log_free);

   struct test_vmm vmm;
   test_vmm_init(&vmm, 4);
   int flags = VIRGL_RENDERER_THREAD_SYNC | VIRGL_RENDERER_ASYNC_FENCE_CB |
               VIRGL_RENDERER_DRM | VIRGL_RENDERER_NO_VIRGL;
   assert_int_equal(virgl_renderer_init(&vmm, flags, &vmm.cbs), 0);
   assert_int_equal(virgl_renderer_get_poll_fd(), -1);

   uint8_t caps[TEST_CAPSET_SIZE] = { 0 }, expected[TEST_CAPSET_SIZE];
   test_backend_expected_caps(expected);
   virgl_renderer_fill_caps(TEST_CAPSET_ID, TEST_CAPSET_VERSION, caps);
   assert_memory_equal(caps, expected, sizeof(caps));

   virgl_renderer_force_ctx_0();
   /* QEMU passes the guest's debug name: not terminated */
   assert_int_equal(
      virgl_renderer_context_create_with_flags(CTX, TEST_CAPSET_ID, strlen(NAME), NAME),
      0);
   assert_int_equal(
      virgl_renderer_context_create_with_flags(CTX, TEST_CAPSET_ID, 0, NULL), 0);

   qemu_guest_blob_flow();
   qemu_host_blob_flow();
   qemu_userptr_blob_flow();

   /* a ring-0 execbuffer and its fence, then a context-0 fence */
   uint32_t cmd[4] = { 1, 2, 3, 4 };
   assert_int_equal(virgl_renderer_submit_cmd(cmd, CTX, 4), 0);
   vmm.inside_create = true;
   assert_int_equal(virgl_renderer_context_create_fence(
                       CTX, VIRGL_RENDERER_FENCE_FLAG_MERGEABLE, 0, 1000),
                    0);
   assert_int_equal(virgl_renderer_create_fence(1001, 0), 0);
   vmm.inside_create = false;
   assert_int_equal(test_vmm_wait(&vmm, 2, 5000), 2);
   assert_false(vmm.callback_inside_create);
   for (int i = 0; i < 2; i++) {
      assert_true(vmm.records[i].other_thread);
      if (vmm.records[i].ctx_id)
         assert_int_equal(vmm.records[i].id, 1000);
      else
         assert_int_equal(vmm.records[i].id, 1001);
   }

   /* device reset, then QEMU re-initialises with the same triple */
   virgl_renderer_reset();
   assert_int_equal(test_backend_stats().contexts, 0);
   assert_int_equal(virgl_renderer_init(&vmm, flags, &vmm.cbs), 0);
   assert_int_equal(virgl_renderer_init(&vmm, flags | 1, &vmm.cbs), -EBUSY);
   assert_int_equal(
      virgl_renderer_context_create_with_flags(CTX, TEST_CAPSET_ID, 4, "next"), 0);
   virgl_renderer_cleanup(NULL);
   int delivered = test_vmm_count(&vmm);
   usleep(20000);
   assert_int_equal(test_vmm_count(&vmm), delivered); /* nothing after cleanup */
   test_vmm_fini(&vmm);

   virgl_set_log_callback(NULL, NULL, NULL);
   assert_int_equal(log_messages, -1000); /* the VMM's data was released */
}

/* What the VMM's log callback last received. */
static struct {
   int count;
   enum virgl_log_level_flags level;
   char message[256];
} log_seen;

static void
vmm_log_record(enum virgl_log_level_flags level, const char *message, void *data)
{
   log_seen.count++;
   log_seen.level = level;
   snprintf(log_seen.message, sizeof(log_seen.message), "%s", message);
}

/* An error in a VMM's call: what VIRTKFD_LOG_LEVEL lets through reaches the callback. */
static int
log_one_error(const char *level)
{
   setenv("VIRTKFD_LOG_LEVEL", level, 1);
   struct test_vmm vmm;
   test_vmm_init(&vmm, 4);
   assert_int_equal(virgl_renderer_init(&vmm, VIRGL_RENDERER_USE_ROCM, &vmm.cbs), 0);
   int before = log_seen.count;
   /* a capset nobody offers: an error the library logs */
   assert_int_not_equal(virgl_renderer_context_create_with_flags(CTX, 99, 0, "x"), 0);
   virgl_renderer_cleanup(NULL);
   test_vmm_fini(&vmm);
   return log_seen.count - before;
}

static void
test_log_callback_and_level(void **state)
{
   const char *saved = getenv("VIRTKFD_LOG_LEVEL");
   char *restore = saved ? strdup(saved) : NULL;
   virgl_set_log_callback(vmm_log_record, NULL, NULL);

   assert_true(log_one_error("error") >= 1);
   assert_int_equal(log_seen.level, VIRGL_LOG_LEVEL_ERROR);
   assert_non_null(strstr(log_seen.message, "capset 99 is not available"));
   /* silent: the same error reaches nobody */
   assert_int_equal(log_one_error("silent"), 0);
   /* debug: more than the error alone (init, context and cleanup lines) */
   int at_error = log_one_error("error"), at_debug = log_one_error("debug");
   assert_true(at_debug > at_error);

   virgl_set_log_callback(NULL, NULL, NULL);
   if (restore)
      setenv("VIRTKFD_LOG_LEVEL", restore, 1);
   else
      unsetenv("VIRTKFD_LOG_LEVEL");
   free(restore);
}

static void
test_qemu_polled_flow(void **state)
{
   /* QEMU without an EGL display: callbacks v3, fences only from virgl_renderer_poll */
   struct test_vmm vmm;
   test_vmm_init(&vmm, 3);
   assert_int_equal(virgl_renderer_init(&vmm, VIRGL_RENDERER_USE_ROCM, &vmm.cbs), 0);
   int poll_fd = virgl_renderer_get_poll_fd();
   assert_true(poll_fd >= 0);
   assert_int_equal(virgl_renderer_context_create_with_flags(CTX, TEST_CAPSET_ID, 0, ""),
                    0);

   uint32_t cmd[2] = { 7, 8 };
   for (uint32_t id = 1; id <= 3; id++) {
      assert_int_equal(virgl_renderer_submit_cmd(cmd, CTX, 2), 0);
      assert_int_equal(virgl_renderer_create_fence((int)id, 0), 0);
   }
   assert_int_equal(test_vmm_count(&vmm), 0);
   struct pollfd pfd = { .fd = poll_fd, .events = POLLIN };
   assert_int_equal(poll(&pfd, 1, 0), 1);

   virgl_renderer_poll();
   assert_int_equal(test_vmm_count(&vmm), 3);
   for (int i = 0; i < 3; i++) {
      assert_int_equal(vmm.records[i].id, (uint64_t)i + 1);
      assert_false(vmm.records[i].other_thread);
   }
   assert_int_equal(poll(&pfd, 1, 0), 0);

   virgl_renderer_context_destroy(CTX);
   virgl_renderer_cleanup(NULL);
   test_vmm_fini(&vmm);
}

static void
test_crosvm_flow(void **state)
{
   /* crosvm: callbacks v3 with NULL GL hooks, import_blob, EXPORT_QUERY */
   struct test_vmm vmm;
   test_vmm_init(&vmm, 3);
   int flags = VIRGL_RENDERER_THREAD_SYNC | VIRGL_RENDERER_ASYNC_FENCE_CB |
               VIRGL_RENDERER_USE_EXTERNAL_BLOB | VIRGL_RENDERER_NO_VIRGL;
   assert_int_equal(virgl_renderer_init(&vmm, flags, &vmm.cbs), 0);
   assert_int_equal(
      virgl_renderer_context_create_with_flags(CTX, TEST_CAPSET_ID, 6, "crosvm"), 0);

   int fd = memfd_create("import", MFD_CLOEXEC);
   assert_true(fd >= 0);
   assert_int_equal(ftruncate(fd, PAGE), 0);
   struct virgl_renderer_resource_import_blob_args import = {
      .res_handle = 20,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
      .fd_type = VIRGL_RENDERER_BLOB_FD_TYPE_SHM,
      .fd = fd,
      .size = PAGE,
   };
   assert_int_equal(virgl_renderer_resource_import_blob(&import), 0);
   virgl_renderer_ctx_attach_resource(CTX, 20);
   virgl_renderer_ctx_attach_resource(CTX, 20); /* twice is a no-op */
   assert_int_equal(test_backend_stats().attaches, 1);
   void *map;
   assert_int_equal(virgl_renderer_resource_map(20, &map, NULL), 0);
   assert_int_equal(virgl_renderer_resource_unmap(20), 0);
   uint32_t map_info;
   assert_int_equal(virgl_renderer_resource_get_map_info(20, &map_info), -EINVAL);
   virgl_renderer_ctx_detach_resource(CTX, 20);
   virgl_renderer_resource_unref(20); /* closes the imported fd */

   struct virgl_renderer_supported_structures supported = {
      .hdr = { VIRGL_RENDERER_STRUCTURE_TYPE_SUPPORTED_STRUCTURES, 0, sizeof(supported) },
   };
   assert_int_equal(virgl_renderer_execute(&supported, sizeof(supported)), 0);
   assert_int_equal(supported.out_supported_structures_mask, 3);
   supported.in_stype_version = 1;
   assert_int_equal(virgl_renderer_execute(&supported, sizeof(supported)), 0);
   assert_int_equal(supported.out_supported_structures_mask, 0);

   assert_int_equal(virgl_renderer_get_dev_fd(CTX), -ENODEV);
   virgl_renderer_cleanup(NULL);
   test_vmm_fini(&vmm);
}

int
main(void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_qemu_async_flow, setup, teardown),
      cmocka_unit_test_setup_teardown(test_qemu_polled_flow, setup, teardown),
      cmocka_unit_test_setup_teardown(test_crosvm_flow, setup, teardown),
      cmocka_unit_test_setup_teardown(test_log_callback_and_level, setup, teardown),
   };
   return cmocka_run_group_tests_name("vmm-flow", tests, NULL, NULL);
}
