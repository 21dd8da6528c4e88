/*
 * On a host with a real /dev/kfd nothing is emulated. A test cannot create
 * /dev/kfd, so meson points KFDSIM_REAL_KFD (the path whose existence means
 * "real KFD present", /dev/kfd by default) at a file that exists:
 *   refuse  the emulator stays off, passes everything through and says so
 *           once on stderr
 *   force   KFDSIM_FORCE=1 emulates anyway
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test_util.h"

/* Run fn with stderr captured; returns what it printed. */
static void
capture_stderr(void (*fn)(void), char *out, size_t size)
{
   int saved = dup(STDERR_FILENO);
   int fd = memfd_create("kfdsim-test-stderr", MFD_CLOEXEC);
   ssize_t n;

   assert_true(saved >= 0 && fd >= 0);
   fflush(stderr);
   dup2(fd, STDERR_FILENO);
   fn();
   fflush(stderr);
   dup2(saved, STDERR_FILENO);
   close(saved);
   n = pread(fd, out, size - 1, 0);
   close(fd);
   out[n > 0 ? n : 0] = '\0';
}

static void
touch_kfd_twice(void)
{
   assert_int_not_equal(hsaKmtOpenKFD(), HSAKMT_STATUS_SUCCESS);
   assert_false(kfdsim_active());
}

static void
test_refuse(void **state)
{
   char out[4096];
   const char *first;

   capture_stderr(touch_kfd_twice, out, sizeof(out));
   first = strstr(out, "kfdsim: ");
   assert_non_null(first);
   assert_non_null(strstr(out, "not emulating"));
   /* Said once. */
   assert_null(strstr(first + 1, "kfdsim: "));
   assert_int_equal(kfdsim_gpu_count(), 0);
   assert_int_equal(kfdsim_log_count(), 0);
   /* The real sysfs path is passed through (absent on this host). */
   assert_int_equal(access("/sys/devices/virtual/kfd/kfd/topology", F_OK), -1);
}

static void
test_force(void **state)
{
   assert_true(kfdsim_active());
   assert_int_equal(hsaKmtOpenKFD(), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtCloseKFD(), HSAKMT_STATUS_SUCCESS);
}

int
main(int argc, char **argv)
{
   const struct CMUnitTest refuse_tests[] = { cmocka_unit_test(test_refuse) };
   const struct CMUnitTest force_tests[] = { cmocka_unit_test(test_force) };

   if (argc > 1 && !strcmp(argv[1], "force"))
      return cmocka_run_group_tests(force_tests, NULL, NULL);
   return cmocka_run_group_tests(refuse_tests, NULL, NULL);
}
