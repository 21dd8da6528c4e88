/*
 * The emulated /dev/kfd driven directly, without libhsakmt: the checks
 * amdkfd makes and the errno it returns for each mistake, argument copying,
 * device mmaps, fork semantics, and the ioctl log's raw bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

#define KFD_MMAP_TYPE_DOORBELL (3ull << 62)
#define KFD_MMAP_TYPE_EVENTS   (2ull << 62)
#define KFD_MMAP_GPU_ID(id)    ((uint64_t)(id) << 46)

static int kfd = -1;
static int render = -1;
static uint32_t gpu_id;

/* ioctl() returning 0 or the errno. */
static int
kfd_ioctl(int fd, unsigned long request, void *arg)
{
   return ioctl(fd, request, arg) == 0 ? 0 : errno;
}

static int
alloc_bo(uint32_t flags, uint64_t va, uint64_t size, uint64_t mmap_offset,
         struct kfd_ioctl_alloc_memory_of_gpu_args *out)
{
   struct kfd_ioctl_alloc_memory_of_gpu_args args = {
      .va_addr = va,
      .size = size,
      .mmap_offset = mmap_offset,
      .gpu_id = gpu_id,
      .flags = flags,
   };
   int ret = kfd_ioctl(kfd, AMDKFD_IOC_ALLOC_MEMORY_OF_GPU, &args);

   if (out)
      *out = args;
   return ret;
}

static int
free_bo(uint64_t handle)
{
   struct kfd_ioctl_free_memory_of_gpu_args args = { .handle = handle };
   return kfd_ioctl(kfd, AMDKFD_IOC_FREE_MEMORY_OF_GPU, &args);
}

static int
map_bo(unsigned long request, uint64_t handle, uint32_t *ids, uint32_t n,
       uint32_t *n_success)
{
   struct kfd_ioctl_map_memory_to_gpu_args args = {
      .handle = handle,
      .device_ids_array_ptr = (uintptr_t)ids,
      .n_devices = n,
      .n_success = n_success ? *n_success : 0,
   };
   int ret = kfd_ioctl(kfd, request, &args);

   if (n_success)
      *n_success = args.n_success;
   return ret;
}

static void
test_version_and_log(void **state)
{
   struct kfd_ioctl_get_version_args args = { 0 };
   struct kfdsim_ioctl_record rec;

   kfdsim_log_clear();
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_GET_VERSION, &args), 0);
   assert_int_equal(args.major_version, 1);
   assert_int_equal(args.minor_version, 14);
   assert_int_equal(kfdsim_log_count(), 1);
   assert_int_equal(kfdsim_log_get(0, &rec), 0);
   assert_int_equal(rec.fd, kfd);
   assert_int_equal(rec.nr, 0x01);
   assert_int_equal(rec.arg_size, sizeof(args));
   assert_memory_equal(rec.out, &args, sizeof(args));
   assert_int_equal(kfdsim_log_get(1, &rec), -ERANGE);
   assert_int_equal(kfdsim_ioctl_count(0x01), 1);

   /* Unknown numbers, like amdkfd: EINVAL. */
   assert_int_equal(kfd_ioctl(kfd, _IOR('K', 0x00, args), &args), EINVAL);
   assert_int_equal(kfd_ioctl(kfd, _IOWR('K', 0x40, args), &args), EINVAL);
   assert_int_equal(test_count_failures(0x40, EINVAL), 1);
   /* A bad argument pointer faults. */
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_GET_VERSION, (void *)8), EFAULT);
   /* Deprecated debugger interface. */
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_DBG_REGISTER_DEPRECATED, &args), EPERM);
}

/* A process that runs for long (a vtest server) must not grow with every call:
 * the log keeps the most recent 4096 records and counts the rest.
 */
static void
test_log_keeps_the_latest_calls(void **state)
{
   struct kfd_ioctl_get_version_args args = { 0 };
   struct kfdsim_ioctl_record first, last;

   kfdsim_log_clear();
   for (unsigned int i = 0; i < 5000; i++)
      assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_GET_VERSION, &args), 0);
   assert_int_equal(kfdsim_log_count(), 4096);
   assert_int_equal(kfdsim_ioctl_count(0x01), 5000);
   assert_int_equal(kfdsim_log_get(0, &first), 0);
   assert_int_equal(kfdsim_log_get(4095, &last), 0);
   assert_int_equal(last.seq - first.seq, 4095);
   struct kfdsim_ioctl_record latest;
   assert_int_equal(kfdsim_log_find_last(0x01, &latest), 0);
   assert_true(latest.seq == last.seq);
   assert_int_equal(kfdsim_log_get(4096, &last), -ERANGE);
   kfdsim_log_clear();
   assert_int_equal(kfdsim_log_count(), 0);
}

static void
test_apertures(void **state)
{
   struct kfd_process_device_apertures ap[4];
   struct kfd_ioctl_get_process_apertures_new_args args = { 0 };

   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_GET_PROCESS_APERTURES_NEW, &args), 0);
   assert_int_equal(args.num_of_nodes, 1);
   args.kfd_process_device_apertures_ptr = (uintptr_t)ap;
   args.num_of_nodes = 4;
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_GET_PROCESS_APERTURES_NEW, &args), 0);
   assert_int_equal(args.num_of_nodes, 1);
   assert_int_equal(ap[0].gpu_id, gpu_id);
   /* The 47-bit VM that sends libhsakmt 5.2.3 into mmap-aperture mode. */
   assert_int_equal(ap[0].gpuvm_limit, (1ull << 47) - 1);
   args.kfd_process_device_apertures_ptr = 16;
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_GET_PROCESS_APERTURES_NEW, &args), EFAULT);
}

/* Everything that needs the process bound to the GPU fails before
 * ACQUIRE_VM, each with the kernel's errno.
 */
static void
test_before_acquire_vm(void **state)
{
   struct kfd_ioctl_create_queue_args queue = {
      .gpu_id = gpu_id,
      .queue_type = KFD_IOC_QUEUE_TYPE_COMPUTE_AQL,
      .queue_percentage = 100,
   };
   struct kfd_ioctl_set_memory_policy_args policy = { .gpu_id = gpu_id };

   assert_int_equal(alloc_bo(KFD_IOC_ALLOC_MEM_FLAGS_VRAM, 1 << 20, 4096, 0, NULL),
                    ENODEV);
   /* the binding comes before the doorbell's size check, as in amdkfd */
   assert_int_equal(alloc_bo(KFD_IOC_ALLOC_MEM_FLAGS_DOORBELL, 1 << 20, 4096, 0, NULL),
                    ENODEV);
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_CREATE_QUEUE, &queue), ESRCH);
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_SET_MEMORY_POLICY, &policy), ESRCH);
}

static void
test_acquire_vm(void **state)
{
   struct kfd_ioctl_acquire_vm_args args = { .drm_fd = (uint32_t)render,
                                             .gpu_id = 0x4242 };
   int other = open("/dev/dri/renderD128", O_RDWR | O_CLOEXEC);

   assert_true(other >= 0);
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_ACQUIRE_VM, &args), EINVAL);
   args.gpu_id = gpu_id;
   args.drm_fd = (uint32_t)kfd; /* not a DRM file */
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_ACQUIRE_VM, &args), EINVAL);
   args.drm_fd = 1000; /* not an fd */
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_ACQUIRE_VM, &args), EINVAL);
   args.drm_fd = (uint32_t)render;
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_ACQUIRE_VM, &args), 0);
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_ACQUIRE_VM, &args), 0);
   args.drm_fd = (uint32_t)other;
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_ACQUIRE_VM, &args), EBUSY);
   /* a render node is a DRM file: a KFD request is not one of its ioctls */
   assert_int_equal(kfd_ioctl(other, AMDKFD_IOC_ACQUIRE_VM, &args), ENOTTY);
   close(other);
}

static void
test_alloc_checks(void **state)
{
   const uint32_t vram = KFD_IOC_ALLOC_MEM_FLAGS_VRAM | TEST_ALLOC_WRITABLE;
   struct kfd_ioctl_alloc_memory_of_gpu_args args;
   void *page =
      mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

   assert_true(page != MAP_FAILED);
   assert_int_equal(alloc_bo(vram, 1 << 20, 0, 0, NULL), EINVAL);
   assert_int_equal(alloc_bo(TEST_ALLOC_WRITABLE, 1 << 20, 4096, 0, NULL), EINVAL);
   assert_int_equal(alloc_bo(vram | KFD_IOC_ALLOC_MEM_FLAGS_GTT, 1 << 20, 4096, 0, NULL),
                    EINVAL);
   assert_int_equal(alloc_bo(KFD_IOC_ALLOC_MEM_FLAGS_DOORBELL, 1 << 20, 4096, 0, NULL),
                    EINVAL);
   assert_int_equal(alloc_bo(KFD_IOC_ALLOC_MEM_FLAGS_MMIO_REMAP, 1 << 20, 8192, 0, NULL),
                    EINVAL);
   assert_int_equal(alloc_bo(KFD_IOC_ALLOC_MEM_FLAGS_USERPTR, 1 << 20, 4096, 0, NULL),
                    EINVAL);
   assert_int_equal(alloc_bo(KFD_IOC_ALLOC_MEM_FLAGS_USERPTR, 1 << 20, 4096,
                             (uintptr_t)page + 16, NULL),
                    EINVAL);
   /* More VRAM than the GPU has. */
   assert_int_equal(alloc_bo(vram, 1 << 20, 64ull << 30, 0, NULL), ENOMEM);
   /* A device mapping cannot be pinned: map a BO on the CPU and try. */
   assert_int_equal(alloc_bo(KFD_IOC_ALLOC_MEM_FLAGS_GTT | TEST_ALLOC_WRITABLE, 1 << 20,
                             1 << 16, 0, &args),
                    0);
   {
      void *cpu = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_SHARED, render,
                       (off_t)args.mmap_offset);
      assert_true(cpu != MAP_FAILED);
      assert_int_equal(alloc_bo(KFD_IOC_ALLOC_MEM_FLAGS_USERPTR | TEST_ALLOC_WRITABLE,
                                2 << 20, 1 << 16, (uintptr_t)cpu, NULL),
                       EFAULT);
      munmap(cpu, 1 << 16);
   }
   assert_int_equal(free_bo(args.handle), 0);
   /* A read-only page is fine for a read-only userptr. */
   mprotect(page, 4096, PROT_READ);
   assert_int_equal(alloc_bo(KFD_IOC_ALLOC_MEM_FLAGS_USERPTR | TEST_ALLOC_WRITABLE,
                             1 << 20, 4096, (uintptr_t)page, NULL),
                    EFAULT);
   assert_int_equal(
      alloc_bo(KFD_IOC_ALLOC_MEM_FLAGS_USERPTR, 1 << 20, 4096, (uintptr_t)page, &args),
      0);
   assert_int_equal(free_bo(args.handle), 0);
   munmap(page, 4096);
   assert_int_equal(kfdsim_live_bos(), 0);
}

static void
test_map_unmap_free(void **state)
{
   const uint32_t vram =
      KFD_IOC_ALLOC_MEM_FLAGS_VRAM | TEST_ALLOC_WRITABLE | KFD_IOC_ALLOC_MEM_FLAGS_PUBLIC;
   struct kfd_ioctl_alloc_memory_of_gpu_args a, b;
   uint32_t ids[2] = { gpu_id, 0x4242 };
   uint32_t n_success = 0;
   uint64_t value = 0x1122334455667788ull, back = 0;

   assert_int_equal(alloc_bo(vram, 16 << 20, 1 << 20, 0, &a), 0);
   assert_int_equal(a.handle >> 32, gpu_id);
   /* The overlapping VA only matters once both are mapped. */
   assert_int_equal(alloc_bo(vram, (16 << 20) + 4096, 1 << 20, 0, &b), 0);
   assert_int_equal(kfdsim_vram_used(), 2 << 20);

   assert_int_equal(map_bo(AMDKFD_IOC_MAP_MEMORY_TO_GPU, a.handle, ids, 0, NULL), EINVAL);
   n_success = 2;
   assert_int_equal(map_bo(AMDKFD_IOC_MAP_MEMORY_TO_GPU, a.handle, ids, 1, &n_success),
                    EINVAL);
   assert_int_equal(
      map_bo(AMDKFD_IOC_MAP_MEMORY_TO_GPU, a.handle, (uint32_t *)8, 1, NULL), EFAULT);
   assert_int_equal(map_bo(AMDKFD_IOC_MAP_MEMORY_TO_GPU, a.handle + 100, ids, 1, NULL),
                    ENOMEM);
   /* The first device maps, the unknown second one fails: n_success says 1. */
   n_success = 0;
   assert_int_equal(map_bo(AMDKFD_IOC_MAP_MEMORY_TO_GPU, a.handle, ids, 2, &n_success),
                    EINVAL);
   assert_int_equal(n_success, 1);
   assert_int_equal(kfdsim_gpu_write(16 << 20, &value, sizeof(value)), 0);
   assert_int_equal(kfdsim_gpu_read(16 << 20, &back, sizeof(back)), 0);
   assert_int_equal(back, value);
   /* Mapping again is a no-op, mapping an overlapping BO is refused. */
   assert_int_equal(map_bo(AMDKFD_IOC_MAP_MEMORY_TO_GPU, a.handle, ids, 1, NULL), 0);
   assert_int_equal(map_bo(AMDKFD_IOC_MAP_MEMORY_TO_GPU, b.handle, ids, 1, NULL), EINVAL);

   assert_int_equal(free_bo(a.handle), EBUSY);
   assert_int_equal(map_bo(AMDKFD_IOC_UNMAP_MEMORY_FROM_GPU, a.handle, ids, 1, NULL), 0);
   assert_int_equal(map_bo(AMDKFD_IOC_UNMAP_MEMORY_FROM_GPU, a.handle, ids, 1, NULL),
                    EINVAL);
   assert_int_equal(
      map_bo(AMDKFD_IOC_UNMAP_MEMORY_FROM_GPU, a.handle + 100, ids, 1, NULL), ENOMEM);
   assert_int_equal(kfdsim_gpu_read(16 << 20, &back, sizeof(back)), -EFAULT);
   assert_int_equal(map_bo(AMDKFD_IOC_MAP_MEMORY_TO_GPU, b.handle, ids, 1, NULL), 0);
   assert_int_equal(map_bo(AMDKFD_IOC_UNMAP_MEMORY_FROM_GPU, b.handle, ids, 1, NULL), 0);
   assert_int_equal(free_bo(a.handle), 0);
   assert_int_equal(free_bo(a.handle), EINVAL);
   assert_int_equal(free_bo(b.handle), 0);
   assert_int_equal(kfdsim_vram_used(), 0);
}

static void
test_device_mmaps(void **state)
{
   struct kfd_ioctl_alloc_memory_of_gpu_args bo;
   int other = open("/dev/dri/renderD128", O_RDWR | O_CLOEXEC);
   uint8_t *p;
   uint64_t doorbell;

   assert_true(other >= 0);
   assert_int_equal(alloc_bo(KFD_IOC_ALLOC_MEM_FLAGS_VRAM |
                                KFD_IOC_ALLOC_MEM_FLAGS_PUBLIC | TEST_ALLOC_WRITABLE,
                             32 << 20, 1 << 16, 0, &bo),
                    0);
   /* Only the render file whose VM owns the BO may map it. */
   assert_true(mmap(NULL, 1 << 16, PROT_READ, MAP_SHARED, other, (off_t)bo.mmap_offset) ==
               MAP_FAILED);
   assert_int_equal(errno, EACCES);
   assert_true(mmap(NULL, 2 << 16, PROT_READ, MAP_SHARED, render,
                    (off_t)bo.mmap_offset) == MAP_FAILED);
   assert_int_equal(errno, EINVAL);
   p = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_SHARED, render,
            (off_t)bo.mmap_offset);
   assert_true(p != MAP_FAILED);
   assert_int_equal(p[100], 0); /* fresh VRAM reads as zeroes */
   munmap(p, 1 << 16);
   assert_int_equal(free_bo(bo.handle), 0);

   /* Doorbells: 8 KiB per process and GPU, only through /dev/kfd. */
   assert_true(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, kfd,
                    (off_t)(KFD_MMAP_TYPE_DOORBELL | KFD_MMAP_GPU_ID(gpu_id))) ==
               MAP_FAILED);
   assert_int_equal(errno, EINVAL);
   assert_true(mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, kfd,
                    (off_t)(KFD_MMAP_TYPE_DOORBELL | KFD_MMAP_GPU_ID(0x4242))) ==
               MAP_FAILED);
   assert_int_equal(errno, ENODEV);
   p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, kfd,
            (off_t)(KFD_MMAP_TYPE_DOORBELL | KFD_MMAP_GPU_ID(gpu_id)));
   assert_true(p != MAP_FAILED);
   *(volatile uint64_t *)(p + 64) = 0xabcdef;
   assert_int_equal(kfdsim_doorbell_read(gpu_id, 64, &doorbell), 0);
   assert_int_equal(doorbell, 0xabcdef);
   assert_int_equal(kfdsim_doorbell_read(gpu_id, 65, &doorbell), -EINVAL);
   munmap(p, 8192);
   assert_int_equal(kfdsim_ioctl_count(KFDSIM_NR_MMAP) >= 5, 1);
   close(other);
}

/* Events page handed over by handle, as libhsakmt does on a dGPU. */
static void
test_event_page_and_wait(void **state)
{
   struct kfd_ioctl_alloc_memory_of_gpu_args page;
   struct kfd_ioctl_create_event_args ev = { .event_type = KFD_IOC_EVENT_SIGNAL };
   struct kfd_ioctl_create_event_args ev2 = { .event_type = KFD_IOC_EVENT_SIGNAL };
   struct kfd_event_data data = { 0 };
   struct kfd_ioctl_wait_events_args wait = {
      .events_ptr = (uintptr_t)&data,
      .num_events = 1,
      .timeout = 0,
   };
   struct kfd_ioctl_set_event_args set = { 0 };
   uint64_t slot;
   void *events;

   assert_true(mmap(NULL, 32768, PROT_READ, MAP_SHARED, kfd,
                    (off_t)KFD_MMAP_TYPE_EVENTS) == MAP_FAILED);
   assert_int_equal(errno, EINVAL);
   assert_int_equal(alloc_bo(KFD_IOC_ALLOC_MEM_FLAGS_GTT | TEST_ALLOC_WRITABLE, 48 << 20,
                             32768, 0, &page),
                    0);
   ev.event_page_offset = page.handle;
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_CREATE_EVENT, &ev), 0);
   assert_int_equal(ev.event_id, 0);
   assert_int_equal(ev.event_slot_index, 0);
   assert_int_equal(ev.event_page_offset, KFD_MMAP_TYPE_EVENTS);
   /* The page is set once; it cannot be freed while it is the event page. */
   ev2.event_page_offset = page.handle;
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_CREATE_EVENT, &ev2), EINVAL);
   assert_int_equal(free_bo(page.handle), EPERM);
   events = mmap(NULL, 32768, PROT_READ, MAP_SHARED, kfd, (off_t)KFD_MMAP_TYPE_EVENTS);
   assert_true(events != MAP_FAILED);
   memcpy(&slot, events, sizeof(slot));
   assert_int_equal(slot, UINT64_MAX); /* unsignaled */
   munmap(events, 32768);

   data.event_id = ev.event_id;
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_WAIT_EVENTS, &wait), 0);
   assert_int_equal(wait.wait_result, KFD_IOC_WAIT_RESULT_TIMEOUT);
   set.event_id = ev.event_id;
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_SET_EVENT, &set), 0);
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_WAIT_EVENTS, &wait), 0);
   assert_int_equal(wait.wait_result, KFD_IOC_WAIT_RESULT_COMPLETE);
   set.event_id = 999;
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_SET_EVENT, &set), EINVAL);
   data.event_id = 999;
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_WAIT_EVENTS, &wait), EINVAL);
   assert_int_equal(kfdsim_signal_event(999), -EINVAL);
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_DESTROY_EVENT, &set), EINVAL);
}

static void
test_queue_checks(void **state)
{
   uint64_t rptr = 0, wptr = 0;
   struct kfd_ioctl_create_queue_args q = {
      .gpu_id = gpu_id,
      .queue_type = KFD_IOC_QUEUE_TYPE_COMPUTE_AQL,
      .queue_percentage = 100,
      .ring_base_address = 1 << 20,
      .ring_size = 4096,
      .read_pointer_address = (uintptr_t)&rptr,
      .write_pointer_address = (uintptr_t)&wptr,
   };
   struct kfd_ioctl_create_queue_args bad;
   struct kfd_ioctl_destroy_queue_args destroy = { 0 };
   struct kfdsim_queue_info info;

   bad = q;
   bad.queue_percentage = 101;
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_CREATE_QUEUE, &bad), EINVAL);
   bad = q;
   bad.ring_size = 3000;
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_CREATE_QUEUE, &bad), EINVAL);
   bad = q;
   bad.write_pointer_address = 1ull << 60;
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_CREATE_QUEUE, &bad), EFAULT);
   bad = q;
   bad.queue_type = 9;
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_CREATE_QUEUE, &bad), 524 /* ENOTSUPP */);
   bad = q;
   bad.gpu_id = 0x4242;
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_CREATE_QUEUE, &bad), EINVAL);

   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_CREATE_QUEUE, &q), 0);
   assert_int_equal(q.doorbell_offset >> 62, 3);
   assert_int_equal((q.doorbell_offset >> 46) & 0xffff, gpu_id);
   assert_int_equal(kfdsim_queue_info(q.queue_id, &info), 0);
   assert_int_equal(info.doorbell_offset, q.doorbell_offset & 8191);
   assert_true(info.active);
   destroy.queue_id = q.queue_id;
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_DESTROY_QUEUE, &destroy), 0);
   assert_int_equal(kfd_ioctl(kfd, AMDKFD_IOC_DESTROY_QUEUE, &destroy), EINVAL);
}

/* A forked child cannot use its parent's /dev/kfd fd (EBADF, which is how
 * libhsakmt notices the fork), but can open its own.
 */
static void
test_fork(void **state)
{
   struct kfd_ioctl_alloc_memory_of_gpu_args bo;
   pid_t pid;
   int status;

   assert_int_equal(
      alloc_bo(KFD_IOC_ALLOC_MEM_FLAGS_GTT | TEST_ALLOC_WRITABLE, 64 << 20, 4096, 0, &bo),
      0);
   pid = fork();
   assert_true(pid >= 0);
   if (pid == 0) {
      struct kfd_ioctl_get_version_args v;
      int fd;

      if (kfd_ioctl(kfd, AMDKFD_IOC_GET_VERSION, &v) != EBADF)
         _exit(1);
      fd = open("/dev/kfd", O_RDWR | O_CLOEXEC);
      if (fd < 0 || kfd_ioctl(fd, AMDKFD_IOC_GET_VERSION, &v) || v.major_version != 1)
         _exit(2);
      /* A new process: none of the parent's buffers. */
      if (kfdsim_live_bos() != 0)
         _exit(3);
      _exit(0);
   }
   assert_int_equal(waitpid(pid, &status, 0), pid);
   assert_true(WIFEXITED(status));
   assert_int_equal(WEXITSTATUS(status), 0);
   /* The parent's state is untouched. */
   assert_int_equal(free_bo(bo.handle), 0);
}

/* Only the nr selects the command; the caller's size decides what is copied
 * (shorter is zero-extended: here size 0 -> EINVAL).
 */
static void
test_argument_size(void **state)
{
   struct kfd_ioctl_alloc_memory_of_gpu_args args = {
      .size = 4096,
      .gpu_id = gpu_id,
      .flags = KFD_IOC_ALLOC_MEM_FLAGS_GTT,
   };
   unsigned long short_request = _IOC(_IOC_READ | _IOC_WRITE, 'K', 0x16, 8);

   assert_int_equal(kfd_ioctl(kfd, short_request, &args), EINVAL);
}

static void
test_dup_and_close(void **state)
{
   struct kfd_ioctl_get_version_args v;
   int second = open("/dev/kfd", O_RDWR | O_CLOEXEC);
   int dup_fd;

   assert_true(second >= 0);
   assert_int_equal(kfdsim_kfd_fds_open(), 2);
   dup_fd = dup(second);
   assert_int_equal(close(second), 0);
   /* The open file lives on through its duplicate. */
   assert_int_equal(kfd_ioctl(dup_fd, AMDKFD_IOC_GET_VERSION, &v), 0);
   assert_int_equal(kfdsim_kfd_fds_open(), 2);
   assert_int_equal(close(dup_fd), 0);
   assert_int_equal(kfdsim_kfd_fds_open(), 1);
}

static int
group_setup(void **state)
{
   assert_true(kfdsim_active());
   assert_int_equal(kfdsim_gpu_count(), 1);
   assert_int_equal(kfdsim_gpu_id(0, &gpu_id), 0);
   assert_int_equal(kfdsim_gpu_id(1, &gpu_id), -ERANGE);
   assert_int_equal(kfdsim_gpu_id(0, &gpu_id), 0);
   kfd = open("/dev/kfd", O_RDWR | O_CLOEXEC);
   render = open("/dev/dri/renderD128", O_RDWR | O_CLOEXEC);
   assert_true(kfd >= 0 && render >= 0);
   return 0;
}

static int
group_teardown(void **state)
{
   close(render);
   close(kfd);
   assert_int_equal(kfdsim_kfd_fds_open(), 0);
   return 0;
}

int
main(void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_version_and_log),
      cmocka_unit_test(test_log_keeps_the_latest_calls),
      cmocka_unit_test(test_apertures),
      cmocka_unit_test(test_before_acquire_vm),
      cmocka_unit_test(test_acquire_vm),
      cmocka_unit_test(test_alloc_checks),
      cmocka_unit_test(test_map_unmap_free),
      cmocka_unit_test(test_device_mmaps),
      cmocka_unit_test(test_event_page_and_wait),
      cmocka_unit_test(test_queue_checks),
      cmocka_unit_test(test_fork),
      cmocka_unit_test(test_argument_size),
      cmocka_unit_test(test_dup_and_close),
   };

   return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
