/*
 * User-mode queues: CREATE/DESTROY/UPDATE_QUEUE, SET_CU_MASK,
 * GET_QUEUE_WAVE_STATE and ALLOC_QUEUE_GWS.
 *
 * Nothing executes: a queue is its properties plus a doorbell in the
 * process's doorbell page, which user mode writes and tests read back. Queue
 * ids, doorbell slots and SDMA engines are handed out the way the process
 * queue manager does (lowest free id; SOC15 doorbell layout where a block of
 * slots is reserved for SDMA).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kfdsim_priv.h"

/* Kernel-internal "operation not supported" that reaches user space as is. */
#define ENOTSUPP_KERNEL        524

#define MAX_QUEUES_PER_PROCESS 1024u
#define MAX_QUEUES_PER_DEVICE  4096u
#define MAX_CU_MASK_BITS       1024u

/* On SOC15 the slots with (id & 0x1e0) == 0x0e0 are SDMA's. */
static bool
doorbell_reserved_for_sdma(uint32_t id)
{
   return (id & 0x1e0) == 0x0e0;
}

static uint32_t
sdma_doorbell(uint32_t slot)
{
   return slot < 32 ? 0x0e0 + slot : 0x2e0 + (slot - 32);
}

static bool
queue_active(const struct kfdsim_queue *q)
{
   return q->ring_size > 0 && q->ring_base != 0 && q->percentage > 0;
}

static bool
is_power_of_2(uint32_t v)
{
   return v && !(v & (v - 1));
}

struct kfdsim_queue *
kfdsim_queue_lookup(struct kfdsim_state *s, uint32_t queue_id)
{
   for (struct kfdsim_queue *q = s->process.queues; q; q = q->next) {
      if (q->id == queue_id)
         return q;
   }
   return NULL;
}

static int
lowest_free_queue_id(struct kfdsim_state *s, uint32_t *id)
{
   for (uint32_t candidate = 0; candidate < MAX_QUEUES_PER_PROCESS; candidate++) {
      if (!kfdsim_queue_lookup(s, candidate)) {
         *id = candidate;
         return 0;
      }
   }
   return -ENOMEM;
}

static int
allocate_doorbell(struct kfdsim_device *dev, struct kfdsim_queue *q)
{
   if (q->type == KFD_IOC_QUEUE_TYPE_SDMA || q->type == KFD_IOC_QUEUE_TYPE_SDMA_XGMI) {
      uint32_t per_engine = dev->props.num_sdma_queues_per_engine;
      uint32_t pcie = dev->props.num_sdma_engines * per_engine;
      uint32_t xgmi = dev->props.num_sdma_xgmi_engines * per_engine;
      uint32_t first = q->type == KFD_IOC_QUEUE_TYPE_SDMA ? 0 : pcie;
      uint32_t last = q->type == KFD_IOC_QUEUE_TYPE_SDMA ? pcie : pcie + xgmi;

      if (last > 32)
         last = 32;
      for (uint32_t slot = first; slot < last; slot++) {
         if (!(dev->sdma_used & (1u << slot))) {
            dev->sdma_used |= 1u << slot;
            q->sdma_slot = slot;
            q->doorbell_id = sdma_doorbell(slot);
            return 0;
         }
      }
      return -ENOMEM; /* "No more SDMA queue to allocate" */
   }
   for (uint32_t id = 0; id < KFDSIM_DOORBELL_COUNT; id++) {
      if (doorbell_reserved_for_sdma(id) ||
          (dev->doorbell_bitmap[id / 64] >> (id % 64)) & 1)
         continue;
      dev->doorbell_bitmap[id / 64] |= 1ull << (id % 64);
      q->doorbell_id = id;
      return 0;
   }
   return -EBUSY; /* "No doorbells available" */
}

static void
release_doorbell(struct kfdsim_device *dev, const struct kfdsim_queue *q)
{
   if (q->type == KFD_IOC_QUEUE_TYPE_SDMA || q->type == KFD_IOC_QUEUE_TYPE_SDMA_XGMI)
      dev->sdma_used &= ~(1u << q->sdma_slot);
   else
      dev->doorbell_bitmap[q->doorbell_id / 64] &= ~(1ull << (q->doorbell_id % 64));
}

int
kfdsim_ioctl_create_queue(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_create_queue_args *a = args;
   struct kfdsim_device *dev;
   struct kfdsim_queue *q;
   int ret;

   /* set_queue_properties_from_user() */
   if (a->queue_percentage > KFD_MAX_QUEUE_PERCENTAGE ||
       a->queue_priority > KFD_MAX_QUEUE_PRIORITY)
      return -EINVAL;
   if (a->ring_base_address && !kfdsim_access_ok(a->ring_base_address, sizeof(uint64_t)))
      return -EFAULT;
   if (a->ring_size && !is_power_of_2(a->ring_size))
      return -EINVAL;
   if (!kfdsim_access_ok(a->read_pointer_address, sizeof(uint32_t)) ||
       !kfdsim_access_ok(a->write_pointer_address, sizeof(uint32_t)))
      return -EFAULT;
   if ((a->eop_buffer_address && !kfdsim_access_ok(a->eop_buffer_address, 4)) ||
       (a->ctx_save_restore_address && !kfdsim_access_ok(a->ctx_save_restore_address, 4)))
      return -EFAULT;
   if (a->queue_type != KFD_IOC_QUEUE_TYPE_COMPUTE &&
       a->queue_type != KFD_IOC_QUEUE_TYPE_COMPUTE_AQL &&
       a->queue_type != KFD_IOC_QUEUE_TYPE_SDMA &&
       a->queue_type != KFD_IOC_QUEUE_TYPE_SDMA_XGMI)
      return -ENOTSUPP_KERNEL;

   dev = kfdsim_device_by_id(s, a->gpu_id);
   if (!dev)
      return -EINVAL;
   if (kfdsim_device_bind(dev))
      return -ESRCH;
   if (dev->queue_count >= MAX_QUEUES_PER_DEVICE)
      return -ENOSPC;

   q = calloc(1, sizeof(*q));
   if (!q)
      return -ENOMEM;
   q->gpu = (unsigned int)kfdsim_device_index(s, dev);
   q->type = a->queue_type;
   q->ring_base = a->ring_base_address;
   q->ring_size = a->ring_size;
   q->percentage = a->queue_percentage;
   q->priority = a->queue_priority;
   q->read_ptr = a->read_pointer_address;
   q->write_ptr = a->write_pointer_address;
   q->ctx_save_restore = a->ctx_save_restore_address;
   if ((ret = lowest_free_queue_id(s, &q->id)) || (ret = allocate_doorbell(dev, q))) {
      free(q);
      return ret;
   }
   q->next = s->process.queues;
   s->process.queues = q;
   dev->queue_count++;

   a->queue_id = q->id;
   /* SOC15: the slot's offset in the process doorbell page rides along. */
   a->doorbell_offset = KFDSIM_MMAP_TYPE_DOORBELL |
                        KFDSIM_MMAP_GPU_ID(dev->props.gpu_id) |
                        (uint64_t)q->doorbell_id * sizeof(uint64_t);
   return 0;
}

int
kfdsim_ioctl_destroy_queue(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_destroy_queue_args *a = args;

   for (struct kfdsim_queue **link = &s->process.queues; *link; link = &(*link)->next) {
      struct kfdsim_queue *q = *link;
      struct kfdsim_device *dev;

      if (q->id != a->queue_id)
         continue;
      dev = &s->devices[q->gpu];
      release_doorbell(dev, q);
      if (q->gws)
         dev->gws_in_use = false;
      dev->queue_count--;
      *link = q->next;
      free(q);
      return 0;
   }
   return -EINVAL; /* "Queue id does not match any known queue" */
}

int
kfdsim_ioctl_update_queue(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_update_queue_args *a = args;
   struct kfdsim_queue *q;

   if (a->queue_percentage > KFD_MAX_QUEUE_PERCENTAGE ||
       a->queue_priority > KFD_MAX_QUEUE_PRIORITY)
      return -EINVAL;
   if (a->ring_base_address && !kfdsim_access_ok(a->ring_base_address, sizeof(uint64_t)))
      return -EFAULT;
   if (a->ring_size && !is_power_of_2(a->ring_size))
      return -EINVAL;
   q = kfdsim_queue_lookup(s, a->queue_id);
   if (!q)
      return -EFAULT; /* pqm_update_queue: "No queue %d exists" */
   q->ring_base = a->ring_base_address;
   q->ring_size = a->ring_size;
   q->percentage = a->queue_percentage;
   q->priority = a->queue_priority;
   return 0;
}

int
kfdsim_ioctl_set_cu_mask(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_set_cu_mask_args *a = args;
   uint32_t bits = a->num_cu_mask;
   uint32_t *mask;
   struct kfdsim_queue *q;

   if (bits % 32 || bits == 0)
      return -EINVAL;
   /* Bits past 1024 are dropped, not refused. */
   if (bits > MAX_CU_MASK_BITS)
      bits = MAX_CU_MASK_BITS;
   mask = calloc(bits / 32, sizeof(*mask));
   if (!mask)
      return -ENOMEM;
   if (kfdsim_copy_from_user(mask, a->cu_mask_ptr, bits / 32 * sizeof(*mask))) {
      free(mask);
      return -EFAULT;
   }
   free(mask);
   q = kfdsim_queue_lookup(s, a->queue_id);
   if (!q)
      return -EFAULT;
   q->cu_mask_count = bits;
   return 0;
}

int
kfdsim_ioctl_get_queue_wave_state(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_get_queue_wave_state_args *a = args;
   struct kfdsim_queue *q = kfdsim_queue_lookup(s, a->queue_id);

   if (!q)
      return -EFAULT;
   /* Wave state exists only for a compute queue that is not running: one
    * that was made inactive (size or percentage 0), i.e. suspended.
    */
   if (q->type == KFD_IOC_QUEUE_TYPE_SDMA || q->type == KFD_IOC_QUEUE_TYPE_SDMA_XGMI ||
       queue_active(q))
      return -EINVAL;
   /* Nothing ever ran, so nothing was saved. */
   a->ctl_stack_used_size = 0;
   a->save_area_used_size = 0;
   return 0;
}

int
kfdsim_ioctl_alloc_queue_gws(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_alloc_queue_gws_args *a = args;
   struct kfdsim_queue *q = kfdsim_queue_lookup(s, a->queue_id);
   struct kfdsim_device *dev;
   int ret = 0;

   if (!q)
      return -EINVAL;
   dev = &s->devices[q->gpu];
   if (dev->props.num_gws == 0)
      return -ENODEV;
   /* One queue per process and device may hold the GWS. */
   if (a->num_gws && dev->gws_in_use)
      ret = -EBUSY;
   else if (!a->num_gws && !dev->gws_in_use)
      ret = -EINVAL;
   else if (a->num_gws) {
      dev->gws_in_use = true;
      q->gws = true;
   } else {
      dev->gws_in_use = false;
      for (struct kfdsim_queue *other = s->process.queues; other; other = other->next) {
         if (other->gpu == q->gpu)
            other->gws = false;
      }
   }
   a->first_gws = 0;
   return ret;
}
