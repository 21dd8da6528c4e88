/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * GPU_INFO (wire-protocol.md §2.2 sub-type 0): libdrm_amdgpu's amdgpu_gpu_info of the
 * node's own render node, queried once per node and cached. libdrm_amdgpu is loaded
 * at run time like libhsakmt, so a VMM does not depend on it to start. Where the
 * render node cannot be opened (no amdgpu, or the KFD emulator), the answer is
 * -ENODEV with the fields KFD itself knows filled in: the guest ignores ret.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <amdgpu.h>

#include "kfd/vkfd_kfd_device.h"
#include "util/vkfd_log.h"

_Static_assert(sizeof(struct amdgpu_gpu_info) ==
                  sizeof(struct hsakmt_wire_amdgpu_gpu_info),
               "libdrm's amdgpu_gpu_info has the wire layout (§3.20)");

struct libdrm_amdgpu_api {
   __typeof__(&amdgpu_device_initialize) device_initialize;
   __typeof__(&amdgpu_device_deinitialize) device_deinitialize;
   __typeof__(&amdgpu_query_gpu_info) query_gpu_info;
};

/* Process-wide: the cache follows the KFD device's lock. */
static struct {
   bool loaded;
   bool tried;
   struct libdrm_amdgpu_api api;
   struct {
      bool cached;
      int ret;
      struct hsakmt_wire_amdgpu_gpu_info info;
   } nodes[VKFD_KFD_MAX_NODES];
} gpu_info_cache;

static bool
libdrm_load_locked(void)
{
   if (gpu_info_cache.tried)
      return gpu_info_cache.loaded;
   gpu_info_cache.tried = true;
   void *handle = dlopen("libdrm_amdgpu.so.1", RTLD_NOW | RTLD_LOCAL);
   if (!handle) {
      vkfd_info("KFD: libdrm_amdgpu unavailable (%s): GPU_INFO from KFD topology only",
                dlerror());
      return false;
   }
   struct libdrm_amdgpu_api *api = &gpu_info_cache.api;
   api->device_initialize =
      (__typeof__(api->device_initialize))dlsym(handle, "amdgpu_device_initialize");
   api->device_deinitialize =
      (__typeof__(api->device_deinitialize))dlsym(handle, "amdgpu_device_deinitialize");
   api->query_gpu_info =
      (__typeof__(api->query_gpu_info))dlsym(handle, "amdgpu_query_gpu_info");
   if (!api->device_initialize || !api->device_deinitialize || !api->query_gpu_info) {
      vkfd_warn("KFD: libdrm_amdgpu lacks the device query entry points");
      dlclose(handle);
      return false;
   }
   gpu_info_cache.loaded = true;
   return true;
}

static int
query_render_node(const HsaNodeProperties *props, struct hsakmt_wire_amdgpu_gpu_info *out)
{
   if (props->DrmRenderMinor < 128 || props->DrmRenderMinor > 255)
      return -ENODEV;
   char path[64];
   snprintf(path, sizeof(path), "/dev/dri/renderD%d", props->DrmRenderMinor);
   int fd = open(path, O_RDWR | O_CLOEXEC);
   if (fd < 0)
      return -errno;
   uint32_t major, minor;
   amdgpu_device_handle dev;
   int ret = gpu_info_cache.api.device_initialize(fd, &major, &minor, &dev);
   if (!ret) {
      struct amdgpu_gpu_info info;
      ret = gpu_info_cache.api.query_gpu_info(dev, &info);
      if (!ret)
         memcpy(out, &info, sizeof(*out));
      gpu_info_cache.api.device_deinitialize(dev);
   }
   close(fd); /* libdrm keeps its own duplicate while initialised */
   return ret;
}

/* What KFD reports about the node, for hosts where libdrm cannot answer. */
static void
fill_from_topology(const HsaNodeProperties *props,
                   const struct vkfd_kfd_node_extra *extra,
                   struct hsakmt_wire_amdgpu_gpu_info *out)
{
   memset(out, 0, sizeof(*out));
   out->asic_id = props->DeviceId;
   out->family_id = extra->family_id;
   out->max_engine_clk = (uint64_t)props->MaxEngineClockMhzFCompute * 1000; /* kHz */
   out->num_shader_engines = props->NumShaderBanks;
   out->num_shader_arrays_per_engine = props->NumArrays;
   if (props->NumSIMDPerCU)
      out->cu_active_number = props->NumFComputeCores / props->NumSIMDPerCU;
}

int
vkfd_kfd_gpu_info(uint32_t node, struct hsakmt_wire_amdgpu_gpu_info *out)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   pthread_mutex_lock(&dev->lock);
   if (!dev->users || node >= dev->system.NumNodes || !dev->extra[node].gpu_id) {
      pthread_mutex_unlock(&dev->lock);
      return -EINVAL;
   }
   if (!gpu_info_cache.nodes[node].cached) {
      int ret = -ENODEV;
      if (libdrm_load_locked())
         ret = query_render_node(&dev->nodes[node], &gpu_info_cache.nodes[node].info);
      if (ret) {
         vkfd_info("KFD: node %u: amdgpu_query_gpu_info unavailable (%s); GPU_INFO from "
                   "KFD topology",
                   node, strerror(ret < 0 ? -ret : ret));
         fill_from_topology(&dev->nodes[node], &dev->extra[node],
                            &gpu_info_cache.nodes[node].info);
      }
      gpu_info_cache.nodes[node].ret = ret < 0 ? ret : -ret;
      gpu_info_cache.nodes[node].cached = true;
   }
   *out = gpu_info_cache.nodes[node].info;
   int ret = gpu_info_cache.nodes[node].ret;
   pthread_mutex_unlock(&dev->lock);
   return ret;
}
