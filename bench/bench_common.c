/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "bench_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

double
bench_now(void)
{
   struct timespec ts;
   clock_gettime(CLOCK_MONOTONIC, &ts);
   return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t
bench_parse_size(const char *text)
{
   char *end;
   errno = 0;
   unsigned long long v = strtoull(text, &end, 0);
   if (errno || end == text)
      return 0;
   uint64_t unit = 1;
   switch (*end) {
   case 'G':
   case 'g':
      unit = BENCH_GIB;
      break;
   case 'M':
   case 'm':
      unit = BENCH_MIB;
      break;
   case 'K':
   case 'k':
      unit = BENCH_KIB;
      break;
   case '\0':
      return v;
   default:
      return 0;
   }
   if (end[1] || v > UINT64_MAX / unit)
      return 0;
   return v * unit;
}

static int
compare_double(const void *a, const void *b)
{
   double x = *(const double *)a, y = *(const double *)b;
   return (x > y) - (x < y);
}

double
bench_median(double *v, int n)
{
   qsort(v, (size_t)n, sizeof(*v), compare_double);
   return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

const char *
bench_verdict(bool pass)
{
   return pass ? "PASS" : "MISS";
}

_Noreturn void
bench_die(const char *message)
{
   perror(message);
   exit(1);
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

uint32_t *
bench_shuffled_indices(uint32_t count, uint64_t seed)
{
   uint32_t *perm = malloc(count * sizeof(*perm));
   if (!perm)
      bench_die("malloc");
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

void
bench_guest_ram_create(struct bench_guest_ram *ram, uint64_t size)
{
   ram->size = size;
   ram->fd = memfd_create("bench-guest-ram", MFD_CLOEXEC);
   if (ram->fd < 0 || ftruncate(ram->fd, (off_t)size))
      bench_die("memfd guest RAM");
   ram->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, ram->fd, 0);
   if (ram->base == MAP_FAILED)
      bench_die("mmap guest RAM");
   /* populated, so the copy reads real pages and the GPU would pin real pages */
   const uint64_t step = 64 * BENCH_MIB;
   for (uint64_t off = 0; off < size; off += step)
      memset(ram->base + off, (int)(off / step) | 1,
             size - off < step ? size - off : step);
}

void
bench_guest_ram_destroy(struct bench_guest_ram *ram)
{
   munmap(ram->base, ram->size);
   close(ram->fd);
   ram->base = NULL;
   ram->fd = -1;
}

struct iovec *
bench_guest_ram_iovecs(const struct bench_guest_ram *ram, uint64_t chunk, uint32_t count,
                       const uint32_t *perm)
{
   struct iovec *iov = calloc(count, sizeof(*iov));
   if (!iov)
      bench_die("calloc");
   for (uint32_t i = 0; i < count; i++) {
      iov[i].iov_base = ram->base + (uint64_t)perm[i] * chunk;
      iov[i].iov_len = chunk;
   }
   return iov;
}

uint32_t
bench_count_runs(const struct iovec *iov, uint32_t count)
{
   uint32_t runs = count ? 1 : 0;
   for (uint32_t i = 1; i < count; i++)
      runs += (uint8_t *)iov[i - 1].iov_base + iov[i - 1].iov_len != iov[i].iov_base;
   return runs;
}

double
bench_bare_mmap(int memfd, uint64_t chunk, uint32_t count, const uint32_t *perm, bool raw)
{
   uint8_t *reservation = mmap(NULL, chunk * count, PROT_NONE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
   if (reservation == MAP_FAILED)
      bench_die("mmap reservation");
   double t0 = bench_now();
   for (uint32_t i = 0; i < count; i++) {
      uint8_t *at = reservation + (uint64_t)i * chunk;
      off_t offset = (off_t)((uint64_t)perm[i] * chunk);
      void *p = raw ? (void *)syscall(SYS_mmap, at, chunk, PROT_READ | PROT_WRITE,
                                      MAP_SHARED | MAP_FIXED, memfd, offset)
                    : mmap(at, chunk, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
                           memfd, offset);
      if (p != at)
         bench_die("mmap");
   }
   double t = bench_now() - t0;
   munmap(reservation, chunk * count);
   return t / count;
}

double
bench_memcpy_gather(const struct iovec *iov, uint32_t count, uint64_t size)
{
   uint8_t *dst = mmap(NULL, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
   if (dst == MAP_FAILED)
      bench_die("mmap copy destination");
   double t0 = bench_now();
   uint64_t off = 0;
   for (uint32_t i = 0; i < count && off < size; i++) {
      uint64_t n = iov[i].iov_len < size - off ? iov[i].iov_len : size - off;
      memcpy(dst + off, iov[i].iov_base, n);
      off += n;
   }
   double t = bench_now() - t0;
   munmap(dst, size);
   return t;
}
