/*
 * Opening and closing KFD through libhsakmt, the topology it reads back, the
 * calls it makes on the way (libhsakmt 6.x makes part of them when it reads the
 * topology), the sysfs tree as plain files, and tracing.
 *
 * Traces to a temporary file (KFDSIM_TRACE=<path>), removed at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

static char trace_path[] = "/tmp/kfdsim-trace-XXXXXX";

/* The calls hsaKmtOpenKFD makes on a dGPU, in order. */
static void
test_open_sequence(void **state)
{
   static const unsigned int expected[] = {
      _IOC_NR(AMDKFD_IOC_GET_VERSION),
      _IOC_NR(AMDKFD_IOC_GET_PROCESS_APERTURES_NEW),
      _IOC_NR(AMDKFD_IOC_ACQUIRE_VM),
      _IOC_NR(AMDKFD_IOC_SET_MEMORY_POLICY),
      _IOC_NR(AMDKFD_IOC_ALLOC_MEMORY_OF_GPU),
      _IOC_NR(AMDKFD_IOC_MAP_MEMORY_TO_GPU),
   };
   struct kfd_ioctl_alloc_memory_of_gpu_args mmio;
   struct kfdsim_ioctl_record rec;
   HsaVersionInfo version;
   uint32_t gpu_id;

   HsaSystemProperties props;

   assert_int_equal(kfdsim_gpu_id(0, &gpu_id), 0);
   kfdsim_log_clear();
   assert_int_equal(hsaKmtOpenKFD(), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_kfd_fds_open(), 1);
   if (test_libhsakmt_6()) {
      /* 6.x asks for the version only; the rest comes with the topology */
      assert_int_equal(kfdsim_log_count(), 1);
      assert_int_equal(hsaKmtAcquireSystemProperties(&props), HSAKMT_STATUS_SUCCESS);
   }
   assert_int_equal(kfdsim_log_count(), sizeof(expected) / sizeof(expected[0]));
   for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
      assert_int_equal(kfdsim_log_get(i, &rec), 0);
      assert_int_equal(rec.nr, expected[i]);
      assert_int_equal(rec.ret, 0);
   }
   /* The MMIO remap page, mapped through /dev/kfd. */
   test_last_ioctl(_IOC_NR(AMDKFD_IOC_ALLOC_MEMORY_OF_GPU), &rec);
   memcpy(&mmio, rec.out, sizeof(mmio));
   assert_true(mmio.flags & KFD_IOC_ALLOC_MEM_FLAGS_MMIO_REMAP);
   assert_int_equal(mmio.size, 4096);
   assert_int_equal(mmio.mmap_offset, (uint64_t)gpu_id << 46);
   assert_int_equal(kfdsim_live_bos(), 1);

   assert_int_equal(hsaKmtGetVersion(&version), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(version.KernelInterfaceMajorVersion, 1);
   assert_int_equal(version.KernelInterfaceMinorVersion, 14);

   if (test_libhsakmt_6()) {
      /* 6.x frees the MMIO page with the topology */
      assert_int_equal(hsaKmtReleaseSystemProperties(), HSAKMT_STATUS_SUCCESS);
      assert_int_equal(kfdsim_live_bos(), 0);
   }
   assert_int_equal(hsaKmtCloseKFD(), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_kfd_fds_open(), test_kfd_fds_after_close());
   assert_int_equal(kfdsim_live_bos(), 0);
}

static void
test_properties(void **state)
{
   HsaSystemProperties sys;
   HsaNodeProperties cpu, gpu;
   HsaMemoryProperties mem[8];
   HsaCacheProperties cache[4];
   HsaIoLinkProperties link;
   bool found_vram = false, found_svm = false;

   assert_int_equal(hsaKmtOpenKFD(), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtAcquireSystemProperties(&sys), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(sys.NumNodes, 2);

   assert_int_equal(hsaKmtGetNodeProperties(0, &cpu), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(cpu.NumCPUCores, 8);
   assert_int_equal(cpu.NumFComputeCores, 0);
   assert_int_equal(cpu.NumCaches, 1);
   assert_int_equal(hsaKmtGetNodeMemoryProperties(0, 1, mem), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(mem[0].HeapType, HSA_HEAPTYPE_SYSTEM);
   assert_int_equal(hsaKmtGetNodeCacheProperties(0, cpu.CComputeIdLo, 1, cache),
                    HSAKMT_STATUS_SUCCESS);

   /* Default: one gfx1030 with 16 GiB of large-BAR VRAM. */
   assert_int_equal(hsaKmtGetNodeProperties(1, &gpu), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(gpu.NumCPUCores, 0);
   assert_int_equal(gpu.NumFComputeCores, 144);
   assert_int_equal(gpu.EngineId.ui32.Major, 10);
   assert_int_equal(gpu.EngineId.ui32.Minor, 3);
   assert_int_equal(gpu.EngineId.ui32.Stepping, 0);
   assert_int_equal(gpu.VendorId, 0x1002);
   assert_int_equal(gpu.DeviceId, 0x73bf);
   assert_int_equal(gpu.WaveFrontSize, 32);
   assert_true(gpu.NumMemoryBanks <= 8);
   assert_int_equal(hsaKmtGetNodeMemoryProperties(1, gpu.NumMemoryBanks, mem),
                    HSAKMT_STATUS_SUCCESS);
   for (unsigned int i = 0; i < gpu.NumMemoryBanks; i++) {
      if (mem[i].HeapType == HSA_HEAPTYPE_FRAME_BUFFER_PUBLIC) {
         assert_int_equal(mem[i].SizeInBytes, 16ull << 30);
         found_vram = true;
      }
      found_svm |= mem[i].HeapType == HSA_HEAPTYPE_DEVICE_SVM;
   }
   assert_true(found_vram && found_svm);
   assert_int_equal(gpu.NumIOLinks, 1);
   assert_int_equal(hsaKmtGetNodeIoLinkProperties(1, 1, &link), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(link.NodeFrom, 1);
   assert_int_equal(link.NodeTo, 0);
   assert_true(gpu.NumCaches >= 2 && gpu.NumCaches <= 4);
   assert_int_equal(
      hsaKmtGetNodeCacheProperties(1, gpu.FComputeIdLo, gpu.NumCaches, cache),
      HSAKMT_STATUS_SUCCESS);

   {
      HsaClockCounters clocks;
      assert_int_equal(hsaKmtGetClockCounters(1, &clocks), HSAKMT_STATUS_SUCCESS);
      assert_int_not_equal(clocks.GPUClockCounter, 0);
      assert_int_equal(clocks.SystemClockFrequencyHz, 1000000000ull);
   }
   {
      HSAuint32 tiles[32], macro[16];
      HsaGpuTileConfig config = { 0 };
      config.TileConfig = tiles;
      config.MacroTileConfig = macro;
      config.NumTileConfigs = 32;
      config.NumMacroTileConfigs = 16;
      assert_int_equal(hsaKmtGetTileConfig(1, &config), HSAKMT_STATUS_SUCCESS);
      assert_int_not_equal(config.GbAddrConfig, 0);
   }
   assert_int_equal(hsaKmtReleaseSystemProperties(), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtCloseKFD(), HSAKMT_STATUS_SUCCESS);
}

/* The kfd "process" outlives its fd, as in amdkfd: reopening acquires the
 * same VM again (libhsakmt keeps its render fd).
 */
static void
test_reopen(void **state)
{
   for (int i = 0; i < 3; i++) {
      HsaSystemProperties props;
      kfdsim_log_clear();
      assert_int_equal(hsaKmtOpenKFD(), HSAKMT_STATUS_SUCCESS);
      assert_int_equal(hsaKmtAcquireSystemProperties(&props), HSAKMT_STATUS_SUCCESS);
      assert_int_equal(kfdsim_ioctl_count(_IOC_NR(AMDKFD_IOC_ACQUIRE_VM)), 1);
      assert_int_equal(test_count_failures(_IOC_NR(AMDKFD_IOC_ACQUIRE_VM), EBUSY), 0);
      assert_int_equal(hsaKmtReleaseSystemProperties(), HSAKMT_STATUS_SUCCESS);
      assert_int_equal(hsaKmtCloseKFD(), HSAKMT_STATUS_SUCCESS);
      assert_int_equal(kfdsim_live_bos(), 0);
   }
   /* Nested opens are counted by libhsakmt and report ALREADY_OPENED. */
   assert_int_equal(hsaKmtOpenKFD(), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtOpenKFD(), HSAKMT_STATUS_KERNEL_ALREADY_OPENED);
   assert_int_equal(kfdsim_kfd_fds_open(), 1);
   assert_int_equal(hsaKmtCloseKFD(), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtCloseKFD(), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_kfd_fds_open(), test_kfd_fds_after_close());
}

/* The topology is plain files to any reader, and nothing else is touched. */
static void
test_sysfs_files(void **state)
{
   const char *root = "/sys/devices/virtual/kfd/kfd/topology";
   char path[256];
   unsigned int gpu_id = 0, entries = 0;
   uint32_t expected;
   struct dirent *entry;
   FILE *f;
   DIR *dir;
   int fd;

   assert_int_equal(kfdsim_gpu_id(0, &expected), 0);
   snprintf(path, sizeof(path), "%s/nodes/1/gpu_id", root);
   f = fopen(path, "r");
   assert_non_null(f);
   assert_int_equal(fscanf(f, "%u", &gpu_id), 1);
   fclose(f);
   assert_int_equal(gpu_id, expected);

   /* The same tree through the /sys/class alias. */
   fd = open("/sys/class/kfd/kfd/topology/generation_id", O_RDONLY | O_CLOEXEC);
   assert_true(fd >= 0);
   close(fd);

   dir = opendir("/sys/devices/virtual/kfd/kfd/topology/nodes/");
   assert_non_null(dir);
   while ((entry = readdir(dir))) {
      if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, "..")) {
         assert_int_equal(entry->d_type, DT_DIR);
         entries++;
      }
   }
   assert_int_equal(closedir(dir), 0);
   assert_int_equal(entries, 2);

   assert_int_equal(open(path, O_RDWR), -1);
   assert_int_equal(errno, EACCES);
   snprintf(path, sizeof(path), "%s/nodes/7/properties", root);
   assert_null(fopen(path, "r"));
   assert_int_equal(errno, ENOENT);
   assert_null(opendir("/sys/devices/virtual/kfd/kfd/topology/nodes/9"));
   assert_int_equal(errno, ENOENT);

   /* Host files and directories pass through. */
   f = fopen("/proc/self/status", "r");
   assert_non_null(f);
   fclose(f);
   dir = opendir("/proc/self");
   assert_non_null(dir);
   assert_non_null(readdir(dir));
   assert_int_equal(closedir(dir), 0);
}

static void
test_trace_file(void **state)
{
   char buf[65536];
   ssize_t n;
   int fd = open(trace_path, O_RDONLY | O_CLOEXEC);

   assert_true(fd >= 0);
   n = read(fd, buf, sizeof(buf) - 1);
   close(fd);
   assert_true(n > 0);
   buf[n] = '\0';
   assert_non_null(strstr(buf, "open /dev/kfd"));
   assert_non_null(strstr(buf, "ACQUIRE_VM"));
}

int
main(void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_open_sequence), cmocka_unit_test(test_properties),
      cmocka_unit_test(test_reopen),        cmocka_unit_test(test_sysfs_files),
      cmocka_unit_test(test_trace_file),
   };
   int fd = mkstemp(trace_path);
   int ret;

   if (fd < 0)
      return 1;
   close(fd);
   setenv("KFDSIM_TRACE", trace_path, 1);
   ret = cmocka_run_group_tests(tests, NULL, NULL);
   unlink(trace_path);
   return ret;
}
