/*
 * Events through libhsakmt: timeouts, signals from another thread (the way a
 * GPU interrupt arrives), CPU set/reset, auto-reset, waiting on several, and
 * the events page libhsakmt never frees.
 */
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

static uint32_t gpu_node;

static HsaEvent *
create_event(bool manual_reset)
{
   HsaEventDescriptor desc = { 0 };
   HsaEvent *event = NULL;

   desc.EventType = HSA_EVENTTYPE_SIGNAL;
   desc.NodeId = gpu_node;
   desc.SyncVar.SyncVar.UserData = NULL;
   assert_int_equal(hsaKmtCreateEvent(&desc, manual_reset, false, &event),
                    HSAKMT_STATUS_SUCCESS);
   assert_non_null(event);
   return event;
}

static double
now_ms(void)
{
   struct timespec ts;

   clock_gettime(CLOCK_MONOTONIC, &ts);
   return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void
test_timeout(void **state)
{
   HsaEvent *event = create_event(true);
   double start = now_ms();

   assert_int_equal(hsaKmtWaitOnEvent(event, 20), HSAKMT_STATUS_WAIT_TIMEOUT);
   assert_true(now_ms() - start >= 19.0);
   assert_int_equal(hsaKmtDestroyEvent(event), HSAKMT_STATUS_SUCCESS);
}

struct signaller {
   uint32_t event_id;
   int result;
};

static void *
signal_later(void *arg)
{
   struct signaller *s = arg;

   usleep(30 * 1000);
   s->result = kfdsim_signal_event(s->event_id);
   return NULL;
}

/* The GPU's signal wakes a thread blocked in WAIT_EVENTS. */
static void
test_signal_wakes_waiter(void **state)
{
   HsaEvent *event = create_event(false);
   struct signaller s = { .event_id = event->EventId, .result = -1 };
   pthread_t thread;
   double start = now_ms();

   assert_int_equal(pthread_create(&thread, NULL, signal_later, &s), 0);
   assert_int_equal(hsaKmtWaitOnEvent(event, 10000), HSAKMT_STATUS_SUCCESS);
   assert_true(now_ms() - start < 5000.0);
   pthread_join(thread, NULL);
   assert_int_equal(s.result, 0);
   /* Auto-reset: consumed by the waiter. */
   assert_int_equal(hsaKmtWaitOnEvent(event, 0), HSAKMT_STATUS_WAIT_TIMEOUT);
   assert_int_equal(hsaKmtDestroyEvent(event), HSAKMT_STATUS_SUCCESS);
}

static void
test_set_reset(void **state)
{
   HsaEvent *manual = create_event(true);
   HsaEvent *automatic = create_event(false);

   assert_int_equal(hsaKmtSetEvent(manual), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtWaitOnEvent(manual, 0), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtWaitOnEvent(manual, 0), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtResetEvent(manual), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtWaitOnEvent(manual, 0), HSAKMT_STATUS_WAIT_TIMEOUT);

   assert_int_equal(hsaKmtSetEvent(automatic), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtWaitOnEvent(automatic, 0), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtWaitOnEvent(automatic, 0), HSAKMT_STATUS_WAIT_TIMEOUT);

   assert_int_equal(hsaKmtDestroyEvent(manual), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtDestroyEvent(automatic), HSAKMT_STATUS_SUCCESS);
}

static void
test_wait_multiple(void **state)
{
   HsaEvent *events[2] = { create_event(true), create_event(true) };

   assert_int_equal(hsaKmtSetEvent(events[1]), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtWaitOnMultipleEvents(events, 2, false, 0),
                    HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtWaitOnMultipleEvents(events, 2, true, 10),
                    HSAKMT_STATUS_WAIT_TIMEOUT);
   assert_int_equal(hsaKmtSetEvent(events[0]), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtWaitOnMultipleEvents(events, 2, true, 0),
                    HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_live_events(), 2);
   assert_int_equal(hsaKmtDestroyEvent(events[0]), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(hsaKmtDestroyEvent(events[1]), HSAKMT_STATUS_SUCCESS);
   assert_int_equal(kfdsim_live_events(), 0);
}

static int
group_setup(void **state)
{
   gpu_node = test_open_kfd();
   return 0;
}

static int
group_teardown(void **state)
{
   assert_int_equal(hsaKmtCloseKFD(), HSAKMT_STATUS_SUCCESS);
   /* libhsakmt 5.2.3 allocates the events page (a GTT BO) on the first
    * hsaKmtCreateEvent and never frees it: one BO outlives CloseKFD.
    */
   assert_int_equal(kfdsim_live_bos(), 1);
   assert_int_equal(kfdsim_live_events(), 0);
   return 0;
}

int
main(void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_timeout),
      cmocka_unit_test(test_signal_wakes_waiter),
      cmocka_unit_test(test_set_reset),
      cmocka_unit_test(test_wait_multiple),
   };

   return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
