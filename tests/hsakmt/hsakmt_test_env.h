/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Set-up shared by the ROCm-context tests: a renderer initialised like QEMU, one
 * guest context on the KFD emulator, and leak accounting (fds, emulator buffers and
 * registrations) checked at teardown. Mappings are counted by the tests that make
 * them: glibc caches thread stacks, so a process-wide count would not hold.
 */
#ifndef HSAKMT_TEST_ENV_H
#define HSAKMT_TEST_ENV_H

#include <stdbool.h>
#include <stdint.h>

#include "hsakmt_guest.h"
#include "test_common.h"

struct hsakmt_test_env {
   struct test_vmm vmm;
   struct hsakmt_guest guest;
   int fds;
   unsigned live_bos;
   unsigned userptrs;
};

/* The number of lines in /proc/self/maps. */
int hsakmt_test_count_maps(void);

/*
 * Asserts that a value the guest received from the host, taken as an address range
 * of `size` bytes, is no readable host memory outside the KFD window (§6.2 row 24):
 * it is a window address, or nothing readable is mapped there.
 */
void hsakmt_test_assert_no_host_address(uint64_t value, uint64_t size, const char *what);

/* Bytes of the KFD VA window in use (kept ranges included). */
uint64_t hsakmt_test_window_used(void);

/* Initialises the renderer and opens one guest context (ctx 1). */
void hsakmt_test_env_start(struct hsakmt_test_env *env);

/*
 * libhsakmt keeps some buffers for the life of the KFD process once it needed them:
 * the doorbell page of each GPU (until hsaKmtCloseKFD) and the events page (never
 * freed). Creates one AQL queue on `node` and one event, releases them, and takes the
 * leak baseline again with those buffers in it. Needs OPEN_KFD done and the window.
 */
void hsakmt_test_env_warm_up_compute(struct hsakmt_test_env *env, uint32_t node);

/* Tears it all down and asserts that nothing leaked. */
void hsakmt_test_env_stop(struct hsakmt_test_env *env);

#endif /* HSAKMT_TEST_ENV_H */
