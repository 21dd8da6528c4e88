/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "guest_steps.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static struct {
   const char *prefix;
   struct timespec start, last;
   int failures;
} steps;

static double
ms_since(const struct timespec *since)
{
   struct timespec now;
   clock_gettime(CLOCK_MONOTONIC, &now);
   return (double)(now.tv_sec - since->tv_sec) * 1e3 +
          (double)(now.tv_nsec - since->tv_nsec) / 1e6;
}

void
steps_begin(const char *prefix)
{
   steps.prefix = prefix ? prefix : "";
   steps.failures = 0;
   clock_gettime(CLOCK_MONOTONIC, &steps.start);
   steps.last = steps.start;
}

bool
step(bool ok, const char *fmt, ...)
{
   va_list ap;
   va_start(ap, fmt);
   printf("%s  %-4s %8.3f ms  ", steps.prefix, ok ? "ok" : "FAIL", ms_since(&steps.last));
   vprintf(fmt, ap);
   printf("\n");
   va_end(ap);
   /* one line at a time: another process may write to the same console */
   fflush(stdout);
   steps.failures += !ok;
   clock_gettime(CLOCK_MONOTONIC, &steps.last);
   return ok;
}

void
step_note(const char *fmt, ...)
{
   va_list ap;
   va_start(ap, fmt);
   printf("%s  (", steps.prefix);
   vprintf(fmt, ap);
   printf(")\n");
   va_end(ap);
   fflush(stdout);
}

int
steps_failures(void)
{
   return steps.failures;
}

double
steps_elapsed_ms(void)
{
   return ms_since(&steps.start);
}
