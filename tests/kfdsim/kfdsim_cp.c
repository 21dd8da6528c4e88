/*
 * The command processor of an emulated GPU, as far as a test can see it: when
 * asked (kfdsim_queue_run), it takes the AQL packets of a queue the way the CP does
 * after a doorbell write. It reads the doorbell (the index of the last packet user
 * mode published) and the queue's read dispatch id, fetches each packet from the
 * ring through the GPU's view of memory, "executes" it (no shader runs: a packet's
 * only effect is its completion signal), marks the slot INVALID and advances the
 * read dispatch id, as the CP does.
 *
 * A completion signal is an amd_signal_t: its value is decremented, and if it has an
 * event mailbox, the event id is written there and the event is raised (the
 * end-of-pipe interrupt), so a waiter on the KFD event wakes up.
 *
 * Layouts (ROCr's hsa.h and amd_hsa_signal.h, public ABI): an AQL packet is 64 bytes
 * with the type in bits 0-7 of its header and the completion signal at byte 56 for
 * dispatch and barrier packets; an amd_signal_t has value at 8, event_mailbox_ptr at
 * 16 and event_id at 24.
 */
#include <errno.h>
#include <string.h>

#include "kfdsim_priv.h"

#define AQL_PACKET_SIZE       64u
#define AQL_TYPE_INVALID      1u
#define AQL_TYPE_DISPATCH     2u
#define AQL_TYPE_BARRIER_AND  3u
#define AQL_TYPE_AGENT        4u
#define AQL_TYPE_BARRIER_OR   5u
#define AQL_COMPLETION_SIGNAL 56u
#define SIGNAL_VALUE          8u
#define SIGNAL_EVENT_MAILBOX  16u
#define SIGNAL_EVENT_ID       24u

static int
gpu_read64(struct kfdsim_state *s, uint64_t va, uint64_t *value)
{
   return kfdsim_gpu_access(s, va, value, sizeof(*value), false);
}

static int
gpu_write64(struct kfdsim_state *s, uint64_t va, uint64_t value)
{
   return kfdsim_gpu_access(s, va, &value, sizeof(value), true);
}

/* End of pipe for a completion signal: decrement, then the mailbox and interrupt. */
static int
complete_signal(struct kfdsim_state *s, uint64_t signal, struct kfdsim_cp_report *report)
{
   uint64_t value, mailbox, event_id;
   int ret = gpu_read64(s, signal + SIGNAL_VALUE, &value);

   if (!ret)
      ret = gpu_write64(s, signal + SIGNAL_VALUE, value - 1);
   if (!ret)
      ret = gpu_read64(s, signal + SIGNAL_EVENT_MAILBOX, &mailbox);
   if (!ret)
      ret = gpu_read64(s, signal + SIGNAL_EVENT_ID, &event_id);
   if (ret)
      return ret;
   report->signals_completed++;
   event_id &= 0xffffffffu;
   if (!mailbox)
      return 0;
   ret = gpu_write64(s, mailbox, event_id);
   if (!ret && kfdsim_event_signal(s, (uint32_t)event_id) == 0)
      report->events_raised++;
   return ret;
}

KFDSIM_EXPORT int
kfdsim_queue_run(uint32_t queue_id, struct kfdsim_cp_report *report)
{
   struct kfdsim_state *s = kfdsim_state_lock();
   struct kfdsim_queue *q;
   struct kfdsim_device *dev;
   uint64_t doorbell = 0, read_id = 0;
   int ret = 0;

   memset(report, 0, sizeof(*report));
   if (s->mode != KFDSIM_MODE_ACTIVE) {
      kfdsim_state_unlock(s);
      return -ENODEV;
   }
   q = kfdsim_queue_lookup(s, queue_id);
   if (!q || q->type != KFD_IOC_QUEUE_TYPE_COMPUTE_AQL || !q->ring_size) {
      kfdsim_state_unlock(s);
      return -EINVAL;
   }
   dev = &s->devices[q->gpu];
   ret = kfdsim_backing_read(&s->backing, dev->doorbell_page + q->doorbell_id * 8ull,
                             &doorbell, sizeof(doorbell));
   if (!ret)
      ret = gpu_read64(s, q->read_ptr, &read_id);
   report->doorbell = doorbell;
   report->read_index = read_id;
   uint64_t slots = q->ring_size / AQL_PACKET_SIZE;
   /* the doorbell carries the index of the last packet published */
   while (!ret && read_id <= doorbell && report->packets < slots) {
      uint64_t slot = q->ring_base + (read_id % slots) * AQL_PACKET_SIZE;
      uint8_t packet[AQL_PACKET_SIZE];
      uint64_t signal;

      ret = kfdsim_gpu_access(s, slot, packet, sizeof(packet), false);
      if (ret)
         break;
      uint32_t type = packet[0];
      if (type == AQL_TYPE_INVALID)
         break; /* not written yet: the CP waits */
      memcpy(report->last_packet, packet, sizeof(packet));
      report->packets++;
      if (type == AQL_TYPE_DISPATCH || type == AQL_TYPE_BARRIER_AND ||
          type == AQL_TYPE_AGENT || type == AQL_TYPE_BARRIER_OR) {
         memcpy(&signal, packet + AQL_COMPLETION_SIGNAL, sizeof(signal));
         if (signal)
            ret = complete_signal(s, signal, report);
      }
      /* the slot is free again: header INVALID, as the CP leaves it */
      uint16_t header = AQL_TYPE_INVALID;
      if (!ret)
         ret = kfdsim_gpu_access(s, slot, &header, sizeof(header), true);
      read_id++;
   }
   if (!ret && report->packets)
      ret = gpu_write64(s, q->read_ptr, read_id);
   report->read_index = read_id;
   kfdsim_trace(s,
                "CP of queue %u: doorbell %llu, %u packet(s), %u signal(s), %u event(s) "
                "-> %d",
                queue_id, (unsigned long long)doorbell, report->packets,
                report->signals_completed, report->events_raised, ret);
   kfdsim_state_unlock(s);
   return ret;
}

KFDSIM_EXPORT int
kfdsim_queue_find(uint64_t ring_base, uint32_t *queue_id)
{
   struct kfdsim_state *s = kfdsim_state_lock();
   int ret = -ENOENT;

   if (s->mode != KFDSIM_MODE_ACTIVE) {
      ret = -ENODEV;
   } else {
      for (struct kfdsim_queue *q = s->process.queues; q; q = q->next) {
         if (q->ring_base == ring_base) {
            *queue_id = q->id;
            ret = 0;
            break;
         }
      }
   }
   kfdsim_state_unlock(s);
   return ret;
}
