/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Memory calls. Callers (src/hsakmt) have already checked every address and size
 * against the calling context's own objects; this layer only translates.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/ioctl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kfd/vkfd_kfd_device.h"
#include "util/vkfd_log.h"

/*
 * AMDKFD_IOC_AVAILABLE_MEMORY (kfd_ioctl.h 1.9+), for libraries without
 * hsaKmtAvailableMemory. Defined here because <linux/kfd_ioctl.h> needs DRM headers.
 */
struct vkfd_kfd_available_memory_args {
   uint64_t available;
   uint32_t gpu_id;
   uint32_t pad;
};
#define VKFD_AMDKFD_IOC_AVAILABLE_MEMORY \
   _IOWR('K', 0x23, struct vkfd_kfd_available_memory_args)

static HsaMemFlags
mem_flags(uint32_t value)
{
   HsaMemFlags flags;
   memset(&flags, 0, sizeof(flags));
   flags.Value = value;
   return flags;
}

int
vkfd_kfd_register_memory(void *address, uint64_t size, uint32_t flags)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   return KFD_CALL(
      dev, dev->api->hsaKmtRegisterMemoryWithFlags(address, size, mem_flags(flags)));
}

int
vkfd_kfd_deregister_memory(void *address)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   return KFD_CALL(dev, dev->api->hsaKmtDeregisterMemory(address));
}

int
vkfd_kfd_map_to_gpu_nodes(void *address, uint64_t size, const uint32_t *nodes,
                          uint32_t count, uint64_t *gpu_va)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   HsaMemMapFlags map_flags;
   memset(&map_flags, 0, sizeof(map_flags));
   HSAuint64 va = 0;
   HSAuint32 node_array[HSAKMT_MAX_MEMORY_NODES];
   if (count > HSAKMT_MAX_MEMORY_NODES)
      return HSAKMT_STATUS_INVALID_PARAMETER;
   memcpy(node_array, nodes, count * sizeof(*nodes));
   int status = KFD_CALL(dev, dev->api->hsaKmtMapMemoryToGPUNodes(
                                 address, size, &va, map_flags, count, node_array));
   if (!status)
      *gpu_va = va;
   return status;
}

int
vkfd_kfd_map_to_gpu(void *address, uint64_t size, uint64_t *gpu_va)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   HSAuint64 va = 0;
   int status = KFD_CALL(dev, dev->api->hsaKmtMapMemoryToGPU(address, size, &va));
   if (!status)
      *gpu_va = va;
   return status;
}

int
vkfd_kfd_unmap_from_gpu(void *address)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   return KFD_CALL(dev, dev->api->hsaKmtUnmapMemoryToGPU(address));
}

int
vkfd_kfd_alloc_fixed(uint32_t node, uint64_t size, uint32_t flags, void *address)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   void *result = address;
   int status = KFD_CALL(
      dev, dev->api->hsaKmtAllocMemory(
              node, size, mem_flags(flags | HSAKMT_MEMFLAG_FIXED_ADDRESS), &result));
   if (!status && result != address) {
      /* the library placed it elsewhere: the guest's VA would not match the GPU's */
      vkfd_err("KFD: fixed allocation at %p landed at %p", address, result);
      KFD_CALL(dev, dev->api->hsaKmtFreeMemory(result, size));
      status = HSAKMT_STATUS_NO_MEMORY;
   }
   return status;
}

int
vkfd_kfd_free(void *address, uint64_t size)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   return KFD_CALL(dev, dev->api->hsaKmtFreeMemory(address, size));
}

int
vkfd_kfd_available_memory(uint32_t node, uint64_t *bytes)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   pthread_mutex_lock(&dev->lock);
   int status = HSAKMT_STATUS_SUCCESS;
   if (!dev->users || node >= dev->system.NumNodes || !dev->extra[node].gpu_id) {
      status = HSAKMT_STATUS_INVALID_NODE_UNIT;
   } else if (dev->api->hsaKmtAvailableMemory) {
      HSAuint64 value = 0;
      status = dev->api->hsaKmtAvailableMemory(node, &value);
      *bytes = value;
   } else {
      /* the ioctl works on any /dev/kfd fd of this process (one KFD process) */
      struct vkfd_kfd_available_memory_args args = { .gpu_id = dev->extra[node].gpu_id };
      int fd = open("/dev/kfd", O_RDWR | O_CLOEXEC);
      if (fd < 0 || ioctl(fd, VKFD_AMDKFD_IOC_AVAILABLE_MEMORY, &args) < 0) {
         vkfd_warn("KFD: AVAILABLE_MEMORY for node %u failed: %s", node, strerror(errno));
         status = HSAKMT_STATUS_ERROR;
      } else {
         *bytes = args.available;
      }
      if (fd >= 0)
         close(fd);
   }
   pthread_mutex_unlock(&dev->lock);
   return status;
}

int
vkfd_kfd_share_memory(void *address, uint64_t size, uint32_t handle[8])
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   HsaSharedMemoryHandle shared;
   _Static_assert(sizeof(shared) == 8 * sizeof(uint32_t),
                  "HsaSharedMemoryHandle is 32 opaque bytes (§3.18)");
   memset(&shared, 0, sizeof(shared));
   int status = KFD_CALL(dev, dev->api->hsaKmtShareMemory(address, size, &shared));
   memcpy(handle, &shared, sizeof(shared));
   return status;
}
