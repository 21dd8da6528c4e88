/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The step report of the guest-like programs: one line per step, "ok" or "FAIL",
 * the time the step took, and what it did; failures are counted for the exit status.
 */
#ifndef GUEST_STEPS_H
#define GUEST_STEPS_H

#include <stdbool.h>

/* Starts the clock; `prefix` (may be empty) starts every line, e.g. a process name. */
void steps_begin(const char *prefix);
/* Prints one step; returns `ok`. */
bool step(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints a line that is not a step (a note, a skipped check). */
void step_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int steps_failures(void);
/* Milliseconds since steps_begin. */
double steps_elapsed_ms(void);

#endif /* GUEST_STEPS_H */
