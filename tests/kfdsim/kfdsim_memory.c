/*
 * Buffer objects: ALLOC/FREE/MAP/UNMAP_MEMORY and AVAILABLE_MEMORY, plus the
 * GPU's view of the memory they describe.
 *
 * The checks and their order follow kfd_ioctl_*_memory_of_gpu and
 * amdgpu_amdkfd_gpuvm_*: a BO belongs to the GPU it was allocated on (its
 * handle carries that gpu_id), may be mapped to any GPU whose VM was acquired,
 * occupies its VA range in a GPU's VM only while mapped there, and cannot be
 * freed while mapped. VRAM is accounted per GPU like amdgpu's KFD memory
 * limit, GTT and USERPTR against one system-memory limit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kfdsim_priv.h"

#define DOMAIN_FLAGS                                                     \
   (KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_GTT |         \
    KFD_IOC_ALLOC_MEM_FLAGS_USERPTR | KFD_IOC_ALLOC_MEM_FLAGS_DOORBELL | \
    KFD_IOC_ALLOC_MEM_FLAGS_MMIO_REMAP)

/* AVAILABLE_MEMORY reports in these units (VRAM_AVAILABLITY_ALIGN). */
#define VRAM_AVAILABILITY_ALIGN (2ull << 20)
/* VRAM amdgpu keeps for page tables (ESTIMATE_PT_SIZE). */
#define VRAM_RESERVED_MIN (8ull << 20)
/* The GPU VM ends where the 47-bit aperture libhsakmt was given ends. */
#define GPUVM_END (1ull << 47)
/* kmalloc_array() of the device-id array fails long before this. */
#define MAX_DEVICE_IDS (1u << 20)

static uint64_t
align_up(uint64_t v, uint64_t a)
{
   return (v + a - 1) & ~(a - 1);
}

static uint64_t
vram_reserved(const struct kfdsim_device *dev)
{
   uint64_t estimate = dev->props.vram_size >> 14;
   return estimate > VRAM_RESERVED_MIN ? estimate : VRAM_RESERVED_MIN;
}

static uint64_t
vram_usable(const struct kfdsim_device *dev)
{
   uint64_t reserved = vram_reserved(dev);
   return dev->props.vram_size > reserved ? dev->props.vram_size - reserved : 0;
}

/* AQL queue buffers are mapped twice, back to back, in the GPU VM. */
uint64_t
kfdsim_bo_gpu_span(const struct kfdsim_bo *bo)
{
   return bo->flags & KFD_IOC_ALLOC_MEM_FLAGS_AQL_QUEUE_MEM ? bo->size * 2 : bo->size;
}

struct kfdsim_bo *
kfdsim_bo_lookup(struct kfdsim_state *s, uint64_t handle)
{
   struct kfdsim_device *dev = kfdsim_device_by_id(s, KFDSIM_HANDLE_GPU_ID(handle));
   unsigned int gpu;

   if (!dev)
      return NULL;
   gpu = (unsigned int)kfdsim_device_index(s, dev);
   for (struct kfdsim_bo *bo = s->process.bos; bo; bo = bo->next) {
      if (bo->gpu == gpu && bo->idr == KFDSIM_HANDLE_IDR(handle))
         return bo;
   }
   return NULL;
}

struct kfdsim_bo *
kfdsim_bo_by_mmap_offset(struct kfdsim_state *s, uint64_t offset)
{
   for (struct kfdsim_bo *bo = s->process.bos; bo; bo = bo->next) {
      uint64_t size =
         bo->flags & (KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_GTT)
            ? bo->size
            : KFDSIM_PAGE_SIZE;
      if (offset >= bo->backing && offset - bo->backing < size)
         return bo;
   }
   return NULL;
}

struct kfdsim_bo *
kfdsim_bo_by_gpu_va(struct kfdsim_state *s, uint64_t gpu_va, bool mapped_only)
{
   for (struct kfdsim_bo *bo = s->process.bos; bo; bo = bo->next) {
      if (mapped_only && !bo->mapped_mask)
         continue;
      if (gpu_va >= bo->va && gpu_va - bo->va < kfdsim_bo_gpu_span(bo))
         return bo;
   }
   return NULL;
}

uint32_t
kfdsim_bo_next_idr(struct kfdsim_state *s, unsigned int gpu)
{
   uint32_t idr = 0;
   bool used;

   do {
      used = false;
      for (struct kfdsim_bo *bo = s->process.bos; bo; bo = bo->next) {
         if (bo->gpu == gpu && bo->idr == idr) {
            used = true;
            idr++;
            break;
         }
      }
   } while (used);
   return idr;
}

/* amdgpu_amdkfd_reserve_mem_limit() */
static int
reserve_memory(struct kfdsim_state *s, struct kfdsim_device *dev, uint32_t flags,
               uint64_t size)
{
   if (flags & KFD_IOC_ALLOC_MEM_FLAGS_VRAM) {
      if (size > vram_usable(dev) - dev->vram_used)
         return -ENOMEM;
      dev->vram_used += size;
      dev->vram_used_aligned += align_up(size, VRAM_AVAILABILITY_ALIGN);
   } else if (flags & (KFD_IOC_ALLOC_MEM_FLAGS_GTT | KFD_IOC_ALLOC_MEM_FLAGS_USERPTR)) {
      uint64_t used = s->process.gtt_used + s->process.userptr_used;
      if (size > s->sysmem_limit || used > s->sysmem_limit - size)
         return -ENOMEM;
      if (flags & KFD_IOC_ALLOC_MEM_FLAGS_GTT)
         s->process.gtt_used += size;
      else
         s->process.userptr_used += size;
   }
   return 0;
}

static void
unreserve_memory(struct kfdsim_state *s, struct kfdsim_device *dev, uint32_t flags,
                 uint64_t size)
{
   if (flags & KFD_IOC_ALLOC_MEM_FLAGS_VRAM) {
      dev->vram_used -= size;
      dev->vram_used_aligned -= align_up(size, VRAM_AVAILABILITY_ALIGN);
   } else if (flags & KFD_IOC_ALLOC_MEM_FLAGS_GTT) {
      s->process.gtt_used -= size;
   } else if (flags & KFD_IOC_ALLOC_MEM_FLAGS_USERPTR) {
      s->process.userptr_used -= size;
   }
}

int
kfdsim_ioctl_alloc_memory(struct kfdsim_state *s, void *args, uint32_t args_size)
{
   struct kfd_ioctl_alloc_memory_of_gpu_args *a = args;
   struct kfdsim_device *dev;
   struct kfdsim_bo *bo;
   uint32_t flags = a->flags;
   uint32_t domain = flags & DOMAIN_FLAGS;
   uint64_t size;
   int ret;

   if (a->size == 0)
      return -EINVAL;
   if (kfdsim_svm_overlaps(s, a->va_addr, a->size))
      return -EADDRINUSE;
   dev = kfdsim_device_by_id(s, a->gpu_id);
   if (!dev)
      return -EINVAL;
   if ((flags & KFD_IOC_ALLOC_MEM_FLAGS_PUBLIC) &&
       (flags & KFD_IOC_ALLOC_MEM_FLAGS_VRAM) && !dev->props.large_bar)
      return -EINVAL;
   /* amdkfd binds the process to the device (ENODEV before ACQUIRE_VM) before it
    * looks at the size of a doorbell or MMIO-remap allocation */
   if ((ret = kfdsim_device_bind(dev)))
      return ret;
   if ((flags & KFD_IOC_ALLOC_MEM_FLAGS_DOORBELL) && a->size != KFDSIM_DOORBELL_SLICE)
      return -EINVAL;
   if ((flags & KFD_IOC_ALLOC_MEM_FLAGS_MMIO_REMAP) && a->size != KFDSIM_PAGE_SIZE)
      return -EINVAL;
   /* amdkfd picks the first of VRAM, GTT, other in that order and ignores
    * the rest; a combination is always a caller bug, so refuse it.
    */
   if (domain == 0 || (domain & (domain - 1)))
      return -EINVAL;
   if (a->size > GPUVM_END)
      return -ENOMEM;
   size = align_up(a->size, KFDSIM_PAGE_SIZE);
   if (domain == KFD_IOC_ALLOC_MEM_FLAGS_USERPTR) {
      /* The CPU address comes in mmap_offset; libhsakmt page-aligns it. */
      if (a->mmap_offset == 0 || (a->mmap_offset & (KFDSIM_PAGE_SIZE - 1)))
         return -EINVAL;
   }

   bo = calloc(1, sizeof(*bo));
   if (!bo)
      return -ENOMEM;
   bo->mem_fd = -1;
   bo->gpu = (unsigned int)kfdsim_device_index(s, dev);
   bo->flags = flags;
   bo->va = a->va_addr;
   bo->size = size;

   ret = reserve_memory(s, dev, flags, size);
   if (ret)
      goto err_free;
   if (domain == KFD_IOC_ALLOC_MEM_FLAGS_USERPTR) {
      /* init_user_pages(): get_user_pages over the whole range. */
      ret = kfdsim_user_range_pinnable(s, a->mmap_offset, size,
                                       flags & KFDSIM_ALLOC_WRITABLE);
      if (ret)
         goto err_unreserve;
      bo->userptr = a->mmap_offset;
   }
   /* Every BO gets a render-node mmap offset; only VRAM and GTT get pages, in a
    * memory file of their own (what a dma-buf export hands out). */
   if (domain & (KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_GTT)) {
      ret = kfdsim_bo_memfile_create(size, &bo->mem_fd);
      if (ret)
         goto err_unreserve;
   }
   ret = kfdsim_backing_alloc(
      &s->backing,
      domain & (KFD_IOC_ALLOC_MEM_FLAGS_VRAM | KFD_IOC_ALLOC_MEM_FLAGS_GTT)
         ? size
         : KFDSIM_PAGE_SIZE,
      &bo->backing);
   if (ret)
      goto err_unreserve;

   bo->idr = kfdsim_bo_next_idr(s, bo->gpu);
   bo->next = s->process.bos;
   s->process.bos = bo;

   a->handle = KFDSIM_HANDLE(dev->props.gpu_id, bo->idr);
   a->mmap_offset = bo->backing;
   if (domain == KFD_IOC_ALLOC_MEM_FLAGS_MMIO_REMAP)
      a->mmap_offset = KFDSIM_MMAP_TYPE_MMIO | KFDSIM_MMAP_GPU_ID(dev->props.gpu_id);
   return 0;

err_unreserve:
   unreserve_memory(s, dev, flags, size);
err_free:
   kfdsim_bo_destroy(bo);
   return ret;
}

int
kfdsim_bo_memfile_create(uint64_t size, int *fd)
{
   /* the name marks its mappings as device mappings (kfdsim_usermem.c) */
   *fd = memfd_create("kfdsim-device-memory", MFD_CLOEXEC);
   if (*fd < 0)
      return -errno;
   if (ftruncate(*fd, (off_t)size) < 0) {
      int err = -errno;
      kfdsim_real()->close(*fd);
      *fd = -1;
      return err;
   }
   return 0;
}

void
kfdsim_bo_destroy(struct kfdsim_bo *bo)
{
   /* a dma-buf exported from it keeps the pages alive, as a GEM reference does */
   if (bo->mem_fd >= 0)
      kfdsim_real()->close(bo->mem_fd);
   free(bo);
}

static void
unlink_bo(struct kfdsim_state *s, struct kfdsim_bo *bo)
{
   for (struct kfdsim_bo **link = &s->process.bos; *link; link = &(*link)->next) {
      if (*link == bo) {
         *link = bo->next;
         return;
      }
   }
}

int
kfdsim_ioctl_free_memory(struct kfdsim_state *s, void *args, uint32_t args_size)
{
   struct kfd_ioctl_free_memory_of_gpu_args *a = args;
   struct kfdsim_device *dev = kfdsim_device_by_id(s, KFDSIM_HANDLE_GPU_ID(a->handle));
   struct kfdsim_bo *bo;

   if (!dev)
      return -EINVAL;
   bo = kfdsim_bo_lookup(s, a->handle);
   if (!bo)
      return -EINVAL;
   if (s->process.signal_page_set && !s->process.signal_page_kernel &&
       s->process.signal_page_handle == a->handle)
      return -EPERM;
   if (bo->mapped_mask)
      return -EBUSY;

   /* an import shares the exporter's pages and was never charged for them */
   if (!bo->imported)
      unreserve_memory(s, dev, bo->flags, bo->size);
   kfdsim_backing_free(&s->backing, bo->backing);
   unlink_bo(s, bo);
   kfdsim_bo_destroy(bo);
   return 0;
}

/* Common argument checks of MAP and UNMAP; copies the device array in. */
static int
map_args(struct kfdsim_state *s, struct kfd_ioctl_map_memory_to_gpu_args *a,
         struct kfdsim_device **dev, uint32_t **ids)
{
   *dev = kfdsim_device_by_id(s, KFDSIM_HANDLE_GPU_ID(a->handle));
   if (!*dev)
      return -EINVAL;
   if (a->n_devices == 0 || a->n_success > a->n_devices)
      return -EINVAL;
   if (a->n_devices > MAX_DEVICE_IDS)
      return -ENOMEM;
   *ids = calloc(a->n_devices, sizeof(**ids));
   if (!*ids)
      return -ENOMEM;
   if (kfdsim_copy_from_user(*ids, a->device_ids_array_ptr,
                             a->n_devices * sizeof(**ids))) {
      free(*ids);
      return -EFAULT;
   }
   return 0;
}

/* amdgpu_vm_bo_map(): the range must be page aligned, inside the VM, and
 * free in this GPU's VM.
 */
static int
map_bo_on(struct kfdsim_state *s, struct kfdsim_bo *bo, unsigned int gpu)
{
   uint64_t span = kfdsim_bo_gpu_span(bo);

   if (bo->mapped_mask & (1u << gpu))
      return 0;
   if ((bo->va & (KFDSIM_PAGE_SIZE - 1)) || bo->va >= GPUVM_END ||
       span > GPUVM_END - bo->va)
      return -EINVAL;
   for (struct kfdsim_bo *other = s->process.bos; other; other = other->next) {
      if (other == bo || !(other->mapped_mask & (1u << gpu)))
         continue;
      if (bo->va < other->va + kfdsim_bo_gpu_span(other) && other->va < bo->va + span)
         return -EINVAL;
   }
   bo->mapped_mask |= 1u << gpu;
   return 0;
}

int
kfdsim_ioctl_map_memory(struct kfdsim_state *s, void *args, uint32_t args_size)
{
   struct kfd_ioctl_map_memory_to_gpu_args *a = args;
   struct kfdsim_device *dev;
   struct kfdsim_bo *bo;
   uint32_t *ids;
   int ret;

   if ((ret = map_args(s, a, &dev, &ids)))
      return ret;
   if ((ret = kfdsim_device_bind(dev)))
      goto out;
   bo = kfdsim_bo_lookup(s, a->handle);
   if (!bo) {
      ret = -ENOMEM;
      goto out;
   }
   for (uint32_t i = a->n_success; i < a->n_devices; i++) {
      struct kfdsim_device *peer = kfdsim_device_by_id(s, ids[i]);

      if (!peer) {
         ret = -EINVAL;
         goto out;
      }
      if ((ret = kfdsim_device_bind(peer)))
         goto out;
      if ((ret = map_bo_on(s, bo, (unsigned int)kfdsim_device_index(s, peer))))
         goto out;
      a->n_success = i + 1;
   }
out:
   free(ids);
   return ret;
}

int
kfdsim_ioctl_unmap_memory(struct kfdsim_state *s, void *args, uint32_t args_size)
{
   struct kfd_ioctl_unmap_memory_from_gpu_args *a = args;
   struct kfdsim_device *dev;
   struct kfdsim_bo *bo;
   uint32_t *ids;
   int ret;

   if ((ret = map_args(s, (struct kfd_ioctl_map_memory_to_gpu_args *)a, &dev, &ids)))
      return ret;
   bo = kfdsim_bo_lookup(s, a->handle);
   if (!bo) {
      ret = -ENOMEM;
      goto out;
   }
   for (uint32_t i = a->n_success; i < a->n_devices; i++) {
      struct kfdsim_device *peer = kfdsim_device_by_id(s, ids[i]);
      unsigned int gpu;

      if (!peer) {
         ret = -EINVAL;
         goto out;
      }
      gpu = (unsigned int)kfdsim_device_index(s, peer);
      /* "If no VMs were reserved, it means the BO wasn't actually mapped" */
      if (!(bo->mapped_mask & (1u << gpu))) {
         ret = -EINVAL;
         goto out;
      }
      bo->mapped_mask &= ~(1u << gpu);
      a->n_success = i + 1;
   }
out:
   free(ids);
   return ret;
}

int
kfdsim_ioctl_available_memory(struct kfdsim_state *s, void *args, uint32_t args_size)
{
   struct kfd_ioctl_get_available_memory_args *a = args;
   struct kfdsim_device *dev = kfdsim_device_by_id(s, a->gpu_id);
   uint64_t usable;

   if (!dev)
      return -EINVAL;
   usable = vram_usable(dev);
   a->available = usable > dev->vram_used_aligned
                     ? (usable - dev->vram_used_aligned) & ~(VRAM_AVAILABILITY_ALIGN - 1)
                     : 0;
   return 0;
}

/* One BO's part of a GPU access: [offset, offset+len) within its memory. */
static int
access_bo(struct kfdsim_state *s, const struct kfdsim_bo *bo, uint64_t offset, void *buf,
          size_t len, bool write)
{
   const struct kfdsim_device *dev = &s->devices[bo->gpu];
   uint64_t base;

   if (write && !(bo->flags & KFDSIM_ALLOC_WRITABLE))
      return -EFAULT; /* read-only GPU mapping */
   if (bo->flags & KFD_IOC_ALLOC_MEM_FLAGS_USERPTR) {
      /* The pages behind the CPU range, reached the way the kernel reaches
       * pinned user memory, not through a CPU pointer of ours.
       */
      return write ? kfdsim_copy_to_user(bo->userptr + offset, buf, len)
                   : kfdsim_copy_from_user(buf, bo->userptr + offset, len);
   }
   if (bo->mem_fd >= 0)
      return write ? kfdsim_memfile_write(bo->mem_fd, offset, buf, len)
                   : kfdsim_memfile_read(bo->mem_fd, offset, buf, len);
   if (bo->flags & KFD_IOC_ALLOC_MEM_FLAGS_DOORBELL)
      base = dev->doorbell_page;
   else
      base = dev->mmio_page;
   return write ? kfdsim_backing_write(&s->backing, base + offset, buf, len)
                : kfdsim_backing_read(&s->backing, base + offset, buf, len);
}

int
kfdsim_gpu_access(struct kfdsim_state *s, uint64_t gpu_va, void *buf, size_t len,
                  bool write)
{
   uint8_t *p = buf;

   if (gpu_va + len < gpu_va)
      return -EFAULT;
   while (len) {
      struct kfdsim_bo *bo = kfdsim_bo_by_gpu_va(s, gpu_va, true);
      uint64_t offset, chunk;
      int ret;

      if (!bo)
         return -EFAULT;
      /* The second half of an AQL double map shows the first again. */
      offset = (gpu_va - bo->va) % bo->size;
      chunk = bo->size - offset;
      if (chunk > len)
         chunk = len;
      ret = access_bo(s, bo, offset, p, (size_t)chunk, write);
      if (ret)
         return ret;
      p += chunk;
      gpu_va += chunk;
      len -= (size_t)chunk;
   }
   return 0;
}
