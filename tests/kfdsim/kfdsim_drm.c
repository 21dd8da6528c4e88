/*
 * The DRM side of an emulated GPU's render node, shaped like drm_ioctl() with
 * amdgpu's driver table.
 *
 * libdrm_amdgpu's amdgpu_device_initialize() (called by libhsakmt 6.x on its own
 * render fd, and by libhsakmt 5.2.3 and virtkfd's GPU_INFO on one they open
 * through libdrm) asks the render node for the DRM version, whether
 * acceleration works, the device info and GB_ADDR_CONFIG. Those are answered
 * from the emulated GPU's properties. The rest follows the kernel's rules, so a
 * caller that asks for something else gets the kernel's refusal:
 *
 * - an ioctl whose type is not 'd' is ENOTTY;
 * - core ioctls without DRM_RENDER_ALLOW are EACCES on a render node (auth and
 *   magic, client, master and mode-setting calls);
 * - an nr with no handler, in the core or the driver range, is EINVAL;
 * - as in drm_ioctl(), the caller's size decides how much is copied in (zero
 *   extended) and out; a bad pointer is EFAULT;
 * - AMDGPU_INFO checks return_pointer and return_size, refuses unknown queries
 *   (EINVAL) and registers outside amdgpu's read whitelist (EFAULT), and
 *   copies at most return_size bytes of each answer.
 *
 * Requests the kernel would serve but the emulator has no model for (GEM
 * objects, command submission, sync objects, most AMDGPU_INFO queries) fail
 * with EOPNOTSUPP and a trace line, so that a test relying on them fails
 * visibly instead of seeing an invented answer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <amdgpu_drm.h>
#include <drm.h>

#include "kfdsim_priv.h"

/* DRM 3.54, the amdgpu of the kernels that report KFD 1.14 (Linux 6.5, 6.6). */
#define KFDSIM_DRM_MAJOR 3
#define KFDSIM_DRM_MINOR 54

/* Families newer than libdrm 2.4.114's amdgpu_drm.h. */
#ifndef AMDGPU_FAMILY_GC_11_0_0
#define AMDGPU_FAMILY_GC_11_0_0 145
#endif

/* GB_ADDR_CONFIG, at the dword offset amdgpu's register whitelist has it on every
 * gfx9+ ASIC (GC base 0x2000 + 0x63e); libdrm reads it at initialisation.
 */
#define MM_GB_ADDR_CONFIG 0x263e

/* AMDGPU_GFX_MAX_SE / AMDGPU_GFX_MAX_SH_PER_SE: bounds of READ_MMR_REG instances. */
#define MAX_SE        8
#define MAX_SH_PER_SE 2

/* drm_ioctl_desc flags the emulator needs. */
#define RENDER_ALLOW 1u
#define NOT_EMULATED 2u /* the kernel serves it; the emulator has no model */
#define NO_RENDER    4u /* exists without DRM_RENDER_ALLOW: EACCES here */

typedef int (*drm_handler)(struct kfdsim_state *s, const struct kfdsim_file *file,
                           void *args);

struct drm_desc {
   unsigned int cmd; /* the kernel's request code: direction and size */
   const char *name;
   unsigned int flags;
   drm_handler handler;
};

uint32_t
kfdsim_gb_addr_config(const struct kfdsim_gpu_props *props)
{
   return props->gfx_version >= 100000 ? 0x00000444u : 0x2a114042u;
}

uint32_t
kfdsim_amdgpu_family(uint32_t gfx_version)
{
   if (gfx_version >= 110000)
      return AMDGPU_FAMILY_GC_11_0_0;
   if (gfx_version >= 100000)
      return AMDGPU_FAMILY_NV;
   return AMDGPU_FAMILY_AI;
}

/* drm_copy_field(): the full length goes back, at most the buffer's worth of
 * bytes is copied.
 */
static int
copy_field(uint64_t buf, __kernel_size_t *buf_len, const char *value)
{
   size_t len = strlen(value);
   size_t n = len < *buf_len ? len : *buf_len;

   *buf_len = len;
   if (n && buf && kfdsim_copy_to_user(buf, value, n))
      return -EFAULT;
   return 0;
}

static int
drm_version(struct kfdsim_state *s, const struct kfdsim_file *file, void *args)
{
   struct drm_version *v = args;
   int ret;

   v->version_major = KFDSIM_DRM_MAJOR;
   v->version_minor = KFDSIM_DRM_MINOR;
   v->version_patchlevel = 0;
   ret = copy_field((uint64_t)(uintptr_t)v->name, &v->name_len, "amdgpu");
   if (!ret)
      ret = copy_field((uint64_t)(uintptr_t)v->date, &v->date_len, "20150101");
   if (!ret)
      ret = copy_field((uint64_t)(uintptr_t)v->desc, &v->desc_len, "AMD GPU");
   return ret;
}

static int
drm_get_cap(struct kfdsim_state *s, const struct kfdsim_file *file, void *args)
{
   struct drm_get_cap *cap = args;

   switch (cap->capability) {
   case DRM_CAP_PRIME:
      cap->value = DRM_PRIME_CAP_IMPORT | DRM_PRIME_CAP_EXPORT;
      return 0;
   case DRM_CAP_SYNCOBJ:
   case DRM_CAP_SYNCOBJ_TIMELINE:
      cap->value = 1;
      return 0;
   default:
      return -EINVAL;
   }
}

static int
drm_gem_close(struct kfdsim_state *s, const struct kfdsim_file *file, void *args)
{
   /* the emulated render node never creates a GEM handle */
   return -EINVAL;
}

static int
copy_answer(uint64_t out, uint32_t size, const void *value, size_t value_size)
{
   size_t n = size < value_size ? size : value_size;
   return kfdsim_copy_to_user(out, value, n) ? -EFAULT : 0;
}

static void
fill_dev_info(const struct kfdsim_device *dev, struct drm_amdgpu_info_device *info)
{
   const struct kfdsim_gpu_props *p = &dev->props;
   uint32_t se = p->shader_engines ? p->shader_engines : 1;
   uint32_t sh = p->arrays_per_engine ? p->arrays_per_engine : 1;
   uint32_t per_sh = p->cu_count / (se * sh);

   memset(info, 0, sizeof(*info));
   info->device_id = p->device_id;
   info->pci_rev = p->pci_rev;
   info->external_rev = p->pci_rev;
   info->family = kfdsim_amdgpu_family(p->gfx_version);
   info->num_shader_engines = se;
   info->num_shader_arrays_per_engine = sh;
   info->gpu_counter_freq = 100000; /* kHz, as GET_CLOCK_COUNTERS counts */
   info->max_engine_clock = (uint64_t)p->engine_clk_mhz * 1000;
   info->max_memory_clock = (uint64_t)p->mem_clk_mhz * 1000;
   info->cu_active_number = p->cu_count;
   for (uint32_t i = 0; i < se && i < 4; i++) {
      for (uint32_t j = 0; j < sh && j < 4; j++) {
         uint32_t bits = per_sh >= 32 ? 0xffffffffu : (1u << per_sh) - 1;
         info->cu_bitmap[i][j] = bits;
         info->cu_ao_bitmap[i][j] = bits & 0x3u;
      }
   }
   info->cu_ao_mask = 0x3u;
   info->num_rb_pipes = se * 4;
   info->enabled_rb_pipes_mask =
      info->num_rb_pipes >= 32 ? 0xffffffffu : (1u << info->num_rb_pipes) - 1;
   info->num_hw_gfx_contexts = 8;
   info->ids_flags = AMDGPU_IDS_FLAGS_PREEMPTION;
   /* the GPU VM of a gfx9+ device: 48 bits, split by the hole at 2^47 */
   info->virtual_address_offset = 2ull << 20;
   info->virtual_address_max = 1ull << 47;
   info->virtual_address_alignment = KFDSIM_PAGE_SIZE;
   info->pte_fragment_size = 2u << 20;
   info->gart_page_size = KFDSIM_PAGE_SIZE;
   info->high_va_offset = 0xffff800000000000ull;
   info->high_va_max = 0xffff800000000000ull + (1ull << 47);
   info->vram_type =
      p->gfx_version >= 100000 ? AMDGPU_VRAM_TYPE_GDDR6 : AMDGPU_VRAM_TYPE_HBM;
   info->vram_bit_width = p->mem_width;
   info->wave_front_size = p->wave_front_size;
   info->num_shader_visible_vgprs = 256;
   info->num_cu_per_sh = per_sh;
   info->num_tcc_blocks = 16;
}

static int
info_read_register(const struct kfdsim_device *dev, const struct drm_amdgpu_info *info,
                   uint64_t out, uint32_t size)
{
   uint32_t se = info->read_mmr_reg.instance & AMDGPU_INFO_MMR_SE_INDEX_MASK;
   uint32_t sh = (info->read_mmr_reg.instance >> AMDGPU_INFO_MMR_SH_INDEX_SHIFT) &
                 AMDGPU_INFO_MMR_SH_INDEX_MASK;
   uint32_t regs[128];
   uint32_t count = info->read_mmr_reg.count;

   if ((se != AMDGPU_INFO_MMR_SE_INDEX_MASK && se >= MAX_SE) ||
       (sh != AMDGPU_INFO_MMR_SH_INDEX_MASK && sh >= MAX_SH_PER_SE) || count > 128)
      return -EINVAL;
   for (uint32_t i = 0; i < count; i++) {
      /* amdgpu_asic_read_register() answers its whitelist only */
      if (info->read_mmr_reg.dword_offset + i != MM_GB_ADDR_CONFIG)
         return -EFAULT;
      regs[i] = kfdsim_gb_addr_config(&dev->props);
   }
   return copy_answer(out, size, regs, count * sizeof(uint32_t));
}

static int
drm_amdgpu_info(struct kfdsim_state *s, const struct kfdsim_file *file, void *args)
{
   const struct drm_amdgpu_info *info = args;
   const struct kfdsim_device *dev = &s->devices[file->gpu];
   uint64_t out = info->return_pointer;
   uint32_t size = info->return_size;

   if (!size || !out)
      return -EINVAL;
   switch (info->query) {
   case AMDGPU_INFO_ACCEL_WORKING: {
      uint32_t working = 1;
      return copy_answer(out, size, &working, sizeof(working));
   }
   case AMDGPU_INFO_DEV_INFO: {
      struct drm_amdgpu_info_device dev_info;
      fill_dev_info(dev, &dev_info);
      return copy_answer(out, size, &dev_info, sizeof(dev_info));
   }
   case AMDGPU_INFO_READ_MMR_REG:
      return info_read_register(dev, info, out, size);
   case AMDGPU_INFO_VRAM_GTT: {
      struct drm_amdgpu_info_vram_gtt vram_gtt = {
         .vram_size = dev->props.vram_size,
         .vram_cpu_accessible_size =
            dev->props.large_bar ? dev->props.vram_size : 256ull << 20,
         .gtt_size = s->sysmem_limit,
      };
      return copy_answer(out, size, &vram_gtt, sizeof(vram_gtt));
   }
   case AMDGPU_INFO_VRAM_USAGE: {
      uint64_t used = dev->vram_used;
      return copy_answer(out, size, &used, sizeof(used));
   }
   case AMDGPU_INFO_CRTC_FROM_ID:
   case AMDGPU_INFO_HW_IP_INFO:
   case AMDGPU_INFO_HW_IP_COUNT:
   case AMDGPU_INFO_TIMESTAMP:
   case AMDGPU_INFO_FW_VERSION:
   case AMDGPU_INFO_NUM_BYTES_MOVED:
   case AMDGPU_INFO_GTT_USAGE:
   case AMDGPU_INFO_GDS_CONFIG:
   case AMDGPU_INFO_VIS_VRAM_USAGE:
   case AMDGPU_INFO_NUM_EVICTIONS:
   case AMDGPU_INFO_MEMORY:
   case AMDGPU_INFO_VCE_CLOCK_TABLE:
   case AMDGPU_INFO_VBIOS:
   case AMDGPU_INFO_NUM_HANDLES:
   case AMDGPU_INFO_SENSOR:
   case AMDGPU_INFO_NUM_VRAM_CPU_PAGE_FAULTS:
   case AMDGPU_INFO_VRAM_LOST_COUNTER:
   case AMDGPU_INFO_RAS_ENABLED_FEATURES:
   case AMDGPU_INFO_VIDEO_CAPS:
      kfdsim_trace(s, "AMDGPU_INFO query 0x%x is not emulated", info->query);
      return -EOPNOTSUPP;
   default:
      return -EINVAL;
   }
}

#define DESC(ioc, flags, fn) \
   [_IOC_NR(DRM_IOCTL_##ioc)] = { DRM_IOCTL_##ioc, #ioc, flags, fn }

/* The core table (drm_ioctls[]): what a render node may call, and what exists
 * only for primary nodes. Legacy and mode-setting ranges are listed as ranges
 * in core_flags().
 */
static const struct drm_desc core_ioctls[] = {
   DESC(VERSION, RENDER_ALLOW, drm_version),
   DESC(GET_UNIQUE, NO_RENDER, NULL),
   DESC(GET_MAGIC, NO_RENDER, NULL),
   DESC(GET_CLIENT, NO_RENDER, NULL),
   DESC(GET_STATS, NO_RENDER, NULL),
   DESC(SET_VERSION, NO_RENDER, NULL),
   DESC(GEM_CLOSE, RENDER_ALLOW, drm_gem_close),
   DESC(GEM_FLINK, NO_RENDER, NULL),
   DESC(GEM_OPEN, NO_RENDER, NULL),
   DESC(GET_CAP, RENDER_ALLOW, drm_get_cap),
   DESC(SET_CLIENT_CAP, NO_RENDER, NULL),
   DESC(AUTH_MAGIC, NO_RENDER, NULL),
   DESC(SET_MASTER, NO_RENDER, NULL),
   DESC(DROP_MASTER, NO_RENDER, NULL),
   DESC(PRIME_HANDLE_TO_FD, RENDER_ALLOW | NOT_EMULATED, NULL),
   DESC(PRIME_FD_TO_HANDLE, RENDER_ALLOW | NOT_EMULATED, NULL),
};

/* The last core nr (DRM_IOCTL_MODE_CLOSEFB in the kernels of KFD 1.14) + 1. */
#define CORE_IOCTL_COUNT 0xd1
/* DRM_IOCTL_SYNCOBJ_CREATE .. DRM_IOCTL_SYNCOBJ_EVENTFD, render-allowed. */
#define SYNCOBJ_FIRST 0xbf
#define SYNCOBJ_LAST  0xcf

static unsigned int
core_flags(unsigned int nr, const struct drm_desc **desc)
{
   *desc = NULL;
   if (nr < sizeof(core_ioctls) / sizeof(core_ioctls[0]) && core_ioctls[nr].flags) {
      *desc = &core_ioctls[nr];
      return core_ioctls[nr].flags;
   }
   if (nr >= SYNCOBJ_FIRST && nr <= SYNCOBJ_LAST && nr != 0xce)
      return RENDER_ALLOW | NOT_EMULATED;
   /* the legacy (0x10..0x3f) and mode-setting (0xa0..0xbe, 0xce, 0xd0) ioctls
    * have no DRM_RENDER_ALLOW */
   if ((nr >= 0x10 && nr < 0x40) || (nr >= 0xa0 && nr < CORE_IOCTL_COUNT))
      return NO_RENDER;
   return 0;
}

#define DRIVER(ioc, flags, fn) \
   [DRM_AMDGPU_##ioc] = { DRM_IOCTL_AMDGPU_##ioc, "AMDGPU_" #ioc, flags, fn }

/* amdgpu_ioctls_kms[], indexed by nr - DRM_COMMAND_BASE; all render-allowed. */
static const struct drm_desc amdgpu_ioctls[] = {
   DRIVER(GEM_CREATE, RENDER_ALLOW | NOT_EMULATED, NULL),
   DRIVER(GEM_MMAP, RENDER_ALLOW | NOT_EMULATED, NULL),
   DRIVER(CTX, RENDER_ALLOW | NOT_EMULATED, NULL),
   DRIVER(BO_LIST, RENDER_ALLOW | NOT_EMULATED, NULL),
   DRIVER(CS, RENDER_ALLOW | NOT_EMULATED, NULL),
   DRIVER(INFO, RENDER_ALLOW, drm_amdgpu_info),
   DRIVER(GEM_METADATA, RENDER_ALLOW | NOT_EMULATED, NULL),
   DRIVER(GEM_WAIT_IDLE, RENDER_ALLOW | NOT_EMULATED, NULL),
   DRIVER(GEM_VA, RENDER_ALLOW | NOT_EMULATED, NULL),
   DRIVER(WAIT_CS, RENDER_ALLOW | NOT_EMULATED, NULL),
   DRIVER(GEM_OP, RENDER_ALLOW | NOT_EMULATED, NULL),
   DRIVER(GEM_USERPTR, RENDER_ALLOW | NOT_EMULATED, NULL),
   DRIVER(WAIT_FENCES, RENDER_ALLOW | NOT_EMULATED, NULL),
   DRIVER(VM, RENDER_ALLOW | NOT_EMULATED, NULL),
   DRIVER(FENCE_TO_HANDLE, RENDER_ALLOW | NOT_EMULATED, NULL),
   DRIVER(SCHED, RENDER_ALLOW | NOT_EMULATED, NULL),
};
#undef DRIVER
#undef DESC

static const struct drm_desc *
driver_desc(unsigned int nr)
{
   unsigned int index = nr - DRM_COMMAND_BASE;

   if (index >= sizeof(amdgpu_ioctls) / sizeof(amdgpu_ioctls[0]) ||
       !amdgpu_ioctls[index].flags)
      return NULL;
   return &amdgpu_ioctls[index];
}

int
kfdsim_ioctl_render(struct kfdsim_state *s, const struct kfdsim_file *file, int fd,
                    unsigned long request, uint64_t arg)
{
   unsigned int nr = _IOC_NR(request);
   uint32_t usize = _IOC_SIZE(request);
   const struct drm_desc *desc = NULL;
   unsigned int flags;
   uint8_t *kdata = NULL;
   int ret;

   if (nr < KFDSIM_DRM_NR_COUNT)
      s->drm_counts[nr]++;
   if (_IOC_TYPE(request) != DRM_IOCTL_BASE) {
      ret = -ENOTTY;
      goto done;
   }
   if (nr >= DRM_COMMAND_BASE && nr < DRM_COMMAND_END) {
      desc = driver_desc(nr);
      flags = desc ? desc->flags : 0;
   } else {
      flags = nr < CORE_IOCTL_COUNT ? core_flags(nr, &desc) : 0;
   }
   if (!flags) {
      ret = -EINVAL; /* no such ioctl, or no function behind the nr */
      goto done;
   }
   if (!(flags & RENDER_ALLOW)) {
      ret = -EACCES; /* drm_ioctl_permit() on a render node */
      goto done;
   }
   if ((flags & NOT_EMULATED) || !desc || !desc->handler) {
      kfdsim_trace(s, "render ioctl %s (0x%02x) is not emulated",
                   desc ? desc->name : "SYNCOBJ_*", nr);
      ret = -EOPNOTSUPP;
      goto done;
   }

   {
      uint32_t ksize = _IOC_SIZE(desc->cmd);
      uint32_t in = (request & desc->cmd & IOC_IN) ? usize : 0;
      uint32_t out = (request & desc->cmd & IOC_OUT) ? usize : 0;
      uint32_t asize = usize > ksize ? usize : ksize;

      kdata = calloc(1, asize);
      if (!kdata) {
         ret = -ENOMEM;
         goto done;
      }
      if (in && kfdsim_copy_from_user(kdata, arg, in)) {
         ret = -EFAULT;
         goto done;
      }
      ret = desc->handler(s, file, kdata);
      if (out && kfdsim_copy_to_user(arg, kdata, out))
         ret = -EFAULT;
   }

done:
   free(kdata);
   if (ret)
      kfdsim_trace(s, "render ioctl fd=%d 0x%lx (%s) -> -1 %s", fd, request,
                   desc ? desc->name : "?", strerror(-ret));
   else
      kfdsim_trace(s, "render ioctl fd=%d 0x%lx (%s) -> 0", fd, request, desc->name);
   return ret;
}
