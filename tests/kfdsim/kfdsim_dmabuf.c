/*
 * dma-bufs of KFD memory: EXPORT_DMABUF (KFD 1.12), GET_DMABUF_INFO and
 * IMPORT_DMABUF, as kfd_ioctl_export_dmabuf() and amdgpu's PRIME export of a
 * KFD BO answer them.
 *
 * A VRAM or GTT BO keeps its pages in a memfd of its own; its dma-buf is a new
 * open file of that memfd (opened read-write if the BO is WRITABLE, read-only
 * otherwise, as amdgpu exports with DRM_RDWR or not). So, like a dma-buf, it
 * maps the BO at offset 0 in any process it is passed to, its size is the BO's
 * (fstat, lseek(SEEK_END)), and it keeps the pages alive after FREE_MEMORY as a
 * GEM reference would. The emulator recognises its dma-bufs by the memfd's
 * inode. Userptr BOs are refused with EPERM (amdgpu_gem_prime_export); doorbell
 * and MMIO pages, which live in the shared backing store, with EINVAL.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kfdsim_priv.h"

#define MEMORY_FLAGS (KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_GTT)

struct kfdsim_bo *
kfdsim_bo_by_memfile(struct kfdsim_state *s, dev_t dev, ino_t ino)
{
   for (struct kfdsim_bo *bo = s->process.bos; bo; bo = bo->next) {
      struct stat st;

      if (bo->mem_fd >= 0 && kfdsim_real()->fstat(bo->mem_fd, &st) == 0 &&
          st.st_ino == ino && st.st_dev == dev)
         return bo;
   }
   return NULL;
}

/* A new open file of the BO's pages; the caller gets its own file, as from
 * dma_buf_fd(). Only O_CLOEXEC of the flags matters (get_unused_fd_flags).
 */
static int
dmabuf_open(const struct kfdsim_bo *bo, uint32_t flags)
{
   char path[64];
   int mode = (bo->flags & KFDSIM_ALLOC_WRITABLE) ? O_RDWR : O_RDONLY;
   int fd;

   snprintf(path, sizeof(path), "/proc/self/fd/%d", bo->mem_fd);
   fd = kfdsim_real()->open(path, mode | (flags & O_CLOEXEC));
   return fd < 0 ? -errno : fd;
}

int
kfdsim_ioctl_export_dmabuf(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfdsim_export_dmabuf_args *a = args;
   struct kfdsim_bo *bo;
   int fd;

   if (!kfdsim_device_by_id(s, KFDSIM_HANDLE_GPU_ID(a->handle)))
      return -EINVAL;
   bo = kfdsim_bo_lookup(s, a->handle);
   if (!bo)
      return -EINVAL;
   if (bo->flags & KFD_IOC_ALLOC_MEM_FLAGS_USERPTR)
      return -EPERM; /* amdgpu never exports a userptr BO */
   if (!(bo->flags & MEMORY_FLAGS) || bo->mem_fd < 0)
      return -EINVAL;
   fd = dmabuf_open(bo, a->flags);
   if (fd < 0)
      return fd;
   a->dmabuf_fd = (uint32_t)fd;
   kfdsim_trace(s, "export dma-buf of BO 0x%llx -> fd %d", (unsigned long long)a->handle,
                fd);
   return 0;
}

/* dma_buf_get() and the amdgpu check: the BO behind an fd of ours. */
static int
dmabuf_lookup(struct kfdsim_state *s, uint32_t fd, struct kfdsim_bo **bo)
{
   struct stat st;

   if (kfdsim_real()->fstat((int)fd, &st) < 0)
      return -EBADF;
   *bo = kfdsim_state_is_memfd_dev(st.st_dev)
            ? kfdsim_bo_by_memfile(s, st.st_dev, st.st_ino)
            : NULL;
   return *bo ? 0 : -EINVAL; /* not a dma-buf, or not amdgpu's */
}

int
kfdsim_ioctl_get_dmabuf_info(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_get_dmabuf_info_args *a = args;
   struct kfdsim_bo *bo;
   int ret;

   if (s->device_count == 0)
      return -EINVAL;
   if ((ret = dmabuf_lookup(s, a->dmabuf_fd, &bo)))
      return ret;
   a->size = bo->size;
   a->gpu_id = s->devices[bo->gpu].props.gpu_id;
   /* the memory domain, and PUBLIC for CPU-visible VRAM */
   a->flags = bo->flags & (MEMORY_FLAGS | KFD_IOC_ALLOC_MEM_FLAGS_PUBLIC);
   a->metadata_size = 0; /* no GEM metadata was ever set */
   return 0;
}

int
kfdsim_ioctl_import_dmabuf(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_import_dmabuf_args *a = args;
   struct kfdsim_device *dev = kfdsim_device_by_id(s, a->gpu_id);
   struct kfdsim_bo *source, *bo;
   int ret;

   if (!dev)
      return -EINVAL;
   if ((ret = kfdsim_device_bind(dev)))
      return ret;
   if ((ret = dmabuf_lookup(s, a->dmabuf_fd, &source)))
      return ret;
   bo = calloc(1, sizeof(*bo));
   if (!bo)
      return -ENOMEM;
   bo->mem_fd = fcntl(source->mem_fd, F_DUPFD_CLOEXEC, 0);
   if (bo->mem_fd < 0) {
      ret = -errno;
      free(bo);
      return ret;
   }
   bo->gpu = (unsigned int)kfdsim_device_index(s, dev);
   bo->flags = source->flags;
   bo->va = a->va_addr;
   bo->size = source->size;
   bo->imported = true;
   ret = kfdsim_backing_alloc(&s->backing, bo->size, &bo->backing);
   if (ret) {
      kfdsim_bo_destroy(bo);
      return ret;
   }
   bo->idr = kfdsim_bo_next_idr(s, bo->gpu);
   bo->next = s->process.bos;
   s->process.bos = bo;
   a->handle = KFDSIM_HANDLE(dev->props.gpu_id, bo->idr);
   return 0;
}
