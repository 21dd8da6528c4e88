/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The vtest socket protocol (version 4, the native-context subset) and virtkfd's
 * guest-RAM extension (revision 1), shared by the server and guest-like clients.
 * Section numbers refer to vtest-protocol.md.
 *
 * Every message is a 2-dword header {len, cmd_id} in host byte order followed by
 * `len` dwords of payload, with the exceptions of §2.1. File descriptors travel in
 * their own sendmsg: exactly 1 data byte and one SCM_RIGHTS fd (§3).
 */
#ifndef VIRTKFD_VTEST_PROTOCOL_H
#define VIRTKFD_VTEST_PROTOCOL_H

#include <stdint.h>

#define VTEST_DEFAULT_SOCKET_NAME "/tmp/.virgl_test"
#define VTEST_PROTOCOL_VERSION    4
#define VTEST_MAX_TIMELINE_COUNT  64

#define VTEST_HDR_SIZE            2 /* dwords */
#define VTEST_CMD_LEN             0
#define VTEST_CMD_ID              1

/* §5: command ids */
enum vtest_cmd {
   VCMD_GET_CAPS = 1,
   VCMD_RESOURCE_CREATE = 2,
   VCMD_RESOURCE_UNREF = 3,
   VCMD_TRANSFER_GET = 4,
   VCMD_TRANSFER_PUT = 5,
   VCMD_SUBMIT_CMD = 6,
   VCMD_RESOURCE_BUSY_WAIT = 7,
   VCMD_CREATE_RENDERER = 8,
   VCMD_GET_CAPS2 = 9,
   VCMD_PING_PROTOCOL_VERSION = 10,
   VCMD_PROTOCOL_VERSION = 11,
   VCMD_RESOURCE_CREATE2 = 12,
   VCMD_TRANSFER_GET2 = 13,
   VCMD_TRANSFER_PUT2 = 14,
   VCMD_GET_PARAM = 15,
   VCMD_GET_CAPSET = 16,
   VCMD_CONTEXT_INIT = 17,
   VCMD_RESOURCE_CREATE_BLOB = 18,
   VCMD_SYNC_CREATE = 19,
   VCMD_SYNC_UNREF = 20,
   VCMD_SYNC_READ = 21,
   VCMD_SYNC_WRITE = 22,
   VCMD_SYNC_WAIT = 23,
   VCMD_SUBMIT_CMD2 = 24,
   VCMD_DRM_SYNC_CREATE = 25,
   VCMD_DRM_SYNC_DESTROY = 26,
   VCMD_DRM_SYNC_HANDLE_TO_FD = 27,
   VCMD_DRM_SYNC_FD_TO_HANDLE = 28,
   VCMD_DRM_SYNC_IMPORT_SYNC_FILE = 29,
   VCMD_DRM_SYNC_EXPORT_SYNC_FILE = 30,
   VCMD_DRM_SYNC_WAIT = 31,
   VCMD_DRM_SYNC_RESET = 32,
   VCMD_DRM_SYNC_SIGNAL = 33,
   VCMD_DRM_SYNC_TIMELINE_SIGNAL = 34,
   VCMD_DRM_SYNC_TIMELINE_WAIT = 35,
   VCMD_DRM_SYNC_QUERY = 36,
   VCMD_DRM_SYNC_TRANSFER = 37,
   VCMD_RESOURCE_EXPORT_FD = 38,
   VCMD_UPSTREAM_COUNT, /* ids from here to the extensions are unknown */

   /* §13: virtkfd extensions */
   VCMD_GUEST_RAM_ADD = 0x10001,
   VCMD_RESOURCE_CREATE_BLOB_SG = 0x10002,
   VCMD_GUEST_RAM_REMOVE = 0x10003, /* reserved */
   VCMD_VIRTKFD_ERROR = 0x100FF,    /* server -> extension-aware client only */

   /*
    * virtkfd test-only commands, unknown (a protocol error) unless the server runs
    * with --debug-commands. They expose the server's side of shared state so that a
    * test client can prove what a VMM would see: its own view of guest RAM, and the
    * KFD emulator's GPU view when the emulator lives in the server process.
    */
   VCMD_VIRTKFD_DEBUG_STATS = 0x10080, /* len 0 -> {8, id, [stats]} */
   VCMD_VIRTKFD_DEBUG_RAM_READ =
      0x10081, /* {gpa lo, hi, size} -> {1+n, id, [st], bytes} */
   VCMD_VIRTKFD_DEBUG_GPU_READ = 0x10082, /* {gpu_va lo, hi, size} -> as RAM_READ */
   /*
    * {res_id} -> {5, id, [st, offset lo, hi, size lo, hi]} + on success one fd: the
    * emulator's device memory behind a host-VA blob, which the client maps at
    * `offset` as a VMM maps the blob into its guest (the doorbell page, KFD memory)
    */
   VCMD_VIRTKFD_DEBUG_MAP_BLOB = 0x10083,
   /* {ring_va lo, hi} -> {VTEST_QUEUE_RUN_SIZE, id, [reply]}: the emulated CP runs */
   VCMD_VIRTKFD_DEBUG_QUEUE_RUN = 0x10084,
};

/* VCMD_VIRTKFD_DEBUG_QUEUE_RUN reply dwords: what the emulated GPU took */
enum vtest_queue_run {
   VTEST_QUEUE_RUN_STATUS,   /* 0 or a positive errno */
   VTEST_QUEUE_RUN_DOORBELL, /* lo, hi: the doorbell's value */
   VTEST_QUEUE_RUN_READ_INDEX = VTEST_QUEUE_RUN_DOORBELL + 2, /* lo, hi */
   VTEST_QUEUE_RUN_PACKETS = VTEST_QUEUE_RUN_READ_INDEX + 2,
   VTEST_QUEUE_RUN_SIGNALS, /* completion signals decremented */
   VTEST_QUEUE_RUN_EVENTS,  /* ... whose event the GPU raised */
   VTEST_QUEUE_RUN_PACKET,  /* 16 dwords: the last packet taken */
   VTEST_QUEUE_RUN_SIZE = VTEST_QUEUE_RUN_PACKET + 16,
};

/* VCMD_VIRTKFD_DEBUG_STATS reply dwords */
enum vtest_debug_stat {
   VTEST_STAT_OPEN_FDS,     /* /proc/self/fd entries of the serving process */
   VTEST_STAT_RESOURCES,    /* resources of this client */
   VTEST_STAT_SYNCS,        /* syncs of this client */
   VTEST_STAT_RAM_REGIONS,  /* guest-RAM regions of this client */
   VTEST_STAT_CLIENTS,      /* clients of this process */
   VTEST_STAT_KFD_EMULATED, /* 1 if the KFD emulator answers in this process */
   VTEST_STAT_KFD_LIVE_BOS, /* emulator: live buffer objects (0 without it) */
   VTEST_STAT_KFD_USERPTRS, /* emulator: live USERPTR registrations */
   VTEST_STAT_COUNT,
};
#define VTEST_DEBUG_READ_MAX (64u << 10) /* bytes per DEBUG_*_READ */

/* §6.1: GET_PARAM */
#define VCMD_PARAM_MAX_TIMELINE_COUNT   1
#define VCMD_PARAM_HAS_TIMELINE_SYNCOBJ 2
#define VCMD_PARAM_VIRTKFD_EXT          0x10001
#define VTEST_VIRTKFD_EXT_REVISION      1

/* §6.1: RESOURCE_BUSY_WAIT */
#define VCMD_BUSY_WAIT_FLAG_WAIT 1
#define VCMD_BUSY_WAIT_SIZE      2

/* §6.4: RESOURCE_CREATE_BLOB */
#define VCMD_BLOB_TYPE_GUEST        1
#define VCMD_BLOB_TYPE_HOST3D       2
#define VCMD_BLOB_TYPE_HOST3D_GUEST 3
#define VCMD_BLOB_FLAG_MAPPABLE     1
#define VCMD_BLOB_FLAG_SHAREABLE    2
#define VCMD_BLOB_FLAG_CROSS_DEVICE 4
/* the userptr blob flags of the library's API, for RESOURCE_CREATE_BLOB_SG */
#define VCMD_BLOB_FLAG_USE_USERPTR    8
#define VCMD_BLOB_FLAG_USERPTR_RDONLY 0x10
#define VCMD_RES_CREATE_BLOB_SIZE     6

/* §6.5: sync objects */
#define VCMD_SYNC_CREATE_SIZE   2
#define VCMD_SYNC_UNREF_SIZE    1
#define VCMD_SYNC_READ_SIZE     1
#define VCMD_SYNC_WRITE_SIZE    3
#define VCMD_SYNC_WAIT_FLAG_ANY 1

/* §6.6: SUBMIT_CMD2 */
#define VCMD_SUBMIT_CMD2_FLAG_RING_IDX     1
#define VCMD_SUBMIT_CMD2_FLAG_IN_FENCE_FD  2
#define VCMD_SUBMIT_CMD2_FLAG_OUT_FENCE_FD 4
#define VCMD_SUBMIT_CMD2_BATCH_DWORDS      8

/* One SUBMIT_CMD2 descriptor, in dwords relative to the start of the payload. */
struct vtest_submit_cmd2_batch {
   uint32_t flags;
   uint32_t cmd_offset;
   uint32_t cmd_size;
   uint32_t sync_offset;
   uint32_t sync_count;
   uint32_t ring_idx;
   uint32_t num_in_syncobj;  /* read only on protocol version >= 4 */
   uint32_t num_out_syncobj; /* read only on protocol version >= 4 */
};
_Static_assert(sizeof(struct vtest_submit_cmd2_batch) ==
                  VCMD_SUBMIT_CMD2_BATCH_DWORDS * 4,
               "SUBMIT_CMD2 descriptor");

/* §6.6: the trailing per-batch syncobj records (16 bytes, not counted in len) */
struct vtest_submit_cmd2_syncobj {
   uint32_t handle;
   uint32_t flags;
   uint64_t point;
};
_Static_assert(sizeof(struct vtest_submit_cmd2_syncobj) == 16, "syncobj record");

/* §13.2: GUEST_RAM_ADD {gpa lo, hi, size lo, hi} + one fd message */
#define VCMD_GUEST_RAM_ADD_SIZE 4

/* §13.3: RESOURCE_CREATE_BLOB_SG header dwords, then 4 dwords per entry */
#define VCMD_RES_CREATE_BLOB_SG_HDR_SIZE   7
#define VCMD_RES_CREATE_BLOB_SG_ENTRY_SIZE 4

/* §13.3: one entry, the layout of virtio-gpu's struct virtio_gpu_mem_entry */
struct vtest_sg_entry {
   uint64_t addr; /* guest-physical */
   uint32_t length;
   uint32_t padding; /* must be 0 */
};
_Static_assert(sizeof(struct vtest_sg_entry) == VCMD_RES_CREATE_BLOB_SG_ENTRY_SIZE * 4,
               "SG entry");

/* §13.4: revision-1 limits (servers may configure them lower) */
#define VTEST_MAX_SG_ENTRIES  (1u << 20)
#define VTEST_MAX_SG_IOVS     (2u << 20)
#define VTEST_MAX_RAM_REGIONS 64
#define VTEST_GPA_CEILING     (1ull << 52)
#define VTEST_MAX_GUEST_RAM   (256ull << 30)

/* §11.3: server defaults */
#define VTEST_DEFAULT_MAX_LENGTH    (16u << 20) /* dwords: 64 MiB */
#define VTEST_DEFAULT_MAX_BLOB_SIZE (16ull << 30)
#define VTEST_MAX_SYNC_WAIT_COUNT   1024
/*
 * What one client may hold at once. In --multi-clients mode the clients share the
 * process, its fds, its address space and its loop: none may take all of them.
 */
#define VTEST_MAX_CLIENT_RESOURCES 16384 /* a memfd mapping each; vm.max_map_count */
#define VTEST_MAX_CLIENT_SYNCS     65536
#define VTEST_MAX_PENDING_CONDS    4096 /* checked on every sync change */
#define VTEST_MAX_RENDERER_NAME    4096

#endif /* VIRTKFD_VTEST_PROTOCOL_H */
