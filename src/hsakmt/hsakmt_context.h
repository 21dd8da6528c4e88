/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The ROCm native context (capset 8). The transport (hsakmt_transport.c) frames the
 * guest's command stream, copies each request out once, dispatches it through a table
 * and publishes the response and seqno through the shared-memory blob; the handlers
 * (hsakmt_query.c, hsakmt_memory.c, ...) read like the commands' specifications.
 *
 * Ownership: the core's context table owns the context; the context owns its shmem
 * mapping, its private request/response buffers and every object in its table, and
 * holds one reference on the process-wide KFD device.
 */
#ifndef HSAKMT_CONTEXT_H
#define HSAKMT_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/vkfd_context.h"
#include "hsakmt/hsakmt_limits.h"
#include "hsakmt/hsakmt_objects.h"
#include "hsakmt/hsakmt_token.h"
#include "virtkfd/hsakmt_proto.h"

/* Guests use 80 pages; anything up to this cap is accepted (§1.2). */
#define HSAKMT_SHMEM_MAX_SIZE (16u << 20)

/* Nodes whose doorbell page a context tracks (KFD numbers its nodes densely). */
#define HSAKMT_MAX_NODES 64

struct hsakmt_doorbell;

struct hsakmt_context {
   struct vkfd_context base;
   bool kfd_acquired;
   bool va_window_user; /* this context took the process-wide VA window (OPEN_KFD) */
   uint64_t token_salt; /* random: opaque tokens of one context mean nothing elsewhere */

   /* the shared-memory blob (blob_id 0); sizes are private copies, never re-read */
   struct hsakmt_shmem *shmem; /* host mapping, or NULL */
   size_t shmem_size;
   uint32_t shmem_res_id;
   bool shmem_created; /* at most one per context, even after its release */
   uint8_t *rsp_area;  /* shmem + rsp_mem_offset */
   uint32_t rsp_area_size;

   /* private buffers: a zero-extended copy of the request, the response being built */
   uint8_t *req_copy;
   size_t req_copy_size;
   uint8_t *rsp_build;
   size_t rsp_build_size;

   struct hsakmt_objects objects;
   struct hsakmt_tokens tokens;   /* event and queue handles */
   struct vkfd_list memory;       /* hsakmt_object.memory_link: HOST_MEM and USERPTR */
   struct vkfd_list scratch;      /* hsakmt_object.memory_link: SCRATCH, SCRATCH_MAP */
   struct hsakmt_account account; /* what the context holds, against its limits */
   uint32_t next_userptr_slot;    /* where the next userptr handle is looked for */
   /* the node's live DOORBELL object, pending or bound: one per node (§4.5) */
   struct hsakmt_doorbell *doorbells[HSAKMT_MAX_NODES];
};

/* What a handler sees of the request being executed. */
struct hsakmt_request {
   struct hsakmt_context *ctx;
   const void *req;        /* the private, zero-extended copy */
   uint32_t len;           /* hdr.len as the guest sent it */
   uint32_t guest_rsp_len; /* the slot length the guest pre-wrote, read once */
   void *rsp;              /* the response being built, or NULL */
   uint32_t rsp_len;
};

/*
 * Allocates the zeroed response of `size` bytes for the current request. Returns NULL,
 * with a log line, when it cannot fit the guest's response area; the handler then
 * answers with hsakmt_request_fail().
 */
void *hsakmt_response(struct hsakmt_request *r, size_t size);

/* Answers a header-only response with `status` (the request could not be served). */
void hsakmt_request_fail(struct hsakmt_request *r, int32_t status);

static inline struct hsakmt_context *
hsakmt_context(struct vkfd_context *ctx)
{
   return (struct hsakmt_context *)ctx;
}

/* Transport entry points (hsakmt_transport.c). */
int hsakmt_transport_submit(struct vkfd_context *ctx, const void *buffer, size_t size);

int hsakmt_shmem_create(struct hsakmt_context *ctx,
                        const struct vkfd_blob_request *request, struct vkfd_blob *blob);

void hsakmt_shmem_release(struct hsakmt_context *ctx);

/* Command handlers, one per top-level command. */
void hsakmt_query_info(struct hsakmt_request *r);
void hsakmt_event(struct hsakmt_request *r);
void hsakmt_memory(struct hsakmt_request *r);
void hsakmt_queue(struct hsakmt_request *r);
void hsakmt_gl_inter(struct hsakmt_request *r);

/* Describes one sub-command for logs: "MEMORY/ALLOC". */
struct hsakmt_subcommand {
   const char *name;
   void (*handler)(struct hsakmt_request *r);
};

/* Runs table[type], or answers NOT_SUPPORTED for unknown and unimplemented types. */
void hsakmt_dispatch_subcommand(struct hsakmt_request *r, const char *command,
                                const struct hsakmt_subcommand *table, uint32_t count,
                                uint32_t type, size_t rsp_size);

#endif /* HSAKMT_CONTEXT_H */
