/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * QUERY_INFO (wire-protocol.md §2.2) on the real libhsakmt over the KFD emulator:
 * translation into the guest's layouts, limits, bad nodes and counts.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hsakmt_test_env.h"
#include "kfdsim.h"

static struct hsakmt_test_env env;

static int
setup(void **state)
{
   hsakmt_test_env_start(&env);
   return 0;
}

static int
teardown(void **state)
{
   hsakmt_test_env_stop(&env);
   return 0;
}

static struct hsakmt_query_info_rsp *
query_u32(uint32_t type, uint32_t a, uint32_t b, uint32_t c, uint32_t rsp_len)
{
   uint32_t args[3] = { a, b, c };
   return hsakmt_guest_query(&env.guest, type, args, sizeof(args), rsp_len);
}

static uint32_t
gpu_node(void)
{
   struct hsakmt_query_info_rsp *rsp = query_u32(HSAKMT_QUERY_GET_SYS_PROP, 0, 0, 0, 0);
   uint32_t nodes = rsp->sys_props.num_nodes;
   for (uint32_t node = 0; node < nodes; node++) {
      rsp = query_u32(HSAKMT_QUERY_GET_NODE_PROP, node, 0, 0, 0);
      if (rsp->node_props.kfd_gpu_id)
         return node;
   }
   fail_msg("no GPU node");
   return 0;
}

static void
test_system_and_node_properties(void **state)
{
   struct hsakmt_query_info_rsp *rsp = query_u32(HSAKMT_QUERY_GET_SYS_PROP, 0, 0, 0, 0);
   assert_int_equal(rsp->hdr.ret, 0);
   uint32_t nodes = rsp->sys_props.num_nodes;
   assert_true(nodes >= 2);

   uint32_t gpu = gpu_node();
   rsp = query_u32(HSAKMT_QUERY_GET_NODE_PROP, gpu, 0, 0, 0);
   assert_int_equal(rsp->hdr.ret, 0);
   const struct hsakmt_wire_node_properties *props = &rsp->node_props;
   uint32_t gpu_id;
   assert_int_equal(kfdsim_gpu_id(0, &gpu_id), 0);
   assert_int_equal(props->kfd_gpu_id, gpu_id);
   assert_true(props->num_fcompute_cores > 0);
   assert_true(props->num_xcc >= 1);
   assert_int_equal(props->num_gws, 0);
   assert_int_equal(props->capability & HSAKMT_CAPABILITY_SVM_API, 0);
   assert_int_equal(props->vendor_id, 0x1002);
   assert_true(props->local_mem_size > 0);
   assert_int_equal(props->num_neural_cores, 0);
   assert_int_equal(props->override_engine_id, 0);
   /* a 2025-08 guest's 368-byte slot gets the prefix it knows */
   rsp = query_u32(HSAKMT_QUERY_GET_NODE_PROP, gpu, 0, 0, 8 + 368);
   assert_int_equal(rsp->hdr.len, 8 + 368);

   rsp = query_u32(HSAKMT_QUERY_GET_NODE_PROP, nodes, 0, 0, 0);
   assert_int_equal(rsp->hdr.ret, VKFD_STATUS_INVALID_NODE_UNIT);
   rsp = query_u32(HSAKMT_QUERY_GET_NODE_PROP, UINT32_MAX, 0, 0, 0);
   assert_int_equal(rsp->hdr.ret, VKFD_STATUS_INVALID_NODE_UNIT);
}

static void
test_memory_cache_and_link_properties(void **state)
{
   uint32_t gpu = gpu_node();
   struct hsakmt_query_info_rsp *rsp =
      query_u32(HSAKMT_QUERY_GET_NODE_PROP, gpu, 0, 0, 0);
   struct hsakmt_wire_node_properties props = rsp->node_props;

   uint32_t banks = props.num_memory_banks;
   rsp = query_u32(HSAKMT_QUERY_GET_NOD_MEM_PROP, gpu, banks, 0, 424 + 32 * banks);
   assert_int_equal(rsp->hdr.ret, 0);
   const struct hsakmt_wire_memory_properties *mem = (const void *)((uint8_t *)rsp + 424);
   bool has_vram = false;
   for (uint32_t i = 0; i < banks; i++)
      has_vram |= mem[i].heap_type == HSAKMT_HEAPTYPE_FB_PRIVATE ||
                  mem[i].heap_type == HSAKMT_HEAPTYPE_FB_PUBLIC;
   assert_true(has_vram);
   rsp =
      query_u32(HSAKMT_QUERY_GET_NOD_MEM_PROP, gpu, banks + 1, 0, 424 + 32 * (banks + 1));
   assert_int_equal(rsp->hdr.ret, VKFD_STATUS_INVALID_PARAMETER);
   rsp = query_u32(HSAKMT_QUERY_GET_NOD_MEM_PROP, gpu, 129, 0, 424);
   assert_int_equal(rsp->hdr.ret, VKFD_STATUS_INVALID_PARAMETER);

   /* cache records: 1056 bytes, or 1060 for variant-N guests, told by the slot */
   uint32_t caches = props.num_caches;
   if (caches) {
      rsp =
         query_u32(HSAKMT_QUERY_GET_NOD_CACHE_PROP, gpu, 0, caches, 424 + 1056 * caches);
      assert_int_equal(rsp->hdr.ret, 0);
      const struct hsakmt_wire_cache_properties *cache =
         (const void *)((uint8_t *)rsp + 424);
      assert_true(cache[0].cache_level >= 1);
      uint32_t slot_n = (424 + 1060 * caches + 7) & ~7u;
      rsp = query_u32(HSAKMT_QUERY_GET_NOD_CACHE_PROP, gpu, 0, caches, slot_n);
      assert_int_equal(rsp->hdr.ret, 0);
      uint32_t level;
      memcpy(&level, (uint8_t *)rsp + 424 + 1060 + 4, 4);
      if (caches > 1)
         assert_true(level >= 1);
      rsp = query_u32(HSAKMT_QUERY_GET_NOD_CACHE_PROP, gpu, 0, caches, 424 + 100);
      assert_int_equal(rsp->hdr.ret, VKFD_STATUS_INVALID_PARAMETER);
   }
   /* a count whose records cannot fit the response area (upstream aborted here) */
   rsp = query_u32(HSAKMT_QUERY_GET_NOD_CACHE_PROP, gpu, 0, 512, 424 + 1056 * 512);
   assert_non_null(rsp);
   assert_int_equal(rsp->hdr.ret, VKFD_STATUS_INVALID_PARAMETER);

   uint32_t links = props.num_io_links;
   rsp = query_u32(HSAKMT_QUERY_GET_NOD_IO_LINK_PROP, gpu, links, 0, 424 + 52 * links);
   assert_int_equal(rsp->hdr.ret, 0);
   if (links) {
      const struct hsakmt_wire_io_link_properties *link =
         (const void *)((uint8_t *)rsp + 424);
      assert_int_equal(link[0].node_from, gpu);
      assert_int_equal(link[0].rec_sdma_eng_id_mask, 0);
   }
   rsp = query_u32(HSAKMT_QUERY_GET_NOD_IO_LINK_PROP, gpu, 513, 0, 424);
   assert_int_equal(rsp->hdr.ret, VKFD_STATUS_INVALID_PARAMETER);
}

static void
test_clocks_time_and_runtime(void **state)
{
   uint32_t gpu = gpu_node();
   struct hsakmt_query_info_rsp *rsp =
      query_u32(HSAKMT_QUERY_GET_CLOCK_COUNTERS, gpu, 0, 0, 0);
   assert_int_equal(rsp->hdr.ret, 0);
   assert_true(rsp->clock_counters.system_clock_frequency_hz > 0);
   rsp = query_u32(HSAKMT_QUERY_GET_CLOCK_COUNTERS, 99, 0, 0, 0);
   assert_int_equal(rsp->hdr.ret, VKFD_STATUS_INVALID_NODE_UNIT);

   rsp = query_u32(HSAKMT_QUERY_NANO_TIME, 0, 0, 0, 0);
   uint64_t t1 = rsp->nano_time;
   rsp = query_u32(HSAKMT_QUERY_NANO_TIME, 0, 0, 0, 0);
   assert_true(rsp->nano_time >= t1 && t1 > 0);

   rsp = query_u32(HSAKMT_QUERY_GET_RUNTIME_CAPS, 0, 0, 0, 0);
   assert_int_equal(rsp->hdr.ret, 0); /* ROCr init needs SUCCESS */
   rsp = query_u32(HSAKMT_QUERY_GET_XNACK_MODE, 0, 0, 0, 0);
   assert_int_equal(rsp->hdr.ret, 0);

   /* setupTtmp is a boolean at byte 59; its padding must be zero */
   uint8_t enable[8] = { 0, 0, 0, 1 };
   rsp = hsakmt_guest_query(&env.guest, HSAKMT_QUERY_RUN_TIME_ENABLE, enable, 8, 0);
   assert_true(rsp->hdr.ret == 0 || rsp->hdr.ret == VKFD_STATUS_NOT_SUPPORTED);
   rsp = hsakmt_guest_query(&env.guest, HSAKMT_QUERY_RUN_TIME_ENABLE, enable, 8, 0);
   assert_true(rsp->hdr.ret == 0 || rsp->hdr.ret == VKFD_STATUS_NOT_SUPPORTED);
   enable[3] = 2;
   rsp = hsakmt_guest_query(&env.guest, HSAKMT_QUERY_RUN_TIME_ENABLE, enable, 8, 0);
   assert_int_equal(rsp->hdr.ret, VKFD_STATUS_INVALID_PARAMETER);
   enable[3] = 0;
   enable[1] = 1;
   rsp = hsakmt_guest_query(&env.guest, HSAKMT_QUERY_RUN_TIME_ENABLE, enable, 8, 0);
   assert_int_equal(rsp->hdr.ret, VKFD_STATUS_INVALID_PARAMETER);
   rsp = query_u32(HSAKMT_QUERY_RUN_TIME_DISABLE, 0, 0, 0, 0);
   assert_int_equal(rsp->hdr.ret, 0);
   rsp = query_u32(HSAKMT_QUERY_REL_SYS_PROP, 0, 0, 0, 0);
   assert_int_equal(rsp->hdr.ret, 0);
}

static void
test_tile_config(void **state)
{
   uint32_t gpu = gpu_node();
   struct {
      struct hsakmt_wire_tile_config config;
      uint32_t node, pad;
   } args;
   memset(&args, 0, sizeof(args));
   args.config.tile_config = 0x7f00deadbeef0000ull; /* guest pointers: echoed */
   args.config.macro_tile_config = 0x7f00deadbeef1000ull;
   args.config.num_tile_configs = 32;
   args.config.num_macro_tile_configs = 16;
   args.node = gpu;
   struct hsakmt_query_info_rsp *rsp = hsakmt_guest_query(
      &env.guest, HSAKMT_QUERY_TILE_CONFIG, &args, sizeof(args), 424 + 4 * 48);
   assert_int_equal(rsp->hdr.ret, 0);
   assert_true(rsp->tile_config.tile_config == args.config.tile_config);
   assert_true(rsp->tile_config.macro_tile_config == args.config.macro_tile_config);
   assert_true(rsp->tile_config.num_tile_configs <= 32);

   args.config.num_tile_configs = 129;
   rsp =
      hsakmt_guest_query(&env.guest, HSAKMT_QUERY_TILE_CONFIG, &args, sizeof(args), 424);
   assert_int_equal(rsp->hdr.ret, VKFD_STATUS_INVALID_PARAMETER);
   args.config.num_tile_configs = 1;
   args.node = 77;
   rsp =
      hsakmt_guest_query(&env.guest, HSAKMT_QUERY_TILE_CONFIG, &args, sizeof(args), 424);
   assert_int_equal(rsp->hdr.ret, VKFD_STATUS_INVALID_NODE_UNIT);
}

static void
test_refused_queries(void **state)
{
   /* a raw ioctl on a guest-named host fd is never performed */
   uint64_t drm[3] = { 3, 5, 8 };
   struct hsakmt_query_info_rsp *rsp = hsakmt_guest_query(
      &env.guest, HSAKMT_QUERY_DRM_CMD_WRITE_READ, drm, sizeof(drm), 0);
   assert_int_equal(rsp->hdr.ret, -EPERM);
}

static void
test_xnack_mode_only_when_alone(void **state)
{
   int32_t mode = 2;
   struct hsakmt_query_info_rsp *rsp =
      hsakmt_guest_query(&env.guest, HSAKMT_QUERY_SET_XNACK_MODE, &mode, 4, 0);
   assert_int_equal(rsp->hdr.ret, VKFD_STATUS_INVALID_PARAMETER);
   mode = 0;
   rsp = hsakmt_guest_query(&env.guest, HSAKMT_QUERY_SET_XNACK_MODE, &mode, 4, 0);
   assert_int_equal(rsp->hdr.ret, 0); /* the only context: allowed */
   /* with a second context the process-wide mode is shared: refused */
   struct hsakmt_guest other;
   assert_int_equal(hsakmt_guest_open(&other, 2, 5000), 0);
   rsp = hsakmt_guest_query(&env.guest, HSAKMT_QUERY_SET_XNACK_MODE, &mode, 4, 0);
   assert_int_equal(rsp->hdr.ret, VKFD_STATUS_NOT_SUPPORTED);
   hsakmt_guest_close(&other);
}

static void
test_gpu_info_and_device_tokens(void **state)
{
   uint32_t gpu = gpu_node();
   struct hsakmt_query_info_rsp *rsp =
      query_u32(HSAKMT_QUERY_GET_NODE_PROP, gpu, 0, 0, 0);
   struct hsakmt_wire_node_properties props = rsp->node_props;

   /* libdrm_amdgpu's answer from the (emulated) render node, which agrees with KFD */
   rsp = query_u32(HSAKMT_QUERY_GPU_INFO, 0, 0, 0, 0);
   assert_int_equal(rsp->hdr.ret, 0);
   assert_int_equal(rsp->gpu_info.asic_id, props.device_id);
   assert_int_equal(rsp->gpu_info.family_id, props.family_id);
   assert_true(props.family_id != 0);
   assert_int_equal(rsp->gpu_info.cu_active_number,
                    props.num_fcompute_cores / props.num_simd_per_cu);

   rsp = query_u32(HSAKMT_QUERY_AMDGPU_DEVICE_HANDLE, gpu, 0, 0, 0);
   assert_int_equal(rsp->hdr.ret, 0);
   uint64_t device = rsp->device_handle.amdgpu_device_handle;
   uint64_t fd = rsp->device_handle.fd;
   assert_true(device != 0 && fd > 0 && fd < (1ull << 31));
   rsp = query_u32(HSAKMT_QUERY_AMDGPU_DEVICE_HANDLE, gpu, 0, 0, 0);
   assert_true(rsp->device_handle.amdgpu_device_handle == device); /* stable */
   rsp = query_u32(HSAKMT_QUERY_AMDGPU_DEVICE_HANDLE, 0, 0, 0, 0);
   assert_int_equal(rsp->hdr.ret, VKFD_STATUS_INVALID_NODE_UNIT); /* the CPU */

   /* another context's tokens differ: they name nothing outside their context */
   struct hsakmt_guest other;
   assert_int_equal(hsakmt_guest_open(&other, 2, 5000), 0);
   rsp = hsakmt_guest_query(&other, HSAKMT_QUERY_AMDGPU_DEVICE_HANDLE, &gpu, 4, 0);
   assert_true(rsp->device_handle.amdgpu_device_handle != device);
   hsakmt_guest_close(&other);
}

static void
test_pointer_info_of_unknown_address(void **state)
{
   uint64_t pointer = (uint64_t)(uintptr_t)&env;
   struct hsakmt_query_info_rsp *rsp =
      hsakmt_guest_query(&env.guest, HSAKMT_QUERY_POINTER_INFO, &pointer, 8, 440);
   assert_int_equal(rsp->hdr.ret, 0);
   assert_int_equal(rsp->pointer_info.type, 0); /* HSA_POINTER_UNKNOWN */
   assert_true(rsp->pointer_info.cpu_address == pointer);
   assert_true(rsp->pointer_info.registered_nodes == 0 &&
               rsp->pointer_info.user_data == 0);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
   const struct CMUnitTest tests[] = {
      T(test_system_and_node_properties),
      T(test_memory_cache_and_link_properties),
      T(test_clocks_time_and_runtime),
      T(test_tile_config),
      T(test_refused_queries),
      T(test_xnack_mode_only_when_alone),
      T(test_gpu_info_and_device_tokens),
      T(test_pointer_info_of_unknown_address),
   };
#undef T
   return cmocka_run_group_tests_name("hsakmt-query", tests, NULL, NULL);
}
