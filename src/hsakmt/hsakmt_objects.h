/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * A context's objects (wire-protocol.md §4.1, §6.3). A creating command files its new
 * object as *pending* under the guest's fresh blob_id; RESOURCE_CREATE_BLOB then
 * *claims* it once and binds it to the new res_id; the resource's detach destroys it.
 * Guests name objects only through this context's tables: never by host pointer.
 *
 * Ownership: the table owns every object, pending or bound; removing an object hands
 * it back to the caller, who destroys it. When the context goes, objects are destroyed
 * in dependency order: queues before the memory they run on, GPU mappings before
 * what they map.
 */
#ifndef HSAKMT_OBJECTS_H
#define HSAKMT_OBJECTS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/vkfd_context.h"
#include "hsakmt/hsakmt_limits.h"
#include "util/vkfd_hash.h"
#include "util/vkfd_list.h"

struct hsakmt_context;
struct hsakmt_object;

/* In the order a dying context destroys them: users before what they use. */
enum hsakmt_object_kind {
   HSAKMT_OBJECT_QUEUE,       /* a user-mode queue running on KFD memory */
   HSAKMT_OBJECT_EVENT,       /* a KFD event */
   HSAKMT_OBJECT_SCRATCH_MAP, /* a GPU mapping of part of a scratch allocation */
   HSAKMT_OBJECT_DOORBELL,    /* a node's doorbell page, for the guest to map */
   HSAKMT_OBJECT_SCRATCH,     /* a sub-range of a node's scratch window */
   HSAKMT_OBJECT_HOST_MEM,    /* a KFD allocation at a fixed VA */
   HSAKMT_OBJECT_USERPTR,     /* guest pages registered with the GPU */
   HSAKMT_OBJECT_KIND_COUNT,
};

struct hsakmt_object_ops {
   const char *name;
   /*
    * RESOURCE_CREATE_BLOB claims the pending object: checks the request against the
    * object (blob_mem is HOST3D) and fills `blob`. Returns 0 or a negative errno with
    * a log line. NULL: the kind has no blob (never filed as pending).
    */
   int (*claim)(struct hsakmt_context *ctx, struct hsakmt_object *obj,
                const struct vkfd_blob_request *request, struct vkfd_blob *blob);
   /* Optional: the claim succeeded and the resource now owns blob->backing. */
   void (*claimed)(struct hsakmt_object *obj);
   /* releases everything the object holds, in dependency order, then frees it */
   void (*destroy)(struct hsakmt_context *ctx, struct hsakmt_object *obj);
};

/* The generic part; each kind embeds it as its first member. */
struct hsakmt_object {
   enum hsakmt_object_kind kind;
   struct vkfd_list memory_link; /* memory kinds: on the context's address list */
   const struct hsakmt_object_ops *ops;
   uint32_t res_id; /* 0 while pending */
   uint32_t blob_id;
   uint64_t token;              /* the guest's opaque handle, or 0 (hsakmt_token.h) */
   struct hsakmt_charge charge; /* one object of the context's limit */
};

struct hsakmt_objects {
   struct vkfd_hash pending; /* blob_id -> object */
   struct vkfd_hash bound;   /* res_id -> object */
};

void hsakmt_objects_init(struct hsakmt_objects *objects);

/* Destroys every object, pending or bound. */
void hsakmt_objects_fini(struct hsakmt_context *ctx, struct hsakmt_objects *objects);

/*
 * Checks a fresh blob id from a creating command: non-zero, upper 32 bits clear, not
 * already pending. Returns an HSAKMT status (INVALID_PARAMETER) with a log line.
 */
int hsakmt_objects_check_blob_id(struct hsakmt_objects *objects, uint64_t blob_id,
                                 const char *command);

/*
 * Counts a new object against the context's object limit (hsakmt_limits.h); its
 * destroy releases obj->charge. Returns an HSAKMT status.
 */
int hsakmt_object_charge(struct hsakmt_context *ctx, struct hsakmt_object *obj,
                         const char *command);

/* Files `obj` under a checked blob id; 0 or VKFD_STATUS_NO_MEMORY. */
int hsakmt_objects_add_pending(struct hsakmt_objects *objects, uint32_t blob_id,
                               struct hsakmt_object *obj);

/* Takes the pending object for blob_id, or NULL. */
struct hsakmt_object *
hsakmt_objects_claim(struct hsakmt_objects *objects, uint64_t blob_id);

/* Binds a claimed object to its resource; 0 or -errno. */
int hsakmt_objects_bind(struct hsakmt_objects *objects, uint32_t res_id,
                        struct hsakmt_object *obj);

/* The bound object of this context for res_id, of `kind` (or any kind when < 0). */
struct hsakmt_object *
hsakmt_objects_lookup(struct hsakmt_objects *objects, uint32_t res_id, int kind);

/* Unbinds and returns the object for res_id, or NULL. */
struct hsakmt_object *
hsakmt_objects_unbind(struct hsakmt_objects *objects, uint32_t res_id);

/* Takes `obj` out of the table, pending or bound, for its caller to destroy. */
void hsakmt_objects_remove(struct hsakmt_objects *objects, struct hsakmt_object *obj);

/*
 * RESOURCE_CREATE_BLOB(HOST3D) of a pending object: claims it once, lets its kind
 * check the request and describe the blob, and binds it to the resource. A refused
 * claim destroys the object (claim-once). 0 or a negative errno.
 */
int hsakmt_objects_claim_blob(struct hsakmt_context *ctx, struct hsakmt_objects *objects,
                              const struct vkfd_blob_request *request,
                              struct vkfd_blob *blob);

#endif /* HSAKMT_OBJECTS_H */
