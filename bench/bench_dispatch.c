/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Command dispatch: round trips through virgl_renderer_submit_cmd on the KFD
 * emulator, in commands per second. The guest's side is tests/support/hsakmt_guest.c:
 * each request is framed (seqno, response slot with its pre-written length), the
 * submit returns once the seqno is published, and the response is read back.
 *
 *    bench_dispatch [--commands 1000000] [--batch 32] [--reps 5]
 *
 * Commands: NOP (no response), QUERY_INFO GET_VER and QUERY_INFO GET_NODE_PROP of the
 * GPU node (a 396-byte property block translated field by field). Each is sent one
 * request per submit, as today's guest does, and as `--batch` requests concatenated
 * into one submit. The variants are interleaved; medians of `--reps` repetitions.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "hsakmt_guest.h"
#include "kfdsim.h"
#include "test_common.h"
#include "virglrenderer.h"

#define MAX_BATCH 256

static struct hsakmt_guest guest;

struct command {
   const char *name;
   uint32_t cmd;
   uint32_t query_type;
   uint32_t node; /* GET_NODE_PROP's argument */
};

static const struct command commands[] = {
   { "NOP", HSAKMT_CCMD_NOP, 0, 0 },
   { "QUERY_INFO GET_VER", HSAKMT_CCMD_QUERY_INFO, HSAKMT_QUERY_GET_VER, 0 },
   { "QUERY_INFO GET_NODE_PROP", HSAKMT_CCMD_QUERY_INFO, HSAKMT_QUERY_GET_NODE_PROP, 1 },
};
#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

/* One request as the guest lays it out; NOP is the bare header. */
static uint32_t
build_request(const struct command *c, struct hsakmt_query_info_req *req,
              uint32_t *rsp_len)
{
   memset(req, 0, sizeof(*req));
   req->hdr.cmd = c->cmd;
   if (c->cmd == HSAKMT_CCMD_NOP) {
      *rsp_len = 0;
      return sizeof(struct hsakmt_ccmd_req);
   }
   req->type = c->query_type;
   memcpy(req->raw, &c->node, sizeof(c->node));
   *rsp_len = sizeof(struct hsakmt_query_info_rsp);
   return sizeof(*req);
}

static _Noreturn void
failed(const struct command *c, const char *what)
{
   fprintf(stderr, "%s: %s\n", c->name, what);
   exit(1);
}

static void
check_response(const struct command *c, const struct hsakmt_ccmd_rsp *rsp)
{
   if (c->cmd != HSAKMT_CCMD_NOP && (rsp->ret || rsp->len < sizeof(*rsp)))
      failed(c, "the response reports a failure");
}

/* `total` commands, one per submit; seconds. */
static double
run_single(const struct command *c, uint32_t total)
{
   struct hsakmt_query_info_req req;
   uint32_t rsp_len;
   uint32_t req_len = build_request(c, &req, &rsp_len);
   double t0 = bench_now();
   for (uint32_t i = 0; i < total; i++) {
      const struct hsakmt_ccmd_rsp *rsp =
         hsakmt_guest_call(&guest, &req, req_len, rsp_len);
      if (!rsp || guest.last_submit)
         failed(c, "submit failed or seqno not published");
      check_response(c, rsp);
   }
   return bench_now() - t0;
}

/* `total` commands, `batch` concatenated requests per submit; seconds. */
static double
run_batch(const struct command *c, uint32_t total, uint32_t batch)
{
   static struct hsakmt_query_info_req reqs[MAX_BATCH];
   const struct hsakmt_ccmd_rsp *rsps[MAX_BATCH];
   uint32_t rsp_len;
   uint32_t req_len = build_request(c, &reqs[0], &rsp_len);
   uint8_t *buffer = malloc((size_t)req_len * batch);
   if (!buffer)
      bench_die("malloc");
   double t0 = bench_now();
   for (uint32_t done = 0; done < total; done += batch) {
      uint32_t n = total - done < batch ? total - done : batch;
      /* frame each request in place, so the whole submit is one copy-free buffer */
      for (uint32_t i = 0; i < n; i++) {
         uint8_t *slot = buffer + (size_t)i * req_len;
         memcpy(slot, &reqs[0], req_len);
         rsps[i] = hsakmt_guest_frame(&guest, slot, req_len, rsp_len);
      }
      if (hsakmt_guest_submit_raw(&guest, buffer, (size_t)req_len * n) ||
          hsakmt_guest_published_seqno(&guest) != guest.seqno)
         failed(c, "batched submit failed or seqno not published");
      for (uint32_t i = 0; i < n && rsp_len; i++)
         check_response(c, rsps[i]);
   }
   double t = bench_now() - t0;
   free(buffer);
   return t;
}

int
main(int argc, char **argv)
{
   uint32_t total = 1000000, batch = 32;
   int reps = 5;
   for (int i = 1; i < argc; i++) {
      if (!strcmp(argv[i], "--commands") && i + 1 < argc) {
         total = (uint32_t)bench_parse_size(argv[++i]);
      } else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
         batch = (uint32_t)atoi(argv[++i]);
      } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
         reps = atoi(argv[++i]);
      } else {
         fprintf(stderr, "usage: %s [--commands 1000000] [--batch 32] [--reps 5]\n",
                 argv[0]);
         return 2;
      }
   }
   if (reps < 1 || reps > BENCH_MAX_REPS || total < 1 || batch < 2 || batch > MAX_BATCH) {
      fprintf(stderr, "commands >= 1; batch 2..%d; reps 1..%d\n", MAX_BATCH,
              BENCH_MAX_REPS);
      return 2;
   }

   if (!kfdsim_active()) {
      fprintf(stderr, "the KFD emulator is not active (a real /dev/kfd?)\n");
      return 1;
   }
   struct test_vmm vmm;
   test_vmm_init(&vmm, 3);
   if (virgl_renderer_init(&vmm, VIRGL_RENDERER_USE_ROCM, &vmm.cbs) ||
       hsakmt_guest_open(&guest, 1, 1)) {
      fprintf(stderr, "cannot start the renderer and a capset-8 context\n");
      return 1;
   }
   /* a batch's response slots must not wrap onto each other */
   if ((uint64_t)batch * sizeof(struct hsakmt_query_info_rsp) >= guest.rsp_area_size) {
      fprintf(stderr, "a batch of %u responses does not fit the response area\n", batch);
      return 2;
   }

   printf("command dispatch through virgl_renderer_submit_cmd on the KFD emulator: "
          "%" PRIu32 " commands per measurement, %d repetitions (median)\n",
          total, reps);

   /* warm-up: the first query of each kind fills caches on both sides */
   for (size_t c = 0; c < COMMAND_COUNT; c++) {
      run_single(&commands[c], 100);
      run_batch(&commands[c], 100, batch);
   }

   double single[COMMAND_COUNT][BENCH_MAX_REPS], batched[COMMAND_COUNT][BENCH_MAX_REPS];
   for (int r = 0; r < reps; r++) {
      for (size_t c = 0; c < COMMAND_COUNT; c++) {
         single[c][r] = run_single(&commands[c], total);
         batched[c][r] = run_batch(&commands[c], total, batch);
      }
   }

   printf("\n  %-26s %10s %14s %12s %12s\n", "command", "per submit", "commands/s",
          "ns/command", "best ns");
   for (size_t c = 0; c < COMMAND_COUNT; c++) {
      double s = bench_median(single[c], reps), s_min = single[c][0];
      double b = bench_median(batched[c], reps), b_min = batched[c][0];
      printf("  %-26s %10u %14.0f %12.1f %12.1f\n", commands[c].name, 1u, total / s,
             s / total * 1e9, s_min / total * 1e9);
      printf("  %-26s %10" PRIu32 " %14.0f %12.1f %12.1f  (%.2fx one per submit)\n", "",
             batch, total / b, b / total * 1e9, b_min / total * 1e9, s / b);
   }

   hsakmt_guest_close(&guest);
   virgl_renderer_cleanup(NULL);
   test_vmm_fini(&vmm);
   return 0;
}
