/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * A miniature guest libhsakmt for tests: it creates a capset-8 context and its
 * shared-memory blob through the public API, then sends requests the way the guest's
 * virtio transport does (slot allocation, pre-written slot length, seqno) and returns
 * the response.
 */
#ifndef HSAKMT_GUEST_H
#define HSAKMT_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtkfd/hsakmt_proto.h"

struct iovec;

#define HSAKMT_GUEST_SHMEM_SIZE (80u * 4096u)

struct hsakmt_guest {
   uint32_t ctx_id;
   uint32_t shmem_res_id;
   uint8_t *shmem; /* the library's mapping of the shmem blob (resource_map) */
   uint32_t rsp_mem_offset;
   uint32_t rsp_area_size;
   uint32_t seqno;
   uint32_t next_rsp_off;
   uint32_t next_res_id;
   uint64_t next_blob_id;
   int last_submit; /* virgl_renderer_submit_cmd's result */
};

/* Creates the context and the shmem blob; 0 or an errno-style failure. */
int hsakmt_guest_open(struct hsakmt_guest *guest, uint32_t ctx_id, uint32_t first_res_id);

void hsakmt_guest_close(struct hsakmt_guest *guest);

/*
 * Sends one request of `req_len` bytes (its header is filled in here) with a response
 * slot of `rsp_len` bytes; returns the response in the shmem, or NULL when the
 * seqno was not published.
 */
void *hsakmt_guest_call(struct hsakmt_guest *guest, void *req, uint32_t req_len,
                        uint32_t rsp_len);

/* The same, with the raw submit result (no header fix-up beyond seqno and rsp_off). */
int hsakmt_guest_submit_raw(struct hsakmt_guest *guest, const void *buffer, size_t size);

/*
 * Frames one request without sending it: fills in its header (len, seqno, rsp_off)
 * and prepares its response slot, which it returns (NULL when rsp_len is 0).
 * hsakmt_guest_call is this plus one submit; requests framed one after another may
 * be concatenated and sent with one hsakmt_guest_submit_raw, as long as their slots
 * fit the response area together.
 */
void *hsakmt_guest_frame(struct hsakmt_guest *guest, void *req, uint32_t req_len,
                         uint32_t rsp_len);

uint32_t hsakmt_guest_published_seqno(const struct hsakmt_guest *guest);

/* Convenience: a QUERY_INFO of `type`, with `arg` copied into the argument union. */
struct hsakmt_query_info_rsp *
hsakmt_guest_query(struct hsakmt_guest *guest, uint32_t type, const void *arg,
                   size_t arg_size, uint32_t rsp_len);

/* Convenience: a MEMORY request prepared by the caller (type, args, res_id, blob id). */
struct hsakmt_memory_rsp *
hsakmt_guest_memory(struct hsakmt_guest *guest, struct hsakmt_memory_req *req,
                    uint32_t req_len);

/*
 * The guest's memory steps as its libhsakmt takes them. Each returns rsp.ret, or for
 * blob creation what virgl_renderer_resource_create_blob returns.
 */
int hsakmt_guest_open_kfd(struct hsakmt_guest *guest, uint64_t *start, uint64_t *size);

int hsakmt_guest_alloc(struct hsakmt_guest *guest, uint32_t node, uint32_t flags,
                       uint64_t size, uint64_t alignment, uint64_t blob_id, uint64_t *va);

/* CREATE_BLOB(HOST3D) claiming what a command filed under blob_id. */
int hsakmt_guest_claim(struct hsakmt_guest *guest, uint32_t res_id, uint64_t blob_id,
                       uint32_t blob_flags, uint64_t size);

/* MAP_TO_GPU_NODES; `len` 0 is the length the guest computes from `count`. */
int hsakmt_guest_map_to_gpu_nodes(struct hsakmt_guest *guest, uint32_t res_id,
                                  uint64_t address, uint64_t size, const uint32_t *nodes,
                                  uint32_t count, uint32_t len, uint64_t *gpu_va);

int hsakmt_guest_unmap_from_gpu(struct hsakmt_guest *guest, uint64_t address);

/* CREATE_BLOB(HOST3D_GUEST) over the VMM's iovecs. */
int hsakmt_guest_create_userptr(struct hsakmt_guest *guest, uint32_t res_id,
                                const struct iovec *iov, uint32_t count, uint64_t size,
                                uint32_t blob_flags);

int
hsakmt_guest_map_userptr(struct hsakmt_guest *guest, uint32_t res_id, uint64_t *handle);

int hsakmt_guest_register_userptr(struct hsakmt_guest *guest, uint32_t res_id,
                                  uint64_t handle, uint64_t size, uint32_t mem_flags);

uint64_t hsakmt_guest_new_blob_id(struct hsakmt_guest *guest);

uint32_t hsakmt_guest_new_res_id(struct hsakmt_guest *guest);

#endif /* HSAKMT_GUEST_H */
