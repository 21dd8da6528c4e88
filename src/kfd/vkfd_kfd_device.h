/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The process-wide KFD device state, private to src/kfd.
 */
#ifndef VKFD_KFD_DEVICE_H
#define VKFD_KFD_DEVICE_H

#include <pthread.h>

#include "kfd/vkfd_kfd.h"
#include "kfd/vkfd_kfd_loader.h"

#define VKFD_KFD_MAX_NODES 64

/*
 * Bytes to hand libhsakmt for `count` structs it fills. Later libhsakmt versions grow
 * some of them (HsaNodeProperties from 356 to 396 bytes, HsaCacheProperties to 1060,
 * HsaIoLinkProperties to 52), so every such buffer has twice the room the compiled
 * header asks for: a newer library cannot write past it. (Its fields are still read
 * in the layout of the header virtkfd was built with.)
 */
#define VKFD_KFD_OUT_ROOM(count, type) ((size_t)(count) * sizeof(type) * 2 + 1024)

/* Extra per-node facts libhsakmt 5.2.3 does not report, read from the KFD sysfs. */
struct vkfd_kfd_node_extra {
   uint32_t gpu_id;
   uint32_t num_xcc;
   uint32_t family_id;
   uint32_t capability2;
};

/* One per process; `lock` guards everything here and serialises libhsakmt calls. */
struct vkfd_kfd_device {
   pthread_mutex_t lock;
   const struct vkfd_hsakmt_api *api;
   unsigned users;
   bool runtime_enabled;
   HsaVersionInfo version;
   HsaSystemProperties system;
   HsaNodeProperties nodes[VKFD_KFD_MAX_NODES];
   struct vkfd_kfd_node_extra extra[VKFD_KFD_MAX_NODES];
   struct vkfd_kfd_va_info va;
};

struct vkfd_kfd_device *vkfd_kfd_device_get(void);

/* Runs `call` with the device lock held, or fails when the device is closed. */
#define KFD_CALL(dev, call)                                                       \
   ({                                                                             \
      pthread_mutex_lock(&(dev)->lock);                                           \
      int status_ =                                                               \
         (dev)->users ? (int)(call) : HSAKMT_STATUS_KERNEL_IO_CHANNEL_NOT_OPENED; \
      pthread_mutex_unlock(&(dev)->lock);                                         \
      status_;                                                                    \
   })

/* Reads gpu_id and the properties 5.2.3 lacks for `node` from sysfs. */
void vkfd_kfd_topology_read_extra(uint32_t node, struct vkfd_kfd_node_extra *extra);

/* The guest receives the host library's status values unchanged. */
_Static_assert((int)HSAKMT_STATUS_INVALID_NODE_UNIT ==
                     (int)VKFD_STATUS_INVALID_NODE_UNIT &&
                  (int)HSAKMT_STATUS_NOT_SUPPORTED == (int)VKFD_STATUS_NOT_SUPPORTED &&
                  (int)HSAKMT_STATUS_WAIT_TIMEOUT == (int)VKFD_STATUS_WAIT_TIMEOUT &&
                  (int)HSAKMT_STATUS_MEMORY_ALIGNMENT ==
                     (int)VKFD_STATUS_MEMORY_ALIGNMENT,
               "HSAKMT_STATUS values");

#endif /* VKFD_KFD_DEVICE_H */
