/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Round trips per second over the vtest socket, against virtkfd_test_server on the
 * KFD emulator and, in the same run, against Debian's virgl_test_server (package
 * virgl-server, capset 2 on llvmpipe, `--socket-path=PATH`) for the operations it
 * has. Both servers run in their default fork-per-client mode. Target: virtkfd is
 * not slower than virgl_test_server on any shared operation.
 *
 * usage: bench_vtest --server PATH --kfd-emulator LIB [--upstream PATH] [--iters N]
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include "vtest_client.h"

#define REPS 7

struct server {
   pid_t pid;
   char dir[64], path[96];
};

static bool
server_start(struct server *s, char *const *argv_tail, const char *exe, bool upstream)
{
   strcpy(s->dir, "/tmp/bench-vtest-XXXXXX");
   if (!mkdtemp(s->dir))
      bench_die("mkdtemp");
   snprintf(s->path, sizeof(s->path), "%s/sock", s->dir);
   char eq[128];
   snprintf(eq, sizeof(eq), "--socket-path=%s", s->path);
   char *argv[16] = { (char *)exe };
   int argc = 1;
   if (upstream) {
      argv[argc++] = eq; /* virgl_test_server takes only the --opt=value form */
   } else {
      argv[argc++] = "--socket-path";
      argv[argc++] = s->path;
   }
   for (int i = 0; argv_tail[i] && argc < 15; i++)
      argv[argc++] = argv_tail[i];
   argv[argc] = NULL;
   s->pid = fork();
   if (s->pid < 0)
      bench_die("fork");
   if (s->pid == 0) {
      int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
      if (null >= 0) {
         dup2(null, 1); /* virgl_test_server chats on stdout */
         dup2(null, 2);
      }
      if (upstream) {
         /* Debian's libvirglrenderer, not this build's (meson's LD_LIBRARY_PATH) */
         unsetenv("LD_LIBRARY_PATH");
         unsetenv("LD_PRELOAD");
      }
      execv(exe, argv);
      _exit(127);
   }
   /* the path may exist before listen(): wait until a connection is accepted */
   for (int i = 0; i < 400; i++) {
      struct vtc probe;
      if (vtc_connect_raw(&probe, s->path) == 0) {
         vtc_close(&probe);
         return true;
      }
      if (waitpid(s->pid, NULL, WNOHANG) == s->pid)
         return false;
      usleep(10000);
   }
   return false;
}

static void
server_stop(struct server *s)
{
   kill(s->pid, SIGTERM);
   waitpid(s->pid, NULL, 0);
   unlink(s->path);
   rmdir(s->dir);
}

enum op {
   OP_RING0_SEQNO,
   OP_SUBMIT_BUSY_WAIT,
   OP_GUEST_BLOB,
   OP_SYNC,
   OP_COUNT,
};

static const char *const op_names[OP_COUNT] = {
   "ring-0 ccmd + seqno wait",
   "SUBMIT_CMD + BUSY_WAIT(WAIT)",
   "GUEST blob create + unref (64 KiB)",
   "SYNC create/write/read/unref",
};

/* One iteration of `op`; false on any failure. */
static bool
run_op(struct vtc *c, enum op op)
{
   switch (op) {
   case OP_RING0_SEQNO: {
      struct hsakmt_ccmd_req nop = { .cmd = HSAKMT_CCMD_NOP };
      return vtc_hsakmt_call(c, &nop, sizeof(nop), 0) != NULL;
   }
   case OP_SUBMIT_BUSY_WAIT: {
      uint32_t busy = 1;
      return vtc_submit_cmd(c, NULL, 0) == 0 &&
             vtc_busy_wait(c, 0, VCMD_BUSY_WAIT_FLAG_WAIT, &busy) == 0 && busy == 0;
   }
   case OP_GUEST_BLOB: {
      uint32_t res;
      int fd;
      if (vtc_blob_create(c, VCMD_BLOB_TYPE_GUEST, VCMD_BLOB_FLAG_MAPPABLE, 64 << 10, 0,
                          &res, &fd))
         return false;
      close(fd);
      return vtc_unref(c, res) == 0;
   }
   case OP_SYNC: {
      uint32_t id;
      uint64_t value = 0;
      return vtc_sync_create(c, 1, &id) == 0 && vtc_sync_write(c, id, 2) == 0 &&
             vtc_sync_read(c, id, &value) == 0 && value == 2 &&
             vtc_sync_unref(c, id) == 0;
   }
   default:
      return false;
   }
}

/* One connection to a server, ready for `op`, warmed up; false when that fails. */
static bool
bench_connect(struct vtc *c, const char *path, bool hsakmt, enum op op)
{
   if (vtc_connect(c, path, "bench_vtest"))
      return false;
   bool ok = !(hsakmt ? vtc_hsakmt_open(c, 80 * 4096) : vtc_context_init(c, 2));
   for (int i = 0; ok && i < 10; i++)
      ok = run_op(c, op);
   if (!ok)
      vtc_close(c);
   return ok;
}

/* Round trips per second of `iters` iterations, or 0 when one fails. */
static double
measure_once(struct vtc *c, enum op op, int iters)
{
   double t = bench_now();
   for (int i = 0; i < iters; i++)
      if (!run_op(c, op))
         return 0;
   return iters / (bench_now() - t);
}

/*
 * Medians of REPS repetitions for both servers. The repetitions alternate between
 * them so that drift on the machine (other load, frequency) hits both alike.
 */
static void
measure_pair(const char *ours_path, const char *theirs_path, enum op op, int iters,
             double *ours_rate, double *theirs_rate)
{
   struct vtc a, b;
   bool conn_a = bench_connect(&a, ours_path, true, op);
   bool conn_b = theirs_path && bench_connect(&b, theirs_path, false, op);
   bool ok_a = conn_a, ok_b = conn_b;
   double ra[REPS], rb[REPS];
   for (int r = 0; r < REPS; r++) {
      ok_a = ok_a && (ra[r] = measure_once(&a, op, iters)) > 0;
      ok_b = ok_b && (rb[r] = measure_once(&b, op, iters)) > 0;
   }
   *ours_rate = ok_a ? bench_median(ra, REPS) : 0;
   *theirs_rate = ok_b ? bench_median(rb, REPS) : 0;
   if (conn_a)
      vtc_close(&a);
   if (conn_b)
      vtc_close(&b);
}

/*
 * One table of figures; false when a shared operation is slower than upstream.
 * `compared` counts the operations measured on both servers, `failed` those that
 * failed on one of them.
 */
static bool
run_table(const struct server *ours, const struct server *theirs, int iters,
          int *compared, int *failed)
{
   printf("%-38s %14s %18s %8s %s\n", "operation", "virtkfd", "virgl_test_server",
          "ratio", "target");
   bool all = true;
   for (int op = 0; op < OP_COUNT; op++) {
      double a, b;
      measure_pair(ours->path, theirs && op != OP_RING0_SEQNO ? theirs->path : NULL,
                   (enum op)op, iters, &a, &b);
      if (b > 0) {
         bool pass = a >= b;
         all &= pass;
         (*compared)++;
         printf("%-38s %14.0f %18.0f %7.2fx %s\n", op_names[op], a, b, a / b,
                bench_verdict(pass));
      } else {
         printf("%-38s %14.0f %18s %8s %s\n", op_names[op], a,
                op == OP_RING0_SEQNO ? "n/a (no native ctx)"
                                     : (theirs ? "failed" : "not installed"),
                "-", "-");
         /* an operation that failed on either server leaves the target unjudged */
         if (!a || (theirs && op != OP_RING0_SEQNO))
            *failed += 1;
      }
   }
   return all;
}

int
main(int argc, char **argv)
{
   const char *server_exe = NULL, *kfdsim = NULL,
              *upstream_exe = "/usr/bin/virgl_test_server";
   int iters = 2000;
   for (int i = 1; i + 1 < argc; i += 2) {
      if (!strcmp(argv[i], "--server"))
         server_exe = argv[i + 1];
      else if (!strcmp(argv[i], "--kfd-emulator"))
         kfdsim = argv[i + 1];
      else if (!strcmp(argv[i], "--upstream"))
         upstream_exe = argv[i + 1];
      else if (!strcmp(argv[i], "--iters"))
         iters = atoi(argv[i + 1]);
   }
   if (!server_exe || iters <= 0) {
      fprintf(stderr,
              "usage: %s --server PATH [--kfd-emulator LIB] [--upstream PATH] "
              "[--iters N]\n",
              argv[0]);
      return 1;
   }

   struct server ours, theirs;
   char *ours_tail[] = { "--kfd-emulator", (char *)(kfdsim ? kfdsim : ""), NULL };
   if (!server_start(&ours, kfdsim ? ours_tail : ours_tail + 2, server_exe, false))
      bench_die("virtkfd_test_server did not start");
   char *theirs_tail[] = { "--use-egl-surfaceless", NULL };
   bool have_upstream = access(upstream_exe, X_OK) == 0 &&
                        server_start(&theirs, theirs_tail, upstream_exe, true);

   /*
    * Each round trip is two wake-ups, so the figures depend mostly on where the
    * scheduler puts the client and the server. First everything on one CPU, where
    * a wake-up is a plain context switch and the run-to-run spread is small; then
    * unpinned, as a VMM usually runs, where cross-CPU wake-ups dominate.
    */
   cpu_set_t all_cpus, one_cpu;
   if (sched_getaffinity(0, sizeof(all_cpus), &all_cpus))
      bench_die("sched_getaffinity");
   CPU_ZERO(&one_cpu);
   for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
      if (CPU_ISSET(cpu, &all_cpus)) {
         CPU_SET(cpu, &one_cpu);
         break;
      }
   }
   bool all = true;
   int compared = 0, failed = 0;
   for (int pass = 0; pass < 2; pass++) {
      const cpu_set_t *mask = pass == 0 ? &one_cpu : &all_cpus;
      /* the servers fork a child per connection, which inherits this */
      pid_t pids[] = { 0, ours.pid, have_upstream ? theirs.pid : 0 };
      for (int i = 0; i < 3; i++)
         if ((i == 0 || pids[i]) && sched_setaffinity(pids[i], sizeof(*mask), mask))
            bench_die("sched_setaffinity");
      printf("%svtest round trips per second, %s (median of %d x %d, alternating "
             "between the servers; fork-per-client servers)\n",
             pass ? "\n" : "", pass == 0 ? "client and servers on one CPU" : "unpinned",
             REPS, iters);
      all &= run_table(&ours, have_upstream ? &theirs : NULL, iters, &compared, &failed);
   }
   printf("target (not slower than virgl_test_server on any shared operation, in both "
          "runs): %s\n",
          failed          ? "INCOMPLETE (an operation failed)"
          : compared      ? bench_verdict(all)
          : have_upstream ? "not measured (virgl_test_server failed)"
                          : "not measured (virgl_test_server not installed)");
   printf("(an empty SUBMIT_CMD makes virgl_test_server create a GL fence on llvmpipe; "
          "virtkfd's ctx0 fence has no GPU work behind it)\n");
   server_stop(&ours);
   if (have_upstream)
      server_stop(&theirs);
   return 0;
}
