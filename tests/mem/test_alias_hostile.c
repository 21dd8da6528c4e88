/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * hostile-inputs.md, "iovec/blob layer": every bad iovec array gets the right errno,
 * a log line that says what and why, and leaves no mapping and no fd behind.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "alias_test_util.h"
#include "mem/vkfd_alias.h"

#define MIB (1024u * 1024u)

static size_t page;

/* The shared guest RAM most tests take their good iovecs from. */
static struct test_guest_ram ram;

static int
ram_setup(void **state)
{
   test_guest_ram_create(&ram, 4 * MIB);
   alias_test_fill(ram.base, ram.size, 99);
   return 0;
}

static int
ram_teardown(void **state)
{
   test_guest_ram_destroy(&ram);
   return 0;
}

static void
expect_failure_params(const struct vkfd_alias_params *params, int expected,
                      const char *const *needles)
{
   struct alias_test_snapshot before;
   alias_test_snapshot_take(&before);
   alias_test_log_capture_start();
   struct vkfd_alias *alias = (struct vkfd_alias *)(uintptr_t)1;
   int ret = vkfd_alias_create(params, &alias);
   alias_test_log_capture_stop();
   assert_int_equal(ret, expected);
   assert_null(alias);
   for (; needles && *needles; needles++) {
      if (!alias_test_log_contains(*needles))
         fail_msg("no log line mentions \"%s\"", *needles);
   }
   alias_test_assert_no_leftovers(&before);
}

/* Fails with `expected`; the log must contain every string of the NULL-ended list. */
static void
expect_failure(const struct iovec *iov, uint32_t count, uint64_t size, bool read_only,
               int expected, const char *const *needles)
{
   const struct vkfd_alias_params params = { iov, count, size, read_only, 42 };
   expect_failure_params(&params, expected, needles);
}

#define NEEDLES(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void
expect_success(const struct iovec *iov, uint32_t count, uint64_t size, bool read_only)
{
   struct alias_test_snapshot before;
   alias_test_snapshot_take(&before);
   struct vkfd_alias *alias;
   const struct vkfd_alias_params params = { iov, count, size, read_only, 42 };
   assert_int_equal(vkfd_alias_create(&params, &alias), 0);
   vkfd_alias_destroy(alias);
   alias_test_assert_no_leftovers(&before);
}

static void
test_hostile_private_anonymous_heap(void **state)
{
   uint8_t *heap = aligned_alloc(page, 16 * page); /* malloc'd memory, page-aligned */
   assert_non_null(heap);
   memset(heap, 1, 16 * page);
   char where[64];
   snprintf(where, sizeof(where), "iovec 1 (%p+0x%zx)", (void *)heap, 16 * page);
   struct iovec iov[2] = { { ram.base, 16 * page }, { heap, 16 * page } };
   expect_failure(iov, 2, 32 * page, false, -EFAULT,
                  NEEDLES("MAP_USERPTR: res 42:", where, "private mapping",
                          "memory-backend-memfd,share=on"));
   expect_failure(iov, 2, 32 * page, true, -EFAULT, NEEDLES("private mapping"));
   /* private memory alone would be "direct": still refused */
   expect_failure(iov + 1, 1, 16 * page, false, -EFAULT, NEEDLES("iovec 0"));
   free(heap);
}

static void
test_hostile_private_file_mapping(void **state)
{
   uint8_t *private = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE, ram.fd, 0);
   assert_true(private != MAP_FAILED);
   struct iovec iov[2] = { { ram.base, 4 * page }, { private + 8 * page, 4 * page } };
   expect_failure(iov, 2, 8 * page, false, -EFAULT,
                  NEEDLES("iovec 1", "private file mapping", "share=on"));
   munmap(private, MIB);
}

static void
test_hostile_unaligned_base(void **state)
{
   struct iovec iov[2] = { { ram.base, 4 * page },
                           { ram.base + 8 * page + 64, 4 * page } };
   expect_failure(iov, 2, 8 * page, false, -EINVAL, NEEDLES("iovec 1", "the base"));
}

static void
test_hostile_length_not_page_multiple(void **state)
{
   struct iovec iov[2] = { { ram.base + 8 * page, page + 512 }, { ram.base, 4 * page } };
   expect_failure(iov, 2, 8 * page, false, -EINVAL, NEEDLES("iovec 0", "the length"));
}

/* One iovec across two mappings (two memory backends side by side). */
static void
test_hostile_spans_two_mappings(void **state)
{
   struct test_guest_ram other;
   test_guest_ram_create(&other, MIB);
   uint8_t *both = mmap(NULL, 2 * MIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
   assert_true(both != MAP_FAILED);
   assert_true(mmap(both, MIB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, ram.fd,
                    0) != MAP_FAILED);
   assert_true(mmap(both + MIB, MIB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
                    other.fd, 0) != MAP_FAILED);

   struct iovec iov[2] = { { ram.base, 4 * page }, { both + MIB - 4 * page, 8 * page } };
   expect_failure(iov, 2, 12 * page, false, -EFAULT,
                  NEEDLES("iovec 1", "not inside one mapping"));
   /* alone it would be direct: still refused */
   expect_failure(iov + 1, 1, 8 * page, false, -EFAULT,
                  NEEDLES("not inside one mapping"));

   munmap(both, 2 * MIB);
   test_guest_ram_destroy(&other);
}

/* Memory that is not mapped at all, or runs off the end of guest RAM into a hole. */
static void
test_hostile_unmapped(void **state)
{
   uint8_t *hole = mmap(NULL, 3 * MIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
   assert_true(hole != MAP_FAILED);
   assert_true(mmap(hole, MIB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, ram.fd,
                    0) != MAP_FAILED);
   assert_int_equal(munmap(hole + MIB, 2 * MIB), 0);

   struct iovec iov[2] = { { ram.base, 4 * page }, { hole + MIB + 4 * page, 4 * page } };
   expect_failure(iov, 2, 8 * page, false, -EFAULT, NEEDLES("iovec 1", "is not mapped"));
   iov[1].iov_base = hole + MIB - 4 * page;
   iov[1].iov_len = 8 * page;
   expect_failure(iov, 2, 12 * page, false, -EFAULT, NEEDLES("not inside one mapping"));
   munmap(hole, MIB);
}

/* A read-only mapping is refused unless the blob is RDONLY. */
static void
test_hostile_read_only_mapping(void **state)
{
   uint8_t *ro = mmap(NULL, MIB, PROT_READ, MAP_SHARED, ram.fd, 0);
   assert_true(ro != MAP_FAILED);
   struct iovec iov[2] = { { ram.base, 4 * page }, { ro + 8 * page, 4 * page } };
   expect_failure(iov, 2, 8 * page, false, -EFAULT,
                  NEEDLES("iovec 1", "read-only mapping", "not RDONLY"));
   expect_success(iov, 2, 8 * page, true);

   uint8_t *none = mmap(NULL, MIB, PROT_NONE, MAP_SHARED, ram.fd, 0);
   assert_true(none != MAP_FAILED);
   iov[1].iov_base = none;
   expect_failure(iov, 2, 8 * page, true, -EFAULT, NEEDLES("without read permission"));
   munmap(none, MIB);
   munmap(ro, MIB);
}

/* The same guest page twice, next to each other or far apart, or partly. */
static void
test_hostile_duplicate_and_overlap(void **state)
{
   struct iovec dup[3] = {
      { ram.base + 4 * page, page },
      { ram.base + 9 * page, page },
      { ram.base + 4 * page, page },
   };
   expect_failure(dup, 3, 3 * page, false, -EINVAL,
                  NEEDLES("iovec 0", "overlaps iovec 2", "twice"));

   struct iovec same[2] = { { ram.base, 4 * page }, { ram.base, 4 * page } };
   expect_failure(same, 2, 8 * page, false, -EINVAL, NEEDLES("overlaps"));

   struct iovec partial[2] = { { ram.base + 2 * page, 4 * page },
                               { ram.base + 4 * page, 4 * page } };
   expect_failure(partial, 2, 8 * page, false, -EINVAL,
                  NEEDLES("iovec 0", "overlaps iovec 1"));

   /* an overlap hidden inside a run merged from several iovecs */
   struct iovec merged[4] = {
      { ram.base + 20 * page, page },
      { ram.base + 21 * page, page },
      { ram.base + 22 * page, page },
      { ram.base + 21 * page, page },
   };
   expect_failure(merged, 4, 4 * page, false, -EINVAL, NEEDLES("iovec 1", "iovec 3"));
}

static void
test_hostile_shape(void **state)
{
   struct iovec zero[2] = { { ram.base, 4 * page }, { ram.base + 8 * page, 0 } };
   expect_failure(zero, 2, 4 * page, false, -EINVAL, NEEDLES("iovec 1", "empty"));

   struct iovec null_base[2] = { { ram.base, 4 * page }, { NULL, 4 * page } };
   expect_failure(null_base, 2, 8 * page, false, -EINVAL, NEEDLES("iovec 1", "NULL"));

   struct iovec wrap[2] = { { ram.base, 4 * page },
                            { (void *)(UINTPTR_MAX - 4 * page + 1), 8 * page } };
   expect_failure(wrap, 2, 12 * page, false, -EINVAL, NEEDLES("iovec 1", "wraps"));

   struct iovec short_sum[2] = { { ram.base, 4 * page }, { ram.base + 8 * page, page } };
   expect_failure(short_sum, 2, 8 * page, false, -EINVAL, NEEDLES("less than the blob"));

   expect_failure(short_sum, 0, 4 * page, false, -EINVAL, NEEDLES("no iovecs"));
   expect_failure(NULL, 2, 4 * page, false, -EINVAL, NEEDLES("no iovecs"));
   expect_failure(short_sum, 2, 0, false, -EINVAL, NEEDLES("blob size 0x0"));
   expect_failure(short_sum, 2, page + 8, false, -EINVAL, NEEDLES("page size"));
   expect_failure(short_sum, 2, UINT64_MAX, false, -EINVAL, NEEDLES("blob size"));

   /* a length running past the top of the address space */
   struct iovec huge[2] = { { ram.base, 4 * page },
                            { ram.base + 8 * page, SIZE_MAX - 16 * page + 1 } };
   expect_failure(huge, 2, 8 * page, false, -EINVAL, NEEDLES("iovec 1", "wraps"));

   struct vkfd_alias *alias = (struct vkfd_alias *)(uintptr_t)1;
   assert_int_equal(vkfd_alias_create(NULL, &alias), -EINVAL);
   assert_null(alias);
   const struct vkfd_alias_params params = { zero, 1, 4 * page, false, 42 };
   assert_int_equal(vkfd_alias_create(&params, NULL), -EINVAL);
   vkfd_alias_destroy(NULL);
}

/* Only the first `size` bytes are aliased: iovecs past them are shape-checked only. */
static void
test_hostile_iovecs_past_size(void **state)
{
   struct iovec iov[3] = {
      { ram.base + 8 * page, 4 * page },
      { ram.base, 4 * page },
      { ram.base + 64, 3 }, /* unaligned, but never aliased */
   };
   expect_success(iov, 3, 8 * page, false);
   iov[2].iov_len = 0; /* garbage is still garbage */
   expect_failure(iov, 3, 8 * page, false, -EINVAL, NEEDLES("iovec 2", "empty"));
}

/* Hugetlb memory handed over in 4 KiB pieces cannot be aliased. */
static void
test_hostile_hugetlb_small_pieces(void **state)
{
   const struct alias_test_mode *mode = *state;
   const size_t huge = 2 * MIB, size = 4 * huge;
   uint8_t *ht = mmap(NULL, size, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
   if (ht == MAP_FAILED) {
      printf("skipped: no 2 MiB huge pages (vm.nr_hugepages): %s\n", strerror(errno));
      skip();
   }
   struct iovec iov[3] = {
      { ht + huge, huge },
      { ht + 4 * page, page }, /* a 4 KiB piece of a huge page */
      { ht + 2 * huge, huge },
   };
   if (mode->force_mremap && mode->force_proc_maps) {
      /* no page size without map_files or PROCMAP_QUERY: the kernel refuses instead */
      struct alias_test_snapshot before;
      alias_test_snapshot_take(&before);
      struct vkfd_alias *alias;
      const struct vkfd_alias_params params = { iov, 3, 2 * huge + page, false, 42 };
      assert_true(vkfd_alias_create(&params, &alias) < 0);
      alias_test_assert_no_leftovers(&before);
   } else {
      expect_failure(iov, 3, 2 * huge + page, false, -EINVAL,
                     NEEDLES("iovec 1", "hugetlb", "not aligned"));
      /* whole huge pages at a blob offset that is not a huge-page multiple */
      struct iovec shifted[2] = { { ram.base, page }, { ht, huge } };
      expect_failure(shifted, 2, huge + page, false, -EINVAL,
                     NEEDLES("iovec 1", "blob offset 0x1000"));
   }
   munmap(ht, size);
}

static struct iovec *
shuffled_pages(size_t count)
{
   struct iovec *iov = alias_test_iovecs(&ram, 0, page, count);
   alias_test_shuffle_iovecs(iov, count, 77);
   return iov;
}

/* The pre-check: too many runs for vm.max_map_count fail before anything is mapped. */
static void
test_hostile_max_map_count_precheck(void **state)
{
   const size_t count = ram.size / page;
   struct iovec *iov = shuffled_pages(count);
   char limit[32];
   snprintf(limit, sizeof(limit), "%d", alias_test_count_maps() + 100);
   setenv("VIRTKFD_ALIAS_MAX_MAP_COUNT", limit, 1);
   expect_failure(iov, (uint32_t)count, ram.size, false, -ENOMEM,
                  NEEDLES("res 42", "vm.max_map_count"));
   unsetenv("VIRTKFD_ALIAS_MAX_MAP_COUNT");
   free(iov);
}

static uint64_t
read_max_map_count(void)
{
   FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
   assert_non_null(f);
   unsigned long long v = 0;
   assert_int_equal(fscanf(f, "%llu", &v), 1);
   fclose(f);
   return v;
}

/*
 * The real limit, hit midway: the process is filled with mappings until only about
 * half the runs fit, the pre-check is told the limit is huge, and the kernel refuses
 * a placement partway. Everything placed so far must be rolled back.
 */
static void
test_hostile_max_map_count_midway(void **state)
{
   const uint64_t limit = read_max_map_count();
   if (limit > 1000000) {
      printf("skipped: vm.max_map_count=%llu is too large to exhaust\n",
             (unsigned long long)limit);
      skip();
   }
   const size_t count = 16 * MIB / page;
   struct test_guest_ram big;
   test_guest_ram_create(&big, 16 * MIB);
   struct iovec *iov = alias_test_iovecs(&big, 0, page, count);
   alias_test_shuffle_iovecs(iov, count, 91);

   /* each mprotect of one page in the middle of the filler adds two mappings */
   int64_t fill = (int64_t)limit - alias_test_count_maps() - (int64_t)count / 2;
   size_t steps = fill > 0 ? (size_t)fill / 2 : 0;
   size_t filler_size = (2 * steps + 2) * page;
   uint8_t *filler = mmap(NULL, filler_size, PROT_NONE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
   assert_true(filler != MAP_FAILED);
   for (size_t i = 0; i < steps; i++)
      assert_int_equal(mprotect(filler + (2 * i + 1) * page, page, PROT_READ), 0);
   int free_maps = (int)limit - alias_test_count_maps();
   assert_true(free_maps > 16 && free_maps < (int)count);

   setenv("VIRTKFD_ALIAS_MAX_MAP_COUNT", "4000000000", 1);
   expect_failure(iov, (uint32_t)count, big.size, false, -ENOMEM,
                  NEEDLES("res 42", "placing the run", "vm.max_map_count"));
   unsetenv("VIRTKFD_ALIAS_MAX_MAP_COUNT");

   munmap(filler, filler_size);
   free(iov);
   test_guest_ram_destroy(&big);
}

#define MODE_TEST(fn, index, label)                                           \
   {                                                                          \
#fn "[" label "]", fn, alias_test_mode_setup, alias_test_mode_teardown, \
         (void *)&alias_test_modes[index]                                     \
   }
#define MODE_TESTS(fn)                                                                   \
   MODE_TEST(fn, 0, "procmap-query+map-files"),                                          \
      MODE_TEST(fn, 1, "procmap-query+mremap"), MODE_TEST(fn, 2, "proc-maps+map-files"), \
      MODE_TEST(fn, 3, "proc-maps+mremap")

int
main(void)
{
   page = (size_t)sysconf(_SC_PAGESIZE);
   const struct CMUnitTest tests[] = {
      MODE_TESTS(test_hostile_private_anonymous_heap),
      MODE_TESTS(test_hostile_private_file_mapping),
      MODE_TEST(test_hostile_unaligned_base, 0, "procmap-query+map-files"),
      MODE_TEST(test_hostile_length_not_page_multiple, 0, "procmap-query+map-files"),
      MODE_TESTS(test_hostile_spans_two_mappings),
      MODE_TESTS(test_hostile_unmapped),
      MODE_TESTS(test_hostile_read_only_mapping),
      MODE_TESTS(test_hostile_duplicate_and_overlap),
      MODE_TEST(test_hostile_shape, 0, "procmap-query+map-files"),
      MODE_TEST(test_hostile_iovecs_past_size, 0, "procmap-query+map-files"),
      MODE_TESTS(test_hostile_hugetlb_small_pieces),
      MODE_TESTS(test_hostile_max_map_count_precheck),
      MODE_TESTS(test_hostile_max_map_count_midway),
   };
   return cmocka_run_group_tests(tests, ram_setup, ram_teardown);
}
