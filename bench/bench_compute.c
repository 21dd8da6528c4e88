/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Events and queues through virtkfd against libhsakmt called directly, on the KFD
 * emulator, in the same run: what the host adds to the driver's own work.
 *
 *    EVENT CREATE + DESTROY   submit(CREATE) + submit(DESTROY by token)
 *                             vs hsaKmtCreateEvent + hsaKmtDestroyEvent
 *    SET + QUERY_STATE        submit(SET) + submit(QUERY_STATE)
 *                             vs the libhsakmt calls the host makes for them:
 *                             hsaKmtSetEvent + hsaKmtWaitOnEvent(0), and for an
 *                             auto-reset event the hsaKmtSetEvent that puts back the
 *                             signal the poll consumed
 *    QUEUE CREATE + DESTROY   submit(CREATE) + create_blob + submit(DESTROY) + unref
 *                             vs hsaKmtCreateQueue + hsaKmtDestroyQueue
 *
 * Each request goes through virgl_renderer_submit_cmd as the guest's virtio transport
 * frames it (tests/support/hsakmt_guest.c); the direct calls use the same libhsakmt
 * the library loaded (VIRTKFD_HSAKMT_LIBRARY), on the same ring and amd_queue_t.
 * Repetitions alternate between the two; the figures are medians.
 *
 *    bench_compute [--events 20000] [--queues 2000] [--reps 5]
 *
 * Target: at most 1.5 x the direct cost for each operation.
 */
#include <dlfcn.h>
#include <hsakmt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "hsakmt_guest_compute.h"
#include "kfdsim.h"
#include "test_common.h"
#include "virglrenderer.h"

#define RING_SIZE (64u << 10)
#define TARGET    1.5
#define GPU_NODE  1u

static struct hsakmt_guest guest;
static struct hsakmt_guest_aql aql;

/* The entry points of the libhsakmt the library loaded, for the direct side. */
static struct {
   __typeof__(&hsaKmtCreateEvent) create_event;
   __typeof__(&hsaKmtDestroyEvent) destroy_event;
   __typeof__(&hsaKmtSetEvent) set_event;
   __typeof__(&hsaKmtWaitOnEvent) wait_on_event;
   __typeof__(&hsaKmtCreateQueue) create_queue;
   __typeof__(&hsaKmtDestroyQueue) destroy_queue;
} direct;

static void
load_direct(void)
{
   const char *name = getenv("VIRTKFD_HSAKMT_LIBRARY");
   /* already loaded by the library: the same instance, with KFD open */
   void *lib = dlopen(name && *name ? name : "libhsakmt.so.1", RTLD_NOW | RTLD_NOLOAD);
   if (!lib)
      bench_die("libhsakmt is not loaded");
   direct.create_event = (__typeof__(direct.create_event))dlsym(lib, "hsaKmtCreateEvent");
   direct.destroy_event =
      (__typeof__(direct.destroy_event))dlsym(lib, "hsaKmtDestroyEvent");
   direct.set_event = (__typeof__(direct.set_event))dlsym(lib, "hsaKmtSetEvent");
   direct.wait_on_event =
      (__typeof__(direct.wait_on_event))dlsym(lib, "hsaKmtWaitOnEvent");
   direct.create_queue = (__typeof__(direct.create_queue))dlsym(lib, "hsaKmtCreateQueue");
   direct.destroy_queue =
      (__typeof__(direct.destroy_queue))dlsym(lib, "hsaKmtDestroyQueue");
   if (!direct.create_event || !direct.destroy_event || !direct.set_event ||
       !direct.wait_on_event || !direct.create_queue || !direct.destroy_queue)
      bench_die("libhsakmt lacks an entry point");
}

static void
check(bool ok, const char *what)
{
   if (!ok) {
      fprintf(stderr, "bench_compute: %s failed\n", what);
      exit(1);
   }
}

/* --- through virtkfd ----------------------------------------------------------- */

static double
virtkfd_event_create_destroy(uint32_t count)
{
   double t0 = bench_now();
   for (uint32_t i = 0; i < count; i++) {
      struct hsakmt_event_rsp rsp;
      check(hsakmt_guest_create_event(&guest, GPU_NODE, false, false,
                                      hsakmt_guest_new_blob_id(&guest), &rsp) == 0,
            "EVENT/CREATE");
      check(hsakmt_guest_event_op(&guest, HSAKMT_EVENT_DESTROY, rsp.event_handle, 0) == 0,
            "EVENT/DESTROY");
   }
   return bench_now() - t0;
}

static double
virtkfd_set_query(uint32_t count, uint64_t token)
{
   double t0 = bench_now();
   for (uint32_t i = 0; i < count; i++) {
      check(hsakmt_guest_event_op(&guest, HSAKMT_EVENT_SET, token, 0) == 0, "EVENT/SET");
      check(hsakmt_guest_event_op(&guest, HSAKMT_EVENT_QUERY_STATE, token, 0) == 0,
            "EVENT/QUERY_STATE");
   }
   return bench_now() - t0;
}

static double
virtkfd_queue_create_destroy(uint32_t count)
{
   double t0 = bench_now();
   for (uint32_t i = 0; i < count; i++) {
      check(hsakmt_guest_aql_create(&guest, &aql, 0, false) == 0, "QUEUE/CREATE");
      struct hsakmt_queue_req req;
      memset(&req, 0, sizeof(req));
      req.type = HSAKMT_QUEUE_DESTROY;
      req.res_id = aql.queue_res;
      check(hsakmt_guest_queue(&guest, &req, 0, 0)->hdr.ret == 0, "QUEUE/DESTROY");
      virgl_renderer_resource_unref(aql.queue_res);
   }
   return bench_now() - t0;
}

/* --- libhsakmt directly ------------------------------------------------------- */

static double
direct_event_create_destroy(uint32_t count)
{
   HsaEventDescriptor desc;
   memset(&desc, 0, sizeof(desc));
   desc.EventType = HSA_EVENTTYPE_SIGNAL;
   desc.NodeId = GPU_NODE;
   double t0 = bench_now();
   for (uint32_t i = 0; i < count; i++) {
      HsaEvent *event = NULL;
      check(direct.create_event(&desc, false, false, &event) == HSAKMT_STATUS_SUCCESS,
            "hsaKmtCreateEvent");
      check(direct.destroy_event(event) == HSAKMT_STATUS_SUCCESS, "hsaKmtDestroyEvent");
   }
   return bench_now() - t0;
}

static double
direct_set_query(uint32_t count, HsaEvent *event, bool manual_reset)
{
   double t0 = bench_now();
   for (uint32_t i = 0; i < count; i++) {
      check(direct.set_event(event) == HSAKMT_STATUS_SUCCESS, "hsaKmtSetEvent");
      check(direct.wait_on_event(event, 0) == HSAKMT_STATUS_SUCCESS, "hsaKmtWaitOnEvent");
      if (!manual_reset)
         check(direct.set_event(event) == HSAKMT_STATUS_SUCCESS, "hsaKmtSetEvent");
   }
   return bench_now() - t0;
}

static double
direct_queue_create_destroy(uint32_t count)
{
   double t0 = bench_now();
   for (uint32_t i = 0; i < count; i++) {
      HsaQueueResource res;
      memset(&res, 0, sizeof(res));
      res.QueueWptrValue = aql.amd_queue_va + HSAKMT_GUEST_WRITE_DISPATCH_ID;
      res.QueueRptrValue = aql.amd_queue_va + HSAKMT_GUEST_READ_DISPATCH_ID;
      check(direct.create_queue(GPU_NODE, HSA_QUEUE_COMPUTE_AQL, 100,
                                HSA_QUEUE_PRIORITY_NORMAL, (void *)(uintptr_t)aql.ring_va,
                                RING_SIZE, NULL, &res) == HSAKMT_STATUS_SUCCESS,
            "hsaKmtCreateQueue");
      check(direct.destroy_queue(res.QueueId) == HSAKMT_STATUS_SUCCESS,
            "hsaKmtDestroyQueue");
   }
   return bench_now() - t0;
}

/* An event of the guest's, claimed, for SET + QUERY_STATE; its direct twin. */
struct event_pair {
   uint64_t token;
   uint32_t res;
   HsaEvent *direct;
};

static void
event_pair_create(bool manual_reset, struct event_pair *pair)
{
   struct hsakmt_event_rsp rsp;
   uint64_t blob_id = hsakmt_guest_new_blob_id(&guest);
   check(hsakmt_guest_create_event(&guest, GPU_NODE, manual_reset, false, blob_id,
                                   &rsp) == 0,
         "EVENT/CREATE");
   pair->token = rsp.event_handle;
   pair->res = hsakmt_guest_new_res_id(&guest);
   check(hsakmt_guest_claim(&guest, pair->res, blob_id, 0, 72) == 0, "event blob");
   HsaEventDescriptor desc;
   memset(&desc, 0, sizeof(desc));
   desc.EventType = HSA_EVENTTYPE_SIGNAL;
   desc.NodeId = GPU_NODE;
   check(direct.create_event(&desc, manual_reset, false, &pair->direct) ==
            HSAKMT_STATUS_SUCCESS,
         "hsaKmtCreateEvent");
}

static void
event_pair_destroy(struct event_pair *pair)
{
   virgl_renderer_resource_unref(pair->res);
   direct.destroy_event(pair->direct);
}

enum op {
   OP_EVENT,
   OP_SET_QUERY_MANUAL,
   OP_SET_QUERY_AUTO,
   OP_QUEUE,
   OP_COUNT,
};

static const char *const op_names[OP_COUNT] = {
   [OP_EVENT] = "EVENT CREATE + DESTROY",
   [OP_SET_QUERY_MANUAL] = "SET + QUERY_STATE (manual)",
   [OP_SET_QUERY_AUTO] = "SET + QUERY_STATE (auto)",
   [OP_QUEUE] = "QUEUE CREATE + DESTROY",
};

int
main(int argc, char **argv)
{
   uint32_t events = 20000, queues = 2000;
   int reps = 5;
   for (int i = 1; i < argc; i++) {
      if (!strcmp(argv[i], "--events") && i + 1 < argc)
         events = (uint32_t)bench_parse_size(argv[++i]);
      else if (!strcmp(argv[i], "--queues") && i + 1 < argc)
         queues = (uint32_t)bench_parse_size(argv[++i]);
      else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
         reps = atoi(argv[++i]);
      else {
         fprintf(stderr, "usage: %s [--events 20000] [--queues 2000] [--reps 5]\n",
                 argv[0]);
         return 2;
      }
   }
   if (reps < 1 || reps > BENCH_MAX_REPS || !events || !queues) {
      fprintf(stderr, "events, queues >= 1; reps 1..%d\n", BENCH_MAX_REPS);
      return 2;
   }
   if (!kfdsim_active()) {
      fprintf(stderr, "the KFD emulator is not active (a real /dev/kfd?)\n");
      return 1;
   }
   struct test_vmm vmm;
   test_vmm_init(&vmm, 3);
   uint64_t start, size;
   if (virgl_renderer_init(&vmm, VIRGL_RENDERER_USE_ROCM, &vmm.cbs) ||
       hsakmt_guest_open(&guest, 1, 1) || hsakmt_guest_open_kfd(&guest, &start, &size)) {
      fprintf(stderr, "cannot start the renderer and a capset-8 context\n");
      return 1;
   }
   load_direct();
   check(hsakmt_guest_aql_memory(&guest, GPU_NODE, RING_SIZE, &aql) == 0,
         "the ring and amd_queue_t");
   struct event_pair manual, automatic;
   event_pair_create(true, &manual);
   event_pair_create(false, &automatic);

   printf("events and queues on the KFD emulator: through virgl_renderer_submit_cmd "
          "vs libhsakmt directly, %" PRIu32 " event and %" PRIu32
          " queue operations per measurement, %d repetitions (median)\n",
          events, queues, reps);
   /* warm-up: libhsakmt's events page and doorbell page, both sides' caches */
   virtkfd_event_create_destroy(100);
   direct_event_create_destroy(100);
   virtkfd_queue_create_destroy(10);
   direct_queue_create_destroy(10);

   static double via[OP_COUNT][BENCH_MAX_REPS], bare[OP_COUNT][BENCH_MAX_REPS];
   uint32_t count[OP_COUNT] = { events, events, events, queues };
   for (int r = 0; r < reps; r++) {
      /* alternate which side goes first, so drift favours neither */
      for (int side = 0; side < 2; side++) {
         if ((side + r) % 2 == 0) {
            via[OP_EVENT][r] = virtkfd_event_create_destroy(events);
            via[OP_SET_QUERY_MANUAL][r] = virtkfd_set_query(events, manual.token);
            via[OP_SET_QUERY_AUTO][r] = virtkfd_set_query(events, automatic.token);
            via[OP_QUEUE][r] = virtkfd_queue_create_destroy(queues);
         } else {
            bare[OP_EVENT][r] = direct_event_create_destroy(events);
            bare[OP_SET_QUERY_MANUAL][r] = direct_set_query(events, manual.direct, true);
            bare[OP_SET_QUERY_AUTO][r] =
               direct_set_query(events, automatic.direct, false);
            bare[OP_QUEUE][r] = direct_queue_create_destroy(queues);
         }
      }
   }

   printf("\n  %-28s %14s %14s %8s %8s\n", "operation", "virtkfd us/op", "direct us/op",
          "ratio", "target");
   for (int op = 0; op < OP_COUNT; op++) {
      double v = bench_median(via[op], reps) / count[op] * 1e6;
      double d = bench_median(bare[op], reps) / count[op] * 1e6;
      printf("  %-28s %14.2f %14.2f %7.2fx %s (<= %.1fx)\n", op_names[op], v, d, v / d,
             bench_verdict(v / d <= TARGET), TARGET);
   }

   event_pair_destroy(&manual);
   event_pair_destroy(&automatic);
   hsakmt_guest_aql_memory_release(&guest, &aql);
   hsakmt_guest_close(&guest);
   virgl_renderer_cleanup(NULL);
   test_vmm_fini(&vmm);
   return 0;
}
