/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The host probe of the end-to-end test, TEST ONLY: preloaded into the VMM after the
 * KFD emulator (LD_PRELOAD="libkfdsim.so libvirtkfd_e2e_probe.so"), it gives the
 * guest what a guest cannot see: the emulated GPU's view of memory and the KFD
 * objects of the VMM process. It listens on the UNIX socket named by
 * VIRTKFD_E2E_PROBE_SOCKET, which the VMM connects to a serial port of the guest
 * (-chardev socket), and answers one request line with one reply line (README.md).
 * When the process exits it writes its KFD objects and the baseline the guest took
 * to VIRTKFD_E2E_PROBE_REPORT (and stderr): the test passes only when they agree.
 * Without VIRTKFD_E2E_PROBE_SOCKET it does nothing.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "guest_pattern.h"
#include "kfdsim.h"

#define CHUNK     (64u << 10)
#define MAX_RANGE (1ull << 30)

struct kfd_counts {
   unsigned bos, userptrs, queues, events;
   uint64_t bytes, userptr_bytes;
};

static struct {
   int listener;
   char path[108];
   char report[4096];
   pthread_mutex_t lock;
   bool have_baseline;
   struct kfd_counts baseline;
} probe = { .listener = -1, .lock = PTHREAD_MUTEX_INITIALIZER };

static void
counts_read(struct kfd_counts *c)
{
   c->bos = kfdsim_live_bos();
   c->bytes = kfdsim_live_bytes();
   c->userptrs = kfdsim_userptr_count();
   c->userptr_bytes = kfdsim_userptr_bytes();
   c->queues = kfdsim_live_queues();
   c->events = kfdsim_live_events();
}

static bool
counts_equal(const struct kfd_counts *a, const struct kfd_counts *b)
{
   return a->bos == b->bos && a->bytes == b->bytes && a->userptrs == b->userptrs &&
          a->userptr_bytes == b->userptr_bytes && a->queues == b->queues &&
          a->events == b->events;
}

static const char *
counts_text(const struct kfd_counts *c, char *buf, size_t size)
{
   snprintf(buf, size,
            "bos=%u bytes=%" PRIu64 " userptrs=%u userptr_bytes=%" PRIu64
            " queues=%u events=%u",
            c->bos, c->bytes, c->userptrs, c->userptr_bytes, c->queues, c->events);
   return buf;
}

/* The host mappings over [addr, addr + size): how many pieces an alias is made of. */
static int
count_mappings(uint64_t addr, uint64_t size)
{
   FILE *maps = fopen("/proc/self/maps", "re");
   if (!maps)
      return -errno;
   int count = 0;
   char line[512];
   while (fgets(line, sizeof(line), maps)) {
      uint64_t start, end;
      if (sscanf(line, "%" SCNx64 "-%" SCNx64, &start, &end) == 2 &&
          start < addr + size && end > addr)
         count++;
   }
   fclose(maps);
   return count;
}

static void reply(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
reply(int fd, const char *fmt, ...)
{
   char line[512];
   va_list ap;
   va_start(ap, fmt);
   int len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
   va_end(ap);
   if (len < 0)
      return;
   if ((size_t)len > sizeof(line) - 2)
      len = (int)sizeof(line) - 2;
   line[len++] = '\n';
   for (const char *p = line; len > 0;) {
      ssize_t n = write(fd, p, (size_t)len);
      if (n < 0 && errno == EINTR)
         continue;
      if (n <= 0)
         return;
      p += n;
      len -= (int)n;
   }
}

static bool
range_ok(int fd, uint64_t va, uint64_t size)
{
   if (!size || size % 4 || size > MAX_RANGE || va + size < va) {
      reply(fd, "error range 0x%" PRIx64 "+%" PRIu64 " (size must be 4..1 GiB, in words)",
            va, size);
      return false;
   }
   return true;
}

/* Reads the range as the GPU and compares it with the pattern of `seed`. */
static void
gpu_check(int fd, uint64_t va, uint64_t size, uint32_t seed)
{
   static uint8_t chunk[CHUNK];
   for (uint64_t off = 0; off < size; off += CHUNK) {
      size_t len = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
      int ret = kfdsim_gpu_read(va + off, chunk, len);
      if (ret) {
         reply(fd, "error the GPU cannot read 0x%" PRIx64 ": %s", va + off,
               strerror(-ret));
         return;
      }
      size_t first = 0;
      size_t bad = pattern_check(chunk, len, seed, off / 4, &first);
      if (bad) {
         uint32_t word;
         memcpy(&word, chunk + 4 * first, 4);
         reply(fd,
               "error the GPU reads 0x%08x at +0x%" PRIx64 ", the guest wrote 0x%08x "
               "(%zu of the next %zu words differ)",
               word, off + 4 * first, pattern_word(seed, off / 4 + first), bad, len / 4);
         return;
      }
   }
   reply(fd, "ok %" PRIu64 " bytes match", size);
}

static void
gpu_fill(int fd, uint64_t va, uint64_t size, uint32_t seed)
{
   static uint8_t chunk[CHUNK];
   for (uint64_t off = 0; off < size; off += CHUNK) {
      size_t len = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
      pattern_fill(chunk, len, seed, off / 4);
      int ret = kfdsim_gpu_write(va + off, chunk, len);
      if (ret) {
         reply(fd, "error the GPU cannot write 0x%" PRIx64 ": %s", va + off,
               strerror(-ret));
         return;
      }
   }
   reply(fd, "ok %" PRIu64 " bytes written", size);
}

static void
settle(int fd, unsigned timeout_ms)
{
   char now_text[256], base_text[256];
   struct kfd_counts now;
   pthread_mutex_lock(&probe.lock);
   bool have = probe.have_baseline;
   struct kfd_counts base = probe.baseline;
   pthread_mutex_unlock(&probe.lock);
   if (!have) {
      reply(fd, "error no baseline was taken");
      return;
   }
   /* the guest kernel's last commands (context destroy, unrefs) may still be queued */
   for (unsigned waited = 0;; waited += 10) {
      counts_read(&now);
      if (counts_equal(&now, &base)) {
         reply(fd, "ok %s", counts_text(&now, now_text, sizeof(now_text)));
         return;
      }
      if (waited >= timeout_ms)
         break;
      nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
   }
   reply(fd, "error %s, baseline %s", counts_text(&now, now_text, sizeof(now_text)),
         counts_text(&base, base_text, sizeof(base_text)));
}

static void
serve_line(int fd, const char *line)
{
   char command[32], text[256];
   uint64_t va = 0, size = 0;
   unsigned seed = 0;
   if (sscanf(line, "%31s", command) != 1) {
      reply(fd, "error empty request");
   } else if (!kfdsim_active()) {
      reply(fd, "error the KFD emulator is not active in this process");
   } else if (!strcmp(command, "baseline")) {
      struct kfd_counts now;
      counts_read(&now);
      pthread_mutex_lock(&probe.lock);
      probe.baseline = now;
      probe.have_baseline = true;
      pthread_mutex_unlock(&probe.lock);
      reply(fd, "ok %s", counts_text(&now, text, sizeof(text)));
   } else if (!strcmp(command, "stats")) {
      struct kfd_counts now;
      counts_read(&now);
      reply(fd, "ok %s", counts_text(&now, text, sizeof(text)));
   } else if (!strcmp(command, "settle")) {
      unsigned timeout_ms = 0;
      sscanf(line, "%*s %u", &timeout_ms);
      settle(fd, timeout_ms < 60000 ? timeout_ms : 60000);
   } else if (!strcmp(command, "gpu-check") || !strcmp(command, "gpu-fill")) {
      if (sscanf(line, "%*s %" SCNx64 " %" SCNu64 " %x", &va, &size, &seed) != 3)
         reply(fd, "error usage: %s VA SIZE SEED", command);
      else if (range_ok(fd, va, size) && !strcmp(command, "gpu-check"))
         gpu_check(fd, va, size, seed);
      else if (range_ok(fd, va, size))
         gpu_fill(fd, va, size, seed);
   } else if (!strcmp(command, "pieces")) {
      struct kfdsim_bo_info info;
      int ret = -EINVAL;
      if (sscanf(line, "%*s %" SCNx64, &va) == 1)
         ret = kfdsim_bo_find(va, &info);
      if (ret) {
         reply(fd, "error no buffer object at GPU VA 0x%" PRIx64 ": %s", va,
               strerror(-ret));
      } else {
         uint64_t cpu = info.cpu_addr ? info.cpu_addr : info.va;
         int pieces = count_mappings(cpu, info.size);
         reply(fd, "ok pieces=%d cpu=0x%" PRIx64 " size=%" PRIu64, pieces, cpu,
               info.size);
      }
   } else {
      reply(fd, "error unknown request '%s'", command);
   }
}

static void *
serve(void *unused)
{
   for (;;) {
      int fd = accept(probe.listener, NULL, NULL);
      if (fd < 0) {
         if (errno == EINTR)
            continue;
         return NULL;
      }
      char line[256];
      size_t used = 0;
      for (;;) {
         char c;
         ssize_t n = read(fd, &c, 1);
         if (n < 0 && errno == EINTR)
            continue;
         if (n <= 0)
            break;
         if (c == '\n') {
            line[used] = '\0';
            serve_line(fd, line);
            used = 0;
         } else if (c != '\r' && used + 1 < sizeof(line)) {
            line[used++] = c;
         }
      }
      close(fd);
   }
}

static void
report_at_exit(void)
{
   char now_text[256], base_text[256];
   struct kfd_counts now;
   counts_read(&now);
   pthread_mutex_lock(&probe.lock);
   if (!probe.have_baseline)
      snprintf(probe.report, sizeof(probe.report),
               "NO-BASELINE host KFD objects at exit: %s (the guest took no baseline)",
               counts_text(&now, now_text, sizeof(now_text)));
   else
      snprintf(probe.report, sizeof(probe.report),
               "%s host KFD objects at exit: %s, %s %s",
               counts_equal(&now, &probe.baseline) ? "AT-BASELINE" : "NOT-AT-BASELINE",
               counts_text(&now, now_text, sizeof(now_text)),
               counts_equal(&now, &probe.baseline) ? "as at the baseline:" : "baseline:",
               counts_text(&probe.baseline, base_text, sizeof(base_text)));
   pthread_mutex_unlock(&probe.lock);
   fprintf(stderr, "virtkfd_e2e_probe: %s\n", probe.report);
   const char *path = getenv("VIRTKFD_E2E_PROBE_REPORT");
   FILE *out = path ? fopen(path, "we") : NULL;
   if (out) {
      fprintf(out, "%s\n", probe.report);
      fclose(out);
   }
   unlink(probe.path);
}

__attribute__((constructor)) static void
probe_start(void)
{
   const char *path = getenv("VIRTKFD_E2E_PROBE_SOCKET");
   if (!path)
      return;
   struct sockaddr_un addr = { .sun_family = AF_UNIX };
   if (strlen(path) >= sizeof(addr.sun_path) || strlen(path) >= sizeof(probe.path)) {
      fprintf(stderr, "virtkfd_e2e_probe: socket path too long: %s\n", path);
      return;
   }
   strcpy(addr.sun_path, path);
   strcpy(probe.path, path);
   probe.listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
   pthread_t thread;
   if (probe.listener < 0 ||
       bind(probe.listener, (struct sockaddr *)&addr, sizeof(addr)) ||
       listen(probe.listener, 1) || pthread_create(&thread, NULL, serve, NULL)) {
      fprintf(stderr, "virtkfd_e2e_probe: cannot serve %s: %s\n", path, strerror(errno));
      if (probe.listener >= 0)
         close(probe.listener);
      probe.listener = -1;
      return;
   }
   pthread_detach(thread);
   /* the VMM registers its exit handlers later, in main(): they run before this one */
   atexit(report_at_exit);
}
