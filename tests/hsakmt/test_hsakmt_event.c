/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * EVENT (wire-protocol.md §2.3, §4.6) on the real libhsakmt and the KFD emulator:
 * create, signal from the emulated GPU, query, reset, set, destroy; the handle is an
 * opaque token of the context's own (§6.2 row 1), and forged, foreign, stale and
 * host-pointer-shaped handles are refused without reaching libhsakmt. Nothing blocks:
 * QUERY_STATE polls, WAIT_ON_MULTI_EVENTS is refused.
 *
 * Events need no fixed-address window: these tests run under ASan too.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hsakmt_guest_compute.h"
#include "hsakmt_test_env.h"
#include "kfdsim.h"

#define CTX_B            2
#define KFD_CREATE_EVENT 0x08
#define KFD_SET_EVENT    0x0a
#define KFD_RESET_EVENT  0x0b
#define KFD_WAIT_EVENTS  0x0c
#define EVENT_BLOB_SIZE  72

static struct hsakmt_test_env env;
static uint32_t gpu = 1;

/* An event of `guest`, claimed by its tracking blob. */
struct event {
   struct hsakmt_event_rsp rsp;
   uint32_t res;
};

static void
create_event(struct hsakmt_guest *guest, bool manual_reset, bool signaled,
             struct event *event)
{
   uint64_t blob_id = hsakmt_guest_new_blob_id(guest);
   assert_int_equal(
      hsakmt_guest_create_event(guest, gpu, manual_reset, signaled, blob_id, &event->rsp),
      0);
   event->res = hsakmt_guest_new_res_id(guest);
   assert_int_equal(hsakmt_guest_claim(guest, event->res, blob_id, 0, EVENT_BLOB_SIZE),
                    0);
}

static int
op(uint32_t type, const struct event *event)
{
   return hsakmt_guest_event_op(&env.guest, type, event->rsp.event_handle, event->res);
}

static int
setup(void **state)
{
   hsakmt_test_env_start(&env);
   /* libhsakmt allocates its events page with the first event and never frees it */
   struct event warm;
   create_event(&env.guest, false, false, &warm);
   virgl_renderer_resource_unref(warm.res);
   env.live_bos = kfdsim_live_bos();
   return 0;
}

static int
teardown(void **state)
{
   hsakmt_test_env_stop(&env);
   return 0;
}

static void
test_event_lifecycle(void **state)
{
   unsigned events = kfdsim_live_events();
   struct event event;
   create_event(&env.guest, false, false, &event);
   assert_int_equal(kfdsim_live_events(), events + 1);
   const struct hsakmt_event_rsp *rsp = &event.rsp;
   /* libhsakmt's HsaEvent, with a token where upstream puts the host pointer */
   assert_int_equal(rsp->event.event_type, 0);
   assert_true(rsp->event.hw_data2 != 0); /* the mailbox: a GPU VA, kept as is */
   uint64_t user_data;
   memcpy(&user_data, rsp->event.event_data, sizeof(user_data));
   assert_int_equal(user_data, 0x5a5a0000ull); /* SyncVar echoed */
   assert_true(rsp->event_handle != 0);
   hsakmt_test_assert_no_host_address(rsp->event_handle, 1, "event handle");
   assert_int_equal(rsp->bo_handle, 0);
   assert_int_equal(rsp->res_id, 0);

   /* not signalled; the emulated GPU signals it; a query does not consume it */
   assert_int_equal(op(HSAKMT_EVENT_QUERY_STATE, &event), VKFD_STATUS_WAIT_TIMEOUT);
   assert_int_equal(kfdsim_signal_event(rsp->event.event_id), 0);
   assert_int_equal(op(HSAKMT_EVENT_QUERY_STATE, &event), VKFD_STATUS_SUCCESS);
   assert_int_equal(op(HSAKMT_EVENT_QUERY_STATE, &event), VKFD_STATUS_SUCCESS);
   /* reset, set, reset: each reaches the kernel */
   uint64_t resets = kfdsim_ioctl_count(KFD_RESET_EVENT);
   assert_int_equal(op(HSAKMT_EVENT_RESET, &event), 0);
   assert_int_equal(kfdsim_ioctl_count(KFD_RESET_EVENT), resets + 1);
   assert_int_equal(op(HSAKMT_EVENT_QUERY_STATE, &event), VKFD_STATUS_WAIT_TIMEOUT);
   assert_int_equal(op(HSAKMT_EVENT_SET, &event), 0);
   assert_int_equal(op(HSAKMT_EVENT_QUERY_STATE, &event), VKFD_STATUS_SUCCESS);
   /* a query never waits: a zero timeout */
   struct kfdsim_ioctl_record rec;
   assert_int_equal(kfdsim_log_find_last(KFD_WAIT_EVENTS, &rec), 0);
   uint32_t timeout;
   memcpy(&timeout, rec.in + 16, sizeof(timeout)); /* kfd_ioctl_wait_events_args */
   assert_int_equal(timeout, 0);

   /* the blob's detach destroys it; its handle is stale from then on */
   virgl_renderer_resource_unref(event.res);
   assert_int_equal(kfdsim_live_events(), events);
   assert_int_equal(op(HSAKMT_EVENT_QUERY_STATE, &event), VKFD_STATUS_INVALID_HANDLE);
   assert_int_equal(op(HSAKMT_EVENT_SET, &event), VKFD_STATUS_INVALID_HANDLE);
}

static void
test_manual_reset_and_initial_state(void **state)
{
   struct event event;
   create_event(&env.guest, true, true, &event);
   assert_int_equal(op(HSAKMT_EVENT_QUERY_STATE, &event), VKFD_STATUS_SUCCESS);
   assert_int_equal(op(HSAKMT_EVENT_QUERY_STATE, &event), VKFD_STATUS_SUCCESS);
   assert_int_equal(op(HSAKMT_EVENT_RESET, &event), 0);
   assert_int_equal(op(HSAKMT_EVENT_QUERY_STATE, &event), VKFD_STATUS_WAIT_TIMEOUT);
   virgl_renderer_resource_unref(event.res);
}

static void
test_hostile_handles(void **state)
{
   struct event event, other;
   create_event(&env.guest, false, false, &event);
   struct hsakmt_guest b;
   assert_int_equal(hsakmt_guest_open(&b, CTX_B, 5000), 0);
   create_event(&b, false, false, &other);
   uint64_t sets = kfdsim_ioctl_count(KFD_SET_EVENT);

   const uint64_t handles[] = {
      0,
      1,
      event.rsp.event_handle ^ 1,             /* forged: one bit off */
      event.rsp.event_handle & ~(1ull << 63), /* without the token bit */
      (uint64_t)(uintptr_t)&event,            /* host-pointer-shaped */
      (uint64_t)(uintptr_t)env.guest.shmem,   /* a real host mapping */
      other.rsp.event_handle,                 /* another context's */
      0x8000000000000001ull,
      ~0ull,
   };
   for (unsigned i = 0; i < sizeof(handles) / sizeof(handles[0]); i++) {
      for (uint32_t type = HSAKMT_EVENT_DESTROY; type <= HSAKMT_EVENT_QUERY_STATE;
           type++) {
         assert_int_equal(hsakmt_guest_event_op(&env.guest, type, handles[i], 0),
                          VKFD_STATUS_INVALID_HANDLE);
      }
   }
   /* the right token with a res_id that is not its blob */
   uint32_t wrong_res[] = { env.guest.shmem_res_id, other.res, event.res + 1000 };
   for (unsigned i = 0; i < 3; i++) {
      for (uint32_t type = HSAKMT_EVENT_DESTROY; type <= HSAKMT_EVENT_QUERY_STATE;
           type++) {
         assert_int_equal(
            hsakmt_guest_event_op(&env.guest, type, event.rsp.event_handle, wrong_res[i]),
            VKFD_STATUS_INVALID_HANDLE);
      }
   }
   /* nothing of it reached the kernel, and both events still work */
   assert_int_equal(kfdsim_ioctl_count(KFD_SET_EVENT), sets);
   assert_int_equal(op(HSAKMT_EVENT_SET, &event), 0);
   assert_int_equal(
      hsakmt_guest_event_op(&b, HSAKMT_EVENT_SET, other.rsp.event_handle, other.res), 0);
   /* reserved fields must be zero */
   struct hsakmt_event_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_EVENT_SET;
   req.event_handle = event.rsp.event_handle;
   req.sync_shmem_res_id = 1;
   assert_int_equal(hsakmt_guest_event(&env.guest, &req)->hdr.ret,
                    VKFD_STATUS_INVALID_PARAMETER);

   /* DESTROY by token or by res_id; afterwards both are stale */
   assert_int_equal(
      hsakmt_guest_event_op(&env.guest, HSAKMT_EVENT_DESTROY, event.rsp.event_handle, 0),
      0);
   assert_int_equal(op(HSAKMT_EVENT_QUERY_STATE, &event), VKFD_STATUS_INVALID_HANDLE);
   assert_int_equal(hsakmt_guest_event_op(&env.guest, HSAKMT_EVENT_DESTROY, 0, event.res),
                    VKFD_STATUS_INVALID_HANDLE);
   virgl_renderer_resource_unref(event.res); /* a detach with nothing left to do */
   assert_int_equal(hsakmt_guest_event_op(&b, HSAKMT_EVENT_DESTROY, 0, other.res), 0);
   virgl_renderer_resource_unref(other.res);
   hsakmt_guest_close(&b);
}

static void
test_create_refusals(void **state)
{
   uint64_t creates = kfdsim_ioctl_count(KFD_CREATE_EVENT);
   unsigned events = kfdsim_live_events();
   struct hsakmt_event_req req;
   const struct {
      uint32_t type, node;
      uint8_t manual, signaled, pad;
      uint32_t reserved;
      int32_t expected;
   } cases[] = {
      { 9, 1, 0, 0, 0, 0, VKFD_STATUS_INVALID_PARAMETER },  /* no such event type */
      { 0, 77, 0, 0, 0, 0, VKFD_STATUS_INVALID_NODE_UNIT }, /* no such node */
      { 0, 1, 2, 0, 0, 0, VKFD_STATUS_INVALID_PARAMETER },  /* a boolean of 2 */
      { 0, 1, 0, 2, 0, 0, VKFD_STATUS_INVALID_PARAMETER },
      { 0, 1, 0, 0, 1, 0, VKFD_STATUS_INVALID_PARAMETER }, /* padding */
      { 0, 1, 0, 0, 0, 1, VKFD_STATUS_INVALID_PARAMETER }, /* reserved field */
   };
   for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
      memset(&req, 0, sizeof(req));
      req.type = HSAKMT_EVENT_CREATE;
      req.blob_id = hsakmt_guest_new_blob_id(&env.guest);
      req.create.desc.event_type = cases[i].type;
      req.create.desc.node_id = cases[i].node;
      req.create.manual_reset = cases[i].manual;
      req.create.is_signaled = cases[i].signaled;
      req.create.pad[3] = cases[i].pad;
      req.pad = cases[i].reserved;
      struct hsakmt_event_rsp *rsp = hsakmt_guest_event(&env.guest, &req);
      assert_int_equal(rsp->hdr.ret, cases[i].expected);
      assert_int_equal(rsp->event_handle, 0);
   }
   /* blob ids: 0, wider than 32 bits, already pending */
   uint64_t pending = hsakmt_guest_new_blob_id(&env.guest);
   assert_int_equal(hsakmt_guest_create_event(&env.guest, gpu, false, false, 0, NULL),
                    VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(
      hsakmt_guest_create_event(&env.guest, gpu, false, false, 1ull << 32, NULL),
      VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(
      hsakmt_guest_create_event(&env.guest, gpu, false, false, pending, NULL), 0);
   assert_int_equal(
      hsakmt_guest_create_event(&env.guest, gpu, false, false, pending, NULL),
      VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(kfdsim_ioctl_count(KFD_CREATE_EVENT), creates + 1);
   /* the event's blob: flags 0, at most a page, never mappable; refused: destroyed */
   uint32_t res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_claim(&env.guest, res, pending,
                                       VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE,
                                       EVENT_BLOB_SIZE),
                    -EINVAL);
   assert_int_equal(kfdsim_live_events(), events);
   pending = hsakmt_guest_new_blob_id(&env.guest);
   assert_int_equal(
      hsakmt_guest_create_event(&env.guest, gpu, false, false, pending, NULL), 0);
   assert_int_equal(hsakmt_guest_claim(&env.guest, res, pending, 0, 8192), -EINVAL);
   pending = hsakmt_guest_new_blob_id(&env.guest);
   assert_int_equal(
      hsakmt_guest_create_event(&env.guest, gpu, false, false, pending, NULL), 0);
   assert_int_equal(hsakmt_guest_claim(&env.guest, res, pending, 0, EVENT_BLOB_SIZE), 0);
   void *map;
   assert_int_equal(virgl_renderer_resource_map(res, &map, NULL), -EINVAL);
   virgl_renderer_resource_unref(res);
   assert_int_equal(kfdsim_live_events(), events);
}

static void
test_nothing_blocks(void **state)
{
   struct event event;
   create_event(&env.guest, false, false, &event);
   struct hsakmt_event_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_EVENT_WAIT_ON_MULTI_EVENTS;
   memcpy(req.raw, &(uint32_t){ 1 }, 4);              /* NumEvents */
   memcpy(req.raw + 4, &(uint32_t){ 0xffffffff }, 4); /* Milliseconds: forever */
   uint64_t waits = kfdsim_ioctl_count(KFD_WAIT_EVENTS);
   assert_int_equal(hsakmt_guest_event(&env.guest, &req)->hdr.ret,
                    VKFD_STATUS_NOT_SUPPORTED);
   assert_int_equal(kfdsim_ioctl_count(KFD_WAIT_EVENTS), waits);
   req.type = 7; /* past the last sub-type */
   assert_int_equal(hsakmt_guest_event(&env.guest, &req)->hdr.ret,
                    VKFD_STATUS_NOT_SUPPORTED);
   virgl_renderer_resource_unref(event.res);
}

int
main(void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_event_lifecycle),
      cmocka_unit_test(test_manual_reset_and_initial_state),
      cmocka_unit_test(test_hostile_handles),
      cmocka_unit_test(test_create_refusals),
      cmocka_unit_test(test_nothing_blocks),
   };
   return cmocka_run_group_tests(tests, setup, teardown);
}
