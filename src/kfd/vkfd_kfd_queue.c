/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * User-mode queues. Callers (src/hsakmt) have checked every address against the
 * calling context's own objects; this layer only translates.
 */
#include <string.h>

#include "kfd/vkfd_kfd_device.h"

int
vkfd_kfd_queue_create(const struct vkfd_kfd_queue_request *request, uint64_t *id,
                      uint64_t *doorbell)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   HsaQueueResource resource;
   memset(&resource, 0, sizeof(resource));
   /* AQL: the read and write dispatch ids live in the guest's own KFD memory */
   resource.QueueWptrValue = request->write_ptr;
   resource.QueueRptrValue = request->read_ptr;
   /* ErrorReason stays NULL: the protocol does not carry it (§2.5) */
   int status = KFD_CALL(
      dev, dev->api->hsaKmtCreateQueue(
              request->node, (HSA_QUEUE_TYPE)request->type, request->percentage,
              (HSA_QUEUE_PRIORITY)request->priority, (void *)(uintptr_t)request->ring,
              request->ring_size, (HsaEvent *)request->event, &resource));
   if (status)
      return status;
   *id = resource.QueueId;
   *doorbell = resource.QueueDoorBell;
   return HSAKMT_STATUS_SUCCESS;
}

int
vkfd_kfd_queue_destroy(uint64_t id)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   return KFD_CALL(dev, dev->api->hsaKmtDestroyQueue(id));
}

int
vkfd_kfd_queue_update(uint64_t id, uint32_t percentage, int32_t priority, uint64_t ring,
                      uint64_t ring_size)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   return KFD_CALL(
      dev, dev->api->hsaKmtUpdateQueue(id, percentage, (HSA_QUEUE_PRIORITY)priority,
                                       (void *)(uintptr_t)ring, ring_size, NULL));
}

int
vkfd_kfd_queue_info(uint64_t id, struct hsakmt_wire_queue_info *info)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   HsaQueueInfo host;
   memset(&host, 0, sizeof(host));
   int status = KFD_CALL(dev, dev->api->hsaKmtGetQueueInfo(id, &host));
   memset(info, 0, sizeof(*info));
   if (status)
      return status;
   /* numbers only: the pointers are host addresses of libhsakmt's CWSR area */
   info->queue_detail_error = host.QueueDetailError;
   info->queue_type_extended = host.QueueTypeExtended;
   info->num_cu_assigned = host.NumCUAssigned;
   info->save_area_size_in_bytes = host.SaveAreaSizeInBytes;
   info->control_stack_used_in_bytes = host.ControlStackUsedInBytes;
   return HSAKMT_STATUS_SUCCESS;
}

int
vkfd_kfd_queue_cu_mask(uint64_t id, uint32_t bits, const uint32_t *mask)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   return KFD_CALL(dev, dev->api->hsaKmtSetQueueCUMask(id, bits, (HSAuint32 *)mask));
}
