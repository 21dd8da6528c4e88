/*
 * Helpers shared by the emulator's own tests.
 */
#include <stdio.h>
#include <stdlib.h>

#include <dlfcn.h>

#include "test_util.h"

void
test_skip(const char *why)
{
   printf("SKIP: %s\n", why);
   fflush(stdout);
   exit(77);
}

bool
test_built_with_asan(void)
{
#if defined(__SANITIZE_ADDRESS__)
   return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
   return true;
#else
   return false;
#endif
#else
   return false;
#endif
}

uint32_t
test_gpu_node(unsigned int index)
{
   unsigned int seen = 0;
   HsaNodeProperties np;

   /* Valid after hsaKmtAcquireSystemProperties; the node count ends where
    * the node ids do.
    */
   for (uint32_t node = 0; hsaKmtGetNodeProperties(node, &np) == HSAKMT_STATUS_SUCCESS;
        node++) {
      if (np.NumFComputeCores && seen++ == index)
         return node;
   }
   fail_msg("no GPU node %u", index);
   return 0;
}

uint32_t
test_open_kfd(void)
{
   HsaSystemProperties props;

   assert_true(kfdsim_active());
   assert_int_equal(hsaKmtOpenKFD(), HSAKMT_STATUS_SUCCESS);
   /* Once per open: libhsakmt needs the topology before registering memory,
    * and leaks the previous snapshot when acquired twice.
    */
   assert_int_equal(hsaKmtAcquireSystemProperties(&props), HSAKMT_STATUS_SUCCESS);
   return test_gpu_node(0);
}

bool
test_libhsakmt_6(void)
{
   return dlsym(RTLD_DEFAULT, "hsaKmtAllocMemoryAlign") != NULL;
}

unsigned int
test_kfd_fds_after_close(void)
{
   return test_libhsakmt_6() ? 1 : 0;
}

void
test_last_ioctl(unsigned int nr, struct kfdsim_ioctl_record *rec)
{
   assert_int_equal(kfdsim_log_find_last(nr, rec), 0);
}

unsigned int
test_count_failures(unsigned int nr, int err)
{
   struct kfdsim_ioctl_record rec;
   unsigned int count = 0;

   for (size_t i = 0; kfdsim_log_get(i, &rec) == 0; i++) {
      if (rec.nr == nr && rec.ret == -1 && rec.err == err)
         count++;
   }
   return count;
}
