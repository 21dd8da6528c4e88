/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * EVENT (wire-protocol.md §2.3, §4.6). CREATE files an event object under the guest's
 * blob id and answers libhsakmt's HsaEvent with an opaque token in event_handle; every
 * later command names the event by that token (and optionally its res_id), resolved in
 * this context's own table (§6.2 row 1). HWData2, the event's slot in the event page,
 * is passed on unchanged: it is the GPU VA the signal mailbox lives at.
 *
 * Nothing here blocks the command thread: QUERY_STATE polls with a zero timeout, and
 * WAIT_ON_MULTI_EVENTS is not served (today's guest waits locally and never sends it).
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "virglrenderer.h"

#include "hsakmt/hsakmt_context.h"
#include "hsakmt/hsakmt_event.h"
#include "hsakmt/hsakmt_memory.h"
#include "kfd/vkfd_kfd.h"
#include "util/vkfd_log.h"
#include "util/vkfd_math.h"

#define EVENT_TYPE_SIGNAL 0 /* HSA_EVENTTYPE_SIGNAL */
#define EVENT_TYPE_LAST   8 /* HSA_EVENTTYPE_MEMORY (§3.7) */

/* Owned by the context's object table. */
struct hsakmt_event_object {
   struct hsakmt_object base;
   struct vkfd_kfd_event *kfd;
   uint32_t type;
   bool manual_reset;
};

static const struct hsakmt_event_req *
event_req(const struct hsakmt_request *r)
{
   return r->req;
}

static struct hsakmt_event_rsp *
event_rsp(struct hsakmt_request *r)
{
   return hsakmt_response(r, sizeof(struct hsakmt_event_rsp));
}

static void
event_destroy(struct hsakmt_context *ctx, struct hsakmt_object *obj)
{
   struct hsakmt_event_object *event = (struct hsakmt_event_object *)obj;
   hsakmt_token_revoke(&ctx->tokens, obj);
   /* nothing on the host waits on it (no command blocks), so there is no one to wake */
   int status = vkfd_kfd_event_destroy(event->kfd);
   if (status)
      vkfd_err("ctx %u: res %u: destroying KFD event failed (status %d); libhsakmt "
               "keeps it",
               ctx->base.id, obj->res_id, status);
   hsakmt_charge_release(&obj->charge);
   free(event);
}

static int
event_claim(struct hsakmt_context *ctx, struct hsakmt_object *obj,
            const struct vkfd_blob_request *request, struct vkfd_blob *blob)
{
   /* a tracking blob: the guest never maps it (§4.2) */
   if (request->blob_flags || request->size > (uint64_t)sysconf(_SC_PAGESIZE)) {
      vkfd_err("ctx %u: res %u: event blob with flags 0x%x and size 0x%llx (flags 0, "
               "at most a page)",
               ctx->base.id, request->res_id, request->blob_flags,
               (unsigned long long)request->size);
      return -EINVAL;
   }
   blob->kind = VKFD_BLOB_NONE;
   blob->map_info = VIRGL_RENDERER_MAP_CACHE_NONE;
   return 0;
}

static const struct hsakmt_object_ops event_ops = {
   .name = "event",
   .claim = event_claim,
   .destroy = event_destroy,
};

/* Reserved fields of every EVENT request are zero (hostile-inputs.md, item 5). */
static bool
reserved_fields_zero(const struct hsakmt_request *r, const char *what)
{
   const struct hsakmt_event_req *req = event_req(r);
   if (!req->sync_shmem_res_id && !req->pad)
      return true;
   vkfd_err("ctx %u: EVENT/%s: reserved fields not zero (sync_shmem_res_id %u, pad %u)",
            r->ctx->base.id, what, req->sync_shmem_res_id, req->pad);
   return false;
}

static void
event_create(struct hsakmt_request *r)
{
   const struct hsakmt_event_req *req = event_req(r);
   struct hsakmt_event_rsp *rsp = event_rsp(r);
   if (!rsp)
      return;
   struct hsakmt_context *ctx = r->ctx;
   const struct hsakmt_wire_event_descriptor *desc = &req->create.desc;
   int status = hsakmt_objects_check_blob_id(&ctx->objects, req->blob_id, "EVENT/CREATE");
   bool pad_zero = true;
   for (unsigned i = 0; i < sizeof(req->create.pad); i++)
      pad_zero &= req->create.pad[i] == 0;
   if (!status && !reserved_fields_zero(r, "CREATE"))
      status = VKFD_STATUS_INVALID_PARAMETER;
   if (!status && (desc->event_type > EVENT_TYPE_LAST || req->create.manual_reset > 1 ||
                   req->create.is_signaled > 1 || !pad_zero)) {
      vkfd_err("ctx %u: EVENT/CREATE: type %u, ManualReset %u, IsSignaled %u or "
               "padding out of range",
               ctx->base.id, desc->event_type, req->create.manual_reset,
               req->create.is_signaled);
      status = VKFD_STATUS_INVALID_PARAMETER;
   }
   if (!status && desc->node_id >= vkfd_kfd_node_count()) {
      vkfd_err("ctx %u: EVENT/CREATE: node %u does not exist", ctx->base.id,
               desc->node_id);
      status = VKFD_STATUS_INVALID_NODE_UNIT;
   }
   struct hsakmt_event_object *event = NULL;
   if (!status) {
      event = calloc(1, sizeof(*event));
      if (!event)
         status = VKFD_STATUS_NO_MEMORY;
   }
   if (status) {
      rsp->hdr.ret = status;
      return;
   }
   event->base.kind = HSAKMT_OBJECT_EVENT;
   event->base.ops = &event_ops;
   vkfd_list_init(&event->base.memory_link);
   event->type = desc->event_type;
   event->manual_reset = req->create.manual_reset;
   const struct hsakmt_charge charge = { .objects = 1, .events = 1 };
   status =
      hsakmt_account_charge(&ctx->account, &event->base.charge, &charge, "EVENT/CREATE");
   if (!status) {
      status = vkfd_kfd_event_create(desc, req->create.manual_reset,
                                     req->create.is_signaled, &event->kfd);
      if (status)
         vkfd_err("ctx %u: EVENT/CREATE: type %u on node %u failed (status %d)",
                  ctx->base.id, desc->event_type, desc->node_id, status);
   }
   if (status) {
      hsakmt_charge_release(&event->base.charge);
      free(event);
      rsp->hdr.ret = status;
      return;
   }
   status = hsakmt_token_issue(&ctx->tokens, &event->base);
   if (!status)
      status =
         hsakmt_objects_add_pending(&ctx->objects, (uint32_t)req->blob_id, &event->base);
   if (status) {
      event_destroy(ctx, &event->base);
      rsp->hdr.ret = status;
      return;
   }
   vkfd_kfd_event_describe(event->kfd, &rsp->event);
   rsp->event_handle = event->base.token;
}

/*
 * The event a request names: its token, and when res_id is not 0, the event object
 * bound to that resource must be the same one. Logs and returns NULL otherwise.
 */
static struct hsakmt_event_object *
resolve_event(struct hsakmt_request *r, const char *what)
{
   const struct hsakmt_event_req *req = event_req(r);
   struct hsakmt_object *obj =
      hsakmt_token_resolve(&r->ctx->tokens, req->event_handle, HSAKMT_OBJECT_EVENT);
   if (obj && req->res_id && obj->res_id != req->res_id)
      obj = NULL;
   if (!obj)
      vkfd_err("ctx %u: EVENT/%s: handle 0x%llx (res %u) names no event of this context",
               r->ctx->base.id, what, (unsigned long long)req->event_handle, req->res_id);
   return (struct hsakmt_event_object *)obj;
}

static void
event_destroy_command(struct hsakmt_request *r)
{
   const struct hsakmt_event_req *req = event_req(r);
   struct hsakmt_event_rsp *rsp = event_rsp(r);
   if (!rsp)
      return;
   /* by its res_id, or by its token; never by the raw value upstream would free */
   struct hsakmt_object *obj =
      req->res_id
         ? hsakmt_objects_lookup(&r->ctx->objects, req->res_id, HSAKMT_OBJECT_EVENT)
         : hsakmt_token_resolve(&r->ctx->tokens, req->event_handle, HSAKMT_OBJECT_EVENT);
   if (obj && req->res_id && req->event_handle && obj->token != req->event_handle)
      obj = NULL;
   if (!obj || !reserved_fields_zero(r, "DESTROY")) {
      if (!obj)
         vkfd_err("ctx %u: EVENT/DESTROY: res %u / handle 0x%llx names no event of this "
                  "context",
                  r->ctx->base.id, req->res_id, (unsigned long long)req->event_handle);
      rsp->hdr.ret = obj ? VKFD_STATUS_INVALID_PARAMETER : VKFD_STATUS_INVALID_HANDLE;
      return;
   }
   /* the resource, if any, stays; its detach then finds nothing left to do */
   hsakmt_objects_remove(&r->ctx->objects, obj);
   obj->ops->destroy(r->ctx, obj);
}

static void
event_set(struct hsakmt_request *r)
{
   struct hsakmt_event_rsp *rsp = event_rsp(r);
   if (!rsp)
      return;
   struct hsakmt_event_object *event = resolve_event(r, "SET");
   if (!event || !reserved_fields_zero(r, "SET")) {
      rsp->hdr.ret = event ? VKFD_STATUS_INVALID_PARAMETER : VKFD_STATUS_INVALID_HANDLE;
      return;
   }
   rsp->hdr.ret = vkfd_kfd_event_set(event->kfd);
}

static void
event_reset(struct hsakmt_request *r)
{
   struct hsakmt_event_rsp *rsp = event_rsp(r);
   if (!rsp)
      return;
   struct hsakmt_event_object *event = resolve_event(r, "RESET");
   if (!event || !reserved_fields_zero(r, "RESET")) {
      rsp->hdr.ret = event ? VKFD_STATUS_INVALID_PARAMETER : VKFD_STATUS_INVALID_HANDLE;
      return;
   }
   rsp->hdr.ret = vkfd_kfd_event_reset(event->kfd);
}

static void
event_query_state(struct hsakmt_request *r)
{
   struct hsakmt_event_rsp *rsp = event_rsp(r);
   if (!rsp)
      return;
   struct hsakmt_event_object *event = resolve_event(r, "QUERY_STATE");
   if (!event || !reserved_fields_zero(r, "QUERY_STATE")) {
      rsp->hdr.ret = event ? VKFD_STATUS_INVALID_PARAMETER : VKFD_STATUS_INVALID_HANDLE;
      return;
   }
   /* SUCCESS: signalled; WAIT_TIMEOUT: not (§1.7) */
   int status = vkfd_kfd_event_poll(event->kfd);
   if (status == VKFD_STATUS_SUCCESS && !event->manual_reset &&
       event->type == EVENT_TYPE_SIGNAL) {
      /* a query must not consume what the poll consumed: signal it again */
      int restored = vkfd_kfd_event_set(event->kfd);
      if (restored)
         vkfd_err("ctx %u: res %u: EVENT/QUERY_STATE: re-signalling the auto-reset "
                  "event failed (status %d); the query consumed its signal",
                  r->ctx->base.id, event->base.res_id, restored);
   }
   rsp->hdr.ret = status;
}

static void
event_wait_on_multi(struct hsakmt_request *r)
{
   /* a wait would hold the VMM's command thread for as long as the guest asks */
   vkfd_err("ctx %u: EVENT/WAIT_ON_MULTI_EVENTS is not served: waiting would block the "
            "VMM's command thread (the guest polls with QUERY_STATE)",
            r->ctx->base.id);
   struct hsakmt_event_rsp *rsp = event_rsp(r);
   if (rsp)
      rsp->hdr.ret = VKFD_STATUS_NOT_SUPPORTED;
}

/* Each [base, base + size) is empty or lies inside one KFD allocation of the context. */
static bool
trap_range_ok(struct hsakmt_request *r, uint64_t base, uint64_t size, const char *what)
{
   if (!base && !size)
      return true;
   struct hsakmt_object *obj = size ? hsakmt_memory_find(r->ctx, base, size) : NULL;
   if (obj && obj->kind == HSAKMT_OBJECT_HOST_MEM)
      return true;
   vkfd_err("ctx %u: EVENT/SET_TRAP: %s 0x%llx+0x%llx is not inside one KFD allocation "
            "of this context",
            r->ctx->base.id, what, (unsigned long long)base, (unsigned long long)size);
   return false;
}

static void
event_set_trap(struct hsakmt_request *r)
{
   const struct hsakmt_event_req *req = event_req(r);
   struct hsakmt_event_rsp *rsp = event_rsp(r);
   if (!rsp)
      return;
   uint32_t node = req->set_trap_handler.node_id;
   uint64_t handler = req->set_trap_handler.trap_handler_base_address;
   uint64_t handler_size = req->set_trap_handler.trap_handler_size_in_bytes;
   uint64_t buffer = req->set_trap_handler.trap_buffer_base_address;
   uint64_t buffer_size = req->set_trap_handler.trap_buffer_size_in_bytes;
   if (!vkfd_kfd_node_is_gpu(node)) {
      vkfd_err("ctx %u: EVENT/SET_TRAP: node %u is not a GPU", r->ctx->base.id, node);
      rsp->hdr.ret = VKFD_STATUS_INVALID_NODE_UNIT;
      return;
   }
   if (req->set_trap_handler.pad || !reserved_fields_zero(r, "SET_TRAP") ||
       !trap_range_ok(r, handler, handler_size, "trap handler") ||
       !trap_range_ok(r, buffer, buffer_size, "trap buffer")) {
      rsp->hdr.ret = VKFD_STATUS_INVALID_PARAMETER;
      return;
   }
   /* process-wide on the host: the last context to set it serves every context */
   rsp->hdr.ret =
      vkfd_kfd_set_trap_handler(node, handler, handler_size, buffer, buffer_size);
}

struct vkfd_kfd_event *
hsakmt_event_lookup(struct hsakmt_context *ctx, uint64_t token)
{
   struct hsakmt_event_object *event = (struct hsakmt_event_object *)hsakmt_token_resolve(
      &ctx->tokens, token, HSAKMT_OBJECT_EVENT);
   return event ? event->kfd : NULL;
}

static const struct hsakmt_subcommand event_table[HSAKMT_EVENT_COUNT] = {
   [HSAKMT_EVENT_CREATE] = { "CREATE", event_create },
   [HSAKMT_EVENT_DESTROY] = { "DESTROY", event_destroy_command },
   [HSAKMT_EVENT_SET] = { "SET", event_set },
   [HSAKMT_EVENT_RESET] = { "RESET", event_reset },
   [HSAKMT_EVENT_QUERY_STATE] = { "QUERY_STATE", event_query_state },
   [HSAKMT_EVENT_WAIT_ON_MULTI_EVENTS] = { "WAIT_ON_MULTI_EVENTS", event_wait_on_multi },
   [HSAKMT_EVENT_SET_TRAP] = { "SET_TRAP", event_set_trap },
};

void
hsakmt_event(struct hsakmt_request *r)
{
   hsakmt_dispatch_subcommand(r, "EVENT", event_table, HSAKMT_EVENT_COUNT,
                              event_req(r)->type, sizeof(struct hsakmt_event_rsp));
}
