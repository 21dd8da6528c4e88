/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * QUEUE (wire-protocol.md §2.5, §4.5). CREATE runs an AQL compute queue on two KFD
 * allocations of the context (the ring at QueueAddress, and the amd_queue_t holding
 * the read and write dispatch ids), files the queue object under the guest's blob id
 * and, the first time per node, the doorbell page; the guest then names the queue by
 * the res_id of that blob. libhsakmt's queue id (a pointer to its queue record) never
 * leaves the host: QueueId and queue_handle are an opaque token (§6.2 row 2).
 *
 * A queue pins the memory it runs on: its detach or its resource's unref waits for
 * the queue to go (hsakmt_buffer.h), and a dying context destroys its queues first.
 *
 * Only AQL queues are offered. For every other type libhsakmt points the read and
 * write pointers into its own queue record (QueueId plus 8 and 16, measured on 5.2.3
 * and 6.2.4), which also holds host pointers libhsakmt later frees through: the page
 * the guest would have to map writable for them is libhsakmt's state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "virglrenderer.h"

#include "hsakmt/hsakmt_buffer.h"
#include "hsakmt/hsakmt_context.h"
#include "hsakmt/hsakmt_doorbell.h"
#include "hsakmt/hsakmt_event.h"
#include "hsakmt/hsakmt_memory.h"
#include "kfd/vkfd_kfd.h"
#include "util/vkfd_log.h"
#include "util/vkfd_math.h"

/* HSA_QUEUE_TYPE (§3.7) */
#define QUEUE_TYPE_COMPUTE        1
#define QUEUE_TYPE_SDMA           2
#define QUEUE_TYPE_SDMA_XGMI      5
#define QUEUE_TYPE_SDMA_BY_ENG_ID 6
#define QUEUE_TYPE_DMA_AQL        22
#define QUEUE_TYPE_DMA_AQL_XGMI   23
#define QUEUE_PRIORITY_MIN        (-3)
#define QUEUE_PRIORITY_MAX        3
#define QUEUE_PERCENTAGE_MAX      100

/* Owned by the context's object table. */
struct hsakmt_queue_object {
   struct hsakmt_object base;
   uint64_t kfd_id; /* libhsakmt's queue id: a host pointer, never sent */
   uint32_t node;
   uint64_t ring_size;         /* for the tracking blob's size check */
   struct hsakmt_buffer *ring; /* pinned: the ring at QueueAddress */
   struct hsakmt_buffer *ids;  /* pinned: the amd_queue_t with the dispatch ids */
};

static const struct hsakmt_queue_req *
queue_req(const struct hsakmt_request *r)
{
   return r->req;
}

/* The guest's slot for a QUEUE response: 168, or 176 (§7); 0 for any other. */
static uint32_t
queue_rsp_size(const struct hsakmt_request *r)
{
   /* the slot length is the only hint of the guest's HsaQueueInfo */
   if (r->guest_rsp_len == sizeof(struct hsakmt_queue_rsp) ||
       r->guest_rsp_len == HSAKMT_QUEUE_RSP_SIZE_N)
      return r->guest_rsp_len;
   return 0;
}

/* The response in the guest's layout, or NULL after a header-only error. */
static struct hsakmt_queue_rsp *
queue_rsp(struct hsakmt_request *r, const char *what)
{
   uint32_t size = queue_rsp_size(r);
   struct hsakmt_queue_rsp *rsp = size ? hsakmt_response(r, size) : NULL;
   if (!size)
      vkfd_err("ctx %u: QUEUE/%s: a %u-byte response slot fits no known layout (168 or "
               "176)",
               r->ctx->base.id, what, r->guest_rsp_len);
   if (!rsp)
      hsakmt_request_fail(r, VKFD_STATUS_INVALID_PARAMETER);
   return rsp;
}

static void
queue_destroy(struct hsakmt_context *ctx, struct hsakmt_object *obj)
{
   struct hsakmt_queue_object *queue = (struct hsakmt_queue_object *)obj;
   hsakmt_token_revoke(&ctx->tokens, obj);
   if (queue->kfd_id) {
      int status = vkfd_kfd_queue_destroy(queue->kfd_id);
      if (status) {
         /* the GPU may still run it: its memory stays mapped and allocated for good */
         vkfd_err("ctx %u: res %u: destroying the queue failed (status %d); its ring "
                  "and dispatch ids stay allocated",
                  ctx->base.id, obj->res_id, status);
         queue->ring->gpu_may_hold = true;
         queue->ids->gpu_may_hold = true;
      }
   }
   if (queue->ring)
      hsakmt_buffer_unpin(queue->ring);
   if (queue->ids)
      hsakmt_buffer_unpin(queue->ids);
   hsakmt_charge_release(&obj->charge);
   free(queue);
}

static int
queue_claim(struct hsakmt_context *ctx, struct hsakmt_object *obj,
            const struct vkfd_blob_request *request, struct vkfd_blob *blob)
{
   struct hsakmt_queue_object *queue = (struct hsakmt_queue_object *)obj;
   uint64_t limit;
   /* a tracking blob of QueueSizeInBytes that the guest never maps (§4.2) */
   if (request->blob_flags ||
       vkfd_ckd_align_up(&limit, queue->ring_size, (uint64_t)sysconf(_SC_PAGESIZE)) ||
       request->size > limit) {
      vkfd_err("ctx %u: res %u: queue blob with flags 0x%x and size 0x%llx (flags 0, "
               "at most 0x%llx)",
               ctx->base.id, request->res_id, request->blob_flags,
               (unsigned long long)request->size, (unsigned long long)queue->ring_size);
      return -EINVAL;
   }
   blob->kind = VKFD_BLOB_NONE;
   blob->map_info = VIRGL_RENDERER_MAP_CACHE_NONE;
   return 0;
}

static const struct hsakmt_object_ops queue_ops = {
   .name = "queue",
   .claim = queue_claim,
   .destroy = queue_destroy,
};

/*
 * The KFD allocation of this context bound to res_id that holds [address, +size), or
 * NULL with a log line.
 */
static struct hsakmt_host_mem *
find_memory(struct hsakmt_request *r, const char *what, uint32_t res_id, uint64_t address,
            uint64_t size)
{
   struct hsakmt_host_mem *mem = (struct hsakmt_host_mem *)hsakmt_objects_lookup(
      &r->ctx->objects, res_id, HSAKMT_OBJECT_HOST_MEM);
   uint64_t end;
   if (mem && size && !vkfd_ckd_add(&end, address, size) && address >= mem->va &&
       end <= mem->va + mem->size)
      return mem;
   vkfd_err("ctx %u: QUEUE/%s: 0x%llx+0x%llx is not inside KFD allocation res %u of this "
            "context",
            r->ctx->base.id, what, (unsigned long long)address, (unsigned long long)size,
            res_id);
   return NULL;
}

/* Which queue types this host creates, and why not the others. */
static int
check_queue_type(struct hsakmt_request *r, uint32_t type)
{
   switch (type) {
   case HSAKMT_QUEUE_TYPE_COMPUTE_AQL:
      return VKFD_STATUS_SUCCESS;
   case QUEUE_TYPE_COMPUTE:
   case QUEUE_TYPE_SDMA:
   case QUEUE_TYPE_SDMA_XGMI:
      vkfd_err(
         "ctx %u: QUEUE/CREATE: type %u is not supported: libhsakmt keeps its read "
         "and write pointers in its own queue record, which the guest would have to "
         "map writable; only AQL compute queues (21) are offered",
         r->ctx->base.id, type);
      return VKFD_STATUS_NOT_SUPPORTED;
   case QUEUE_TYPE_SDMA_BY_ENG_ID:
   case QUEUE_TYPE_DMA_AQL:
   case QUEUE_TYPE_DMA_AQL_XGMI:
      vkfd_err("ctx %u: QUEUE/CREATE: type %u is not supported on this host: its "
               "libhsakmt has no hsaKmtCreateQueueExt and no AQL DMA queues",
               r->ctx->base.id, type);
      return VKFD_STATUS_NOT_SUPPORTED;
   default:
      vkfd_err("ctx %u: QUEUE/CREATE: unknown queue type %u", r->ctx->base.id, type);
      return VKFD_STATUS_INVALID_PARAMETER;
   }
}

/* The fresh blob ids of CREATE: the queue's, and the doorbell page's if any. */
static int
check_create_blob_ids(struct hsakmt_request *r, uint32_t node)
{
   const struct hsakmt_queue_req *req = queue_req(r);
   struct hsakmt_context *ctx = r->ctx;
   int status = hsakmt_objects_check_blob_id(&ctx->objects, req->blob_id, "QUEUE/CREATE");
   if (!status && req->rw_ptr_blob_id) {
      vkfd_err("ctx %u: QUEUE/CREATE: an AQL queue has no read/write-pointer page "
               "(rw_ptr_blob_id %llu)",
               ctx->base.id, (unsigned long long)req->rw_ptr_blob_id);
      status = VKFD_STATUS_INVALID_PARAMETER;
   }
   if (!status && req->doorbell_blob_id) {
      status = hsakmt_objects_check_blob_id(&ctx->objects, req->doorbell_blob_id,
                                            "QUEUE/CREATE (doorbell)");
      if (!status && req->doorbell_blob_id == req->blob_id) {
         vkfd_err("ctx %u: QUEUE/CREATE: the queue and its doorbell page share blob id "
                  "%llu",
                  ctx->base.id, (unsigned long long)req->blob_id);
         status = VKFD_STATUS_INVALID_PARAMETER;
      }
      if (!status && hsakmt_doorbell_exists(ctx, node)) {
         vkfd_err("ctx %u: QUEUE/CREATE: node %u's doorbell page is already the guest's",
                  ctx->base.id, node);
         status = VKFD_STATUS_INVALID_PARAMETER;
      }
   }
   return status;
}

/* Everything CREATE needs from the request, checked against the context. */
struct create_plan {
   struct vkfd_kfd_queue_request kfd;
   struct hsakmt_host_mem *ring;
   struct hsakmt_host_mem *ids;
};

static int
plan_create(struct hsakmt_request *r, struct create_plan *plan)
{
   const struct hsakmt_queue_req *req = queue_req(r);
   struct hsakmt_context *ctx = r->ctx;
   uint32_t node = req->create.node_id;
   int status = check_queue_type(r, req->create.type);
   if (status)
      return status;
   if (!vkfd_kfd_node_is_gpu(node)) {
      vkfd_err("ctx %u: QUEUE/CREATE: node %u is not a GPU", ctx->base.id, node);
      return VKFD_STATUS_INVALID_NODE_UNIT;
   }
   if (req->create.queue_percentage > QUEUE_PERCENTAGE_MAX ||
       req->create.priority < QUEUE_PRIORITY_MIN ||
       req->create.priority > QUEUE_PRIORITY_MAX || req->create.pad || req->create.pad1 ||
       req->pad) {
      vkfd_err("ctx %u: QUEUE/CREATE: percentage %u, priority %lld or padding out of "
               "range",
               ctx->base.id, req->create.queue_percentage,
               (long long)req->create.priority);
      return VKFD_STATUS_INVALID_PARAMETER;
   }
   status = check_create_blob_ids(r, node);
   if (status)
      return status;
   plan->ring = find_memory(r, "CREATE (ring)", req->queue_mem_res_id,
                            req->create.queue_address, req->create.queue_size_in_bytes);
   /* the read and write dispatch ids, 8 bytes each, in the amd_queue_t allocation */
   plan->ids = find_memory(r, "CREATE (write dispatch id)", req->res_id,
                           req->create.queue_write_ptr_aql, sizeof(uint64_t));
   if (plan->ids && !find_memory(r, "CREATE (read dispatch id)", req->res_id,
                                 req->create.queue_read_ptr_aql, sizeof(uint64_t)))
      plan->ids = NULL;
   if (!plan->ring || !plan->ids)
      return VKFD_STATUS_INVALID_PARAMETER;
   if (req->create.sdma_engine_id != HSAKMT_SDMA_ENGINE_NONE)
      vkfd_debug("ctx %u: QUEUE/CREATE: SDMA engine %u ignored for a compute queue",
                 ctx->base.id, req->create.sdma_engine_id);

   struct vkfd_kfd_event *event = NULL;
   if (req->create.event) {
      event = hsakmt_event_lookup(ctx, req->create.event);
      /* the guest reads this from whatever event ROCr passed, which may be none of
       * ours: "no event" (§2.0) */
      if (!event)
         vkfd_warn("ctx %u: QUEUE/CREATE: event handle 0x%llx names no event of this "
                   "context; the queue gets no event",
                   ctx->base.id, (unsigned long long)req->create.event);
   }
   plan->kfd = (struct vkfd_kfd_queue_request){
      .node = node,
      .type = req->create.type,
      .percentage = req->create.queue_percentage,
      .priority = (int32_t)req->create.priority,
      .ring = req->create.queue_address,
      .ring_size = req->create.queue_size_in_bytes,
      .write_ptr = req->create.queue_write_ptr_aql,
      .read_ptr = req->create.queue_read_ptr_aql,
      .event = event,
   };
   return VKFD_STATUS_SUCCESS;
}

static void
queue_create(struct hsakmt_request *r)
{
   const struct hsakmt_queue_req *req = queue_req(r);
   struct hsakmt_queue_rsp *rsp = queue_rsp(r, "CREATE");
   if (!rsp)
      return;
   struct hsakmt_context *ctx = r->ctx;
   struct create_plan plan;
   int status = plan_create(r, &plan);
   struct hsakmt_queue_object *queue = NULL;
   if (!status) {
      queue = calloc(1, sizeof(*queue));
      if (!queue)
         status = VKFD_STATUS_NO_MEMORY;
   }
   if (status) {
      rsp->hdr.ret = status;
      return;
   }
   queue->base.kind = HSAKMT_OBJECT_QUEUE;
   queue->base.ops = &queue_ops;
   vkfd_list_init(&queue->base.memory_link);
   queue->node = plan.kfd.node;
   queue->ring_size = plan.kfd.ring_size;
   const struct hsakmt_charge charge = { .objects = 1, .queues = 1 };
   status =
      hsakmt_account_charge(&ctx->account, &queue->base.charge, &charge, "QUEUE/CREATE");
   if (status) {
      free(queue);
      rsp->hdr.ret = status;
      return;
   }
   /* from here on queue_destroy undoes whatever was done */
   queue->ring = plan.ring->buffer;
   queue->ids = plan.ids->buffer;
   hsakmt_buffer_pin(queue->ring);
   hsakmt_buffer_pin(queue->ids);
   uint64_t doorbell = 0, page = 0;
   status = vkfd_kfd_queue_create(&plan.kfd, &queue->kfd_id, &doorbell);
   if (status) {
      vkfd_err("ctx %u: QUEUE/CREATE: on node %u failed (status %d)", ctx->base.id,
               queue->node, status);
      queue->kfd_id = 0;
   }
   if (!status)
      status = hsakmt_doorbell_window(ctx, doorbell, &page);
   if (!status)
      status = hsakmt_doorbell_check(ctx, queue->node, page);
   if (!status)
      status = hsakmt_token_issue(&ctx->tokens, &queue->base);
   if (!status)
      status =
         hsakmt_objects_add_pending(&ctx->objects, (uint32_t)req->blob_id, &queue->base);
   if (status) {
      queue_destroy(ctx, &queue->base);
      rsp->hdr.ret = status;
      return;
   }
   if (req->doorbell_blob_id) {
      status =
         hsakmt_doorbell_create(ctx, queue->node, page, (uint32_t)req->doorbell_blob_id);
      if (status) {
         hsakmt_objects_remove(&ctx->objects, &queue->base);
         queue_destroy(ctx, &queue->base);
         rsp->hdr.ret = status;
         return;
      }
   }
   struct hsakmt_wire_vqueue_resource *res = &rsp->vqueue_res;
   res->r.queue_id = queue->base.token; /* the guest only tests it for non-zero */
   res->r.queue_doorbell = doorbell;
   res->r.queue_wptr_value = plan.kfd.write_ptr;
   res->r.queue_rptr_value = plan.kfd.read_ptr;
   res->host_doorbell = doorbell;
   res->host_doorbell_offset = doorbell - page;
   res->queue_handle = queue->base.token;
}

/* The queue object of this context bound to the request's res_id, or NULL. */
static struct hsakmt_queue_object *
resolve_queue(struct hsakmt_request *r, const char *what)
{
   uint32_t res_id = queue_req(r)->res_id;
   struct hsakmt_object *obj =
      hsakmt_objects_lookup(&r->ctx->objects, res_id, HSAKMT_OBJECT_QUEUE);
   if (!obj)
      vkfd_err("ctx %u: QUEUE/%s: res %u is not a queue of this context", r->ctx->base.id,
               what, res_id);
   return (struct hsakmt_queue_object *)obj;
}

static void
queue_destroy_command(struct hsakmt_request *r)
{
   struct hsakmt_queue_rsp *rsp = queue_rsp(r, "DESTROY");
   if (!rsp)
      return;
   /* by its res_id only: never the raw QueueId upstream would follow (§6.2 row 2) */
   struct hsakmt_queue_object *queue = resolve_queue(r, "DESTROY");
   if (!queue) {
      rsp->hdr.ret = VKFD_STATUS_INVALID_HANDLE;
      return;
   }
   hsakmt_objects_remove(&r->ctx->objects, &queue->base);
   queue_destroy(r->ctx, &queue->base);
}

static void
queue_update(struct hsakmt_request *r)
{
   const struct hsakmt_queue_req *req = queue_req(r);
   struct hsakmt_queue_rsp *rsp = queue_rsp(r, "UPDATE");
   if (!rsp)
      return;
   struct hsakmt_queue_object *queue = resolve_queue(r, "UPDATE");
   if (!queue) {
      rsp->hdr.ret = VKFD_STATUS_INVALID_HANDLE;
      return;
   }
   uint64_t ring = req->update.queue_address, size = req->update.queue_size_in_bytes;
   if (req->update.queue_percentage > QUEUE_PERCENTAGE_MAX ||
       req->update.priority < QUEUE_PRIORITY_MIN ||
       req->update.priority > QUEUE_PRIORITY_MAX || req->update.pad || req->pad) {
      vkfd_err("ctx %u: QUEUE/UPDATE: percentage %u, priority %lld or padding out of "
               "range",
               r->ctx->base.id, req->update.queue_percentage,
               (long long)req->update.priority);
      rsp->hdr.ret = VKFD_STATUS_INVALID_PARAMETER;
      return;
   }
   /* a new ring must be the context's memory too; no ring at all stops the queue */
   struct hsakmt_host_mem *mem = NULL;
   if (ring || size) {
      mem = find_memory(r, "UPDATE (ring)", req->queue_mem_res_id, ring, size);
      if (!mem) {
         rsp->hdr.ret = VKFD_STATUS_INVALID_PARAMETER;
         return;
      }
   }
   int status = vkfd_kfd_queue_update(queue->kfd_id, req->update.queue_percentage,
                                      (int32_t)req->update.priority, ring, size);
   rsp->hdr.ret = status;
   if (status || !mem || mem->buffer == queue->ring)
      return;
   /* the queue runs on the new ring from now on; the old one may go */
   hsakmt_buffer_pin(mem->buffer);
   hsakmt_buffer_unpin(queue->ring);
   queue->ring = mem->buffer;
   queue->ring_size = size;
}

static void
queue_get_info(struct hsakmt_request *r)
{
   struct hsakmt_queue_rsp *rsp = queue_rsp(r, "GET_INFO");
   if (!rsp)
      return;
   struct hsakmt_queue_object *queue = resolve_queue(r, "GET_INFO");
   if (!queue || queue_req(r)->pad) {
      rsp->hdr.ret = queue ? VKFD_STATUS_INVALID_PARAMETER : VKFD_STATUS_INVALID_HANDLE;
      return;
   }
   /* pointer fields are host addresses of libhsakmt's CWSR area: zero (§3.17);
    * SaveAreaAllocSize of the 176-byte layout is unknown to the host library: 0 */
   rsp->hdr.ret = vkfd_kfd_queue_info(queue->kfd_id, &rsp->queue_info);
}

static void
queue_set_cu_mask(struct hsakmt_request *r)
{
   const struct hsakmt_queue_req *req = queue_req(r);
   struct hsakmt_queue_rsp *rsp = queue_rsp(r, "SET_CU_MASK");
   if (!rsp)
      return;
   struct hsakmt_queue_object *queue = resolve_queue(r, "SET_CU_MASK");
   if (!queue) {
      rsp->hdr.ret = VKFD_STATUS_INVALID_HANDLE;
      return;
   }
   /* the count is in bits, whole u32 words, at most 128 of them (Appendix B) */
   uint32_t bits = req->cu_mask_count;
   uint64_t needed = HSAKMT_QUEUE_PAYLOAD_OFFSET + (uint64_t)bits / 8;
   if (!bits || bits % 32 || bits > HSAKMT_MAX_CU_MASK_BITS || r->len < needed ||
       req->pad) {
      vkfd_err("ctx %u: QUEUE/SET_CU_MASK: %u mask bits in a %u-byte request (a non-zero "
               "multiple of 32, at most %u)",
               r->ctx->base.id, bits, r->len, HSAKMT_MAX_CU_MASK_BITS);
      rsp->hdr.ret = VKFD_STATUS_INVALID_PARAMETER;
      return;
   }
   uint32_t mask[HSAKMT_MAX_CU_MASK_BITS / 32];
   memcpy(mask, (const uint8_t *)r->req + HSAKMT_QUEUE_PAYLOAD_OFFSET, bits / 8);
   rsp->hdr.ret = vkfd_kfd_queue_cu_mask(queue->kfd_id, bits, mask);
}

static void
queue_alloc_gws(struct hsakmt_request *r)
{
   /* the guest reads firstGWS from response bytes it never reserves, and the topology
    * reports NumGws 0, so ROCr never asks (§2.5, Appendix B) */
   vkfd_err("ctx %u: QUEUE/ALLOC_GWS is not supported: the protocol has no room for "
            "firstGWS in the response, and GWS is reported absent",
            r->ctx->base.id);
   struct hsakmt_queue_rsp *rsp = queue_rsp(r, "ALLOC_GWS");
   if (rsp)
      rsp->hdr.ret = VKFD_STATUS_NOT_SUPPORTED;
}

static const struct hsakmt_subcommand queue_table[HSAKMT_QUEUE_COUNT] = {
   [HSAKMT_QUEUE_CREATE] = { "CREATE", queue_create },
   [HSAKMT_QUEUE_DESTROY] = { "DESTROY", queue_destroy_command },
   [HSAKMT_QUEUE_UPDATE] = { "UPDATE", queue_update },
   [HSAKMT_QUEUE_GET_INFO] = { "GET_INFO", queue_get_info },
   [HSAKMT_QUEUE_SET_CU_MASK] = { "SET_CU_MASK", queue_set_cu_mask },
   [HSAKMT_QUEUE_ALLOC_GWS] = { "ALLOC_GWS", queue_alloc_gws },
};

void
hsakmt_queue(struct hsakmt_request *r)
{
   hsakmt_dispatch_subcommand(r, "QUEUE", queue_table, HSAKMT_QUEUE_COUNT,
                              queue_req(r)->type, sizeof(struct hsakmt_queue_rsp));
}
