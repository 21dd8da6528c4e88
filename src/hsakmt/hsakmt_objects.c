/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "hsakmt_objects.h"

#include <errno.h>
#include <stdlib.h>

#include "virglrenderer.h"

#include "hsakmt/hsakmt_context.h"
#include "util/vkfd_log.h"
#include "virtkfd/hsakmt_proto.h"

void
hsakmt_objects_init(struct hsakmt_objects *objects)
{
   vkfd_hash_init(&objects->pending);
   vkfd_hash_init(&objects->bound);
}

/* Removes and destroys every object of `kind` in `hash`. */
static void
destroy_kind(struct hsakmt_context *ctx, struct vkfd_hash *hash,
             enum hsakmt_object_kind kind)
{
   size_t count = vkfd_hash_count(hash), found = 0, cursor = 0;
   if (!count)
      return;
   uint64_t *keys = malloc(count * sizeof(*keys));
   uint64_t key;
   void *value;
   while (vkfd_hash_next(hash, &cursor, &key, &value)) {
      struct hsakmt_object *obj = value;
      if (obj->kind != kind)
         continue;
      if (keys) {
         keys[found++] = key;
         continue;
      }
      /* no room for the list: one at a time, starting over after each removal */
      vkfd_hash_remove(hash, key);
      obj->ops->destroy(ctx, obj);
      cursor = 0;
   }
   for (size_t i = 0; i < found; i++) {
      struct hsakmt_object *obj = vkfd_hash_remove(hash, keys[i]);
      if (obj)
         obj->ops->destroy(ctx, obj);
   }
   free(keys);
}

void
hsakmt_objects_fini(struct hsakmt_context *ctx, struct hsakmt_objects *objects)
{
   /* kinds are numbered users first: queues go before the memory they run on */
   for (int kind = 0; kind < HSAKMT_OBJECT_KIND_COUNT; kind++) {
      destroy_kind(ctx, &objects->bound, kind);
      destroy_kind(ctx, &objects->pending, kind);
   }
   vkfd_hash_fini(&objects->bound);
   vkfd_hash_fini(&objects->pending);
}

int
hsakmt_objects_check_blob_id(struct hsakmt_objects *objects, uint64_t blob_id,
                             const char *command)
{
   if (blob_id == 0 || blob_id > UINT32_MAX) {
      vkfd_err("%s: blob id 0x%llx is 0 or wider than 32 bits", command,
               (unsigned long long)blob_id);
      return VKFD_STATUS_INVALID_PARAMETER;
   }
   if (vkfd_hash_lookup(&objects->pending, blob_id)) {
      vkfd_err("%s: blob id %llu is already pending", command,
               (unsigned long long)blob_id);
      return VKFD_STATUS_INVALID_PARAMETER;
   }
   return VKFD_STATUS_SUCCESS;
}

int
hsakmt_object_charge(struct hsakmt_context *ctx, struct hsakmt_object *obj,
                     const char *command)
{
   const struct hsakmt_charge one_object = { .objects = 1 };
   return hsakmt_account_charge(&ctx->account, &obj->charge, &one_object, command);
}

int
hsakmt_objects_add_pending(struct hsakmt_objects *objects, uint32_t blob_id,
                           struct hsakmt_object *obj)
{
   obj->blob_id = blob_id;
   obj->res_id = 0;
   return vkfd_hash_insert(&objects->pending, blob_id, obj) ? VKFD_STATUS_NO_MEMORY
                                                            : VKFD_STATUS_SUCCESS;
}

struct hsakmt_object *
hsakmt_objects_claim(struct hsakmt_objects *objects, uint64_t blob_id)
{
   if (blob_id == 0 || blob_id > UINT32_MAX)
      return NULL;
   return vkfd_hash_remove(&objects->pending, blob_id);
}

int
hsakmt_objects_bind(struct hsakmt_objects *objects, uint32_t res_id,
                    struct hsakmt_object *obj)
{
   int ret = vkfd_hash_insert(&objects->bound, res_id, obj);
   if (!ret)
      obj->res_id = res_id;
   return ret;
}

struct hsakmt_object *
hsakmt_objects_lookup(struct hsakmt_objects *objects, uint32_t res_id, int kind)
{
   struct hsakmt_object *obj = vkfd_hash_lookup(&objects->bound, res_id);
   if (obj && kind >= 0 && (int)obj->kind != kind)
      return NULL;
   return obj;
}

struct hsakmt_object *
hsakmt_objects_unbind(struct hsakmt_objects *objects, uint32_t res_id)
{
   return vkfd_hash_remove(&objects->bound, res_id);
}

void
hsakmt_objects_remove(struct hsakmt_objects *objects, struct hsakmt_object *obj)
{
   if (obj->res_id)
      vkfd_hash_remove(&objects->bound, obj->res_id);
   else
      vkfd_hash_remove(&objects->pending, obj->blob_id);
}

int
hsakmt_objects_claim_blob(struct hsakmt_context *ctx, struct hsakmt_objects *objects,
                          const struct vkfd_blob_request *request, struct vkfd_blob *blob)
{
   if (request->blob_mem != VIRGL_RENDERER_BLOB_MEM_HOST3D) {
      vkfd_err("ctx %u: res %u: blob_mem %u for blob id %llu", ctx->base.id,
               request->res_id, request->blob_mem, (unsigned long long)request->blob_id);
      return -EINVAL;
   }
   struct hsakmt_object *obj = hsakmt_objects_claim(objects, request->blob_id);
   if (!obj) {
      vkfd_err("ctx %u: res %u: blob id %llu names no pending object", ctx->base.id,
               request->res_id, (unsigned long long)request->blob_id);
      return -EINVAL;
   }
   int ret = -EINVAL;
   if (obj->ops->claim)
      ret = obj->ops->claim(ctx, obj, request, blob);
   else
      vkfd_err("ctx %u: res %u: a %s has no blob", ctx->base.id, request->res_id,
               obj->ops->name);
   if (!ret)
      ret = hsakmt_objects_bind(objects, request->res_id, obj);
   if (ret) {
      /* claim-once: a refused blob destroys what the command created */
      blob->backing = NULL;
      obj->ops->destroy(ctx, obj);
      return ret;
   }
   /* from here on the resource owns what the blob's backing holds */
   if (obj->ops->claimed)
      obj->ops->claimed(obj);
   return 0;
}
