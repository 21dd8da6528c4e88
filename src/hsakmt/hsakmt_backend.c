/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The capset-8 backend: capset reporting, context creation and the context's hooks
 * into the core (blobs, detach, iovec release).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "virglrenderer.h"

#include "core/vkfd_backend.h"
#include "core/vkfd_resource.h"
#include "hsakmt/hsakmt_backend.h"
#include "hsakmt/hsakmt_context.h"
#include "hsakmt/hsakmt_export.h"
#include "hsakmt/hsakmt_va.h"
#include "kfd/vkfd_kfd.h"
#include "util/vkfd_log.h"

static struct {
   struct hsakmt_wire_version_info version; /* read at init, for fill_caps */
} backend_state;

static void
hsakmt_get_capset_info(uint32_t *max_version, uint32_t *max_size)
{
   bool available = vkfd_kfd_available();
   *max_version = available ? HSAKMT_CAPSET_VERSION : 0;
   *max_size = available ? sizeof(struct virgl_renderer_capset_hsakmt) : 0;
}

static void
hsakmt_fill_capset(uint32_t version, void *caps)
{
   /* the guest checks only context_type; every version gets the same payload */
   struct virgl_renderer_capset_hsakmt capset = {
      .wire_format_version = HSAKMT_WIRE_FORMAT_VERSION,
      .version_major = backend_state.version.kernel_interface_major,
      .version_minor = backend_state.version.kernel_interface_minor,
      .context_type = HSAKMT_CONTEXT_TYPE_AMDGPU,
   };
   memcpy(caps, &capset, sizeof(capset));
}

static int
hsakmt_init(const struct vkfd_backend_init_args *args)
{
   if (!vkfd_kfd_available())
      return -ENODEV;
   /* open once to prove KFD works here and to learn its interface version */
   int ret = vkfd_kfd_device_acquire();
   if (ret)
      return ret;
   vkfd_kfd_version(&backend_state.version);
   vkfd_kfd_device_release();
   vkfd_info("ROCm capset %u enabled (init flags 0x%x%s)", HSAKMT_CAPSET_ID,
             args->renderer_flags, args->rocm_requested ? ", ROCm requested" : "");
   return 0;
}

static void
hsakmt_context_destroy(struct vkfd_context *base)
{
   struct hsakmt_context *ctx = hsakmt_context(base);
   hsakmt_objects_fini(ctx, &ctx->objects);
   hsakmt_tokens_fini(&ctx->tokens);
   /* blobs the VMM still maps keep their memory, but no longer count for anyone */
   hsakmt_account_fini(&ctx->account);
   hsakmt_va_context_release(ctx);
   hsakmt_shmem_release(ctx);
   free(ctx->req_copy);
   free(ctx->rsp_build);
   if (ctx->kfd_acquired)
      vkfd_kfd_device_release();
   free(ctx);
}

static int
hsakmt_get_blob(struct vkfd_context *base, const struct vkfd_blob_request *request,
                struct vkfd_blob *blob)
{
   struct hsakmt_context *ctx = hsakmt_context(base);
   if (request->blob_id == 0 && request->blob_mem != VIRGL_RENDERER_BLOB_MEM_HOST3D_GUEST)
      return hsakmt_shmem_create(ctx, request, blob);
   if (request->blob_mem == VIRGL_RENDERER_BLOB_MEM_HOST3D_GUEST)
      return hsakmt_userptr_create(ctx, request, blob);
   return hsakmt_objects_claim_blob(ctx, &ctx->objects, request, blob);
}

static void
hsakmt_detach_resource(struct vkfd_context *base, struct vkfd_resource *res)
{
   struct hsakmt_context *ctx = hsakmt_context(base);
   if (ctx->shmem && res->id == ctx->shmem_res_id) {
      hsakmt_shmem_release(ctx);
      return;
   }
   /* host-side teardown of an object happens when its resource goes (§4.1) */
   struct hsakmt_object *obj = hsakmt_objects_unbind(&ctx->objects, res->id);
   if (obj)
      obj->ops->destroy(ctx, obj);
}

static void
hsakmt_release_iovecs(struct vkfd_context *base, struct vkfd_resource *res)
{
   struct hsakmt_context *ctx = hsakmt_context(base);
   struct hsakmt_object *obj =
      hsakmt_objects_lookup(&ctx->objects, res->id, HSAKMT_OBJECT_USERPTR);
   if (obj)
      hsakmt_userptr_release_pages(ctx, obj);
}

static const struct vkfd_context_ops hsakmt_context_ops = {
   .destroy = hsakmt_context_destroy,
   .submit_cmd = hsakmt_transport_submit,
   .get_blob = hsakmt_get_blob,
   .detach_resource = hsakmt_detach_resource,
   .release_iovecs = hsakmt_release_iovecs,
   .export_blob = hsakmt_export_blob,
   /* every command completes inside submit_cmd: all rings retire at once */
   .submit_fence = NULL,
};

static int
hsakmt_context_create(uint32_t ctx_id, const char *name, struct vkfd_context **out)
{
   struct hsakmt_context *ctx = calloc(1, sizeof(*ctx));
   if (!ctx)
      return -ENOMEM;
   vkfd_context_base_init(&ctx->base, &hsakmt_context_ops, HSAKMT_NUM_RINGS);
   hsakmt_objects_init(&ctx->objects);
   hsakmt_tokens_init(&ctx->tokens, 0); /* salted below */
   vkfd_list_init(&ctx->memory);
   vkfd_list_init(&ctx->scratch);
   hsakmt_account_init(&ctx->account, ctx_id);
   /*
    * The salt keeps one context's tokens meaningless in another. Nothing derived from
    * a host address may stand in for it: without randomness, no context.
    */
   if (getrandom(&ctx->token_salt, sizeof(ctx->token_salt), GRND_NONBLOCK) !=
       sizeof(ctx->token_salt)) {
      int err = errno == EAGAIN ? EAGAIN : EIO;
      vkfd_err("ctx %u (%s): no random bytes for its handle salt (getrandom: %s)", ctx_id,
               name, strerror(errno));
      hsakmt_context_destroy(&ctx->base);
      return -err;
   }
   ctx->tokens.salt = ctx->token_salt;
   int ret = vkfd_kfd_device_acquire();
   if (ret) {
      vkfd_err("ctx %u (%s): KFD unavailable: %s", ctx_id, name, strerror(-ret));
      hsakmt_context_destroy(&ctx->base);
      return ret;
   }
   ctx->kfd_acquired = true;
   *out = &ctx->base;
   return 0;
}

const struct vkfd_backend hsakmt_backend = {
   .capset_id = HSAKMT_CAPSET_ID,
   .name = "hsakmt (ROCm)",
   .get_capset_info = hsakmt_get_capset_info,
   .fill_capset = hsakmt_fill_capset,
   .init = hsakmt_init,
   .context_create = hsakmt_context_create,
};
