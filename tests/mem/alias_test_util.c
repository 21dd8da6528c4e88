/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "alias_test_util.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/vkfd_log.h"

const struct alias_test_mode alias_test_modes[4] = {
   { "procmap-query+map-files", false, false },
   { "procmap-query+mremap", true, false },
   { "proc-maps+map-files", false, true },
   { "proc-maps+mremap", true, true },
};

int
alias_test_mode_setup(void **state)
{
   const struct alias_test_mode *mode = *state;
   if (mode->force_mremap)
      setenv("VIRTKFD_ALIAS_FORCE_MREMAP", "1", 1);
   else
      unsetenv("VIRTKFD_ALIAS_FORCE_MREMAP");
   if (mode->force_proc_maps)
      setenv("VIRTKFD_ALIAS_FORCE_PROC_MAPS", "1", 1);
   else
      unsetenv("VIRTKFD_ALIAS_FORCE_PROC_MAPS");
   return 0;
}

int
alias_test_mode_teardown(void **state)
{
   unsetenv("VIRTKFD_ALIAS_FORCE_MREMAP");
   unsetenv("VIRTKFD_ALIAS_FORCE_PROC_MAPS");
   unsetenv("VIRTKFD_ALIAS_MAX_MAP_COUNT");
   return 0;
}

/* Calls fn for every line of /proc/self/maps until it returns false. */
static void
maps_for_each(bool (*fn)(const char *line, void *data), void *data)
{
   FILE *f = fopen("/proc/self/maps", "re");
   assert_non_null(f);
   char line[4096];
   while (fgets(line, sizeof(line), f)) {
      if (!fn(line, data))
         break;
   }
   fclose(f);
}

static bool
count_line(const char *line, void *data)
{
   (*(int *)data)++;
   return true;
}

int
alias_test_count_maps(void)
{
   int count = 0;
   maps_for_each(count_line, &count);
   return count;
}

/*
 * Mapping lists live in static storage: a heap list of tens of thousands of entries
 * would itself be an mmap'd chunk and change the count it is compared against.
 */
#define MAX_MAPPINGS (1 << 18)

struct mapping_list {
   struct alias_test_mapping *items;
   size_t count;
};

static struct alias_test_mapping before_storage[MAX_MAPPINGS];
static struct alias_test_mapping after_storage[MAX_MAPPINGS];

static bool
mapping_line(const char *line, void *data)
{
   struct mapping_list *list = data;
   struct alias_test_mapping m = { 0 };
   unsigned long long offset, inode;
   unsigned major, minor;
   if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %4s %llx %x:%x %llu", &m.start, &m.end,
              m.perms, &offset, &major, &minor, &inode) != 7)
      return true;
   m.inode = inode;
   assert_true(list->count < MAX_MAPPINGS);
   list->items[list->count++] = m;
   return true;
}

void
alias_test_snapshot_take(struct alias_test_snapshot *snapshot)
{
   struct mapping_list list = { before_storage, 0 };
   maps_for_each(mapping_line, &list);
   snapshot->mappings = list.items;
   snapshot->count = list.count;
   snapshot->maps = (int)list.count;
   snapshot->fds = test_count_fds();
}

static bool
mapping_expected(const struct alias_test_snapshot *before,
                 const struct alias_test_mapping *m)
{
   bool anonymous_private = m->inode == 0 && m->perms[3] == 'p';
   if (anonymous_private && !strcmp(m->perms, "rw-p"))
      return true; /* allocator growth */
   /* /proc/self/maps is sorted: the last mapping starting at or below m->start */
   size_t lo = 0, hi = before->count;
   while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (before->mappings[mid].start <= m->start)
         lo = mid + 1;
      else
         hi = mid;
   }
   if (!lo)
      return false;
   const struct alias_test_mapping *b = &before->mappings[lo - 1];
   if (b->start == m->start && b->end == m->end && !strcmp(b->perms, m->perms) &&
       b->inode == m->inode)
      return true;
   return anonymous_private && m->end <= b->end; /* carved out of an older range */
}

#if defined(__SANITIZE_ADDRESS__)
#define ALIAS_TEST_EXACT_MAP_COUNT 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ALIAS_TEST_EXACT_MAP_COUNT 0
#endif
#endif
#ifndef ALIAS_TEST_EXACT_MAP_COUNT
#define ALIAS_TEST_EXACT_MAP_COUNT 1
#endif

void
alias_test_assert_no_new_mappings(const struct alias_test_snapshot *snapshot)
{
   struct mapping_list after = { after_storage, 0 };
   maps_for_each(mapping_line, &after);
   for (size_t i = 0; i < after.count; i++) {
      const struct alias_test_mapping *m = &after.items[i];
      if (!mapping_expected(snapshot, m))
         fail_msg("left behind: mapping 0x%" PRIxPTR "-0x%" PRIxPTR " %s inode %llu",
                  m->start, m->end, m->perms, (unsigned long long)m->inode);
   }
   if (ALIAS_TEST_EXACT_MAP_COUNT)
      assert_int_equal((int)after.count, snapshot->maps);
}

void
alias_test_assert_no_leftovers(const struct alias_test_snapshot *snapshot)
{
   alias_test_assert_no_new_mappings(snapshot);
   assert_int_equal(test_count_fds(), snapshot->fds);
}

struct range_query {
   uintptr_t start, end;
   bool found;
   bool count_all;
   int count;
   char perms[5];
};

static bool
range_line(const char *line, void *data)
{
   struct range_query *q = data;
   uintptr_t start, end;
   char perms[5];
   if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %4s", &start, &end, perms) != 3)
      return true;
   if (start < q->end && q->start < end) {
      q->found = true;
      q->count++;
      memcpy(q->perms, perms, sizeof(perms));
      return q->count_all;
   }
   return true;
}

int
alias_test_count_maps_in(uintptr_t start, uint64_t len)
{
   struct range_query q = { .start = start, .end = start + len, .count_all = true };
   maps_for_each(range_line, &q);
   return q.count;
}

bool
alias_test_range_mapped(uintptr_t start, uint64_t len)
{
   struct range_query q = { .start = start, .end = start + len };
   maps_for_each(range_line, &q);
   return q.found;
}

bool
alias_test_perms_at(uintptr_t addr, char perms[5])
{
   struct range_query q = { .start = addr, .end = addr + 1 };
   maps_for_each(range_line, &q);
   if (q.found)
      memcpy(perms, q.perms, 5);
   return q.found;
}

static uint64_t
next_random(uint64_t *state)
{
   /* xorshift64*: deterministic, so a failure can be replayed */
   uint64_t x = *state;
   x ^= x >> 12;
   x ^= x << 25;
   x ^= x >> 27;
   *state = x;
   return x * 0x2545f4914f6cdd1dull;
}

void
alias_test_shuffle_iovecs(struct iovec *iov, size_t count, uint64_t seed)
{
   uint64_t state = seed | 1;
   for (size_t i = count - 1; i > 0; i--) {
      size_t j = (size_t)(next_random(&state) % (i + 1));
      struct iovec t = iov[i];
      iov[i] = iov[j];
      iov[j] = t;
   }
}

struct iovec *
alias_test_iovecs(const struct test_guest_ram *ram, size_t offset, size_t chunk,
                  size_t count)
{
   struct iovec *iov = calloc(count, sizeof(*iov));
   assert_non_null(iov);
   for (size_t i = 0; i < count; i++) {
      iov[i].iov_base = ram->base + offset + i * chunk;
      iov[i].iov_len = chunk;
   }
   return iov;
}

uint32_t
alias_test_expected_runs(const struct iovec *iov, size_t count, uint64_t size)
{
   uint32_t runs = 0;
   uint64_t total = 0;
   const uint8_t *prev_end = NULL;
   for (size_t i = 0; i < count && total < size; i++) {
      if (iov[i].iov_base != prev_end)
         runs++;
      prev_end = (const uint8_t *)iov[i].iov_base + iov[i].iov_len;
      total += iov[i].iov_len;
   }
   return runs;
}

void
alias_test_fill(void *base, size_t len, uint64_t seed)
{
   uint64_t *p = base;
   uint64_t state = seed | 1;
   for (size_t i = 0; i < len / sizeof(*p); i++)
      p[i] = next_random(&state);
}

void
alias_test_assert_alias_matches(const struct vkfd_alias *alias, const struct iovec *iov,
                                size_t count)
{
   uint8_t *a = vkfd_alias_address(alias);
   const uint64_t size = vkfd_alias_size(alias);
   uint64_t offset = 0;
   for (size_t i = 0; i < count && offset < size; i++) {
      uint8_t *src = iov[i].iov_base;
      size_t len =
         (size_t)(iov[i].iov_len < size - offset ? iov[i].iov_len : size - offset);
      if (memcmp(a + offset, src, len) != 0)
         fail_msg("alias offset 0x%" PRIx64 " differs from iovec %zu", offset, i);
      /* both directions, at both ends of the chunk */
      uint8_t old = src[0];
      a[offset] = (uint8_t)(old ^ 0x5a);
      assert_int_equal(src[0], (uint8_t)(old ^ 0x5a));
      a[offset] = old;
      src[len - 1] ^= 0xa5;
      assert_int_equal(a[offset + len - 1], src[len - 1]);
      src[len - 1] ^= 0xa5;
      offset += len;
   }
   assert_true(offset == size);

   uint32_t runs = vkfd_alias_run_count(alias);
   assert_true(runs >= 1);
   uint64_t total = 0;
   uintptr_t prev_end = 0;
   for (uint32_t r = 0; r < runs; r++) {
      uintptr_t start;
      uint64_t len;
      vkfd_alias_run(alias, r, &start, &len);
      assert_true(len > 0);
      assert_true(start >= prev_end); /* sorted and disjoint */
      prev_end = start + len;
      total += len;
   }
   assert_true(total == size);
}

static char log_buffer[16384];
static size_t log_length;

static void
log_capture(enum vkfd_log_level level, const char *message, void *user_data)
{
   fprintf(stderr, "virtkfd(captured): %s\n", message);
   size_t len = strlen(message);
   if (log_length + len + 2 > sizeof(log_buffer))
      return;
   memcpy(log_buffer + log_length, message, len);
   log_length += len;
   log_buffer[log_length++] = '\n';
   log_buffer[log_length] = '\0';
}

void
alias_test_log_capture_start(void)
{
   log_length = 0;
   log_buffer[0] = '\0';
   vkfd_log_set_sink(log_capture, NULL, NULL);
}

void
alias_test_log_capture_stop(void)
{
   vkfd_log_set_sink(NULL, NULL, NULL);
}

bool
alias_test_log_contains(const char *needle)
{
   return strstr(log_buffer, needle) != NULL;
}
