/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "hsakmt/hsakmt_export.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "virglrenderer.h"

#include "core/vkfd_resource.h"
#include "hsakmt/hsakmt_buffer.h"
#include "hsakmt/hsakmt_context.h"
#include "hsakmt/hsakmt_memory.h"
#include "kfd/vkfd_kfd.h"
#include "util/vkfd_log.h"

/* Exports the whole allocation once; later calls reuse its dma-buf. */
static int
export_host_mem(struct hsakmt_context *ctx, struct hsakmt_host_mem *mem, const char *what)
{
   if (mem->buffer->dmabuf_fd >= 0)
      return VKFD_STATUS_SUCCESS;
   if (!vkfd_kfd_can_export_dmabuf()) {
      vkfd_err("ctx %u: %s: this libhsakmt cannot export KFD memory as a dma-buf "
               "(hsaKmtExportDMABufHandle arrived after 5.2.3)",
               ctx->base.id, what);
      return VKFD_STATUS_NOT_SUPPORTED;
   }
   uint64_t offset = 0;
   int fd = -1;
   int status =
      vkfd_kfd_export_dmabuf((void *)(uintptr_t)mem->va, mem->size, &fd, &offset);
   if (status) {
      /* amdgpu exports VRAM and GTT buffers; pageable system memory is a userptr */
      vkfd_err("ctx %u: %s: KFD memory 0x%llx+0x%llx (flags 0x%x) cannot be exported as "
               "a dma-buf (status %d)%s",
               ctx->base.id, what, (unsigned long long)mem->va,
               (unsigned long long)mem->size, mem->flags, status,
               (mem->flags & HSAKMT_MEMFLAG_NON_PAGED)
                  ? ""
                  : ": pageable system memory is user memory to the GPU driver, which "
                    "exports no dma-buf of it (allocate NonPaged)");
      return status;
   }
   if (offset) {
      /* the allocation's own VA was asked for: anything else is a library bug */
      vkfd_err("ctx %u: %s: the dma-buf of 0x%llx starts 0x%llx bytes before it",
               ctx->base.id, what, (unsigned long long)mem->va,
               (unsigned long long)offset);
      close(fd);
      return VKFD_STATUS_ERROR;
   }
   mem->buffer->dmabuf_fd = fd;
   return VKFD_STATUS_SUCCESS;
}

void
hsakmt_memory_export_dmabuf(struct hsakmt_request *r)
{
   const struct hsakmt_memory_req *req = r->req;
   struct hsakmt_memory_rsp *rsp = hsakmt_response(r, sizeof(*rsp));
   if (!rsp)
      return;
   /* a host fd number means nothing to the guest and would leak one (§6 #10) */
   rsp->export_dmabuf.dmabuf_fd = -1;
   uint64_t address = req->range.memory_address;
   uint64_t size = req->range.memory_size_in_bytes;
   struct hsakmt_object *obj = hsakmt_memory_find(r->ctx, address, size ? size : 1);
   if (!obj || obj->kind != HSAKMT_OBJECT_HOST_MEM ||
       (req->res_id && obj->res_id != req->res_id)) {
      vkfd_err("ctx %u: MEMORY/EXPORT_DMABUF: 0x%llx+0x%llx (res %u) is not inside one "
               "KFD allocation of this context",
               r->ctx->base.id, (unsigned long long)address, (unsigned long long)size,
               req->res_id);
      rsp->hdr.ret = VKFD_STATUS_INVALID_PARAMETER;
      return;
   }
   struct hsakmt_host_mem *mem = (struct hsakmt_host_mem *)obj;
   rsp->hdr.ret = export_host_mem(r->ctx, mem, "MEMORY/EXPORT_DMABUF");
   if (!rsp->hdr.ret)
      rsp->export_dmabuf.offset = address - mem->va;
}

int
hsakmt_export_prepare(struct hsakmt_context *ctx, struct hsakmt_host_mem *mem,
                      uint32_t res_id)
{
   char what[48];
   snprintf(what, sizeof(what), "res %u: SHAREABLE blob", res_id);
   int status = export_host_mem(ctx, mem, what);
   if (!status)
      return 0;
   return status == VKFD_STATUS_NOT_SUPPORTED ? -EOPNOTSUPP : -EINVAL;
}

int
hsakmt_export_blob(struct vkfd_context *base, struct vkfd_resource *res,
                   uint32_t *fd_type, int *fd)
{
   struct hsakmt_context *ctx = hsakmt_context(base);
   struct hsakmt_host_mem *mem = (struct hsakmt_host_mem *)hsakmt_objects_lookup(
      &ctx->objects, res->id, HSAKMT_OBJECT_HOST_MEM);
   if (!mem) {
      vkfd_debug("export_blob: res %u is no KFD allocation of ctx %u", res->id, base->id);
      return -EINVAL;
   }
   if (!(res->blob_flags & (VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE |
                            VIRGL_RENDERER_BLOB_FLAG_USE_SHAREABLE))) {
      vkfd_err("export_blob: res %u was created neither MAPPABLE nor SHAREABLE", res->id);
      return -EINVAL;
   }
   char what[40];
   snprintf(what, sizeof(what), "export of res %u", res->id);
   int status = export_host_mem(ctx, mem, what);
   if (status)
      return status == VKFD_STATUS_NOT_SUPPORTED ? -EOPNOTSUPP : -EINVAL;
   int copy = fcntl(mem->buffer->dmabuf_fd, F_DUPFD_CLOEXEC, 0);
   if (copy < 0) {
      int err = errno;
      vkfd_err("export_blob: res %u: dup of its dma-buf failed: %s", res->id,
               strerror(err));
      return -err;
   }
   *fd_type = VIRGL_RENDERER_BLOB_FD_TYPE_DMABUF;
   *fd = copy;
   return 0;
}
