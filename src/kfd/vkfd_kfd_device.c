/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Opening and closing the KFD device, and choosing how fixed-address allocations are
 * placed. libhsakmt before ROCm 5.7 cannot allocate at a fixed address in its default
 * "mmap aperture" mode; with HSA_RESERVE_SVM=1 in the environment at hsaKmtOpenKFD it
 * reserves an SVM aperture (reported as the GPU's DEVICE_SVM memory bank) in which
 * fixed allocations work. The mode is chosen at run time and logged; the variable is
 * written only when no other thread can read the environment (reserve_env_begin).
 */
#include "vkfd_kfd_device.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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
   if (!api->hsaKmtAllocMemoryAlign)
      return VKFD_KFD_VA_RESERVED_SVM;
   /*
    * Measured with 6.2.4: given HSA_RESERVE_SVM, it reserves the aperture anyway and
    * then loses track of fixed allocations outside it (they cannot be freed).
    */
   const char *reserve = getenv("HSA_RESERVE_SVM");
   if (reserve && strcmp(reserve, "0")) {
      vkfd_info("KFD: HSA_RESERVE_SVM=%s in the environment: fixed addresses go inside "
                "libhsakmt's reserved SVM aperture",
                reserve);
      return VKFD_KFD_VA_RESERVED_SVM;
   }
   return VKFD_KFD_VA_NATIVE;
}

/*
 * libhsakmt before ROCm 5.7 reserves its SVM aperture only when HSA_RESERVE_SVM is
 * non-zero in the environment while it opens KFD and takes its topology snapshot.
 * Writing the environment races with every other thread's getenv (glibc's setenv
 * may move the array a concurrent getenv is reading), and a VMM has threads by the
 * time it initialises its renderer. So virtkfd writes the variable only while the
 * process has a single thread, and removes it again before it returns; otherwise
 * the VMM's own environment decides, and the log says what to set.
 */
enum reserve_env {
   RESERVE_ENV_GIVEN,  /* the process's environment has it: left alone */
   RESERVE_ENV_SET,    /* set here, single-threaded: to be removed */
   RESERVE_ENV_ABSENT, /* not set, and not settable safely */
};

static bool
process_is_single_threaded(void)
{
   FILE *status = fopen("/proc/self/status", "re");
   if (!status)
      return false;
   char line[128];
   long threads = 0;
   while (fgets(line, sizeof(line), status)) {
      if (!strncmp(line, "Threads:", 8)) {
         threads = strtol(line + 8, NULL, 10);
         break;
      }
   }
   fclose(status);
   return threads == 1;
}

static enum reserve_env
reserve_env_begin(void)
{
   const char *given = getenv("HSA_RESERVE_SVM");
   if (given) {
      if (!strcmp(given, "0"))
         vkfd_warn("KFD: HSA_RESERVE_SVM=0 in the environment: this libhsakmt then "
                   "reserves no SVM aperture and places no fixed addresses");
      return RESERVE_ENV_GIVEN;
   }
   if (process_is_single_threaded()) {
      setenv("HSA_RESERVE_SVM", "1", 1);
      return RESERVE_ENV_SET;
   }
   vkfd_warn("KFD: this libhsakmt (before ROCm 5.7) places fixed addresses only with "
             "HSA_RESERVE_SVM=1 in the environment, and virtkfd does not write the "
             "environment of a process whose other threads may read it: start the VMM "
             "with HSA_RESERVE_SVM=1 in its environment");
   return RESERVE_ENV_ABSENT;
}

static void
reserve_env_end(enum reserve_env state)
{
   if (state != RESERVE_ENV_SET)
      return;
   /* libhsakmt starts no thread; should one exist now, leaving "1" is the safe side */
   if (process_is_single_threaded())
      unsetenv("HSA_RESERVE_SVM");
   else
      vkfd_info("KFD: a thread appeared while KFD opened; HSA_RESERVE_SVM=1 stays set");
}

/* The DEVICE_SVM bank of the first GPU node is libhsakmt's reserved aperture. */
static bool
find_svm_aperture(struct vkfd_kfd_device *dev)
{
   for (uint32_t node = 0; node < dev->system.NumNodes; node++) {
      uint32_t count = dev->nodes[node].NumMemoryBanks;
      if (!dev->extra[node].gpu_id || !count || count > 64)
         continue;
      HsaMemoryProperties *banks = calloc(1, VKFD_KFD_OUT_ROOM(count, *banks));
      if (!banks)
         continue;
      if (dev->api->hsaKmtGetNodeMemoryProperties(node, count, banks) !=
          HSAKMT_STATUS_SUCCESS) {
         free(banks);
         continue;
      }
      bool found = false;
      for (uint32_t i = 0; !found && i < count; i++) {
         if (banks[i].HeapType == HSA_HEAPTYPE_DEVICE_SVM && banks[i].SizeInBytes) {
            dev->va.aperture_base = banks[i].VirtualBaseAddress;
            dev->va.aperture_size = banks[i].SizeInBytes;
            found = true;
         }
      }
      free(banks);
      if (found)
         return true;
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
      union {
         HsaNodeProperties props;
         uint8_t room[VKFD_KFD_OUT_ROOM(1, HsaNodeProperties)];
      } out;
      memset(&out, 0, sizeof(out));
      status = api->hsaKmtGetNodeProperties(node, &out.props);
      dev->nodes[node] = out.props;
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
   enum reserve_env env = RESERVE_ENV_GIVEN;
   if (mode == VKFD_KFD_VA_RESERVED_SVM) {
      env = reserve_env_begin();
      if (env == RESERVE_ENV_ABSENT)
         mode = VKFD_KFD_VA_NONE;
   }
   HSAKMT_STATUS status = dev->api->hsaKmtOpenKFD();
   if (status != HSAKMT_STATUS_SUCCESS && mode == VKFD_KFD_VA_RESERVED_SVM) {
      /* e.g. under AddressSanitizer, whose shadow memory occupies that range */
      vkfd_warn("KFD: opening with a reserved SVM aperture failed (status %d); "
                "fixed-address allocations are unavailable",
                status);
      mode = VKFD_KFD_VA_NONE;
      reserve_env_end(env);
      env = RESERVE_ENV_GIVEN;
      status = dev->api->hsaKmtOpenKFD();
   }
   if (status != HSAKMT_STATUS_SUCCESS) {
      reserve_env_end(env);
      vkfd_err("KFD: hsaKmtOpenKFD failed (status %d)", status);
      return -ENODEV;
   }

   memset(&dev->va, 0, sizeof(dev->va));
   /* newer libraries set up their apertures in the snapshot: keep the variable */
   int ret = device_snapshot(dev);
   reserve_env_end(env);
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
