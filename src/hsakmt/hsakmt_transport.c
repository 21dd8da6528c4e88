/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Framing, the shared-memory blob, responses and seqno publication
 * (wire-protocol.md §1.2-§1.5, hostile-inputs.md "Native-context ccmd stream").
 *
 * Every request is copied into a private, zero-extended buffer before it is parsed;
 * every response is built privately and copied out once. The guest's slot length is
 * read once. The seqno of every request whose header could be read is published,
 * errors included: an unpublished seqno hangs the guest thread forever.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "virglrenderer.h"

#include "hsakmt/hsakmt_context.h"
#include "util/vkfd_log.h"
#include "util/vkfd_math.h"

struct hsakmt_command {
   const char *name;
   void (*handler)(struct hsakmt_request *r);
   uint32_t req_size; /* the request struct; shorter requests are zero-extended */
   uint32_t rsp_size; /* 0: the command has no response */
};

static const struct hsakmt_command commands[HSAKMT_CCMD_COUNT] = {
   [HSAKMT_CCMD_NOP] = { "NOP", NULL, sizeof(struct hsakmt_ccmd_req), 0 },
   [HSAKMT_CCMD_QUERY_INFO] = { "QUERY_INFO", hsakmt_query_info,
                                sizeof(struct hsakmt_query_info_req),
                                sizeof(struct hsakmt_query_info_rsp) },
   [HSAKMT_CCMD_EVENT] = { "EVENT", hsakmt_event, sizeof(struct hsakmt_event_req),
                           sizeof(struct hsakmt_event_rsp) },
   [HSAKMT_CCMD_MEMORY] = { "MEMORY", hsakmt_memory, sizeof(struct hsakmt_memory_req),
                            sizeof(struct hsakmt_memory_rsp) },
   [HSAKMT_CCMD_QUEUE] = { "QUEUE", hsakmt_queue, sizeof(struct hsakmt_queue_req),
                           sizeof(struct hsakmt_queue_rsp) },
   [HSAKMT_CCMD_GL_INTER] = { "GL_INTER", hsakmt_gl_inter,
                              sizeof(struct hsakmt_gl_inter_req),
                              sizeof(struct hsakmt_gl_inter_rsp) },
};

static int
grow_buffer(uint8_t **buffer, size_t *size, size_t wanted)
{
   if (*size >= wanted)
      return 0;
   size_t new_size = *size ? *size : 4096;
   while (new_size < wanted)
      new_size *= 2;
   uint8_t *grown = realloc(*buffer, new_size);
   if (!grown)
      return -ENOMEM;
   *buffer = grown;
   *size = new_size;
   return 0;
}

void *
hsakmt_response(struct hsakmt_request *r, size_t size)
{
   struct hsakmt_context *ctx = r->ctx;
   if (size < sizeof(struct hsakmt_ccmd_rsp) || size > ctx->rsp_area_size) {
      vkfd_err("ctx %u: a %zu-byte response cannot fit the %u-byte response area",
               ctx->base.id, size, ctx->rsp_area_size);
      return NULL;
   }
   if (grow_buffer(&ctx->rsp_build, &ctx->rsp_build_size, size)) {
      vkfd_err("ctx %u: out of memory for a %zu-byte response", ctx->base.id, size);
      return NULL;
   }
   memset(ctx->rsp_build, 0, size);
   r->rsp = ctx->rsp_build;
   r->rsp_len = (uint32_t)size;
   return r->rsp;
}

void
hsakmt_request_fail(struct hsakmt_request *r, int32_t status)
{
   /* a header-only answer always fits a slot the guest sized for a full response */
   struct hsakmt_context *ctx = r->ctx;
   if (grow_buffer(&ctx->rsp_build, &ctx->rsp_build_size,
                   sizeof(struct hsakmt_ccmd_rsp))) {
      r->rsp = NULL;
      return;
   }
   struct hsakmt_ccmd_rsp *rsp = (struct hsakmt_ccmd_rsp *)ctx->rsp_build;
   rsp->len = sizeof(*rsp);
   rsp->ret = status;
   r->rsp = rsp;
   r->rsp_len = sizeof(*rsp);
}

void
hsakmt_dispatch_subcommand(struct hsakmt_request *r, const char *command,
                           const struct hsakmt_subcommand *table, uint32_t count,
                           uint32_t type, size_t rsp_size)
{
   if (type >= count || !table[type].handler) {
      vkfd_err("ctx %u: %s sub-type %u is %s", r->ctx->base.id, command, type,
               type < count && table[type].name ? "not supported" : "unknown");
      struct hsakmt_ccmd_rsp *rsp = hsakmt_response(r, rsp_size);
      if (rsp)
         rsp->ret = VKFD_STATUS_NOT_SUPPORTED;
      else
         hsakmt_request_fail(r, VKFD_STATUS_NOT_SUPPORTED);
      return;
   }
   vkfd_debug("ctx %u: %s/%s", r->ctx->base.id, command, table[type].name);
   table[type].handler(r);
}

/* Reads the guest's pre-written slot length once, if the slot header is in bounds. */
static uint32_t
read_guest_len(struct hsakmt_context *ctx, uint32_t rsp_off)
{
   if (!ctx->shmem || rsp_off > ctx->rsp_area_size ||
       ctx->rsp_area_size - rsp_off < sizeof(struct hsakmt_ccmd_rsp))
      return 0;
   const volatile uint32_t *slot = (const volatile uint32_t *)(ctx->rsp_area + rsp_off);
   return *slot;
}

/* Copies the private response into the guest's slot: min(guest, host, room) bytes. */
static void
write_response(struct hsakmt_context *ctx, const struct hsakmt_request *r,
               uint32_t rsp_off)
{
   if (!r->rsp || !ctx->shmem)
      return;
   if (r->guest_rsp_len < sizeof(struct hsakmt_ccmd_rsp)) {
      vkfd_debug("ctx %u: guest slot at %u is %u bytes: response dropped", ctx->base.id,
                 rsp_off, r->guest_rsp_len);
      return;
   }
   /* bounds re-checked right before the copy, against private sizes only */
   if (rsp_off > ctx->rsp_area_size)
      return;
   uint32_t room = ctx->rsp_area_size - rsp_off;
   uint32_t n = VKFD_MIN(VKFD_MIN(r->guest_rsp_len, r->rsp_len), room);
   if (n < sizeof(struct hsakmt_ccmd_rsp))
      return;
   struct hsakmt_ccmd_rsp *rsp = r->rsp;
   rsp->len = n;
   memcpy(ctx->rsp_area + rsp_off, r->rsp, n);
}

static void
publish_seqno(struct hsakmt_context *ctx, uint32_t seqno)
{
   if (!ctx->shmem)
      return;
   /* release: the response bytes are visible before the guest sees the seqno */
   atomic_store_explicit((_Atomic uint32_t *)&ctx->shmem->seqno, seqno,
                         memory_order_release);
}

/* Answers a request that framing rejected, when its slot can still be trusted. */
static void
reject_request(struct hsakmt_context *ctx, const struct hsakmt_ccmd_req *hdr)
{
   if (hdr->rsp_off % 8 == 0 && hdr->cmd < HSAKMT_CCMD_COUNT &&
       hdr->cmd > HSAKMT_CCMD_NOP) {
      struct hsakmt_request r = { .ctx = ctx };
      r.guest_rsp_len = read_guest_len(ctx, hdr->rsp_off);
      hsakmt_request_fail(&r, VKFD_STATUS_INVALID_PARAMETER);
      write_response(ctx, &r, hdr->rsp_off);
   }
   publish_seqno(ctx, hdr->seqno);
}

static void
execute_request(struct hsakmt_context *ctx, const struct hsakmt_ccmd_req *hdr,
                const uint8_t *wire)
{
   struct hsakmt_request r = { .ctx = ctx, .len = hdr->len };
   const struct hsakmt_command *command =
      hdr->cmd < HSAKMT_CCMD_COUNT && commands[hdr->cmd].name ? &commands[hdr->cmd]
                                                              : NULL;

   if (command && command->rsp_size)
      r.guest_rsp_len = read_guest_len(ctx, hdr->rsp_off);

   if (!command) {
      vkfd_err("ctx %u: unknown command %u (seqno %u)", ctx->base.id, hdr->cmd,
               hdr->seqno);
      r.guest_rsp_len = read_guest_len(ctx, hdr->rsp_off);
      hsakmt_request_fail(&r, VKFD_STATUS_NOT_SUPPORTED);
   } else if (command->handler) {
      /* one copy out of guest-visible memory, zero-extended for older guests */
      size_t copy_size = VKFD_MAX((size_t)hdr->len, (size_t)command->req_size);
      if (grow_buffer(&ctx->req_copy, &ctx->req_copy_size, copy_size)) {
         vkfd_err("ctx %u: %s: out of memory for a %u-byte request", ctx->base.id,
                  command->name, hdr->len);
         hsakmt_request_fail(&r, VKFD_STATUS_NO_MEMORY);
      } else {
         memcpy(ctx->req_copy, wire, hdr->len);
         memset(ctx->req_copy + hdr->len, 0, copy_size - hdr->len);
         r.req = ctx->req_copy;
         command->handler(&r);
         if (!r.rsp)
            hsakmt_request_fail(&r, VKFD_STATUS_ERROR);
      }
   }
   write_response(ctx, &r, hdr->rsp_off);
   publish_seqno(ctx, hdr->seqno);
}

int
hsakmt_transport_submit(struct vkfd_context *base, const void *buffer, size_t size)
{
   struct hsakmt_context *ctx = hsakmt_context(base);
   const uint8_t *cursor = buffer;
   size_t remaining = size;

   if (size && !ctx->shmem) {
      vkfd_err("ctx %u: %zu-byte command before the shared-memory blob exists", base->id,
               size);
      return -EINVAL;
   }

   while (remaining >= sizeof(struct hsakmt_ccmd_req)) {
      struct hsakmt_ccmd_req hdr;
      memcpy(&hdr, cursor, sizeof(hdr));

      bool bad_len = hdr.len < sizeof(hdr) || hdr.len > remaining;
      /* SET_CU_MASK and ALLOC_GWS end on a 4-byte boundary: tolerated when last */
      bool misaligned = hdr.len % 8 && !(hdr.len % 8 == 4 && hdr.len == remaining);
      if (bad_len || misaligned || hdr.rsp_off % 8) {
         vkfd_err("ctx %u: command %u (seqno %u): bad framing: len %u of %zu remaining, "
                  "rsp_off %u; rest of the submit dropped",
                  base->id, hdr.cmd, hdr.seqno, hdr.len, remaining, hdr.rsp_off);
         if (!bad_len)
            reject_request(ctx, &hdr);
         else
            publish_seqno(ctx, hdr.seqno);
         return -EINVAL;
      }
      execute_request(ctx, &hdr, cursor);
      cursor += hdr.len;
      remaining -= hdr.len;
   }
   if (remaining) {
      vkfd_err("ctx %u: %zu trailing bytes after the last command", base->id, remaining);
      return -EINVAL;
   }
   return 0;
}

int
hsakmt_shmem_create(struct hsakmt_context *ctx, const struct vkfd_blob_request *request,
                    struct vkfd_blob *blob)
{
   uint32_t id = ctx->base.id;
   long page = sysconf(_SC_PAGESIZE);
   if (ctx->shmem_created) {
      vkfd_err("ctx %u: res %u: a second shared-memory blob", id, request->res_id);
      return -EINVAL;
   }
   if (request->blob_mem != VIRGL_RENDERER_BLOB_MEM_HOST3D ||
       request->blob_flags != VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE) {
      vkfd_err("ctx %u: res %u: shared memory needs HOST3D with exactly MAPPABLE "
               "(blob_mem %u, flags 0x%x)",
               id, request->res_id, request->blob_mem, request->blob_flags);
      return -EINVAL;
   }
   if (request->size < sizeof(struct hsakmt_shmem) + sizeof(struct hsakmt_ccmd_rsp) ||
       request->size > HSAKMT_SHMEM_MAX_SIZE || request->size % (uint64_t)page) {
      vkfd_err("ctx %u: res %u: shared memory of 0x%llx bytes (page multiple, at most "
               "0x%x)",
               id, request->res_id, (unsigned long long)request->size,
               HSAKMT_SHMEM_MAX_SIZE);
      return -EINVAL;
   }

   int fd = memfd_create("virtkfd-hsakmt-shmem", MFD_CLOEXEC | MFD_ALLOW_SEALING);
   if (fd < 0)
      return -errno;
   void *map = MAP_FAILED;
   if (ftruncate(fd, (off_t)request->size) ||
       fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) ||
       (map = mmap(NULL, request->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
          MAP_FAILED) {
      int err = errno;
      vkfd_err("ctx %u: res %u: shared memory setup failed: %s", id, request->res_id,
               strerror(err));
      close(fd);
      return -err;
   }

   ctx->shmem = map;
   ctx->shmem_size = request->size;
   ctx->shmem_res_id = request->res_id;
   ctx->shmem_created = true;
   ctx->shmem->rsp_mem_offset = sizeof(struct hsakmt_shmem);
   ctx->rsp_area = (uint8_t *)map + sizeof(struct hsakmt_shmem);
   ctx->rsp_area_size = (uint32_t)(request->size - sizeof(struct hsakmt_shmem));

   blob->kind = VKFD_BLOB_FD;
   blob->fd = fd; /* the resource owns it now; our mapping stays valid without it */
   blob->fd_type = VIRGL_RENDERER_BLOB_FD_TYPE_SHM;
   blob->map_info = VIRGL_RENDERER_MAP_CACHE_CACHED;
   vkfd_info("ctx %u: shared memory res %u, %zu bytes", id, request->res_id,
             ctx->shmem_size);
   return 0;
}

void
hsakmt_shmem_release(struct hsakmt_context *ctx)
{
   if (ctx->shmem)
      munmap(ctx->shmem, ctx->shmem_size);
   ctx->shmem = NULL;
   ctx->rsp_area = NULL;
   ctx->rsp_area_size = 0;
   ctx->shmem_res_id = 0;
}
