/*
 * Failure injection: make one kernel call fail and check that libhsakmt
 * reports it and leaves nothing behind, the way product error paths will be
 * tested.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "test_util.h"

#define ALLOC_NR _IOC_NR(AMDKFD_IOC_ALLOC_MEMORY_OF_GPU)
#define MAP_NR   _IOC_NR(AMDKFD_IOC_MAP_MEMORY_TO_GPU)

static uint32_t gpu_node;

static HsaMemFlags
vram_flags(void)
{
   HsaMemFlags flags = { 0 };

   flags.ui32.HostAccess = 1;
   flags.ui32.NonPaged = 1;
   flags.ui32.PageSize = HSA_PAGE_SIZE_4KB;
   return flags;
}

static void
test_api_arguments(void **state)
{
   assert_int_equal(kfdsim_fail_next(KFDSIM_NR_COUNT, 1, EIO), -EINVAL);
   assert_int_equal(kfdsim_fail_next(ALLOC_NR, 1, 0), -EINVAL);
   /* A count of 0 cancels. */
   assert_int_equal(kfdsim_fail_next(ALLOC_NR, 3, EIO), 0);
   assert_int_equal(kfdsim_fail_next(ALLOC_NR, 0, EIO), 0);
   assert_int_equal(kfdsim_fail_next(MAP_NR, 3, EIO), 0);
   kfdsim_fail_clear();
}

static void
test_open_fails(void **state)
{
   HsaSystemProperties props;

   /* a whole cycle: 6.x sets its apertures up again with the topology (reopened
    * without it, 6.2.4 would take the SVM API for granted) */
   assert_int_equal(hsaKmtReleaseSystemProperties(), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtCloseKFD(), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_fail_next(KFDSIM_NR_OPEN, 1, EACCES), 0);
   if (test_libhsakmt_6()) {
      /* 6.x kept /dev/kfd open: it opens nothing again, so nothing can fail */
      assert_int_equal(hsaKmtOpenKFD(), HSAKMT_STATUS_SUCCESS);
      assert_int_equal(kfdsim_kfd_fds_open(), 1);
      kfdsim_fail_clear();
   } else {
      assert_int_not_equal(hsaKmtOpenKFD(), HSAKMT_STATUS_SUCCESS);
      assert_int_equal(kfdsim_kfd_fds_open(), test_kfd_fds_after_close());
      assert_int_equal(hsaKmtOpenKFD(), HSAKMT_STATUS_SUCCESS);
   }
   assert_int_equal(hsaKmtAcquireSystemProperties(&props), HSAKMT_STATUS_SUCCESS);
}

static void
test_alloc_fails(void **state)
{
   unsigned int bos = kfdsim_live_bos();
   struct kfdsim_ioctl_record rec;
   void *p = NULL;

   assert_int_equal(kfdsim_fail_next(ALLOC_NR, 1, ENOMEM), 0);
   assert_int_not_equal(hsaKmtAllocMemory(gpu_node, 1 << 20, vram_flags(), &p),
                        HSAKMT_STATUS_SUCCESS);
   test_last_ioctl(ALLOC_NR, &rec);
   assert_true(rec.injected);
   assert_int_equal(rec.err, ENOMEM);
   assert_int_equal(kfdsim_live_bos(), bos);
   assert_int_equal(kfdsim_vram_used(), 0);
   /* Only the next call failed. */
   assert_int_equal(hsaKmtAllocMemory(gpu_node, 1 << 20, vram_flags(), &p),
                    HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtFreeMemory(p, 1 << 20), HSAKMT_STATUS_SUCCESS);
}

/* The render-node mmap behind a host-accessible VRAM allocation fails. */
static void
test_cpu_mapping_fails(void **state)
{
   unsigned int bos = kfdsim_live_bos();
   void *p = NULL;

   assert_int_equal(kfdsim_fail_next(KFDSIM_NR_MMAP, 1, ENOMEM), 0);
   assert_int_not_equal(hsaKmtAllocMemory(gpu_node, 1 << 20, vram_flags(), &p),
                        HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_live_bos(), bos);
   assert_int_equal(kfdsim_vram_used(), 0);
}

static void
test_map_fails(void **state)
{
   HsaMemFlags flags = { 0 };
   HsaMemMapFlags map_flags = { 0 };
   size_t size = 1 << 16;
   void *buf =
      mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
   HSAuint64 gpu_va = 0;

   assert_true(buf != MAP_FAILED);
   flags.ui32.HostAccess = 1;
   assert_int_equal(hsaKmtRegisterMemoryWithFlags(buf, size, flags),
                    HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_fail_next(MAP_NR, 1, EINVAL), 0);
   assert_int_not_equal(
      hsaKmtMapMemoryToGPUNodes(buf, size, &gpu_va, map_flags, 1, &gpu_node),
      HSAKMT_STATUS_SUCCESS);
   /* Still registered, not mapped: the retry works, then everything goes. */
   assert_int_equal(kfdsim_userptr_count(), 1);
   assert_int_equal(
      hsaKmtMapMemoryToGPUNodes(buf, size, &gpu_va, map_flags, 1, &gpu_node),
      HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtUnmapMemoryToGPU(buf), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtDeregisterMemory(buf), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_userptr_count(), 0);
   munmap(buf, size);
}

static void
test_register_fails(void **state)
{
   HsaMemFlags flags = { 0 };
   void *buf = malloc(8192);

   flags.ui32.HostAccess = 1;
   assert_int_equal(kfdsim_fail_next(ALLOC_NR, 1, EFAULT), 0);
   assert_int_not_equal(hsaKmtRegisterMemoryWithFlags(buf, 8192, flags),
                        HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_userptr_count(), 0);
   free(buf);
}

static void
test_create_queue_fails(void **state)
{
   HsaMemFlags flags = { 0 };
   HsaQueueResource res = { 0 };
   unsigned int bos;
   void *ring = NULL;

   flags.ui32.HostAccess = 1;
   flags.ui32.ExecuteAccess = 1;
   flags.ui32.PageSize = HSA_PAGE_SIZE_4KB;
   assert_int_equal(hsaKmtAllocMemory(0, 4096, flags, &ring), HSAKMT_STATUS_SUCCESS);
   bos = kfdsim_live_bos();
   assert_int_equal(kfdsim_fail_next(_IOC_NR(AMDKFD_IOC_CREATE_QUEUE), 1, ENOSPC), 0);
   assert_int_not_equal(hsaKmtCreateQueue(gpu_node, HSA_QUEUE_COMPUTE_AQL, 100,
                                          HSA_QUEUE_PRIORITY_NORMAL, ring, 4096, NULL,
                                          &res),
                        HSAKMT_STATUS_SUCCESS);
   /* libhsakmt freed the queue's own buffers again. */
   assert_int_equal(kfdsim_live_bos(), bos);
   assert_int_equal(kfdsim_live_queues(), 0);
   assert_int_equal(hsaKmtFreeMemory(ring, 4096), HSAKMT_STATUS_SUCCESS);
}

/* libhsakmt retries an ioctl interrupted by a signal. */
static void
test_interrupted_wait_retried(void **state)
{
   HsaEventDescriptor desc = { 0 };
   HsaEvent *event = NULL;

   desc.EventType = HSA_EVENTTYPE_SIGNAL;
   desc.NodeId = gpu_node;
   assert_int_equal(hsaKmtCreateEvent(&desc, true, true, &event), HSAKMT_STATUS_SUCCESS);
   kfdsim_log_clear();
   assert_int_equal(kfdsim_fail_next(_IOC_NR(AMDKFD_IOC_WAIT_EVENTS), 2, EINTR), 0);
   assert_int_equal(hsaKmtWaitOnEvent(event, 0), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_ioctl_count(_IOC_NR(AMDKFD_IOC_WAIT_EVENTS)), 3);
   assert_int_equal(hsaKmtDestroyEvent(event), HSAKMT_STATUS_SUCCESS);
}

static int
group_setup(void **state)
{
   gpu_node = test_open_kfd();
   return 0;
}

static int
group_teardown(void **state)
{
   assert_int_equal(hsaKmtReleaseSystemProperties(), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtCloseKFD(), HSAKMT_STATUS_SUCCESS);
   /* Only the events page libhsakmt never frees is left. */
   assert_int_equal(kfdsim_live_bos(), 1);
   assert_int_equal(kfdsim_vram_used(), 0);
   return 0;
}

int
main(void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_api_arguments),
      cmocka_unit_test(test_open_fails),
      cmocka_unit_test(test_alloc_fails),
      cmocka_unit_test(test_cpu_mapping_fails),
      cmocka_unit_test(test_map_fails),
      cmocka_unit_test(test_register_fails),
      cmocka_unit_test(test_create_queue_fails),
      cmocka_unit_test(test_interrupted_wait_retried),
   };

   return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
