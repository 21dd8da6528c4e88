/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * EVENT (wire-protocol.md §2.3). ROCr creates its interrupt events through the host
 * thunk, not the virtio transport, so every sub-type here answers NOT_SUPPORTED with
 * a published seqno until event objects exist.
 */
#include "hsakmt/hsakmt_context.h"

static const struct hsakmt_subcommand event_table[HSAKMT_EVENT_COUNT] = {
   [HSAKMT_EVENT_CREATE] = { "CREATE", NULL },
   [HSAKMT_EVENT_DESTROY] = { "DESTROY", NULL },
   [HSAKMT_EVENT_SET] = { "SET", NULL },
   [HSAKMT_EVENT_RESET] = { "RESET", NULL },
   [HSAKMT_EVENT_QUERY_STATE] = { "QUERY_STATE", NULL },
   [HSAKMT_EVENT_WAIT_ON_MULTI_EVENTS] = { "WAIT_ON_MULTI_EVENTS", NULL },
   [HSAKMT_EVENT_SET_TRAP] = { "SET_TRAP", NULL },
};

void
hsakmt_event(struct hsakmt_request *r)
{
   const struct hsakmt_event_req *req = r->req;
   hsakmt_dispatch_subcommand(r, "EVENT", event_table, HSAKMT_EVENT_COUNT, req->type,
                              sizeof(struct hsakmt_event_rsp));
}
