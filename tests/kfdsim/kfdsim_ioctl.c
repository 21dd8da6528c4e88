/*
 * The /dev/kfd ioctl entry point, shaped like amdkfd's kfd_ioctl().
 *
 * As in the kernel, only the nr of the request selects the command; the
 * direction and the argument size come from the kernel's own definition,
 * except that the caller's size decides how much is copied in and out (a
 * shorter argument is zero-extended, a longer one is accepted), and the
 * argument is copied back even when the command fails. The handlers get a
 * kernel-side copy of the argument and return 0 or -errno.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kfdsim_priv.h"

struct ioctl_desc {
   unsigned int cmd;
   const char *name;
   kfdsim_ioctl_handler handler;
   uint32_t since_minor; /* the KFD minor version that added it, 0 for older */
};

#define DESC(ioc, suffix, fn) \
   [_IOC_NR(AMDKFD_IOC_##ioc)] = { AMDKFD_IOC_##ioc, #suffix, fn, 0 }
#define DESC_SINCE(ioc, suffix, fn, minor) \
   [_IOC_NR(KFDSIM_IOC_##ioc)] = { KFDSIM_IOC_##ioc, #suffix, fn, minor }

/* The command table of a KFD 1.14 kernel; an older emulated version (KFDSIM_KFD_MINOR)
 * does not know the commands added since. */
static const struct ioctl_desc ioctls[] = {
   DESC(GET_VERSION, GET_VERSION, kfdsim_ioctl_get_version),
   DESC(CREATE_QUEUE, CREATE_QUEUE, kfdsim_ioctl_create_queue),
   DESC(DESTROY_QUEUE, DESTROY_QUEUE, kfdsim_ioctl_destroy_queue),
   DESC(SET_MEMORY_POLICY, SET_MEMORY_POLICY, kfdsim_ioctl_set_memory_policy),
   DESC(GET_CLOCK_COUNTERS, GET_CLOCK_COUNTERS, kfdsim_ioctl_get_clock_counters),
   DESC(GET_PROCESS_APERTURES, GET_PROCESS_APERTURES, kfdsim_ioctl_get_process_apertures),
   DESC(UPDATE_QUEUE, UPDATE_QUEUE, kfdsim_ioctl_update_queue),
   DESC(CREATE_EVENT, CREATE_EVENT, kfdsim_ioctl_create_event),
   DESC(DESTROY_EVENT, DESTROY_EVENT, kfdsim_ioctl_destroy_event),
   DESC(SET_EVENT, SET_EVENT, kfdsim_ioctl_set_event),
   DESC(RESET_EVENT, RESET_EVENT, kfdsim_ioctl_reset_event),
   DESC(WAIT_EVENTS, WAIT_EVENTS, kfdsim_ioctl_wait_events),
   DESC(DBG_REGISTER_DEPRECATED, DBG_REGISTER, kfdsim_ioctl_dbg_deprecated),
   DESC(DBG_UNREGISTER_DEPRECATED, DBG_UNREGISTER, kfdsim_ioctl_dbg_deprecated),
   DESC(DBG_ADDRESS_WATCH_DEPRECATED, DBG_ADDRESS_WATCH, kfdsim_ioctl_dbg_deprecated),
   DESC(DBG_WAVE_CONTROL_DEPRECATED, DBG_WAVE_CONTROL, kfdsim_ioctl_dbg_deprecated),
   DESC(SET_SCRATCH_BACKING_VA, SET_SCRATCH_BACKING_VA,
        kfdsim_ioctl_set_scratch_backing_va),
   DESC(GET_TILE_CONFIG, GET_TILE_CONFIG, kfdsim_ioctl_get_tile_config),
   DESC(SET_TRAP_HANDLER, SET_TRAP_HANDLER, kfdsim_ioctl_set_trap_handler),
   DESC(GET_PROCESS_APERTURES_NEW, GET_PROCESS_APERTURES_NEW,
        kfdsim_ioctl_get_process_apertures_new),
   DESC(ACQUIRE_VM, ACQUIRE_VM, kfdsim_ioctl_acquire_vm),
   DESC(ALLOC_MEMORY_OF_GPU, ALLOC_MEMORY_OF_GPU, kfdsim_ioctl_alloc_memory),
   DESC(FREE_MEMORY_OF_GPU, FREE_MEMORY_OF_GPU, kfdsim_ioctl_free_memory),
   DESC(MAP_MEMORY_TO_GPU, MAP_MEMORY_TO_GPU, kfdsim_ioctl_map_memory),
   DESC(UNMAP_MEMORY_FROM_GPU, UNMAP_MEMORY_FROM_GPU, kfdsim_ioctl_unmap_memory),
   DESC(SET_CU_MASK, SET_CU_MASK, kfdsim_ioctl_set_cu_mask),
   DESC(GET_QUEUE_WAVE_STATE, GET_QUEUE_WAVE_STATE, kfdsim_ioctl_get_queue_wave_state),
   DESC(GET_DMABUF_INFO, GET_DMABUF_INFO, kfdsim_ioctl_get_dmabuf_info),
   DESC(IMPORT_DMABUF, IMPORT_DMABUF, kfdsim_ioctl_import_dmabuf),
   DESC(ALLOC_QUEUE_GWS, ALLOC_QUEUE_GWS, kfdsim_ioctl_alloc_queue_gws),
   DESC(SMI_EVENTS, SMI_EVENTS, kfdsim_ioctl_smi_events),
   DESC(SVM, SVM, kfdsim_ioctl_svm),
   DESC(SET_XNACK_MODE, SET_XNACK_MODE, kfdsim_ioctl_set_xnack_mode),
   DESC(CRIU_OP, CRIU_OP, kfdsim_ioctl_criu),
   DESC(AVAILABLE_MEMORY, AVAILABLE_MEMORY, kfdsim_ioctl_available_memory),
   DESC_SINCE(EXPORT_DMABUF, EXPORT_DMABUF, kfdsim_ioctl_export_dmabuf, 12),
   DESC_SINCE(RUNTIME_ENABLE, RUNTIME_ENABLE, kfdsim_ioctl_runtime_enable, 13),
   DESC_SINCE(DBG_TRAP, DBG_TRAP, kfdsim_ioctl_dbg_trap, 13),
};

#define IOCTL_COUNT (sizeof(ioctls) / sizeof(ioctls[0]))

/* One line per call for KFDSIM_TRACE, with the fields that matter most when
 * reading a trace of product code.
 */
static void
trace_call(struct kfdsim_state *s, int fd, unsigned int nr, const void *kdata, int ret)
{
   const char *name = nr < IOCTL_COUNT && ioctls[nr].name ? ioctls[nr].name : "?";
   char detail[256] = "";

   if (s->log.trace_fd < 0)
      return;
   if (kdata && nr == _IOC_NR(AMDKFD_IOC_ALLOC_MEMORY_OF_GPU)) {
      const struct kfd_ioctl_alloc_memory_of_gpu_args *a = kdata;
      snprintf(detail, sizeof(detail),
               " gpu_id=0x%x va=0x%" PRIx64 " size=0x%" PRIx64 " flags=0x%x"
               " mmap_offset=0x%" PRIx64 " handle=0x%" PRIx64,
               a->gpu_id, (uint64_t)a->va_addr, (uint64_t)a->size, a->flags,
               (uint64_t)a->mmap_offset, (uint64_t)a->handle);
   } else if (kdata && (nr == _IOC_NR(AMDKFD_IOC_MAP_MEMORY_TO_GPU) ||
                        nr == _IOC_NR(AMDKFD_IOC_UNMAP_MEMORY_FROM_GPU))) {
      const struct kfd_ioctl_map_memory_to_gpu_args *a = kdata;
      snprintf(detail, sizeof(detail), " handle=0x%" PRIx64 " n_devices=%u n_success=%u",
               (uint64_t)a->handle, a->n_devices, a->n_success);
   } else if (kdata && nr == _IOC_NR(AMDKFD_IOC_FREE_MEMORY_OF_GPU)) {
      const struct kfd_ioctl_free_memory_of_gpu_args *a = kdata;
      snprintf(detail, sizeof(detail), " handle=0x%" PRIx64, (uint64_t)a->handle);
   } else if (kdata && nr == _IOC_NR(AMDKFD_IOC_CREATE_QUEUE)) {
      const struct kfd_ioctl_create_queue_args *a = kdata;
      snprintf(detail, sizeof(detail),
               " gpu_id=0x%x type=%u ring=0x%" PRIx64 "+0x%x queue_id=%u"
               " doorbell_offset=0x%" PRIx64,
               a->gpu_id, a->queue_type, (uint64_t)a->ring_base_address, a->ring_size,
               a->queue_id, (uint64_t)a->doorbell_offset);
   } else if (kdata && nr == _IOC_NR(AMDKFD_IOC_CREATE_EVENT)) {
      const struct kfd_ioctl_create_event_args *a = kdata;
      snprintf(detail, sizeof(detail), " type=%u auto_reset=%u event_id=%u",
               a->event_type, a->auto_reset, a->event_id);
   }
   if (ret)
      kfdsim_trace(s, "ioctl fd=%d %s (0x%02x)%s -> -1 %s", fd, name, nr, detail,
                   strerror(-ret));
   else
      kfdsim_trace(s, "ioctl fd=%d %s (0x%02x)%s -> 0", fd, name, nr, detail);
}

static void
log_arg(uint64_t arg, uint32_t copied, uint8_t **bytes, bool *readable)
{
   *bytes = NULL;
   if (!copied)
      return;
   *bytes = calloc(1, copied);
   if (*bytes && kfdsim_copy_from_user(*bytes, arg, copied))
      *readable = false;
}

int
kfdsim_ioctl_kfd(struct kfdsim_state *s, const struct kfdsim_file *file, int fd,
                 unsigned long request, uint64_t arg)
{
   unsigned int nr = _IOC_NR(request);
   uint32_t usize = _IOC_SIZE(request);
   struct kfdsim_log_entry entry = {
      .seq = s->log.next_seq++,
      .fd = fd,
      .request = request,
      .nr = nr,
      .arg_size = usize,
      .arg_copied = usize < KFDSIM_RECORD_ARG_MAX ? usize : KFDSIM_RECORD_ARG_MAX,
      .arg_readable = true,
   };
   const struct ioctl_desc *desc = NULL;
   uint8_t *kdata = NULL;
   int inject, ret;

   log_arg(arg, entry.arg_copied, &entry.in, &entry.arg_readable);

   inject = kfdsim_log_count_and_inject(&s->log, nr);
   if (inject) {
      entry.injected = true;
      ret = -inject;
      goto done;
   }
   if (nr >= IOCTL_COUNT || !ioctls[nr].handler ||
       ioctls[nr].since_minor > s->kfd_minor) {
      ret = -EINVAL;
      goto done;
   }
   desc = &ioctls[nr];
   /* Only the process that opened /dev/kfd may use the fd; a forked child
    * gets EBADF, which is how libhsakmt detects that it was forked.
    */
   if (file->owner != getpid() || !s->process.exists || s->process.pid != getpid()) {
      ret = -EBADF;
      goto done;
   }

   {
      uint32_t ksize = _IOC_SIZE(desc->cmd);
      uint32_t asize = usize > ksize ? usize : ksize;
      unsigned int dir = _IOC_DIR(desc->cmd);

      kdata = calloc(1, asize ? asize : 1);
      if (!kdata) {
         ret = -ENOMEM;
         goto done;
      }
      if ((dir & _IOC_WRITE) && kfdsim_copy_from_user(kdata, arg, usize)) {
         ret = -EFAULT;
         goto done;
      }
      ret = desc->handler(s, kdata, asize);
      if ((dir & _IOC_READ) && kfdsim_copy_to_user(arg, kdata, usize))
         ret = -EFAULT;
   }

done:
   trace_call(s, fd, nr, kdata, ret);
   free(kdata);
   entry.ret = ret ? -1 : 0;
   entry.err = ret ? -ret : 0;
   {
      bool readable = true;
      log_arg(arg, entry.arg_copied, &entry.out, &readable);
   }
   kfdsim_log_append(&s->log, &entry);
   return ret;
}
