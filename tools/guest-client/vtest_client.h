/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * A guest-like vtest client: it plays the guest kernel and user-mode driver of a
 * ROCm (capset 8) native context against a vtest server (vtest-protocol.md §4,
 * §13.6). Calls block, with a receive timeout, and return 0 or a negative errno;
 * -EPIPE means the server closed the connection (after an error notice, when it
 * sent one: see error_cmd/error).
 */
#ifndef VTEST_CLIENT_H
#define VTEST_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsakmt_channel.h"
#include "virtkfd/hsakmt_proto.h"
#include "virtkfd/vtest_protocol.h"

struct vtc {
   int sock;
   uint32_t version;
   bool ext; /* the server has the virtkfd extension (GET_PARAM 0x10001) */
   uint32_t error_cmd, error; /* the last VCMD_VIRTKFD_ERROR notice */

   /* the capset-8 channel over this connection; its shared-memory blob (hk.shmem)
    * once vtc_hsakmt_open ran */
   struct hkc_channel hk;
   uint32_t shmem_res;
};

/* Connects without sending anything (tests use this to send raw bytes). */
int vtc_connect_raw(struct vtc *c, const char *path);
/* Connects, CREATE_RENDERER, PING/BUSY_WAIT, PROTOCOL_VERSION(4), GET_PARAM(ext). */
int vtc_connect(struct vtc *c, const char *path, const char *name);
void vtc_close(struct vtc *c);

/* Raw framing. */
int vtc_write(struct vtc *c, const void *data, size_t size);
int vtc_send(struct vtc *c, uint32_t cmd, const uint32_t *payload, uint32_t ndw);
int vtc_send_fd(struct vtc *c, int fd); /* 1 byte + one SCM_RIGHTS fd */
int vtc_read(struct vtc *c, void *data, size_t size);
/* Reads one reply header and up to `max` payload dwords; checks the id. */
int
vtc_reply(struct vtc *c, uint32_t cmd, uint32_t *payload, uint32_t max, uint32_t *ndw);
int vtc_recv_fd(struct vtc *c); /* the fd, or a negative errno */
/* True when the server closed the connection (reads EOF within timeout_ms). */
bool vtc_server_closed(struct vtc *c, int timeout_ms);

/* Commands. */
int vtc_get_param(struct vtc *c, uint32_t param, uint32_t *valid, uint32_t *value);
/* Returns the capset size in bytes (0: invalid), copying at most `size` bytes. */
int vtc_get_capset(struct vtc *c, uint32_t id, uint32_t version, void *caps, size_t size);
int vtc_context_init(struct vtc *c, uint32_t capset);
int vtc_blob_create(struct vtc *c, uint32_t type, uint32_t flags, uint64_t size,
                    uint64_t blob_id, uint32_t *res_id, int *fd);
int vtc_export_fd(struct vtc *c, uint32_t res_id);
int vtc_unref(struct vtc *c, uint32_t res_id);
int vtc_busy_wait(struct vtc *c, uint32_t handle, uint32_t flags, uint32_t *busy);
int vtc_submit_cmd(struct vtc *c, const void *cmds, uint32_t ndw);
/* One batch on `ring` (RING_IDX), with optional sync triples to signal. */
int vtc_submit_cmd2(struct vtc *c, uint32_t ring, const void *cmds, uint32_t ndw,
                    const uint32_t *sync_ids, const uint64_t *values, uint32_t nsyncs);
/* The same, with `more` (whole messages) sent in the same write, so that the server
 * reads them in one go. */
int vtc_submit_cmd2_then(struct vtc *c, uint32_t ring, const void *cmds, uint32_t ndw,
                         const uint32_t *sync_ids, const uint64_t *values,
                         uint32_t nsyncs, const void *more, size_t more_size);
int vtc_sync_create(struct vtc *c, uint64_t value, uint32_t *sync_id);
int vtc_sync_unref(struct vtc *c, uint32_t sync_id);
int vtc_sync_read(struct vtc *c, uint32_t sync_id, uint64_t *value);
int vtc_sync_write(struct vtc *c, uint32_t sync_id, uint64_t value);
/* Returns the eventfd. */
int vtc_sync_wait(struct vtc *c, uint32_t flags, uint32_t timeout_ms,
                  const uint32_t *sync_ids, const uint64_t *values, uint32_t n);

/* Extensions (§13): return the server's status (0 or a positive errno) or < 0. */
int vtc_guest_ram_add(struct vtc *c, uint64_t gpa, uint64_t size, int fd);
int vtc_blob_sg(struct vtc *c, uint32_t blob_mem, uint32_t flags, uint64_t size,
                uint64_t blob_id, const struct vtest_sg_entry *entries, uint32_t n,
                uint32_t *res_id);

/* Test-only commands (server --debug-commands). */
int vtc_debug_stats(struct vtc *c, uint32_t stats[VTEST_STAT_COUNT]);
int vtc_debug_read(struct vtc *c, uint32_t cmd, uint64_t addr, void *buf, uint32_t size);

/*
 * The capset-8 transport over vtest: CONTEXT_INIT(8) and the shmem blob, then c->hk
 * carries requests in SUBMIT_CMD2 on ring 0 (hsakmt_channel.h). While a request
 * waits, a server that hung up ends the wait (with its notice in error_cmd/error).
 */
int vtc_hsakmt_open(struct vtc *c, uint32_t shmem_size);
/* hkc_call, hkc_frame, hkc_wait and hkc_new_blob_id on c->hk. */
void *vtc_hsakmt_call(struct vtc *c, void *req, uint32_t req_len, uint32_t rsp_len);
void *vtc_hsakmt_frame(struct vtc *c, void *req, uint32_t req_len, uint32_t rsp_len);
bool vtc_hsakmt_wait(struct vtc *c, uint32_t seqno);
uint64_t vtc_new_blob_id(struct vtc *c);

#endif /* VTEST_CLIENT_H */
