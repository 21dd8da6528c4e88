/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * QUEUE (wire-protocol.md §2.5). Until queue objects exist, every sub-type answers
 * NOT_SUPPORTED with a published seqno.
 */
#include "hsakmt/hsakmt_context.h"

static const struct hsakmt_subcommand queue_table[HSAKMT_QUEUE_COUNT] = {
   [HSAKMT_QUEUE_CREATE] = { "CREATE", NULL },
   [HSAKMT_QUEUE_DESTROY] = { "DESTROY", NULL },
   [HSAKMT_QUEUE_UPDATE] = { "UPDATE", NULL },
   [HSAKMT_QUEUE_GET_INFO] = { "GET_INFO", NULL },
   [HSAKMT_QUEUE_SET_CU_MASK] = { "SET_CU_MASK", NULL },
   [HSAKMT_QUEUE_ALLOC_GWS] = { "ALLOC_GWS", NULL },
};

void
hsakmt_queue(struct hsakmt_request *r)
{
   const struct hsakmt_queue_req *req = r->req;
   hsakmt_dispatch_subcommand(r, "QUEUE", queue_table, HSAKMT_QUEUE_COUNT, req->type,
                              sizeof(struct hsakmt_queue_rsp));
}

void
hsakmt_gl_inter(struct hsakmt_request *r)
{
   /* CL-GL interop needs foreign graphics resources, which this host never imports */
   static const struct hsakmt_subcommand gl_table[HSAKMT_GL_INTER_COUNT] = {
      [HSAKMT_GL_INTER_REG_GHD_TO_NODES] = { "REG_GHD_TO_NODES", NULL },
   };
   const struct hsakmt_gl_inter_req *req = r->req;
   hsakmt_dispatch_subcommand(r, "GL_INTER", gl_table, HSAKMT_GL_INTER_COUNT, req->type,
                              sizeof(struct hsakmt_gl_inter_rsp));
}
