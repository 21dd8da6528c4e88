/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "hsakmt_interop.h"

#include <errno.h>
#include <string.h>

#include "hsakmt/hsakmt_context.h"
#include "hsakmt/hsakmt_memory.h"
#include "kfd/vkfd_kfd.h"
#include "util/vkfd_log.h"

static struct hsakmt_memory_rsp *
memory_rsp(struct hsakmt_request *r)
{
   return hsakmt_response(r, sizeof(struct hsakmt_memory_rsp));
}

void
hsakmt_memory_share(struct hsakmt_request *r)
{
   const struct hsakmt_memory_req *req = r->req;
   struct hsakmt_memory_rsp *rsp = memory_rsp(r);
   if (!rsp)
      return;
   uint64_t address = req->range.memory_address, size = req->range.memory_size_in_bytes;
   struct hsakmt_object *obj = size ? hsakmt_memory_find(r->ctx, address, size) : NULL;
   if (!obj || obj->kind != HSAKMT_OBJECT_HOST_MEM ||
       (req->res_id && obj->res_id != req->res_id)) {
      vkfd_err(
         "ctx %u: MEMORY/SHARE_MEMORY: 0x%llx+0x%llx (res %u) is not inside one KFD "
         "allocation of this context",
         r->ctx->base.id, (unsigned long long)address, (unsigned long long)size,
         req->res_id);
      rsp->hdr.ret = VKFD_STATUS_INVALID_PARAMETER;
      return;
   }
   /* libhsakmt exports the whole allocation the range lies in */
   const struct hsakmt_host_mem *mem = (const struct hsakmt_host_mem *)obj;
   int status =
      vkfd_kfd_share_memory((void *)(uintptr_t)mem->va, mem->size, rsp->share_memory);
   if (status) {
      vkfd_err("ctx %u: MEMORY/SHARE_MEMORY: hsaKmtShareMemory failed (status %d); it "
               "needs the KFD IPC export ioctl, which only ROCm's DKMS driver has",
               r->ctx->base.id, status);
      memset(rsp->share_memory, 0, sizeof(rsp->share_memory));
   }
   rsp->hdr.ret = status;
}

void
hsakmt_memory_register_shared_handle(struct hsakmt_request *r)
{
   /* the import would land where libhsakmt chooses, outside the window, and the guest
    * maps its blob MAP_FIXED there (§6.2 row 17) */
   vkfd_err("ctx %u: MEMORY/REGISTER_SHARED_HANDLE is not supported on this host: "
            "hsaKmtRegisterSharedHandleToNodes has no fixed-address form, so the import "
            "cannot be placed in the context's window",
            r->ctx->base.id);
   struct hsakmt_memory_rsp *rsp = memory_rsp(r);
   if (rsp)
      rsp->hdr.ret = VKFD_STATUS_NOT_SUPPORTED;
}

void
hsakmt_memory_svm_attr(struct hsakmt_request *r)
{
   const struct hsakmt_memory_req *req = r->req;
   vkfd_err("ctx %u: MEMORY/SVM_%s_ATTR is not supported: SVM is not offered to guests "
            "(GET_NODE_PROP reports SVMAPISupported 0)",
            r->ctx->base.id, req->type == HSAKMT_MEMORY_SVM_GET_ATTR ? "GET" : "SET");
   struct hsakmt_memory_rsp *rsp = memory_rsp(r);
   if (rsp)
      rsp->hdr.ret = VKFD_STATUS_NOT_SUPPORTED;
}

void
hsakmt_memory_amdgpu(struct hsakmt_request *r)
{
   /*
    * Every amdgpu BO command works on an import of a dma-buf the guest exported first
    * (EXPORT_DMABUF, §4.7), into the KFD process's GPU VM through the libdrm device of
    * hsaKmtGetAMDGPUDeviceHandle. This host exports no dma-buf to guests, so nothing
    * is ever imported: libdrm convention, a negative errno.
    */
   static const char *const names[] = {
      [HSAKMT_MEMORY_AMDGPU_IMPORT] = "AMDGPU_IMPORT",
      [HSAKMT_MEMORY_AMDGPU_EXPORT] = "AMDGPU_EXPORT",
      [HSAKMT_MEMORY_AMDGPU_VA_OP] = "AMDGPU_VA_OP",
      [HSAKMT_MEMORY_AMDGPU_BO_FREE] = "AMDGPU_BO_FREE",
      [HSAKMT_MEMORY_AMDGPU_BO_QUERY_INFO] = "AMDGPU_BO_QUERY_INFO",
      [HSAKMT_MEMORY_AMDGPU_BO_SET_METADATA] = "AMDGPU_BO_SET_METADATA",
   };
   uint32_t type = ((const struct hsakmt_memory_req *)r->req)->type;
   vkfd_err("ctx %u: MEMORY/%s is not supported on this host: amdgpu BO commands need "
            "an imported dma-buf of KFD memory, and this host exports none to guests "
            "(EXPORT_DMABUF is not served)",
            r->ctx->base.id, names[type]);
   struct hsakmt_memory_rsp *rsp = memory_rsp(r);
   if (rsp)
      rsp->hdr.ret = -ENOSYS;
}

void
hsakmt_gl_inter(struct hsakmt_request *r)
{
   const struct hsakmt_gl_inter_req *req = r->req;
   if (req->type == HSAKMT_GL_INTER_REG_GHD_TO_NODES) {
      /* CL-GL interop registers a dma-buf of a foreign graphics resource (§2.6) */
      vkfd_err(
         "ctx %u: GL_INTER/REG_GHD_TO_NODES (res %u) is not supported on this host: "
         "it imports no graphics resources from other contexts to register",
         r->ctx->base.id, req->res_handle);
      struct hsakmt_gl_inter_rsp *rsp = hsakmt_response(r, sizeof(*rsp));
      if (rsp)
         rsp->hdr.ret = VKFD_STATUS_NOT_SUPPORTED;
      return;
   }
   static const struct hsakmt_subcommand gl_table[HSAKMT_GL_INTER_COUNT] = {
      [HSAKMT_GL_INTER_REG_GHD_TO_NODES] = { "REG_GHD_TO_NODES", NULL },
   };
   hsakmt_dispatch_subcommand(r, "GL_INTER", gl_table, HSAKMT_GL_INTER_COUNT, req->type,
                              sizeof(struct hsakmt_gl_inter_rsp));
}
