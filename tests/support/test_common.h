/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Helpers shared by the library tests: fd accounting, a VMM-like callback recorder
 * and a memfd-backed "guest RAM".
 */
#ifndef TEST_COMMON_H
#define TEST_COMMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virglrenderer.h"

/* Number of open fds of this process (/proc/self/fd), to prove nothing leaked. */
int test_count_fds(void);

/* Whether any mapping of this process overlaps [start, start + size) (read from
 * /proc/self/maps, so that it also holds under valgrind). */
bool test_range_mapped(uintptr_t start, size_t size);

#define TEST_MAX_FENCES 256

struct test_fence_record {
   uint32_t ctx_id; /* 0 for write_fence */
   uint32_t ring_idx;
   uint64_t id;
   bool other_thread;
};

/* Callbacks of a VMM, recording every fence callback. */
struct test_vmm {
   struct virgl_renderer_callbacks cbs;
   pthread_mutex_t lock;
   pthread_cond_t cond;
   pthread_t main_thread;
   bool inside_create; /* set while the test is inside a create_fence call */
   bool callback_inside_create;
   int count;
   struct test_fence_record records[TEST_MAX_FENCES];
};

/* Sets up callbacks of `version` (3 or 4, as QEMU; 3 as crosvm). */
void test_vmm_init(struct test_vmm *vmm, int version);

void test_vmm_fini(struct test_vmm *vmm);

/* Waits until `count` callbacks arrived or `timeout_ms` passed; returns the count. */
int test_vmm_wait(struct test_vmm *vmm, int count, int timeout_ms);

int test_vmm_count(struct test_vmm *vmm);

/* memfd-backed guest RAM mapped shared, as QEMU's memory-backend-memfd,share=on. */
struct test_guest_ram {
   int fd;
   uint8_t *base;
   size_t size;
};

void test_guest_ram_create(struct test_guest_ram *ram, size_t size);

void test_guest_ram_destroy(struct test_guest_ram *ram);

/* `count` iovecs of `chunk` bytes each, from `offset`, in reverse order. */
struct iovec *test_guest_ram_iovecs(const struct test_guest_ram *ram, size_t offset,
                                    size_t chunk, unsigned count);

#endif /* TEST_COMMON_H */
