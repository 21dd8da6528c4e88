/*
 * User-mode queues through libhsakmt: creation (and the buffers libhsakmt
 * allocates for it), the doorbell write user mode makes, update, CU mask,
 * wave state, GWS, SDMA queues, and that destroying gives everything back.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test_util.h"

#define RING_SIZE (64 << 10)

static uint32_t gpu_node;
static uint32_t gpu_id;
static void *ring;

struct queue {
   HsaQueueResource res;
   struct kfd_ioctl_create_queue_args args; /* as the kernel answered */
};

static void
create_queue(HSA_QUEUE_TYPE type, struct queue *q)
{
   struct kfdsim_ioctl_record rec;

   memset(q, 0, sizeof(*q));
   assert_int_equal(hsaKmtCreateQueue(gpu_node, type, 100, HSA_QUEUE_PRIORITY_NORMAL,
                                      ring, RING_SIZE, NULL, &q->res),
                    HSAKMT_STATUS_SUCCESS);
   test_last_ioctl(_IOC_NR(AMDKFD_IOC_CREATE_QUEUE), &rec);
   assert_int_equal(rec.ret, 0);
   memcpy(&q->args, rec.out, sizeof(q->args));
}

static void
test_aql_queue_doorbell(void **state)
{
   unsigned int bos = kfdsim_live_bos();
   struct kfdsim_queue_info info;
   struct queue q;
   uint64_t value = 0;

   create_queue(HSA_QUEUE_COMPUTE_AQL, &q);
   assert_int_equal(q.args.gpu_id, gpu_id);
   assert_int_equal(q.args.queue_type, KFD_IOC_QUEUE_TYPE_COMPUTE_AQL);
   assert_int_equal(q.args.ring_base_address, (uintptr_t)ring);
   assert_int_equal(q.args.ring_size, RING_SIZE);
   /* libhsakmt gives the kernel a context-save area for CWSR. */
   assert_int_not_equal(q.args.ctx_save_restore_address, 0);
   assert_int_equal(kfdsim_queue_info(q.args.queue_id, &info), 0);
   assert_true(info.active);
   assert_int_equal(info.doorbell_offset, q.args.doorbell_offset & 8191);

   /* User mode rings the doorbell; the "hardware" sees the value. */
   *(volatile uint64_t *)q.res.Queue_DoorBell = 0x1234;
   assert_int_equal(kfdsim_doorbell_read(gpu_id, info.doorbell_offset, &value), 0);
   assert_int_equal(value, 0x1234);
   assert_int_equal(kfdsim_live_queues(), 1);

   assert_int_equal(hsaKmtDestroyQueue(q.res.QueueId), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_live_queues(), 0);
   /* The doorbell page (allocated with the first queue) stays until
    * CloseKFD; the queue's own buffers are gone.
    */
   assert_int_equal(kfdsim_live_bos(), bos + 1);
}

static void
test_update_and_wave_state(void **state)
{
   HsaQueueInfo qinfo;
   struct kfdsim_queue_info info;
   struct queue q;

   create_queue(HSA_QUEUE_COMPUTE_AQL, &q);
   /* A running queue has no saved wave state. */
   assert_int_not_equal(hsaKmtGetQueueInfo(q.res.QueueId, &qinfo), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(
      hsaKmtUpdateQueue(q.res.QueueId, 0, HSA_QUEUE_PRIORITY_HIGH, ring, RING_SIZE, NULL),
      HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_queue_info(q.args.queue_id, &info), 0);
   assert_false(info.active);
   assert_int_equal(info.percentage, 0);
   assert_int_equal(hsaKmtGetQueueInfo(q.res.QueueId, &qinfo), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtDestroyQueue(q.res.QueueId), HSAKMT_STATUS_SUCCESS);
}

static void
test_cu_mask_and_gws(void **state)
{
   HSAuint32 mask[2] = { 0xffffffff, 0x0000ffff };
   HSAuint32 first = 99;
   struct kfdsim_queue_info info;
   struct queue q, q2;

   create_queue(HSA_QUEUE_COMPUTE_AQL, &q);
   create_queue(HSA_QUEUE_COMPUTE_AQL, &q2);
   assert_int_equal(hsaKmtSetQueueCUMask(q.res.QueueId, 64, mask), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_queue_info(q.args.queue_id, &info), 0);
   assert_int_equal(info.cu_mask_count, 64);
   /* One queue per process and GPU may hold the GWS. */
   assert_int_equal(hsaKmtAllocQueueGWS(q.res.QueueId, 1, &first), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(first, 0);
   assert_int_equal(kfdsim_queue_info(q.args.queue_id, &info), 0);
   assert_true(info.has_gws);
   assert_int_not_equal(hsaKmtAllocQueueGWS(q2.res.QueueId, 1, &first),
                        HSAKMT_STATUS_SUCCESS);
   assert_int_equal(test_count_failures(_IOC_NR(AMDKFD_IOC_ALLOC_QUEUE_GWS), EBUSY), 1);
   assert_int_equal(hsaKmtDestroyQueue(q.res.QueueId), HSAKMT_STATUS_SUCCESS);
   /* Destroying the holder frees the GWS. */
   assert_int_equal(hsaKmtAllocQueueGWS(q2.res.QueueId, 1, &first),
                    HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtDestroyQueue(q2.res.QueueId), HSAKMT_STATUS_SUCCESS);
}

static void
test_sdma_queue(void **state)
{
   struct kfdsim_queue_info info;
   struct queue q;
   uint64_t value = 0;

   create_queue(HSA_QUEUE_SDMA, &q);
   assert_int_equal(q.args.queue_type, KFD_IOC_QUEUE_TYPE_SDMA);
   assert_int_equal(kfdsim_queue_info(q.args.queue_id, &info), 0);
   /* SOC15 keeps a block of doorbells for SDMA. */
   assert_int_equal((info.doorbell_offset / 8) & 0x1e0, 0x0e0);
   *(volatile uint64_t *)q.res.Queue_DoorBell = 7;
   assert_int_equal(kfdsim_doorbell_read(gpu_id, info.doorbell_offset, &value), 0);
   assert_int_equal(value, 7);
   assert_int_equal(hsaKmtDestroyQueue(q.res.QueueId), HSAKMT_STATUS_SUCCESS);
}

/* The command processor takes what user mode published, through the GPU's view. */
static void
test_cp_takes_packets(void **state)
{
   HsaMemFlags flags = { 0 };
   HSAuint64 alt;
   void *ids = NULL;
   struct queue q;
   struct kfdsim_cp_report report;
   uint32_t other;

   flags.ui32.HostAccess = 1;
   flags.ui32.PageSize = HSA_PAGE_SIZE_4KB;
   assert_int_equal(hsaKmtAllocMemory(0, 4096, flags, &ids), HSAKMT_STATUS_SUCCESS);
   memset(ids, 0, 4096);
   assert_int_equal(hsaKmtMapMemoryToGPU(ring, RING_SIZE, &alt), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtMapMemoryToGPU(ids, 4096, &alt), HSAKMT_STATUS_SUCCESS);
   for (uint32_t off = 0; off < RING_SIZE; off += 64)
      *(uint16_t *)((uint8_t *)ring + off) = 1; /* INVALID */

   memset(&q, 0, sizeof(q));
   q.res.Queue_write_ptr_aql = (HSAuint64 *)((uint8_t *)ids + 56);
   q.res.Queue_read_ptr_aql = (HSAuint64 *)((uint8_t *)ids + 128);
   assert_int_equal(hsaKmtCreateQueue(gpu_node, HSA_QUEUE_COMPUTE_AQL, 100,
                                      HSA_QUEUE_PRIORITY_NORMAL, ring, RING_SIZE, NULL,
                                      &q.res),
                    HSAKMT_STATUS_SUCCESS);
   struct kfdsim_ioctl_record rec;
   test_last_ioctl(_IOC_NR(AMDKFD_IOC_CREATE_QUEUE), &rec);
   memcpy(&q.args, rec.out, sizeof(q.args));
   assert_int_equal(kfdsim_queue_find((uintptr_t)ring, &other), 0);
   assert_int_equal(other, q.args.queue_id);

   /* two barriers, the second with a completion signal (an amd_signal_t of 64 bytes
    * at ids + 2048, value 5, no mailbox); the doorbell names the last index */
   uint8_t *signal = (uint8_t *)ids + 2048;
   int64_t value = 5;
   uint64_t signal_va = (uintptr_t)signal;
   memcpy(signal + 8, &value, 8);
   uint8_t *slot1 = (uint8_t *)ring + 64;
   memcpy(slot1 + 56, &signal_va, 8);
   *(uint16_t *)slot1 = 3;
   *(uint16_t *)ring = 3;
   *(volatile uint64_t *)q.res.Queue_DoorBell = 1;
   assert_int_equal(kfdsim_queue_run(q.args.queue_id, &report), 0);
   assert_int_equal(report.doorbell, 1);
   assert_int_equal(report.packets, 2);
   assert_int_equal(report.signals_completed, 1);
   assert_int_equal(report.events_raised, 0);
   assert_int_equal(report.read_index, 2);
   assert_memory_equal(report.last_packet + 56, &signal_va, 8);
   memcpy(&value, signal + 8, 8);
   assert_int_equal(value, 4);
   assert_int_equal(*(uint64_t *)((uint8_t *)ids + 128), 2);
   assert_int_equal(*(uint16_t *)ring, 1);
   /* nothing new: the CP takes nothing */
   assert_int_equal(kfdsim_queue_run(q.args.queue_id, &report), 0);
   assert_int_equal(report.packets, 0);

   /* the doorbell page is device memory another process could be handed */
   int fd = -1;
   uint64_t offset = 0;
   void *page = (void *)((uintptr_t)q.res.Queue_DoorBell & ~(uintptr_t)8191);
   assert_int_equal(kfdsim_share_range(page, 8192, &fd, &offset), 0);
   uint8_t *view =
      mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)offset);
   assert_true(view != MAP_FAILED);
   uint64_t seen;
   memcpy(&seen, view + ((uintptr_t)q.res.Queue_DoorBell - (uintptr_t)page), 8);
   assert_int_equal(seen, 1);
   munmap(view, 8192);
   close(fd);
   assert_int_equal(kfdsim_share_range(&fd, sizeof(fd), &fd, &offset), -ENOENT);

   assert_int_equal(hsaKmtDestroyQueue(q.res.QueueId), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_queue_run(q.args.queue_id, &report), -EINVAL);
   assert_int_equal(kfdsim_queue_find((uintptr_t)ring, &other), -ENOENT);
   assert_int_equal(hsaKmtUnmapMemoryToGPU(ids), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtUnmapMemoryToGPU(ring), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtFreeMemory(ids, 4096), HSAKMT_STATUS_SUCCESS);
}

static int
group_setup(void **state)
{
   HsaMemFlags flags = { 0 };

   gpu_node = test_open_kfd();
   assert_int_equal(kfdsim_gpu_id(0, &gpu_id), 0);
   flags.ui32.HostAccess = 1;
   flags.ui32.ExecuteAccess = 1;
   flags.ui32.PageSize = HSA_PAGE_SIZE_4KB;
   assert_int_equal(hsaKmtAllocMemory(0, RING_SIZE, flags, &ring), HSAKMT_STATUS_SUCCESS);
   return 0;
}

static int
group_teardown(void **state)
{
   assert_int_equal(kfdsim_live_queues(), 0);
   assert_int_equal(hsaKmtFreeMemory(ring, RING_SIZE), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtCloseKFD(), HSAKMT_STATUS_SUCCESS);
   /* The queue buffers, the doorbells and the MMIO page are all gone. */
   assert_int_equal(kfdsim_live_bos(), 0);
   return 0;
}

int
main(void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_aql_queue_doorbell),
      cmocka_unit_test(test_update_and_wave_state),
      cmocka_unit_test(test_cu_mask_and_gws),
      cmocka_unit_test(test_sdma_queue),
      cmocka_unit_test(test_cp_takes_packets),
   };

   return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
