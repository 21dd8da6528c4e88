/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "hsakmt_buffer.h"

#include <stdlib.h>
#include <unistd.h>

#include "hsakmt/hsakmt_context.h"
#include "hsakmt/hsakmt_va.h"
#include "kfd/vkfd_kfd.h"
#include "util/vkfd_log.h"
#include "util/vkfd_math.h"

static void
buffer_backing_release(struct vkfd_blob_backing *backing)
{
   hsakmt_buffer_free(vkfd_container_of(backing, struct hsakmt_buffer, backing));
}

int
hsakmt_buffer_alloc(struct hsakmt_context *ctx, uint32_t node, uint64_t size,
                    uint64_t alignment, uint32_t host_flags, struct hsakmt_buffer **out)
{
   *out = NULL;
   struct hsakmt_buffer *buffer = calloc(1, sizeof(*buffer));
   if (!buffer)
      return VKFD_STATUS_NO_MEMORY;
   buffer->backing.release = buffer_backing_release;
   buffer->dmabuf_fd = -1;
   buffer->node = node;
   buffer->size = size;
   buffer->window_size = size;
   /* libhsakmt maps AQL queue memory twice, back to back, for ring wrap-around */
   if ((host_flags & HSAKMT_MEMFLAG_AQL_QUEUE_MEM) &&
       vkfd_ckd_mul(&buffer->window_size, size, (uint64_t)2)) {
      free(buffer);
      return VKFD_STATUS_INVALID_PARAMETER;
   }

   /* VRAM counts against the node's memory; anything else is the host's */
   bool vram = vkfd_kfd_node_is_gpu(node) && (host_flags & HSAKMT_MEMFLAG_NON_PAGED);
   struct hsakmt_charge request = {
      .window = buffer->window_size,
      .vram = vram ? size : 0,
      .vram_node = node,
      .sysmem = vram ? 0 : size,
   };
   int status =
      hsakmt_account_charge(&ctx->account, &buffer->charge, &request, "MEMORY/ALLOC");
   if (status) {
      free(buffer);
      return status;
   }
   if (vkfd_kfd_device_acquire()) {
      hsakmt_charge_release(&buffer->charge);
      free(buffer);
      return VKFD_STATUS_KERNEL_IO_CHANNEL_NOT_OPENED;
   }
   status = hsakmt_va_alloc(buffer->window_size, alignment, &buffer->va);
   if (!status) {
      status =
         vkfd_kfd_alloc_fixed(node, size, host_flags, (void *)(uintptr_t)buffer->va);
      if (status) {
         vkfd_err("ctx %u: MEMORY/ALLOC: %llu bytes on node %u at 0x%llx failed "
                  "(status %d)",
                  ctx->base.id, (unsigned long long)size, node,
                  (unsigned long long)buffer->va, status);
         hsakmt_va_free(buffer->va, buffer->window_size);
      }
   }
   if (status) {
      vkfd_kfd_device_release();
      hsakmt_charge_release(&buffer->charge);
      free(buffer);
      return status;
   }
   *out = buffer;
   return VKFD_STATUS_SUCCESS;
}

void
hsakmt_buffer_pin(struct hsakmt_buffer *buffer)
{
   buffer->queue_pins++;
}

void
hsakmt_buffer_unpin(struct hsakmt_buffer *buffer)
{
   if (--buffer->queue_pins)
      return;
   void *address = (void *)(uintptr_t)buffer->va;
   if (buffer->unmap_deferred && !buffer->gpu_may_hold) {
      buffer->unmap_deferred = false;
      if (vkfd_kfd_unmap_from_gpu(address)) {
         vkfd_err("KFD memory %p: GPU unmap after its last queue failed", address);
         buffer->gpu_may_hold = true;
      }
   }
   if (buffer->free_deferred)
      hsakmt_buffer_free(buffer);
}

void
hsakmt_buffer_free(struct hsakmt_buffer *buffer)
{
   if (!buffer)
      return;
   if (buffer->queue_pins) {
      /* a queue still runs on it: the last unpin frees it */
      buffer->free_deferred = true;
      return;
   }
   /* the VMM or a vtest client keeps its own dup of the dma-buf if it took one */
   if (buffer->dmabuf_fd >= 0)
      close(buffer->dmabuf_fd);
   buffer->dmabuf_fd = -1;
   void *address = (void *)(uintptr_t)buffer->va;
   int status = VKFD_STATUS_ERROR;
   if (!buffer->gpu_may_hold) {
      status = vkfd_kfd_free(address, buffer->size);
      if (status)
         vkfd_err("KFD memory %p+0x%llx: free failed (status %d)", address,
                  (unsigned long long)buffer->size, status);
   }
   if (status) {
      /* KFD or the GPU may still hold the range: never hand it out again */
      vkfd_err("KFD memory %p+0x%llx stays allocated and its VA range stays out of "
               "the window, because the GPU may still reach it",
               address, (unsigned long long)buffer->size);
   } else {
      hsakmt_va_free(buffer->va, buffer->window_size);
   }
   hsakmt_charge_release(&buffer->charge);
   vkfd_kfd_device_release();
   free(buffer);
}
