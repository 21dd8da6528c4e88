/*
 * The product calls libhsakmt from several threads: registrations,
 * allocations and event waits racing each other must leave consistent
 * state, with every counter back to where it started.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

#define THREADS 4
#define ROUNDS  40

static uint32_t gpu_node;
static atomic_bool stop_signalling;

static void *
register_loop(void *arg)
{
   HsaMemFlags flags = { 0 };
   HsaMemMapFlags map_flags = { 0 };
   size_t size = 3 * TEST_PAGE_SIZE + 100;
   uint8_t *buf = malloc(size);
   int failures = 0;

   flags.ui32.HostAccess = 1;
   for (int i = 0; i < ROUNDS; i++) {
      HSAuint64 gpu_va = 0;
      uint8_t byte = 0;

      buf[17] = (uint8_t)i;
      failures +=
         hsaKmtRegisterMemoryWithFlags(buf, size, flags) != HSAKMT_STATUS_SUCCESS;
      failures += hsaKmtMapMemoryToGPUNodes(buf, size, &gpu_va, map_flags, 1,
                                            &gpu_node) != HSAKMT_STATUS_SUCCESS;
      failures += kfdsim_gpu_read(gpu_va + 17, &byte, 1) != 0 || byte != (uint8_t)i;
      failures += hsaKmtUnmapMemoryToGPU(buf) != HSAKMT_STATUS_SUCCESS;
      failures += hsaKmtDeregisterMemory(buf) != HSAKMT_STATUS_SUCCESS;
   }
   free(buf);
   return (void *)(intptr_t)failures;
}

static void *
alloc_loop(void *arg)
{
   HsaMemFlags flags = { 0 };
   int failures = 0;

   flags.ui32.HostAccess = 1;
   flags.ui32.NonPaged = 1;
   flags.ui32.PageSize = HSA_PAGE_SIZE_4KB;
   for (int i = 0; i < ROUNDS; i++) {
      void *p = NULL;

      failures +=
         hsaKmtAllocMemory(gpu_node, 1 << 20, flags, &p) != HSAKMT_STATUS_SUCCESS;
      if (p)
         failures += hsaKmtFreeMemory(p, 1 << 20) != HSAKMT_STATUS_SUCCESS;
   }
   return (void *)(intptr_t)failures;
}

/* Signals until told to stop: an auto-reset event coalesces signals nobody
 * waited for yet, so the waiter cannot count on a fixed number.
 */
static void *
signal_loop(void *arg)
{
   HsaEvent *event = arg;

   while (!atomic_load(&stop_signalling)) {
      if (kfdsim_signal_event(event->EventId))
         return (void *)1;
      usleep(500);
   }
   return NULL;
}

static void
test_concurrent(void **state)
{
   pthread_t threads[THREADS + 1];
   HsaEventDescriptor desc = { 0 };
   HsaEvent *event = NULL;
   unsigned int bos = kfdsim_live_bos();
   intptr_t failures = 0;

   desc.EventType = HSA_EVENTTYPE_SIGNAL;
   desc.NodeId = gpu_node;
   assert_int_equal(hsaKmtCreateEvent(&desc, false, false, &event),
                    HSAKMT_STATUS_SUCCESS);
   bos = kfdsim_live_bos();
   for (int i = 0; i < THREADS; i++)
      assert_int_equal(
         pthread_create(&threads[i], NULL, i % 2 ? alloc_loop : register_loop, NULL), 0);
   assert_int_equal(pthread_create(&threads[THREADS], NULL, signal_loop, event), 0);
   /* Meanwhile, wake up on the signals a few times. */
   for (int i = 0; i < 5; i++)
      assert_int_equal(hsaKmtWaitOnEvent(event, 10000), HSAKMT_STATUS_SUCCESS);
   atomic_store(&stop_signalling, true);
   for (int i = 0; i <= THREADS; i++) {
      void *ret;
      pthread_join(threads[i], &ret);
      failures += (intptr_t)ret;
   }
   assert_int_equal(failures, 0);
   assert_int_equal(hsaKmtDestroyEvent(event), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_live_bos(), bos);
   assert_int_equal(kfdsim_userptr_count(), 0);
   assert_int_equal(kfdsim_vram_used(), 0);
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
   assert_int_equal(hsaKmtCloseKFD(), HSAKMT_STATUS_SUCCESS);
   return 0;
}

int
main(void)
{
   const struct CMUnitTest tests[] = { cmocka_unit_test(test_concurrent) };

   return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
