/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * virtkfd_test_server internals, shared by the server's files. The server is a
 * VMM-like user of the public API only (include/virgl/virglrenderer.h): it never
 * includes anything from src/. Section numbers refer to vtest-protocol.md.
 */
#ifndef VTEST_SERVER_H
#define VTEST_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtkfd/vtest_protocol.h"

/* ---- options (vtest_main.c) --------------------------------------------------- */

enum vtest_mode {
   VTEST_MODE_FORK,   /* default: one process per client */
   VTEST_MODE_NOFORK, /* --no-fork: one client at a time in this process */
   VTEST_MODE_SINGLE, /* --no-loop-or-fork: one client, then exit */
   VTEST_MODE_MULTI,  /* --multi-clients: every client in this process */
   VTEST_MODE_REPLAY, /* --replay FILE */
};

struct vtest_options {
   enum vtest_mode mode;
   const char *socket_path;
   const char *replay_path;
   const char *record_path; /* --record or VTEST_SAVE: per-client files */
   const char *rendernode;
   uint32_t max_length; /* dwords */
   uint64_t max_blob_size;
   uint32_t max_sg_entries;
   uint32_t max_ram_regions;
   uint64_t max_guest_ram;
   /* the GL options (§8.2): renderer flags for the system virglrenderer's GL */
   bool use_glx, use_egl_surfaceless, use_gles, compat_profile, no_virgl, drm;
   bool debug_commands; /* test-only VCMD_VIRTKFD_DEBUG_* */
   bool dump_sg;        /* log translated SG iovec lists */
   bool verbose;
};

extern struct vtest_options vtest_opts;

/* ---- logging --------------------------------------------------------------- */

void vtest_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define vtest_debug(...)         \
   do {                          \
      if (vtest_opts.verbose)    \
         vtest_log(__VA_ARGS__); \
   } while (0)

/* ---- byte streams (vtest_socket.c) --------------------------------------------- */

#define VTEST_MAX_QUEUED_FDS 16

/* A received fd and the stream offset of the 1-byte message that carried it. */
struct vtest_rx_fd {
   uint64_t pos;
   int fd;
};

struct vtest_rx {
   uint8_t *buf;
   size_t cap, head, tail; /* valid bytes are buf[head, tail) */
   uint64_t consumed;      /* stream offset of buf[head] */
   struct vtest_rx_fd fds[VTEST_MAX_QUEUED_FDS];
   unsigned nfds;
   bool eof;
   bool drained;        /* the last read emptied the socket */
   bool bad_fd_message; /* a malformed SCM_RIGHTS message arrived */
};

struct vtest_tx_chunk {
   struct vtest_tx_chunk *next;
   int fd; /* >= 0: a 1-byte fd message, otherwise `size` bytes of data */
   size_t size, sent;
   uint8_t data[];
};

struct vtest_tx {
   struct vtest_tx_chunk *first, *last;
   size_t queued; /* bytes not yet sent */
   unsigned fds;  /* fd messages among them: each holds an open file */
};

/* Creates the listening socket (refuses existing non-sockets and long paths). */
int vtest_socket_listen(const char *path);
/* Removes the socket at path if it is still the one vtest_socket_listen created. */
void vtest_socket_remove(const char *path);

struct vtest_record;

/*
 * Reads what is available (non-blocking) into rx until it holds `want` bytes;
 * -errno on a hard error. What is read is also appended to `rec` when not NULL.
 */
int vtest_rx_fill(struct vtest_rx *rx, int sock, size_t want, struct vtest_record *rec);
/* Appends bytes (replay); an fd entry at the last byte when fd >= 0. */
int vtest_rx_push(struct vtest_rx *rx, const void *data, size_t size, int fd);
size_t vtest_rx_avail(const struct vtest_rx *rx);
/* Takes the fd whose message is at stream offset `pos`, or -1. */
int vtest_rx_take_fd(struct vtest_rx *rx, uint64_t pos);
void vtest_rx_consume(struct vtest_rx *rx, size_t bytes);
void vtest_rx_fini(struct vtest_rx *rx);

int vtest_tx_data(struct vtest_tx *tx, const void *data, size_t size);
/* Queues an fd message; the queue owns `fd` from now on, also on failure. */
int vtest_tx_fd(struct vtest_tx *tx, int fd);
/* Sends what the socket takes now; -errno on a hard error. */
int vtest_tx_flush(struct vtest_tx *tx, int sock);
void vtest_tx_fini(struct vtest_tx *tx);

/* ---- per-client state (vtest_session.c) ----------------------------------------- */

enum vtest_res_kind {
   VTEST_RES_MEMFD, /* GUEST/HOST3D_GUEST: a server-created sealed memfd */
   VTEST_RES_HOST,  /* HOST3D: the library's memory */
   VTEST_RES_SG,    /* RESOURCE_CREATE_BLOB_SG: iovecs into guest-RAM regions */
};

struct vtest_resource {
   uint32_t res_id;
   uint32_t blob_mem;
   enum vtest_res_kind kind;
   void *map; /* memfd mapping, owned */
   size_t map_size;
   struct iovec *iovs; /* memfd: &one_iov; SG: owned array */
   uint32_t num_iovs;
   struct iovec one_iov;
   bool library_mapped; /* VIRTKFD_DEBUG_MAP_BLOB mapped it as a VMM would */
};

struct vtest_sync {
   uint32_t sync_id;
   uint64_t value;
};

struct vtest_wait {
   struct vtest_wait *next;
   int efd;
   bool any;
   int64_t deadline_ns; /* INT64_MAX: never */
   uint32_t count;
   struct {
      uint32_t sync_id;
      uint64_t value;
   } conds[];
};

struct vtest_submit {
   struct vtest_submit *next;
   uint64_t cookie;
   uint32_t count;
   struct {
      uint32_t sync_id;
      uint64_t value;
   } syncs[];
};

struct vtest_ram_region {
   uint64_t gpa, size;
   uint8_t *host;
   int fd;
};

struct vtest_record;

struct vtest_client {
   struct vtest_client *next;
   unsigned serial; /* for logs and recordings */
   int sock;        /* -1 in replay mode: replies are discarded */
   short revents;   /* what poll() reported for sock in this round */
   struct vtest_rx rx;
   struct vtest_tx tx;
   struct vtest_record *record;

   bool have_renderer; /* CREATE_RENDERER seen */
   bool version_negotiated;
   bool ext_aware;          /* GET_PARAM(VIRTKFD_EXT) answered valid (§13.5) */
   bool closing;            /* flush, then disconnect */
   int64_t linger_until_ns; /* when a closing session is dropped unflushed */
   uint32_t cur_cmd;        /* the id of the command being handled */
   uint32_t version;
   char name[VTEST_MAX_RENDERER_NAME + 1];

   uint32_t ctx_id;
   uint32_t capset_id; /* 0 until CONTEXT_INIT */

   struct vtest_resource **res;
   uint32_t nres, res_cap;
   struct vtest_sync *syncs; /* sorted by sync_id, for the binary search */
   uint32_t nsyncs, sync_cap;
   struct vtest_wait *waits;
   uint32_t wait_conds; /* conditions of all pending waits */
   struct vtest_submit *submits[VTEST_MAX_TIMELINE_COUNT];
   uint64_t next_cookie;
   struct vtest_ram_region regions[VTEST_MAX_RAM_REGIONS]; /* sorted by gpa */
   uint32_t nregions;
   uint64_t ram_total;

   /* implicit ctx0 fences of SUBMIT_CMD, for BUSY_WAIT (§11.1 rule 8) */
   uint64_t implicit_created, implicit_retired;
   bool busy_wait_pending; /* reply deferred; reading paused */
};

struct vtest_client *vtest_client_create(int sock);
/* §11.1 rule 7: waits and submits, resources, context, then guest RAM. */
void vtest_client_destroy(struct vtest_client *client);
/* Parses and runs every complete command in rx; false when the client must go. */
bool vtest_client_process(struct vtest_client *client);
/* Called when fences retired, syncs moved or time passed. */
void vtest_client_progress(struct vtest_client *client);
bool vtest_client_wants_input(const struct vtest_client *client);
int vtest_client_count(void);

/* A protocol error: log, queue the error notice if negotiated, mark closing. */
bool vtest_client_fail(struct vtest_client *client, uint32_t cmd, int err,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

int vtest_reply(struct vtest_client *client, uint32_t cmd, const uint32_t *payload,
                uint32_t ndw);
int vtest_reply_fd(struct vtest_client *client, int fd);

/* ---- the renderer (vtest_main.c) -------------------------------------------- */

int vtest_renderer_init(void);
void vtest_renderer_fini(void);
uint32_t vtest_alloc_ctx_id(void);
uint32_t vtest_alloc_res_id(void);
uint32_t vtest_alloc_sync_id(struct vtest_client *client);
/* Remembers that global ctx0 fence `fence_id` belongs to `client`. */
int vtest_note_implicit_fence(struct vtest_client *client, uint32_t *fence_id);
struct vtest_client *vtest_find_client_by_ctx(uint32_t ctx_id);
int64_t vtest_now_ns(void);

/* ---- command handlers ------------------------------------------------------- */

typedef bool (*vtest_handler)(struct vtest_client *client, const uint32_t *payload,
                              uint32_t len, int fd);

/* vtest_resource.c */
bool
vtest_cmd_resource_create_blob(struct vtest_client *, const uint32_t *, uint32_t, int);
bool vtest_cmd_resource_unref(struct vtest_client *, const uint32_t *, uint32_t, int);
bool vtest_cmd_resource_export_fd(struct vtest_client *, const uint32_t *, uint32_t, int);
struct vtest_resource *vtest_resource_find(struct vtest_client *client, uint32_t res_id);
/* The library's resource behind `res` (its id, blob_mem and iovecs set), created as a
 * VMM creates it; 0 or a positive errno. */
int vtest_resource_create_in_renderer(struct vtest_client *client,
                                      const struct vtest_resource *res, uint32_t flags,
                                      uint64_t size, uint64_t blob_id);
int vtest_resource_add(struct vtest_client *client, struct vtest_resource *res);
void vtest_resource_destroy(struct vtest_resource *res);

/* vtest_sync.c */
bool vtest_cmd_submit_cmd(struct vtest_client *, const uint32_t *, uint32_t, int);
bool vtest_cmd_submit_cmd2(struct vtest_client *, const uint32_t *, uint32_t, int);
bool vtest_cmd_sync_create(struct vtest_client *, const uint32_t *, uint32_t, int);
bool vtest_cmd_sync_unref(struct vtest_client *, const uint32_t *, uint32_t, int);
bool vtest_cmd_sync_read(struct vtest_client *, const uint32_t *, uint32_t, int);
bool vtest_cmd_sync_write(struct vtest_client *, const uint32_t *, uint32_t, int);
bool vtest_cmd_sync_wait(struct vtest_client *, const uint32_t *, uint32_t, int);
struct vtest_sync *vtest_sync_find(struct vtest_client *client, uint32_t sync_id);
void vtest_sync_set(struct vtest_client *client, struct vtest_sync *sync, uint64_t value);
void vtest_timeline_retire(struct vtest_client *client, uint32_t ring, uint64_t cookie);
void vtest_waits_check(struct vtest_client *client);
void vtest_syncs_fini(struct vtest_client *client);

/* vtest_guest_ram.c */
bool vtest_cmd_guest_ram_add(struct vtest_client *, const uint32_t *, uint32_t, int);
bool
vtest_cmd_resource_create_blob_sg(struct vtest_client *, const uint32_t *, uint32_t, int);
bool vtest_cmd_debug_stats(struct vtest_client *, const uint32_t *, uint32_t, int);
bool vtest_cmd_debug_ram_read(struct vtest_client *, const uint32_t *, uint32_t, int);
bool vtest_cmd_debug_gpu_read(struct vtest_client *, const uint32_t *, uint32_t, int);
bool vtest_cmd_debug_map_blob(struct vtest_client *, const uint32_t *, uint32_t, int);
bool vtest_cmd_debug_queue_run(struct vtest_client *, const uint32_t *, uint32_t, int);

/* A function of the KFD emulator's test API, when the emulator is in this process. */
void *vtest_kfdsim_symbol(const char *name);
void vtest_guest_ram_fini(struct vtest_client *client);
bool vtest_kfd_emulated(void);

/* vtest_record.c */
struct vtest_record *vtest_record_open(const char *base, unsigned serial);
void vtest_record_bytes(struct vtest_record *rec, const void *data, size_t size);
void vtest_record_fd(struct vtest_record *rec, int fd);
void vtest_record_close(struct vtest_record *rec);
/* Feeds a recording into a client as its input; the client is then processed. */
int vtest_replay(const char *path);

/* small overflow-checked helpers for client-derived arithmetic */
static inline bool
vtest_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
   return !__builtin_add_overflow(a, b, out);
}

static inline bool
vtest_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
   return !__builtin_mul_overflow(a, b, out);
}

static inline uint64_t
vtest_u64(const uint32_t *dw)
{
   return (uint64_t)dw[0] | ((uint64_t)dw[1] << 32);
}

#endif /* VTEST_SERVER_H */
