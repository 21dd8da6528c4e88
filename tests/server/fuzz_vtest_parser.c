/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * libFuzzer harness for the vtest server's message parser and handlers: each input
 * is one client's byte stream, fed in as a replay feeds a recording (no socket,
 * replies discarded), against a real renderer on the KFD emulator. Inputs cannot
 * carry fds, so fd-taking commands exercise their refusal paths. The client is
 * destroyed after every input; a leak of anything it made shows up in LSan.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "virglrenderer.h"
#include "vtest_server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
   /* small limits keep every input fast; the checks are the same */
   vtest_opts.max_length = 1u << 16;
   vtest_opts.max_blob_size = 16u << 20;
   vtest_opts.max_sg_entries = 4096;
   vtest_opts.debug_commands = true;
   if (vtest_renderer_init() < 0)
      abort();
   return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
   struct vtest_client *client = vtest_client_create(-1);
   if (!client)
      return 0;
   vtest_rx_push(&client->rx, data, size, -1);
   client->rx.eof = true;
   for (int i = 0; i < 64 && vtest_client_process(client); i++) {
      virgl_renderer_poll();
      vtest_client_progress(client);
      vtest_tx_flush(&client->tx, -1);
   }
   vtest_client_destroy(client);
   return 0;
}
