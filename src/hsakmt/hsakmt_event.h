/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Event objects (hsakmt_event.c), as other commands need them.
 */
#ifndef HSAKMT_EVENT_H
#define HSAKMT_EVENT_H

#include <stdint.h>

struct hsakmt_context;
struct vkfd_kfd_event;

/* The KFD event an event token of this context names, or NULL. */
struct vkfd_kfd_event *hsakmt_event_lookup(struct hsakmt_context *ctx, uint64_t token);

#endif /* HSAKMT_EVENT_H */
