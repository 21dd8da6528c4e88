/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * KFD events and the trap handler. Callers (src/hsakmt) have resolved every event
 * through the calling context's own table; this layer only translates.
 */
#include <string.h>

#include "kfd/vkfd_kfd_device.h"

static HsaEvent *
host_event(const struct vkfd_kfd_event *event)
{
   return (HsaEvent *)event;
}

int
vkfd_kfd_event_create(const struct hsakmt_wire_event_descriptor *desc, bool manual_reset,
                      bool is_signaled, struct vkfd_kfd_event **event)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   HsaEventDescriptor host;
   memset(&host, 0, sizeof(host));
   host.EventType = (HSA_EVENTTYPE)desc->event_type;
   host.NodeId = desc->node_id;
   /* a guest pointer libhsakmt copies into the event and never follows */
   host.SyncVar.SyncVar.UserData = (void *)(uintptr_t)desc->sync_var_user_data;
   host.SyncVar.SyncVarSize = desc->sync_var_size;
   HsaEvent *created = NULL;
   int status = KFD_CALL(
      dev, dev->api->hsaKmtCreateEvent(&host, manual_reset, is_signaled, &created));
   if (!status && !created)
      status = HSAKMT_STATUS_ERROR;
   *event = status ? NULL : (struct vkfd_kfd_event *)created;
   return status;
}

void
vkfd_kfd_event_describe(const struct vkfd_kfd_event *event,
                        struct hsakmt_wire_event *wire)
{
   const HsaEvent *ev = host_event(event);
   _Static_assert(sizeof(ev->EventData.EventData) == sizeof(wire->event_data),
                  "HsaEvent's data union is 20 bytes in every layout (§3.10)");
   memset(wire, 0, sizeof(*wire));
   wire->event_id = ev->EventId;
   wire->event_type = ev->EventData.EventType;
   memcpy(wire->event_data, &ev->EventData.EventData, sizeof(wire->event_data));
   wire->hw_data1 = ev->EventData.HWData1;
   wire->hw_data2 = ev->EventData.HWData2;
   wire->hw_data3 = ev->EventData.HWData3;
}

int
vkfd_kfd_event_destroy(struct vkfd_kfd_event *event)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   return KFD_CALL(dev, dev->api->hsaKmtDestroyEvent(host_event(event)));
}

int
vkfd_kfd_event_set(struct vkfd_kfd_event *event)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   return KFD_CALL(dev, dev->api->hsaKmtSetEvent(host_event(event)));
}

int
vkfd_kfd_event_reset(struct vkfd_kfd_event *event)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   return KFD_CALL(dev, dev->api->hsaKmtResetEvent(host_event(event)));
}

int
vkfd_kfd_event_poll(struct vkfd_kfd_event *event)
{
   /* a zero timeout returns at once: the command thread never sleeps here */
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   return KFD_CALL(dev, dev->api->hsaKmtWaitOnEvent(host_event(event), 0));
}

int
vkfd_kfd_set_trap_handler(uint32_t node, uint64_t handler, uint64_t handler_size,
                          uint64_t buffer, uint64_t buffer_size)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   return KFD_CALL(
      dev, dev->api->hsaKmtSetTrapHandler(node, (void *)(uintptr_t)handler, handler_size,
                                          (void *)(uintptr_t)buffer, buffer_size));
}
