/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The guest's compute steps over vtest: an AQL queue as ROCr lays it out (the ring
 * and the amd_queue_t in KFD memory, mapped at their VAs), a packet written and the
 * doorbell rung through the client's mapping of the doorbell blob, an event the
 * emulated GPU signals, and the teardown. Host-VA blobs cannot be passed as fds: with
 * a server on the KFD emulator and --debug-commands, VIRTKFD_DEBUG_MAP_BLOB gives the
 * client the memory a VMM would map into its guest, and VIRTKFD_DEBUG_QUEUE_RUN lets
 * the emulated command processor take the packets and say what it saw.
 */
#ifndef VTEST_CLIENT_COMPUTE_H
#define VTEST_CLIENT_COMPUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "vtest_client.h"

/*
 * Maps a host-VA blob of the client (test-only, the server's --debug-commands): at
 * `address` if it is free in this process, else anywhere. Returns the mapping, or
 * NULL with *status set (a positive errno from the server, or a negative one).
 */
void *vtc_debug_map_blob(struct vtc *c, uint32_t res_id, uint64_t address, uint64_t *size,
                         int *status);

/* Lets the emulated CP take the packets of the queue at `ring_va`; 0 or an errno. */
int vtc_debug_queue_run(struct vtc *c, uint64_t ring_va,
                        uint32_t reply[VTEST_QUEUE_RUN_SIZE]);

/*
 * The compute steps on GPU node `node`: OPEN_KFD, the
 * ring and amd_queue_t, an event, QUEUE CREATE with the doorbell blob, a barrier
 * packet whose completion signal raises the event, the doorbell rung through the
 * client's mapping, what the emulated GPU saw, QUERY_STATE, and the teardown; each
 * reported with step() (guest_steps.h).
 * Returns false when a step failed. A server that cannot place KFD memory at fixed
 * addresses (an AddressSanitizer build) gets the steps skipped, with a line saying so.
 */
bool vtc_compute_demo(struct vtc *c, uint32_t node);

#endif /* VTEST_CLIENT_COMPUTE_H */
