/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * One client must not take what a --multi-clients server shares between all of
 * them: the loop (a client that keeps its socket full), the sync table, pending
 * waits, resources, queued fds, and the fd table (accept() under EMFILE must not
 * spin). Each limit ends the greedy session with a logged reason and ENOSPC, and
 * the others keep being served.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "server_test.h"

static struct test_server server;

static int
group_setup(void **state)
{
   static const char *const multi[] = { "--multi-clients", NULL };
   test_server_start(&server, multi);
   return 0;
}

static int
group_teardown(void **state)
{
   test_server_stop(&server);
   return 0;
}

static double
now_s(void)
{
   struct timespec t;
   clock_gettime(CLOCK_MONOTONIC, &t);
   return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* CPU seconds the server process has used (utime + stime). */
static double
server_cpu_s(void)
{
   char path[64], buf[1024];
   snprintf(path, sizeof(path), "/proc/%d/stat", (int)server.pid);
   FILE *f = fopen(path, "re");
   assert_non_null(f);
   size_t n = fread(buf, 1, sizeof(buf) - 1, f);
   fclose(f);
   buf[n] = 0;
   /* fields 14 and 15, counted after the ")" that ends the command name */
   char *p = strrchr(buf, ')');
   assert_non_null(p);
   unsigned long utime = 0, stime = 0;
   assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                           &utime, &stime),
                    2);
   return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static int
lowest_free_fd(pid_t pid)
{
   char path[64];
   for (int fd = 0;; fd++) {
      snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
      if (access(path, F_OK) != 0)
         return fd;
   }
}

/* A client that writes SYNC_WRITEs as fast as it can, until it is killed. */
static pid_t
start_flooder(void)
{
   int ready[2];
   assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
   pid_t pid = fork();
   assert_true(pid >= 0);
   if (pid == 0) {
      struct vtc c;
      uint32_t sync;
      if (vtc_connect(&c, server.path, "flood") || vtc_hsakmt_open(&c, 80 * 4096) ||
          vtc_sync_create(&c, 0, &sync))
         _exit(1);
      enum {
         PER_WRITE = 4096
      };
      static uint32_t burst[PER_WRITE * 5];
      for (uint32_t i = 0; i < PER_WRITE; i++) {
         uint32_t *m = burst + 5 * i;
         m[0] = 3;
         m[1] = VCMD_SYNC_WRITE;
         m[2] = sync;
         m[3] = i;
         m[4] = 0;
      }
      /* more than the server reads at once, so that its reads are never short
       * (root may exceed net.core.wmem_max) */
      int size = 16 << 20;
      if (setsockopt(c.sock, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)))
         setsockopt(c.sock, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
      char one = 1;
      if (write(ready[1], &one, 1) != 1)
         _exit(1);
      for (;;)
         if (vtc_write(&c, burst, sizeof(burst)))
            _exit(0);
   }
   close(ready[1]);
   char one = 0;
   assert_int_equal(read(ready[0], &one, 1), 1);
   close(ready[0]);
   return pid;
}

static void
test_a_flooding_client_does_not_starve_others(void **state)
{
   pid_t flooder = start_flooder();
   usleep(100000); /* let it fill its socket */
   struct vtc c;
   double start = now_s();
   test_client(&server, &c, true);
   for (int i = 0; i < 200; i++)
      expect_alive(&c);
   struct hsakmt_ccmd_req nop = { .cmd = HSAKMT_CCMD_NOP };
   for (int i = 0; i < 50; i++)
      assert_non_null(vtc_hsakmt_call(&c, &nop, sizeof(nop), 0));
   double took = now_s() - start;
   vtc_close(&c);
   kill(flooder, SIGKILL);
   assert_int_equal(waitpid(flooder, NULL, 0), flooder);
   /* served in turns: well within the client's own 20 s timeouts */
   if (took > 5.0)
      fail_msg("250 round trips beside a flooding client took %.1f s", took);
}

static void
test_sync_table_limit(void **state)
{
   struct vtc c;
   test_client(&server, &c, true);
   /* pipelined: every create is sent before any reply is read */
   enum {
      N = VTEST_MAX_CLIENT_SYNCS + 1
   };
   uint32_t *msgs = calloc(N, 4 * sizeof(uint32_t));
   assert_non_null(msgs);
   for (uint32_t i = 0; i < N; i++) {
      msgs[4 * i] = 2;
      msgs[4 * i + 1] = VCMD_SYNC_CREATE;
   }
   pid_t writer = fork();
   assert_true(writer >= 0);
   if (writer == 0)
      _exit(vtc_write(&c, msgs, (size_t)N * 16) ? 1 : 0);
   free(msgs);
   for (uint32_t i = 0; i < VTEST_MAX_CLIENT_SYNCS; i++)
      expect_reply(&c, VCMD_SYNC_CREATE, NULL, 1);
   expect_dropped(&c, VCMD_SYNC_CREATE, ENOSPC);
   assert_int_equal(waitpid(writer, NULL, 0), writer);
   assert_true(test_server_log_has(&server, "syncs already (at most 65536 per client)"));
   vtc_close(&c);
   test_client(&server, &c, true);
   expect_alive(&c);
   vtc_close(&c);
}

static void
test_pending_wait_conditions_limit(void **state)
{
   struct vtc c;
   test_client(&server, &c, true);
   uint32_t sync;
   assert_int_equal(vtc_sync_create(&c, 0, &sync), 0);
   enum {
      PER_WAIT = 1024
   };
   uint32_t *ids = malloc(PER_WAIT * sizeof(*ids));
   uint64_t *values = malloc(PER_WAIT * sizeof(*values));
   assert_non_null(ids);
   assert_non_null(values);
   for (int i = 0; i < PER_WAIT; i++) {
      ids[i] = sync;
      values[i] = 1000 + (uint64_t)i; /* never reached */
   }
   for (int w = 0; w < VTEST_MAX_PENDING_CONDS / PER_WAIT; w++) {
      int efd = vtc_sync_wait(&c, 0, UINT32_MAX, ids, values, PER_WAIT);
      assert_true(efd >= 0);
      close(efd);
   }
   assert_true(vtc_sync_wait(&c, 0, UINT32_MAX, ids, values, 1) < 0);
   assert_int_equal(c.error_cmd, VCMD_SYNC_WAIT);
   assert_int_equal(c.error, ENOSPC);
   free(ids);
   free(values);
   vtc_close(&c);
   test_client(&server, &c, false);
   expect_alive(&c);
   vtc_close(&c);
}

static void
test_queued_fds_are_bounded(void **state)
{
   struct vtc c;
   test_client(&server, &c, true);
   int base = test_pid_fds(server.pid);
   /* 512 GUEST blobs without reading a reply: each one queues a memfd */
   enum {
      N = 512
   };
   uint32_t msg[2 + 6] = { 6, VCMD_RESOURCE_CREATE_BLOB, VCMD_BLOB_TYPE_GUEST, 1, 4096 };
   int flags = fcntl(c.sock, F_GETFL);
   fcntl(c.sock, F_SETFL, flags | O_NONBLOCK);
   int sent = 0;
   for (int stalls = 0; sent < N && stalls < 40;) {
      ssize_t n = send(c.sock, msg, sizeof(msg), MSG_NOSIGNAL);
      if (n == (ssize_t)sizeof(msg)) {
         sent++;
         stalls = 0;
      } else {
         assert_true(n < 0 && errno == EAGAIN); /* whole messages: they are small */
         stalls++;
         usleep(5000);
      }
   }
   fcntl(c.sock, F_SETFL, flags);
   usleep(200000);
   /* the server stopped reading once 64 fds waited for the client */
   int held = test_pid_fds(server.pid) - base;
   if (held > 64 + 8)
      fail_msg("the server holds %d more fds for a client that does not read", held);
   /* and everything still arrives once the client reads */
   for (int i = 0; i < sent; i++) {
      expect_reply(&c, VCMD_RESOURCE_CREATE_BLOB, NULL, 1);
      int fd = vtc_recv_fd(&c);
      assert_true(fd >= 0);
      close(fd);
   }
   expect_alive(&c);
   vtc_close(&c);
}

static void
test_accept_without_fds_does_not_spin(void **state)
{
   struct rlimit old, tight;
   assert_int_equal(prlimit(server.pid, RLIMIT_NOFILE, NULL, &old), 0);
   /* earlier sessions' fds are closed by then */
   for (int i = 0, last = -1, now; i < 100 && (now = test_pid_fds(server.pid)) != last;
        i++) {
      last = now;
      usleep(50000);
   }
   /* the lowest free fd number: no new fd at all, while poll() still takes the
    * fds the server has (it refuses more pollfds than the limit) */
   tight = old;
   tight.rlim_cur = (rlim_t)lowest_free_fd(server.pid);
   assert_true(tight.rlim_cur >= 3 + 4);
   assert_int_equal(prlimit(server.pid, RLIMIT_NOFILE, &tight, NULL), 0);
   /* a connection the server cannot accept stays queued, its socket readable */
   struct vtc waiting;
   assert_int_equal(vtc_connect_raw(&waiting, server.path), 0);
   double cpu = server_cpu_s();
   usleep(1000000);
   double used = server_cpu_s() - cpu;
   assert_int_equal(prlimit(server.pid, RLIMIT_NOFILE, &old, NULL), 0);
   if (used > 0.3)
      fail_msg("the server used %.2f s of CPU in 1 s while it could not accept", used);
   /* with fds again, the queued client is served */
   vtc_close(&waiting);
   struct vtc c;
   test_client(&server, &c, false);
   expect_alive(&c);
   vtc_close(&c);
   assert_true(test_server_log_has(&server, "cannot accept a client"));
}

int
main(int argc, char **argv)
{
   test_server_exe = argc > 1 ? argv[1] : "virtkfd_test_server_kfdsim";
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a_flooding_client_does_not_starve_others),
      cmocka_unit_test(test_sync_table_limit),
      cmocka_unit_test(test_pending_wait_conditions_limit),
      cmocka_unit_test(test_queued_fds_are_bounded),
      cmocka_unit_test(test_accept_without_fds_does_not_spin),
   };
   return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
