/*
 * mmap() of emulated device files.
 *
 * /dev/kfd offsets encode what to map in their top bits (kfd_mmap():
 * doorbells, the signal-event page, the CWSR area, the MMIO remap page);
 * render-node offsets name a BO (drm_gem_mmap()). Either way the emulator maps
 * the matching range of its device-memory memfd instead, so what user mode
 * writes is what kfdsim_doorbell_read() and kfdsim_gpu_read() see.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kfdsim_priv.h"

static void *
map_file(int fd, void *addr, size_t len, int prot, int flags, uint64_t start,
         bool dontfork, int *err)
{
   void *p = kfdsim_real()->mmap(addr, len, prot, flags, fd, (off_t)start);

   if (p == MAP_FAILED) {
      *err = errno;
      return MAP_FAILED;
   }
   /* KFD's own mappings are VM_DONTCOPY: a child does not inherit them. */
   if (dontfork)
      madvise(p, len, MADV_DONTFORK);
   return p;
}

static void *
mmap_kfd(struct kfdsim_state *s, const struct kfdsim_file *file, void *addr, size_t len,
         int prot, int flags, uint64_t off, int *err)
{
   uint32_t gpu_id =
      (uint32_t)((off & KFDSIM_MMAP_GPU_ID_MASK) >> KFDSIM_MMAP_GPU_ID_SHIFT);
   struct kfdsim_device *dev = gpu_id ? kfdsim_device_by_id(s, gpu_id) : NULL;
   uint64_t start;

   if (file->owner != getpid() || !s->process.exists || s->process.pid != getpid()) {
      *err = EINVAL;
      return MAP_FAILED;
   }
   switch (off & KFDSIM_MMAP_TYPE_MASK) {
   case KFDSIM_MMAP_TYPE_DOORBELL:
      if (!dev) {
         *err = ENODEV;
         return MAP_FAILED;
      }
      if (len != KFDSIM_DOORBELL_SLICE || !dev->doorbell_page) {
         *err = EINVAL;
         return MAP_FAILED;
      }
      start = dev->doorbell_page;
      break;
   case KFDSIM_MMAP_TYPE_EVENTS:
      /* kfd_event_mmap() compares page orders: 16 KiB < len <= 32 KiB. */
      if (len <= KFDSIM_EVENT_PAGE_SIZE / 2 || len > KFDSIM_EVENT_PAGE_SIZE ||
          !s->process.signal_page_set) {
         *err = EINVAL;
         return MAP_FAILED;
      }
      return map_file(s->process.signal_page_fd, addr, len, prot, flags,
                      s->process.signal_page, true, err);
   case KFDSIM_MMAP_TYPE_RESERVED_MEM:
      if (!dev) {
         *err = ENODEV;
         return MAP_FAILED;
      }
      if (len != KFDSIM_CWSR_TBA_TMA_SIZE) {
         *err = EINVAL;
         return MAP_FAILED;
      }
      if (!dev->cwsr_page &&
          kfdsim_backing_alloc(&s->backing, KFDSIM_CWSR_TBA_TMA_SIZE, &dev->cwsr_page)) {
         *err = ENOMEM;
         return MAP_FAILED;
      }
      start = dev->cwsr_page;
      break;
   default: /* KFDSIM_MMAP_TYPE_MMIO */
      if (!dev) {
         *err = ENODEV;
         return MAP_FAILED;
      }
      if (len != KFDSIM_PAGE_SIZE) {
         *err = EINVAL;
         return MAP_FAILED;
      }
      start = dev->mmio_page;
      break;
   }
   return map_file(s->backing.fd, addr, len, prot, flags, start, true, err);
}

static void *
mmap_render(struct kfdsim_state *s, const struct kfdsim_file *file, void *addr,
            size_t len, int prot, int flags, uint64_t off, int *err)
{
   struct kfdsim_bo *bo = kfdsim_bo_by_mmap_offset(s, off);
   const struct kfdsim_device *dev;

   /* Offsets are per DRM device: another GPU's BO is not found. */
   if (!bo || bo->gpu != file->gpu) {
      *err = EINVAL;
      return MAP_FAILED;
   }
   dev = &s->devices[bo->gpu];
   if (bo->flags & KFD_IOC_ALLOC_MEM_FLAGS_USERPTR) {
      *err = EPERM; /* amdgpu_gem_object_mmap() refuses userptr BOs */
      return MAP_FAILED;
   }
   if (!(bo->flags & (KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_GTT)) ||
       len > bo->size || off - bo->backing > bo->size - len) {
      *err = EINVAL;
      return MAP_FAILED;
   }
   /* drm_vma_node_is_allowed(): only the file whose VM owns the BO. */
   if (!dev->vm_acquired || file->ino != dev->drm_ino) {
      *err = EACCES;
      return MAP_FAILED;
   }
   return map_file(bo->mem_fd, addr, len, prot, flags, off - bo->backing, false, err);
}

void *
kfdsim_mmap_device(struct kfdsim_state *s, const struct kfdsim_file *file, void *addr,
                   size_t len, int prot, int flags, uint64_t off, int *err)
{
   int inject = kfdsim_log_count_and_inject(&s->log, KFDSIM_NR_MMAP);
   void *p;

   if (inject) {
      *err = inject;
      p = MAP_FAILED;
   } else if (len == 0 || (off & (KFDSIM_PAGE_SIZE - 1))) {
      *err = EINVAL;
      p = MAP_FAILED;
   } else {
      len = (len + KFDSIM_PAGE_SIZE - 1) & ~(size_t)(KFDSIM_PAGE_SIZE - 1);
      p = file->kind == KFDSIM_FILE_KFD
             ? mmap_kfd(s, file, addr, len, prot, flags, off, err)
             : mmap_render(s, file, addr, len, prot, flags, off, err);
   }
   if (p == MAP_FAILED)
      kfdsim_trace(s, "mmap %s len=0x%zx offset=0x%" PRIx64 " -> %s",
                   file->kind == KFDSIM_FILE_KFD ? "kfd" : "render", len, off,
                   strerror(*err));
   else
      kfdsim_trace(s, "mmap %s len=0x%zx offset=0x%" PRIx64 " -> %p",
                   file->kind == KFDSIM_FILE_KFD ? "kfd" : "render", len, off, p);
   return p;
}
