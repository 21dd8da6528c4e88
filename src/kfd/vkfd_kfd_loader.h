/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * libhsakmt, loaded at run time. Private to src/kfd: the only place that sees the
 * host library's types. Entry points every libhsakmt since ROCm 5.0 has are required;
 * newer ones are optional and NULL when the loaded library lacks them, so one binary
 * uses them wherever they exist.
 */
#ifndef VKFD_KFD_LOADER_H
#define VKFD_KFD_LOADER_H

#include <hsakmt.h>
#include <stdbool.h>

/* Entry points of ROCm >= 5.3 that Debian's 5.2.3 does not have. */
typedef HSAKMT_STATUS (*vkfd_hsakmt_available_memory_fn)(HSAuint32 node,
                                                         HSAuint64 *available_bytes);
typedef HSAKMT_STATUS (*vkfd_hsakmt_runtime_caps_fn)(HSAuint32 *caps_mask);
typedef HSAKMT_STATUS (*vkfd_hsakmt_export_dmabuf_fn)(void *address, HSAuint64 size,
                                                      int *dmabuf_fd, HSAuint64 *offset);
typedef HSAKMT_STATUS (*vkfd_hsakmt_alloc_align_fn)(HSAuint32 node, HSAuint64 size,
                                                    HSAuint64 alignment,
                                                    HsaMemFlags flags, void **address);

#define VKFD_HSAKMT_REQUIRED(X)     \
   X(hsaKmtOpenKFD)                 \
   X(hsaKmtCloseKFD)                \
   X(hsaKmtGetVersion)              \
   X(hsaKmtAcquireSystemProperties) \
   X(hsaKmtReleaseSystemProperties) \
   X(hsaKmtGetNodeProperties)       \
   X(hsaKmtGetNodeMemoryProperties) \
   X(hsaKmtGetNodeCacheProperties)  \
   X(hsaKmtGetNodeIoLinkProperties) \
   X(hsaKmtGetClockCounters)        \
   X(hsaKmtGetTileConfig)           \
   X(hsaKmtGetXNACKMode)            \
   X(hsaKmtSetXNACKMode)            \
   X(hsaKmtRuntimeEnable)           \
   X(hsaKmtRuntimeDisable)          \
   X(hsaKmtQueryPointerInfo)        \
   X(hsaKmtAllocMemory)             \
   X(hsaKmtFreeMemory)              \
   X(hsaKmtRegisterMemoryWithFlags) \
   X(hsaKmtDeregisterMemory)        \
   X(hsaKmtMapMemoryToGPU)          \
   X(hsaKmtMapMemoryToGPUNodes)     \
   X(hsaKmtUnmapMemoryToGPU)        \
   X(hsaKmtSetMemoryPolicy)         \
   X(hsaKmtCreateEvent)             \
   X(hsaKmtDestroyEvent)            \
   X(hsaKmtSetEvent)                \
   X(hsaKmtResetEvent)              \
   X(hsaKmtQueryEventState)         \
   X(hsaKmtWaitOnEvent)             \
   X(hsaKmtSetTrapHandler)          \
   X(hsaKmtCreateQueue)             \
   X(hsaKmtDestroyQueue)            \
   X(hsaKmtUpdateQueue)             \
   X(hsaKmtGetQueueInfo)            \
   X(hsaKmtSetQueueCUMask)          \
   X(hsaKmtShareMemory)

#define VKFD_HSAKMT_OPTIONAL(X)                                 \
   X(hsaKmtAvailableMemory, vkfd_hsakmt_available_memory_fn)    \
   X(hsaKmtGetRuntimeCapabilities, vkfd_hsakmt_runtime_caps_fn) \
   X(hsaKmtExportDMABufHandle, vkfd_hsakmt_export_dmabuf_fn)    \
   X(hsaKmtAllocMemoryAlign, vkfd_hsakmt_alloc_align_fn)

/* The resolved entry points; one instance per process, owned by the loader. */
struct vkfd_hsakmt_api {
#define VKFD_DECLARE_REQUIRED(name)       __typeof__(&name) name;
#define VKFD_DECLARE_OPTIONAL(name, type) type name;
   VKFD_HSAKMT_REQUIRED(VKFD_DECLARE_REQUIRED)
   VKFD_HSAKMT_OPTIONAL(VKFD_DECLARE_OPTIONAL)
#undef VKFD_DECLARE_REQUIRED
#undef VKFD_DECLARE_OPTIONAL
};

/*
 * Loads the library (VIRTKFD_HSAKMT_LIBRARY overrides the name libhsakmt.so.1) and
 * resolves it; the result is cached for the process. Returns NULL, with a log line
 * saying why, when it cannot be loaded or lacks a required entry point.
 */
const struct vkfd_hsakmt_api *vkfd_hsakmt_load(void);

#endif /* VKFD_KFD_LOADER_H */
