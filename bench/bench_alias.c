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
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "mem/vkfd_alias.h"

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
   double t0 = bench_now();
   int ret = vkfd_alias_create(&params, &alias);
   double t1 = bench_now();
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
   double t2 = bench_now();
   vkfd_alias_destroy(alias);
   sample.create = t1 - t0;
   sample.destroy = bench_now() - t2;
   return sample;
}

struct config {
   const char *name;
   uint64_t chunk;
   double target_memcpy_ratio;
};

int
main(int argc, char **argv)
{
   uint64_t size = 8 * BENCH_GIB;
   int reps = 5;
   for (int i = 1; i < argc; i++) {
      if (!strcmp(argv[i], "--size") && i + 1 < argc) {
         size = bench_parse_size(argv[++i]);
      } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
         reps = atoi(argv[++i]);
      } else {
         fprintf(stderr, "usage: %s [--size 8G] [--reps 5]\n", argv[0]);
         return 2;
      }
   }
   if (reps < 1 || reps > BENCH_MAX_REPS || size < 2 * BENCH_MIB ||
       size % (2 * BENCH_MIB)) {
      fprintf(stderr, "size must be a multiple of 2 MiB; reps 1..%d\n", BENCH_MAX_REPS);
      return 2;
   }

   struct bench_guest_ram ram;
   bench_guest_ram_create(&ram, size);

   printf("guest RAM: %.2f GiB memfd, shuffled iovecs, %d repetitions (median)\n",
          (double)size / BENCH_GIB, reps);

   const struct config configs[] = {
      { "512 KiB iovecs", 512 * BENCH_KIB, 10 },
      { "2 MiB iovecs", 2 * BENCH_MIB, 50 },
   };
   for (size_t c = 0; c < sizeof(configs) / sizeof(configs[0]); c++) {
      const struct config *cfg = &configs[c];
      uint32_t count = (uint32_t)(size / cfg->chunk);
      uint32_t *perm = bench_shuffled_indices(count, 1234 + c);
      struct iovec *iov = bench_guest_ram_iovecs(&ram, cfg->chunk, count, perm);

      /*
       * Interleaved, so that other load on the machine hits the baselines and both
       * alias paths alike; medians and minimums of each.
       */
      double bare[BENCH_MAX_REPS], copy[BENCH_MAX_REPS];
      double fd_create[BENCH_MAX_REPS], fd_destroy[BENCH_MAX_REPS];
      double dup_create[BENCH_MAX_REPS], dup_destroy[BENCH_MAX_REPS];
      uint32_t runs = 0;
      for (int r = 0; r < reps; r++) {
         bare[r] = bench_bare_mmap(ram.fd, cfg->chunk, count, perm, false);
         unsetenv("VIRTKFD_ALIAS_FORCE_MREMAP");
         struct alias_sample fd_path = bench_alias_once(iov, count, size);
         setenv("VIRTKFD_ALIAS_FORCE_MREMAP", "1", 1);
         struct alias_sample dup_path = bench_alias_once(iov, count, size);
         unsetenv("VIRTKFD_ALIAS_FORCE_MREMAP");
         copy[r] = bench_memcpy_gather(iov, count, size);
         fd_create[r] = fd_path.create;
         fd_destroy[r] = fd_path.destroy;
         dup_create[r] = dup_path.create;
         dup_destroy[r] = dup_path.destroy;
         runs = fd_path.runs;
      }
      /* bench_median sorts: [0] is the minimum afterwards */
      double bare_mmap = bench_median(bare, reps), bare_min = bare[0];
      double fd_med = bench_median(fd_create, reps), fd_min = fd_create[0];
      double dup_med = bench_median(dup_create, reps), dup_min = dup_create[0];
      double copy_med = bench_median(copy, reps);

      double per_run = fd_med / runs;
      double copy_ratio = copy_med / fd_med;
      double mmap_ratio = per_run / bare_mmap;
      double mmap_ratio_min = fd_min / runs / bare_min;
      printf("\n%s: %" PRIu32 " iovecs -> %" PRIu32 " runs\n", cfg->name, count, runs);
      printf("  alias create (map_files mmap): %9.3f ms  (%.3f us/run; min %.3f), "
             "destroy %.3f ms\n",
             fd_med * 1e3, per_run * 1e6, fd_min / runs * 1e6,
             bench_median(fd_destroy, reps) * 1e3);
      printf("  alias create (mremap dup):     %9.3f ms  (%.3f us/run; min %.3f), "
             "destroy %.3f ms\n",
             dup_med * 1e3, dup_med / runs * 1e6, dup_min / runs * 1e6,
             bench_median(dup_destroy, reps) * 1e3);
      printf("  bare mmap(MAP_FIXED|MAP_SHARED): %7.3f us/call (min %.3f)\n",
             bare_mmap * 1e6, bare_min * 1e6);
      printf("  memcpy of the same bytes:      %9.3f ms  (%.2f GB/s)\n", copy_med * 1e3,
             (double)size / copy_med / 1e9);
      printf("  memcpy / alias:          %7.1fx  (target >= %.0fx)  %s\n", copy_ratio,
             cfg->target_memcpy_ratio,
             bench_verdict(copy_ratio >= cfg->target_memcpy_ratio));
      printf("  alias per run / mmap:    %7.2f   (minimums: %.2f; target <= 1.5)  %s\n",
             mmap_ratio, mmap_ratio_min, bench_verdict(mmap_ratio <= 1.5));
      free(iov);
      free(perm);
   }
   bench_guest_ram_destroy(&ram);
   return 0;
}
