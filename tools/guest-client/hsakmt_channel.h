/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The guest side of a ROCm (capset 8) context, whatever carries it: the response
 * area of the shared-memory blob, request framing (len, seqno, rsp_off), the wait
 * for the seqno the host publishes, and the encoding of the requests a guest
 * libhsakmt sends (wire-protocol.md §1.2-§1.5, §2). A transport supplies the submit:
 * vtest_client.h over a vtest socket, virtgpu_client.h over the virtio-gpu DRM uapi
 * of a guest kernel.
 */
#ifndef HSAKMT_CHANNEL_H
#define HSAKMT_CHANNEL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtkfd/hsakmt_proto.h"

struct hkc_channel;

struct hkc_transport {
   /* Sends one command buffer (`size` bytes, a multiple of 4) on ring 0; 0 or a
    * negative errno. */
   int (*submit)(struct hkc_channel *ch, const void *cmds, uint32_t size);
   /* Called now and then while waiting for a seqno: false when the host can no
    * longer answer (the transport may sleep a little here). */
   bool (*alive)(struct hkc_channel *ch);
};

struct hkc_channel {
   const struct hkc_transport *transport;
   uint8_t *shmem; /* the mapped shared-memory blob, or NULL */
   size_t shmem_size;
   uint32_t rsp_mem_offset; /* read once from the header, never again */
   uint32_t seqno;          /* the last one sent */
   uint32_t next_rsp_off;
   uint64_t next_blob_id; /* starts at 1: 0 is the shared memory */
};

/* A transport's failure, where a host status would be: no answer came. */
#define HKC_NO_ANSWER (-EPIPE)

void hkc_init(struct hkc_channel *ch, const struct hkc_transport *transport);
/* Takes the mapped shared memory: 0, or -EPROTO when its header is not usable. */
int hkc_attach_shmem(struct hkc_channel *ch, void *shmem, size_t size);
uint64_t hkc_new_blob_id(struct hkc_channel *ch);

/*
 * Frames one request (sets len, seqno and rsp_off, pre-writes the slot's length as
 * the guest does) and returns its response slot, or the shared memory itself when
 * rsp_len is 0; NULL when the response cannot fit the response area.
 */
void *hkc_frame(struct hkc_channel *ch, void *req, uint32_t req_len, uint32_t rsp_len);
/* Waits (Mesa vdrm's spin, bounded) until the host published `seqno`. */
bool hkc_wait(struct hkc_channel *ch, uint32_t seqno);
/* Frame, submit and wait: the response, or NULL when none came. */
void *hkc_call(struct hkc_channel *ch, void *req, uint32_t req_len, uint32_t rsp_len);

/*
 * The requests, encoded as today's guest libhsakmt does. Each returns the response's
 * ret (0, an HSAKMT status or a negative errno of the host) or HKC_NO_ANSWER, and
 * fills its outputs only on success.
 */
int hkc_get_version(struct hkc_channel *ch, struct hsakmt_wire_version_info *version);
int hkc_get_system_properties(struct hkc_channel *ch,
                              struct hsakmt_wire_system_properties *props);
int hkc_get_node_gpu_id(struct hkc_channel *ch, uint32_t node, uint32_t *gpu_id);
/* OPEN_KFD with the guest's hint: the fixed-address window for ALLOC. */
int hkc_open_kfd(struct hkc_channel *ch, uint64_t hint, uint64_t *start, uint64_t *size);
/* ALLOC with a fresh blob id (blob_id): the allocation's address. */
int hkc_alloc(struct hkc_channel *ch, uint32_t node, uint32_t mem_flags, uint64_t size,
              uint64_t blob_id, uint64_t *va);
int hkc_map_userptr(struct hkc_channel *ch, uint32_t res_id, uint64_t *handle);
int hkc_reg_mem(struct hkc_channel *ch, uint32_t res_id, uint64_t address, uint64_t size,
                uint32_t mem_flags);
/* MAP_TO_GPU_NODES: the GPU VA (AlternateVAGPU) of `address`. res_id 0 for KFD memory. */
int hkc_map_to_gpu_nodes(struct hkc_channel *ch, uint32_t res_id, uint64_t address,
                         uint64_t size, const uint32_t *nodes, uint32_t count,
                         uint64_t *gpu_va);
int hkc_unmap_to_gpu(struct hkc_channel *ch, uint64_t address);

#endif /* HSAKMT_CHANNEL_H */
