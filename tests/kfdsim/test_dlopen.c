/*
 * The product loads libhsakmt with dlopen() at run time. The executable does
 * not link libhsakmt, only libkfdsim (through kfdsim_dep); the libhsakmt
 * loaded later must still reach the emulator.
 */
#include <dlfcn.h>
#include <stdlib.h>

#include "test_util.h"

typedef HSAKMT_STATUS (*open_fn)(void);
typedef HSAKMT_STATUS (*close_fn)(void);
typedef HSAKMT_STATUS (*register_fn)(void *, HSAuint64, HsaMemFlags);
typedef HSAKMT_STATUS (*deregister_fn)(void *);
typedef HSAKMT_STATUS (*acquire_fn)(HsaSystemProperties *);
typedef HSAKMT_STATUS (*release_fn)(void);

static void
test_dlopen_libhsakmt(void **state)
{
   void *lib = dlopen("libhsakmt.so.1", RTLD_NOW | RTLD_LOCAL);
   open_fn open_kfd;
   close_fn close_kfd;
   register_fn register_memory;
   deregister_fn deregister_memory;
   acquire_fn acquire;
   HsaSystemProperties props;
   HsaMemFlags flags = { 0 };
   void *buf = malloc(1 << 16);

   assert_non_null(lib);
   open_kfd = (open_fn)dlsym(lib, "hsaKmtOpenKFD");
   close_kfd = (close_fn)dlsym(lib, "hsaKmtCloseKFD");
   register_memory = (register_fn)dlsym(lib, "hsaKmtRegisterMemoryWithFlags");
   deregister_memory = (deregister_fn)dlsym(lib, "hsaKmtDeregisterMemory");
   acquire = (acquire_fn)dlsym(lib, "hsaKmtAcquireSystemProperties");
   release_fn release = (release_fn)dlsym(lib, "hsaKmtReleaseSystemProperties");
   assert_true(open_kfd && close_kfd && register_memory && deregister_memory && acquire &&
               release);

   assert_int_equal(open_kfd(), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_kfd_fds_open(), 1);
   /* libhsakmt needs the topology before registering (it crashes without); 6.x
    * acquires its VMs with it */
   assert_int_equal(acquire(&props), HSAKMT_STATUS_SUCCESS);
   assert_true(kfdsim_ioctl_count(_IOC_NR(AMDKFD_IOC_ACQUIRE_VM)) >= 1);
   assert_int_equal(props.NumNodes, 2);
   flags.ui32.HostAccess = 1;
   assert_int_equal(register_memory(buf, 1 << 16, flags), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_userptr_count(), 1);
   assert_int_equal(deregister_memory(buf), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(release(), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(close_kfd(), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_live_bos(), 0);
   free(buf);
   dlclose(lib);
}

int
main(void)
{
   const struct CMUnitTest tests[] = { cmocka_unit_test(test_dlopen_libhsakmt) };

   return cmocka_run_group_tests(tests, NULL, NULL);
}
