/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "vkfd_log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Process-wide logging state; the lock guards the sinks, not the message output. */
static struct {
   pthread_mutex_t lock;
   int threshold;
   int threshold_loaded;
   vkfd_log_sink sink;
   void *sink_data;
   vkfd_log_free_fn sink_free;
   vkfd_log_legacy_sink legacy_sink;
} log_state = {
   .lock = PTHREAD_MUTEX_INITIALIZER,
   .threshold = VKFD_LOG_WARNING,
};

static const char *const level_names[] = {
   [VKFD_LOG_DEBUG] = "debug",     [VKFD_LOG_INFO] = "info",
   [VKFD_LOG_WARNING] = "warning", [VKFD_LOG_ERROR] = "error",
   [VKFD_LOG_SILENT] = "silent",
};

static int
parse_level(const char *value)
{
   if (!value || !*value)
      return VKFD_LOG_WARNING;
   for (int i = 0; i <= VKFD_LOG_SILENT; i++) {
      if (!strcasecmp(value, level_names[i]))
         return i;
   }
   if (!strcasecmp(value, "warn"))
      return VKFD_LOG_WARNING;
   char *end;
   long n = strtol(value, &end, 10);
   if (*end == '\0' && n >= VKFD_LOG_DEBUG && n <= VKFD_LOG_SILENT)
      return (int)n;
   return VKFD_LOG_WARNING;
}

void
vkfd_log_reload_level(void)
{
   pthread_mutex_lock(&log_state.lock);
   log_state.threshold = parse_level(getenv("VIRTKFD_LOG_LEVEL"));
   log_state.threshold_loaded = 1;
   pthread_mutex_unlock(&log_state.lock);
}

static int
log_threshold(void)
{
   pthread_mutex_lock(&log_state.lock);
   if (!log_state.threshold_loaded) {
      log_state.threshold = parse_level(getenv("VIRTKFD_LOG_LEVEL"));
      log_state.threshold_loaded = 1;
   }
   int threshold = log_state.threshold;
   pthread_mutex_unlock(&log_state.lock);
   return threshold;
}

int
vkfd_log_enabled(enum vkfd_log_level level)
{
   return level < VKFD_LOG_SILENT && (int)level >= log_threshold();
}

void
vkfd_logv(enum vkfd_log_level level, const char *fmt, va_list ap)
{
   if (!vkfd_log_enabled(level))
      return;

   char message[1024];
   va_list copy;
   va_copy(copy, ap);
   vsnprintf(message, sizeof(message), fmt, copy);
   va_end(copy);

   pthread_mutex_lock(&log_state.lock);
   vkfd_log_sink sink = log_state.sink;
   void *sink_data = log_state.sink_data;
   vkfd_log_legacy_sink legacy = log_state.legacy_sink;
   pthread_mutex_unlock(&log_state.lock);

   if (sink) {
      sink(level, message, sink_data);
   } else if (legacy) {
      va_list legacy_ap;
      va_copy(legacy_ap, ap);
      legacy(fmt, legacy_ap);
      va_end(legacy_ap);
   } else {
      fprintf(stderr, "virtkfd: %s: %s\n", level_names[level], message);
   }
}

void
vkfd_log(enum vkfd_log_level level, const char *fmt, ...)
{
   va_list ap;
   va_start(ap, fmt);
   vkfd_logv(level, fmt, ap);
   va_end(ap);
}

void
vkfd_log_set_sink(vkfd_log_sink sink, void *user_data, vkfd_log_free_fn free_fn)
{
   pthread_mutex_lock(&log_state.lock);
   void *old_data = log_state.sink_data;
   vkfd_log_free_fn old_free = log_state.sink_free;
   log_state.sink = sink;
   log_state.sink_data = user_data;
   log_state.sink_free = free_fn;
   pthread_mutex_unlock(&log_state.lock);

   if (old_free)
      old_free(old_data);
}

vkfd_log_legacy_sink
vkfd_log_set_legacy_sink(vkfd_log_legacy_sink sink)
{
   pthread_mutex_lock(&log_state.lock);
   vkfd_log_legacy_sink old = log_state.legacy_sink;
   log_state.legacy_sink = sink;
   pthread_mutex_unlock(&log_state.lock);
   return old;
}

/* The VMM's user data is released when the library is unloaded or the process exits. */
__attribute__((destructor)) static void
log_release_sink(void)
{
   vkfd_log_set_sink(NULL, NULL, NULL);
}
