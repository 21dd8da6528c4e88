/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * src/mem alias: guest RAM delivered as iovecs becomes one contiguous host pointer
 * that shows the same bytes, both ways, and leaves nothing behind. Every test that
 * maps runs is run in the four build modes (PROCMAP_QUERY or /proc/self/maps, times
 * map_files mmap or mremap duplication).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
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

/* Creates the alias, checks it shows the iovecs, destroys it, checks for leftovers. */
static void
alias_roundtrip(const struct iovec *iov, size_t count, uint64_t size, bool read_only,
                bool expect_direct)
{
   struct alias_test_snapshot before;
   alias_test_snapshot_take(&before);
   const struct vkfd_alias_params params = {
      .iovecs = iov,
      .num_iovs = (uint32_t)count,
      .size = size,
      .read_only = read_only,
      .res_id = 7,
   };
   struct vkfd_alias *alias = NULL;
   assert_int_equal(vkfd_alias_create(&params, &alias), 0);
   assert_non_null(alias);
   /* every map_files fd is closed before create returns */
   assert_int_equal(test_count_fds(), before.fds);
   assert_true(vkfd_alias_size(alias) == size);
   assert_int_equal(vkfd_alias_is_direct(alias), expect_direct);

   uint32_t runs = vkfd_alias_run_count(alias);
   uint8_t *address = vkfd_alias_address(alias);
   if (expect_direct) {
      assert_int_equal(runs, 1);
      assert_ptr_equal(address, iov[0].iov_base);
      alias_test_assert_no_new_mappings(&before);
   } else {
      /* one mapping per run fills the range: no reservation remnant */
      assert_int_equal(alias_test_count_maps_in((uintptr_t)address, size), (int)runs);
   }
   if (!read_only)
      alias_test_assert_alias_matches(alias, iov, count);

   vkfd_alias_destroy(alias);
   alias_test_assert_no_leftovers(&before);
   if (!expect_direct)
      assert_false(alias_test_range_mapped((uintptr_t)address, size));
}

/* 64 MiB as 16384 page-sized iovecs in shuffled order. */
static void
test_alias_shuffled_pages(void **state)
{
   struct test_guest_ram ram;
   test_guest_ram_create(&ram, 64 * MIB);
   alias_test_fill(ram.base, ram.size, 1);
   size_t count = ram.size / page;
   struct iovec *iov = alias_test_iovecs(&ram, 0, page, count);
   alias_test_shuffle_iovecs(iov, count, 42);
   uint32_t expected = alias_test_expected_runs(iov, count, ram.size);
   assert_true(expected > count - 16); /* a shuffle leaves almost no neighbours */

   struct vkfd_alias *alias;
   const struct vkfd_alias_params params = { iov, (uint32_t)count, ram.size, false, 1 };
   assert_int_equal(vkfd_alias_create(&params, &alias), 0);
   assert_int_equal(vkfd_alias_run_count(alias), expected);
   vkfd_alias_destroy(alias);

   alias_roundtrip(iov, count, ram.size, false, false);
   free(iov);
   test_guest_ram_destroy(&ram);
}

/* 2 MiB runs, each delivered as four adjacent 512 KiB iovecs, runs shuffled. */
static void
test_alias_2mib_runs(void **state)
{
   struct test_guest_ram ram;
   test_guest_ram_create(&ram, 64 * MIB);
   alias_test_fill(ram.base, ram.size, 2);
   size_t runs = ram.size / (2 * MIB);
   struct iovec *chunks = alias_test_iovecs(&ram, 0, 2 * MIB, runs);
   alias_test_shuffle_iovecs(chunks, runs, 7);
   struct iovec *iov = calloc(runs * 4, sizeof(*iov));
   assert_non_null(iov);
   for (size_t r = 0; r < runs; r++) {
      for (size_t q = 0; q < 4; q++) {
         iov[r * 4 + q].iov_base = (uint8_t *)chunks[r].iov_base + q * 512 * 1024;
         iov[r * 4 + q].iov_len = 512 * 1024;
      }
   }

   struct vkfd_alias *alias;
   const struct vkfd_alias_params params = { iov, (uint32_t)runs * 4, ram.size, false,
                                             2 };
   assert_int_equal(vkfd_alias_create(&params, &alias), 0);
   uint32_t n = vkfd_alias_run_count(alias);
   assert_int_equal(n, alias_test_expected_runs(iov, runs * 4, ram.size));
   assert_true(n <= runs);
   for (uint32_t i = 0; i < n; i++) {
      uintptr_t start;
      uint64_t len;
      vkfd_alias_run(alias, i, &start, &len);
      assert_true(len % (2 * MIB) == 0); /* the four iovecs merged */
   }
   vkfd_alias_destroy(alias);

   alias_roundtrip(iov, runs * 4, ram.size, false, false);
   free(iov);
   free(chunks);
   test_guest_ram_destroy(&ram);
}

/* Iovecs already contiguous: the guest memory is the alias, no syscall maps anything. */
static void
test_alias_contiguous_is_direct(void **state)
{
   struct test_guest_ram ram;
   test_guest_ram_create(&ram, 64 * MIB);
   alias_test_fill(ram.base, ram.size, 3);
   size_t count = ram.size / page;
   struct iovec *iov = alias_test_iovecs(&ram, 0, page, count);
   alias_roundtrip(iov, count, ram.size, false, true);
   /* also from an offset, and cut short by the blob size */
   alias_roundtrip(iov + 100, count - 100, 16 * page, false, true);
   free(iov);
   test_guest_ram_destroy(&ram);
}

/* 16384 entries in reverse order (what the shared helper hands out). */
static void
test_alias_16384_entries(void **state)
{
   struct test_guest_ram ram;
   test_guest_ram_create(&ram, 16384 * page);
   alias_test_fill(ram.base, ram.size, 4);
   struct iovec *iov = test_guest_ram_iovecs(&ram, 0, page, 16384);
   assert_int_equal(alias_test_expected_runs(iov, 16384, ram.size), 16384);
   alias_roundtrip(iov, 16384, ram.size, false, false);
   free(iov);
   test_guest_ram_destroy(&ram);
}

/* The iovecs hold more than the blob: only `size` bytes are aliased. */
static void
test_alias_size_below_iovec_sum(void **state)
{
   struct test_guest_ram ram;
   test_guest_ram_create(&ram, 4 * MIB);
   alias_test_fill(ram.base, ram.size, 5);
   struct iovec *iov = alias_test_iovecs(&ram, 0, 64 * 1024, 64);
   alias_test_shuffle_iovecs(iov, 64, 9);
   /* cut inside iovec 10; iovecs 11.. are not aliased at all */
   uint64_t size = 10 * 64 * 1024 + 4 * page;
   alias_roundtrip(iov, 64, size, false, false);
   free(iov);
   test_guest_ram_destroy(&ram);
}

/*
 * Two memory backends mapped side by side: iovecs adjacent in VA but in two
 * mappings merge into a run that must be split where the first mapping ends.
 */
static void
test_alias_split_at_mapping_boundary(void **state)
{
   struct test_guest_ram a, b;
   test_guest_ram_create(&a, 1 * MIB);
   test_guest_ram_create(&b, 1 * MIB);
   uint8_t *both = mmap(NULL, 2 * MIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
   assert_true(both != MAP_FAILED);
   assert_true(mmap(both, MIB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, a.fd, 0) !=
               MAP_FAILED);
   assert_true(mmap(both + MIB, MIB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, b.fd,
                    0) != MAP_FAILED);
   alias_test_fill(both, 2 * MIB, 6);

   struct iovec iov[3] = {
      { both + MIB - 4 * page, 4 * page }, /* ends exactly where mapping b starts */
      { both + MIB, 8 * page },            /* adjacent: merged with the one before */
      { both, 4 * page },
   };
   /* the merged run spans two mappings */
   struct vkfd_alias *alias;
   const struct vkfd_alias_params params = { iov, 3, 16 * page, false, 3 };
   assert_int_equal(vkfd_alias_create(&params, &alias), 0);
   assert_int_equal(vkfd_alias_run_count(alias), 3);
   uintptr_t start;
   uint64_t len;
   vkfd_alias_run(alias, 1, &start, &len);
   assert_ptr_equal((void *)start, both + MIB - 4 * page);
   assert_true(len == 4 * page);
   vkfd_alias_run(alias, 2, &start, &len);
   assert_ptr_equal((void *)start, both + MIB);
   vkfd_alias_destroy(alias);

   alias_roundtrip(iov, 3, 16 * page, false, false);
   /* a single merged run split in two is no longer direct */
   alias_roundtrip(iov, 2, 12 * page, false, false);

   munmap(both, 2 * MIB);
   test_guest_ram_destroy(&a);
   test_guest_ram_destroy(&b);
}

static void
assert_alias_read_only(const struct vkfd_alias *alias)
{
   uint8_t *address = vkfd_alias_address(alias);
   for (uint64_t off = 0; off < vkfd_alias_size(alias); off += page) {
      char perms[5];
      assert_true(alias_test_perms_at((uintptr_t)address + off, perms));
      if (strcmp(perms, "r--s") != 0)
         fail_msg("alias page at offset 0x%llx is %s, not r--s", (unsigned long long)off,
                  perms);
   }
}

/* RDONLY blobs: read-only guest memory is accepted, and the alias is PROT_READ. */
static void
test_alias_read_only(void **state)
{
   struct test_guest_ram ram;
   test_guest_ram_create(&ram, 4 * MIB);
   alias_test_fill(ram.base, ram.size, 8);
   struct iovec *iov = alias_test_iovecs(&ram, 0, 64 * 1024, 64);
   alias_test_shuffle_iovecs(iov, 64, 11);

   for (int pass = 0; pass < 2; pass++) {
      /* pass 0: writable guest RAM; pass 1: the guest RAM itself is read-only */
      if (pass == 1)
         assert_int_equal(mprotect(ram.base, ram.size, PROT_READ), 0);
      struct alias_test_snapshot before;
      alias_test_snapshot_take(&before);
      struct vkfd_alias *alias;
      const struct vkfd_alias_params params = { iov, 64, ram.size, true, 4 };
      assert_int_equal(vkfd_alias_create(&params, &alias), 0);
      assert_false(vkfd_alias_is_direct(alias));
      assert_alias_read_only(alias);
      uint8_t *a = vkfd_alias_address(alias);
      for (int i = 0; i < 64; i++)
         assert_memory_equal(a + (size_t)i * iov[i].iov_len, iov[i].iov_base,
                             iov[i].iov_len);
      vkfd_alias_destroy(alias);
      alias_test_assert_no_leftovers(&before);
   }
   free(iov);
   test_guest_ram_destroy(&ram);
}

/* MAP_SHARED | MAP_ANONYMOUS guest RAM (shmem without a memfd) works too. */
static void
test_alias_shared_anonymous(void **state)
{
   uint8_t *ram =
      mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
   assert_true(ram != MAP_FAILED);
   alias_test_fill(ram, 4 * MIB, 9);
   struct test_guest_ram fake = { .fd = -1, .base = ram, .size = 4 * MIB };
   struct iovec *iov = alias_test_iovecs(&fake, 0, 64 * 1024, 64);
   alias_test_shuffle_iovecs(iov, 64, 13);
   alias_roundtrip(iov, 64, 4 * MIB, false, false);
   free(iov);
   munmap(ram, 4 * MIB);
}

/* Hugetlb guest RAM in 2 MiB runs, when the machine has huge pages to give. */
static void
test_alias_hugetlb(void **state)
{
   const size_t huge = 2 * MIB, size = 8 * huge;
   uint8_t *ram = mmap(NULL, size, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
   if (ram == MAP_FAILED) {
      printf("skipped: no 2 MiB huge pages (vm.nr_hugepages): %s\n", strerror(errno));
      skip();
   }
   alias_test_fill(ram, size, 10);
   struct test_guest_ram fake = { .fd = -1, .base = ram, .size = size };
   struct iovec *iov = alias_test_iovecs(&fake, 0, huge, 8);
   alias_test_shuffle_iovecs(iov, 8, 17);
   const struct alias_test_mode *mode = *state;
   if (!mode->force_mremap) {
      alias_roundtrip(iov, 8, size, false, false);
   } else {
      /* mremap cannot duplicate hugetlb memory: a clear error, nothing left behind */
      struct alias_test_snapshot before;
      alias_test_snapshot_take(&before);
      struct vkfd_alias *alias = NULL;
      const struct vkfd_alias_params params = { iov, 8, size, false, 6 };
      alias_test_log_capture_start();
      int ret = vkfd_alias_create(&params, &alias);
      alias_test_log_capture_stop();
      assert_true(ret < 0);
      assert_null(alias);
      if (!mode->force_proc_maps) {
         /* PROCMAP_QUERY knows the page size: refused before anything is mapped */
         assert_int_equal(ret, -EFAULT);
         assert_true(alias_test_log_contains("mremap cannot duplicate"));
      }
      alias_test_assert_no_leftovers(&before);
   }
   free(iov);
   munmap(ram, size);
}

/* Guest memory hole-punched while aliased: the alias reads zeros there, then tracks. */
static void
test_alias_hole_punch(void **state)
{
   struct test_guest_ram ram;
   test_guest_ram_create(&ram, 4 * MIB);
   alias_test_fill(ram.base, ram.size, 11);
   const size_t chunk = 64 * 1024;
   struct iovec *iov = alias_test_iovecs(&ram, 0, chunk, 64);
   alias_test_shuffle_iovecs(iov, 64, 19);

   struct alias_test_snapshot before;
   alias_test_snapshot_take(&before);
   struct vkfd_alias *alias;
   const struct vkfd_alias_params params = { iov, 64, ram.size, false, 5 };
   assert_int_equal(vkfd_alias_create(&params, &alias), 0);
   uint8_t *a = vkfd_alias_address(alias);

   const size_t hole = MIB, hole_len = 256 * 1024;
   assert_int_equal(
      fallocate(ram.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, hole, hole_len), 0);
   uint8_t zeros[64 * 1024] = { 0 };
   int punched = 0;
   for (int i = 0; i < 64; i++) {
      uint8_t *src = iov[i].iov_base;
      bool in_hole = src >= ram.base + hole && src < ram.base + hole + hole_len;
      if (in_hole) {
         assert_memory_equal(a + i * chunk, zeros, chunk);
         punched++;
      }
      assert_memory_equal(a + i * chunk, src, chunk);
   }
   assert_int_equal(punched, (int)(hole_len / chunk));
   /* the punched pages come back on write, shared again */
   alias_test_assert_alias_matches(alias, iov, 64);
   vkfd_alias_destroy(alias);
   alias_test_assert_no_leftovers(&before);
   free(iov);
   test_guest_ram_destroy(&ram);
}

/*
 * A memfd sealed against new writable mappings after the VMM mapped it: the map_files
 * mmap is refused, and the run falls back to duplicating the existing mapping.
 */
static void
test_alias_sealed_memfd_falls_back(void **state)
{
   const size_t size = 4 * MIB;
   int fd = memfd_create("test-sealed-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
   assert_true(fd >= 0);
   assert_int_equal(ftruncate(fd, (off_t)size), 0);
   uint8_t *ram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
   assert_true(ram != MAP_FAILED);
   assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE), 0);
   assert_true(mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);

   alias_test_fill(ram, size, 12);
   struct test_guest_ram fake = { .fd = fd, .base = ram, .size = size };
   struct iovec *iov = alias_test_iovecs(&fake, 0, 64 * 1024, 64);
   alias_test_shuffle_iovecs(iov, 64, 23);
   alias_roundtrip(iov, 64, size, false, false);
   free(iov);
   munmap(ram, size);
   close(fd);
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
      MODE_TESTS(test_alias_shuffled_pages),
      MODE_TESTS(test_alias_2mib_runs),
      MODE_TESTS(test_alias_contiguous_is_direct),
      MODE_TESTS(test_alias_16384_entries),
      MODE_TESTS(test_alias_size_below_iovec_sum),
      MODE_TESTS(test_alias_split_at_mapping_boundary),
      MODE_TESTS(test_alias_read_only),
      MODE_TESTS(test_alias_shared_anonymous),
      MODE_TESTS(test_alias_hugetlb),
      MODE_TESTS(test_alias_hole_punch),
      MODE_TEST(test_alias_sealed_memfd_falls_back, 0, "procmap-query+map-files"),
   };
   return cmocka_run_group_tests(tests, NULL, NULL);
}
