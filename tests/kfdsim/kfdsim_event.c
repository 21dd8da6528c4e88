/*
 * Events: CREATE/DESTROY/SET/RESET/WAIT_EVENTS and the signal page.
 *
 * Semantics follow kfd_events.c: signal events take their id from the slot
 * they occupy in the signal page (which user mode supplies on a dGPU by
 * passing a GTT BO's handle in the first CREATE_EVENT); waiting consumes an
 * auto-reset event that is already signalled; setting an auto-reset event
 * with waiters wakes all of them without leaving it signalled; a destroyed
 * event makes its waiters fail with EIO.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kfdsim_priv.h"

#define FIRST_NONSIGNAL_EVENT_ID 0x80000000u
#define UNSIGNALED_SLOT_BYTE     0xff
#define TIMEOUT_IMMEDIATE        0u
#define TIMEOUT_INFINITE         0xffffffffu

struct kfdsim_event_waiter {
   struct kfdsim_event_waiter *next; /* on event->waiters */
   struct kfdsim_event *event;       /* NULL once the event is destroyed */
   bool activated;
};

static bool
is_signal_type(uint32_t type)
{
   return type == KFD_IOC_EVENT_SIGNAL || type == KFD_IOC_EVENT_DEBUG_EVENT;
}

static struct kfdsim_event *
event_lookup(struct kfdsim_state *s, uint32_t id)
{
   for (struct kfdsim_event *ev = s->process.events; ev; ev = ev->next) {
      if (ev->id == id)
         return ev;
   }
   return NULL;
}

static void
set_event(struct kfdsim_state *s, struct kfdsim_event *ev)
{
   ev->signaled = !ev->auto_reset || !ev->waiters;
   for (struct kfdsim_event_waiter *w = ev->waiters; w; w = w->next)
      w->activated = true;
   kfdsim_state_wake(s);
}

static int
kernel_signal_page(struct kfdsim_state *s)
{
   int ret =
      kfdsim_backing_alloc(&s->backing, KFDSIM_EVENT_PAGE_SIZE, &s->process.signal_page);

   if (ret)
      return ret;
   kfdsim_backing_fill(&s->backing, s->process.signal_page, UNSIGNALED_SLOT_BYTE,
                       KFDSIM_EVENT_PAGE_SIZE);
   s->process.signal_page_set = true;
   s->process.signal_page_kernel = true;
   s->process.signal_page_fd = s->backing.fd;
   s->process.signal_page_size = KFDSIM_EVENT_PAGE_SIZE;
   return 0;
}

int
kfdsim_event_page_ensure(struct kfdsim_state *s)
{
   return s->process.signal_page_set ? 0 : kernel_signal_page(s);
}

/* The first CREATE_EVENT of a dGPU process hands over the user's page. */
static int
set_user_signal_page(struct kfdsim_state *s, uint64_t handle)
{
   struct kfdsim_device *dev;
   struct kfdsim_bo *bo;
   int ret;

   if (s->process.signal_page_set)
      return -EINVAL; /* "Event page is already set" */
   dev = kfdsim_device_by_id(s, KFDSIM_HANDLE_GPU_ID(handle));
   if (!dev)
      return -EINVAL;
   if ((ret = kfdsim_device_bind(dev)))
      return ret;
   bo = kfdsim_bo_lookup(s, handle);
   if (!bo)
      return -EINVAL; /* "Can't find BO" */
   /* amdgpu_amdkfd_gpuvm_map_gtt_bo_to_kernel() pins it in GTT. The kernel
    * then fills a whole KFD_SIGNAL_EVENT_LIMIT page: a smaller BO is refused
    * here rather than overrun.
    */
   if (!(bo->flags & KFD_IOC_ALLOC_MEM_FLAGS_GTT) || bo->size < KFDSIM_EVENT_PAGE_SIZE)
      return -EINVAL;
   kfdsim_memfile_fill(bo->mem_fd, 0, UNSIGNALED_SLOT_BYTE, KFDSIM_EVENT_PAGE_SIZE);
   s->process.signal_page_set = true;
   s->process.signal_page_kernel = false;
   s->process.signal_page_fd = bo->mem_fd;
   s->process.signal_page = 0;
   s->process.signal_page_size = bo->size;
   s->process.signal_page_handle = handle;
   return 0;
}

static int
allocate_event_id(struct kfdsim_state *s, bool signal, uint32_t *id)
{
   if (signal) {
      /* Only slots user mode mapped are usable. */
      uint64_t slots = s->process.signal_page_size / 8;

      if (slots > KFD_SIGNAL_EVENT_LIMIT)
         slots = KFD_SIGNAL_EVENT_LIMIT;
      for (uint32_t candidate = 0; candidate < slots; candidate++) {
         if (!event_lookup(s, candidate)) {
            *id = candidate;
            return 0;
         }
      }
      return -ENOSPC;
   }
   for (uint32_t candidate = FIRST_NONSIGNAL_EVENT_ID; candidate != 0; candidate++) {
      if (!event_lookup(s, candidate)) {
         *id = candidate;
         return 0;
      }
   }
   return -ENOSPC;
}

int
kfdsim_ioctl_create_event(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_create_event_args *a = args;
   bool signal = is_signal_type(a->event_type);
   struct kfdsim_event *ev;
   int ret;

   if (a->event_page_offset && (ret = set_user_signal_page(s, a->event_page_offset)))
      return ret;
   if (signal) {
      if (s->process.signal_event_count >= KFD_SIGNAL_EVENT_LIMIT)
         return -ENOSPC;
      if (!s->process.signal_page_set && (ret = kernel_signal_page(s)))
         return ret;
   }
   ev = calloc(1, sizeof(*ev));
   if (!ev)
      return -ENOMEM;
   if ((ret = allocate_event_id(s, signal, &ev->id))) {
      free(ev);
      return ret;
   }
   ev->type = a->event_type;
   ev->auto_reset = a->auto_reset != 0;
   ev->node_id = a->node_id;
   ev->next = s->process.events;
   s->process.events = ev;

   a->event_id = ev->id;
   a->event_trigger_data = ev->id;
   if (signal) {
      s->process.signal_event_count++;
      a->event_page_offset = KFDSIM_MMAP_TYPE_EVENTS;
      a->event_slot_index = ev->id;
   }
   return 0;
}

int
kfdsim_ioctl_destroy_event(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_destroy_event_args *a = args;

   for (struct kfdsim_event **link = &s->process.events; *link; link = &(*link)->next) {
      struct kfdsim_event *ev = *link;

      if (ev->id != a->event_id)
         continue;
      /* Waiters find their event gone and fail. */
      for (struct kfdsim_event_waiter *w = ev->waiters; w; w = w->next)
         w->event = NULL;
      if (ev->waiters)
         kfdsim_state_wake(s);
      if (is_signal_type(ev->type))
         s->process.signal_event_count--;
      *link = ev->next;
      free(ev);
      return 0;
   }
   return -EINVAL;
}

int
kfdsim_ioctl_set_event(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_set_event_args *a = args;
   struct kfdsim_event *ev = event_lookup(s, a->event_id);

   /* Only signal events can be signalled from the CPU. */
   if (!ev || ev->type != KFD_IOC_EVENT_SIGNAL)
      return -EINVAL;
   set_event(s, ev);
   return 0;
}

int
kfdsim_ioctl_reset_event(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_reset_event_args *a = args;
   struct kfdsim_event *ev = event_lookup(s, a->event_id);

   if (!ev || ev->type != KFD_IOC_EVENT_SIGNAL)
      return -EINVAL;
   ev->signaled = false;
   return 0;
}

int
kfdsim_event_signal(struct kfdsim_state *s, uint32_t event_id)
{
   struct kfdsim_event *ev = event_lookup(s, event_id);

   if (!ev)
      return -EINVAL;
   set_event(s, ev);
   return 0;
}

static uint32_t
test_condition(bool all, uint32_t count, const struct kfdsim_event_waiter *waiters)
{
   uint32_t activated = 0;

   for (uint32_t i = 0; i < count; i++) {
      if (!waiters[i].event)
         return KFD_IOC_WAIT_RESULT_FAIL;
      if (waiters[i].activated) {
         if (!all)
            return KFD_IOC_WAIT_RESULT_COMPLETE;
         activated++;
      }
   }
   return activated == count ? KFD_IOC_WAIT_RESULT_COMPLETE : KFD_IOC_WAIT_RESULT_TIMEOUT;
}

static void
remove_waiter(struct kfdsim_event_waiter *waiter)
{
   if (!waiter->event)
      return;
   for (struct kfdsim_event_waiter **link = &waiter->event->waiters; *link;
        link = &(*link)->next) {
      if (*link == waiter) {
         *link = waiter->next;
         return;
      }
   }
}

static void
deadline_after_ms(struct timespec *deadline, uint32_t ms)
{
   clock_gettime(CLOCK_MONOTONIC, deadline);
   deadline->tv_sec += ms / 1000;
   deadline->tv_nsec += (long)(ms % 1000) * 1000000L;
   if (deadline->tv_nsec >= 1000000000L) {
      deadline->tv_sec++;
      deadline->tv_nsec -= 1000000000L;
   }
}

int
kfdsim_ioctl_wait_events(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_wait_events_args *a = args;
   struct kfdsim_event_waiter *waiters;
   struct timespec deadline;
   bool all = a->wait_for_all != 0;
   uint32_t result;
   int ret = 0;

   if (a->num_events > KFD_SIGNAL_EVENT_LIMIT * 4)
      return -ENOMEM;
   waiters = calloc(a->num_events ? a->num_events : 1, sizeof(*waiters));
   if (!waiters)
      return -ENOMEM;

   for (uint32_t i = 0; i < a->num_events; i++) {
      struct kfd_event_data data;
      struct kfdsim_event *ev;

      if (kfdsim_copy_from_user(&data, a->events_ptr + i * sizeof(data), sizeof(data))) {
         ret = -EFAULT;
         goto out;
      }
      ev = event_lookup(s, data.event_id);
      if (!ev) {
         ret = -EINVAL;
         goto out;
      }
      /* init_event_waiter(): an auto-reset event is consumed right here. */
      waiters[i].event = ev;
      waiters[i].activated = ev->signaled;
      ev->signaled = ev->signaled && !ev->auto_reset;
   }

   result = test_condition(all, a->num_events, waiters);
   if (result == KFD_IOC_WAIT_RESULT_TIMEOUT && a->timeout != TIMEOUT_IMMEDIATE) {
      for (uint32_t i = 0; i < a->num_events; i++) {
         waiters[i].next = waiters[i].event->waiters;
         waiters[i].event->waiters = &waiters[i];
      }
      if (a->timeout != TIMEOUT_INFINITE)
         deadline_after_ms(&deadline, a->timeout);
      for (;;) {
         int rc = kfdsim_state_wait(s, a->timeout == TIMEOUT_INFINITE ? NULL : &deadline);

         result = test_condition(all, a->num_events, waiters);
         if (result != KFD_IOC_WAIT_RESULT_TIMEOUT || rc == ETIMEDOUT)
            break;
      }
      for (uint32_t i = 0; i < a->num_events; i++)
         remove_waiter(&waiters[i]);
   }
   a->wait_result = result;
   if (result == KFD_IOC_WAIT_RESULT_FAIL)
      ret = -EIO;

out:
   if (ret)
      a->wait_result = KFD_IOC_WAIT_RESULT_FAIL;
   free(waiters);
   return ret;
}
