/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Per-client state, the dispatch table (§11.1 rule 1, §11.2) and the session
 * commands (§6.1). A command runs only when its whole message (header, payload
 * and any fd message) is buffered, after its length and state precondition were
 * checked, so a handler never reads the socket and never blocks.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "virglrenderer.h"
#include "vtest_server.h"

/* Stop reading from a client that does not read its replies: bytes, and fds (each
 * one an open file in this process until the client takes it). */
#define VTEST_TX_HIGH_WATER (4u << 20)
#define VTEST_TX_MAX_FDS    64
/* Input read for one client before the others get their turn. */
#define VTEST_RX_TURN_BYTES (1u << 20)
/* Capsets larger than this are not real. */
#define VTEST_MAX_CAPSET_SIZE (64u << 10)

enum vtest_state {
   PRE_FIRST,    /* only before CREATE_RENDERER */
   PRE_RENDERER, /* after CREATE_RENDERER */
   PRE_V3,       /* and a negotiated protocol version >= 3 */
   PRE_CONTEXT,  /* and CONTEXT_INIT done */
};

struct vtest_command {
   const char *name;
   uint32_t len_min, len_max; /* dwords, or bytes for CREATE_RENDERER */
   enum vtest_state state;
   bool len_in_bytes;
   bool fd_in; /* one fd message follows the payload */
   vtest_handler handler;
};

static struct vtest_client *clients;
static unsigned next_serial;

static bool cmd_create_renderer(struct vtest_client *, const uint32_t *, uint32_t, int);
static bool cmd_ping(struct vtest_client *, const uint32_t *, uint32_t, int);
static bool cmd_busy_wait(struct vtest_client *, const uint32_t *, uint32_t, int);
static bool cmd_protocol_version(struct vtest_client *, const uint32_t *, uint32_t, int);
static bool cmd_get_param(struct vtest_client *, const uint32_t *, uint32_t, int);
static bool cmd_get_capset(struct vtest_client *, const uint32_t *, uint32_t, int);
static bool cmd_context_init(struct vtest_client *, const uint32_t *, uint32_t, int);
static bool cmd_get_caps(struct vtest_client *, const uint32_t *, uint32_t, int);
static bool cmd_virgl_only(struct vtest_client *, const uint32_t *, uint32_t, int);
static bool cmd_drm_sync(struct vtest_client *, const uint32_t *, uint32_t, int);

#define CMD(id, min, max, st, fn) [id] = { &#id[5], min, max, st, false, false, fn }
#define DRM(id, n)                CMD(id, n, n, PRE_CONTEXT, cmd_drm_sync)

static const struct vtest_command commands[VCMD_UPSTREAM_COUNT] = {
   CMD(VCMD_GET_CAPS, 0, 0, PRE_RENDERER, cmd_get_caps),
   CMD(VCMD_RESOURCE_CREATE, 10, 10, PRE_RENDERER, cmd_virgl_only),
   CMD(VCMD_RESOURCE_UNREF, 1, 1, PRE_CONTEXT, vtest_cmd_resource_unref),
   CMD(VCMD_TRANSFER_GET, 11, 11, PRE_RENDERER, cmd_virgl_only),
   CMD(VCMD_TRANSFER_PUT, 11, 11, PRE_RENDERER, cmd_virgl_only),
   CMD(VCMD_SUBMIT_CMD, 0, UINT32_MAX, PRE_CONTEXT, vtest_cmd_submit_cmd),
   CMD(VCMD_RESOURCE_BUSY_WAIT, 2, 2, PRE_RENDERER, cmd_busy_wait),
   [VCMD_CREATE_RENDERER] = { "CREATE_RENDERER", 1, VTEST_MAX_RENDERER_NAME, PRE_FIRST,
                              true, false, cmd_create_renderer },
   CMD(VCMD_GET_CAPS2, 0, 0, PRE_RENDERER, cmd_get_caps),
   CMD(VCMD_PING_PROTOCOL_VERSION, 0, 0, PRE_RENDERER, cmd_ping),
   CMD(VCMD_PROTOCOL_VERSION, 1, 1, PRE_RENDERER, cmd_protocol_version),
   CMD(VCMD_RESOURCE_CREATE2, 11, 11, PRE_RENDERER, cmd_virgl_only),
   CMD(VCMD_TRANSFER_GET2, 10, 10, PRE_RENDERER, cmd_virgl_only),
   CMD(VCMD_TRANSFER_PUT2, 10, 10, PRE_RENDERER, cmd_virgl_only),
   CMD(VCMD_GET_PARAM, 1, 1, PRE_V3, cmd_get_param),
   CMD(VCMD_GET_CAPSET, 2, 2, PRE_V3, cmd_get_capset),
   CMD(VCMD_CONTEXT_INIT, 1, 1, PRE_V3, cmd_context_init),
   CMD(VCMD_RESOURCE_CREATE_BLOB, 6, 6, PRE_CONTEXT, vtest_cmd_resource_create_blob),
   CMD(VCMD_SYNC_CREATE, 2, 2, PRE_CONTEXT, vtest_cmd_sync_create),
   CMD(VCMD_SYNC_UNREF, 1, 1, PRE_CONTEXT, vtest_cmd_sync_unref),
   CMD(VCMD_SYNC_READ, 1, 1, PRE_CONTEXT, vtest_cmd_sync_read),
   CMD(VCMD_SYNC_WRITE, 3, 3, PRE_CONTEXT, vtest_cmd_sync_write),
   CMD(VCMD_SYNC_WAIT, 2, 2 + 3 * VTEST_MAX_SYNC_WAIT_COUNT, PRE_CONTEXT,
       vtest_cmd_sync_wait),
   CMD(VCMD_SUBMIT_CMD2, 1, UINT32_MAX, PRE_CONTEXT, vtest_cmd_submit_cmd2),
   DRM(VCMD_DRM_SYNC_CREATE, 1),
   DRM(VCMD_DRM_SYNC_DESTROY, 1),
   DRM(VCMD_DRM_SYNC_HANDLE_TO_FD, 1),
   DRM(VCMD_DRM_SYNC_FD_TO_HANDLE, 0),
   DRM(VCMD_DRM_SYNC_IMPORT_SYNC_FILE, 1),
   DRM(VCMD_DRM_SYNC_EXPORT_SYNC_FILE, 1),
   DRM(VCMD_DRM_SYNC_WAIT, 4),
   DRM(VCMD_DRM_SYNC_RESET, 1),
   DRM(VCMD_DRM_SYNC_SIGNAL, 1),
   DRM(VCMD_DRM_SYNC_TIMELINE_SIGNAL, 1),
   DRM(VCMD_DRM_SYNC_TIMELINE_WAIT, 4),
   DRM(VCMD_DRM_SYNC_QUERY, 2),
   DRM(VCMD_DRM_SYNC_TRANSFER, 7),
   CMD(VCMD_RESOURCE_EXPORT_FD, 1, 1, PRE_CONTEXT, vtest_cmd_resource_export_fd),
};

static const struct vtest_command ext_commands[] = {
   { "GUEST_RAM_ADD", VCMD_GUEST_RAM_ADD_SIZE, VCMD_GUEST_RAM_ADD_SIZE, PRE_RENDERER,
     false, true, vtest_cmd_guest_ram_add },
   { "RESOURCE_CREATE_BLOB_SG", VCMD_RES_CREATE_BLOB_SG_HDR_SIZE, UINT32_MAX,
     PRE_RENDERER, false, false, vtest_cmd_resource_create_blob_sg },
   { "VIRTKFD_DEBUG_STATS", 0, 0, PRE_RENDERER, false, false, vtest_cmd_debug_stats },
   { "VIRTKFD_DEBUG_RAM_READ", 3, 3, PRE_RENDERER, false, false,
     vtest_cmd_debug_ram_read },
   { "VIRTKFD_DEBUG_GPU_READ", 3, 3, PRE_RENDERER, false, false,
     vtest_cmd_debug_gpu_read },
   { "VIRTKFD_DEBUG_MAP_BLOB", 1, 1, PRE_RENDERER, false, false,
     vtest_cmd_debug_map_blob },
   { "VIRTKFD_DEBUG_QUEUE_RUN", 2, 2, PRE_RENDERER, false, false,
     vtest_cmd_debug_queue_run },
};

static const struct vtest_command *
command_lookup(uint32_t id)
{
   if (id < VCMD_UPSTREAM_COUNT)
      return commands[id].name ? &commands[id] : NULL;
   switch (id) {
   case VCMD_GUEST_RAM_ADD:
      return &ext_commands[0];
   case VCMD_RESOURCE_CREATE_BLOB_SG:
      return &ext_commands[1];
   case VCMD_VIRTKFD_DEBUG_STATS:
   case VCMD_VIRTKFD_DEBUG_RAM_READ:
   case VCMD_VIRTKFD_DEBUG_GPU_READ:
   case VCMD_VIRTKFD_DEBUG_MAP_BLOB:
   case VCMD_VIRTKFD_DEBUG_QUEUE_RUN:
      /* test-only: unknown unless the server was started with --debug-commands */
      return vtest_opts.debug_commands ? &ext_commands[2 + id - VCMD_VIRTKFD_DEBUG_STATS]
                                       : NULL;
   default:
      return NULL;
   }
}

struct vtest_client *
vtest_client_create(int sock)
{
   struct vtest_client *client = calloc(1, sizeof(*client));
   if (!client)
      return NULL;
   client->sock = sock;
   client->serial = ++next_serial;
   client->next = clients;
   clients = client;
   if (vtest_opts.record_path)
      client->record = vtest_record_open(vtest_opts.record_path, client->serial);
   return client;
}

void
vtest_client_destroy(struct vtest_client *client)
{
   for (struct vtest_client **p = &clients; *p; p = &(*p)->next) {
      if (*p == client) {
         *p = client->next;
         break;
      }
   }
   /* §11.1 rule 7: waits and submits first, then resources, then the context ... */
   vtest_syncs_fini(client);
   for (uint32_t i = 0; i < client->nres; i++)
      vtest_resource_destroy(client->res[i]);
   free(client->res);
   if (client->capset_id)
      virgl_renderer_context_destroy(client->ctx_id);
   /* ... and only then the guest RAM the resources pointed into */
   vtest_guest_ram_fini(client);
   /* retired fences of the context must not find this client any more */
   virgl_renderer_poll();
   vtest_rx_fini(&client->rx);
   vtest_tx_fini(&client->tx);
   vtest_record_close(client->record);
   if (client->sock >= 0)
      close(client->sock);
   free(client);
}

int
vtest_client_count(void)
{
   int n = 0;
   for (struct vtest_client *c = clients; c; c = c->next)
      n++;
   return n;
}

struct vtest_client *
vtest_find_client_by_ctx(uint32_t ctx_id)
{
   for (struct vtest_client *c = clients; c; c = c->next)
      if (c->capset_id && c->ctx_id == ctx_id)
         return c;
   return NULL;
}

struct vtest_client *vtest_find_client_by_serial(unsigned serial);

struct vtest_client *
vtest_find_client_by_serial(unsigned serial)
{
   for (struct vtest_client *c = clients; c; c = c->next)
      if (c->serial == serial)
         return c;
   return NULL;
}

static const char *
command_name(uint32_t id)
{
   const struct vtest_command *cmd = command_lookup(id);
   return cmd ? cmd->name : "unknown";
}

bool
vtest_client_fail(struct vtest_client *client, uint32_t cmd, int err, const char *fmt,
                  ...)
{
   char reason[256];
   va_list ap;
   va_start(ap, fmt);
   vsnprintf(reason, sizeof(reason), fmt, ap);
   va_end(ap);
   vtest_log("client %u: %s (id %u): %s; disconnecting", client->serial,
             command_name(cmd), cmd, reason);
   if (client->ext_aware && !client->closing) {
      uint32_t notice[2] = { cmd, (uint32_t)err };
      vtest_reply(client, VCMD_VIRTKFD_ERROR, notice, 2);
   }
   client->closing = true;
   return false;
}

int
vtest_reply(struct vtest_client *client, uint32_t cmd, const uint32_t *payload,
            uint32_t ndw)
{
   /* one chunk, so one send() per reply */
   uint32_t small[2 + 8];
   uint32_t *msg = ndw <= 8 ? small : malloc((2 + (size_t)ndw) * 4);
   if (!msg)
      return -ENOMEM;
   msg[0] = ndw;
   msg[1] = cmd;
   if (ndw)
      memcpy(msg + 2, payload, (size_t)ndw * 4);
   int ret = vtest_tx_data(&client->tx, msg, (2 + (size_t)ndw) * 4);
   if (msg != small)
      free(msg);
   return ret;
}

int
vtest_reply_fd(struct vtest_client *client, int fd)
{
   return vtest_tx_fd(&client->tx, fd);
}

static bool
state_ok(struct vtest_client *client, const struct vtest_command *cmd, const char **why)
{
   switch (cmd->state) {
   case PRE_FIRST:
      *why = "CREATE_RENDERER after the session started";
      return !client->have_renderer;
   case PRE_CONTEXT:
      if (client->have_renderer && client->version_negotiated && client->version >= 3 &&
          !client->capset_id) {
         *why = "no context: send CONTEXT_INIT first (a native-only server has no "
                "lazy VIRGL2 context)";
         return false;
      }
      /* fall through */
   case PRE_V3:
      if (client->have_renderer && (!client->version_negotiated || client->version < 3)) {
         *why = "needs protocol version 3 or later (send PROTOCOL_VERSION)";
         return false;
      }
      /* fall through */
   case PRE_RENDERER:
      *why = "the first command must be CREATE_RENDERER";
      return client->have_renderer;
   }
   return false;
}

bool
vtest_client_wants_input(const struct vtest_client *client)
{
   return !client->closing && !client->busy_wait_pending &&
          client->tx.queued < VTEST_TX_HIGH_WATER && client->tx.fds < VTEST_TX_MAX_FDS;
}

/* Runs commands while whole messages are buffered; `need` is what the next one takes. */
static bool
client_run(struct vtest_client *client, size_t *need)
{
   struct vtest_rx *rx = &client->rx;
   *need = 2 * 4;
   while (vtest_client_wants_input(client)) {
      if (rx->bad_fd_message)
         return vtest_client_fail(client, 0, EBADF,
                                  "malformed fd message (no fd, several fds, or an fd "
                                  "where none was expected)");
      size_t avail = vtest_rx_avail(rx);
      if (avail < 8) {
         if (rx->nfds) /* fds come after a payload, never inside a header */
            return vtest_client_fail(client, 0, EBADF, "an fd inside a message header");
         *need = 8;
         break;
      }
      uint32_t hdr[2];
      memcpy(hdr, rx->buf + rx->head, sizeof(hdr));
      uint32_t len = hdr[VTEST_CMD_LEN], id = hdr[VTEST_CMD_ID];
      const struct vtest_command *cmd = command_lookup(id);
      if (!cmd)
         return vtest_client_fail(client, id, ENOSYS, "unknown command id %u (len %u)",
                                  id, len);
      const char *why = "";
      if (!state_ok(client, cmd, &why))
         return vtest_client_fail(client, id, EPROTO, "%s", why);
      if (!cmd->len_in_bytes && len > vtest_opts.max_length)
         return vtest_client_fail(client, id, EPROTO,
                                  "len %u dwords is above the maximum of %u", len,
                                  vtest_opts.max_length);
      /* §13.3 step 1: the entry limit is a length limit, checked before reading */
      if (id == VCMD_RESOURCE_CREATE_BLOB_SG &&
          len >
             VCMD_RES_CREATE_BLOB_SG_HDR_SIZE +
                (uint64_t)VCMD_RES_CREATE_BLOB_SG_ENTRY_SIZE * vtest_opts.max_sg_entries)
         return vtest_client_fail(client, id, EPROTO,
                                  "len %u is above 7 + 4 * %u entries (--max-sg-entries)",
                                  len, vtest_opts.max_sg_entries);
      if (len < cmd->len_min || len > cmd->len_max) {
         if (cmd->len_min == cmd->len_max)
            return vtest_client_fail(client, id, EPROTO,
                                     "len %u, but the command takes exactly %u", len,
                                     cmd->len_min);
         return vtest_client_fail(client, id, EPROTO, "len %u outside [%u, %u]", len,
                                  cmd->len_min, cmd->len_max);
      }
      uint64_t payload_bytes = cmd->len_in_bytes ? len : (uint64_t)len * 4;
      uint64_t total = 8 + payload_bytes + (cmd->fd_in ? 1 : 0);
      uint64_t fd_pos = rx->consumed + 8 + payload_bytes;
      for (unsigned i = 0; i < rx->nfds; i++) {
         /* an fd anywhere but after the payload of a command that takes one */
         if (rx->fds[i].pos < rx->consumed + total &&
             (!cmd->fd_in || rx->fds[i].pos != fd_pos))
            return vtest_client_fail(client, id, EBADF,
                                     "an fd where the protocol expects none");
      }
      if (avail < total) {
         *need = (size_t)total;
         break;
      }

      int fd = -1;
      if (cmd->fd_in) {
         fd = vtest_rx_take_fd(rx, rx->consumed + 8 + payload_bytes);
         if (fd < 0)
            return vtest_client_fail(client, id, EBADF,
                                     "expected one fd message after the payload");
      }
      /* an aligned private copy: the buffer may be at any byte offset */
      uint32_t stack[16];
      uint32_t *payload = stack;
      if (payload_bytes > sizeof(stack)) {
         payload = malloc((size_t)payload_bytes + 4);
         if (!payload) {
            if (fd >= 0)
               close(fd);
            return vtest_client_fail(client, id, ENOMEM, "out of memory for %llu bytes",
                                     (unsigned long long)payload_bytes);
         }
      }
      memcpy(payload, rx->buf + rx->head + 8, (size_t)payload_bytes);
      vtest_rx_consume(rx, (size_t)total);
      vtest_debug("client %u: %s len %u", client->serial, cmd->name, len);
      client->cur_cmd = id;
      bool ok = cmd->handler(client, payload, len, fd);
      if (payload != stack)
         free(payload);
      if (!ok)
         return false;
   }
   return !client->closing;
}

bool
vtest_client_process(struct vtest_client *client)
{
   size_t need;
   client->rx.drained = false;
   /* a client that keeps its socket full must not keep the loop (other clients,
    * signals, fence callbacks) waiting: what is left is read on its next turn */
   uint64_t turn_end =
      client->rx.consumed + vtest_rx_avail(&client->rx) + VTEST_RX_TURN_BYTES;
   for (;;) {
      if (!client_run(client, &need))
         return false;
      if (!vtest_client_wants_input(client))
         return true;
      size_t avail = vtest_rx_avail(&client->rx);
      if (client->rx.eof) {
         if (avail)
            vtest_log("client %u: connection closed inside a command (%zu of %zu bytes)",
                      client->serial, avail, need);
         else
            vtest_debug("client %u: disconnected", client->serial);
         return false;
      }
      /* an empty socket and no partial message: no point asking for EAGAIN */
      if (client->sock < 0 || (client->rx.drained && !avail))
         return true;
      if (client->rx.consumed + avail >= turn_end)
         return true;
      uint64_t before = client->rx.consumed + avail;
      int ret = vtest_rx_fill(&client->rx, client->sock, need, client->record);
      if (ret < 0) {
         vtest_log("client %u: read failed: %s", client->serial, strerror(-ret));
         return false;
      }
      if (client->rx.consumed + vtest_rx_avail(&client->rx) == before &&
          !client->rx.eof && !client->rx.bad_fd_message)
         return true; /* nothing more now: wait for POLLIN */
   }
}

void
vtest_client_progress(struct vtest_client *client)
{
   vtest_waits_check(client);
   if (client->busy_wait_pending &&
       client->implicit_retired == client->implicit_created) {
      uint32_t busy = 0;
      client->busy_wait_pending = false;
      vtest_reply(client, VCMD_RESOURCE_BUSY_WAIT, &busy, 1);
   }
}

/* ---- session commands (§6.1) ------------------------------------------------- */

static bool
cmd_create_renderer(struct vtest_client *client, const uint32_t *payload, uint32_t len,
                    int fd)
{
   const char *name = (const char *)payload;
   /* §10 row 28: one terminating NUL at most, and only at the end */
   size_t n = strnlen(name, len);
   if (n + 1 < len)
      return vtest_client_fail(client, VCMD_CREATE_RENDERER, EINVAL,
                               "renderer name has an embedded NUL at byte %zu of %u", n,
                               len);
   memcpy(client->name, name, n);
   client->name[n] = 0;
   client->have_renderer = true;
   client->ctx_id = vtest_alloc_ctx_id();
   vtest_debug("client %u: renderer \"%s\", ctx %u", client->serial, client->name,
               client->ctx_id);
   return true;
}

static bool
cmd_ping(struct vtest_client *client, const uint32_t *payload, uint32_t len, int fd)
{
   return vtest_reply(client, VCMD_PING_PROTOCOL_VERSION, NULL, 0) == 0;
}

static bool
cmd_busy_wait(struct vtest_client *client, const uint32_t *payload, uint32_t len, int fd)
{
   if (payload[0] && !client->capset_id)
      return vtest_client_fail(client, VCMD_RESOURCE_BUSY_WAIT, EINVAL,
                               "handle %u before a context exists", payload[0]);
   if (payload[1] & ~(uint32_t)VCMD_BUSY_WAIT_FLAG_WAIT)
      return vtest_client_fail(client, VCMD_RESOURCE_BUSY_WAIT, EINVAL,
                               "unknown flags 0x%x", payload[1]);
   virgl_renderer_poll();
   uint32_t busy = client->implicit_retired != client->implicit_created;
   if (busy && (payload[1] & VCMD_BUSY_WAIT_FLAG_WAIT)) {
      /* §10 row 22: no spin; the reply goes out when this client's fences retire */
      client->busy_wait_pending = true;
      return true;
   }
   return vtest_reply(client, VCMD_RESOURCE_BUSY_WAIT, &busy, 1) == 0;
}

static bool
cmd_protocol_version(struct vtest_client *client, const uint32_t *payload, uint32_t len,
                     int fd)
{
   uint32_t v = payload[0] < VTEST_PROTOCOL_VERSION ? payload[0] : VTEST_PROTOCOL_VERSION;
   if (v == 1)
      v = 0; /* deprecated */
   if (client->version_negotiated)
      return vtest_client_fail(client, VCMD_PROTOCOL_VERSION, EPROTO,
                               "the version was negotiated already");
   if (vtest_opts.mode == VTEST_MODE_MULTI && v < 3)
      return vtest_client_fail(client, VCMD_PROTOCOL_VERSION, EPROTO,
                               "--multi-clients needs protocol 3 or later (client: %u)",
                               payload[0]);
   client->version = v;
   client->version_negotiated = true;
   return vtest_reply(client, VCMD_PROTOCOL_VERSION, &v, 1) == 0;
}

static bool
cmd_get_param(struct vtest_client *client, const uint32_t *payload, uint32_t len, int fd)
{
   uint32_t reply[2] = { 0, 0 };
   switch (payload[0]) {
   case VCMD_PARAM_MAX_TIMELINE_COUNT:
      reply[0] = 1;
      reply[1] = VTEST_MAX_TIMELINE_COUNT;
      break;
   case VCMD_PARAM_HAS_TIMELINE_SYNCOBJ:
      break; /* §11.1 rule 9: hsakmt contexts have no DRM device */
   case VCMD_PARAM_VIRTKFD_EXT:
      reply[0] = 1;
      reply[1] = VTEST_VIRTKFD_EXT_REVISION;
      client->ext_aware = true;
      break;
   default:
      vtest_debug("client %u: GET_PARAM of unknown param %u", client->serial, payload[0]);
      break;
   }
   return vtest_reply(client, VCMD_GET_PARAM, reply, 2) == 0;
}

static bool
cmd_get_capset(struct vtest_client *client, const uint32_t *payload, uint32_t len, int fd)
{
   uint32_t id = payload[0], version = payload[1], max_ver = 0, max_size = 0;
   virgl_renderer_get_cap_set(id, &max_ver, &max_size);
   if ((!max_ver && !max_size) || version > max_ver || max_size > VTEST_MAX_CAPSET_SIZE) {
      uint32_t invalid = 0;
      return vtest_reply(client, VCMD_GET_CAPSET, &invalid, 1) == 0;
   }
   /* §10 row 26: a zeroed buffer, padded to whole dwords */
   uint32_t ndw = (max_size + 3) / 4;
   uint32_t *reply = calloc(1 + ndw, 4);
   if (!reply)
      return vtest_client_fail(client, VCMD_GET_CAPSET, ENOMEM, "out of memory");
   reply[0] = 1;
   virgl_renderer_fill_caps(id, version, reply + 1);
   int ret = vtest_reply(client, VCMD_GET_CAPSET, reply, 1 + ndw);
   free(reply);
   return ret == 0;
}

static bool
cmd_context_init(struct vtest_client *client, const uint32_t *payload, uint32_t len,
                 int fd)
{
   uint32_t capset = payload[0];
   if (!capset || capset > VIRGL_RENDERER_CONTEXT_FLAG_CAPSET_ID_MASK)
      return vtest_client_fail(client, VCMD_CONTEXT_INIT, EINVAL, "invalid capset id %u",
                               capset);
   if (client->capset_id) {
      if (client->capset_id == capset)
         return true;
      return vtest_client_fail(client, VCMD_CONTEXT_INIT, EINVAL,
                               "context exists with capset %u, not %u", client->capset_id,
                               capset);
   }
   int ret = virgl_renderer_context_create_with_flags(
      client->ctx_id, capset, (uint32_t)strlen(client->name), client->name);
   if (ret)
      return vtest_client_fail(client, VCMD_CONTEXT_INIT, ret < 0 ? -ret : ret,
                               "context creation with capset %u failed: %s", capset,
                               strerror(ret < 0 ? -ret : ret));
   client->capset_id = capset;
   return true;
}

static bool
cmd_get_caps(struct vtest_client *client, const uint32_t *payload, uint32_t len, int fd)
{
   /* §10 row 27: there is no virgl capset; answer "size 0" instead of dropping */
   vtest_log("client %u: %s: no virgl capsets in a native-only server", client->serial,
             command_name(client->cur_cmd));
   /* len = size + 1, no bytes follow; §10.1: GET_CAPS2 is answered with id 2, which
    * is what clients wait for */
   uint32_t hdr[2] = { 0 + 1, client->cur_cmd == VCMD_GET_CAPS2 ? 2 : VCMD_GET_CAPS };
   return vtest_tx_data(&client->tx, hdr, sizeof(hdr)) == 0;
}

static bool
cmd_virgl_only(struct vtest_client *client, const uint32_t *payload, uint32_t len, int fd)
{
   return vtest_client_fail(client, client->cur_cmd, ENOTSUP,
                            "virgl (GL) resources and transfers do not exist in a "
                            "native-only server");
}

static bool
cmd_drm_sync(struct vtest_client *client, const uint32_t *payload, uint32_t len, int fd)
{
   int dev = virgl_renderer_get_dev_fd((int)client->ctx_id);
   return vtest_client_fail(client, client->cur_cmd, ENODEV,
                            "DRM_SYNC_*: no DRM device for this context (%s)",
                            strerror(dev < 0 ? -dev : ENODEV));
}
