/*
 * The test API of kfdsim.h: each entry point takes the state lock and reads
 * or pokes the emulated kernel.
 */
#include <errno.h>
#include <string.h>

#include "kfdsim_priv.h"

/* Lock and return the state if the emulator is active, else NULL. */
static struct kfdsim_state *
lock_active(void)
{
   struct kfdsim_state *s = kfdsim_state_lock();

   if (s->mode == KFDSIM_MODE_ACTIVE)
      return s;
   kfdsim_state_unlock(s);
   return NULL;
}

KFDSIM_EXPORT bool
kfdsim_active(void)
{
   struct kfdsim_state *s = lock_active();

   if (!s)
      return false;
   kfdsim_state_unlock(s);
   return true;
}

KFDSIM_EXPORT unsigned int
kfdsim_gpu_count(void)
{
   struct kfdsim_state *s = lock_active();
   unsigned int count;

   if (!s)
      return 0;
   count = s->device_count;
   kfdsim_state_unlock(s);
   return count;
}

KFDSIM_EXPORT int
kfdsim_gpu_id(unsigned int index, uint32_t *gpu_id)
{
   struct kfdsim_state *s = lock_active();
   int ret = 0;

   if (!s)
      return -ENODEV;
   if (index < s->device_count)
      *gpu_id = s->devices[index].props.gpu_id;
   else
      ret = -ERANGE;
   kfdsim_state_unlock(s);
   return ret;
}

KFDSIM_EXPORT size_t
kfdsim_log_count(void)
{
   struct kfdsim_state *s = lock_active();
   size_t count;

   if (!s)
      return 0;
   count = s->log.count;
   kfdsim_state_unlock(s);
   return count;
}

static void
fill_record(const struct kfdsim_log_entry *e, struct kfdsim_ioctl_record *rec)
{
   memset(rec, 0, sizeof(*rec));
   rec->seq = e->seq;
   rec->fd = e->fd;
   rec->request = e->request;
   rec->nr = e->nr;
   rec->arg_size = e->arg_size;
   rec->arg_copied = e->in && e->out ? e->arg_copied : 0;
   rec->arg_readable = e->arg_readable;
   if (rec->arg_copied) {
      memcpy(rec->in, e->in, rec->arg_copied);
      memcpy(rec->out, e->out, rec->arg_copied);
   }
   rec->ret = e->ret;
   rec->err = e->err;
   rec->injected = e->injected;
}

KFDSIM_EXPORT int
kfdsim_log_get(size_t index, struct kfdsim_ioctl_record *rec)
{
   struct kfdsim_state *s = lock_active();
   int ret = 0;

   if (!s)
      return -ENODEV;
   const struct kfdsim_log_entry *entry = kfdsim_log_entry_at(&s->log, index);
   if (entry)
      fill_record(entry, rec);
   else
      ret = -ERANGE;
   kfdsim_state_unlock(s);
   return ret;
}

KFDSIM_EXPORT int
kfdsim_log_find_last(unsigned int nr, struct kfdsim_ioctl_record *rec)
{
   struct kfdsim_state *s = lock_active();
   int ret = -ENOENT;

   if (!s)
      return -ENODEV;
   for (size_t i = s->log.count; i-- > 0;) {
      const struct kfdsim_log_entry *entry = kfdsim_log_entry_at(&s->log, i);
      if (entry->nr == nr) {
         fill_record(entry, rec);
         ret = 0;
         break;
      }
   }
   kfdsim_state_unlock(s);
   return ret;
}

KFDSIM_EXPORT void
kfdsim_log_clear(void)
{
   struct kfdsim_state *s = lock_active();

   if (!s)
      return;
   kfdsim_log_reset(&s->log);
   memset(s->drm_counts, 0, sizeof(s->drm_counts));
   kfdsim_state_unlock(s);
}

KFDSIM_EXPORT uint64_t
kfdsim_ioctl_count(unsigned int nr)
{
   struct kfdsim_state *s = lock_active();
   uint64_t count = 0;

   if (!s)
      return 0;
   if (nr < KFDSIM_NR_COUNT)
      count = s->log.counts[nr];
   kfdsim_state_unlock(s);
   return count;
}

KFDSIM_EXPORT uint64_t
kfdsim_drm_ioctl_count(unsigned int nr)
{
   struct kfdsim_state *s = lock_active();
   uint64_t count = 0;

   if (!s)
      return 0;
   if (nr < KFDSIM_DRM_NR_COUNT)
      count = s->drm_counts[nr];
   kfdsim_state_unlock(s);
   return count;
}

enum bo_stat {
   BO_STAT_COUNT,
   BO_STAT_BYTES,
   BO_STAT_USERPTR_COUNT,
   BO_STAT_USERPTR_BYTES,
};

static uint64_t
bo_stat(enum bo_stat stat)
{
   struct kfdsim_state *s = lock_active();
   uint64_t total = 0;

   if (!s)
      return 0;
   for (struct kfdsim_bo *bo = s->process.bos; bo; bo = bo->next) {
      bool userptr = bo->flags & KFD_IOC_ALLOC_MEM_FLAGS_USERPTR;

      if (stat == BO_STAT_COUNT || (stat == BO_STAT_USERPTR_COUNT && userptr))
         total++;
      else if (stat == BO_STAT_BYTES || (stat == BO_STAT_USERPTR_BYTES && userptr))
         total += bo->size;
   }
   kfdsim_state_unlock(s);
   return total;
}

KFDSIM_EXPORT unsigned int
kfdsim_live_bos(void)
{
   return (unsigned int)bo_stat(BO_STAT_COUNT);
}

KFDSIM_EXPORT uint64_t
kfdsim_live_bytes(void)
{
   return bo_stat(BO_STAT_BYTES);
}

KFDSIM_EXPORT unsigned int
kfdsim_userptr_count(void)
{
   return (unsigned int)bo_stat(BO_STAT_USERPTR_COUNT);
}

KFDSIM_EXPORT uint64_t
kfdsim_userptr_bytes(void)
{
   return bo_stat(BO_STAT_USERPTR_BYTES);
}

KFDSIM_EXPORT uint64_t
kfdsim_vram_used(void)
{
   struct kfdsim_state *s = lock_active();
   uint64_t used = 0;

   if (!s)
      return 0;
   for (unsigned int i = 0; i < s->device_count; i++)
      used += s->devices[i].vram_used;
   kfdsim_state_unlock(s);
   return used;
}

KFDSIM_EXPORT unsigned int
kfdsim_live_queues(void)
{
   struct kfdsim_state *s = lock_active();
   unsigned int count = 0;

   if (!s)
      return 0;
   for (struct kfdsim_queue *q = s->process.queues; q; q = q->next)
      count++;
   kfdsim_state_unlock(s);
   return count;
}

KFDSIM_EXPORT unsigned int
kfdsim_live_events(void)
{
   struct kfdsim_state *s = lock_active();
   unsigned int count = 0;

   if (!s)
      return 0;
   for (struct kfdsim_event *ev = s->process.events; ev; ev = ev->next)
      count++;
   kfdsim_state_unlock(s);
   return count;
}

KFDSIM_EXPORT unsigned int
kfdsim_kfd_fds_open(void)
{
   struct kfdsim_state *s = lock_active();
   unsigned int count = 0;

   if (!s)
      return 0;
   for (size_t i = 0; i < s->file_count; i++) {
      if (s->files[i].kind == KFDSIM_FILE_KFD && s->files[i].owner == s->process.pid)
         count++;
   }
   kfdsim_state_unlock(s);
   return count;
}

KFDSIM_EXPORT int
kfdsim_bo_find(uint64_t gpu_va, struct kfdsim_bo_info *info)
{
   struct kfdsim_state *s = lock_active();
   struct kfdsim_bo *bo;
   int ret = 0;

   if (!s)
      return -ENODEV;
   bo = kfdsim_bo_by_gpu_va(s, gpu_va, false);
   if (bo) {
      memset(info, 0, sizeof(*info));
      info->gpu_id = s->devices[bo->gpu].props.gpu_id;
      info->handle = KFDSIM_HANDLE(info->gpu_id, bo->idr);
      info->flags = bo->flags;
      info->va = bo->va;
      info->size = bo->size;
      info->cpu_addr = bo->userptr;
      if (bo->flags & (KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_GTT))
         info->mmap_offset = bo->backing;
      info->mapped_gpus = (uint32_t)__builtin_popcount(bo->mapped_mask);
   } else {
      ret = -ENOENT;
   }
   kfdsim_state_unlock(s);
   return ret;
}

KFDSIM_EXPORT int
kfdsim_queue_info(uint32_t queue_id, struct kfdsim_queue_info *info)
{
   struct kfdsim_state *s = lock_active();
   struct kfdsim_queue *q;
   int ret = 0;

   if (!s)
      return -ENODEV;
   q = kfdsim_queue_lookup(s, queue_id);
   if (q) {
      memset(info, 0, sizeof(*info));
      info->queue_id = q->id;
      info->gpu_id = s->devices[q->gpu].props.gpu_id;
      info->queue_type = q->type;
      info->doorbell_offset = q->doorbell_id * (uint32_t)sizeof(uint64_t);
      info->ring_base = q->ring_base;
      info->ring_size = q->ring_size;
      info->percentage = q->percentage;
      info->priority = q->priority;
      info->cu_mask_count = q->cu_mask_count;
      info->active = q->ring_size && q->ring_base && q->percentage;
      info->has_gws = q->gws;
   } else {
      ret = -ENOENT;
   }
   kfdsim_state_unlock(s);
   return ret;
}

KFDSIM_EXPORT int
kfdsim_gpu_read(uint64_t gpu_va, void *buf, size_t len)
{
   struct kfdsim_state *s = lock_active();
   int ret;

   if (!s)
      return -ENODEV;
   ret = kfdsim_gpu_access(s, gpu_va, buf, len, false);
   kfdsim_state_unlock(s);
   return ret;
}

KFDSIM_EXPORT int
kfdsim_gpu_write(uint64_t gpu_va, const void *buf, size_t len)
{
   struct kfdsim_state *s = lock_active();
   int ret;

   if (!s)
      return -ENODEV;
   ret = kfdsim_gpu_access(s, gpu_va, (void *)buf, len, true);
   kfdsim_state_unlock(s);
   return ret;
}

KFDSIM_EXPORT int
kfdsim_doorbell_read(uint32_t gpu_id, uint32_t offset, uint64_t *value)
{
   struct kfdsim_state *s = lock_active();
   struct kfdsim_device *dev;
   int ret;

   if (!s)
      return -ENODEV;
   dev = kfdsim_device_by_id(s, gpu_id);
   if (!dev || !dev->doorbell_page || offset % 8 || offset >= KFDSIM_DOORBELL_SLICE)
      ret = -EINVAL;
   else
      ret = kfdsim_backing_read(&s->backing, dev->doorbell_page + offset, value,
                                sizeof(*value));
   kfdsim_state_unlock(s);
   return ret;
}

KFDSIM_EXPORT int
kfdsim_signal_event(uint32_t event_id)
{
   struct kfdsim_state *s = lock_active();
   int ret;

   if (!s)
      return -ENODEV;
   ret = kfdsim_event_signal(s, event_id);
   kfdsim_trace(s, "signal event %u from the test -> %d", event_id, ret);
   kfdsim_state_unlock(s);
   return ret;
}

KFDSIM_EXPORT int
kfdsim_fail_next(unsigned int nr, unsigned int count, int err)
{
   struct kfdsim_state *s;

   if (nr >= KFDSIM_NR_COUNT || err <= 0)
      return -EINVAL;
   s = lock_active();
   if (!s)
      return -ENODEV;
   s->log.fail[nr].remaining = count;
   s->log.fail[nr].err = err;
   kfdsim_state_unlock(s);
   return 0;
}

KFDSIM_EXPORT void
kfdsim_fail_clear(void)
{
   struct kfdsim_state *s = lock_active();

   if (!s)
      return;
   memset(s->log.fail, 0, sizeof(s->log.fail));
   kfdsim_state_unlock(s);
}
