/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The capset-8 (hsakmt / ROCm) native-context wire protocol, byte for byte, as the
 * guest's libhsakmt virtio transport speaks it. Section numbers refer to
 * wire-protocol.md.
 *
 * Every struct here is fixed-layout, explicitly padded and checked by _Static_assert.
 * None embeds a host library type: the KFD types travel in the guest's (current ROCm)
 * layout, which differs from the host's libhsakmt (Debian 5.2.3 lays HsaNodeProperties
 * out in 356 bytes, the guest in 396), so src/hsakmt translates field by field.
 *
 * The libhsakmt types are 4-byte packed in the guest (#pragma pack(4)): their 64-bit
 * fields may sit at offsets that are multiples of 4 only. The protocol's own structs
 * use natural alignment.
 */
#ifndef VIRTKFD_HSAKMT_PROTO_H
#define VIRTKFD_HSAKMT_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define HSAKMT_PROTO_ASSERT_SIZE(type, size) \
   _Static_assert(sizeof(type) == (size), #type " is " #size " bytes on the wire")
#define HSAKMT_PROTO_ASSERT_OFFSET(type, member, off) \
   _Static_assert(offsetof(type, member) == (off), #type "." #member " at " #off)

/* §1.1 */
#define HSAKMT_CAPSET_ID           8
#define HSAKMT_CAPSET_VERSION      1
#define HSAKMT_CONTEXT_TYPE_AMDGPU 1
#define HSAKMT_WIRE_FORMAT_VERSION 1
#define HSAKMT_NUM_RINGS           64

/* Appendix A: command ids */
enum hsakmt_ccmd {
   HSAKMT_CCMD_NOP = 1,
   HSAKMT_CCMD_QUERY_INFO = 2,
   HSAKMT_CCMD_EVENT = 3,
   HSAKMT_CCMD_MEMORY = 4,
   HSAKMT_CCMD_QUEUE = 5,
   HSAKMT_CCMD_GL_INTER = 6,
   HSAKMT_CCMD_COUNT,
};

enum hsakmt_query_type {
   HSAKMT_QUERY_GPU_INFO = 0,
   HSAKMT_QUERY_OPEN_KFD = 1,
   HSAKMT_QUERY_GET_VER = 2,
   HSAKMT_QUERY_REL_SYS_PROP = 3,
   HSAKMT_QUERY_GET_SYS_PROP = 4,
   HSAKMT_QUERY_GET_NODE_PROP = 5,
   HSAKMT_QUERY_GET_XNACK_MODE = 6,
   HSAKMT_QUERY_RUN_TIME_ENABLE = 7,
   HSAKMT_QUERY_RUN_TIME_DISABLE = 8,
   HSAKMT_QUERY_GET_NOD_MEM_PROP = 9,
   HSAKMT_QUERY_GET_NOD_CACHE_PROP = 10,
   HSAKMT_QUERY_GET_NOD_IO_LINK_PROP = 11,
   HSAKMT_QUERY_GET_CLOCK_COUNTERS = 12,
   HSAKMT_QUERY_POINTER_INFO = 13,
   HSAKMT_QUERY_TILE_CONFIG = 14,
   HSAKMT_QUERY_NANO_TIME = 15,
   HSAKMT_QUERY_GET_RUNTIME_CAPS = 16,
   HSAKMT_QUERY_AMDGPU_DEVICE_HANDLE = 17,
   HSAKMT_QUERY_DRM_CMD_WRITE_READ = 18,
   HSAKMT_QUERY_SET_XNACK_MODE = 19,
   HSAKMT_QUERY_SPM_ACQUIRE = 20,
   HSAKMT_QUERY_SPM_RELEASE = 21,
   HSAKMT_QUERY_SPM_SET_DST_BUFFER = 22,
   HSAKMT_QUERY_COUNT,
};

enum hsakmt_event_type {
   HSAKMT_EVENT_CREATE = 0,
   HSAKMT_EVENT_DESTROY = 1,
   HSAKMT_EVENT_SET = 2,
   HSAKMT_EVENT_RESET = 3,
   HSAKMT_EVENT_QUERY_STATE = 4,
   HSAKMT_EVENT_WAIT_ON_MULTI_EVENTS = 5,
   HSAKMT_EVENT_SET_TRAP = 6,
   HSAKMT_EVENT_COUNT,
};

enum hsakmt_memory_type {
   HSAKMT_MEMORY_ALLOC = 0,
   HSAKMT_MEMORY_MAP_TO_GPU_NODES = 1,
   HSAKMT_MEMORY_FREE = 2,
   HSAKMT_MEMORY_UNMAP_TO_GPU = 3,
   HSAKMT_MEMORY_AVAIL_MEM = 4,
   HSAKMT_MEMORY_MAP_MEM_TO_GPU = 5,
   HSAKMT_MEMORY_REG_MEM_WITH_FLAG = 6,
   HSAKMT_MEMORY_DEREG_MEM = 7,
   HSAKMT_MEMORY_MAP_USERPTR = 8,
   HSAKMT_MEMORY_EXPORT_DMABUF = 9,
   HSAKMT_MEMORY_AMDGPU_IMPORT = 10,
   HSAKMT_MEMORY_AMDGPU_EXPORT = 11,
   HSAKMT_MEMORY_AMDGPU_VA_OP = 12,
   HSAKMT_MEMORY_AMDGPU_BO_FREE = 13,
   HSAKMT_MEMORY_SHARE_MEMORY = 14,
   HSAKMT_MEMORY_REGISTER_SHARED_HANDLE = 15,
   HSAKMT_MEMORY_SET_MEM_POLICY = 16,
   HSAKMT_MEMORY_SVM_GET_ATTR = 17,
   HSAKMT_MEMORY_SVM_SET_ATTR = 18,
   HSAKMT_MEMORY_AMDGPU_BO_QUERY_INFO = 19,
   HSAKMT_MEMORY_AMDGPU_BO_SET_METADATA = 20,
   HSAKMT_MEMORY_COUNT,
};

enum hsakmt_queue_type {
   HSAKMT_QUEUE_CREATE = 0,
   HSAKMT_QUEUE_DESTROY = 1,
   HSAKMT_QUEUE_UPDATE = 2,
   HSAKMT_QUEUE_GET_INFO = 3,
   HSAKMT_QUEUE_SET_CU_MASK = 4,
   HSAKMT_QUEUE_ALLOC_GWS = 5,
   HSAKMT_QUEUE_COUNT,
};

enum hsakmt_gl_inter_type {
   HSAKMT_GL_INTER_REG_GHD_TO_NODES = 0,
   HSAKMT_GL_INTER_COUNT,
};

/* Appendix A: the HSAKMT_STATUS values carried in rsp.ret (own names: the host
 * library's header defines the same enumerators) */
enum vkfd_status {
   VKFD_STATUS_SUCCESS = 0,
   VKFD_STATUS_ERROR = 1,
   VKFD_STATUS_DRIVER_MISMATCH = 2,
   VKFD_STATUS_INVALID_PARAMETER = 3,
   VKFD_STATUS_INVALID_HANDLE = 4,
   VKFD_STATUS_INVALID_NODE_UNIT = 5,
   VKFD_STATUS_NO_MEMORY = 6,
   VKFD_STATUS_BUFFER_TOO_SMALL = 7,
   VKFD_STATUS_NOT_IMPLEMENTED = 10,
   VKFD_STATUS_NOT_SUPPORTED = 11,
   VKFD_STATUS_UNAVAILABLE = 12,
   VKFD_STATUS_OUT_OF_RESOURCES = 13,
   VKFD_STATUS_KERNEL_IO_CHANNEL_NOT_OPENED = 20,
   VKFD_STATUS_KERNEL_COMMUNICATION_ERROR = 21,
   VKFD_STATUS_KERNEL_ALREADY_OPENED = 22,
   VKFD_STATUS_HSAMMU_UNAVAILABLE = 23,
   VKFD_STATUS_WAIT_FAILURE = 30,
   VKFD_STATUS_WAIT_TIMEOUT = 31,
   VKFD_STATUS_MEMORY_ALREADY_REGISTERED = 35,
   VKFD_STATUS_MEMORY_NOT_REGISTERED = 36,
   VKFD_STATUS_MEMORY_ALIGNMENT = 37,
};

/* Appendix A: protocol limits */
#define HSAKMT_MAX_TILE_CONFIGS       128
#define HSAKMT_MAX_MEM_BANKS          128
#define HSAKMT_MAX_CACHES             512
#define HSAKMT_MAX_IO_LINKS           512
#define HSAKMT_MAX_DRM_WRITE_READ     128
#define HSAKMT_MAX_POINTER_INFO_NODES 3
#define HSAKMT_MAX_MEMORY_NODES       32
#define HSAKMT_MAX_SVM_ATTRS          32
#define HSAKMT_MAX_CU_MASK_BITS       4096
#define HSAKMT_MAX_GWS                128
#define HSAKMT_SDMA_ENGINE_NONE       0xffffffffu
#define HSAKMT_DOORBELL_BLOB_SIZE     0x2000
#define HSAKMT_FIXED_VA_BASE          0x100000000000ull
#define HSAKMT_DEVICE_ALIGNMENT       (2ull << 20)

/* HsaMemFlags bits (§3.8) */
#define HSAKMT_MEMFLAG_NON_PAGED     (1u << 0)
#define HSAKMT_MEMFLAG_READ_ONLY     (1u << 3)
#define HSAKMT_MEMFLAG_HOST_ACCESS   (1u << 6)
#define HSAKMT_MEMFLAG_NO_SUBSTITUTE (1u << 7)
#define HSAKMT_MEMFLAG_GDS_MEMORY    (1u << 8)
#define HSAKMT_MEMFLAG_SCRATCH       (1u << 9)
#define HSAKMT_MEMFLAG_COARSE_GRAIN  (1u << 13)
#define HSAKMT_MEMFLAG_AQL_QUEUE_MEM (1u << 14)
#define HSAKMT_MEMFLAG_FIXED_ADDRESS (1u << 15)
#define HSAKMT_MEMFLAG_NO_NUMA_BIND  (1u << 16)
#define HSAKMT_MEMFLAG_UNCACHED      (1u << 17)
#define HSAKMT_MEMFLAG_NO_ADDRESS    (1u << 18)
#define HSAKMT_MEMFLAG_ONLY_ADDRESS  (1u << 19)
#define HSAKMT_MEMFLAG_EXT_COHERENT  (1u << 20)
#define HSAKMT_MEMFLAG_GTT_ACCESS    (1u << 21)
#define HSAKMT_MEMFLAG_CONTIGUOUS    (1u << 22)
#define HSAKMT_MEMFLAG_EXECUTE_BLIT  (1u << 23)
#define HSAKMT_MEMFLAG_QUEUE_OBJECT  (1u << 24)
/* bits 0..17 exist in every libhsakmt, including Debian's 5.2.3 */
#define HSAKMT_MEMFLAGS_BASE_MASK 0x0003ffffu

/* HSA_CAPABILITY bit 27, cleared for the guest (§2.2 sub-type 5) */
#define HSAKMT_CAPABILITY_SVM_API (1u << 27)

/* HSA_HEAPTYPE values (§3.4) */
#define HSAKMT_HEAPTYPE_SYSTEM           0
#define HSAKMT_HEAPTYPE_FB_PUBLIC        1
#define HSAKMT_HEAPTYPE_FB_PRIVATE       2
#define HSAKMT_HEAPTYPE_DEVICE_SVM       6

#define HSAKMT_QUEUE_TYPE_COMPUTE_AQL    21
#define HSAKMT_QUEUE_TYPE_SDMA_BY_ENG_ID 6

/* ---------------------------------------------------------------------------------
 * Transport (§1)
 */

/* §1.1: the capset payload */
struct virgl_renderer_capset_hsakmt {
   uint32_t wire_format_version;
   uint32_t version_major;
   uint32_t version_minor;
   uint32_t version_patchlevel;
   uint32_t context_type;
   uint32_t pad;
};
HSAKMT_PROTO_ASSERT_SIZE(struct virgl_renderer_capset_hsakmt, 24);
HSAKMT_PROTO_ASSERT_OFFSET(struct virgl_renderer_capset_hsakmt, context_type, 16);

/* §1.2: the header at offset 0 of the shared-memory blob (blob_id 0) */
struct hsakmt_shmem {
   uint32_t seqno;
   uint32_t rsp_mem_offset;
   uint32_t async_error;
   uint32_t global_faults;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_shmem, 16);

/* §1.3: every request starts with this header */
struct hsakmt_ccmd_req {
   uint32_t cmd;
   uint32_t len;
   uint32_t seqno;
   uint32_t rsp_off;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_ccmd_req, 16);

/* §1.4: every response starts with this header (NOP has no response) */
struct hsakmt_ccmd_rsp {
   uint32_t len;
   int32_t ret;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_ccmd_rsp, 8);

/* ---------------------------------------------------------------------------------
 * libhsakmt and libdrm types in the guest's layout (§3)
 */
#pragma pack(push, 4)

/* §3.1 */
struct hsakmt_wire_version_info {
   uint32_t kernel_interface_major;
   uint32_t kernel_interface_minor;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_wire_version_info, 8);

/* §3.2 */
struct hsakmt_wire_system_properties {
   uint32_t num_nodes;
   uint32_t platform_oem;
   uint32_t platform_id;
   uint32_t platform_rev;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_wire_system_properties, 16);

/* §3.3: the current guest's layout (396 bytes; 2025-08 guests read the first 368) */
struct hsakmt_wire_node_properties {
   uint32_t num_cpu_cores;
   uint32_t num_fcompute_cores;
   uint32_t num_neural_cores;
   uint32_t num_memory_banks;
   uint32_t num_caches;
   uint32_t num_io_links;
   uint32_t ccompute_id_lo;
   uint32_t fcompute_id_lo;
   uint32_t capability;
   uint32_t capability2;
   uint32_t max_waves_per_simd;
   uint32_t lds_size_in_kb;
   uint32_t gds_size_in_kb;
   uint32_t wave_front_size;
   uint32_t num_shader_banks;
   uint32_t num_arrays;
   uint32_t num_cu_per_array;
   uint32_t num_simd_per_cu;
   uint32_t max_slots_scratch_cu;
   uint32_t engine_id;
   uint32_t override_engine_id;
   uint16_t vendor_id;
   uint16_t device_id;
   uint32_t location_id;
   uint64_t local_mem_size;
   uint32_t max_engine_clock_mhz_fcompute;
   uint32_t max_engine_clock_mhz_ccompute;
   int32_t drm_render_minor;
   uint16_t marketing_name[64];
   uint8_t amd_name[64];
   uint32_t ucode_engine_versions;
   uint64_t debug_properties;
   uint64_t hive_id;
   uint32_t num_sdma_engines;
   uint32_t num_sdma_xgmi_engines;
   uint8_t num_sdma_queues_per_engine;
   uint8_t num_cp_queues;
   uint8_t num_gws;
   uint8_t integrated;
   uint32_t domain;
   uint64_t unique_id;
   uint32_t vgpr_size_per_cu;
   uint32_t sgpr_size_per_cu;
   uint32_t num_xcc;
   uint32_t kfd_gpu_id;
   uint32_t family_id;
   uint32_t cwsr_size;
   uint32_t ctl_stack_size;
   uint32_t luid_low_part;
   uint32_t luid_high_part;
   uint64_t wall_clock_khz;
   uint32_t fabric_handle_supported;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_wire_node_properties, 396);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_node_properties, capability, 32);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_node_properties, engine_id, 76);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_node_properties, vendor_id, 84);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_node_properties, local_mem_size, 92);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_node_properties, drm_render_minor, 108);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_node_properties, marketing_name, 112);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_node_properties, amd_name, 240);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_node_properties, debug_properties, 308);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_node_properties, num_sdma_queues_per_engine,
                           332);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_node_properties, integrated, 335);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_node_properties, unique_id, 340);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_node_properties, num_xcc, 356);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_node_properties, kfd_gpu_id, 360);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_node_properties, family_id, 364);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_node_properties, wall_clock_khz, 384);

/* §3.4 */
struct hsakmt_wire_memory_properties {
   uint32_t heap_type;
   uint64_t size_in_bytes;
   uint32_t flags;
   uint32_t width;
   uint32_t memory_clock_max;
   uint64_t virtual_base_address;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_wire_memory_properties, 32);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_memory_properties, size_in_bytes, 4);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_memory_properties, virtual_base_address,
                           24);

/* §3.5: 1056 bytes; variant-N guests append persisting_cache_size_max (1060) */
struct hsakmt_wire_cache_properties {
   uint32_t processor_id_low;
   uint32_t cache_level;
   uint32_t cache_size;
   uint32_t cache_line_size;
   uint32_t cache_lines_per_tag;
   uint32_t cache_associativity;
   uint32_t cache_latency;
   uint32_t cache_type;
   uint32_t sibling_map[256];
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_wire_cache_properties, 1056);
#define HSAKMT_WIRE_CACHE_STRIDE_N 1060

/* §3.6: 52 bytes in the guest (48 in Debian 5.2.3) */
struct hsakmt_wire_io_link_properties {
   uint32_t io_link_type;
   uint32_t version_major;
   uint32_t version_minor;
   uint32_t node_from;
   uint32_t node_to;
   uint32_t weight;
   uint32_t minimum_latency;
   uint32_t maximum_latency;
   uint32_t minimum_bandwidth;
   uint32_t maximum_bandwidth;
   uint32_t rec_transfer_size;
   uint32_t rec_sdma_eng_id_mask;
   uint32_t flags;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_wire_io_link_properties, 52);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_io_link_properties, flags, 48);

/* §3.10 */
struct hsakmt_wire_event {
   uint32_t event_id;
   uint32_t event_type;
   uint8_t event_data[20]; /* union: HsaSyncVar, node change, memory fault, ... */
   uint64_t hw_data1;      /* KFD event id */
   uint64_t hw_data2;      /* the event-page slot: a GPU VA, kept as is */
   uint32_t hw_data3;      /* trigger data */
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_wire_event, 48);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_event, hw_data1, 28);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_event, hw_data2, 36);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_event, hw_data3, 44);

/* §3.11, §3.12 */
struct hsakmt_wire_event_descriptor {
   uint32_t event_type;
   uint32_t node_id;
   uint64_t sync_var_user_data; /* a guest pointer: stored and echoed, never used */
   uint64_t sync_var_size;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_wire_event_descriptor, 24);

/* §3.13 */
struct hsakmt_wire_clock_counters {
   uint64_t gpu_clock_counter;
   uint64_t cpu_clock_counter;
   uint64_t system_clock_counter;
   uint64_t system_clock_frequency_hz;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_wire_clock_counters, 32);

/* §3.14: the two pointers are guest pointers, echoed verbatim */
struct hsakmt_wire_tile_config {
   uint64_t tile_config;
   uint64_t macro_tile_config;
   uint32_t num_tile_configs;
   uint32_t num_macro_tile_configs;
   uint32_t gb_addr_config;
   uint32_t num_banks;
   uint32_t num_ranks;
   uint32_t reserved[7];
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_wire_tile_config, 64);

/* §3.15 */
struct hsakmt_wire_pointer_info {
   uint32_t type;
   uint32_t node;
   uint32_t mem_flags;
   uint64_t cpu_address;
   uint64_t gpu_address;
   uint64_t size_in_bytes;
   uint32_t n_registered_nodes;
   uint32_t n_mapped_nodes;
   uint64_t registered_nodes; /* host pointer upstream: always 0 here */
   uint64_t mapped_nodes;     /* non-zero dummy when n_mapped_nodes > 0 */
   uint64_t user_data;        /* always 0 */
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_wire_pointer_info, 68);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_pointer_info, cpu_address, 12);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_pointer_info, mapped_nodes, 52);

/* §3.16: the baseline 40-byte layout */
struct hsakmt_wire_queue_resource {
   uint64_t queue_id;
   uint64_t queue_doorbell;
   uint64_t queue_wptr_value;
   uint64_t queue_rptr_value;
   uint64_t error_reason;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_wire_queue_resource, 40);

/* §3.17: 68 bytes; variant-N guests append save_area_alloc_size (76) */
struct hsakmt_wire_queue_info {
   uint32_t queue_detail_error;
   uint32_t queue_type_extended;
   uint32_t num_cu_assigned;
   uint64_t cu_mask_info;           /* host pointer: 0 */
   uint64_t user_context_save_area; /* host pointer: 0 */
   uint64_t save_area_size_in_bytes;
   uint64_t control_stack_top; /* host pointer: 0 */
   uint64_t control_stack_used_in_bytes;
   uint64_t save_area_header; /* host pointer: 0 */
   uint64_t reserved2;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_wire_queue_info, 68);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_queue_info, save_area_size_in_bytes, 28);

/* §3.19: the baseline 32-byte layout */
struct hsakmt_wire_graphics_resource_info {
   uint64_t memory_address;
   uint64_t size_in_bytes;
   uint64_t metadata; /* host pointer: 0 */
   uint32_t metadata_size_in_bytes;
   uint32_t node_id;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_wire_graphics_resource_info, 32);

#pragma pack(pop)

/* §3.20: libdrm's struct amdgpu_gpu_info (natural alignment) */
struct hsakmt_wire_amdgpu_gpu_info {
   uint32_t asic_id;
   uint32_t chip_rev;
   uint32_t chip_external_rev;
   uint32_t family_id;
   uint64_t ids_flags;
   uint64_t max_engine_clk;
   uint64_t max_memory_clk;
   uint32_t num_shader_engines;
   uint32_t num_shader_arrays_per_engine;
   uint32_t avail_quad_shader_pipes;
   uint32_t max_quad_shader_pipes;
   uint32_t cache_entries_per_quad_pipe;
   uint32_t num_hw_gfx_contexts;
   uint32_t rb_pipes;
   uint32_t enabled_rb_pipes_mask;
   uint32_t gpu_counter_freq;
   uint32_t backend_disable[4];
   uint32_t mc_arb_ramcfg;
   uint32_t gb_addr_cfg;
   uint32_t gb_tile_mode[32];
   uint32_t gb_macro_tile_mode[16];
   uint32_t pa_sc_raster_cfg[4];
   uint32_t pa_sc_raster_cfg1[4];
   uint32_t cu_active_number;
   uint32_t cu_ao_mask;
   uint32_t cu_bitmap[4][4];
   uint32_t vram_type;
   uint32_t vram_bit_width;
   uint32_t ce_ram_size;
   uint32_t vce_harvest_config;
   uint32_t pci_rev_id;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_wire_amdgpu_gpu_info, 416);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_amdgpu_gpu_info, gpu_counter_freq, 72);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_amdgpu_gpu_info, cu_bitmap, 332);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_wire_amdgpu_gpu_info, pci_rev_id, 412);

/* §3.21 */
struct hsakmt_wire_amdgpu_bo_metadata {
   uint64_t flags;
   uint64_t tiling_info;
   uint32_t size_metadata;
   uint32_t umd_metadata[64];
   uint32_t pad;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_wire_amdgpu_bo_metadata, 280);

/* §3.22 */
struct hsakmt_wire_amdgpu_bo_info {
   uint64_t alloc_size;
   uint64_t phys_alignment;
   uint32_t preferred_heap;
   uint32_t pad;
   uint64_t alloc_flags;
   struct hsakmt_wire_amdgpu_bo_metadata metadata;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_wire_amdgpu_bo_info, 312);

/* ---------------------------------------------------------------------------------
 * QUERY_INFO (§2.2)
 */
struct hsakmt_query_info_req {
   struct hsakmt_ccmd_req hdr;
   uint8_t drm_amdgpu_info[32]; /* never filled by the guest, never read */
   uint32_t type;
   uint32_t pad;
   union {
      uint64_t pointer;
      uint32_t node_id;
      struct {
         uint8_t pad[3];
         uint8_t setup_ttmp; /* 0 or 1 */
         uint32_t pad2;
      } run_time_enable;
      struct {
         uint32_t node_id;
         uint32_t num_banks;
      } node_mem_prop;
      struct {
         uint32_t node_id;
         uint32_t processor_id;
         uint32_t num_caches;
         uint32_t pad;
      } node_cache_prop;
      struct {
         uint32_t node_id;
         uint32_t num_io_links;
      } node_io_link;
      struct {
         struct hsakmt_wire_tile_config config;
         uint32_t node_id;
         uint32_t pad;
      } tile_config;
      struct {
         uint64_t cur_vm_start;
      } open_kfd;
      struct {
         uint64_t fd;
         uint64_t drm_command_index;
         uint64_t size;
      } drm_cmd_write_read;
      struct {
         uint32_t preferred_node;
         uint32_t size_in_bytes;
         uint32_t timeout;
         uint32_t res_id;
         uint64_t dest_memory_address;
      } spm_set_dst_buffer;
      int32_t xnack_mode;
      uint8_t raw[72];
   };
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_query_info_req, 128);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_query_info_req, type, 48);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_query_info_req, pointer, 56);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_query_info_req, run_time_enable.setup_ttmp, 59);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_query_info_req, node_cache_prop.num_caches, 64);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_query_info_req, tile_config.node_id, 120);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_query_info_req, drm_cmd_write_read.size, 72);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_query_info_req,
                           spm_set_dst_buffer.dest_memory_address, 72);
#define HSAKMT_QUERY_INFO_PAYLOAD_OFFSET 128

struct hsakmt_query_info_rsp {
   struct hsakmt_ccmd_rsp hdr;
   union {
      struct {
         uint64_t vm_start;
         uint64_t vm_size;
      } open_kfd;
      uint64_t nano_time;
      struct hsakmt_wire_tile_config tile_config;
      struct hsakmt_wire_pointer_info pointer_info;
      struct hsakmt_wire_amdgpu_gpu_info gpu_info;
      struct hsakmt_wire_version_info kfd_version;
      struct hsakmt_wire_system_properties sys_props;
      struct hsakmt_wire_node_properties node_props;
      int32_t xnack_mode;
      struct hsakmt_wire_clock_counters clock_counters;
      struct {
         uint64_t amdgpu_device_handle; /* an opaque token, never a pointer */
         uint64_t fd;                   /* an opaque token below 2^31 */
      } device_handle;
      struct {
         uint32_t size_copied;
         uint32_t timeout;
         uint8_t is_tile_data_loss;
         uint8_t pad[7];
      } spm_set_dst_buffer;
      uint32_t caps;
      uint8_t raw[416];
   };
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_query_info_rsp, 424);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_query_info_rsp, open_kfd.vm_size, 16);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_query_info_rsp, node_props, 8);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_query_info_rsp, device_handle.fd, 16);
#define HSAKMT_QUERY_INFO_RSP_PAYLOAD_OFFSET 424

/* ---------------------------------------------------------------------------------
 * EVENT (§2.3)
 */
struct hsakmt_event_req {
   struct hsakmt_ccmd_req hdr;
   union {
      uint64_t event_handle; /* SET, RESET, QUERY_STATE, DESTROY: a token */
      struct {
         struct hsakmt_wire_event_descriptor desc;
         uint8_t manual_reset; /* 0 or 1 */
         uint8_t is_signaled;  /* 0 or 1 */
         uint8_t pad[6];
      } create;
      struct {
         uint64_t trap_handler_base_address;
         uint64_t trap_handler_size_in_bytes;
         uint64_t trap_buffer_base_address;
         uint64_t trap_buffer_size_in_bytes;
         uint32_t node_id;
         uint32_t pad;
      } set_trap_handler;
      uint8_t raw[64];
   };
   uint32_t type;
   uint32_t sync_shmem_res_id; /* unused, always 0 */
   uint64_t blob_id;           /* CREATE: a fresh blob id */
   uint32_t res_id;            /* SET/RESET/QUERY_STATE: the event's tracking blob */
   uint32_t pad;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_event_req, 104);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_event_req, create.manual_reset, 40);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_event_req, set_trap_handler.node_id, 48);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_event_req, type, 80);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_event_req, blob_id, 88);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_event_req, res_id, 96);

struct hsakmt_event_rsp {
   struct hsakmt_ccmd_rsp hdr;
   struct hsakmt_wire_event event;
   uint64_t event_handle; /* a per-context token */
   uint64_t bo_handle;    /* 0: the guest fills it */
   uint32_t res_id;       /* 0: the guest fills it */
   uint32_t pad;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_event_rsp, 80);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_event_rsp, event_handle, 56);

/* ---------------------------------------------------------------------------------
 * MEMORY (§2.4)
 */
struct hsakmt_memory_req {
   struct hsakmt_ccmd_req hdr;
   union {
      uint64_t memory_address; /* UNMAP_TO_GPU, DEREG_MEM */
      uint32_t node;           /* AVAIL_MEM */
      struct {
         uint32_t preferred_node;
         uint32_t mem_flags;
         uint64_t size_in_bytes;
         uint64_t memory_address; /* the guest sends 0 */
         uint64_t alignment;      /* 0: default */
      } alloc;
      struct {
         uint64_t memory_address;
         uint64_t memory_size_in_bytes;
         uint64_t alternate_va_gpu; /* the guest sends 0 */
         uint32_t mem_map_flags;    /* ignored (§3.9) */
         uint32_t pad;
         uint64_t number_of_nodes;
         uint64_t node_array; /* a guest pointer: ignored */
      } map_to_gpu_nodes;
      struct {
         uint64_t memory_address;
         uint64_t size_in_bytes;
      } free;
      struct {
         uint64_t memory_address;
         uint64_t memory_size_in_bytes;
         uint8_t need_create_bo; /* 0 or 1 */
         uint8_t pad[7];
      } map_to_gpu;
      struct {
         uint64_t memory_address;
         uint64_t memory_size_in_bytes;
         uint32_t mem_flags;
         uint32_t pad;
      } reg_mem_with_flag;
      struct {
         uint64_t memory_address;
         uint64_t memory_size_in_bytes;
      } range; /* EXPORT_DMABUF, SHARE_MEMORY */
      struct {
         int64_t dev;
         uint32_t type;
         uint32_t shared_handle;
      } amdgpu_import;
      struct {
         uint64_t buf_handle;
         uint32_t type;
         uint32_t pad;
      } amdgpu_export;
      struct {
         uint64_t bo;
         uint64_t offset;
         uint64_t size;
         uint64_t addr;
         uint64_t flags;
         uint32_t ops;
         uint32_t pad;
      } amdgpu_va_op;
      struct {
         uint32_t shared_memory_handle[8];
         uint64_t number_of_nodes;
      } register_shared_handle;
      struct {
         uint32_t node;
         uint32_t default_policy;
         uint32_t alternate_policy;
         uint32_t pad;
         uint64_t memory_address_alternate;
         uint64_t memory_size_in_bytes;
      } set_mem_policy;
      struct {
         uint64_t start_addr;
         uint64_t size;
         uint32_t nattr;
         uint32_t pad;
      } svm_attr;
      struct hsakmt_wire_amdgpu_bo_metadata bo_metadata;
      uint8_t raw[280];
   };
   uint64_t blob_id;
   uint32_t type;
   uint32_t res_id;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_memory_req, 312);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_memory_req, alloc.mem_flags, 20);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_memory_req, alloc.alignment, 40);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_memory_req, map_to_gpu_nodes.mem_map_flags, 40);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_memory_req, map_to_gpu_nodes.number_of_nodes,
                           48);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_memory_req, map_to_gpu.need_create_bo, 32);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_memory_req, reg_mem_with_flag.mem_flags, 32);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_memory_req, amdgpu_va_op.ops, 56);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_memory_req,
                           register_shared_handle.number_of_nodes, 48);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_memory_req, set_mem_policy.memory_size_in_bytes,
                           40);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_memory_req, svm_attr.nattr, 32);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_memory_req, blob_id, 296);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_memory_req, type, 304);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_memory_req, res_id, 308);
#define HSAKMT_MEMORY_PAYLOAD_OFFSET 312

struct hsakmt_memory_rsp {
   struct hsakmt_ccmd_rsp hdr;
   union {
      uint64_t memory_handle; /* also alternate_vagpu and available_bytes (§2.4) */
      struct {
         uint64_t userptr_handle;
         uint32_t npfns;
         uint32_t pad;
      } map_userptr;
      struct {
         int64_t dmabuf_fd; /* -1: never a host fd number */
         uint64_t offset;
      } export_dmabuf;
      struct {
         uint64_t buf_handle; /* 0 or a token */
         uint64_t alloc_size;
      } amdgpu_import;
      uint32_t shared_handle;
      uint32_t share_memory[8];
      struct {
         uint64_t memory_handle;
         uint64_t size;
      } register_shared_handle;
      struct hsakmt_wire_amdgpu_bo_info query_bo_info;
      uint8_t raw[312];
   };
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_memory_rsp, 320);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_memory_rsp, map_userptr.npfns, 16);
#define HSAKMT_MEMORY_RSP_PAYLOAD_OFFSET 320

/* ---------------------------------------------------------------------------------
 * QUEUE (§2.5)
 */
struct hsakmt_queue_req {
   struct hsakmt_ccmd_req hdr;
   union {
      uint64_t queue_id; /* DESTROY: the guest's own value, never used */
      struct {
         uint32_t node_id;
         uint32_t type;
         uint32_t queue_percentage;
         uint32_t pad;
         int64_t priority; /* HSA_QUEUE_PRIORITY is 8 bytes on the wire */
         uint32_t pad1;
         uint32_t sdma_engine_id; /* HSAKMT_SDMA_ENGINE_NONE: none */
         uint64_t queue_address;
         uint64_t queue_size_in_bytes;
         uint64_t event; /* an event token, or 0 */
         uint64_t queue_resource;
         uint64_t queue_write_ptr_aql;
         uint64_t queue_read_ptr_aql;
      } create;
      struct {
         uint64_t queue_id;
         uint32_t queue_percentage;
         uint32_t pad;
         int64_t priority;
         uint64_t queue_address;
         uint64_t queue_size_in_bytes;
      } update;
      uint32_t cu_mask_count; /* SET_CU_MASK: mask bits */
      uint32_t n_gws;         /* ALLOC_GWS */
      uint8_t raw[80];
   };
   uint64_t blob_id;
   uint64_t rw_ptr_blob_id;
   uint64_t doorbell_blob_id;
   uint32_t res_id;
   uint32_t type;
   uint32_t queue_mem_res_id;
   uint32_t pad;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_queue_req, 136);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_queue_req, create.priority, 32);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_queue_req, create.sdma_engine_id, 44);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_queue_req, create.queue_read_ptr_aql, 88);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_queue_req, update.queue_size_in_bytes, 48);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_queue_req, blob_id, 96);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_queue_req, res_id, 120);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_queue_req, type, 124);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_queue_req, queue_mem_res_id, 128);
#define HSAKMT_QUEUE_PAYLOAD_OFFSET 136

struct hsakmt_wire_vqueue_resource {
   struct hsakmt_wire_queue_resource r;
   uint64_t host_doorbell;
   uint64_t host_doorbell_offset;
   uint64_t host_write_offset;
   uint64_t host_read_offset;
   uint64_t host_rw_handle;
   uint64_t queue_handle; /* a token */
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_wire_vqueue_resource, 88);

struct hsakmt_queue_rsp {
   struct hsakmt_ccmd_rsp hdr;
   struct hsakmt_wire_vqueue_resource vqueue_res;
   uint32_t pad;
   struct hsakmt_wire_queue_info queue_info;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_queue_rsp, 168);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_queue_rsp, vqueue_res.host_doorbell, 48);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_queue_rsp, queue_info, 100);
/* §7: variant-N guests reserve 176 bytes (HsaQueueInfo of 76) */
#define HSAKMT_QUEUE_RSP_SIZE_N 176

/* ---------------------------------------------------------------------------------
 * GL_INTER (§2.6)
 */
struct hsakmt_gl_inter_req {
   struct hsakmt_ccmd_req hdr;
   uint64_t graphics_resource_handle; /* the guest's GEM handle: ignored */
   uint64_t number_of_nodes;
   uint32_t res_handle;
   uint32_t flag;
   uint32_t type;
   uint32_t pad;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_gl_inter_req, 48);
HSAKMT_PROTO_ASSERT_OFFSET(struct hsakmt_gl_inter_req, type, 40);
#define HSAKMT_GL_INTER_PAYLOAD_OFFSET 48

struct hsakmt_gl_inter_rsp {
   struct hsakmt_ccmd_rsp hdr;
   struct hsakmt_wire_graphics_resource_info info;
};
HSAKMT_PROTO_ASSERT_SIZE(struct hsakmt_gl_inter_rsp, 40);

/* The smallest response each command has (§2.0); NOP has none. */
#define HSAKMT_QUERY_INFO_RSP_SIZE sizeof(struct hsakmt_query_info_rsp)
#define HSAKMT_EVENT_RSP_SIZE      sizeof(struct hsakmt_event_rsp)
#define HSAKMT_MEMORY_RSP_SIZE     sizeof(struct hsakmt_memory_rsp)
#define HSAKMT_QUEUE_RSP_SIZE      sizeof(struct hsakmt_queue_rsp)
#define HSAKMT_GL_INTER_RSP_SIZE   sizeof(struct hsakmt_gl_inter_rsp)

#endif /* VIRTKFD_HSAKMT_PROTO_H */
