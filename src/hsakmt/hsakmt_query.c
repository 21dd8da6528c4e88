/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * QUERY_INFO (wire-protocol.md §2.2). Topology answers come from the snapshot the
 * KFD device took when it opened, so node numbering is stable for the context.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsakmt/hsakmt_context.h"
#include "hsakmt/hsakmt_memory.h"
#include "hsakmt/hsakmt_va.h"
#include "kfd/vkfd_kfd.h"
#include "util/vkfd_log.h"
#include "util/vkfd_math.h"

static const struct hsakmt_query_info_req *
query_req(const struct hsakmt_request *r)
{
   return r->req;
}

static struct hsakmt_query_info_rsp *
query_rsp(struct hsakmt_request *r, size_t payload)
{
   return hsakmt_response(r, sizeof(struct hsakmt_query_info_rsp) + payload);
}

static bool
node_valid(struct hsakmt_request *r, uint32_t node, const char *what)
{
   if (node < vkfd_kfd_node_count())
      return true;
   vkfd_err("ctx %u: QUERY_INFO/%s: node %u does not exist (%u nodes)", r->ctx->base.id,
            what, node, vkfd_kfd_node_count());
   return false;
}

/* The context's GPU: the first GPU node (GPU_INFO carries no node). */
static bool
first_gpu_node(uint32_t *node)
{
   for (uint32_t n = 0; n < vkfd_kfd_node_count(); n++) {
      if (vkfd_kfd_node_is_gpu(n)) {
         *node = n;
         return true;
      }
   }
   return false;
}

static void
query_gpu_info(struct hsakmt_request *r)
{
   struct hsakmt_query_info_rsp *rsp = query_rsp(r, 0);
   if (!rsp)
      return;
   uint32_t node;
   /* libdrm convention: 0 or a negative errno; the guest uses the data regardless */
   rsp->hdr.ret =
      first_gpu_node(&node) ? vkfd_kfd_gpu_info(node, &rsp->gpu_info) : -ENODEV;
}

/*
 * Opaque per-context tokens for what upstream exposes as a libdrm device pointer and
 * a host fd number (§6 problem 3, 4): never 0, the fd token a positive int, both
 * meaningless outside this context. Nothing accepts them back on this host yet
 * (AMDGPU_IMPORT and DRM_CMD_WRITE_READ are refused), but they are derived, not
 * stored, so they stay stable for the guest's cache.
 */
static uint64_t
device_token(const struct hsakmt_context *ctx, uint32_t node)
{
   uint64_t mixed = (ctx->token_salt ^ ((uint64_t)node * 0x9e3779b97f4a7c15ull)) << 8;
   return 0x5600000000000000ull | (mixed & 0x00ffffffffffff00ull) | (node & 0xff);
}

static uint64_t
fd_token(const struct hsakmt_context *ctx, uint32_t node)
{
   return 0x10000000u | ((ctx->token_salt >> 40) & 0x0fff0000u) | (node & 0xffffu);
}

static void
query_device_handle(struct hsakmt_request *r)
{
   struct hsakmt_query_info_rsp *rsp = query_rsp(r, 0);
   if (!rsp)
      return;
   uint32_t node = query_req(r)->node_id;
   if (!vkfd_kfd_node_is_gpu(node)) {
      vkfd_err("ctx %u: QUERY_INFO/AMDGPU_DEVICE_HANDLE: node %u is not a GPU",
               r->ctx->base.id, node);
      rsp->hdr.ret = VKFD_STATUS_INVALID_NODE_UNIT;
      return;
   }
   rsp->device_handle.amdgpu_device_handle = device_token(r->ctx, node);
   rsp->device_handle.fd = fd_token(r->ctx, node);
}

static void
query_pointer_info(struct hsakmt_request *r)
{
   /* answered from this context's own objects: no host pointer leaves (§3.15) */
   uint64_t pointer = query_req(r)->pointer;
   struct hsakmt_object *obj = hsakmt_memory_find(r->ctx, pointer, 1);
   const struct hsakmt_mapped_nodes *mapped = NULL;
   struct hsakmt_wire_pointer_info info = { .cpu_address = pointer };
   if (obj && obj->kind == HSAKMT_OBJECT_HOST_MEM) {
      const struct hsakmt_host_mem *mem = (const struct hsakmt_host_mem *)obj;
      info.type = 1; /* HSA_POINTER_ALLOCATED */
      info.node = mem->node;
      info.mem_flags = mem->flags;
      info.gpu_address = mem->va;
      info.size_in_bytes = mem->size;
      mapped = &mem->mapped;
   } else if (obj && obj->kind == HSAKMT_OBJECT_USERPTR) {
      const struct hsakmt_userptr *userptr = (const struct hsakmt_userptr *)obj;
      info.type = 2; /* HSA_POINTER_REGISTERED_USER */
      info.mem_flags =
         HSAKMT_MEMFLAG_HOST_ACCESS | (userptr->read_only ? HSAKMT_MEMFLAG_READ_ONLY : 0);
      info.gpu_address = userptr->gpu_va;
      info.size_in_bytes = userptr->size;
      mapped = &userptr->mapped;
   }
   uint32_t count =
      mapped ? VKFD_MIN(mapped->count, (uint32_t)HSAKMT_MAX_POINTER_INFO_NODES) : 0;
   struct hsakmt_query_info_rsp *rsp = query_rsp(r, (size_t)count * 4);
   if (!rsp)
      return;
   info.n_mapped_nodes = count;
   info.mapped_nodes = count ? 1 : 0; /* the guest only tests it for NULL */
   rsp->pointer_info = info;
   if (count)
      memcpy((uint8_t *)rsp + HSAKMT_QUERY_INFO_RSP_PAYLOAD_OFFSET, mapped->nodes,
             (size_t)count * 4);
}

static void
query_open_kfd(struct hsakmt_request *r)
{
   struct hsakmt_query_info_rsp *rsp = query_rsp(r, 0);
   if (!rsp)
      return;
   uint64_t start, size;
   int status =
      hsakmt_va_window(r->ctx, query_req(r)->open_kfd.cur_vm_start, &start, &size);
   if (status) {
      rsp->hdr.ret = status;
      return;
   }
   rsp->open_kfd.vm_start = start;
   rsp->open_kfd.vm_size = size;
}

static void
query_get_version(struct hsakmt_request *r)
{
   struct hsakmt_query_info_rsp *rsp = query_rsp(r, 0);
   if (rsp)
      vkfd_kfd_version(&rsp->kfd_version);
}

static void
query_success(struct hsakmt_request *r)
{
   /* REL_SYS_PROP, RUN_TIME_DISABLE: the snapshot and runtime stay for the context */
   query_rsp(r, 0);
}

static void
query_system_properties(struct hsakmt_request *r)
{
   struct hsakmt_query_info_rsp *rsp = query_rsp(r, 0);
   if (rsp)
      vkfd_kfd_system_properties(&rsp->sys_props);
}

static void
query_node_properties(struct hsakmt_request *r)
{
   struct hsakmt_query_info_rsp *rsp = query_rsp(r, 0);
   if (!rsp)
      return;
   uint32_t node = query_req(r)->node_id;
   rsp->hdr.ret = node_valid(r, node, "GET_NODE_PROP")
                     ? vkfd_kfd_node_properties(node, &rsp->node_props)
                     : VKFD_STATUS_INVALID_NODE_UNIT;
}

static void
query_xnack_mode(struct hsakmt_request *r)
{
   struct hsakmt_query_info_rsp *rsp = query_rsp(r, 0);
   if (rsp)
      rsp->hdr.ret = vkfd_kfd_xnack_mode(&rsp->xnack_mode);
}

static void
query_runtime_enable(struct hsakmt_request *r)
{
   const struct hsakmt_query_info_req *req = query_req(r);
   struct hsakmt_query_info_rsp *rsp = query_rsp(r, 0);
   if (!rsp)
      return;
   const uint8_t *pad = req->run_time_enable.pad;
   if (req->run_time_enable.setup_ttmp > 1 || pad[0] || pad[1] || pad[2] ||
       req->run_time_enable.pad2) {
      vkfd_err("ctx %u: RUN_TIME_ENABLE: setupTtmp %u or padding not zero",
               r->ctx->base.id, req->run_time_enable.setup_ttmp);
      rsp->hdr.ret = VKFD_STATUS_INVALID_PARAMETER;
      return;
   }
   rsp->hdr.ret = vkfd_kfd_runtime_enable(req->run_time_enable.setup_ttmp);
}

/* A guest-chosen count of fixed-size records must fit its limit, the node and the slot.
 */
static void *
query_records(struct hsakmt_request *r, const char *what, uint32_t count, uint32_t limit,
              uint32_t available, size_t stride)
{
   if (count > limit || count > available) {
      vkfd_err("ctx %u: QUERY_INFO/%s: %u records requested, the node has %u (limit %u)",
               r->ctx->base.id, what, count, available, limit);
      hsakmt_request_fail(r, VKFD_STATUS_INVALID_PARAMETER);
      return NULL;
   }
   struct hsakmt_query_info_rsp *rsp = query_rsp(r, (size_t)count * stride);
   if (!rsp) {
      hsakmt_request_fail(r, VKFD_STATUS_INVALID_PARAMETER);
      return NULL;
   }
   return rsp;
}

static void
query_memory_properties(struct hsakmt_request *r)
{
   const struct hsakmt_query_info_req *req = query_req(r);
   uint32_t node = req->node_mem_prop.node_id;
   struct hsakmt_wire_node_properties props;
   if (!node_valid(r, node, "GET_NOD_MEM_PROP") ||
       vkfd_kfd_node_properties(node, &props)) {
      hsakmt_request_fail(r, VKFD_STATUS_INVALID_NODE_UNIT);
      return;
   }
   uint32_t count = req->node_mem_prop.num_banks;
   struct hsakmt_query_info_rsp *rsp =
      query_records(r, "GET_NOD_MEM_PROP", count, HSAKMT_MAX_MEM_BANKS,
                    props.num_memory_banks, sizeof(struct hsakmt_wire_memory_properties));
   if (rsp && count)
      rsp->hdr.ret = vkfd_kfd_memory_properties(
         node, count,
         (struct hsakmt_wire_memory_properties *)((uint8_t *)rsp +
                                                  HSAKMT_QUERY_INFO_RSP_PAYLOAD_OFFSET));
}

static void
query_cache_properties(struct hsakmt_request *r)
{
   const struct hsakmt_query_info_req *req = query_req(r);
   uint32_t node = req->node_cache_prop.node_id;
   uint32_t count = req->node_cache_prop.num_caches;
   struct hsakmt_wire_node_properties props;
   if (!node_valid(r, node, "GET_NOD_CACHE_PROP") ||
       vkfd_kfd_node_properties(node, &props)) {
      hsakmt_request_fail(r, VKFD_STATUS_INVALID_NODE_UNIT);
      return;
   }
   /* the record size differs between guest versions: the slot length tells (§7) */
   uint32_t stride = sizeof(struct hsakmt_wire_cache_properties);
   uint64_t slot_1056 = HSAKMT_QUERY_INFO_RSP_PAYLOAD_OFFSET + 1056ull * count;
   uint64_t slot_1060 = 0;
   vkfd_ckd_align_up(&slot_1060, HSAKMT_QUERY_INFO_RSP_PAYLOAD_OFFSET + 1060ull * count,
                     8);
   if (count && r->guest_rsp_len == slot_1060 && slot_1060 != slot_1056) {
      stride = HSAKMT_WIRE_CACHE_STRIDE_N;
   } else if (count && r->guest_rsp_len != slot_1056) {
      vkfd_err("ctx %u: QUERY_INFO/GET_NOD_CACHE_PROP: slot of %u bytes fits neither "
               "record layout for %u caches",
               r->ctx->base.id, r->guest_rsp_len, count);
      hsakmt_request_fail(r, VKFD_STATUS_INVALID_PARAMETER);
      return;
   }
   struct hsakmt_query_info_rsp *rsp = query_records(
      r, "GET_NOD_CACHE_PROP", count, HSAKMT_MAX_CACHES, props.num_caches, stride);
   if (rsp && count)
      rsp->hdr.ret = vkfd_kfd_cache_properties(
         node, req->node_cache_prop.processor_id, count,
         (uint8_t *)rsp + HSAKMT_QUERY_INFO_RSP_PAYLOAD_OFFSET, stride);
}

static void
query_io_link_properties(struct hsakmt_request *r)
{
   const struct hsakmt_query_info_req *req = query_req(r);
   uint32_t node = req->node_io_link.node_id;
   uint32_t count = req->node_io_link.num_io_links;
   struct hsakmt_wire_node_properties props;
   if (!node_valid(r, node, "GET_NOD_IO_LINK_PROP") ||
       vkfd_kfd_node_properties(node, &props)) {
      hsakmt_request_fail(r, VKFD_STATUS_INVALID_NODE_UNIT);
      return;
   }
   struct hsakmt_query_info_rsp *rsp =
      query_records(r, "GET_NOD_IO_LINK_PROP", count, HSAKMT_MAX_IO_LINKS,
                    props.num_io_links, sizeof(struct hsakmt_wire_io_link_properties));
   if (rsp && count)
      rsp->hdr.ret = vkfd_kfd_io_link_properties(
         node, count,
         (struct hsakmt_wire_io_link_properties *)((uint8_t *)rsp +
                                                   HSAKMT_QUERY_INFO_RSP_PAYLOAD_OFFSET));
}

static void
query_clock_counters(struct hsakmt_request *r)
{
   struct hsakmt_query_info_rsp *rsp = query_rsp(r, 0);
   if (!rsp)
      return;
   uint32_t node = query_req(r)->node_id;
   rsp->hdr.ret = node_valid(r, node, "GET_CLOCK_COUNTERS")
                     ? vkfd_kfd_clock_counters(node, &rsp->clock_counters)
                     : VKFD_STATUS_INVALID_NODE_UNIT;
}

static void
query_tile_config(struct hsakmt_request *r)
{
   const struct hsakmt_query_info_req *req = query_req(r);
   struct hsakmt_wire_tile_config config = req->tile_config.config;
   uint32_t node = req->tile_config.node_id;
   uint32_t tiles = config.num_tile_configs, macros = config.num_macro_tile_configs;
   if (!node_valid(r, node, "TILE_CONFIG")) {
      hsakmt_request_fail(r, VKFD_STATUS_INVALID_NODE_UNIT);
      return;
   }
   if (tiles > HSAKMT_MAX_TILE_CONFIGS || macros > HSAKMT_MAX_TILE_CONFIGS) {
      vkfd_err("ctx %u: QUERY_INFO/TILE_CONFIG: %u + %u entries (limit %u each)",
               r->ctx->base.id, tiles, macros, HSAKMT_MAX_TILE_CONFIGS);
      hsakmt_request_fail(r, VKFD_STATUS_INVALID_PARAMETER);
      return;
   }
   uint32_t tile[HSAKMT_MAX_TILE_CONFIGS] = { 0 }, macro[HSAKMT_MAX_TILE_CONFIGS] = { 0 };
   int status = vkfd_kfd_tile_config(node, &config, tile, macro);
   /* the library may only lower the counts; never trust it to stay in bounds */
   tiles = VKFD_MIN(config.num_tile_configs, tiles);
   macros = VKFD_MIN(config.num_macro_tile_configs, macros);
   struct hsakmt_query_info_rsp *rsp = query_rsp(r, (size_t)(tiles + macros) * 4);
   if (!rsp)
      return;
   rsp->hdr.ret = status;
   if (status)
      return;
   /* the guest pointers are echoed verbatim; macros follow the *returned* tile count */
   config.tile_config = req->tile_config.config.tile_config;
   config.macro_tile_config = req->tile_config.config.macro_tile_config;
   config.num_tile_configs = tiles;
   config.num_macro_tile_configs = macros;
   rsp->tile_config = config;
   uint8_t *payload = (uint8_t *)rsp + HSAKMT_QUERY_INFO_RSP_PAYLOAD_OFFSET;
   memcpy(payload, tile, (size_t)tiles * 4);
   memcpy(payload + (size_t)tiles * 4, macro, (size_t)macros * 4);
}

static void
query_nano_time(struct hsakmt_request *r)
{
   struct hsakmt_query_info_rsp *rsp = query_rsp(r, 0);
   if (!rsp)
      return;
   struct timespec now;
   clock_gettime(CLOCK_MONOTONIC, &now);
   rsp->nano_time = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

static void
query_runtime_caps(struct hsakmt_request *r)
{
   struct hsakmt_query_info_rsp *rsp = query_rsp(r, 0);
   if (rsp)
      rsp->hdr.ret = vkfd_kfd_runtime_caps(&rsp->caps);
}

static void
query_drm_cmd_write_read(struct hsakmt_request *r)
{
   /* a raw ioctl on a guest-named host fd: never (§6 problem 4) */
   vkfd_err("ctx %u: QUERY_INFO/DRM_CMD_WRITE_READ on fd %llu refused", r->ctx->base.id,
            (unsigned long long)query_req(r)->drm_cmd_write_read.fd);
   struct hsakmt_query_info_rsp *rsp = query_rsp(r, 0);
   if (rsp)
      rsp->hdr.ret = -EPERM;
}

static void
query_set_xnack_mode(struct hsakmt_request *r)
{
   /* process-wide on the host: allowed only while this context is the only one */
   int32_t mode = query_req(r)->xnack_mode;
   struct hsakmt_query_info_rsp *rsp = query_rsp(r, 0);
   if (!rsp)
      return;
   if (mode != 0 && mode != 1) {
      vkfd_err("ctx %u: QUERY_INFO/SET_XNACK_MODE: mode %d is not 0 or 1",
               r->ctx->base.id, mode);
      rsp->hdr.ret = VKFD_STATUS_INVALID_PARAMETER;
      return;
   }
   rsp->hdr.ret = vkfd_kfd_set_xnack_mode(mode);
}

static const struct hsakmt_subcommand query_table[HSAKMT_QUERY_COUNT] = {
   [HSAKMT_QUERY_GPU_INFO] = { "GPU_INFO", query_gpu_info },
   [HSAKMT_QUERY_OPEN_KFD] = { "OPEN_KFD", query_open_kfd },
   [HSAKMT_QUERY_GET_VER] = { "GET_VER", query_get_version },
   [HSAKMT_QUERY_REL_SYS_PROP] = { "REL_SYS_PROP", query_success },
   [HSAKMT_QUERY_GET_SYS_PROP] = { "GET_SYS_PROP", query_system_properties },
   [HSAKMT_QUERY_GET_NODE_PROP] = { "GET_NODE_PROP", query_node_properties },
   [HSAKMT_QUERY_GET_XNACK_MODE] = { "GET_XNACK_MODE", query_xnack_mode },
   [HSAKMT_QUERY_RUN_TIME_ENABLE] = { "RUN_TIME_ENABLE", query_runtime_enable },
   [HSAKMT_QUERY_RUN_TIME_DISABLE] = { "RUN_TIME_DISABLE", query_success },
   [HSAKMT_QUERY_GET_NOD_MEM_PROP] = { "GET_NOD_MEM_PROP", query_memory_properties },
   [HSAKMT_QUERY_GET_NOD_CACHE_PROP] = { "GET_NOD_CACHE_PROP", query_cache_properties },
   [HSAKMT_QUERY_GET_NOD_IO_LINK_PROP] = { "GET_NOD_IO_LINK_PROP",
                                           query_io_link_properties },
   [HSAKMT_QUERY_GET_CLOCK_COUNTERS] = { "GET_CLOCK_COUNTERS", query_clock_counters },
   [HSAKMT_QUERY_POINTER_INFO] = { "POINTER_INFO", query_pointer_info },
   [HSAKMT_QUERY_TILE_CONFIG] = { "TILE_CONFIG", query_tile_config },
   [HSAKMT_QUERY_NANO_TIME] = { "NANO_TIME", query_nano_time },
   [HSAKMT_QUERY_GET_RUNTIME_CAPS] = { "GET_RUNTIME_CAPS", query_runtime_caps },
   [HSAKMT_QUERY_AMDGPU_DEVICE_HANDLE] = { "AMDGPU_DEVICE_HANDLE", query_device_handle },
   [HSAKMT_QUERY_DRM_CMD_WRITE_READ] = { "DRM_CMD_WRITE_READ", query_drm_cmd_write_read },
   [HSAKMT_QUERY_SET_XNACK_MODE] = { "SET_XNACK_MODE", query_set_xnack_mode },
   [HSAKMT_QUERY_SPM_ACQUIRE] = { "SPM_ACQUIRE", NULL },
   [HSAKMT_QUERY_SPM_RELEASE] = { "SPM_RELEASE", NULL },
   [HSAKMT_QUERY_SPM_SET_DST_BUFFER] = { "SPM_SET_DST_BUFFER", NULL },
};

void
hsakmt_query_info(struct hsakmt_request *r)
{
   hsakmt_dispatch_subcommand(r, "QUERY_INFO", query_table, HSAKMT_QUERY_COUNT,
                              query_req(r)->type, sizeof(struct hsakmt_query_info_rsp));
}
