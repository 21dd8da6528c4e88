/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The KFD device: the only interface to libhsakmt for the rest of virtkfd. Results
 * are translated into the wire layouts of include/virtkfd/hsakmt_proto.h field by
 * field, because host libraries lay the KFD structs out differently from the guest.
 *
 * libhsakmt state is per process, so there is one device per process. It is opened
 * by the first context that needs it and closed when the last one lets go.
 * Functions returning `int` return an HSAKMT_STATUS (0 on success), which handlers
 * put in rsp.ret unchanged.
 */
#ifndef VKFD_KFD_H
#define VKFD_KFD_H

#include <stdbool.h>
#include <stdint.h>

#include "virtkfd/hsakmt_proto.h"

/* How fixed-address KFD allocations can be placed (design.md, "The VA window"). */
enum vkfd_kfd_va_mode {
   VKFD_KFD_VA_NONE,         /* not possible: ALLOC is refused */
   VKFD_KFD_VA_NATIVE,       /* the library places FixedAddress allocations itself */
   VKFD_KFD_VA_RESERVED_SVM, /* inside libhsakmt's reserved SVM aperture */
};

struct vkfd_kfd_va_info {
   enum vkfd_kfd_va_mode mode;
   uint64_t aperture_base; /* RESERVED_SVM: the DEVICE_SVM bank of the first GPU */
   uint64_t aperture_size;
};

/* Cheap and cached: the library loads and /dev/kfd opens read-write. */
bool vkfd_kfd_available(void);

/* Opens the device for one more user; 0 or a negative errno. */
int vkfd_kfd_device_acquire(void);

void vkfd_kfd_device_release(void);

/* Properties of the open device (a snapshot taken when it opened). */
void vkfd_kfd_version(struct hsakmt_wire_version_info *version);

void vkfd_kfd_system_properties(struct hsakmt_wire_system_properties *props);

void vkfd_kfd_va_info(struct vkfd_kfd_va_info *info);

uint32_t vkfd_kfd_node_count(void);

/* True for nodes with a GPU (a non-zero KFD gpu_id). */
bool vkfd_kfd_node_is_gpu(uint32_t node);

int vkfd_kfd_node_properties(uint32_t node, struct hsakmt_wire_node_properties *props);

int vkfd_kfd_memory_properties(uint32_t node, uint32_t count,
                               struct hsakmt_wire_memory_properties *props);

/* `stride` is the guest's record size: 1056 or 1060 (§7). */
int vkfd_kfd_cache_properties(uint32_t node, uint32_t processor_id, uint32_t count,
                              void *records, uint32_t stride);

int vkfd_kfd_io_link_properties(uint32_t node, uint32_t count,
                                struct hsakmt_wire_io_link_properties *props);

int vkfd_kfd_clock_counters(uint32_t node, struct hsakmt_wire_clock_counters *counters);

int vkfd_kfd_xnack_mode(int32_t *mode);

/* Enables the runtime once per process; repeats succeed. */
int vkfd_kfd_runtime_enable(bool setup_ttmp);

/* 0 with caps 0 when the library has no such call (Debian 5.2.3). */
int vkfd_kfd_runtime_caps(uint32_t *caps);

/* `tile` and `macro` have room for the counts in `config` (capacities in, counts out). */
int vkfd_kfd_tile_config(uint32_t node, struct hsakmt_wire_tile_config *config,
                         uint32_t *tile, uint32_t *macro);

int vkfd_kfd_available_memory(uint32_t node, uint64_t *bytes);

/* libdrm's amdgpu_gpu_info of a GPU node; 0 or a negative errno (the libdrm
 * convention), with the topology's facts filled in when libdrm cannot answer. */
int vkfd_kfd_gpu_info(uint32_t node, struct hsakmt_wire_amdgpu_gpu_info *info);

/* Sets XNACK for the whole process: only while one context uses the device. */
int vkfd_kfd_set_xnack_mode(int32_t mode);

/* Sets a node's memory policy for the whole process: likewise only when alone. */
int vkfd_kfd_set_memory_policy(uint32_t node, uint32_t default_policy,
                               uint32_t alternate_policy, uint64_t alternate_address,
                               uint64_t alternate_size);

/* Memory (userptr and KFD allocations). */
int vkfd_kfd_register_memory(void *address, uint64_t size, uint32_t mem_flags);
int vkfd_kfd_deregister_memory(void *address);
int vkfd_kfd_map_to_gpu_nodes(void *address, uint64_t size, const uint32_t *nodes,
                              uint32_t count, uint64_t *gpu_va);
int vkfd_kfd_map_to_gpu(void *address, uint64_t size, uint64_t *gpu_va);
int vkfd_kfd_unmap_from_gpu(void *address);
int vkfd_kfd_alloc_fixed(uint32_t node, uint64_t size, uint32_t mem_flags, void *address);
int vkfd_kfd_free(void *address, uint64_t size);

/* Exports an allocation for another KFD process (the kernel's IPC ioctls). */
int vkfd_kfd_share_memory(void *address, uint64_t size, uint32_t handle[8]);

/*
 * Events (vkfd_kfd_event.c). A KFD event is libhsakmt's HsaEvent, opaque above this
 * layer; the pointer never leaves the host.
 */
struct vkfd_kfd_event;

int
vkfd_kfd_event_create(const struct hsakmt_wire_event_descriptor *desc, bool manual_reset,
                      bool is_signaled, struct vkfd_kfd_event **event);

/* The event as libhsakmt describes it, in the wire layout (§3.10). */
void vkfd_kfd_event_describe(const struct vkfd_kfd_event *event,
                             struct hsakmt_wire_event *wire);

int vkfd_kfd_event_destroy(struct vkfd_kfd_event *event);
int vkfd_kfd_event_set(struct vkfd_kfd_event *event);
int vkfd_kfd_event_reset(struct vkfd_kfd_event *event);

/*
 * Whether the event is signalled, without waiting: SUCCESS or WAIT_TIMEOUT. Like any
 * wait, it consumes the signal of an auto-reset event. (libhsakmt's own
 * hsaKmtQueryEventState answers SUCCESS for every event, measured on 5.2.3 and
 * 6.2.4, so it cannot be used.)
 */
int vkfd_kfd_event_poll(struct vkfd_kfd_event *event);

/* Sets a GPU's trap handler for the whole KFD process. */
int vkfd_kfd_set_trap_handler(uint32_t node, uint64_t handler, uint64_t handler_size,
                              uint64_t buffer, uint64_t buffer_size);

/*
 * User-mode queues (vkfd_kfd_queue.c). `id` is libhsakmt's queue id, a pointer to its
 * queue record: it never leaves the host.
 */
struct vkfd_kfd_queue_request {
   uint32_t node;
   uint32_t type; /* HSA_QUEUE_TYPE, as on the wire (§3.7) */
   uint32_t percentage;
   int32_t priority; /* -3 .. 3 */
   uint64_t ring;
   uint64_t ring_size;
   uint64_t write_ptr; /* AQL: the guest's, inside its own KFD memory */
   uint64_t read_ptr;
   struct vkfd_kfd_event *event; /* or NULL */
};

int vkfd_kfd_queue_create(const struct vkfd_kfd_queue_request *request, uint64_t *id,
                          uint64_t *doorbell);
int vkfd_kfd_queue_destroy(uint64_t id);
int vkfd_kfd_queue_update(uint64_t id, uint32_t percentage, int32_t priority,
                          uint64_t ring, uint64_t ring_size);

/* The numbers of HsaQueueInfo; its pointers (host addresses) are left 0 (§3.17). */
int vkfd_kfd_queue_info(uint64_t id, struct hsakmt_wire_queue_info *info);

int vkfd_kfd_queue_cu_mask(uint64_t id, uint32_t bits, const uint32_t *mask);

/* Whether the loaded library can export KFD memory as a dma-buf (not 5.2.3). */
bool vkfd_kfd_can_export_dmabuf(void);

/*
 * A dma-buf of the KFD allocation containing [address, address + size): the caller
 * owns *fd (close-on-exec); *offset is address's offset in it. NOT_SUPPORTED when
 * the library has no export, ERROR when KFD refuses (userptr memory: EPERM).
 */
int vkfd_kfd_export_dmabuf(void *address, uint64_t size, int *fd, uint64_t *offset);

#endif /* VKFD_KFD_H */
