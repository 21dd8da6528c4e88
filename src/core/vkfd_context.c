/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "vkfd_context.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virglrenderer.h"

#include "core/vkfd_backend.h"
#include "core/vkfd_renderer.h"
#include "core/vkfd_resource.h"
#include "util/vkfd_log.h"

void
vkfd_context_base_init(struct vkfd_context *ctx, const struct vkfd_context_ops *ops,
                       uint32_t num_rings)
{
   memset(ctx, 0, sizeof(*ctx));
   ctx->ops = ops;
   ctx->num_rings = num_rings > VKFD_MAX_RINGS ? VKFD_MAX_RINGS : num_rings;
   vkfd_list_init(&ctx->attachments);
}

struct vkfd_context *
vkfd_context_lookup(struct vkfd_renderer *renderer, uint32_t ctx_id)
{
   return vkfd_hash_lookup(&renderer->contexts, ctx_id);
}

/* The VMM's name is `name_len` bytes, not terminated; keep a printable prefix. */
static void
copy_debug_name(char *dst, size_t dst_size, const char *name, size_t name_len)
{
   size_t n = 0;
   if (name) {
      for (; n < name_len && n + 1 < dst_size && name[n]; n++)
         dst[n] = (name[n] >= 0x20 && name[n] < 0x7f) ? name[n] : '?';
   }
   dst[n] = '\0';
}

int
vkfd_context_create(struct vkfd_renderer *renderer, uint32_t ctx_id, uint32_t ctx_flags,
                    const char *name, size_t name_len)
{
   uint32_t capset_id = ctx_flags & VIRGL_RENDERER_CONTEXT_FLAG_CAPSET_ID_MASK;

   if (!renderer->initialized) {
      vkfd_err("context_create: ctx %u: renderer not initialised", ctx_id);
      return EINVAL;
   }
   if (ctx_id == 0) {
      vkfd_err("context_create: context id 0 is reserved");
      return EINVAL;
   }
   if (ctx_flags & ~VIRGL_RENDERER_CONTEXT_FLAG_CAPSET_ID_MASK) {
      vkfd_err("context_create: ctx %u: unknown flag bits 0x%x", ctx_id,
               ctx_flags & ~VIRGL_RENDERER_CONTEXT_FLAG_CAPSET_ID_MASK);
      return EINVAL;
   }

   struct vkfd_context *existing = vkfd_context_lookup(renderer, ctx_id);
   if (existing) {
      if (existing->capset_id == capset_id)
         return 0;
      vkfd_err("context_create: ctx %u exists with capset %u, not %u", ctx_id,
               existing->capset_id, capset_id);
      return EINVAL;
   }

   const struct vkfd_backend *backend = vkfd_backend_find(capset_id);
   if (!backend || !vkfd_backend_is_ready(capset_id)) {
      vkfd_err("context_create: ctx %u: capset %u is not available%s", ctx_id, capset_id,
               backend ? " (its backend failed to initialise)" : "");
      return EINVAL;
   }

   char debug_name[sizeof(existing->name)];
   copy_debug_name(debug_name, sizeof(debug_name), name, name_len);

   struct vkfd_context *ctx = NULL;
   int ret = backend->context_create(ctx_id, debug_name, &ctx);
   if (ret || !ctx) {
      vkfd_err("context_create: ctx %u (%s): %s backend failed: %s", ctx_id, debug_name,
               backend->name, strerror(ret ? -ret : EIO));
      return ENOMEM;
   }
   ctx->id = ctx_id;
   ctx->capset_id = capset_id;
   ctx->renderer = renderer;
   memcpy(ctx->name, debug_name, sizeof(ctx->name));

   if (vkfd_hash_insert(&renderer->contexts, ctx_id, ctx)) {
      ctx->ops->destroy(ctx);
      return ENOMEM;
   }
   vkfd_info("context %u (%s) created with capset %u", ctx_id, debug_name, capset_id);
   return 0;
}

bool
vkfd_context_is_attached(const struct vkfd_context *ctx, const struct vkfd_resource *res)
{
   for (struct vkfd_list *it = res->attachments.next; it != &res->attachments;
        it = it->next) {
      struct vkfd_attachment *att =
         vkfd_container_of(it, struct vkfd_attachment, res_link);
      if (att->ctx == ctx)
         return true;
   }
   return false;
}

int
vkfd_context_attach(struct vkfd_context *ctx, struct vkfd_resource *res,
                    bool owner_attach)
{
   if (vkfd_context_is_attached(ctx, res))
      return 0;
   struct vkfd_attachment *att = calloc(1, sizeof(*att));
   if (!att)
      return -ENOMEM;
   att->ctx = ctx;
   att->res = res;
   vkfd_list_add_tail(&att->ctx_link, &ctx->attachments);
   vkfd_list_add_tail(&att->res_link, &res->attachments);
   if (!owner_attach && ctx->ops->attach_resource)
      ctx->ops->attach_resource(ctx, res);
   return 0;
}

void
vkfd_context_detach(struct vkfd_context *ctx, struct vkfd_resource *res)
{
   vkfd_list_for_each_safe(struct vkfd_attachment, att, &res->attachments, res_link)
   {
      if (att->ctx != ctx)
         continue;
      vkfd_list_del(&att->ctx_link);
      vkfd_list_del(&att->res_link);
      free(att);
      if (ctx->ops->detach_resource)
         ctx->ops->detach_resource(ctx, res);
      if (res->owner_ctx_id == ctx->id)
         vkfd_resource_owner_released(res);
      return;
   }
}

void
vkfd_context_destroy(struct vkfd_renderer *renderer, struct vkfd_context *ctx)
{
   vkfd_hash_remove(&renderer->contexts, ctx->id);

   /* objects are released in the backend's detach hook, while the context is whole */
   while (!vkfd_list_is_empty(&ctx->attachments)) {
      struct vkfd_attachment *att =
         vkfd_container_of(ctx->attachments.next, struct vkfd_attachment, ctx_link);
      vkfd_context_detach(ctx, att->res);
   }

   struct vkfd_fence_timeline *rings[VKFD_MAX_RINGS];
   memcpy(rings, ctx->rings, sizeof(rings));
   uint32_t ctx_id = ctx->id;
   ctx->ops->destroy(ctx);

   /* the backend no longer signals fences: drop them without callbacks */
   for (uint32_t i = 0; i < VKFD_MAX_RINGS; i++) {
      if (rings[i]) {
         vkfd_fence_timeline_fini(&renderer->fences, rings[i]);
         free(rings[i]);
      }
   }
   vkfd_info("context %u destroyed", ctx_id);
}

int
vkfd_context_create_fence(struct vkfd_context *ctx, uint32_t flags, uint32_t ring_idx,
                          uint64_t fence_id)
{
   struct vkfd_renderer *renderer = ctx->renderer;

   if (ring_idx >= ctx->num_rings) {
      vkfd_err("context_create_fence: ctx %u: ring %u out of range (%u rings)", ctx->id,
               ring_idx, ctx->num_rings);
      return -EINVAL;
   }
   if (flags & ~VIRGL_RENDERER_FENCE_FLAG_MERGEABLE) {
      vkfd_err("context_create_fence: ctx %u: unknown flags 0x%x", ctx->id, flags);
      return -EINVAL;
   }

   struct vkfd_fence_timeline *timeline = ctx->rings[ring_idx];
   if (!timeline) {
      timeline = calloc(1, sizeof(*timeline));
      if (!timeline)
         return -ENOMEM;
      vkfd_fence_timeline_init(timeline, ctx->id, ring_idx);
      ctx->rings[ring_idx] = timeline;
   }

   bool mergeable = flags & VIRGL_RENDERER_FENCE_FLAG_MERGEABLE;
   if (!ctx->ops->submit_fence)
      return vkfd_fence_create(&renderer->fences, timeline, fence_id, mergeable, true,
                               NULL);

   struct vkfd_fence *fence;
   int ret =
      vkfd_fence_create(&renderer->fences, timeline, fence_id, mergeable, false, &fence);
   if (ret)
      return ret;
   ret = ctx->ops->submit_fence(ctx, ring_idx, fence);
   if (ret < 0) {
      /* a fence the backend refused still retires, or the guest would wait forever */
      vkfd_err("context_create_fence: ctx %u ring %u: backend failed: %s", ctx->id,
               ring_idx, strerror(-ret));
      ret = 1;
   }
   if (ret > 0)
      vkfd_fence_signal(&renderer->fences, timeline, fence);
   return 0;
}

void
vkfd_context_signal_fence(struct vkfd_context *ctx, uint32_t ring_idx,
                          struct vkfd_fence *fence)
{
   if (ring_idx < VKFD_MAX_RINGS && ctx->rings[ring_idx])
      vkfd_fence_signal(&ctx->renderer->fences, ctx->rings[ring_idx], fence);
}

int
vkfd_context_export_blob(struct vkfd_renderer *renderer, struct vkfd_resource *res,
                         uint32_t *fd_type, int *fd)
{
   /* a VA blob is the owner's memory: only the owner can make an fd of it */
   struct vkfd_context *owner =
      res->owner_ctx_id ? vkfd_context_lookup(renderer, res->owner_ctx_id) : NULL;
   if (!owner || !owner->ops->export_blob) {
      vkfd_debug("export_blob: res %u has no fd to export", res->id);
      return -EINVAL;
   }
   return owner->ops->export_blob(owner, res, fd_type, fd);
}
