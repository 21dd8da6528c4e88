/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * A test-only context backend (capset TEST_CAPSET_ID) that exercises every path of
 * the core: fd-backed, VA and opaque blobs, guest-backed blobs, iovec release and
 * rings whose fences complete later, on another thread or on demand.
 *
 * Command buffer: dwords; TEST_CMD_FAIL as the first dword makes submit fail with
 * -EINVAL, anything else succeeds and is counted.
 *
 * Blob ids for HOST3D: TEST_BLOB_SHM (a memfd), TEST_BLOB_VA (an anonymous mapping,
 * released with the resource), TEST_BLOB_OPAQUE (no host memory). HOST3D_GUEST accepts
 * any id and keeps the iovecs until release_iovecs.
 */
#ifndef TEST_BACKEND_H
#define TEST_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#define TEST_CAPSET_ID      0xfe
#define TEST_CAPSET_SIZE    16
#define TEST_CAPSET_VERSION 1
#define TEST_CMD_FAIL       0xdead
#define TEST_BLOB_SHM       1
#define TEST_BLOB_VA        2
#define TEST_BLOB_OPAQUE    3
#define TEST_ASYNC_RING     5 /* fences on this ring complete on test_backend_complete() */

struct test_backend_stats {
   int contexts;       /* live contexts */
   int objects;        /* live blob objects (any kind) */
   int va_backings;    /* VA blob memory not yet released by its resource */
   int guest_blobs;    /* HOST3D_GUEST objects still holding iovecs */
   int submits;        /* successful submits, all contexts */
   int attaches;       /* attach hook calls for foreign resources */
   int detaches;       /* detach hook calls */
   int iovec_releases; /* release_iovecs hook calls */
   int inits;          /* backend init calls */
   int finis;          /* backend fini calls */
};

/* Registers the backend (idempotent). */
void test_backend_register(void);

void test_backend_unregister(void);

/* Makes the next backend init fail (capset then unavailable). */
void test_backend_fail_next_init(void);

/* Makes the next context_create fail. */
void test_backend_fail_next_context(void);

struct test_backend_stats test_backend_stats(void);

/* Completes the oldest outstanding fence on TEST_ASYNC_RING of `ctx_id`. */
bool test_backend_complete(uint32_t ctx_id);

/* Completes it from a new thread after `delay_ms`, then joins at test_backend_join. */
void test_backend_complete_async(uint32_t ctx_id, unsigned delay_ms);
void test_backend_join(void);

/* The bytes written by fill_capset. */
void test_backend_expected_caps(uint8_t caps[TEST_CAPSET_SIZE]);

#endif /* TEST_BACKEND_H */
