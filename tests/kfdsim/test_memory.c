/*
 * hsaKmtAllocMemory on the emulator (default, mmap-aperture VA mode): VRAM
 * with and without CPU access, GTT and paged system memory, what reaches the
 * kernel for each, VRAM accounting and exhaustion, AVAILABLE_MEMORY on a
 * second /dev/kfd fd, and FixedAddress failing before any ioctl.
 *
 * Runs with KFDSIM_VRAM_MB=256 so that exhausting VRAM is cheap.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "test_util.h"

#define ALLOC_NR _IOC_NR(AMDKFD_IOC_ALLOC_MEMORY_OF_GPU)

static uint32_t gpu_node;
static uint32_t gpu_id;

static HsaMemFlags
vram_flags(bool host_access)
{
   HsaMemFlags flags = { 0 };

   flags.ui32.HostAccess = host_access;
   flags.ui32.NonPaged = 1;
   flags.ui32.PageSize = HSA_PAGE_SIZE_4KB;
   return flags;
}

static HsaMemFlags
system_flags(bool non_paged)
{
   HsaMemFlags flags = { 0 };

   flags.ui32.HostAccess = 1;
   flags.ui32.NonPaged = non_paged;
   flags.ui32.PageSize = HSA_PAGE_SIZE_4KB;
   return flags;
}

static struct kfd_ioctl_alloc_memory_of_gpu_args
last_alloc(void)
{
   struct kfd_ioctl_alloc_memory_of_gpu_args args;
   struct kfdsim_ioctl_record rec;

   test_last_ioctl(ALLOC_NR, &rec);
   assert_int_equal(rec.ret, 0);
   memcpy(&args, rec.in, sizeof(args));
   return args;
}

static void
map(void *p, size_t size)
{
   HSAuint64 alt;

   assert_int_equal(hsaKmtMapMemoryToGPU(p, size, &alt), HSAKMT_STATUS_SUCCESS);
}

static void
test_vram_host_access(void **state)
{
   const size_t size = 4 << 20;
   uint8_t *p = NULL, buf[256];
   struct kfd_ioctl_alloc_memory_of_gpu_args args;

   assert_int_equal(hsaKmtAllocMemory(gpu_node, size, vram_flags(true), (void **)&p),
                    HSAKMT_STATUS_SUCCESS);
   args = last_alloc();
   assert_true(args.flags & KFD_IOC_ALLOC_MEM_FLAGS_VRAM);
   assert_true(args.flags & KFD_IOC_ALLOC_MEM_FLAGS_PUBLIC);
   assert_int_equal(args.va_addr, (uintptr_t)p);
   assert_int_equal(args.gpu_id, gpu_id);
   assert_int_equal(kfdsim_vram_used(), size);

   /* CPU writes through the render-node mapping are what the GPU reads. */
   memset(p + 1000, 0x6b, sizeof(buf));
   map(p, size);
   assert_int_equal(kfdsim_gpu_read((uintptr_t)p + 1000, buf, sizeof(buf)), 0);
   for (size_t i = 0; i < sizeof(buf); i++)
      assert_int_equal(buf[i], 0x6b);
   memset(buf, 0x2e, sizeof(buf));
   assert_int_equal(kfdsim_gpu_write((uintptr_t)p + size - sizeof(buf), buf, sizeof(buf)),
                    0);
   assert_memory_equal(p + size - sizeof(buf), buf, sizeof(buf));

   assert_int_equal(hsaKmtUnmapMemoryToGPU(p), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtFreeMemory(p, size), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_vram_used(), 0);
}

static void
test_vram_no_host_access(void **state)
{
   const size_t size = 1 << 20;
   void *p = NULL;
   uint64_t value = 77, back = 0;
   struct kfd_ioctl_alloc_memory_of_gpu_args args;

   assert_int_equal(hsaKmtAllocMemory(gpu_node, size, vram_flags(false), &p),
                    HSAKMT_STATUS_SUCCESS);
   args = last_alloc();
   assert_true(args.flags & KFD_IOC_ALLOC_MEM_FLAGS_VRAM);
   assert_false(args.flags & KFD_IOC_ALLOC_MEM_FLAGS_PUBLIC);
   map(p, size);
   assert_int_equal(kfdsim_gpu_write((uintptr_t)p + 8, &value, sizeof(value)), 0);
   assert_int_equal(kfdsim_gpu_read((uintptr_t)p + 8, &back, sizeof(back)), 0);
   assert_int_equal(back, value);
   assert_int_equal(hsaKmtUnmapMemoryToGPU(p), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtFreeMemory(p, size), HSAKMT_STATUS_SUCCESS);
}

static void
test_gtt(void **state)
{
   const size_t size = 64 << 10;
   uint8_t *p = NULL;
   uint8_t back[16];
   struct kfd_ioctl_alloc_memory_of_gpu_args args;
   struct kfdsim_bo_info info;

   assert_int_equal(hsaKmtAllocMemory(0, size, system_flags(true), (void **)&p),
                    HSAKMT_STATUS_SUCCESS);
   args = last_alloc();
   assert_true(args.flags & KFD_IOC_ALLOC_MEM_FLAGS_GTT);
   assert_int_equal(args.va_addr, (uintptr_t)p);
   memcpy(p, "system memory!!", 16);
   map(p, size);
   assert_int_equal(kfdsim_gpu_read((uintptr_t)p, back, sizeof(back)), 0);
   assert_memory_equal(back, "system memory!!", 16);
   assert_int_equal(kfdsim_bo_find((uintptr_t)p, &info), 0);
   assert_int_equal(info.flags, args.flags);
   assert_int_not_equal(info.mmap_offset, 0);
   assert_int_equal(hsaKmtUnmapMemoryToGPU(p), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtFreeMemory(p, size), HSAKMT_STATUS_SUCCESS);
}

/* Paged system memory becomes a userptr whose GPU address is its CPU address. */
static void
test_paged_system_memory(void **state)
{
   const size_t size = 256 << 10;
   uint8_t *p = NULL;
   uint32_t value = 0;
   struct kfd_ioctl_alloc_memory_of_gpu_args args;

   assert_int_equal(hsaKmtAllocMemory(0, size, system_flags(false), (void **)&p),
                    HSAKMT_STATUS_SUCCESS);
   args = last_alloc();
   assert_true(args.flags & KFD_IOC_ALLOC_MEM_FLAGS_USERPTR);
   assert_int_equal(args.mmap_offset, (uintptr_t)p);
   assert_int_equal(args.va_addr, (uintptr_t)p);
   assert_int_equal(kfdsim_userptr_count(), 1);
   map(p, size);
   p[4] = 9;
   assert_int_equal(kfdsim_gpu_read((uintptr_t)p + 4, &value, 1), 0);
   assert_int_equal(value, 9);
   assert_int_equal(hsaKmtUnmapMemoryToGPU(p), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtFreeMemory(p, size), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_userptr_count(), 0);
}

/* In mmap-aperture mode libhsakmt 5.2.3 cannot honour FixedAddress: it fails
 * before asking the kernel (NO_MEMORY for VRAM, ERROR for system memory).
 * libhsakmt 6.x places both where asked.
 */
static void
test_fixed_address(void **state)
{
   HsaMemFlags vram = vram_flags(true);
   HsaMemFlags sys = system_flags(true);
   void *const where = (void *)(uintptr_t)0x200000000000ull;
   void *p = where;

   vram.ui32.FixedAddress = 1;
   sys.ui32.FixedAddress = 1;
   kfdsim_log_clear();
   if (test_libhsakmt_6()) {
      struct kfdsim_bo_info info;
      assert_int_equal(hsaKmtAllocMemory(gpu_node, 1 << 20, vram, &p),
                       HSAKMT_STATUS_SUCCESS);
      assert_ptr_equal(p, where);
      assert_int_equal(kfdsim_bo_find((uintptr_t)where, &info), 0);
      assert_int_equal(hsaKmtFreeMemory(p, 1 << 20), HSAKMT_STATUS_SUCCESS);
      p = where;
      assert_int_equal(hsaKmtAllocMemory(0, 1 << 20, sys, &p), HSAKMT_STATUS_SUCCESS);
      assert_ptr_equal(p, where);
      assert_int_equal(hsaKmtFreeMemory(p, 1 << 20), HSAKMT_STATUS_SUCCESS);
      assert_int_equal(kfdsim_bo_find((uintptr_t)where, &info), -ENOENT);
      return;
   }
   assert_int_equal(hsaKmtAllocMemory(gpu_node, 1 << 20, vram, &p),
                    HSAKMT_STATUS_NO_MEMORY);
   p = where;
   assert_int_equal(hsaKmtAllocMemory(0, 1 << 20, sys, &p), HSAKMT_STATUS_ERROR);
   assert_int_equal(kfdsim_ioctl_count(ALLOC_NR), 0);
}

static void
test_vram_exhaustion(void **state)
{
   const size_t big = 160 << 20;
   void *a = NULL, *b = NULL;

   assert_int_equal(hsaKmtAllocMemory(gpu_node, big, vram_flags(false), &a),
                    HSAKMT_STATUS_SUCCESS);
   kfdsim_log_clear();
   assert_int_not_equal(hsaKmtAllocMemory(gpu_node, big, vram_flags(false), &b),
                        HSAKMT_STATUS_SUCCESS);
   assert_int_equal(test_count_failures(ALLOC_NR, ENOMEM), 1);
   assert_int_equal(kfdsim_vram_used(), big);
   assert_int_equal(hsaKmtFreeMemory(a, big), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtAllocMemory(gpu_node, big, vram_flags(false), &b),
                    HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtFreeMemory(b, big), HSAKMT_STATUS_SUCCESS);
}

/* The product asks for available VRAM on a /dev/kfd fd of its own. */
static void
test_available_memory_second_fd(void **state)
{
   struct kfd_ioctl_get_available_memory_args args = { .gpu_id = gpu_id };
   int fd = open("/dev/kfd", O_RDWR | O_CLOEXEC);
   uint64_t before;
   void *p = NULL;

   assert_true(fd >= 0);
   assert_int_equal(kfdsim_kfd_fds_open(), 2);
   assert_int_equal(ioctl(fd, AMDKFD_IOC_AVAILABLE_MEMORY, &args), 0);
   before = args.available;
   /* 256 MiB less what amdgpu keeps for page tables, in 2 MiB units. */
   assert_int_equal(before, 248ull << 20);
   assert_int_equal(hsaKmtAllocMemory(gpu_node, 3 << 20, vram_flags(true), &p),
                    HSAKMT_STATUS_SUCCESS);
   assert_int_equal(ioctl(fd, AMDKFD_IOC_AVAILABLE_MEMORY, &args), 0);
   assert_int_equal(args.available, before - (4 << 20));
   args.gpu_id = 0x4242;
   assert_int_equal(ioctl(fd, AMDKFD_IOC_AVAILABLE_MEMORY, &args), -1);
   assert_int_equal(errno, EINVAL);
   assert_int_equal(hsaKmtFreeMemory(p, 3 << 20), HSAKMT_STATUS_SUCCESS);
   close(fd);
   assert_int_equal(kfdsim_kfd_fds_open(), 1);
}

static int
group_setup(void **state)
{
   gpu_node = test_open_kfd();
   assert_int_equal(kfdsim_gpu_id(0, &gpu_id), 0);
   return 0;
}

static int
group_teardown(void **state)
{
   assert_int_equal(kfdsim_vram_used(), 0);
   assert_int_equal(hsaKmtReleaseSystemProperties(), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtCloseKFD(), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_live_bos(), 0);
   return 0;
}

int
main(void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vram_host_access),
      cmocka_unit_test(test_vram_no_host_access),
      cmocka_unit_test(test_gtt),
      cmocka_unit_test(test_paged_system_memory),
      cmocka_unit_test(test_fixed_address),
      cmocka_unit_test(test_vram_exhaustion),
      cmocka_unit_test(test_available_memory_second_fd),
   };

   /* Before anything touches the emulator, which reads it once. */
   setenv("KFDSIM_VRAM_MB", "256", 1);
   return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
