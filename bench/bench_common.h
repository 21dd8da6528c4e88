/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * What the benchmarks share: the clock, sizes, medians, memfd guest RAM cut into
 * shuffled iovecs, and the two baselines every userptr figure is compared with (one
 * bare mmap(MAP_FIXED) per run, and a memcpy of the same bytes).
 *
 * Benchmarks print figures; they never fail on a missed target. Setup failures exit
 * with status 1.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define BENCH_KIB      (1024ull)
#define BENCH_MIB      (1024ull * BENCH_KIB)
#define BENCH_GIB      (1024ull * BENCH_MIB)

#define BENCH_MAX_REPS 64

/* CLOCK_MONOTONIC, in seconds. */
double bench_now(void);

/* "8G", "512M", "64k" or a plain byte count; 0 when the text is not a size. */
uint64_t bench_parse_size(const char *text);

/* The median of v[0..n-1]; sorts v, so v[0] is the minimum afterwards. */
double bench_median(double *v, int n);

/* "PASS" or "MISS". */
const char *bench_verdict(bool pass);

/* Prints `message` and the errno text to stderr, then exits with status 1. */
_Noreturn void bench_die(const char *message);

/* 0..count-1 in a deterministic shuffled order (free() it). */
uint32_t *bench_shuffled_indices(uint32_t count, uint64_t seed);

/* Guest RAM as QEMU's memory-backend-memfd,share=on makes it: a memfd mapped shared. */
struct bench_guest_ram {
   int fd;
   uint8_t *base;
   uint64_t size;
};

/* Creates and populates (writes every page of) `size` bytes of guest RAM. */
void bench_guest_ram_create(struct bench_guest_ram *ram, uint64_t size);

void bench_guest_ram_destroy(struct bench_guest_ram *ram);

/* Iovec i is the guest RAM's chunk perm[i] (free() it). */
struct iovec *bench_guest_ram_iovecs(const struct bench_guest_ram *ram, uint64_t chunk,
                                     uint32_t count, const uint32_t *perm);

/* The number of runs the iovecs merge into: neighbours adjacent in host VA join. */
uint32_t bench_count_runs(const struct iovec *iov, uint32_t count);

/*
 * The baseline of the alias: `count` mmap(MAP_FIXED | MAP_SHARED) calls of `chunk`
 * bytes of the memfd into a PROT_NONE reservation, at the file offsets perm[i] *
 * chunk, so the kernel cannot merge neighbours; exactly the one syscall the alias
 * makes per run. `raw` makes the system call directly, bypassing an interposed
 * mmap() (the KFD emulator's hook). Seconds per call.
 */
double bench_bare_mmap(int memfd, uint64_t chunk, uint32_t count, const uint32_t *perm,
                       bool raw);

/*
 * What a copying implementation would do: gather the iovecs into one destination of
 * `size` bytes. The destination is populated before and unmapped after the copy, so
 * only the copy is timed and the extra `size` bytes are resident only meanwhile.
 * Seconds.
 */
double bench_memcpy_gather(const struct iovec *iov, uint32_t count, uint64_t size);

#endif /* BENCH_COMMON_H */
