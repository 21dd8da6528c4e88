/*
 * Registering user memory through the real libhsakmt on the emulator: the
 * whole open -> properties -> register -> map -> unmap -> deregister -> close
 * flow, what the kernel is told (the USERPTR allocation in the ioctl log),
 * that the GPU and the CPU see the same bytes, and that ranges the kernel
 * could not pin are refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test_util.h"

#define USERPTR_FLAGS                                       \
   (KFD_IOC_ALLOC_MEM_FLAGS_USERPTR | TEST_ALLOC_WRITABLE | \
    KFD_IOC_ALLOC_MEM_FLAGS_EXECUTABLE | KFD_IOC_ALLOC_MEM_FLAGS_NO_SUBSTITUTE)

static uint32_t gpu_node;
static uint32_t gpu_id;

static HsaMemFlags
register_flags(void)
{
   HsaMemFlags flags = { 0 };

   flags.ui32.HostAccess = 1;
   flags.ui32.NonPaged = 0;
   return flags;
}

/* Register + map; returns the GPU address of ptr. */
static uint64_t
register_and_map(void *ptr, size_t size)
{
   HsaMemMapFlags map_flags = { 0 };
   HSAuint64 gpu_va = 0;

   assert_int_equal(hsaKmtRegisterMemoryWithFlags(ptr, size, register_flags()),
                    HSAKMT_STATUS_SUCCESS);
   assert_int_equal(
      hsaKmtMapMemoryToGPUNodes(ptr, size, &gpu_va, map_flags, 1, &gpu_node),
      HSAKMT_STATUS_SUCCESS);
   assert_int_not_equal(gpu_va, 0);
   return gpu_va;
}

static void
unmap_and_deregister(void *ptr)
{
   assert_int_equal(hsaKmtUnmapMemoryToGPU(ptr), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtDeregisterMemory(ptr), HSAKMT_STATUS_SUCCESS);
}

/* The GPU and the CPU see the same bytes, both ways. */
static void
check_shared_view(uint8_t *cpu, uint64_t gpu_va, size_t size)
{
   uint8_t *buf = malloc(size);

   assert_non_null(buf);
   for (size_t i = 0; i < size; i++)
      cpu[i] = (uint8_t)(i * 7 + 1);
   assert_int_equal(kfdsim_gpu_read(gpu_va, buf, size), 0);
   assert_memory_equal(buf, cpu, size);

   memset(buf, 0xc3, size);
   assert_int_equal(kfdsim_gpu_write(gpu_va, buf, size), 0);
   assert_memory_equal(cpu, buf, size);
   free(buf);
}

/* The required end-to-end flow, checked against the ioctl log. */
static void
test_full_flow(void **state)
{
   const size_t size = 10000;
   uint8_t *buf = malloc(size);
   uint64_t aligned = (uintptr_t)buf & ~(uint64_t)(TEST_PAGE_SIZE - 1);
   uint64_t end =
      ((uintptr_t)buf + size + TEST_PAGE_SIZE - 1) & ~(uint64_t)(TEST_PAGE_SIZE - 1);
   struct kfd_ioctl_alloc_memory_of_gpu_args in, out;
   struct kfdsim_ioctl_record rec;
   struct kfdsim_bo_info info;
   HsaNodeProperties props;
   unsigned int bos = kfdsim_live_bos();
   uint64_t gpu_va;

   assert_non_null(buf);
   assert_int_equal(hsaKmtGetNodeProperties(gpu_node, &props), HSAKMT_STATUS_SUCCESS);
   assert_true(props.NumFComputeCores > 0);

   kfdsim_log_clear();
   assert_int_equal(hsaKmtRegisterMemoryWithFlags(buf, size, register_flags()),
                    HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_ioctl_count(_IOC_NR(AMDKFD_IOC_ALLOC_MEMORY_OF_GPU)), 1);
   assert_int_equal(kfdsim_userptr_count(), 1);
   assert_int_equal(kfdsim_userptr_bytes(), end - aligned);

   test_last_ioctl(_IOC_NR(AMDKFD_IOC_ALLOC_MEMORY_OF_GPU), &rec);
   assert_int_equal(rec.request, AMDKFD_IOC_ALLOC_MEMORY_OF_GPU);
   assert_int_equal(rec.ret, 0);
   assert_int_equal(rec.arg_copied, sizeof(in));
   memcpy(&in, rec.in, sizeof(in));
   memcpy(&out, rec.out, sizeof(out));
   /* USERPTR at the page-aligned CPU address, coherent (not CoarseGrain). */
   assert_int_equal(in.mmap_offset, aligned);
   assert_int_equal(in.size, end - aligned);
   assert_int_equal(in.gpu_id, gpu_id);
   assert_int_equal(in.flags, USERPTR_FLAGS | KFD_IOC_ALLOC_MEM_FLAGS_COHERENT);
   assert_int_not_equal(out.handle, 0);
   /* libhsakmt 5.2.3 gives registered memory a GPU VA of its own. */
   assert_int_not_equal(in.va_addr, aligned);

   {
      HsaMemMapFlags map_flags = { 0 };
      HSAuint64 alt = 0;

      assert_int_equal(
         hsaKmtMapMemoryToGPUNodes(buf, size, &alt, map_flags, 1, &gpu_node),
         HSAKMT_STATUS_SUCCESS);
      gpu_va = alt;
   }
   assert_int_equal(gpu_va, in.va_addr + ((uintptr_t)buf & (TEST_PAGE_SIZE - 1)));
   assert_int_equal(kfdsim_ioctl_count(_IOC_NR(AMDKFD_IOC_MAP_MEMORY_TO_GPU)), 1);
   assert_int_equal(kfdsim_bo_find(gpu_va, &info), 0);
   assert_int_equal(info.cpu_addr, aligned);
   assert_int_equal(info.handle, out.handle);
   assert_int_equal(info.mapped_gpus, 1);
   check_shared_view(buf, gpu_va, size);

   assert_int_equal(hsaKmtUnmapMemoryToGPU(buf), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_ioctl_count(_IOC_NR(AMDKFD_IOC_UNMAP_MEMORY_FROM_GPU)), 1);
   /* Not mapped: the GPU cannot reach it any more. */
   assert_int_equal(kfdsim_gpu_read(gpu_va, &in, 8), -EFAULT);
   assert_int_equal(hsaKmtDeregisterMemory(buf), HSAKMT_STATUS_SUCCESS);
   test_last_ioctl(_IOC_NR(AMDKFD_IOC_FREE_MEMORY_OF_GPU), &rec);
   assert_int_equal(rec.ret, 0);
   assert_memory_equal(rec.in, &out.handle, sizeof(out.handle));
   assert_int_equal(kfdsim_userptr_count(), 0);
   assert_int_equal(kfdsim_live_bos(), bos);
   free(buf);
}

static void
test_mmap_anonymous(void **state)
{
   const size_t size = 1 << 20;
   uint8_t *p =
      mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
   uint64_t gpu_va;

   assert_true(p != MAP_FAILED);
   gpu_va = register_and_map(p, size);
   assert_int_equal(kfdsim_userptr_bytes(), size);
   check_shared_view(p, gpu_va, size);
   unmap_and_deregister(p);
   munmap(p, size);
}

/* Guest RAM arrives as a shared memfd mapped twice (the VMM's view and an
 * alias): what one mapping writes, the GPU sees through the other.
 */
static void
test_memfd_alias(void **state)
{
   const size_t size = 2 << 20;
   int fd = memfd_create("kfdsim-test-guest-ram", MFD_CLOEXEC);
   uint8_t *guest, *alias, buf[64];
   uint64_t gpu_va;

   assert_true(fd >= 0);
   assert_int_equal(ftruncate(fd, size), 0);
   guest = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
   alias = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
   assert_true(guest != MAP_FAILED && alias != MAP_FAILED);
   close(fd);

   gpu_va = register_and_map(alias, size);
   memset(guest + 4096, 0x42, sizeof(buf));
   assert_int_equal(kfdsim_gpu_read(gpu_va + 4096, buf, sizeof(buf)), 0);
   for (size_t i = 0; i < sizeof(buf); i++)
      assert_int_equal(buf[i], 0x42);
   memset(buf, 0x17, sizeof(buf));
   assert_int_equal(kfdsim_gpu_write(gpu_va + size - sizeof(buf), buf, sizeof(buf)), 0);
   assert_memory_equal(guest + size - sizeof(buf), buf, sizeof(buf));

   unmap_and_deregister(alias);
   munmap(alias, size);
   munmap(guest, size);
}

static void
expect_register_efault(void *ptr, size_t size)
{
   unsigned int before =
      test_count_failures(_IOC_NR(AMDKFD_IOC_ALLOC_MEMORY_OF_GPU), EFAULT);
   unsigned int userptrs = kfdsim_userptr_count();

   assert_int_not_equal(hsaKmtRegisterMemoryWithFlags(ptr, size, register_flags()),
                        HSAKMT_STATUS_SUCCESS);
   assert_int_equal(test_count_failures(_IOC_NR(AMDKFD_IOC_ALLOC_MEMORY_OF_GPU), EFAULT),
                    before + 1);
   assert_int_equal(kfdsim_userptr_count(), userptrs);
}

static void
test_unmapped_range(void **state)
{
   const size_t page = TEST_PAGE_SIZE;
   uint8_t *p =
      mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

   assert_true(p != MAP_FAILED);
   /* A hole in the middle... */
   assert_int_equal(munmap(p + page, page), 0);
   expect_register_efault(p, 3 * page);
   /* ...and nothing mapped at all. */
   assert_int_equal(munmap(p, page), 0);
   assert_int_equal(munmap(p + 2 * page, page), 0);
   expect_register_efault(p, 3 * page);
}

static void
test_read_only_range(void **state)
{
   const size_t size = 4 * TEST_PAGE_SIZE;
   void *ro = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
   void *none = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

   assert_true(ro != MAP_FAILED && none != MAP_FAILED);
   /* libhsakmt always asks for a writable userptr. */
   expect_register_efault(ro, size);
   expect_register_efault(none, size);
   munmap(ro, size);
   munmap(none, size);
}

/* libhsakmt recognises its own allocations: registering one never reaches the
 * kernel (the kernel's refusal of device mappings is covered by kfdsim-ioctl).
 */
static void
test_register_own_allocation(void **state)
{
   HsaMemFlags flags = { 0 };
   unsigned int bos = kfdsim_live_bos();
   void *vram = NULL;

   flags.ui32.HostAccess = 1;
   flags.ui32.NonPaged = 1;
   flags.ui32.PageSize = HSA_PAGE_SIZE_4KB;
   assert_int_equal(hsaKmtAllocMemory(gpu_node, 1 << 16, flags, &vram),
                    HSAKMT_STATUS_SUCCESS);
   kfdsim_log_clear();
   /* 5.2.3 accepts it as a no-op; 6.x refuses memory that is no userptr */
   assert_int_equal(hsaKmtRegisterMemoryWithFlags(vram, 1 << 16, register_flags()),
                    test_libhsakmt_6() ? HSAKMT_STATUS_INVALID_HANDLE
                                       : HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_ioctl_count(_IOC_NR(AMDKFD_IOC_ALLOC_MEMORY_OF_GPU)), 0);
   assert_int_equal(hsaKmtFreeMemory(vram, 1 << 16), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_live_bos(), bos);
}

/* The user pages go away while registered: the GPU faults (-EFAULT) instead
 * of seeing stale memory, and cleanup still works.
 */
static void
test_pages_gone(void **state)
{
   const size_t size = 8 * TEST_PAGE_SIZE;
   uint8_t *p =
      mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
   uint64_t gpu_va, value;

   assert_true(p != MAP_FAILED);
   gpu_va = register_and_map(p, size);
   assert_int_equal(kfdsim_gpu_read(gpu_va, &value, sizeof(value)), 0);
   assert_int_equal(munmap(p, size), 0);
   assert_int_equal(kfdsim_gpu_read(gpu_va, &value, sizeof(value)), -EFAULT);
   unmap_and_deregister(p);
}

static int
group_setup(void **state)
{
   struct kfdsim_bo_info info;

   gpu_node = test_open_kfd();
   assert_int_equal(kfdsim_gpu_id(0, &gpu_id), 0);
   assert_int_equal(kfdsim_bo_find(0, &info), -ENOENT);
   return 0;
}

static int
group_teardown(void **state)
{
   assert_int_equal(kfdsim_userptr_count(), 0);
   assert_int_equal(hsaKmtReleaseSystemProperties(), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtCloseKFD(), HSAKMT_STATUS_SUCCESS);
   /* libhsakmt freed what it allocated at open; nothing else was left. */
   assert_int_equal(kfdsim_live_bos(), 0);
   assert_int_equal(kfdsim_live_bytes(), 0);
   assert_int_equal(kfdsim_kfd_fds_open(), test_kfd_fds_after_close());
   return 0;
}

int
main(void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full_flow),
      cmocka_unit_test(test_mmap_anonymous),
      cmocka_unit_test(test_memfd_alias),
      cmocka_unit_test(test_unmapped_range),
      cmocka_unit_test(test_read_only_range),
      cmocka_unit_test(test_register_own_allocation),
      cmocka_unit_test(test_pages_gone),
   };

   return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
