/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "hsakmt_objects.h"

#include <errno.h>

#include "hsakmt/hsakmt_context.h"
#include "util/vkfd_log.h"
#include "virtkfd/hsakmt_proto.h"

void
hsakmt_objects_init(struct hsakmt_objects *objects)
{
   vkfd_hash_init(&objects->pending);
   vkfd_hash_init(&objects->bound);
}

static void
destroy_all(struct hsakmt_context *ctx, struct vkfd_hash *hash)
{
   for (;;) {
      size_t cursor = 0;
      uint64_t key;
      void *value;
      if (!vkfd_hash_next(hash, &cursor, &key, &value))
         break;
      vkfd_hash_remove(hash, key);
      struct hsakmt_object *obj = value;
      obj->ops->destroy(ctx, obj);
   }
   vkfd_hash_fini(hash);
}

void
hsakmt_objects_fini(struct hsakmt_context *ctx, struct hsakmt_objects *objects)
{
   destroy_all(ctx, &objects->bound);
   destroy_all(ctx, &objects->pending);
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
