/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The cost of forwarding: the same capset-2 sequence on llvmpipe (a GL context, a
 * texture with guest backing, N transfers each with a context-0 fence, as QEMU sends
 * TRANSFER_TO_HOST_2D, then waiting for the last fence) run by this one program
 * linked straight against the system libvirglrenderer.so.1 and through virtkfd's,
 * in the same run, repetitions alternating. Target: through virtkfd <= 1.05x.
 *
 * The program is linked with virtkfd's library. It runs itself as a child twice per
 * repetition: once as is, and once with LD_LIBRARY_PATH naming a directory whose
 * libvirglrenderer.so.1 is the system library, so that the dynamic loader binds the
 * very same calls straight to it. Each child says which file it got.
 *
 * usage: bench_forward [--transfers N] [--reps N] [--system-library PATH]
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"
#include "virglrenderer.h"

#ifndef BENCH_SYSTEM_LIBRARY
#define BENCH_SYSTEM_LIBRARY "/usr/lib/x86_64-linux-gnu/libvirglrenderer.so.1"
#endif

#define CTX_ID   1
#define TEXTURE  10
#define INNER    5
#define MAX_SIZE 256

struct box {
   uint32_t x, y, z, w, h, d;
};

static uint32_t last_fence;

static void
write_fence(void *cookie, uint32_t fence)
{
   last_fence = fence;
}

static struct virgl_renderer_callbacks callbacks = {
   .version = 2,
   .write_fence = write_fence,
};

static double
process_cpu_seconds(void)
{
   struct timespec ts;
   clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
   return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One timed sequence; seconds elapsed, and CPU seconds of all threads in `cpu`. */
static double
run_sequence(uint32_t transfers, uint32_t size, uint32_t first_fence, double *cpu)
{
   static uint8_t backing[MAX_SIZE * MAX_SIZE * 4];
   struct iovec iov = { backing, (size_t)size * size * 4 };
   struct box box = { 0, 0, 0, size, size, 1 };
   struct virgl_renderer_resource_create_args args = {
      .handle = TEXTURE,
      .target = 2 /* PIPE_TEXTURE_2D */,
      .format = 1 /* B8G8R8A8 */,
      .bind = 1u << 1 /* RENDER_TARGET */,
      .width = size,
      .height = size,
      .depth = 1,
      .array_size = 1,
   };
   int poll_fd = virgl_renderer_get_poll_fd();
   uint32_t last = first_fence + transfers - 1;

   double start = bench_now(), cpu_start = process_cpu_seconds();
   if (virgl_renderer_context_create(CTX_ID, 5, "bench") ||
       virgl_renderer_resource_create(&args, NULL, 0) ||
       virgl_renderer_resource_attach_iov(TEXTURE, &iov, 1))
      bench_die("GL context or texture");
   virgl_renderer_ctx_attach_resource(CTX_ID, TEXTURE);
   for (uint32_t i = 0; i < transfers; i++) {
      backing[i % iov.iov_len] = (uint8_t)i;
      virgl_renderer_force_ctx_0();
      if (virgl_renderer_transfer_write_iov(TEXTURE, 0, 0, 0, 0, (struct virgl_box *)&box,
                                            0, NULL, 0) ||
          virgl_renderer_create_fence((int)(first_fence + i), 0))
         bench_die("transfer or fence");
   }
   while (last_fence != last) {
      struct pollfd pfd = { .fd = poll_fd, .events = POLLIN };
      if (poll_fd >= 0)
         poll(&pfd, 1, 10);
      virgl_renderer_poll();
   }
   struct iovec *out;
   int count;
   virgl_renderer_ctx_detach_resource(CTX_ID, TEXTURE);
   virgl_renderer_resource_detach_iov(TEXTURE, &out, &count);
   virgl_renderer_resource_unref(TEXTURE);
   virgl_renderer_context_destroy(CTX_ID);
   *cpu = process_cpu_seconds() - cpu_start;
   return bench_now() - start;
}

/* The child: init (not timed), INNER sequences, the median in ns on stdout. */
static int
child_main(uint32_t transfers, uint32_t size)
{
   Dl_info info;
   if (!dladdr((void *)virgl_renderer_init, &info) || !info.dli_fname)
      bench_die("dladdr");
   int flags = VIRGL_RENDERER_USE_EGL | VIRGL_RENDERER_USE_SURFACELESS |
               VIRGL_RENDERER_THREAD_SYNC;
   static int cookie;
   if (virgl_renderer_init(&cookie, flags, &callbacks))
      bench_die("virgl_renderer_init");
   double times[INNER], cpu[INNER];
   for (int i = 0; i < INNER; i++)
      times[i] = run_sequence(transfers, size, 1 + (uint32_t)i * transfers, &cpu[i]);
   virgl_renderer_cleanup(&cookie);
   struct stat st;
   if (stat(info.dli_fname, &st))
      bench_die(info.dli_fname);
   printf("%.0f %.0f %llu\n", bench_median(times, INNER) * 1e9,
          bench_median(cpu, INNER) * 1e9, (unsigned long long)st.st_ino);
   return 0;
}

/* Runs one child; returns seconds, its CPU seconds, and the inode of its library. */
static double
run_child(const char *self, const char *direct_dir, uint32_t transfers, uint32_t size,
          double *cpu, unsigned long long *inode)
{
   int pipe_fds[2];
   if (pipe(pipe_fds))
      bench_die("pipe");
   pid_t pid = fork();
   if (pid < 0)
      bench_die("fork");
   if (pid == 0) {
      dup2(pipe_fds[1], 1);
      close(pipe_fds[0]);
      close(pipe_fds[1]);
      setenv("VIRTKFD_LOG_LEVEL", "error", 1);
      if (direct_dir) {
         setenv("LD_LIBRARY_PATH", direct_dir, 1);
         /* its default logger chats on stderr; virtkfd's level filters the same lines */
         int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
         if (null >= 0)
            dup2(null, 2);
      }
      char transfers_text[16], size_text[16];
      snprintf(transfers_text, sizeof(transfers_text), "%u", transfers);
      snprintf(size_text, sizeof(size_text), "%u", size);
      execl(self, self, "--child", transfers_text, size_text, (char *)NULL);
      _exit(127);
   }
   close(pipe_fds[1]);
   char line[128] = { 0 };
   ssize_t n = read(pipe_fds[0], line, sizeof(line) - 1);
   close(pipe_fds[0]);
   int status;
   waitpid(pid, &status, 0);
   double ns, cpu_ns;
   if (n <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) ||
       sscanf(line, "%lf %lf %llu", &ns, &cpu_ns, inode) != 3) {
      fprintf(stderr, "bench_forward: the %s child failed\n",
              direct_dir ? "direct" : "virtkfd");
      exit(1);
   }
   *cpu = cpu_ns * 1e-9;
   return ns * 1e-9;
}

int
main(int argc, char **argv)
{
   if (argc == 4 && !strcmp(argv[1], "--child"))
      return child_main((uint32_t)atoi(argv[2]), (uint32_t)atoi(argv[3]));

   uint32_t transfers = 1000;
   int reps = 5;
   const char *system_library = BENCH_SYSTEM_LIBRARY;
   for (int i = 1; i < argc; i++) {
      if (!strcmp(argv[i], "--transfers") && i + 1 < argc)
         transfers = (uint32_t)atoi(argv[++i]);
      else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
         reps = atoi(argv[++i]);
      else if (!strcmp(argv[i], "--system-library") && i + 1 < argc)
         system_library = argv[++i];
      else {
         fprintf(
            stderr,
            "usage: bench_forward [--transfers N] [--reps N] [--system-library PATH]\n");
         return 1;
      }
   }
   if (!transfers || reps < 1 || reps > BENCH_MAX_REPS) {
      fprintf(stderr, "bench_forward: bad --transfers or --reps\n");
      return 1;
   }
   struct stat system_st;
   if (stat(system_library, &system_st)) {
      printf("bench_forward: no system virglrenderer at %s: nothing to compare\n",
             system_library);
      return 0;
   }

   /* a directory in which the loader finds the system library by its SONAME */
   char dir[] = "/tmp/bench-forward-XXXXXX";
   if (!mkdtemp(dir))
      bench_die("mkdtemp");
   char link_path[sizeof(dir) + 32];
   snprintf(link_path, sizeof(link_path), "%s/libvirglrenderer.so.1", dir);
   if (symlink(system_library, link_path))
      bench_die("symlink");
   char self[4096];
   ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
   if (len <= 0)
      bench_die("readlink /proc/self/exe");
   self[len] = 0;

   printf("forwarding overhead: a GL context, a BGRA texture with guest backing, %u\n"
          "transfers each with a context-0 fence, then the last fence; median of %d\n"
          "alternating runs (each the median of %d sequences); llvmpipe, the library's\n"
          "EGL, THREAD_SYNC, polled\n\n",
          transfers, reps, INNER);
   printf("%-9s %12s %13s %15s %7s %11s %9s  %s\n", "texture", "direct (ms)",
          "virtkfd (ms)", "added/transfer", "ratio", "pair range", "CPU ratio",
          "target <= 1.05x");
   static const uint32_t sizes[] = { 64, 256 };
   for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
      double direct[BENCH_MAX_REPS], virtkfd[BENCH_MAX_REPS];
      double direct_cpu[BENCH_MAX_REPS], virtkfd_cpu[BENCH_MAX_REPS];
      for (int r = 0; r < reps; r++) {
         /* alternate which goes first, so that neither always runs on a warmer host */
         for (int turn = 0; turn < 2; turn++) {
            bool run_direct = (turn == 0) == (r % 2 == 0);
            unsigned long long inode;
            double cpu, seconds = run_child(self, run_direct ? dir : NULL, transfers,
                                            sizes[s], &cpu, &inode);
            if (run_direct != (inode == (unsigned long long)system_st.st_ino)) {
               fprintf(stderr, "bench_forward: the %s child got the wrong library\n",
                       run_direct ? "direct" : "virtkfd");
               return 1;
            }
            (run_direct ? direct : virtkfd)[r] = seconds;
            (run_direct ? direct_cpu : virtkfd_cpu)[r] = cpu;
         }
      }
      /* the pairs ran back to back: their ratios show how noisy the host was */
      double low = 1e9, high = 0;
      for (int r = 0; r < reps; r++) {
         double ratio = virtkfd[r] / direct[r];
         low = ratio < low ? ratio : low;
         high = ratio > high ? ratio : high;
      }
      double d = bench_median(direct, reps), v = bench_median(virtkfd, reps);
      /* CPU time of every thread: what forwarding costs, less what other processes do */
      double cpu_ratio = bench_median(virtkfd_cpu, reps) / bench_median(direct_cpu, reps);
      char label[16];
      snprintf(label, sizeof(label), "%ux%u", sizes[s], sizes[s]);
      printf("%-9s %12.2f %13.2f %12.2f us %6.3fx %5.2f-%.2fx %8.3fx  %s\n", label,
             d * 1e3, v * 1e3, (v - d) / transfers * 1e6, v / d, low, high, cpu_ratio,
             bench_verdict(v / d <= 1.05));
   }
   unlink(link_path);
   rmdir(dir);
   return 0;
}
