/*
 * Topologies other than the default, one mode per process (the emulator
 * reads its configuration once):
 *   env       KFDSIM_GPUS=2 KFDSIM_GFX=gfx90a KFDSIM_VRAM_MB=1024
 *             KFDSIM_GPU_ID=0x1234 KFDSIM_RENDER_MINOR=130 (set by meson)
 *   captured  a tree in the layout of /sys/devices/virtual/kfd/kfd, written
 *             to a temporary directory and loaded through KFDSIM_SYSFS_KFD
 *   bad-env   KFDSIM_GFX=gfx42: the emulator refuses to start, says why
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

static char captured_dir[] = "/tmp/kfdsim-captured-XXXXXX";

static void
test_two_gpus(void **state)
{
   uint32_t nodes[2], ids[2];
   HsaNodeProperties props;
   HsaMemFlags flags = { 0 };
   HsaMemMapFlags map_flags = { 0 };
   struct kfdsim_bo_info info;
   HSAuint64 gpu_va;
   void *p = NULL;
   char *buf = malloc(1 << 16);

   nodes[0] = test_open_kfd();
   nodes[1] = test_gpu_node(1);
   assert_int_equal(kfdsim_gpu_count(), 2);
   assert_int_equal(kfdsim_gpu_id(0, &ids[0]), 0);
   assert_int_equal(kfdsim_gpu_id(1, &ids[1]), 0);
   assert_int_equal(ids[0], 0x1234);
   assert_int_equal(ids[1], 0x1235);
   assert_int_equal(hsaKmtGetNodeProperties(nodes[1], &props), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(props.EngineId.ui32.Major, 9);
   assert_int_equal(props.EngineId.ui32.Stepping, 10); /* gfx90a */
   assert_int_equal(props.WaveFrontSize, 64);
   assert_int_equal(props.DrmRenderMinor, 131);

   /* Registered memory mapped to both GPUs. */
   flags.ui32.HostAccess = 1;
   assert_int_equal(hsaKmtRegisterMemoryToNodes(buf, 1 << 16, 2, nodes),
                    HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtMapMemoryToGPUNodes(buf, 1 << 16, &gpu_va, map_flags, 2, nodes),
                    HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_bo_find(gpu_va, &info), 0);
   assert_int_equal(info.mapped_gpus, 2);
   assert_int_equal(hsaKmtUnmapMemoryToGPU(buf), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtDeregisterMemory(buf), HSAKMT_STATUS_SUCCESS);
   free(buf);

   /* 1 GiB of VRAM per GPU. */
   flags.ui32.NonPaged = 1;
   flags.ui32.PageSize = HSA_PAGE_SIZE_4KB;
   assert_int_not_equal(hsaKmtAllocMemory(nodes[1], 1ull << 30, flags, &p),
                        HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtAllocMemory(nodes[1], 512 << 20, flags, &p),
                    HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtFreeMemory(p, 512 << 20), HSAKMT_STATUS_SUCCESS);

   /* gfx90a can retry faults, so XNACK can be switched on. */
   assert_int_equal(hsaKmtSetXNACKMode(1), HSAKMT_STATUS_SUCCESS);
   {
      HSAint32 enabled = 0;
      assert_int_equal(hsaKmtGetXNACKMode(&enabled), HSAKMT_STATUS_SUCCESS);
      assert_int_equal(enabled, 1);
   }
   assert_int_equal(hsaKmtReleaseSystemProperties(), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtCloseKFD(), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_live_bos(), 0);
}

/* A small MI210-like machine, written the way `cp -r` of a real
 * /sys/devices/virtual/kfd/kfd would leave it.
 */
static const struct {
   const char *path;
   const char *content;
} captured_files[] = {
   { "topology/generation_id", "7\n" },
   { "topology/system_properties", "platform_oem 0\nplatform_id 0\nplatform_rev 0\n" },
   { "topology/nodes/0/gpu_id", "0\n" },
   { "topology/nodes/0/name", "\n" },
   { "topology/nodes/0/properties",
     "cpu_cores_count 4\nsimd_count 0\nmem_banks_count 1\ncaches_count 1\n"
     "io_links_count 1\ncpu_core_id_base 0\nsimd_id_base 0\nmax_waves_per_simd 0\n"
     "lds_size_in_kb 0\ngds_size_in_kb 0\nnum_gws 0\nwave_front_size 0\narray_count 0\n"
     "simd_arrays_per_engine 0\ncu_per_simd_array 0\nsimd_per_cu 0\n"
     "max_slots_scratch_cu 0\ngfx_target_version 0\nvendor_id 0\ndevice_id 0\n"
     "location_id 0\ndomain 0\ndrm_render_minor 0\nhive_id 0\nnum_sdma_engines 0\n"
     "num_sdma_xgmi_engines 0\nnum_sdma_queues_per_engine 0\nnum_cp_queues 0\n"
     "max_engine_clk_fcompute 0\nlocal_mem_size 0\nfw_version 0\ncapability 0\n"
     "debug_prop 0\nsdma_fw_version 0\nunique_id 0\nmax_engine_clk_ccompute 2900\n" },
   { "topology/nodes/0/mem_banks/0/properties",
     "heap_type 0\nsize_in_bytes 16777216000\nflags 0\nwidth 72\nmem_clk_max 2933\n" },
   { "topology/nodes/0/caches/0/properties",
     "processor_id_low 0\nlevel 1\nsize 32\ncache_line_size 64\ncache_lines_per_tag 1\n"
     "association 8\nlatency 1\ntype 1\nsibling_map 1,1,1,1\n" },
   { "topology/nodes/0/io_links/0/properties",
     "type 2\nversion_major 0\nversion_minor 0\nnode_from 0\nnode_to 1\nweight 20\n"
     "min_latency 0\nmax_latency 0\nmin_bandwidth 312\nmax_bandwidth 64000\n"
     "recommended_transfer_size 0\nflags 1\n" },
   { "topology/nodes/1/gpu_id", "53241\n" },
   { "topology/nodes/1/name", "aldebaran\n" },
   { "topology/nodes/1/properties",
     "cpu_cores_count 0\nsimd_count 416\nmem_banks_count 1\ncaches_count 0\n"
     "io_links_count 1\ncpu_core_id_base 0\nsimd_id_base 2147487744\n"
     "max_waves_per_simd 8\nlds_size_in_kb 64\ngds_size_in_kb 0\nnum_gws 64\n"
     "wave_front_size 64\narray_count 8\nsimd_arrays_per_engine 1\ncu_per_simd_array 16\n"
     "simd_per_cu 4\nmax_slots_scratch_cu 32\ngfx_target_version 90010\nvendor_id 4098\n"
     "device_id 29711\nlocation_id 768\ndomain 0\ndrm_render_minor 128\nhive_id 0\n"
     "num_sdma_engines 2\nnum_sdma_xgmi_engines 3\nnum_sdma_queues_per_engine 8\n"
     "num_cp_queues 24\nmax_engine_clk_fcompute 1700\nlocal_mem_size 0\nfw_version 78\n"
     "capability 746332800\ndebug_prop 1511\nsdma_fw_version 8\n"
     "unique_id 11020153290548377853\nmax_engine_clk_ccompute 2900\n" },
   { "topology/nodes/1/mem_banks/0/properties",
     "heap_type 1\nsize_in_bytes 68702699520\nflags 0\nwidth 4096\nmem_clk_max 1600\n" },
   { "topology/nodes/1/io_links/0/properties",
     "type 2\nversion_major 0\nversion_minor 0\nnode_from 1\nnode_to 0\nweight 20\n"
     "min_latency 0\nmax_latency 0\nmin_bandwidth 312\nmax_bandwidth 64000\n"
     "recommended_transfer_size 0\nflags 1\n" },
};

static void
make_parents(const char *root, const char *rel)
{
   char path[512];

   snprintf(path, sizeof(path), "%s/%s", root, rel);
   for (char *slash = strchr(path + strlen(root) + 1, '/'); slash;
        slash = strchr(slash + 1, '/')) {
      *slash = '\0';
      mkdir(path, 0755);
      *slash = '/';
   }
}

static void
write_captured_tree(void)
{
   for (size_t i = 0; i < sizeof(captured_files) / sizeof(captured_files[0]); i++) {
      char path[512];
      FILE *f;

      make_parents(captured_dir, captured_files[i].path);
      snprintf(path, sizeof(path), "%s/%s", captured_dir, captured_files[i].path);
      f = fopen(path, "w");
      assert_non_null(f);
      fputs(captured_files[i].content, f);
      fclose(f);
   }
}

static void
remove_captured_tree(void)
{
   /* Deepest first: files, then their directories. */
   for (size_t i = sizeof(captured_files) / sizeof(captured_files[0]); i-- > 0;) {
      char path[512];

      snprintf(path, sizeof(path), "%s/%s", captured_dir, captured_files[i].path);
      unlink(path);
      for (char *slash = strrchr(path, '/'); slash > path + strlen(captured_dir);
           slash = strrchr(path, '/')) {
         *slash = '\0';
         if (rmdir(path) < 0)
            break;
      }
   }
   rmdir(captured_dir);
}

static void
test_captured(void **state)
{
   HsaNodeProperties props;
   uint32_t gpu_id;

   uint32_t node = test_open_kfd();

   /* Loaded once: the directory can go away now. */
   remove_captured_tree();
   assert_int_equal(kfdsim_gpu_count(), 1);
   assert_int_equal(kfdsim_gpu_id(0, &gpu_id), 0);
   assert_int_equal(gpu_id, 53241);
   assert_int_equal(hsaKmtGetNodeProperties(node, &props), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(props.DeviceId, 29711);
   assert_int_equal(props.NumFComputeCores, 416);
   assert_int_equal(hsaKmtCloseKFD(), HSAKMT_STATUS_SUCCESS);
}

static void
test_bad_env(void **state)
{
   assert_false(kfdsim_active());
   assert_int_equal(kfdsim_live_bos(), 0);
   assert_int_equal(kfdsim_fail_next(1, 1, EIO), -ENODEV);
   /* With the emulator off, there is no KFD. */
   assert_int_not_equal(hsaKmtOpenKFD(), HSAKMT_STATUS_SUCCESS);
}

int
main(int argc, char **argv)
{
   const struct CMUnitTest env_tests[] = { cmocka_unit_test(test_two_gpus) };
   const struct CMUnitTest captured_tests[] = { cmocka_unit_test(test_captured) };
   const struct CMUnitTest bad_env_tests[] = { cmocka_unit_test(test_bad_env) };
   const char *mode = argc > 1 ? argv[1] : "";

   if (!strcmp(mode, "env"))
      return cmocka_run_group_tests(env_tests, NULL, NULL);
   if (!strcmp(mode, "bad-env"))
      return cmocka_run_group_tests(bad_env_tests, NULL, NULL);
   if (!strcmp(mode, "captured")) {
      int ret;

      if (!mkdtemp(captured_dir))
         return 1;
      write_captured_tree();
      setenv("KFDSIM_SYSFS_KFD", captured_dir, 1);
      ret = cmocka_run_group_tests(captured_tests, NULL, NULL);
      remove_captured_tree();
      return ret;
   }
   fprintf(stderr, "usage: %s env|captured|bad-env\n", argv[0]);
   return 2;
}
