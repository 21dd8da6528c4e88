/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Protocol conformance of virtkfd_test_server, command by command, with the exact
 * layout of every reply (vtest-protocol.md §4-§6, §13). One server (fork per
 * client) serves the whole group; each test opens its own connections.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "server_test.h"

static struct test_server server;

static int
group_setup(void **state)
{
   test_server_start(&server, NULL);
   return 0;
}

static int
group_teardown(void **state)
{
   test_server_stop(&server);
   return 0;
}

static void
send_create_renderer(struct vtc *c, const char *name, uint32_t len)
{
   uint32_t hdr[2] = { len, VCMD_CREATE_RENDERER };
   assert_int_equal(vtc_write(c, hdr, sizeof(hdr)), 0);
   assert_int_equal(vtc_write(c, name, len), 0);
}

static void
test_handshake_layout(void **state)
{
   struct vtc c;
   assert_int_equal(vtc_connect_raw(&c, server.path), 0);
   send_create_renderer(&c, "conformance", 12);
   uint32_t busy_wait[2] = { 0, 0 };
   assert_int_equal(vtc_send(&c, VCMD_PING_PROTOCOL_VERSION, NULL, 0), 0);
   assert_int_equal(vtc_send(&c, VCMD_RESOURCE_BUSY_WAIT, busy_wait, 2), 0);
   expect_reply(&c, VCMD_PING_PROTOCOL_VERSION, NULL, 0); /* {0, 10} */
   uint32_t not_busy = 0;
   expect_reply(&c, VCMD_RESOURCE_BUSY_WAIT, &not_busy, 1); /* {1, 7, [0]} */
   uint32_t v = 4;
   assert_int_equal(vtc_send(&c, VCMD_PROTOCOL_VERSION, &v, 1), 0);
   expect_reply(&c, VCMD_PROTOCOL_VERSION, &v, 1);
   vtc_close(&c);
}

static void
test_protocol_version_negotiation(void **state)
{
   /* client max -> negotiated: min(client, 4), with 1 answered as 0 */
   static const uint32_t cases[][2] = { { 0, 0 }, { 1, 0 }, { 2, 2 },         { 3, 3 },
                                        { 4, 4 }, { 5, 4 }, { 0xffffffff, 4 } };
   for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
      struct vtc c;
      assert_int_equal(vtc_connect_raw(&c, server.path), 0);
      send_create_renderer(&c, "v", 2);
      assert_int_equal(vtc_send(&c, VCMD_PROTOCOL_VERSION, &cases[i][0], 1), 0);
      expect_reply(&c, VCMD_PROTOCOL_VERSION, &cases[i][1], 1);
      vtc_close(&c);
   }
}

static void
test_get_param(void **state)
{
   struct vtc c;
   test_client(&server, &c, false);
   static const uint32_t cases[][3] = {
      { VCMD_PARAM_MAX_TIMELINE_COUNT, 1, 64 },
      { VCMD_PARAM_HAS_TIMELINE_SYNCOBJ, 0, 0 },
      { VCMD_PARAM_VIRTKFD_EXT, 1, 1 },
      { 0, 0, 0 },
      { 3, 0, 0 },
      { 0xffffffff, 0, 0 },
   };
   for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
      assert_int_equal(vtc_send(&c, VCMD_GET_PARAM, &cases[i][0], 1), 0);
      expect_reply(&c, VCMD_GET_PARAM, &cases[i][1], 2); /* {2, 15, [valid, value]} */
   }
   vtc_close(&c);
}

static void
test_get_capset(void **state)
{
   struct vtc c;
   test_client(&server, &c, false);
   for (uint32_t version = 0; version <= 1; version++) {
      uint32_t req[2] = { HSAKMT_CAPSET_ID, version }, hdr[2], reply[7];
      assert_int_equal(vtc_send(&c, VCMD_GET_CAPSET, req, 2), 0);
      assert_int_equal(vtc_read(&c, hdr, sizeof(hdr)), 0);
      assert_int_equal(hdr[1], VCMD_GET_CAPSET);
      assert_int_equal(hdr[0], 1 + 24 / 4); /* {1 + size/4, 16, [1], caps} */
      assert_int_equal(vtc_read(&c, reply, sizeof(reply)), 0);
      assert_int_equal(reply[0], 1);
      struct virgl_renderer_capset_hsakmt caps;
      memcpy(&caps, reply + 1, sizeof(caps));
      assert_int_equal(caps.pad, 0);
   }
   uint32_t invalid = 0;
   uint32_t req[2] = { HSAKMT_CAPSET_ID, 2 };
   assert_int_equal(vtc_send(&c, VCMD_GET_CAPSET, req, 2), 0);
   expect_reply(&c, VCMD_GET_CAPSET, &invalid, 1); /* {1, 16, [0]} */
   vtc_close(&c);
}

static void
test_context_init(void **state)
{
   struct vtc c;
   test_client(&server, &c, false);
   uint32_t capset = HSAKMT_CAPSET_ID;
   assert_int_equal(vtc_send(&c, VCMD_CONTEXT_INIT, &capset, 1), 0); /* no reply */
   assert_int_equal(vtc_send(&c, VCMD_CONTEXT_INIT, &capset, 1), 0); /* same: no-op */
   expect_alive(&c);
   uint32_t other = 6;
   assert_int_equal(vtc_send(&c, VCMD_CONTEXT_INIT, &other, 1), 0);
   expect_dropped(&c, VCMD_CONTEXT_INIT, EINVAL);
   vtc_close(&c);
}

static void
test_blob_guest(void **state)
{
   struct vtc c;
   test_client(&server, &c, true);
   uint32_t res = 0;
   int fd = -1;
   assert_int_equal(vtc_blob_create(&c, VCMD_BLOB_TYPE_GUEST, VCMD_BLOB_FLAG_MAPPABLE,
                                    64 << 10, 0, &res, &fd),
                    0);
   assert_true(res != 0 && res != c.shmem_res);
   struct stat st;
   assert_int_equal(fstat(fd, &st), 0);
   assert_int_equal(st.st_size, 64 << 10);
   /* §10 row 17: sealed, close-on-exec, the client cannot shrink it */
   int seals = fcntl(fd, F_GET_SEALS);
   assert_true(seals & F_SEAL_SHRINK);
   assert_true(seals & F_SEAL_SEAL);
   assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
   assert_int_equal(ftruncate(fd, 0), -1);
   assert_int_equal(errno, EPERM);
   /* shared with the server: what the client writes, the resource holds */
   uint8_t *map = mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
   assert_true(map != MAP_FAILED);
   map[100] = 0x5a;
   munmap(map, 64 << 10);
   close(fd);
   /* unaligned size: the memfd is page-aligned */
   uint32_t res2;
   assert_int_equal(vtc_blob_create(&c, VCMD_BLOB_TYPE_GUEST, VCMD_BLOB_FLAG_MAPPABLE, 1,
                                    0, &res2, &fd),
                    0);
   assert_true(res2 > res); /* monotonic ids */
   assert_int_equal(fstat(fd, &st), 0);
   assert_int_equal(st.st_size, 4096);
   close(fd);
   assert_int_equal(vtc_unref(&c, res), 0);
   assert_int_equal(vtc_unref(&c, res2), 0);
   uint32_t stats[VTEST_STAT_COUNT];
   assert_int_equal(vtc_debug_stats(&c, stats), 0);
   assert_int_equal(stats[VTEST_STAT_RESOURCES], 1); /* the shmem */
   vtc_close(&c);
}

static void
test_blob_host3d_and_export(void **state)
{
   struct vtc c;
   test_client(&server, &c, true);
   /* the shmem came back as a mappable SHM fd (vtc_hsakmt_open checked it) */
   int fd = vtc_export_fd(&c, c.shmem_res);
   assert_true(fd >= 0);
   struct stat st;
   assert_int_equal(fstat(fd, &st), 0);
   assert_int_equal(st.st_size, 80 * 4096);
   close(fd);
   fd = vtc_export_fd(&c, c.shmem_res); /* twice */
   assert_true(fd >= 0);
   close(fd);
   /* a resource that is not this client's */
   uint32_t bogus = c.shmem_res + 1000;
   assert_int_equal(vtc_send(&c, VCMD_RESOURCE_EXPORT_FD, &bogus, 1), 0);
   expect_dropped(&c, VCMD_RESOURCE_EXPORT_FD, EINVAL);
   vtc_close(&c);
}

static void
test_unref_unknown_is_ignored(void **state)
{
   struct vtc c;
   test_client(&server, &c, true);
   assert_int_equal(vtc_unref(&c, 123456), 0);
   assert_int_equal(vtc_unref(&c, c.shmem_res), 0);
   assert_int_equal(vtc_unref(&c, c.shmem_res), 0); /* double unref */
   expect_alive(&c);
   vtc_close(&c);
}

static void
test_submit_cmd_and_busy_wait(void **state)
{
   struct vtc c;
   test_client(&server, &c, true);
   struct hsakmt_ccmd_req nop = { .cmd = HSAKMT_CCMD_NOP, .len = 16, .seqno = 1 };
   assert_int_equal(vtc_submit_cmd(&c, &nop, 4), 0);
   uint32_t busy = 7;
   assert_int_equal(vtc_busy_wait(&c, 0, VCMD_BUSY_WAIT_FLAG_WAIT, &busy), 0);
   assert_int_equal(busy, 0);
   assert_int_equal(*(volatile uint32_t *)c.hk.shmem, 1); /* the seqno */
   vtc_close(&c);
}

static void
test_submit_cmd2_ring_and_syncs(void **state)
{
   struct vtc c;
   test_client(&server, &c, true);
   uint32_t sync;
   assert_int_equal(vtc_sync_create(&c, 0, &sync), 0);
   struct hsakmt_ccmd_req nop = { .cmd = HSAKMT_CCMD_NOP, .len = 16, .seqno = 5 };
   uint64_t value = 42;
   assert_int_equal(vtc_submit_cmd2(&c, 0, &nop, 4, &sync, &value, 1), 0);
   int efd = vtc_sync_wait(&c, 0, 5000, &sync, &value, 1);
   assert_true(efd >= 0);
   struct pollfd pfd = { efd, POLLIN, 0 };
   assert_int_equal(poll(&pfd, 1, 5000), 1);
   close(efd);
   uint64_t now = 0;
   assert_int_equal(vtc_sync_read(&c, sync, &now), 0);
   assert_true(now == 42);
   assert_int_equal(*(volatile uint32_t *)c.hk.shmem, 5);
   /* without RING_IDX the syncs are set at once */
   uint32_t msg[2 + 1 + 8 + 3] = {
      1 + 8 + 3, VCMD_SUBMIT_CMD2, 1, 0, 9, 0, 9, 1, 0, 0, 0, sync, 50, 0
   };
   assert_int_equal(vtc_write(&c, msg, sizeof(msg)), 0);
   assert_int_equal(vtc_sync_read(&c, sync, &now), 0);
   assert_true(now == 50);
   vtc_close(&c);
}

static void
test_sync_commands(void **state)
{
   struct vtc c;
   test_client(&server, &c, true);
   uint32_t a, b;
   assert_int_equal(vtc_sync_create(&c, 0x100000005ull, &a), 0);
   assert_int_equal(vtc_sync_create(&c, 0, &b), 0);
   assert_true(b > a && a != 0);
   uint32_t id = a, hdr[2], value[2];
   assert_int_equal(vtc_send(&c, VCMD_SYNC_READ, &id, 1), 0);
   assert_int_equal(vtc_read(&c, hdr, sizeof(hdr)), 0);
   assert_int_equal(hdr[0], 2); /* {2, 21, [lo, hi]} */
   assert_int_equal(hdr[1], VCMD_SYNC_READ);
   assert_int_equal(vtc_read(&c, value, sizeof(value)), 0);
   assert_int_equal(value[0], 5);
   assert_int_equal(value[1], 1);
   /* a smaller value is stored (upstream compatibility) */
   uint64_t now;
   assert_int_equal(vtc_sync_write(&c, a, 3), 0);
   assert_int_equal(vtc_sync_read(&c, a, &now), 0);
   assert_true(now == 3);
   /* a wait already met: the eventfd is readable at once */
   uint64_t want = 3;
   int efd = vtc_sync_wait(&c, 0, 1000, &a, &want, 1);
   assert_true(efd >= 0);
   struct pollfd pfd = { efd, POLLIN, 0 };
   assert_int_equal(poll(&pfd, 1, 0), 1);
   close(efd);
   /* a pending wait fires when the value arrives */
   uint32_t ids[2] = { a, b };
   uint64_t wants[2] = { 10, 20 };
   efd = vtc_sync_wait(&c, 0, UINT32_MAX, ids, wants, 2);
   assert_true(efd >= 0);
   pfd.fd = efd;
   assert_int_equal(vtc_sync_write(&c, a, 10), 0);
   expect_alive(&c);
   assert_int_equal(poll(&pfd, 1, 0), 0); /* all conditions, not any */
   assert_int_equal(vtc_sync_write(&c, b, 25), 0);
   expect_alive(&c);
   assert_int_equal(poll(&pfd, 1, 5000), 1);
   close(efd);
   assert_int_equal(vtc_sync_unref(&c, a), 0);
   assert_int_equal(vtc_send(&c, VCMD_SYNC_READ, &id, 1), 0);
   expect_dropped(&c, VCMD_SYNC_READ, EEXIST);
   vtc_close(&c);
}

static void
test_get_caps_answers_empty(void **state)
{
   struct vtc c;
   test_client(&server, &c, false);
   uint32_t hdr[2];
   assert_int_equal(vtc_send(&c, VCMD_GET_CAPS, NULL, 0), 0);
   assert_int_equal(vtc_read(&c, hdr, sizeof(hdr)), 0);
   assert_int_equal(hdr[0], 1); /* size + 1, no bytes */
   assert_int_equal(hdr[1], VCMD_GET_CAPS);
   assert_int_equal(vtc_send(&c, VCMD_GET_CAPS2, NULL, 0), 0);
   assert_int_equal(vtc_read(&c, hdr, sizeof(hdr)), 0);
   assert_int_equal(hdr[0], 1);
   assert_int_equal(hdr[1], 2); /* §10.1: the GET_CAPS2 reply id is 2 */
   expect_alive(&c);
   vtc_close(&c);
}

static void
test_drm_sync_refused(void **state)
{
   for (uint32_t id = VCMD_DRM_SYNC_CREATE; id <= VCMD_DRM_SYNC_TRANSFER; id++) {
      static const uint32_t fixed[] = { 1, 1, 1, 0, 1, 1, 4, 1, 1, 1, 4, 2, 7 };
      uint32_t payload[8] = { 0 };
      struct vtc c;
      test_client(&server, &c, true);
      assert_int_equal(vtc_send(&c, id, payload, fixed[id - VCMD_DRM_SYNC_CREATE]), 0);
      expect_dropped(&c, id, ENODEV);
      vtc_close(&c);
   }
   assert_true(test_server_log_has(&server, "no DRM device for this context"));
}

static void
test_unknown_command_logged(void **state)
{
   struct vtc c;
   test_client(&server, &c, false);
   assert_int_equal(vtc_send(&c, 39, NULL, 0), 0);
   expect_dropped(&c, 39, ENOSYS);
   vtc_close(&c);
   assert_true(test_server_log_has(&server, "unknown command id 39"));
}

static void
test_guest_ram_add_statuses(void **state)
{
   struct vtc c;
   test_client(&server, &c, true);
   int fd = memfd_create("ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
   assert_int_equal(ftruncate(fd, 1 << 20), 0);
   uint64_t gpa = 1ull << 32;
   assert_int_equal(vtc_guest_ram_add(&c, gpa, 0, fd), EINVAL);
   assert_int_equal(vtc_guest_ram_add(&c, gpa + 1, 4096, fd), EINVAL);
   assert_int_equal(vtc_guest_ram_add(&c, 1ull << 52, 4096, fd), EINVAL);
   assert_int_equal(vtc_guest_ram_add(&c, gpa, 2 << 20, fd), ERANGE);
   assert_int_equal(vtc_guest_ram_add(&c, gpa, 1 << 20, fd), 0);
   assert_int_equal(vtc_guest_ram_add(&c, gpa, 1 << 20, fd), EEXIST);
   assert_int_equal(vtc_guest_ram_add(&c, gpa + 4096, 4096, fd), EEXIST);
   assert_int_equal(vtc_guest_ram_add(&c, gpa + (1 << 20), 4096, fd), 0); /* adjacent */
   /* the server added F_SEAL_SHRINK: the client can no longer shrink its RAM */
   assert_int_equal(ftruncate(fd, 4096), -1);
   assert_int_equal(errno, EPERM);
   int dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
   assert_int_equal(vtc_guest_ram_add(&c, 0, 4096, dir), EBADF);
   close(dir);
   int sealed = memfd_create("ro", MFD_CLOEXEC | MFD_ALLOW_SEALING);
   assert_int_equal(ftruncate(sealed, 4096), 0);
   assert_int_equal(fcntl(sealed, F_ADD_SEALS, F_SEAL_WRITE), 0);
   assert_int_equal(vtc_guest_ram_add(&c, 0, 4096, sealed), EPERM);
   close(sealed);
   uint32_t stats[VTEST_STAT_COUNT];
   assert_int_equal(vtc_debug_stats(&c, stats), 0);
   assert_int_equal(stats[VTEST_STAT_RAM_REGIONS], 2);
   close(fd);
   vtc_close(&c);
}

static void
test_blob_sg_error_layout(void **state)
{
   struct vtc c;
   test_client(&server, &c, true);
   struct vtest_sg_entry e = { .addr = 1ull << 40, .length = 4096 };
   uint32_t res = 7;
   /* no RAM there: {2, 0x10002, [0, EFAULT]} and the session goes on */
   assert_int_equal(vtc_blob_sg(&c, VCMD_BLOB_TYPE_HOST3D_GUEST, 0, 4096, 1, &e, 1, &res),
                    EFAULT);
   assert_int_equal(res, 0);
   uint32_t msg[2 + 7] = { 7, VCMD_RESOURCE_CREATE_BLOB_SG, 3, 0, 4096, 0, 1, 0, 0 };
   assert_int_equal(vtc_write(&c, msg, sizeof(msg)), 0);
   uint32_t expect[2] = { 0, EINVAL }; /* nr_entries 0 */
   expect_reply(&c, VCMD_RESOURCE_CREATE_BLOB_SG, expect, 2);
   expect_alive(&c);
   vtc_close(&c);
}

static void
test_guest_ram_region_limit(void **state)
{
   struct vtc c;
   test_client(&server, &c, true);
   int fd = memfd_create("ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
   assert_int_equal(ftruncate(fd, 4096), 0);
   for (uint64_t i = 0; i < VTEST_MAX_RAM_REGIONS; i++)
      assert_int_equal(vtc_guest_ram_add(&c, (1ull << 32) + i * 8192, 4096, fd), 0);
   assert_int_equal(vtc_guest_ram_add(&c, 1ull << 40, 4096, fd), ENOSPC);
   close(fd);
   vtc_close(&c);
}

static void
test_blob_sg_split_gap_and_duplicates(void **state)
{
   static const char *const dump[] = { "--dump-sg", NULL };
   struct test_server srv;
   test_server_start(&srv, dump);
   struct vtc c;
   test_client(&srv, &c, true);
   int fds[2];
   uint64_t gpa = 1ull << 32;
   for (int i = 0; i < 2; i++) {
      fds[i] = memfd_create("ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
      assert_int_equal(ftruncate(fds[i], 16384), 0);
   }
   /* two adjacent regions, then a gap */
   assert_int_equal(vtc_guest_ram_add(&c, gpa, 16384, fds[0]), 0);
   assert_int_equal(vtc_guest_ram_add(&c, gpa + 16384, 16384, fds[1]), 0);
   uint32_t res;
   /* one entry across the boundary: split into two iovecs (see the log) */
   struct vtest_sg_entry cross = { .addr = gpa + 12288, .length = 8192 };
   assert_int_equal(vtc_blob_sg(&c, VCMD_BLOB_TYPE_GUEST, 0, 8192, 0, &cross, 1, &res),
                    0);
   uint32_t stats[VTEST_STAT_COUNT];
   assert_int_equal(vtc_debug_stats(&c, stats), 0); /* a round trip: the log is out */
   assert_true(test_server_log_has(&srv, "SG iovec 1:"));
   assert_int_equal(vtc_unref(&c, res), 0);
   /* into the gap after the second region: EFAULT, nothing created */
   struct vtest_sg_entry gap = { .addr = gpa + 28672, .length = 8192 };
   assert_int_equal(vtc_blob_sg(&c, VCMD_BLOB_TYPE_GUEST, 0, 8192, 0, &gap, 1, &res),
                    EFAULT);
   /* duplicates and unaligned entries are passed through to the library */
   struct vtest_sg_entry dup[2] = { { gpa, 4096, 0 }, { gpa, 4096, 0 } };
   assert_int_equal(vtc_blob_sg(&c, VCMD_BLOB_TYPE_GUEST, 0, 8192, 0, dup, 2, &res), 0);
   struct vtest_sg_entry odd = { gpa + 100, 5000, 0 };
   assert_int_equal(vtc_blob_sg(&c, VCMD_BLOB_TYPE_GUEST, 0, 5000, 0, &odd, 1, &res), 0);
   /* the errno of every validation */
   struct vtest_sg_entry zero_len = { gpa, 0, 0 }, padded = { gpa, 4096, 1 },
                         wraps = { UINT64_MAX - 100, 4096, 0 };
   assert_int_equal(vtc_blob_sg(&c, 2, 0, 4096, 0, &cross, 1, &res), EINVAL);
   assert_int_equal(vtc_blob_sg(&c, 1, 0x20, 4096, 0, &cross, 1, &res), EINVAL);
   assert_int_equal(vtc_blob_sg(&c, 1, 0x10, 4096, 0, &cross, 1, &res), EINVAL);
   assert_int_equal(vtc_blob_sg(&c, 1, 0, 0, 0, &cross, 1, &res), EINVAL);
   assert_int_equal(vtc_blob_sg(&c, 1, 0, 4096, 0, &zero_len, 1, &res), EINVAL);
   assert_int_equal(vtc_blob_sg(&c, 1, 0, 4096, 0, &padded, 1, &res), EINVAL);
   assert_int_equal(vtc_blob_sg(&c, 1, 0, 4096, 0, &wraps, 1, &res), EFAULT);
   assert_int_equal(vtc_blob_sg(&c, 1, 0, 3 * 4096, 0, dup, 2, &res), EINVAL); /* short */
   /* disconnect with live SG resources: torn down before the RAM */
   vtc_close(&c);
   close(fds[0]);
   close(fds[1]);
   test_server_stop(&srv);
}

static void
test_blob_sg_entry_counts(void **state)
{
   struct vtc c;
   test_client(&server, &c, true);
   int fd = memfd_create("ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
   assert_int_equal(ftruncate(fd, 4096), 0);
   assert_int_equal(vtc_guest_ram_add(&c, 1ull << 32, 4096, fd), 0);
   close(fd);
   /* QEMU's stock limit, one more, and revision 1's limit: every entry the same page */
   static const uint32_t counts[] = { 16384, 16385, VTEST_MAX_SG_ENTRIES };
   struct vtest_sg_entry *sg = calloc(VTEST_MAX_SG_ENTRIES + 1, sizeof(*sg));
   assert_non_null(sg);
   for (uint32_t k = 0; k <= VTEST_MAX_SG_ENTRIES; k++)
      sg[k] = (struct vtest_sg_entry){ 1ull << 32, 4096, 0 };
   for (size_t i = 0; i < 3; i++) {
      uint32_t res = 0;
      assert_int_equal(
         vtc_blob_sg(&c, VCMD_BLOB_TYPE_GUEST, 0, 4096, 0, sg, counts[i], &res), 0);
      assert_int_equal(vtc_unref(&c, res), 0);
   }
   /* one more than the limit: refused from the header, before the payload is read */
   uint32_t hdr[2 + 7] = { 7 + 4 * (VTEST_MAX_SG_ENTRIES + 1),
                           VCMD_RESOURCE_CREATE_BLOB_SG,
                           VCMD_BLOB_TYPE_GUEST,
                           0,
                           4096,
                           0,
                           0,
                           0,
                           VTEST_MAX_SG_ENTRIES + 1 };
   assert_int_equal(vtc_write(&c, hdr, sizeof(hdr)), 0);
   expect_dropped(&c, VCMD_RESOURCE_CREATE_BLOB_SG, EPROTO);
   free(sg);
   vtc_close(&c);
}

int
main(int argc, char **argv)
{
   test_server_exe = argc > 1 ? argv[1] : "virtkfd_test_server_kfdsim";
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handshake_layout),
      cmocka_unit_test(test_protocol_version_negotiation),
      cmocka_unit_test(test_get_param),
      cmocka_unit_test(test_get_capset),
      cmocka_unit_test(test_context_init),
      cmocka_unit_test(test_blob_guest),
      cmocka_unit_test(test_blob_host3d_and_export),
      cmocka_unit_test(test_unref_unknown_is_ignored),
      cmocka_unit_test(test_submit_cmd_and_busy_wait),
      cmocka_unit_test(test_submit_cmd2_ring_and_syncs),
      cmocka_unit_test(test_sync_commands),
      cmocka_unit_test(test_get_caps_answers_empty),
      cmocka_unit_test(test_drm_sync_refused),
      cmocka_unit_test(test_unknown_command_logged),
      cmocka_unit_test(test_guest_ram_add_statuses),
      cmocka_unit_test(test_blob_sg_error_layout),
      cmocka_unit_test(test_guest_ram_region_limit),
      cmocka_unit_test(test_blob_sg_split_gap_and_duplicates),
      cmocka_unit_test(test_blob_sg_entry_counts),
   };
   return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
