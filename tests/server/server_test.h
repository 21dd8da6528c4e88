/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Assertions shared by the server tests.
 */
#ifndef SERVER_TEST_H
#define SERVER_TEST_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "server_harness.h"

/* Reads one reply and checks its header and payload exactly. */
static inline void
expect_reply(struct vtc *c, uint32_t cmd, const uint32_t *payload, uint32_t ndw)
{
   uint32_t hdr[2];
   assert_int_equal(vtc_read(c, hdr, sizeof(hdr)), 0);
   assert_int_equal(hdr[1], cmd);
   assert_int_equal(hdr[0], ndw);
   for (uint32_t i = 0; i < ndw; i++) {
      uint32_t v;
      assert_int_equal(vtc_read(c, &v, 4), 0);
      if (payload)
         assert_int_equal(v, payload[i]);
   }
}

/* The server ends the session: the error notice (§13.5), then EOF. */
static inline void
expect_dropped(struct vtc *c, uint32_t cmd, uint32_t err)
{
   uint32_t hdr[2], notice[2];
   assert_int_equal(vtc_read(c, hdr, sizeof(hdr)), 0);
   assert_int_equal(hdr[1], VCMD_VIRTKFD_ERROR);
   assert_int_equal(hdr[0], 2);
   assert_int_equal(vtc_read(c, notice, sizeof(notice)), 0);
   assert_int_equal(notice[0], cmd);
   if (err)
      assert_int_equal(notice[1], err);
   assert_true(vtc_server_closed(c, 5000));
}

/* The session still works: a PING round trip. */
static inline void
expect_alive(struct vtc *c)
{
   assert_int_equal(vtc_send(c, VCMD_PING_PROTOCOL_VERSION, NULL, 0), 0);
   expect_reply(c, VCMD_PING_PROTOCOL_VERSION, NULL, 0);
}

#endif /* SERVER_TEST_H */
