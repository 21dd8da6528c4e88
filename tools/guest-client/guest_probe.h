/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The guest side of the end-to-end test's host probe (tests/e2e/e2e_probe.c): a
 * library loaded into the VMM beside the KFD emulator, reached over a serial port.
 * It reads and writes memory as the emulated GPU does and counts the KFD objects of
 * the VMM process, which a guest cannot see otherwise. One request line, one reply
 * line starting with "ok" or "error"; the requests are listed in tests/e2e/README.md.
 */
#ifndef GUEST_PROBE_H
#define GUEST_PROBE_H

#include <stddef.h>

struct guest_probe {
   int fd;
};

/* Opens the serial port in raw mode (no echo, no line editing). */
int probe_open(struct guest_probe *probe, const char *tty);
void probe_close(struct guest_probe *probe);
/*
 * Sends one request and reads its reply (without the newline) into `reply`: 0 when
 * it starts with "ok", -EPROTO when it does not, -ETIMEDOUT or another -errno when
 * no whole line came.
 */
int probe_request(struct guest_probe *probe, char *reply, size_t size, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));

#endif /* GUEST_PROBE_H */
