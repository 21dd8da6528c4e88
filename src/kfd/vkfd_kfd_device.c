/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Opening and closing the KFD device, and choosing how fixed-address allocations are
 * placed. libhsakmt before ROCm 5.7 cannot allocate at a fixed address in its default
 * "mmap aperture" mode; with HSA_RESERVE_SVM=1 in the environment at hsaKmtOpenKFD it
 * reserves an SVM aperture (reported as the GPU's DEVICE_SVM memory bank) in which
 * fixed allocations work. The mode is chosen at run time and logged.
 */
#include "vkfd_kfd_device.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/vkfd_log.h"

static struct vkfd_kfd_device device = {
   .lock = PTHREAD_MUTEX_INITIALIZER,
};

struct vkfd_kfd_device *
vkfd_kfd_device_get(void)
{
   return &device;
}

static struct {
   pthread_once_t once;
   bool available;
} probe = { .once = PTHREAD_ONCE_INIT };

static void
probe_once(void)
{
   if (!vkfd_hsakmt_load())
      return;
   int fd = open("/dev/kfd", O_RDWR | O_CLOEXEC);
   if (fd < 0) {
      vkfd_warn("KFD: cannot open /dev/kfd: %s; the ROCm capset (8) is not offered",
                strerror(errno));
      return;
   }
   close(fd);
   probe.available = true;
}

bool
vkfd_kfd_available(void)
{
   pthread_once(&probe.once, probe_once);
   return probe.available;
}

#if defined(__SANITIZE_ADDRESS__)
#define VKFD_BUILT_WITH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VKFD_BUILT_WITH_ASAN 1
#endif
#endif

static enum vkfd_kfd_va_mode
va_mode_wanted(const struct vkfd_hsakmt_api *api)
{
#ifdef VKFD_BUILT_WITH_ASAN
   /*
    * libhsakmt looks for its aperture below 2^40, where AddressSanitizer keeps its
    * shadow memory; measured: hsaKmtOpenKFD then searches without end.
    */
   if (!api->hsaKmtAllocMemoryAlign) {
      vkfd_warn("KFD: built with AddressSanitizer: no reserved SVM aperture, so no "
                "fixed-address allocations");
      return VKFD_KFD_VA_NONE;
   }
#endif
   const char *forced = getenv("VIRTKFD_KFD_VA_MODE");
   if (forced && !strcasecmp(forced, "native"))
      return VKFD_KFD_VA_NATIVE;
   if (forced && !strcasecmp(forced, "reserved"))
      return VKFD_KFD_VA_RESERVED_SVM;
   if (forced && !strcasecmp(forced, "none"))
      return VKFD_KFD_VA_NONE;
   /*
    * hsaKmtAllocMemoryAlign arrived with the libraries that place FixedAddress
    * allocations in their default mode; older ones (Debian's 5.2.3) need the SVM
    * aperture reserved.
    */
   return api->hsaKmtAllocMemoryAlign ? VKFD_KFD_VA_NATIVE : VKFD_KFD_VA_RESERVED_SVM;
}

/* Opens KFD with HSA_RESERVE_SVM=1, leaving the environment as it was found. */
static HSAKMT_STATUS
open_reserved(const struct vkfd_hsakmt_api *api)
{
   const char *old = getenv("HSA_RESERVE_SVM");
   char *saved = old ? strdup(old) : NULL;
   setenv("HSA_RESERVE_SVM", "1", 1);
   HSAKMT_STATUS status = api->hsaKmtOpenKFD();
   if (saved) {
      setenv("HSA_RESERVE_SVM", saved, 1);
      free(saved);
   } else {
      unsetenv("HSA_RESERVE_SVM");
   }
   return status;
}

/* The DEVICE_SVM bank of the first GPU node is libhsakmt's reserved aperture. */
static bool
find_svm_aperture(struct vkfd_kfd_device *dev)
{
   for (uint32_t node = 0; node < dev->system.NumNodes; node++) {
      uint32_t count = dev->nodes[node].NumMemoryBanks;
      if (!dev->extra[node].gpu_id || !count || count > 64)
         continue;
      HsaMemoryProperties banks[64];
      if (dev->api->hsaKmtGetNodeMemoryProperties(node, count, banks) !=
          HSAKMT_STATUS_SUCCESS)
         continue;
      for (uint32_t i = 0; i < count; i++) {
         if (banks[i].HeapType == HSA_HEAPTYPE_DEVICE_SVM && banks[i].SizeInBytes) {
            dev->va.aperture_base = banks[i].VirtualBaseAddress;
            dev->va.aperture_size = banks[i].SizeInBytes;
            return true;
         }
      }
   }
   return false;
}

static int
device_snapshot(struct vkfd_kfd_device *dev)
{
   const struct vkfd_hsakmt_api *api = dev->api;
   HSAKMT_STATUS status = api->hsaKmtGetVersion(&dev->version);
   if (status == HSAKMT_STATUS_SUCCESS)
      status = api->hsaKmtAcquireSystemProperties(&dev->system);
   if (status != HSAKMT_STATUS_SUCCESS) {
      vkfd_err("KFD: reading the topology failed (status %d)", status);
      return -EIO;
   }
   if (dev->system.NumNodes > VKFD_KFD_MAX_NODES) {
      vkfd_warn("KFD: %u nodes, using the first %d", dev->system.NumNodes,
                VKFD_KFD_MAX_NODES);
      dev->system.NumNodes = VKFD_KFD_MAX_NODES;
   }
   for (uint32_t node = 0; node < dev->system.NumNodes; node++) {
      status = api->hsaKmtGetNodeProperties(node, &dev->nodes[node]);
      if (status != HSAKMT_STATUS_SUCCESS) {
         vkfd_err("KFD: node %u properties failed (status %d)", node, status);
         return -EIO;
      }
      vkfd_kfd_topology_read_extra(node, &dev->extra[node]);
      if (!dev->extra[node].gpu_id && dev->nodes[node].NumFComputeCores &&
          !dev->nodes[node].NumCPUCores)
         dev->extra[node].gpu_id = 1; /* no sysfs: a GPU-only node is a GPU */
   }
   return 0;
}

static int
device_open_locked(struct vkfd_kfd_device *dev)
{
   dev->api = vkfd_hsakmt_load();
   if (!dev->api)
      return -ENODEV;

   enum vkfd_kfd_va_mode mode = va_mode_wanted(dev->api);
   HSAKMT_STATUS status;
   if (mode == VKFD_KFD_VA_RESERVED_SVM) {
      status = open_reserved(dev->api);
      if (status != HSAKMT_STATUS_SUCCESS) {
         /* e.g. under AddressSanitizer, whose shadow memory occupies that range */
         vkfd_warn("KFD: opening with a reserved SVM aperture failed (status %d); "
                   "fixed-address allocations are unavailable",
                   status);
         mode = VKFD_KFD_VA_NONE;
         status = dev->api->hsaKmtOpenKFD();
      }
   } else {
      status = dev->api->hsaKmtOpenKFD();
   }
   if (status != HSAKMT_STATUS_SUCCESS) {
      vkfd_err("KFD: hsaKmtOpenKFD failed (status %d)", status);
      return -ENODEV;
   }

   memset(&dev->va, 0, sizeof(dev->va));
   int ret = device_snapshot(dev);
   if (ret) {
      dev->api->hsaKmtCloseKFD();
      return ret;
   }
   if (mode == VKFD_KFD_VA_RESERVED_SVM && !find_svm_aperture(dev)) {
      vkfd_warn("KFD: no DEVICE_SVM aperture reported; fixed-address allocations are "
                "unavailable");
      mode = VKFD_KFD_VA_NONE;
   }
   dev->va.mode = mode;
   static const char *const mode_names[] = { "unavailable", "native", "reserved SVM" };
   vkfd_info("KFD: opened, interface %u.%u, %u nodes, fixed-address mode: %s%s",
             dev->version.KernelInterfaceMajorVersion,
             dev->version.KernelInterfaceMinorVersion, dev->system.NumNodes,
             mode_names[mode], mode == VKFD_KFD_VA_RESERVED_SVM ? " aperture" : "");
   if (mode == VKFD_KFD_VA_RESERVED_SVM)
      vkfd_info("KFD: SVM aperture 0x%llx+0x%llx",
                (unsigned long long)dev->va.aperture_base,
                (unsigned long long)dev->va.aperture_size);
   return 0;
}

int
vkfd_kfd_device_acquire(void)
{
   if (!vkfd_kfd_available())
      return -ENODEV;
   pthread_mutex_lock(&device.lock);
   int ret = 0;
   if (device.users == 0)
      ret = device_open_locked(&device);
   if (!ret)
      device.users++;
   pthread_mutex_unlock(&device.lock);
   return ret;
}

void
vkfd_kfd_device_release(void)
{
   pthread_mutex_lock(&device.lock);
   if (device.users && --device.users == 0) {
      if (device.runtime_enabled)
         device.api->hsaKmtRuntimeDisable();
      device.runtime_enabled = false;
      device.api->hsaKmtReleaseSystemProperties();
      device.api->hsaKmtCloseKFD();
      vkfd_info("KFD: closed");
   }
   pthread_mutex_unlock(&device.lock);
}

void
vkfd_kfd_version(struct hsakmt_wire_version_info *version)
{
   pthread_mutex_lock(&device.lock);
   version->kernel_interface_major = device.version.KernelInterfaceMajorVersion;
   version->kernel_interface_minor = device.version.KernelInterfaceMinorVersion;
   pthread_mutex_unlock(&device.lock);
}

void
vkfd_kfd_system_properties(struct hsakmt_wire_system_properties *props)
{
   pthread_mutex_lock(&device.lock);
   props->num_nodes = device.system.NumNodes;
   props->platform_oem = device.system.PlatformOem;
   props->platform_id = device.system.PlatformId;
   props->platform_rev = device.system.PlatformRev;
   pthread_mutex_unlock(&device.lock);
}

void
vkfd_kfd_va_info(struct vkfd_kfd_va_info *info)
{
   pthread_mutex_lock(&device.lock);
   *info = device.va;
   pthread_mutex_unlock(&device.lock);
}

uint32_t
vkfd_kfd_node_count(void)
{
   pthread_mutex_lock(&device.lock);
   uint32_t count = device.users ? device.system.NumNodes : 0;
   pthread_mutex_unlock(&device.lock);
   return count;
}

bool
vkfd_kfd_node_is_gpu(uint32_t node)
{
   pthread_mutex_lock(&device.lock);
   bool gpu = device.users && node < device.system.NumNodes && device.extra[node].gpu_id;
   pthread_mutex_unlock(&device.lock);
   return gpu;
}
