/*
 * What a KFD 1.12/1.13 kernel adds, driven directly on /dev/kfd: dma-buf export
 * of a BO (a file another process maps at offset 0, read-only unless the BO is
 * writable, alive after the BO is freed), GET_DMABUF_INFO and IMPORT_DMABUF of
 * it, and RUNTIME_ENABLE. With the argument "kfd-1.11" (KFDSIM_KFD_MINOR=11) the
 * same commands are unknown, as on an older kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

/* kfd_ioctl.h 1.12 and 1.13; the installed header is 1.11 */
struct export_dmabuf_args {
   uint64_t handle;
   uint32_t flags;
   uint32_t dmabuf_fd;
};
struct runtime_enable_args {
   uint64_t r_debug;
   uint32_t mode_mask;
   uint32_t capabilities_mask;
};
#define IOC_EXPORT_DMABUF  _IOWR('K', 0x24, struct export_dmabuf_args)
#define IOC_RUNTIME_ENABLE _IOWR('K', 0x25, struct runtime_enable_args)

#define BO_SIZE            (64u << 10)

static int kfd = -1;
static int render = -1;
static uint32_t gpu_id;

static int
kfd_ioctl(unsigned long request, void *arg)
{
   return ioctl(kfd, request, arg) == 0 ? 0 : errno;
}

static uint64_t
alloc_bo(uint32_t flags, uint64_t va, uint64_t size, uint64_t cpu, uint64_t *offset)
{
   struct kfd_ioctl_alloc_memory_of_gpu_args args = {
      .va_addr = va,
      .size = size,
      .mmap_offset = cpu,
      .gpu_id = gpu_id,
      .flags = flags,
   };
   assert_int_equal(kfd_ioctl(AMDKFD_IOC_ALLOC_MEMORY_OF_GPU, &args), 0);
   if (offset)
      *offset = args.mmap_offset;
   return args.handle;
}

static void
free_bo(uint64_t handle)
{
   struct kfd_ioctl_free_memory_of_gpu_args args = { .handle = handle };
   assert_int_equal(kfd_ioctl(AMDKFD_IOC_FREE_MEMORY_OF_GPU, &args), 0);
}

static int
export_bo(uint64_t handle, uint32_t flags, int *fd)
{
   struct export_dmabuf_args args = { .handle = handle, .flags = flags };
   int ret = kfd_ioctl(IOC_EXPORT_DMABUF, &args);
   *fd = ret ? -1 : (int)args.dmabuf_fd;
   return ret;
}

/* What another process sees through the fd: it maps it and sends back 8 bytes. */
static void
read_in_child(int dmabuf, char out[8])
{
   int pair[2];
   assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
   pid_t pid = fork();
   assert_true(pid >= 0);
   if (pid == 0) {
      char *p = mmap(NULL, BO_SIZE, PROT_READ, MAP_SHARED, dmabuf, 0);
      if (p == MAP_FAILED || write(pair[1], p + 4096, 8) != 8)
         _exit(1);
      _exit(0);
   }
   int status;
   assert_int_equal(waitpid(pid, &status, 0), pid);
   assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
   assert_int_equal(read(pair[0], out, 8), 8);
   close(pair[0]);
   close(pair[1]);
}

static void
test_export(void **state)
{
   uint64_t offset;
   uint64_t handle = alloc_bo(KFD_IOC_ALLOC_MEM_FLAGS_GTT | TEST_ALLOC_WRITABLE,
                              1ull << 32, BO_SIZE, 0, &offset);
   char *cpu =
      mmap(NULL, BO_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, render, (off_t)offset);
   assert_true(cpu != MAP_FAILED);
   memcpy(cpu + 4096, "exported", 8);

   int fd;
   assert_int_equal(export_bo(handle, O_CLOEXEC, &fd), 0);
   struct stat st;
   assert_int_equal(fstat(fd, &st), 0);
   assert_int_equal(st.st_size, BO_SIZE); /* a dma-buf's size */
   assert_int_equal(lseek(fd, 0, SEEK_END), BO_SIZE);
   assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
   int again;
   assert_int_equal(export_bo(handle, 0, &again), 0);
   assert_false(fcntl(again, F_GETFD) & FD_CLOEXEC);
   close(again);

   /* the BO's own pages, at offset 0, in another process */
   char seen[8];
   read_in_child(fd, seen);
   assert_memory_equal(seen, "exported", 8);

   /* what KFD tells about it, and a second BO made from it */
   struct kfd_ioctl_get_dmabuf_info_args info = { .dmabuf_fd = (uint32_t)fd };
   assert_int_equal(kfd_ioctl(AMDKFD_IOC_GET_DMABUF_INFO, &info), 0);
   assert_int_equal(info.size, BO_SIZE);
   assert_int_equal(info.gpu_id, gpu_id);
   assert_int_equal(info.flags, KFD_IOC_ALLOC_MEM_FLAGS_GTT);
   struct kfd_ioctl_import_dmabuf_args import = {
      .va_addr = 2ull << 32,
      .gpu_id = gpu_id,
      .dmabuf_fd = (uint32_t)fd,
   };
   uint64_t bos = kfdsim_live_bos();
   assert_int_equal(kfd_ioctl(AMDKFD_IOC_IMPORT_DMABUF, &import), 0);
   assert_int_equal(kfdsim_live_bos(), bos + 1);
   struct kfd_ioctl_map_memory_to_gpu_args map = {
      .handle = import.handle,
      .device_ids_array_ptr = (uintptr_t)&gpu_id,
      .n_devices = 1,
   };
   assert_int_equal(kfd_ioctl(AMDKFD_IOC_MAP_MEMORY_TO_GPU, &map), 0);
   assert_int_equal(kfdsim_gpu_read((2ull << 32) + 4096, seen, 8), 0);
   assert_memory_equal(seen, "exported", 8);
   map.n_success = 0;
   assert_int_equal(kfd_ioctl(AMDKFD_IOC_UNMAP_MEMORY_FROM_GPU, &map), 0);
   free_bo(import.handle);

   /* freeing the BO leaves the dma-buf's pages, as a GEM reference does */
   munmap(cpu, BO_SIZE);
   free_bo(handle);
   read_in_child(fd, seen);
   assert_memory_equal(seen, "exported", 8);
   /* but it is no longer one of KFD's */
   assert_int_equal(kfd_ioctl(AMDKFD_IOC_GET_DMABUF_INFO, &info), EINVAL);
   close(fd);
}

static void
test_export_refusals(void **state)
{
   int fd;
   /* a read-only BO gives a read-only dma-buf */
   uint64_t handle =
      alloc_bo(KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_PUBLIC, 3ull << 32,
               BO_SIZE, 0, NULL);
   assert_int_equal(export_bo(handle, O_CLOEXEC, &fd), 0);
   assert_true(mmap(NULL, BO_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) ==
               MAP_FAILED);
   assert_int_equal(errno, EACCES);
   char *ro = mmap(NULL, BO_SIZE, PROT_READ, MAP_SHARED, fd, 0);
   assert_true(ro != MAP_FAILED);
   munmap(ro, BO_SIZE);
   close(fd);
   free_bo(handle);

   /* amdgpu never exports user pages */
   void *pages =
      mmap(NULL, BO_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
   assert_true(pages != MAP_FAILED);
   handle = alloc_bo(KFD_IOC_ALLOC_MEM_FLAGS_USERPTR | TEST_ALLOC_WRITABLE, 4ull << 32,
                     BO_SIZE, (uintptr_t)pages, NULL);
   assert_int_equal(export_bo(handle, 0, &fd), EPERM);
   free_bo(handle);
   munmap(pages, BO_SIZE);

   /* unknown handles and GPUs */
   assert_int_equal(export_bo(((uint64_t)gpu_id << 32) | 999, 0, &fd), EINVAL);
   assert_int_equal(export_bo(0x4242ull << 32, 0, &fd), EINVAL);

   /* an fd that is not a dma-buf of KFD, and one that is not open */
   int plain = memfd_create("not-a-dmabuf", MFD_CLOEXEC);
   struct kfd_ioctl_get_dmabuf_info_args info = { .dmabuf_fd = (uint32_t)plain };
   assert_int_equal(kfd_ioctl(AMDKFD_IOC_GET_DMABUF_INFO, &info), EINVAL);
   close(plain);
   assert_int_equal(kfd_ioctl(AMDKFD_IOC_GET_DMABUF_INFO, &info), EBADF);
}

static void
test_runtime_enable(void **state)
{
   struct runtime_enable_args args = { .mode_mask = 1 };
   assert_int_equal(kfd_ioctl(IOC_RUNTIME_ENABLE, &args), 0);
   assert_int_equal(args.capabilities_mask, 0); /* upstream leaves it as passed */
   assert_int_equal(kfd_ioctl(IOC_RUNTIME_ENABLE, &args), EBUSY);
   args.mode_mask = 0;
   assert_int_equal(kfd_ioctl(IOC_RUNTIME_ENABLE, &args), 0);
   assert_int_equal(kfd_ioctl(IOC_RUNTIME_ENABLE, &args), 0);

   /* not once queues exist */
   uint64_t rptr = 0, wptr = 0;
   struct kfd_ioctl_create_queue_args queue = {
      .gpu_id = gpu_id,
      .queue_type = KFD_IOC_QUEUE_TYPE_COMPUTE_AQL,
      .queue_percentage = 100,
      .ring_base_address = 1 << 20,
      .ring_size = 4096,
      .read_pointer_address = (uintptr_t)&rptr,
      .write_pointer_address = (uintptr_t)&wptr,
   };
   assert_int_equal(kfd_ioctl(AMDKFD_IOC_CREATE_QUEUE, &queue), 0);
   args.mode_mask = 1;
   assert_int_equal(kfd_ioctl(IOC_RUNTIME_ENABLE, &args), EEXIST);
   struct kfd_ioctl_destroy_queue_args destroy = { .queue_id = queue.queue_id };
   assert_int_equal(kfd_ioctl(AMDKFD_IOC_DESTROY_QUEUE, &destroy), 0);

   /* the debugger acts on processes it has attached: not emulated */
   uint8_t trap[32] = { 0 };
   assert_int_equal(kfd_ioctl(_IOWR('K', 0x26, trap), trap), EOPNOTSUPP);
}

static void
test_old_kernel(void **state)
{
   struct kfd_ioctl_get_version_args version = { 0 };
   assert_int_equal(kfd_ioctl(AMDKFD_IOC_GET_VERSION, &version), 0);
   assert_int_equal(version.minor_version, 11);
   uint64_t handle = alloc_bo(KFD_IOC_ALLOC_MEM_FLAGS_GTT | TEST_ALLOC_WRITABLE,
                              1ull << 32, BO_SIZE, 0, NULL);
   int fd;
   assert_int_equal(export_bo(handle, 0, &fd), EINVAL);
   struct runtime_enable_args args = { .mode_mask = 1 };
   assert_int_equal(kfd_ioctl(IOC_RUNTIME_ENABLE, &args), EINVAL);
   free_bo(handle);
}

static int
group_setup(void **state)
{
   assert_true(kfdsim_active());
   assert_int_equal(kfdsim_gpu_id(0, &gpu_id), 0);
   kfd = open("/dev/kfd", O_RDWR | O_CLOEXEC);
   render = open("/dev/dri/renderD128", O_RDWR | O_CLOEXEC);
   assert_true(kfd >= 0 && render >= 0);
   struct kfd_ioctl_acquire_vm_args vm = { .drm_fd = (uint32_t)render, .gpu_id = gpu_id };
   assert_int_equal(kfd_ioctl(AMDKFD_IOC_ACQUIRE_VM, &vm), 0);
   return 0;
}

static int
group_teardown(void **state)
{
   close(render);
   close(kfd);
   return 0;
}

int
main(int argc, char **argv)
{
   if (argc > 1 && !strcmp(argv[1], "kfd-1.11")) {
      setenv("KFDSIM_KFD_MINOR", "11", 1);
      const struct CMUnitTest tests[] = { cmocka_unit_test(test_old_kernel) };
      return cmocka_run_group_tests_name("kfdsim-kfd-1.11", tests, group_setup,
                                         group_teardown);
   }
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_export),
      cmocka_unit_test(test_export_refusals),
      cmocka_unit_test(test_runtime_enable),
   };
   return cmocka_run_group_tests_name("kfdsim-dmabuf", tests, group_setup,
                                      group_teardown);
}
