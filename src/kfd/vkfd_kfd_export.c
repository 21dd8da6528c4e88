/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * dma-buf export of KFD memory (hsaKmtExportDMABufHandle, libhsakmt of ROCm 5.3 and
 * later on KFD 1.12 and later). Debian's 5.2.3 has no such call: the answer is
 * NOT_SUPPORTED, and the callers say why.
 */
#include <errno.h>
#include <fcntl.h>

#include "kfd/vkfd_kfd_device.h"
#include "util/vkfd_log.h"

bool
vkfd_kfd_can_export_dmabuf(void)
{
   const struct vkfd_hsakmt_api *api = vkfd_hsakmt_load();
   return api && api->hsaKmtExportDMABufHandle;
}

int
vkfd_kfd_export_dmabuf(void *address, uint64_t size, int *fd, uint64_t *offset)
{
   struct vkfd_kfd_device *dev = vkfd_kfd_device_get();
   int dmabuf = -1;
   HSAuint64 where = 0;

   pthread_mutex_lock(&dev->lock);
   int status = HSAKMT_STATUS_SUCCESS;
   if (!dev->users)
      status = HSAKMT_STATUS_KERNEL_IO_CHANNEL_NOT_OPENED;
   else if (!dev->api->hsaKmtExportDMABufHandle)
      status = HSAKMT_STATUS_NOT_SUPPORTED;
   else
      status = dev->api->hsaKmtExportDMABufHandle(address, size, &dmabuf, &where);
   pthread_mutex_unlock(&dev->lock);
   if (status)
      return status;
   /* libhsakmt asks KFD for O_CLOEXEC; a VMM must never leak it into a child */
   int flags = fcntl(dmabuf, F_GETFD);
   if (flags < 0 ||
       (!(flags & FD_CLOEXEC) && fcntl(dmabuf, F_SETFD, flags | FD_CLOEXEC))) {
      vkfd_err("KFD: the dma-buf of %p is not a usable fd (%d)", address, dmabuf);
      return HSAKMT_STATUS_ERROR;
   }
   *fd = dmabuf;
   *offset = where;
   return HSAKMT_STATUS_SUCCESS;
}
