/*
 * LD_PRELOAD=libkfdsim.so on a program that knows nothing of the emulator:
 * this executable links libhsakmt but not libkfdsim, and finds the test API
 * only through dlsym.
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hsakmt.h>

static void
test_preloaded(void **state)
{
   bool (*active)(void) = (bool (*)(void))dlsym(RTLD_DEFAULT, "kfdsim_active");
   size_t (*log_count)(void) = (size_t(*)(void))dlsym(RTLD_DEFAULT, "kfdsim_log_count");

   assert_non_null(active);
   assert_non_null(log_count);
   assert_true(active());
   HsaSystemProperties props;
   assert_int_equal(hsaKmtOpenKFD(), HSAKMT_STATUS_SUCCESS);
   /* libhsakmt 6.x sets its apertures up with the topology */
   assert_int_equal(hsaKmtAcquireSystemProperties(&props), HSAKMT_STATUS_SUCCESS);
   assert_true(log_count() >= 5);
   assert_int_equal(hsaKmtReleaseSystemProperties(), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtCloseKFD(), HSAKMT_STATUS_SUCCESS);
}

int
main(void)
{
   const struct CMUnitTest tests[] = { cmocka_unit_test(test_preloaded) };
   const char *preload = getenv("LD_PRELOAD");

   if (!preload || !strstr(preload, "libkfdsim")) {
      printf("SKIP: LD_PRELOAD of libkfdsim.so is not tested under AddressSanitizer "
             "(the ASan runtime must be the first library loaded)\n");
      return 77;
   }
   return cmocka_run_group_tests(tests, NULL, NULL);
}
