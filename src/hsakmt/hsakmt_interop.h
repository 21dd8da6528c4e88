/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The interop and VMM commands (wire-protocol.md §2.4 sub-types 10-15 and 17-20, §2.6,
 * §4.7): IPC sharing, SVM attributes, the libdrm amdgpu BO commands and CL-GL interop.
 * Each either works or answers "not supported" with a log line naming what this host
 * lacks; none is accepted silently (§6.2 rows 14, 15, 17, 19, 21).
 */
#ifndef HSAKMT_INTEROP_H
#define HSAKMT_INTEROP_H

struct hsakmt_request;

void hsakmt_memory_share(struct hsakmt_request *r);
void hsakmt_memory_register_shared_handle(struct hsakmt_request *r);
void hsakmt_memory_svm_attr(struct hsakmt_request *r);
void hsakmt_memory_amdgpu(struct hsakmt_request *r);

#endif /* HSAKMT_INTEROP_H */
