/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "hsakmt_doorbell.h"

#include <errno.h>
#include <stdlib.h>

#include "virglrenderer.h"

#include "hsakmt/hsakmt_context.h"
#include "kfd/vkfd_kfd.h"
#include "mem/vkfd_vma.h"
#include "util/vkfd_log.h"
#include "util/vkfd_math.h"

/* Keeps the KFD device, and with it libhsakmt's doorbell mapping, open. */
struct doorbell_backing {
   struct vkfd_blob_backing backing;
};

/* Owned by the context's object table; its backing by the resource once claimed. */
struct hsakmt_doorbell {
   struct hsakmt_object base;
   uint32_t node;
   uint64_t page; /* the window's host VA, which is also the guest's */
   struct doorbell_backing *backing;
   bool backing_claimed;
};

static void
doorbell_backing_release(struct vkfd_blob_backing *backing)
{
   vkfd_kfd_device_release();
   free(vkfd_container_of(backing, struct doorbell_backing, backing));
}

int
hsakmt_doorbell_window(struct hsakmt_context *ctx, uint64_t doorbell, uint64_t *base)
{
   struct vkfd_vma_query query;
   struct vkfd_vma_info vma;
   int ret = vkfd_vma_query_init(&query, false);
   if (!ret)
      ret = vkfd_vma_query_find(&query, (uintptr_t)doorbell, &vma);
   vkfd_vma_query_fini(&query);
   if (ret) {
      vkfd_err("ctx %u: QUEUE/CREATE: no host mapping holds the doorbell at 0x%llx (%d)",
               ctx->base.id, (unsigned long long)doorbell, ret);
      return VKFD_STATUS_ERROR;
   }
   /* the 8 KiB slice of the mapping the doorbell falls in */
   uint64_t start =
      vma.start + vkfd_align_down(doorbell - vma.start, HSAKMT_DOORBELL_WINDOW);
   uint32_t rw = VKFD_VMA_READ | VKFD_VMA_WRITE | VKFD_VMA_SHARED;
   if ((vma.flags & rw) != rw || start + HSAKMT_DOORBELL_WINDOW > vma.end ||
       doorbell + sizeof(uint64_t) > start + HSAKMT_DOORBELL_WINDOW) {
      /* pre-gfx9 parts have 4 KiB; the guest would map whatever follows the page */
      vkfd_err("ctx %u: QUEUE/CREATE: the host's doorbell mapping 0x%lx-0x%lx (flags "
               "0x%x) cannot be exposed as the 8 KiB page the guest maps",
               ctx->base.id, (unsigned long)vma.start, (unsigned long)vma.end, vma.flags);
      return VKFD_STATUS_NOT_SUPPORTED;
   }
   *base = start;
   return VKFD_STATUS_SUCCESS;
}

bool
hsakmt_doorbell_exists(struct hsakmt_context *ctx, uint32_t node)
{
   return node < HSAKMT_MAX_NODES && ctx->doorbells[node];
}

int
hsakmt_doorbell_check(struct hsakmt_context *ctx, uint32_t node, uint64_t base)
{
   if (!hsakmt_doorbell_exists(ctx, node) || ctx->doorbells[node]->page == base)
      return VKFD_STATUS_SUCCESS;
   /* the guest maps a node's page once: every queue must ring through it */
   vkfd_err("ctx %u: QUEUE/CREATE: node %u's doorbell page moved from 0x%llx to 0x%llx",
            ctx->base.id, node, (unsigned long long)ctx->doorbells[node]->page,
            (unsigned long long)base);
   return VKFD_STATUS_ERROR;
}

static void
doorbell_destroy(struct hsakmt_context *ctx, struct hsakmt_object *obj)
{
   struct hsakmt_doorbell *doorbell = (struct hsakmt_doorbell *)obj;
   if (ctx->doorbells[doorbell->node] == doorbell)
      ctx->doorbells[doorbell->node] = NULL;
   if (!doorbell->backing_claimed && doorbell->backing)
      doorbell_backing_release(&doorbell->backing->backing);
   hsakmt_charge_release(&obj->charge);
   free(doorbell);
}

static int
doorbell_claim(struct hsakmt_context *ctx, struct hsakmt_object *obj,
               const struct vkfd_blob_request *request, struct vkfd_blob *blob)
{
   struct hsakmt_doorbell *doorbell = (struct hsakmt_doorbell *)obj;
   /* QEMU maps `size` bytes at the page: never more than the window (§6 #7) */
   if (request->blob_flags != VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE ||
       request->size > HSAKMT_DOORBELL_WINDOW) {
      vkfd_err("ctx %u: res %u: doorbell blob with flags 0x%x and size 0x%llx (exactly "
               "MAPPABLE, at most 0x%x)",
               ctx->base.id, request->res_id, request->blob_flags,
               (unsigned long long)request->size, HSAKMT_DOORBELL_WINDOW);
      return -EINVAL;
   }
   blob->kind = VKFD_BLOB_VA;
   blob->va = (void *)(uintptr_t)doorbell->page;
   blob->backing = &doorbell->backing->backing;
   blob->map_info = VIRGL_RENDERER_MAP_CACHE_UNCACHED; /* device memory (MMIO) */
   return 0;
}

static void
doorbell_claimed(struct hsakmt_object *obj)
{
   ((struct hsakmt_doorbell *)obj)->backing_claimed = true;
}

static const struct hsakmt_object_ops doorbell_ops = {
   .name = "doorbell page",
   .claim = doorbell_claim,
   .claimed = doorbell_claimed,
   .destroy = doorbell_destroy,
};

int
hsakmt_doorbell_create(struct hsakmt_context *ctx, uint32_t node, uint64_t base,
                       uint32_t blob_id)
{
   if (node >= HSAKMT_MAX_NODES || ctx->doorbells[node])
      return VKFD_STATUS_INVALID_PARAMETER;
   struct hsakmt_doorbell *doorbell = calloc(1, sizeof(*doorbell));
   if (!doorbell)
      return VKFD_STATUS_NO_MEMORY;
   doorbell->base.kind = HSAKMT_OBJECT_DOORBELL;
   doorbell->base.ops = &doorbell_ops;
   vkfd_list_init(&doorbell->base.memory_link);
   doorbell->node = node;
   doorbell->page = base;
   int status = hsakmt_object_charge(ctx, &doorbell->base, "QUEUE/CREATE (doorbell)");
   if (!status) {
      doorbell->backing = calloc(1, sizeof(*doorbell->backing));
      if (!doorbell->backing || vkfd_kfd_device_acquire()) {
         free(doorbell->backing);
         doorbell->backing = NULL;
         status = VKFD_STATUS_NO_MEMORY;
      } else {
         doorbell->backing->backing.release = doorbell_backing_release;
      }
   }
   if (!status)
      status = hsakmt_objects_add_pending(&ctx->objects, blob_id, &doorbell->base);
   if (status) {
      doorbell_destroy(ctx, &doorbell->base);
      return status;
   }
   ctx->doorbells[node] = doorbell;
   return VKFD_STATUS_SUCCESS;
}
