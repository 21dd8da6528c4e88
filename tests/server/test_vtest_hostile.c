/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Hostile vtest input (hostile-inputs.md "vtest socket" items 1-8, and
 * vtest-protocol.md §12.1 items 1-11), one named test per item or sub-item. One
 * --multi-clients server serves the group, so every bad client shares the process
 * with the others; after every test the server must still serve, and hold exactly
 * the fds it held before (/proc/<pid>/fd).
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "server_test.h"

static struct test_server server;
static int base_fds;

static int
group_setup(void **state)
{
   static const char *const multi[] = { "--multi-clients", NULL };
   test_server_start(&server, multi);
   /* libhsakmt opens the KFD and render nodes once per process: count after that */
   struct vtc c;
   test_client(&server, &c, true);
   vtc_close(&c);
   /* the baseline, once that client's fds are closed: before any hostile test */
   for (int i = 0, last = -1; i < 100 && (base_fds = test_pid_fds(server.pid)) != last;
        i++) {
      last = base_fds;
      usleep(50000);
   }
   return 0;
}

static int
group_teardown(void **state)
{
   test_server_stop(&server);
   return 0;
}

/* No client left, no fd leaked, and the server still answers. */
static int
check_clean(void **state)
{
   int fds = -1;
   for (int i = 0; i < 300; i++) {
      fds = test_pid_fds(server.pid);
      if (fds == base_fds)
         break;
      usleep(10000);
   }
   assert_true(test_server_alive(&server));
   if (fds != base_fds) {
      char cmd[96];
      snprintf(cmd, sizeof(cmd), "ls -l /proc/%d/fd >&2", (int)server.pid);
      if (system(cmd) < 0)
         perror("system");
   }
   assert_int_equal(fds, base_fds);
   struct vtc c;
   test_client(&server, &c, true);
   expect_alive(&c);
   vtc_close(&c);
   return 0;
}

static void
raw_renderer(struct vtc *c)
{
   assert_int_equal(vtc_connect_raw(c, server.path), 0);
   uint32_t hdr[2] = { 2, VCMD_CREATE_RENDERER };
   assert_int_equal(vtc_write(c, hdr, sizeof(hdr)), 0);
   assert_int_equal(vtc_write(c, "h", 2), 0);
}

/* ---- item 1: lengths ------------------------------------------------------------ */

static const uint32_t all_ids[] = {
   1,
   2,
   3,
   4,
   5,
   6,
   7,
   8,
   9,
   10,
   11,
   12,
   13,
   14,
   15,
   16,
   17,
   18,
   19,
   20,
   21,
   22,
   23,
   24,
   25,
   26,
   27,
   28,
   29,
   30,
   31,
   32,
   33,
   34,
   35,
   36,
   37,
   38,
   VCMD_GUEST_RAM_ADD,
   VCMD_RESOURCE_CREATE_BLOB_SG,
   VCMD_VIRTKFD_DEBUG_STATS,
};

static void
test_hostile_len_max_every_id(void **state)
{
   for (size_t i = 0; i < sizeof(all_ids) / sizeof(all_ids[0]); i++) {
      struct vtc c;
      test_client(&server, &c, true);
      uint32_t hdr[2] = { UINT32_MAX, all_ids[i] };
      assert_int_equal(vtc_write(&c, hdr, sizeof(hdr)), 0);
      expect_dropped(&c, all_ids[i], 0);
      vtc_close(&c);
   }
}

static void
test_hostile_len_0_and_1_every_id(void **state)
{
   for (uint32_t len = 0; len <= 1; len++) {
      for (size_t i = 0; i < sizeof(all_ids) / sizeof(all_ids[0]); i++) {
         struct vtc c;
         test_client(&server, &c, true);
         uint32_t msg[3] = { len, all_ids[i], 0 };
         assert_int_equal(vtc_write(&c, msg, 8 + 4 * len), 0);
         /* either refused with a notice naming the command, or the stream is in
          * step: the PING after it is answered as a PING */
         int pinged = vtc_send(&c, VCMD_PING_PROTOCOL_VERSION, NULL, 0);
         /* EPIPE: the session already ended; its notice is still to be read */
         assert_true(pinged == 0 || pinged == -EPIPE);
         for (;;) {
            uint32_t hdr[2];
            assert_int_equal(vtc_read(&c, hdr, sizeof(hdr)), 0);
            if (hdr[1] == VCMD_VIRTKFD_ERROR) {
               uint32_t notice[2];
               assert_int_equal(hdr[0], 2);
               assert_int_equal(vtc_read(&c, notice, sizeof(notice)), 0);
               assert_int_equal(notice[0], all_ids[i]);
               assert_true(vtc_server_closed(&c, 5000));
               break;
            }
            assert_int_equal(pinged, 0);
            if (hdr[1] == VCMD_PING_PROTOCOL_VERSION && hdr[0] == 0)
               break;
            /* GET_CAPS(2): "size 0" is {1, 1} or {1, 2} with nothing after it */
            if (all_ids[i] == VCMD_GET_CAPS || all_ids[i] == VCMD_GET_CAPS2) {
               assert_int_equal(hdr[0], 1);
               assert_int_equal(hdr[1], all_ids[i] == VCMD_GET_CAPS ? 1 : 2);
               continue;
            }
            /* the command's own reply: it must be the command's */
            assert_int_equal(hdr[1], all_ids[i]);
            for (uint32_t k = 0; k < hdr[0]; k++) {
               uint32_t skip;
               assert_int_equal(vtc_read(&c, &skip, 4), 0);
            }
         }
         vtc_close(&c);
      }
   }
}

static void
test_hostile_len_off_by_one(void **state)
{
   static const uint32_t fixed[][2] = {
      { VCMD_PROTOCOL_VERSION, 1 },     { VCMD_GET_PARAM, 1 },
      { VCMD_GET_CAPSET, 2 },           { VCMD_CONTEXT_INIT, 1 },
      { VCMD_SYNC_CREATE, 2 },          { VCMD_SYNC_WRITE, 3 },
      { VCMD_RESOURCE_CREATE_BLOB, 6 }, { VCMD_RESOURCE_UNREF, 1 },
      { VCMD_RESOURCE_BUSY_WAIT, 2 },   { VCMD_RESOURCE_EXPORT_FD, 1 },
      { VCMD_GUEST_RAM_ADD, 4 },        { VCMD_PING_PROTOCOL_VERSION, 0 },
   };
   uint32_t zeros[16] = { 0 };
   for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
      for (int delta = -1; delta <= 1; delta += 2) {
         if (!fixed[i][1] && delta < 0)
            continue;
         struct vtc c;
         test_client(&server, &c, true);
         /* the server may close before the payload arrives: the send can fail */
         vtc_send(&c, fixed[i][0], zeros, fixed[i][1] + delta);
         expect_dropped(&c, fixed[i][0], EPROTO);
         vtc_close(&c);
      }
   }
}

/* ---- item 2: ids and states -------------------------------------------------------- */

static void
test_hostile_bad_command_ids(void **state)
{
   static const uint32_t ids[] = { 0,          VCMD_UPSTREAM_COUNT,
                                   0xffffffff, 0x10003,
                                   0x100FF,    VCMD_VIRTKFD_DEBUG_STATS + 100 };
   for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
      struct vtc c;
      test_client(&server, &c, false);
      assert_int_equal(vtc_send(&c, ids[i], NULL, 0), 0);
      expect_dropped(&c, ids[i], ENOSYS);
      vtc_close(&c);
   }
   struct vtc c;
   test_client(&server, &c, false);
   uint32_t hdr[2] = { 2, VCMD_CREATE_RENDERER };
   assert_int_equal(vtc_write(&c, hdr, sizeof(hdr)), 0);
   vtc_write(&c, "x", 2);
   expect_dropped(&c, VCMD_CREATE_RENDERER, EPROTO); /* 8 after the start */
   vtc_close(&c);
}

static void
test_hostile_commands_before_create_renderer(void **state)
{
   struct vtc c;
   assert_int_equal(vtc_connect_raw(&c, server.path), 0);
   assert_int_equal(vtc_send(&c, VCMD_PING_PROTOCOL_VERSION, NULL, 0), 0);
   assert_true(vtc_server_closed(&c, 5000)); /* not extension-aware: plain EOF */
   vtc_close(&c);
   assert_true(test_server_log_has(&server, "the first command must be CREATE_RENDERER"));
}

static void
test_hostile_commands_before_protocol_version(void **state)
{
   struct vtc c;
   raw_renderer(&c);
   uint32_t param = 1;
   assert_int_equal(vtc_send(&c, VCMD_GET_PARAM, &param, 1), 0);
   assert_true(vtc_server_closed(&c, 5000));
   vtc_close(&c);
}

static void
test_hostile_commands_before_context_init(void **state)
{
   static const uint32_t ids[][2] = { { VCMD_SYNC_CREATE, 2 },
                                      { VCMD_RESOURCE_CREATE_BLOB, 6 },
                                      { VCMD_SUBMIT_CMD2, 1 },
                                      { VCMD_RESOURCE_EXPORT_FD, 1 } };
   uint32_t zeros[8] = { 0 };
   for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
      struct vtc c;
      test_client(&server, &c, false);
      assert_int_equal(vtc_send(&c, ids[i][0], zeros, ids[i][1]), 0);
      expect_dropped(&c, ids[i][0], EPROTO);
      vtc_close(&c);
   }
   /* the extension command has a status instead */
   struct vtc c;
   test_client(&server, &c, false);
   struct vtest_sg_entry e = { .addr = 0, .length = 4096 };
   uint32_t res;
   assert_int_equal(vtc_blob_sg(&c, 3, 0, 4096, 1, &e, 1, &res), ENODEV);
   vtc_close(&c);
}

static void
test_hostile_context_init_bad_capsets(void **state)
{
   static const uint32_t capsets[] = { 0, 1, 2, 4, 6, 256, 0xffffffff };
   for (size_t i = 0; i < sizeof(capsets) / sizeof(capsets[0]); i++) {
      struct vtc c;
      test_client(&server, &c, false);
      assert_int_equal(vtc_context_init(&c, capsets[i]), 0);
      expect_dropped(&c, VCMD_CONTEXT_INIT, 0);
      vtc_close(&c);
   }
}

/* ---- item 3: slow, silent and vanishing clients ------------------------------------ */

static void
test_hostile_truncated_message_then_eof(void **state)
{
   struct vtc c;
   test_client(&server, &c, true);
   uint32_t part[3] = { 6, VCMD_RESOURCE_CREATE_BLOB, 1 };
   assert_int_equal(vtc_write(&c, part, sizeof(part)), 0);
   vtc_close(&c);
   struct vtc h;
   test_client(&server, &h, false);
   assert_int_equal(vtc_write(&h, part, 5), 0); /* half a header */
   vtc_close(&h);
}

static void
test_hostile_byte_at_a_time_sender(void **state)
{
   struct vtc slow, other;
   assert_int_equal(vtc_connect_raw(&slow, server.path), 0);
   /* CREATE_RENDERER "abc" (4 bytes with its NUL), PROTOCOL_VERSION(4), PING */
   uint32_t msg[] = { 4, VCMD_CREATE_RENDERER,      0x00636261,
                      1, VCMD_PROTOCOL_VERSION,     4,
                      0, VCMD_PING_PROTOCOL_VERSION };
   const uint8_t *bytes = (const uint8_t *)msg;
   for (size_t i = 0; i < sizeof(msg); i++) {
      assert_int_equal(vtc_write(&slow, bytes + i, 1), 0);
      if (i % 8 == 0) {
         /* meanwhile another client is served */
         test_client(&server, &other, false);
         expect_alive(&other);
         vtc_close(&other);
      }
   }
   uint32_t v = 4;
   expect_reply(&slow, VCMD_PROTOCOL_VERSION, &v, 1);
   expect_reply(&slow, VCMD_PING_PROTOCOL_VERSION, NULL, 0);
   vtc_close(&slow);
}

static void
test_hostile_client_never_reads_replies(void **state)
{
   struct vtc greedy;
   test_client(&server, &greedy, false);
   int flags = fcntl(greedy.sock, F_GETFL);
   fcntl(greedy.sock, F_SETFL, flags | O_NONBLOCK);
   uint32_t msg[3] = { 1, VCMD_GET_PARAM, 1 };
   size_t sent = 0;
   int stalls = 0;
   while (stalls < 40) { /* 200 ms without progress: the server stopped reading */
      ssize_t n = send(greedy.sock, msg, sizeof(msg), MSG_NOSIGNAL);
      if (n < 0) {
         /* not dropped: paused; both socket buffers are full */
         assert_int_equal(errno, EAGAIN);
         /* and the others are still served meanwhile */
         struct vtc other;
         test_client(&server, &other, false);
         expect_alive(&other);
         vtc_close(&other);
         stalls++;
         usleep(5000);
         continue;
      }
      assert_int_equal(n, (ssize_t)sizeof(msg)); /* 12 bytes go whole or not at all */
      sent++;
      stalls = 0;
   }
   /*
    * It had more replies queued than its socket holds, and the server took no
    * more once 4 MiB of replies (16 bytes each) waited: the queue is bounded.
    */
   const size_t queue_limit = (4u << 20) / 16, socket_slack = (2u << 20) / 12;
   assert_true(sent * 16 > (1u << 20));
   if (sent > queue_limit + socket_slack)
      fail_msg("the server accepted %zu commands from a client that reads nothing", sent);
   /* nothing was lost either: every command is answered, in order */
   fcntl(greedy.sock, F_SETFL, flags);
   for (size_t i = 0; i < sent; i++) {
      uint32_t reply[2];
      assert_int_equal(vtc_reply(&greedy, VCMD_GET_PARAM, reply, 2, NULL), 0);
   }
   expect_alive(&greedy);
   vtc_close(&greedy);
}

/* ---- item 4: SCM_RIGHTS --------------------------------------------------------------
 */

static void
send_fds(struct vtc *c, const int *fds, int n, int level, int type, size_t data_bytes)
{
   char control[CMSG_SPACE(256 * sizeof(int))];
   memset(control, 0, sizeof(control));
   char data[2] = { 0, 0 };
   struct iovec iov = { data, data_bytes };
   struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
   if (n) {
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(n * sizeof(int));
      struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
      cmsg->cmsg_level = level;
      cmsg->cmsg_type = type;
      cmsg->cmsg_len = CMSG_LEN(n * sizeof(int));
      memcpy(CMSG_DATA(cmsg), fds, n * sizeof(int));
   }
   assert_true(sendmsg(c->sock, &msg, MSG_NOSIGNAL) >= 0);
}

static void
ram_add_header(struct vtc *c)
{
   uint32_t req[4] = { 0, 1, 4096, 0 };
   assert_int_equal(vtc_send(c, VCMD_GUEST_RAM_ADD, req, 4), 0);
}

static int
memfd_4k(void)
{
   int fd = memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING);
   assert_true(fd >= 0);
   assert_int_equal(ftruncate(fd, 4096), 0);
   return fd;
}

static void
test_hostile_scm_no_fd_where_expected(void **state)
{
   struct vtc c;
   test_client(&server, &c, true);
   ram_add_header(&c);
   send_fds(&c, NULL, 0, 0, 0, 1); /* the dummy byte without an fd */
   expect_dropped(&c, VCMD_GUEST_RAM_ADD, EBADF);
   vtc_close(&c);
   /* no fd message at all: the next command's first byte is not taken as one */
   test_client(&server, &c, true);
   ram_add_header(&c);
   vtc_send(&c, VCMD_PING_PROTOCOL_VERSION, NULL, 0);
   expect_dropped(&c, VCMD_GUEST_RAM_ADD, EBADF);
   vtc_close(&c);
}

/*
 * The wrong cmsg level, or SCM_CREDENTIALS instead of SCM_RIGHTS: the kernel
 * delivers neither to the server as an fd, so the data byte arrives alone and
 * the command is refused for want of its fd, never run without one.
 */
static void
test_hostile_scm_wrong_cmsg_level_and_type(void **state)
{
   int fd = memfd_4k();
   struct vtc c;
   test_client(&server, &c, true);
   ram_add_header(&c);
   send_fds(&c, &fd, 1, IPPROTO_IP, 1, 1);
   expect_dropped(&c, VCMD_GUEST_RAM_ADD, EBADF);
   vtc_close(&c);

   test_client(&server, &c, true);
   ram_add_header(&c);
   struct ucred cred = { getpid(), getuid(), getgid() };
   char control[CMSG_SPACE(sizeof(cred))];
   memset(control, 0, sizeof(control));
   char byte = 0;
   struct iovec iov = { &byte, 1 };
   struct msghdr msg = { .msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control,
                         .msg_controllen = sizeof(control) };
   struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
   cmsg->cmsg_level = SOL_SOCKET;
   cmsg->cmsg_type = SCM_CREDENTIALS;
   cmsg->cmsg_len = CMSG_LEN(sizeof(cred));
   memcpy(CMSG_DATA(cmsg), &cred, sizeof(cred));
   assert_int_equal(sendmsg(c.sock, &msg, MSG_NOSIGNAL), 1);
   expect_dropped(&c, VCMD_GUEST_RAM_ADD, EBADF);
   vtc_close(&c);
   close(fd);
}

static void
test_hostile_scm_several_fds(void **state)
{
   static const int counts[] = { 2, 3, 253 };
   for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
      int fds[253];
      int one = memfd_4k();
      for (int k = 0; k < counts[i]; k++)
         fds[k] = one;
      struct vtc c;
      test_client(&server, &c, true);
      ram_add_header(&c);
      send_fds(&c, fds, counts[i], SOL_SOCKET, SCM_RIGHTS, 1);
      expect_dropped(&c, 0, EBADF);
      vtc_close(&c);
      close(one);
   }
}

static void
test_hostile_scm_wrong_data_bytes(void **state)
{
   int fd = memfd_4k();
   struct vtc c;
   test_client(&server, &c, true);
   ram_add_header(&c);
   send_fds(&c, &fd, 1, SOL_SOCKET, SCM_RIGHTS, 2); /* 2 data bytes */
   assert_true(vtc_server_closed(&c, 5000));
   vtc_close(&c);
   test_client(&server, &c, true);
   ram_add_header(&c);
   send_fds(&c, &fd, 1, SOL_SOCKET, SCM_RIGHTS, 0); /* 0 data bytes: nothing is sent */
   vtc_send(&c, VCMD_PING_PROTOCOL_VERSION, NULL, 0);
   expect_dropped(&c, VCMD_GUEST_RAM_ADD, EBADF);
   vtc_close(&c);
   close(fd);
}

static void
test_hostile_scm_fd_where_none_expected(void **state)
{
   int fd = memfd_4k();
   struct vtc c;
   test_client(&server, &c, true);
   assert_int_equal(vtc_send(&c, VCMD_PING_PROTOCOL_VERSION, NULL, 0), 0);
   expect_reply(&c, VCMD_PING_PROTOCOL_VERSION, NULL, 0);
   send_fds(&c, &fd, 1, SOL_SOCKET, SCM_RIGHTS, 1);
   assert_true(vtc_server_closed(&c, 5000));
   vtc_close(&c);
   close(fd);
}

static void
test_hostile_scm_fd_types(void **state)
{
   int sv[2], pipefd[2];
   assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
   assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
   int sealed = memfd_4k();
   assert_int_equal(fcntl(sealed, F_ADD_SEALS, F_SEAL_WRITE), 0);
   int shrinkless = memfd_4k();
   assert_int_equal(fcntl(shrinkless, F_ADD_SEALS, F_SEAL_SEAL), 0);
   char tmpl[] = "/tmp/vtest-ro-XXXXXX";
   int rw = mkstemp(tmpl);
   assert_true(rw >= 0);
   assert_int_equal(ftruncate(rw, 4096), 0);
   int ro = open(tmpl, O_RDONLY | O_CLOEXEC);
   unlink(tmpl);
   close(rw);
   /* a read-only view of a memfd that is sealed right: only mmap can refuse it */
   int rw_memfd = memfd_4k();
   assert_int_equal(fcntl(rw_memfd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
   char proc[64];
   snprintf(proc, sizeof(proc), "/proc/self/fd/%d", rw_memfd);
   int ro_memfd = open(proc, O_RDONLY | O_CLOEXEC);
   assert_true(ro_memfd >= 0);
   close(rw_memfd);
   struct {
      int fd;
      int status;
   } cases[] = {
      { open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC), EBADF },
      { sv[0], EBADF },
      { open("/dev/zero", O_RDWR | O_CLOEXEC), EBADF },
      { pipefd[0], EBADF },
      { ro, EPERM },        /* not a memfd: no seals to check */
      { ro_memfd, EACCES }, /* cannot be mapped writable */
      { sealed, EPERM },
      { shrinkless, EPERM },
   };
   for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
      struct vtc c;
      test_client(&server, &c, true);
      assert_int_equal(vtc_guest_ram_add(&c, 1ull << 32, 4096, cases[i].fd),
                       cases[i].status);
      vtc_close(&c);
      close(cases[i].fd);
   }
   close(sv[1]);
   close(pipefd[1]);
}

static void
test_hostile_scm_fd_exhaustion(void **state)
{
   struct rlimit old, tight;
   assert_int_equal(prlimit(server.pid, RLIMIT_NOFILE, NULL, &old), 0);
   struct vtc c;
   test_client(&server, &c, true);
   int now = test_pid_fds(server.pid);
   tight = old;
   tight.rlim_cur = (rlim_t)now + 4;
   assert_int_equal(prlimit(server.pid, RLIMIT_NOFILE, &tight, NULL), 0);
   /* RAM regions keep their fds: the server runs out after a few */
   int fd = memfd_4k();
   bool dropped = false;
   for (int i = 0; i < 16 && !dropped; i++) {
      uint32_t req[4] = { 0, 1 + (uint32_t)i, 4096, 0 };
      if (vtc_send(&c, VCMD_GUEST_RAM_ADD, req, 4) || vtc_send_fd(&c, fd)) {
         dropped = true;
         break;
      }
      uint32_t status;
      int ret = vtc_reply(&c, VCMD_GUEST_RAM_ADD, &status, 1, NULL);
      dropped = ret != 0;
   }
   assert_int_equal(prlimit(server.pid, RLIMIT_NOFILE, &old, NULL), 0);
   assert_true(dropped);
   vtc_close(&c);
   close(fd);
}

/* ---- item 5: SUBMIT_CMD2 ---------------------------------------------------------- */

static void
submit2_expect_drop(const uint32_t *payload, uint32_t len, uint32_t err)
{
   struct vtc c;
   test_client(&server, &c, true);
   uint32_t sync;
   assert_int_equal(vtc_sync_create(&c, 0, &sync), 0);
   assert_int_equal(vtc_send(&c, VCMD_SUBMIT_CMD2, payload, len), 0);
   expect_dropped(&c, VCMD_SUBMIT_CMD2, err);
   vtc_close(&c);
}

static void
test_hostile_submit_cmd2_batch_counts(void **state)
{
   static const uint32_t counts[] = { 0, 65, 0x20000001, 0xffffffff };
   uint32_t payload[1 + 8 * 2] = { 0 };
   for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
      payload[0] = counts[i];
      submit2_expect_drop(payload, 6, EINVAL);
      submit2_expect_drop(payload, 17, EINVAL);
   }
   struct vtc c;
   test_client(&server, &c, true);
   assert_int_equal(vtc_send(&c, VCMD_SUBMIT_CMD2, NULL, 0), 0); /* len 0 */
   expect_dropped(&c, VCMD_SUBMIT_CMD2, EPROTO);
   vtc_close(&c);
}

static void
test_hostile_submit_cmd2_ranges(void **state)
{
   /* { flags, cmd_offset, cmd_size, sync_offset, sync_count, ring } */
   static const uint32_t cases[][6] = {
      { 0, 0xffffffff, 2, 0, 0, 0 }, /* cmd range wraps 2^32 */
      { 0, 9, 0xfffffff8, 0, 0, 0 }, /* cmd range wraps */
      { 0, 1, 4, 0, 0, 0 },          /* commands inside the descriptor table */
      { 0, 0, 0, 9, 0x55555556, 0 }, /* 3 * count wraps to 2 */
      { 0, 0, 0, 0xfffffffe, 1, 0 }, /* sync range wraps */
      { 0, 0, 0, 2, 1, 0 },          /* syncs inside the table */
      { 1, 0, 0, 0, 0, 64 },         /* ring_idx 64 */
      { 1, 0, 0, 0, 0, 0xffffffff }, /* ring_idx max */
      { 8, 0, 0, 0, 0, 0 },          /* unknown flag */
      { 4, 0, 0, 0, 0, 0 },          /* OUT_FENCE_FD without RING_IDX */
      { 0, 0, 0, 9, 1, 0 },          /* unknown sync id (the triple is 0s) */
   };
   for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
      uint32_t payload[1 + 8 + 3] = { 1 };
      memcpy(payload + 1, cases[i], sizeof(cases[i]));
      submit2_expect_drop(payload, 12, EINVAL);
   }
}

static void
test_hostile_submit_cmd2_syncobjs_and_fences(void **state)
{
   static const uint32_t syncobjs[][2] = { { 1u << 31, 0 }, { 0, 0xffffffff }, { 1, 1 } };
   for (size_t i = 0; i < sizeof(syncobjs) / sizeof(syncobjs[0]); i++) {
      uint32_t payload[9] = { 1, 1, 0, 0, 0, 0, 0, syncobjs[i][0], syncobjs[i][1] };
      submit2_expect_drop(payload, 9, ENODEV);
   }
   uint32_t out_fence[9] = { 1, 1 | 4, 0, 0, 0, 0, 0, 0, 0 };
   submit2_expect_drop(out_fence, 9, ENOTSUP);
   uint32_t in_fence[9] = { 1, 1 | 2, 0, 0, 0, 0, 0, 0, 0 };
   submit2_expect_drop(in_fence, 9, ENOTSUP);
}

static void
test_hostile_submit_cmd2_validates_before_running(void **state)
{
   /* batch 0 is valid and would bump the seqno; batch 1 is bad: nothing runs */
   struct vtc c;
   test_client(&server, &c, true);
   uint32_t payload[1 + 16 + 4] = { 2 };
   struct vtest_submit_cmd2_batch ok = { 1, 17, 4, 0, 0, 0, 0, 0 };
   struct vtest_submit_cmd2_batch bad = { 1, 17, 4, 0, 0, 64, 0, 0 };
   memcpy(payload + 1, &ok, sizeof(ok));
   memcpy(payload + 9, &bad, sizeof(bad));
   struct hsakmt_ccmd_req nop = { HSAKMT_CCMD_NOP, 16, 77, 0 };
   memcpy(payload + 17, &nop, sizeof(nop));
   assert_int_equal(vtc_send(&c, VCMD_SUBMIT_CMD2, payload, 21), 0);
   expect_dropped(&c, VCMD_SUBMIT_CMD2, EINVAL);
   assert_int_not_equal(*(volatile uint32_t *)c.hk.shmem, 77);
   vtc_close(&c);
}

/* ---- §12.1 item 6: SYNC_WAIT ---------------------------------------------------------
 */

static void
test_hostile_sync_wait_lengths(void **state)
{
   for (uint32_t len = 0; len <= 5; len++) {
      struct vtc c;
      test_client(&server, &c, true);
      uint32_t sync;
      assert_int_equal(vtc_sync_create(&c, 0, &sync), 0);
      uint32_t payload[5] = { 0, 0, sync, 0, 0 };
      assert_int_equal(vtc_send(&c, VCMD_SYNC_WAIT, payload, len), 0);
      if (len == 2 || len == 5) {
         expect_reply(&c, VCMD_SYNC_WAIT, NULL, 0);
         int fd = vtc_recv_fd(&c);
         assert_true(fd >= 0);
         close(fd);
         expect_alive(&c);
      } else {
         expect_dropped(&c, VCMD_SYNC_WAIT, len < 2 ? EPROTO : EINVAL);
      }
      vtc_close(&c);
   }
}

static void
test_hostile_sync_wait_counts_and_ids(void **state)
{
   struct vtc c;
   test_client(&server, &c, true);
   /* 100 000 triples: above the 1024 limit, refused before reading them */
   uint32_t hdr[2] = { 2 + 3 * 100000, VCMD_SYNC_WAIT };
   assert_int_equal(vtc_write(&c, hdr, sizeof(hdr)), 0);
   expect_dropped(&c, VCMD_SYNC_WAIT, EPROTO);
   vtc_close(&c);

   test_client(&server, &c, true);
   uint32_t unknown = 999999;
   uint64_t v = 1;
   assert_true(vtc_sync_wait(&c, 0, 100, &unknown, &v, 1) < 0);
   assert_int_equal(c.error, EEXIST);
   vtc_close(&c);

   /* the same id repeated; every timeout class; waits that outlive the client */
   test_client(&server, &c, true);
   uint32_t sync;
   assert_int_equal(vtc_sync_create(&c, 0, &sync), 0);
   uint32_t ids[3] = { sync, sync, sync };
   uint64_t wants[3] = { 5, 6, 7 };
   static const uint32_t timeouts[] = { 0, 0x80000000u, 0xffffffff, 1 };
   for (size_t i = 0; i < 4; i++) {
      int fd = vtc_sync_wait(&c, 0, timeouts[i], ids, wants, 3);
      assert_true(fd >= 0);
      close(fd);
   }
   vtc_close(&c); /* two waits still pending: freed with the client */
}

/* ---- item 6 / §12.1 item 7: blobs -----------------------------------------------------
 */

static void
blob_expect_drop(uint32_t type, uint32_t flags, uint64_t size, uint64_t blob_id,
                 const char *why)
{
   struct vtc c;
   test_client(&server, &c, true);
   uint32_t res;
   int fd = -1;
   assert_true(vtc_blob_create(&c, type, flags, size, blob_id, &res, &fd) < 0);
   assert_int_equal(c.error_cmd, VCMD_RESOURCE_CREATE_BLOB);
   assert_int_equal(c.error, EINVAL);
   assert_true(vtc_server_closed(&c, 5000));
   vtc_close(&c);
   /* refused for the reason the case is about */
   if (!test_server_log_has(&server, why))
      fail_msg("the server's log does not say \"%s\"", why);
}

static void
test_hostile_blob_sizes(void **state)
{
   static const uint64_t sizes[] = { 0, 1ull << 63, UINT64_MAX, (16ull << 30) + 1 };
   static const char *const why[] = {
      "size 0 outside",
      "size 9223372036854775808 outside",
      "size 18446744073709551615 outside",
      "size 17179869185 outside",
   };
   for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
      blob_expect_drop(VCMD_BLOB_TYPE_GUEST, 1, sizes[i], 0, why[i]);
   /* 1 byte, not page-aligned, is fine: the memfd is a page */
   struct vtc c;
   test_client(&server, &c, true);
   uint32_t res;
   int fd;
   assert_int_equal(vtc_blob_create(&c, VCMD_BLOB_TYPE_GUEST, 1, 1, 0, &res, &fd), 0);
   close(fd);
   vtc_close(&c);
}

static void
test_hostile_blob_types_and_flags(void **state)
{
   blob_expect_drop(0, 1, 4096, 0, "unknown blob type 0");
   blob_expect_drop(4, 1, 4096, 0, "unknown blob type 4");
   blob_expect_drop(0xffffffff, 1, 4096, 0, "unknown blob type 4294967295");
   blob_expect_drop(VCMD_BLOB_TYPE_GUEST, 0x20, 4096, 0,
                    "unknown or inconsistent flags 0x20");
   /* RDONLY without USERPTR */
   blob_expect_drop(VCMD_BLOB_TYPE_GUEST, 0x10, 4096, 0,
                    "unknown or inconsistent flags 0x10");
}

static void
test_hostile_blob_ids(void **state)
{
   blob_expect_drop(VCMD_BLOB_TYPE_HOST3D, 1, 80 * 4096, 0,
                    "a second shared-memory blob");
   blob_expect_drop(VCMD_BLOB_TYPE_HOST3D, 1, 4096, 1ull << 32,
                    "blob id 4294967296 names no pending object");
   blob_expect_drop(VCMD_BLOB_TYPE_HOST3D, 1, 4096, 12345,
                    "blob id 12345 names no pending object");
   /* (neither MAPPABLE nor SHAREABLE on a real allocation: same_blob_id_twice) */
}

/* The same KFD allocation claimed by two resources: the second claim is refused. */
static void
test_hostile_same_blob_id_twice(void **state)
{
   struct vtc c;
   test_client(&server, &c, true);
   uint32_t stats[VTEST_STAT_COUNT];
   assert_int_equal(vtc_debug_stats(&c, stats), 0);
   uint32_t bos = stats[VTEST_STAT_KFD_LIVE_BOS]; /* libhsakmt's own */
   /* the guest's hsaKmtOpenKFD: the fixed-address window for ALLOC */
   struct hsakmt_query_info_req open = { .hdr.cmd = HSAKMT_CCMD_QUERY_INFO,
                                         .type = HSAKMT_QUERY_OPEN_KFD };
   uint64_t hint = 0x7f0000001000ull;
   memcpy(open.raw, &hint, sizeof(hint));
   struct hsakmt_query_info_rsp *opened =
      vtc_hsakmt_call(&c, &open, sizeof(open), sizeof(*opened));
   assert_non_null(opened);
   int open_ret = opened->hdr.ret;
   uint8_t buf[320] = { 0 };
   struct hsakmt_memory_req *req = (struct hsakmt_memory_req *)buf;
   req->hdr.cmd = HSAKMT_CCMD_MEMORY;
   req->type = HSAKMT_MEMORY_ALLOC;
   req->blob_id = vtc_new_blob_id(&c);
   req->alloc.preferred_node = 1;
   req->alloc.mem_flags = HSAKMT_MEMFLAG_NON_PAGED | HSAKMT_MEMFLAG_HOST_ACCESS;
   req->alloc.size_in_bytes = 64 << 10;
   struct hsakmt_memory_rsp *rsp = vtc_hsakmt_call(&c, req, sizeof(*req), sizeof(*rsp));
   assert_non_null(rsp);
#if defined(__SANITIZE_ADDRESS__)
   if (open_ret != 0 || rsp->hdr.ret != 0) {
      /* fixed-address allocations need libhsakmt's reserved aperture, which the
       * server does not use under AddressSanitizer (see README) */
      vtc_close(&c);
      skip();
   }
#endif
   assert_int_equal(open_ret, 0);
   assert_int_equal(rsp->hdr.ret, 0);
   /* not MAPPABLE: KFD memory has no fd to hand to another process */
   uint32_t res;
   int fd = -1;
   assert_int_equal(
      vtc_blob_create(&c, VCMD_BLOB_TYPE_HOST3D, 0, 64 << 10, req->blob_id, &res, &fd),
      0);
   close(fd);
   assert_int_equal(vtc_debug_stats(&c, stats), 0);
   assert_int_equal(stats[VTEST_STAT_KFD_LIVE_BOS], bos + 1);
   uint32_t second;
   assert_true(vtc_blob_create(&c, VCMD_BLOB_TYPE_HOST3D, 0, 64 << 10, req->blob_id,
                               &second, &fd) < 0);
   assert_true(c.error != 0);
   assert_true(vtc_server_closed(&c, 5000));
   vtc_close(&c);
   /* the allocation went with the client (check_clean counts the fds) */
   test_client(&server, &c, true);
   assert_int_equal(vtc_debug_stats(&c, stats), 0);
   assert_int_equal(stats[VTEST_STAT_KFD_LIVE_BOS], bos);
   vtc_close(&c);
}

static void
test_hostile_export_guest_blob(void **state)
{
   struct vtc c;
   test_client(&server, &c, true);
   uint32_t res;
   int fd;
   assert_int_equal(vtc_blob_create(&c, VCMD_BLOB_TYPE_GUEST, 1, 4096, 0, &res, &fd), 0);
   close(fd);
   assert_true(vtc_export_fd(&c, res) < 0);
   assert_int_equal(c.error_cmd, VCMD_RESOURCE_EXPORT_FD);
   vtc_close(&c);
}

/* ---- item 7: resource ids
 * -------------------------------------------------------------- */

static void
test_hostile_use_after_unref(void **state)
{
   struct vtc c;
   test_client(&server, &c, true);
   uint32_t res;
   int fd;
   assert_int_equal(vtc_blob_create(&c, VCMD_BLOB_TYPE_GUEST, 1, 4096, 0, &res, &fd), 0);
   close(fd);
   assert_int_equal(vtc_unref(&c, res), 0);
   assert_int_equal(vtc_unref(&c, res), 0); /* double unref: logged, ignored */
   uint32_t busy;
   assert_int_equal(vtc_busy_wait(&c, res, 0, &busy), 0); /* a freed handle */
   assert_int_equal(busy, 0);
   /* a ccmd naming the freed resource: the library answers it, the server lives */
   uint8_t buf[320] = { 0 };
   struct hsakmt_memory_req *req = (struct hsakmt_memory_req *)buf;
   req->hdr.cmd = HSAKMT_CCMD_MEMORY;
   req->type = HSAKMT_MEMORY_MAP_USERPTR;
   req->res_id = res;
   struct hsakmt_memory_rsp *rsp = vtc_hsakmt_call(&c, req, sizeof(*req), 16);
   assert_non_null(rsp);
   assert_int_not_equal(rsp->hdr.ret, 0);
   assert_true(vtc_export_fd(&c, res) < 0);
   assert_int_equal(c.error, EINVAL);
   vtc_close(&c);
}

/*
 * A resource unref'd right behind a submit that names it, while that submit's
 * fence on ring 1 is still pending: the sync still signals, the registration
 * goes with the resource, and nothing is left behind.
 */
static void
test_hostile_unref_while_submit_in_flight(void **state)
{
   struct vtc c;
   test_client(&server, &c, true);
   uint32_t stats[VTEST_STAT_COUNT];
   assert_int_equal(vtc_debug_stats(&c, stats), 0);
   uint32_t userptrs = stats[VTEST_STAT_KFD_USERPTRS];

   const uint32_t pages = 4;
   int ram = memfd_create("ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
   assert_true(ram >= 0);
   assert_int_equal(ftruncate(ram, 1 << 20), 0);
   assert_int_equal(vtc_guest_ram_add(&c, 1ull << 32, 1 << 20, ram), 0);
   close(ram);
   struct vtest_sg_entry sg[4];
   for (uint32_t k = 0; k < pages; k++)
      sg[k] = (struct vtest_sg_entry){ (1ull << 32) + (3 - k) * 8192ull, 4096 };
   uint32_t res = 0;
   assert_int_equal(vtc_blob_sg(&c, VCMD_BLOB_TYPE_HOST3D_GUEST,
                                VCMD_BLOB_FLAG_USE_USERPTR, pages * 4096ull,
                                vtc_new_blob_id(&c), sg, pages, &res),
                    0);
   uint8_t buf[320] = { 0 };
   struct hsakmt_memory_req *req = (struct hsakmt_memory_req *)buf;
   req->hdr.cmd = HSAKMT_CCMD_MEMORY;
   req->type = HSAKMT_MEMORY_MAP_USERPTR;
   req->res_id = res;
   struct hsakmt_memory_rsp *rsp = vtc_hsakmt_call(&c, req, sizeof(*req), sizeof(*rsp));
   assert_non_null(rsp);
   assert_int_equal(rsp->hdr.ret, 0);
   uint64_t handle = rsp->map_userptr.userptr_handle;
   memset(buf, 0, sizeof(buf));
   req->hdr.cmd = HSAKMT_CCMD_MEMORY;
   req->type = HSAKMT_MEMORY_REG_MEM_WITH_FLAG;
   req->res_id = res;
   req->reg_mem_with_flag.memory_address = handle;
   req->reg_mem_with_flag.memory_size_in_bytes = pages * 4096ull;
   rsp = vtc_hsakmt_call(&c, req, sizeof(*req), sizeof(*rsp));
   assert_non_null(rsp);
   assert_int_equal(rsp->hdr.ret, 0);
   assert_int_equal(vtc_debug_stats(&c, stats), 0);
   assert_int_equal(stats[VTEST_STAT_KFD_USERPTRS], userptrs + 1);

   /*
    * Ring 1: MAP_TO_GPU_NODES on the resource, with a sync to signal, and its
    * RESOURCE_UNREF in the same write: the server reads both at once and unrefs
    * the resource before the ring's fence is retired (fence callbacks run only
    * between turns of its loop).
    */
   uint32_t sync;
   assert_int_equal(vtc_sync_create(&c, 0, &sync), 0);
   memset(buf, 0, sizeof(buf));
   uint32_t node = 1;
   req->hdr.cmd = HSAKMT_CCMD_MEMORY;
   req->type = HSAKMT_MEMORY_MAP_TO_GPU_NODES;
   req->res_id = res;
   req->map_to_gpu_nodes.memory_address = handle;
   req->map_to_gpu_nodes.memory_size_in_bytes = pages * 4096ull;
   req->map_to_gpu_nodes.number_of_nodes = 1;
   memcpy(buf + HSAKMT_MEMORY_PAYLOAD_OFFSET, &node, 4);
   uint32_t req_len = (HSAKMT_MEMORY_PAYLOAD_OFFSET + 4 + 7) & ~7u;
   rsp = vtc_hsakmt_frame(&c, req, req_len, sizeof(*rsp));
   assert_non_null(rsp);
   uint64_t value = 7;
   uint32_t unref[3] = { 1, VCMD_RESOURCE_UNREF, res };
   assert_int_equal(vtc_submit_cmd2_then(&c, 1, req, req_len / 4, &sync, &value, 1, unref,
                                         sizeof(unref)),
                    0);
   int efd = vtc_sync_wait(&c, 0, 5000, &sync, &value, 1);
   assert_true(efd >= 0);
   struct pollfd pfd = { efd, POLLIN, 0 };
   assert_int_equal(poll(&pfd, 1, 5000), 1);
   close(efd);
   /* the command ran, on the live resource, before the unref */
   assert_true(vtc_hsakmt_wait(&c, req->hdr.seqno));
   assert_int_equal(rsp->hdr.ret, 0);
   uint32_t busy = 1;
   assert_int_equal(vtc_busy_wait(&c, res, VCMD_BUSY_WAIT_FLAG_WAIT, &busy), 0);
   assert_int_equal(busy, 0);
   assert_int_equal(vtc_debug_stats(&c, stats), 0);
   assert_int_equal(stats[VTEST_STAT_KFD_USERPTRS], userptrs);
   assert_int_equal(stats[VTEST_STAT_RESOURCES], 1); /* the shmem */
   expect_alive(&c);
   vtc_close(&c);
}

static void
test_hostile_res_id_wrap_around(void **state)
{
   static const char *const opts[] = { "--first-res-id", "0xfffffffe", NULL };
   struct test_server wrap;
   test_server_start(&wrap, opts);
   struct vtc c;
   test_client(&wrap, &c, true);
   assert_int_equal(c.shmem_res, 0xfffffffe);
   uint32_t ids[4];
   for (int i = 0; i < 4; i++) {
      int fd;
      assert_int_equal(
         vtc_blob_create(&c, VCMD_BLOB_TYPE_GUEST, 1, 4096, 0, &ids[i], &fd), 0);
      close(fd);
      assert_int_not_equal(ids[i], 0);
      assert_int_not_equal(ids[i], c.shmem_res);
   }
   assert_int_equal(ids[0], 0xffffffff);
   assert_int_equal(ids[1], 1); /* 0 is skipped */
   vtc_close(&c);
   test_server_stop(&wrap);
}

/* ---- item 8 / §12.1 item 9: many clients, cross-client ids
 * ----------------------------- */

static void
many_clients(struct test_server *srv, int at_once)
{
   /* 100 clients, `at_once` connected together; every other one leaves in the
    * middle of a RESOURCE_CREATE_BLOB */
   for (int i = 0; i < 100; i += at_once) {
      struct vtc c[20];
      for (int k = 0; k < at_once; k++)
         test_client(srv, &c[k], (i + k) % 3 == 0);
      uint32_t part[3] = { 6, VCMD_RESOURCE_CREATE_BLOB, 1 };
      for (int k = 0; k < at_once; k++) {
         if ((i + k) % 2)
            assert_int_equal(vtc_write(&c[k], part, sizeof(part)), 0);
         vtc_close(&c[k]);
      }
   }
}

static void
test_hostile_many_clients_multi(void **state)
{
   many_clients(&server, 20); /* check_clean compares the fds afterwards */
}

static void
test_hostile_many_clients_fork_and_no_fork(void **state)
{
   static const char *const nofork[] = { "--no-fork", NULL };
   struct test_server srv;
   test_server_start(&srv, NULL);
   int fds = test_pid_fds(srv.pid);
   many_clients(&srv, 20);
   for (int i = 0; i < 300 && test_pid_fds(srv.pid) != fds; i++)
      usleep(10000);
   assert_int_equal(test_pid_fds(srv.pid), fds);
   test_server_stop(&srv);
   /* one client at a time: the others wait in the listen queue */
   test_server_start(&srv, nofork);
   struct vtc warm;
   test_client(&srv, &warm, true);
   vtc_close(&warm);
   usleep(100000);
   fds = test_pid_fds(srv.pid);
   many_clients(&srv, 1);
   for (int i = 0; i < 300 && test_pid_fds(srv.pid) != fds; i++)
      usleep(10000);
   assert_int_equal(test_pid_fds(srv.pid), fds);
   test_server_stop(&srv);
}

static void
test_hostile_cross_client_ids(void **state)
{
   struct vtc a, b;
   test_client(&server, &a, true);
   test_client(&server, &b, true);
   uint32_t sync;
   assert_int_equal(vtc_sync_create(&a, 7, &sync), 0);
   uint64_t v;
   assert_true(vtc_sync_read(&b, sync, &v) < 0); /* a's sync is not b's */
   assert_int_equal(b.error, EEXIST);
   vtc_close(&b);
   test_client(&server, &b, true);
   assert_true(vtc_export_fd(&b, a.shmem_res) < 0); /* nor is its shmem */
   assert_int_equal(b.error, EINVAL);
   vtc_close(&b);
   assert_int_equal(vtc_sync_read(&a, sync, &v), 0);
   assert_true(v == 7);
   vtc_close(&a);
}

/* ---- §12.1 items 10-11 ---------------------------------------------------------------
 */

static void
test_hostile_drm_sync_without_device(void **state)
{
   struct vtc c;
   test_client(&server, &c, true);
   uint32_t wait[4] = { 1u << 30, 0xffffffff, 0x7fffffff, 0 };
   assert_int_equal(vtc_send(&c, VCMD_DRM_SYNC_WAIT, wait, 4), 0);
   expect_dropped(&c, VCMD_DRM_SYNC_WAIT, ENODEV);
   vtc_close(&c);
   test_client(&server, &c, true);
   uint32_t zero = 0;
   assert_int_equal(vtc_send(&c, VCMD_DRM_SYNC_RESET, &zero, 1), 0);
   expect_dropped(&c, VCMD_DRM_SYNC_RESET, ENODEV);
   vtc_close(&c);
}

static void
test_hostile_get_capset_every_id(void **state)
{
   struct vtc c;
   test_client(&server, &c, false);
   static const uint32_t versions[] = { 0, 1, 2, 0xffffffff };
   uint8_t caps[4096];
   for (uint32_t id = 0; id < 256; id++) {
      for (size_t v = 0; v < 4; v++) {
         int size = vtc_get_capset(&c, id, versions[v], caps, sizeof(caps));
         assert_true(size >= 0);
         bool valid = id == HSAKMT_CAPSET_ID && versions[v] <= 1;
         assert_int_equal(size > 0, valid);
      }
   }
   vtc_close(&c);
}

#define T(fn) cmocka_unit_test_teardown(fn, check_clean)

int
main(int argc, char **argv)
{
   test_server_exe = argc > 1 ? argv[1] : "virtkfd_test_server_kfdsim";
   const struct CMUnitTest tests[] = {
      T(test_hostile_len_max_every_id),
      T(test_hostile_len_0_and_1_every_id),
      T(test_hostile_len_off_by_one),
      T(test_hostile_bad_command_ids),
      T(test_hostile_commands_before_create_renderer),
      T(test_hostile_commands_before_protocol_version),
      T(test_hostile_commands_before_context_init),
      T(test_hostile_context_init_bad_capsets),
      T(test_hostile_truncated_message_then_eof),
      T(test_hostile_byte_at_a_time_sender),
      T(test_hostile_client_never_reads_replies),
      T(test_hostile_scm_no_fd_where_expected),
      T(test_hostile_scm_wrong_cmsg_level_and_type),
      T(test_hostile_scm_several_fds),
      T(test_hostile_scm_wrong_data_bytes),
      T(test_hostile_scm_fd_where_none_expected),
      T(test_hostile_scm_fd_types),
      T(test_hostile_scm_fd_exhaustion),
      T(test_hostile_submit_cmd2_batch_counts),
      T(test_hostile_submit_cmd2_ranges),
      T(test_hostile_submit_cmd2_syncobjs_and_fences),
      T(test_hostile_submit_cmd2_validates_before_running),
      T(test_hostile_sync_wait_lengths),
      T(test_hostile_sync_wait_counts_and_ids),
      T(test_hostile_blob_sizes),
      T(test_hostile_blob_types_and_flags),
      T(test_hostile_blob_ids),
      T(test_hostile_same_blob_id_twice),
      T(test_hostile_export_guest_blob),
      T(test_hostile_use_after_unref),
      T(test_hostile_unref_while_submit_in_flight),
      T(test_hostile_res_id_wrap_around),
      T(test_hostile_many_clients_multi),
      T(test_hostile_many_clients_fork_and_no_fork),
      T(test_hostile_cross_client_ids),
      T(test_hostile_drm_sync_without_device),
      T(test_hostile_get_capset_every_id),
   };
   return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
