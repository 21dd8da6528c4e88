/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Test-only debug commands (--debug-commands) for a client that plays a guest running
 * compute on the KFD emulator:
 *
 * - VIRTKFD_DEBUG_MAP_BLOB stands in for what a VMM does with a host-VA blob (KFD
 *   memory, a doorbell page): it maps the blob through the public API, as QEMU does
 *   for its hostmem BAR, and, since a mapping cannot cross processes, hands the
 *   client the emulator's file and offset behind it. The client's writes are then the
 *   very memory the GPU (the emulator) reads. It gives the client the whole of the
 *   emulator's device memory: never enable it outside tests.
 * - VIRTKFD_DEBUG_QUEUE_RUN lets the emulator's command processor take the packets of
 *   the AQL queue at a ring, and answers what it saw.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "virglrenderer.h"
#include "vtest_server.h"

/* The layout of kfdsim.h's struct kfdsim_cp_report (the server never includes it). */
struct cp_report {
   uint64_t doorbell;
   uint64_t read_index;
   uint32_t packets;
   uint32_t signals_completed;
   uint32_t events_raised;
   uint8_t last_packet[64];
};

static bool
map_blob_reply(struct vtest_client *client, uint32_t status, uint64_t offset,
               uint64_t size, int fd)
{
   uint32_t reply[5] = { status, (uint32_t)offset, (uint32_t)(offset >> 32),
                         (uint32_t)size, (uint32_t)(size >> 32) };
   bool ok = vtest_reply(client, VCMD_VIRTKFD_DEBUG_MAP_BLOB, reply, 5) == 0;
   if (fd >= 0)
      ok = (vtest_reply_fd(client, fd) == 0) & ok; /* the queue closes it */
   return ok;
}

bool
vtest_cmd_debug_map_blob(struct vtest_client *client, const uint32_t *payload,
                         uint32_t len, int unused)
{
   int (*share)(const void *, size_t, int *, uint64_t *) = (int (*)(
      const void *, size_t, int *, uint64_t *))vtest_kfdsim_symbol("kfdsim_share_range");
   struct vtest_resource *res = vtest_resource_find(client, payload[0]);
   if (!res || res->blob_mem != VCMD_BLOB_TYPE_HOST3D)
      return map_blob_reply(client, EINVAL, 0, 0, -1);
   if (!share || !vtest_kfd_emulated())
      return map_blob_reply(client, ENODEV, 0, 0, -1);
   /* mapped once, as a VMM maps a blob, and unmapped before its unref */
   void *map = NULL;
   uint64_t size = 0;
   if (res->library_mapped)
      virgl_renderer_resource_unmap(res->res_id);
   res->library_mapped = false;
   int ret = virgl_renderer_resource_map(res->res_id, &map, &size);
   if (ret)
      return map_blob_reply(client, (uint32_t)-ret, 0, 0, -1);
   res->library_mapped = true;
   int fd = -1;
   uint64_t offset = 0;
   ret = share(map, (size_t)size, &fd, &offset);
   if (ret)
      return map_blob_reply(client, (uint32_t)-ret, 0, 0, -1);
   return map_blob_reply(client, 0, offset, size, fd);
}

bool
vtest_cmd_debug_queue_run(struct vtest_client *client, const uint32_t *payload,
                          uint32_t len, int unused)
{
   int (*find)(uint64_t, uint32_t *) =
      (int (*)(uint64_t, uint32_t *))vtest_kfdsim_symbol("kfdsim_queue_find");
   int (*run)(uint32_t, struct cp_report *) =
      (int (*)(uint32_t, struct cp_report *))vtest_kfdsim_symbol("kfdsim_queue_run");
   uint32_t reply[VTEST_QUEUE_RUN_SIZE] = { 0 };
   uint32_t queue = 0;
   struct cp_report report;
   int ret = -ENODEV;
   if (find && run && vtest_kfd_emulated()) {
      ret = find(vtest_u64(payload), &queue);
      if (!ret)
         ret = run(queue, &report);
   }
   reply[VTEST_QUEUE_RUN_STATUS] = (uint32_t)-ret;
   if (!ret) {
      reply[VTEST_QUEUE_RUN_DOORBELL] = (uint32_t)report.doorbell;
      reply[VTEST_QUEUE_RUN_DOORBELL + 1] = (uint32_t)(report.doorbell >> 32);
      reply[VTEST_QUEUE_RUN_READ_INDEX] = (uint32_t)report.read_index;
      reply[VTEST_QUEUE_RUN_READ_INDEX + 1] = (uint32_t)(report.read_index >> 32);
      reply[VTEST_QUEUE_RUN_PACKETS] = report.packets;
      reply[VTEST_QUEUE_RUN_SIGNALS] = report.signals_completed;
      reply[VTEST_QUEUE_RUN_EVENTS] = report.events_raised;
      memcpy(&reply[VTEST_QUEUE_RUN_PACKET], report.last_packet,
             sizeof(report.last_packet));
   }
   return vtest_reply(client, VCMD_VIRTKFD_DEBUG_QUEUE_RUN, reply,
                      VTEST_QUEUE_RUN_SIZE) == 0;
}
