/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The one logging module. Messages go to the VMM's virgl_set_log_callback() callback
 * when set, else to the legacy debug callback, else to stderr. The threshold comes
 * from VIRTKFD_LOG_LEVEL (debug, info, warning, error, silent; default warning).
 */
#ifndef VKFD_LOG_H
#define VKFD_LOG_H

#include <stdarg.h>

enum vkfd_log_level {
   VKFD_LOG_DEBUG = 0,
   VKFD_LOG_INFO = 1,
   VKFD_LOG_WARNING = 2,
   VKFD_LOG_ERROR = 3,
   VKFD_LOG_SILENT = 4,
};

void vkfd_log(enum vkfd_log_level level, const char *fmt, ...)
   __attribute__((format(printf, 2, 3)));

void vkfd_logv(enum vkfd_log_level level, const char *fmt, va_list ap)
   __attribute__((format(printf, 2, 0)));

/* True when a message of `level` would be emitted (to skip costly formatting). */
int vkfd_log_enabled(enum vkfd_log_level level);

/* Re-reads VIRTKFD_LOG_LEVEL; called at init and by tests. */
void vkfd_log_reload_level(void);

typedef void (*vkfd_log_sink)(enum vkfd_log_level level, const char *message,
                              void *user_data);
typedef void (*vkfd_log_free_fn)(void *user_data);
typedef void (*vkfd_log_legacy_sink)(const char *fmt, va_list ap);

/* Installs a sink; the previous user data is freed with its free function. */
void vkfd_log_set_sink(vkfd_log_sink sink, void *user_data, vkfd_log_free_fn free_fn);

/* Installs the deprecated printf-style sink and returns the previous one. */
vkfd_log_legacy_sink vkfd_log_set_legacy_sink(vkfd_log_legacy_sink sink);

#define vkfd_debug(...) vkfd_log(VKFD_LOG_DEBUG, __VA_ARGS__)
#define vkfd_info(...)  vkfd_log(VKFD_LOG_INFO, __VA_ARGS__)
#define vkfd_warn(...)  vkfd_log(VKFD_LOG_WARNING, __VA_ARGS__)
#define vkfd_err(...)   vkfd_log(VKFD_LOG_ERROR, __VA_ARGS__)

#endif /* VKFD_LOG_H */
