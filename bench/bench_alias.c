/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * What zero-copy userptr buys: the time to build an alias over memfd guest RAM
 * delivered as shuffled iovecs, next to (a) copying the same bytes and (b) one bare
 * mmap(MAP_FIXED | MAP_SHARED) of the memfd, both measured in the same run.
 *
 *    bench_alias [--size 8G] [--reps 5]
 *
 * The measurements are interleaved and reported as medians (and minimums), as the
 * machine may be busy with other work.
 *
 * Memory: the guest RAM (size) is populated for the copy; the copy's destination
 * (size again) exists only while the copy is measured, so the peak is 2 x size.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "mem/vkfd_alias.h"

#define KIB (1024ull)
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)

static double
now_seconds(void)
{
   struct timespec ts;
   clock_gettime(CLOCK_MONOTONIC, &ts);
   return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t
parse_size(const char *text)
{
   char *end;
   unsigned long long v = strtoull(text, &end, 0);
   switch (*end) {
   case 'G':
   case 'g':
      return v * GIB;
   case 'M':
   case 'm':
      return v * MIB;
   case 'K':
   case 'k':
      return v * KIB;
   default:
      return v;
   }
}

static uint64_t
next_random(uint64_t *state)
{
   uint64_t x = *state;
   x ^= x >> 12;
   x ^= x << 25;
   x ^= x >> 27;
   *state = x;
   return x * 0x2545f4914f6cdd1dull;
}

/* 0..count-1 in a deterministic shuffled order */
static uint32_t *
shuffled_indices(uint32_t count, uint64_t seed)
{
   uint32_t *perm = malloc(count * sizeof(*perm));
   if (!perm)
      abort();
   for (uint32_t i = 0; i < count; i++)
      perm[i] = i;
   uint64_t state = seed | 1;
   for (uint32_t i = count - 1; i > 0; i--) {
      uint32_t j = (uint32_t)(next_random(&state) % (i + 1));
      uint32_t t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
   }
   return perm;
}

static int
compare_double(const void *a, const void *b)
{
   double x = *(const double *)a, y = *(const double *)b;
   return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
   qsort(v, (size_t)n, sizeof(*v), compare_double);
   return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * The baseline: `count` mmap(MAP_FIXED | MAP_SHARED) calls of `chunk` bytes of the
 * memfd into a PROT_NONE reservation, at shuffled file offsets so the kernel cannot
 * merge neighbours; exactly the one syscall the alias makes per run. Seconds per call.
 */
static double
bench_bare_mmap(int memfd, uint64_t chunk, uint32_t count, const uint32_t *perm)
{
   uint8_t *reservation = mmap(NULL, chunk * count, PROT_NONE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
   if (reservation == MAP_FAILED) {
      perror("mmap reservation");
      exit(1);
   }
   double t0 = now_seconds();
   for (uint32_t i = 0; i < count; i++) {
      if (mmap(reservation + (uint64_t)i * chunk, chunk, PROT_READ | PROT_WRITE,
               MAP_SHARED | MAP_FIXED, memfd,
               (off_t)((uint64_t)perm[i] * chunk)) == MAP_FAILED) {
         perror("mmap");
         exit(1);
      }
   }
   double t = now_seconds() - t0;
   munmap(reservation, chunk * count);
   return t / count;
}

struct alias_sample {
   double create;  /* seconds */
   double destroy; /* seconds */
   uint32_t runs;
};

static struct alias_sample
bench_alias_once(const struct iovec *iov, uint32_t count, uint64_t size)
{
   struct vkfd_alias *alias;
   const struct vkfd_alias_params params = { iov, count, size, false, 1 };
   double t0 = now_seconds();
   int ret = vkfd_alias_create(&params, &alias);
   double t1 = now_seconds();
   if (ret) {
      fprintf(stderr, "vkfd_alias_create: %s\n", strerror(-ret));
      exit(1);
   }
   struct alias_sample sample = { .runs = vkfd_alias_run_count(alias) };
   /* touch one byte per iovec, so a lazily broken alias would show */
   volatile uint8_t sink = 0;
   uint8_t *a = vkfd_alias_address(alias);
   for (uint64_t off = 0; off < size; off += iov[0].iov_len)
      sink ^= a[off];
   (void)sink;
   double t2 = now_seconds();
   vkfd_alias_destroy(alias);
   sample.create = t1 - t0;
   sample.destroy = now_seconds() - t2;
   return sample;
}

/* Gathers the iovecs into one destination, as a copying implementation would. */
static double
bench_memcpy(const struct iovec *iov, uint32_t count, uint64_t size)
{
   /* populated up front: the copy is measured, not the page faults of a fresh buffer */
   uint8_t *dst = mmap(NULL, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
   if (dst == MAP_FAILED) {
      perror("mmap copy destination");
      exit(1);
   }
   double t0 = now_seconds();
   uint64_t off = 0;
   for (uint32_t i = 0; i < count; i++) {
      memcpy(dst + off, iov[i].iov_base, iov[i].iov_len);
      off += iov[i].iov_len;
   }
   double t = now_seconds() - t0;
   munmap(dst, size);
   return t;
}

struct config {
   const char *name;
   uint64_t chunk;
   double target_memcpy_ratio;
};

int
main(int argc, char **argv)
{
   uint64_t size = 8 * GIB;
   int reps = 5;
   for (int i = 1; i < argc; i++) {
      if (!strcmp(argv[i], "--size") && i + 1 < argc) {
         size = parse_size(argv[++i]);
      } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
         reps = atoi(argv[++i]);
      } else {
         fprintf(stderr, "usage: %s [--size 8G] [--reps 5]\n", argv[0]);
         return 2;
      }
   }
   if (reps < 1 || reps > 64 || size < 2 * MIB || size % (2 * MIB)) {
      fprintf(stderr, "size must be a multiple of 2 MiB; reps 1..64\n");
      return 2;
   }

   int memfd = memfd_create("bench-guest-ram", MFD_CLOEXEC);
   if (memfd < 0 || ftruncate(memfd, (off_t)size)) {
      perror("memfd");
      return 1;
   }
   uint8_t *ram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
   if (ram == MAP_FAILED) {
      perror("mmap guest RAM");
      return 1;
   }
   /* populate the guest RAM, so the copy reads real pages */
   for (uint64_t off = 0; off < size; off += 64 * MIB)
      memset(ram + off, (int)(off >> 26) | 1,
             size - off < 64 * MIB ? size - off : 64 * MIB);

   printf("guest RAM: %.2f GiB memfd, shuffled iovecs, %d repetitions (median)\n",
          (double)size / GIB, reps);

   const struct config configs[] = {
      { "512 KiB iovecs", 512 * KIB, 10 },
      { "2 MiB iovecs", 2 * MIB, 50 },
   };
   for (size_t c = 0; c < sizeof(configs) / sizeof(configs[0]); c++) {
      const struct config *cfg = &configs[c];
      uint32_t count = (uint32_t)(size / cfg->chunk);
      uint32_t *perm = shuffled_indices(count, 1234 + c);
      struct iovec *iov = calloc(count, sizeof(*iov));
      if (!iov)
         abort();
      for (uint32_t i = 0; i < count; i++) {
         iov[i].iov_base = ram + (uint64_t)perm[i] * cfg->chunk;
         iov[i].iov_len = cfg->chunk;
      }

      /*
       * Interleaved, so that other load on the machine hits the baseline and both
       * alias paths alike; medians and minimums of each.
       */
      double bare[64], fd_create[64], fd_destroy[64], dup_create[64], dup_destroy[64];
      uint32_t runs = 0;
      for (int r = 0; r < reps; r++) {
         bare[r] = bench_bare_mmap(memfd, cfg->chunk, count, perm);
         unsetenv("VIRTKFD_ALIAS_FORCE_MREMAP");
         struct alias_sample fd_path = bench_alias_once(iov, count, size);
         setenv("VIRTKFD_ALIAS_FORCE_MREMAP", "1", 1);
         struct alias_sample dup_path = bench_alias_once(iov, count, size);
         unsetenv("VIRTKFD_ALIAS_FORCE_MREMAP");
         fd_create[r] = fd_path.create;
         fd_destroy[r] = fd_path.destroy;
         dup_create[r] = dup_path.create;
         dup_destroy[r] = dup_path.destroy;
         runs = fd_path.runs;
      }
      double bare_mmap = median(bare, reps), bare_min = bare[0];
      double fd_med = median(fd_create, reps), fd_min = fd_create[0];
      double dup_med = median(dup_create, reps), dup_min = dup_create[0];

      double copy = bench_memcpy(iov, count, size);

      double per_run = fd_med / runs;
      double copy_ratio = copy / fd_med;
      double mmap_ratio = per_run / bare_mmap;
      double mmap_ratio_min = fd_min / runs / bare_min;
      printf("\n%s: %" PRIu32 " iovecs -> %" PRIu32 " runs\n", cfg->name, count, runs);
      printf("  alias create (map_files mmap): %9.3f ms  (%.3f us/run; min %.3f), "
             "destroy %.3f ms\n",
             fd_med * 1e3, per_run * 1e6, fd_min / runs * 1e6,
             median(fd_destroy, reps) * 1e3);
      printf("  alias create (mremap dup):     %9.3f ms  (%.3f us/run; min %.3f), "
             "destroy %.3f ms\n",
             dup_med * 1e3, dup_med / runs * 1e6, dup_min / runs * 1e6,
             median(dup_destroy, reps) * 1e3);
      printf("  bare mmap(MAP_FIXED|MAP_SHARED): %7.3f us/call (min %.3f)\n",
             bare_mmap * 1e6, bare_min * 1e6);
      printf("  memcpy of the same bytes:      %9.3f ms  (%.2f GB/s)\n", copy * 1e3,
             (double)size / copy / 1e9);
      printf("  memcpy / alias:          %7.1fx  (target >= %.0fx)%s\n", copy_ratio,
             cfg->target_memcpy_ratio,
             copy_ratio >= cfg->target_memcpy_ratio ? "" : "  <-- below target");
      printf("  alias per run / mmap:    %7.2f   (minimums: %.2f; target <= 1.5)%s\n",
             mmap_ratio, mmap_ratio_min, mmap_ratio <= 1.5 ? "" : "  <-- above target");
      free(iov);
      free(perm);
   }
   munmap(ram, size);
   close(memfd);
   return 0;
}
