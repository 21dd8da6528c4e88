/*
 * The small /dev/kfd commands: version, apertures, VM acquisition, policies,
 * clocks, tiling, scratch and trap handler, runtime enable, and the ones the
 * emulator only refuses (deprecated and current debugger, SMI, CRIU).
 *
 * Each handler checks its arguments in the order amdkfd does, so the errno a
 * caller sees for a given mistake is the kernel's.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kfdsim_priv.h"

/* Apertures of a gfx9+ dGPU (kfd_init_apertures_v9): LDS and scratch in
 * non-canonical space, GPUVM from the end of the kernel-reserved low area up
 * to the 47-bit limit, which puts libhsakmt 5.2.3 in its mmap-aperture mode.
 */
#define LDS_BASE             (1ull << 48)
#define SCRATCH_BASE         (2ull << 48)
#define APERTURE_LIMIT(base) (((base)&0xffffffff00000000ull) | 0xffffffffull)
#define GPUVM_BASE           0x1000000ull
#define GPUVM_LIMIT          ((1ull << 47) - 1)

int
kfdsim_device_bind(struct kfdsim_device *dev)
{
   return dev->vm_acquired ? 0 : -ENODEV;
}

int
kfdsim_ioctl_get_version(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_get_version_args *a = args;

   a->major_version = KFD_IOCTL_MAJOR_VERSION;
   a->minor_version = s->kfd_minor;
   return 0;
}

static void
fill_apertures(const struct kfdsim_device *dev, struct kfd_process_device_apertures *ap)
{
   memset(ap, 0, sizeof(*ap));
   ap->gpu_id = dev->props.gpu_id;
   ap->lds_base = LDS_BASE;
   ap->lds_limit = APERTURE_LIMIT(LDS_BASE);
   ap->scratch_base = SCRATCH_BASE;
   ap->scratch_limit = APERTURE_LIMIT(SCRATCH_BASE);
   ap->gpuvm_base = GPUVM_BASE;
   ap->gpuvm_limit = GPUVM_LIMIT;
}

int
kfdsim_ioctl_get_process_apertures(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_get_process_apertures_args *a = args;

   a->num_of_nodes = 0;
   for (unsigned int i = 0; i < s->device_count && i < NUM_OF_SUPPORTED_GPUS; i++) {
      fill_apertures(&s->devices[i], &a->process_apertures[i]);
      a->num_of_nodes++;
   }
   return 0;
}

int
kfdsim_ioctl_get_process_apertures_new(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_get_process_apertures_new_args *a = args;
   struct kfd_process_device_apertures ap;
   uint32_t nodes = 0;

   /* A count of 0 asks how many entries to allocate. */
   if (a->num_of_nodes == 0) {
      a->num_of_nodes = s->device_count;
      return 0;
   }
   while (nodes < s->device_count && nodes < a->num_of_nodes) {
      fill_apertures(&s->devices[nodes], &ap);
      if (kfdsim_copy_to_user(a->kfd_process_device_apertures_ptr + nodes * sizeof(ap),
                              &ap, sizeof(ap)))
         return -EFAULT;
      nodes++;
   }
   a->num_of_nodes = nodes;
   return 0;
}

int
kfdsim_ioctl_acquire_vm(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_acquire_vm_args *a = args;
   struct kfdsim_device *dev = kfdsim_device_by_id(s, a->gpu_id);
   struct kfdsim_file *drm;

   if (!dev)
      return -EINVAL;
   /* fget() */
   if (fcntl((int)a->drm_fd, F_GETFD) < 0)
      return -EINVAL;
   drm = kfdsim_file_lookup(s, (int)a->drm_fd);
   if (dev->vm_acquired)
      return drm && drm->ino == dev->drm_ino ? 0 : -EBUSY;
   /* amdgpu_file_to_fpriv(): it must be an amdgpu DRM file. amdkfd does not
    * check that it is this GPU's; a render node of another GPU would bind
    * the wrong VM, so the emulator refuses it too.
    */
   if (!drm || drm->kind != KFDSIM_FILE_RENDER ||
       drm->gpu != (unsigned int)kfdsim_device_index(s, dev))
      return -EINVAL;
   dev->vm_acquired = true;
   dev->drm_ino = drm->ino;
   return 0;
}

int
kfdsim_ioctl_set_memory_policy(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_set_memory_policy_args *a = args;
   struct kfdsim_device *dev;

   if (a->default_policy != KFD_IOC_CACHE_POLICY_COHERENT &&
       a->default_policy != KFD_IOC_CACHE_POLICY_NONCOHERENT)
      return -EINVAL;
   if (a->alternate_policy != KFD_IOC_CACHE_POLICY_COHERENT &&
       a->alternate_policy != KFD_IOC_CACHE_POLICY_NONCOHERENT)
      return -EINVAL;
   dev = kfdsim_device_by_id(s, a->gpu_id);
   if (!dev)
      return -EINVAL;
   if (kfdsim_device_bind(dev))
      return -ESRCH;
   /* gfx9+ has no APE1 aperture to program: nothing else to check. */
   return 0;
}

static uint64_t
clock_ns(clockid_t clock)
{
   struct timespec ts;

   clock_gettime(clock, &ts);
   return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int
kfdsim_ioctl_get_clock_counters(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_get_clock_counters_args *a = args;

   /* An unknown gpu_id is not an error: the GPU counter reads 0. The
    * emulated GPU counter runs at 100 MHz.
    */
   a->gpu_clock_counter =
      kfdsim_device_by_id(s, a->gpu_id) ? clock_ns(CLOCK_MONOTONIC_RAW) / 10 : 0;
   a->cpu_clock_counter = clock_ns(CLOCK_MONOTONIC_RAW);
   a->system_clock_counter = clock_ns(CLOCK_BOOTTIME);
   a->system_clock_freq = 1000000000ull;
   return 0;
}

int
kfdsim_ioctl_set_scratch_backing_va(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_set_scratch_backing_va_args *a = args;
   struct kfdsim_device *dev = kfdsim_device_by_id(s, a->gpu_id);
   int ret;

   if (!dev)
      return -EINVAL;
   if ((ret = kfdsim_device_bind(dev)))
      return ret;
   dev->scratch_va = a->va_addr;
   return 0;
}

int
kfdsim_ioctl_get_tile_config(struct kfdsim_state *s, void *args, uint32_t size)
{
   /* gfx9+ no longer has tiling tables: amdgpu reports its (zeroed) 32 tile
    * and 16 macro-tile entries, no banks or ranks, and GB_ADDR_CONFIG.
    */
   static const uint32_t zeroes[32];
   struct kfd_ioctl_get_tile_config_args *a = args;
   struct kfdsim_device *dev = kfdsim_device_by_id(s, a->gpu_id);

   if (!dev)
      return -EINVAL;
   a->gb_addr_config = kfdsim_gb_addr_config(&dev->props);
   a->num_banks = 0;
   a->num_ranks = 0;
   if (a->num_tile_configs > 32)
      a->num_tile_configs = 32;
   if (kfdsim_copy_to_user(a->tile_config_ptr, zeroes, a->num_tile_configs * 4ull)) {
      a->num_tile_configs = 0;
      return -EFAULT;
   }
   if (a->num_macro_tile_configs > 16)
      a->num_macro_tile_configs = 16;
   if (kfdsim_copy_to_user(a->macro_tile_config_ptr, zeroes,
                           a->num_macro_tile_configs * 4ull)) {
      a->num_macro_tile_configs = 0;
      return -EFAULT;
   }
   return 0;
}

int
kfdsim_ioctl_set_trap_handler(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_set_trap_handler_args *a = args;
   struct kfdsim_device *dev = kfdsim_device_by_id(s, a->gpu_id);

   if (!dev)
      return -EINVAL;
   if (kfdsim_device_bind(dev))
      return -ESRCH;
   dev->tba_addr = a->tba_addr;
   dev->tma_addr = a->tma_addr;
   return 0;
}

/* The pre-5.x debugger interface is stubbed out in current kernels. */
int
kfdsim_ioctl_dbg_deprecated(struct kfdsim_state *s, void *args, uint32_t size)
{
   return -EPERM;
}

int
kfdsim_ioctl_smi_events(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_smi_events_args *a = args;

   if (!kfdsim_device_by_id(s, a->gpuid))
      return -EINVAL;
   /* Not emulated: there is no system-management event source. */
   return -EOPNOTSUPP;
}

int
kfdsim_ioctl_criu(struct kfdsim_state *s, void *args, uint32_t size)
{
   /* CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN, approximated by root. */
   if (geteuid() != 0)
      return -EACCES;
   /* Not emulated. */
   return -EOPNOTSUPP;
}

/* runtime_enable()/runtime_disable() of amdkfd (KFD 1.13): once per process, before
 * any queue. The upstream kernel leaves capabilities_mask as user mode passed it;
 * KFDSIM_RUNTIME_CAPS makes it report a mask, as a driver with core-dump support
 * does (KFD_RUNTIME_ENABLE_CAPS_SUPPORTS_CORE_DUMP_MASK, 0x80000000).
 */
int
kfdsim_ioctl_runtime_enable(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfdsim_runtime_enable_args *a = args;

   if (!(a->mode_mask & KFDSIM_RUNTIME_ENABLE_MODE_ENABLE)) {
      s->process.runtime_enabled = false;
      return 0;
   }
   if (s->process.runtime_enabled)
      return -EBUSY;
   if (s->process.queues)
      return -EEXIST;
   s->process.runtime_enabled = true;
   if (s->runtime_caps_set)
      a->capabilities_mask = s->runtime_caps;
   return 0;
}

/* The debugger (KFD 1.13) acts on a process it has ptrace-attached; the emulator
 * has no model of that.
 */
int
kfdsim_ioctl_dbg_trap(struct kfdsim_state *s, void *args, uint32_t size)
{
   kfdsim_trace(s, "DBG_TRAP is not emulated");
   return -EOPNOTSUPP;
}
