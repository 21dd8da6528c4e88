/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Topology queries, translated from the host library's layouts into the guest's wire
 * layouts field by field (wire-protocol.md §3.3-§3.6), plus the facts libhsakmt 5.2.3
 * does not report, read from the KFD sysfs topology.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kfd/vkfd_kfd_device.h"
#include "util/vkfd_log.h"

#define KFD_TOPOLOGY_NODES "/sys/devices/virtual/kfd/kfd/topology/nodes"

static bool
read_sysfs_u32(const char *path, const char *key, uint32_t *value)
{
   FILE *file = fopen(path, "re");
   if (!file)
      return false;
   char line[256];
   bool found = false;
   size_t key_len = key ? strlen(key) : 0;
   while (!found && fgets(line, sizeof(line), file)) {
      const char *number = line;
      if (key) {
         if (strncmp(line, key, key_len) || line[key_len] != ' ')
            continue;
         number = line + key_len + 1;
      }
      char *end;
      unsigned long long v = strtoull(number, &end, 10);
      found = end != number && v <= UINT32_MAX;
      if (found)
         *value = (uint32_t)v;
      if (!key)
         break;
   }
   fclose(file);
   return found;
}

void
vkfd_kfd_topology_read_extra(uint32_t node, struct vkfd_kfd_node_extra *extra)
{
   char path[128];
   memset(extra, 0, sizeof(*extra));
   snprintf(path, sizeof(path), KFD_TOPOLOGY_NODES "/%u/gpu_id", node);
   read_sysfs_u32(path, NULL, &extra->gpu_id);
   snprintf(path, sizeof(path), KFD_TOPOLOGY_NODES "/%u/properties", node);
   if (!read_sysfs_u32(path, "num_xcc", &extra->num_xcc))
      extra->num_xcc = extra->gpu_id ? 1 : 0;
   read_sysfs_u32(path, "family_id", &extra->family_id);
   read_sysfs_u32(path, "capability2", &extra->capability2);
}

static int
check_node(struct vkfd_kfd_device *dev, uint32_t node)
{
   if (!dev->users || node >= dev->system.NumNodes)
      return HSAKMT_STATUS_INVALID_NODE_UNIT;
   return HSAKMT_STATUS_SUCCESS;
}

int
vkfd_kfd_node_properties(uint32_t node, struct hsakmt_wire_node_properties *out)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   pthread_mutex_lock(&dev->lock);
   int status = check_node(dev, node);
   if (status) {
      pthread_mutex_unlock(&dev->lock);
      return status;
   }
   const HsaNodeProperties *in = &dev->nodes[node];
   const struct vkfd_kfd_node_extra *extra = &dev->extra[node];
   memset(out, 0, sizeof(*out));
   out->num_cpu_cores = in->NumCPUCores;
   out->num_fcompute_cores = in->NumFComputeCores;
   out->num_memory_banks = in->NumMemoryBanks;
   out->num_caches = in->NumCaches;
   out->num_io_links = in->NumIOLinks;
   out->ccompute_id_lo = in->CComputeIdLo;
   out->fcompute_id_lo = in->FComputeIdLo;
   /* the guest must not use the SVM API: every context shares one host process */
   out->capability = in->Capability.Value & ~HSAKMT_CAPABILITY_SVM_API;
   out->capability2 = extra->capability2;
   out->max_waves_per_simd = in->MaxWavesPerSIMD;
   out->lds_size_in_kb = in->LDSSizeInKB;
   out->gds_size_in_kb = in->GDSSizeInKB;
   out->wave_front_size = in->WaveFrontSize;
   out->num_shader_banks = in->NumShaderBanks;
   out->num_arrays = in->NumArrays;
   out->num_cu_per_array = in->NumCUPerArray;
   out->num_simd_per_cu = in->NumSIMDPerCU;
   out->max_slots_scratch_cu = in->MaxSlotsScratchCU;
   out->engine_id = in->EngineId.Value;
   out->vendor_id = in->VendorId;
   out->device_id = in->DeviceId;
   out->location_id = in->LocationId;
   out->local_mem_size = in->LocalMemSize;
   out->max_engine_clock_mhz_fcompute = in->MaxEngineClockMhzFCompute;
   out->max_engine_clock_mhz_ccompute = in->MaxEngineClockMhzCCompute;
   out->drm_render_minor = in->DrmRenderMinor;
   _Static_assert(sizeof(out->marketing_name) == sizeof(in->MarketingName), "name");
   _Static_assert(sizeof(out->amd_name) == sizeof(in->AMDName), "name");
   memcpy(out->marketing_name, in->MarketingName, sizeof(out->marketing_name));
   memcpy(out->amd_name, in->AMDName, sizeof(out->amd_name));
   out->ucode_engine_versions = in->uCodeEngineVersions.Value;
   out->debug_properties = in->DebugProperties.Value;
   out->hive_id = in->HiveID;
   out->num_sdma_engines = in->NumSdmaEngines;
   out->num_sdma_xgmi_engines = in->NumSdmaXgmiEngines;
   out->num_sdma_queues_per_engine = in->NumSdmaQueuesPerEngine;
   out->num_cp_queues = in->NumCpQueues;
   out->num_gws = 0; /* the guest forces it too: no GWS through the transport */
   out->integrated = 0;
   out->domain = in->Domain;
   out->unique_id = in->UniqueID;
   out->vgpr_size_per_cu = in->VGPRSizePerCU;
   out->sgpr_size_per_cu = in->SGPRSizePerCU;
   out->num_xcc = extra->num_xcc;
   out->kfd_gpu_id = extra->gpu_id;
   out->family_id = extra->family_id;
   pthread_mutex_unlock(&dev->lock);
   return HSAKMT_STATUS_SUCCESS;
}

int
vkfd_kfd_memory_properties(uint32_t node, uint32_t count,
                           struct hsakmt_wire_memory_properties *out)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   HsaMemoryProperties *in = calloc(1, VKFD_KFD_OUT_ROOM(count ? count : 1, *in));
   if (!in)
      return HSAKMT_STATUS_NO_MEMORY;
   pthread_mutex_lock(&dev->lock);
   int status = check_node(dev, node);
   if (!status)
      status = dev->api->hsaKmtGetNodeMemoryProperties(node, count, in);
   pthread_mutex_unlock(&dev->lock);
   for (uint32_t i = 0; !status && i < count; i++) {
      out[i].heap_type = in[i].HeapType;
      out[i].size_in_bytes = in[i].SizeInBytes;
      out[i].flags = in[i].Flags.MemoryProperty;
      out[i].width = in[i].Width;
      out[i].memory_clock_max = in[i].MemoryClockMax;
      out[i].virtual_base_address = in[i].VirtualBaseAddress;
   }
   free(in);
   return status;
}

int
vkfd_kfd_cache_properties(uint32_t node, uint32_t processor_id, uint32_t count,
                          void *records, uint32_t stride)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   HsaCacheProperties *in = calloc(1, VKFD_KFD_OUT_ROOM(count ? count : 1, *in));
   if (!in)
      return HSAKMT_STATUS_NO_MEMORY;
   pthread_mutex_lock(&dev->lock);
   int status = check_node(dev, node);
   if (!status)
      status = dev->api->hsaKmtGetNodeCacheProperties(node, processor_id, count, in);
   pthread_mutex_unlock(&dev->lock);
   for (uint32_t i = 0; !status && i < count; i++) {
      struct hsakmt_wire_cache_properties wire;
      _Static_assert(sizeof(wire.sibling_map) == sizeof(in[i].SiblingMap), "siblings");
      wire.processor_id_low = in[i].ProcessorIdLow;
      wire.cache_level = in[i].CacheLevel;
      wire.cache_size = in[i].CacheSize;
      wire.cache_line_size = in[i].CacheLineSize;
      wire.cache_lines_per_tag = in[i].CacheLinesPerTag;
      wire.cache_associativity = in[i].CacheAssociativity;
      wire.cache_latency = in[i].CacheLatency;
      wire.cache_type = in[i].CacheType.Value;
      memcpy(wire.sibling_map, in[i].SiblingMap, sizeof(wire.sibling_map));
      /* variant-N records have a trailing PersistingCacheSizeMax the host lacks: 0 */
      uint8_t *dst = (uint8_t *)records + (size_t)i * stride;
      memset(dst, 0, stride);
      memcpy(dst, &wire, sizeof(wire));
   }
   free(in);
   return status;
}

int
vkfd_kfd_io_link_properties(uint32_t node, uint32_t count,
                            struct hsakmt_wire_io_link_properties *out)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   HsaIoLinkProperties *in = calloc(1, VKFD_KFD_OUT_ROOM(count ? count : 1, *in));
   if (!in)
      return HSAKMT_STATUS_NO_MEMORY;
   pthread_mutex_lock(&dev->lock);
   int status = check_node(dev, node);
   if (!status)
      status = dev->api->hsaKmtGetNodeIoLinkProperties(node, count, in);
   pthread_mutex_unlock(&dev->lock);
   for (uint32_t i = 0; !status && i < count; i++) {
      memset(&out[i], 0, sizeof(out[i]));
      out[i].io_link_type = in[i].IoLinkType;
      out[i].version_major = in[i].VersionMajor;
      out[i].version_minor = in[i].VersionMinor;
      out[i].node_from = in[i].NodeFrom;
      out[i].node_to = in[i].NodeTo;
      out[i].weight = in[i].Weight;
      out[i].minimum_latency = in[i].MinimumLatency;
      out[i].maximum_latency = in[i].MaximumLatency;
      out[i].minimum_bandwidth = in[i].MinimumBandwidth;
      out[i].maximum_bandwidth = in[i].MaximumBandwidth;
      out[i].rec_transfer_size = in[i].RecTransferSize;
      out[i].rec_sdma_eng_id_mask = 0; /* not reported by 5.2.3 */
      out[i].flags = in[i].Flags.LinkProperty;
   }
   free(in);
   return status;
}

int
vkfd_kfd_clock_counters(uint32_t node, struct hsakmt_wire_clock_counters *out)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   HsaClockCounters in;
   pthread_mutex_lock(&dev->lock);
   int status = check_node(dev, node);
   if (!status)
      status = dev->api->hsaKmtGetClockCounters(node, &in);
   pthread_mutex_unlock(&dev->lock);
   if (!status) {
      out->gpu_clock_counter = in.GPUClockCounter;
      out->cpu_clock_counter = in.CPUClockCounter;
      out->system_clock_counter = in.SystemClockCounter;
      out->system_clock_frequency_hz = in.SystemClockFrequencyHz;
   }
   return status;
}

int
vkfd_kfd_tile_config(uint32_t node, struct hsakmt_wire_tile_config *config,
                     uint32_t *tile, uint32_t *macro)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   HsaGpuTileConfig in = {
      .TileConfig = tile,
      .MacroTileConfig = macro,
      .NumTileConfigs = config->num_tile_configs,
      .NumMacroTileConfigs = config->num_macro_tile_configs,
   };
   pthread_mutex_lock(&dev->lock);
   int status = check_node(dev, node);
   if (!status)
      status = dev->api->hsaKmtGetTileConfig(node, &in);
   pthread_mutex_unlock(&dev->lock);
   if (!status) {
      config->num_tile_configs = in.NumTileConfigs;
      config->num_macro_tile_configs = in.NumMacroTileConfigs;
      config->gb_addr_config = in.GbAddrConfig;
      config->num_banks = in.NumBanks;
      config->num_ranks = in.NumRanks;
   }
   return status;
}

int
vkfd_kfd_xnack_mode(int32_t *mode)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   HSAint32 value = 0;
   pthread_mutex_lock(&dev->lock);
   int status = dev->users ? (int)dev->api->hsaKmtGetXNACKMode(&value)
                           : HSAKMT_STATUS_KERNEL_IO_CHANNEL_NOT_OPENED;
   pthread_mutex_unlock(&dev->lock);
   *mode = value;
   return status;
}

int
vkfd_kfd_set_xnack_mode(int32_t mode)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   pthread_mutex_lock(&dev->lock);
   int status = HSAKMT_STATUS_NOT_SUPPORTED;
   if (dev->users == 1)
      status = dev->api->hsaKmtSetXNACKMode(mode);
   else
      vkfd_warn("KFD: SET_XNACK_MODE refused: %u contexts share the process-wide mode",
                dev->users);
   pthread_mutex_unlock(&dev->lock);
   return status;
}

int
vkfd_kfd_set_memory_policy(uint32_t node, uint32_t default_policy,
                           uint32_t alternate_policy, uint64_t alternate_address,
                           uint64_t alternate_size)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   pthread_mutex_lock(&dev->lock);
   int status = check_node(dev, node);
   if (!status && dev->users != 1) {
      vkfd_warn("KFD: SET_MEM_POLICY refused: %u contexts share the process-wide policy",
                dev->users);
      status = HSAKMT_STATUS_NOT_SUPPORTED;
   }
   if (!status)
      status = dev->api->hsaKmtSetMemoryPolicy(node, default_policy, alternate_policy,
                                               (void *)(uintptr_t)alternate_address,
                                               alternate_size);
   pthread_mutex_unlock(&dev->lock);
   return status;
}

int
vkfd_kfd_runtime_enable(bool setup_ttmp)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   pthread_mutex_lock(&dev->lock);
   int status = HSAKMT_STATUS_SUCCESS;
   if (!dev->runtime_enabled) {
      status = dev->api->hsaKmtRuntimeEnable(NULL, setup_ttmp);
      /* a kernel without the debugger interface: nothing to enable, not an error */
      if (status == HSAKMT_STATUS_UNAVAILABLE || status == HSAKMT_STATUS_NOT_SUPPORTED)
         status = HSAKMT_STATUS_SUCCESS;
      else
         dev->runtime_enabled = status == HSAKMT_STATUS_SUCCESS;
   }
   pthread_mutex_unlock(&dev->lock);
   return status;
}

int
vkfd_kfd_runtime_caps(uint32_t *caps)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   HSAuint32 value = 0;
   pthread_mutex_lock(&dev->lock);
   int status = HSAKMT_STATUS_SUCCESS;
   if (dev->api->hsaKmtGetRuntimeCapabilities)
      status = dev->api->hsaKmtGetRuntimeCapabilities(&value);
   pthread_mutex_unlock(&dev->lock);
   *caps = status ? 0 : value;
   return status;
}
