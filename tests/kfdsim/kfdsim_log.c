/*
 * What tests observe and steer: the ioctl log, the per-nr call counts, the
 * injected failures, and the KFDSIM_TRACE output.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kfdsim_priv.h"

/* The log keeps the most recent calls only, so a long-running process (a vtest
 * server serving thousands of sessions) stays at a constant size; tests inspect
 * the few calls since their last kfdsim_log_clear(). Every call is still
 * counted.
 */
#define LOG_MAX_ENTRIES 4096

void
kfdsim_log_init(struct kfdsim_log *log)
{
   memset(log, 0, sizeof(*log));
   log->trace_fd = -1;
   kfdsim_trace_open(log);
}

/* KFDSIM_TRACE=1 traces to stderr, any other value names a file to append to. */
void
kfdsim_trace_open(struct kfdsim_log *log)
{
   const char *trace = getenv("KFDSIM_TRACE");

   if (!trace || !*trace || !strcmp(trace, "0"))
      return;
   if (!strcmp(trace, "1")) {
      log->trace_fd = STDERR_FILENO;
      return;
   }
   log->trace_fd =
      kfdsim_real()->open(trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
   log->trace_fd_owned = log->trace_fd >= 0;
}

static void
free_entry(struct kfdsim_log_entry *entry)
{
   free(entry->in);
   free(entry->out);
   entry->in = entry->out = NULL;
}

static void
free_entries(struct kfdsim_log *log)
{
   for (size_t i = 0; i < log->count; i++)
      free_entry(&log->entries[(log->first + i) % log->capacity]);
   log->count = 0;
   log->first = 0;
}

void
kfdsim_log_reset(struct kfdsim_log *log)
{
   free_entries(log);
   log->dropped = 0;
   memset(log->counts, 0, sizeof(log->counts));
}

void
kfdsim_log_fini(struct kfdsim_log *log)
{
   free_entries(log);
   free(log->entries);
   log->entries = NULL;
   log->capacity = 0;
   if (log->trace_fd_owned)
      kfdsim_real()->close(log->trace_fd);
   log->trace_fd = -1;
}

int
kfdsim_log_count_and_inject(struct kfdsim_log *log, unsigned int nr)
{
   if (nr >= KFDSIM_NR_COUNT)
      return 0;
   log->counts[nr]++;
   if (log->fail[nr].remaining == 0)
      return 0;
   log->fail[nr].remaining--;
   return log->fail[nr].err;
}

/* Takes ownership of entry->in and entry->out. When the log is full, the
 * oldest record makes room.
 */
void
kfdsim_log_append(struct kfdsim_log *log, const struct kfdsim_log_entry *entry)
{
   struct kfdsim_log_entry copy = *entry;

   if (log->count == log->capacity && log->capacity < LOG_MAX_ENTRIES) {
      size_t capacity = log->capacity ? log->capacity * 2 : 256;
      struct kfdsim_log_entry *entries;

      if (capacity > LOG_MAX_ENTRIES)
         capacity = LOG_MAX_ENTRIES;
      entries = calloc(capacity, sizeof(*entries));
      if (entries) {
         /* unroll the ring into the new array, oldest first */
         for (size_t i = 0; i < log->count; i++)
            entries[i] = log->entries[(log->first + i) % log->capacity];
         free(log->entries);
         log->entries = entries;
         log->capacity = capacity;
         log->first = 0;
      }
   }
   if (log->capacity == 0) {
      free_entry(&copy);
      return;
   }
   if (log->count == log->capacity) {
      free_entry(&log->entries[log->first]);
      log->entries[log->first] = copy;
      log->first = (log->first + 1) % log->capacity;
      log->dropped++;
      return;
   }
   log->entries[(log->first + log->count++) % log->capacity] = copy;
}

const struct kfdsim_log_entry *
kfdsim_log_entry_at(const struct kfdsim_log *log, size_t index)
{
   if (index >= log->count)
      return NULL;
   return &log->entries[(log->first + index) % log->capacity];
}

void
kfdsim_trace(struct kfdsim_state *s, const char *fmt, ...)
{
   char line[512];
   va_list ap;
   int n;

   if (s->log.trace_fd < 0)
      return;
   n = snprintf(line, sizeof(line), "kfdsim[%d]: ", (int)getpid());
   va_start(ap, fmt);
   n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
   va_end(ap);
   if (n > (int)sizeof(line) - 2)
      n = (int)sizeof(line) - 2;
   line[n++] = '\n';
   if (write(s->log.trace_fd, line, (size_t)n) < 0) {
      /* Tracing is best effort. */
   }
}
