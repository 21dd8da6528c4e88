/*
 * The SVM ioctl and XNACK mode.
 *
 * libhsakmt 5.2.3 only issues these for hsaKmtSVMSetAttr/GetAttr and
 * hsaKmtSetXNACKMode/GetXNACKMode. The emulator validates the arguments the
 * way amdkfd does (page-aligned non-empty range that is entirely in CPU
 * mappings that are not device mappings, known attribute types and gpu_ids,
 * no overlap with GPU-mapped BOs) and remembers each SET_ATTR range with its
 * attributes; GET_ATTR combines the remembered ranges that overlap the query.
 * Ranges are not split or merged, and nothing migrates.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kfdsim_priv.h"

#define DEFAULT_GRANULARITY 9 /* 2 MiB */
#define MAX_GRANULARITY     0x3f
#define SVM_FLAGS_MASK      0x7fu
#define GFX_NO_XNACK        100101 /* gfx10.1.1 and later cannot retry faults */

static bool
range_overlaps(uint64_t a_start, uint64_t a_size, uint64_t b_start, uint64_t b_size)
{
   return a_start < b_start + b_size && b_start < a_start + a_size;
}

bool
kfdsim_svm_overlaps(struct kfdsim_state *s, uint64_t start, uint64_t size)
{
   for (struct kfdsim_svm_range *r = s->process.svm_ranges; r; r = r->next) {
      if (range_overlaps(start, size, r->start, r->size))
         return true;
   }
   return false;
}

void
kfdsim_svm_release_all(struct kfdsim_state *s)
{
   while (s->process.svm_ranges) {
      struct kfdsim_svm_range *next = s->process.svm_ranges->next;
      free(s->process.svm_ranges);
      s->process.svm_ranges = next;
   }
}

static int
gpu_index(struct kfdsim_state *s, uint32_t gpu_id)
{
   struct kfdsim_device *dev = kfdsim_device_by_id(s, gpu_id);
   return dev ? kfdsim_device_index(s, dev) : -1;
}

/* svm_range_check_attr() */
static int
check_attrs(struct kfdsim_state *s, const struct kfd_ioctl_svm_attribute *attrs,
            uint32_t nattr)
{
   for (uint32_t i = 0; i < nattr; i++) {
      uint32_t v = attrs[i].value;

      switch (attrs[i].type) {
      case KFD_IOCTL_SVM_ATTR_PREFERRED_LOC:
         if (v != KFD_IOCTL_SVM_LOCATION_SYSMEM &&
             v != KFD_IOCTL_SVM_LOCATION_UNDEFINED && gpu_index(s, v) < 0)
            return -EINVAL;
         break;
      case KFD_IOCTL_SVM_ATTR_PREFETCH_LOC:
         if (v != KFD_IOCTL_SVM_LOCATION_SYSMEM && gpu_index(s, v) < 0)
            return -EINVAL;
         break;
      case KFD_IOCTL_SVM_ATTR_ACCESS:
      case KFD_IOCTL_SVM_ATTR_ACCESS_IN_PLACE:
      case KFD_IOCTL_SVM_ATTR_NO_ACCESS:
         if (gpu_index(s, v) < 0)
            return -EINVAL;
         break;
      case KFD_IOCTL_SVM_ATTR_SET_FLAGS:
      case KFD_IOCTL_SVM_ATTR_CLR_FLAGS:
      case KFD_IOCTL_SVM_ATTR_GRANULARITY:
         break;
      default:
         return -EINVAL;
      }
   }
   return 0;
}

static void
apply_attrs(struct kfdsim_state *s, struct kfdsim_svm_range *r,
            const struct kfd_ioctl_svm_attribute *attrs, uint32_t nattr)
{
   for (uint32_t i = 0; i < nattr; i++) {
      uint32_t v = attrs[i].value;
      int gpu = gpu_index(s, v);

      switch (attrs[i].type) {
      case KFD_IOCTL_SVM_ATTR_PREFERRED_LOC:
         r->preferred_loc = v;
         break;
      case KFD_IOCTL_SVM_ATTR_PREFETCH_LOC:
         r->prefetch_loc = v;
         break;
      case KFD_IOCTL_SVM_ATTR_ACCESS:
         r->access_mask |= 1u << gpu;
         r->in_place_mask &= ~(1u << gpu);
         break;
      case KFD_IOCTL_SVM_ATTR_ACCESS_IN_PLACE:
         r->access_mask &= ~(1u << gpu);
         r->in_place_mask |= 1u << gpu;
         break;
      case KFD_IOCTL_SVM_ATTR_NO_ACCESS:
         r->access_mask &= ~(1u << gpu);
         r->in_place_mask &= ~(1u << gpu);
         break;
      case KFD_IOCTL_SVM_ATTR_SET_FLAGS:
         r->flags |= v & SVM_FLAGS_MASK;
         break;
      case KFD_IOCTL_SVM_ATTR_CLR_FLAGS:
         r->flags &= ~v;
         break;
      case KFD_IOCTL_SVM_ATTR_GRANULARITY:
         r->granularity = v < MAX_GRANULARITY ? v : MAX_GRANULARITY;
         break;
      }
   }
}

static bool
overlaps_mapped_bo(struct kfdsim_state *s, uint64_t start, uint64_t size)
{
   for (struct kfdsim_bo *bo = s->process.bos; bo; bo = bo->next) {
      if (bo->mapped_mask && range_overlaps(start, size, bo->va, kfdsim_bo_gpu_span(bo)))
         return true;
   }
   return false;
}

static int
set_attr(struct kfdsim_state *s, uint64_t start, uint64_t size,
         const struct kfd_ioctl_svm_attribute *attrs, uint32_t nattr)
{
   struct kfdsim_svm_range *r;
   int ret;

   if ((ret = check_attrs(s, attrs, nattr)))
      return ret;
   /* svm_range_is_valid() */
   if ((ret = kfdsim_user_range_mapped(s, start, size)))
      return ret;
   if (overlaps_mapped_bo(s, start, size))
      return -EADDRINUSE;

   for (r = s->process.svm_ranges; r; r = r->next) {
      if (range_overlaps(start, size, r->start, r->size))
         apply_attrs(s, r, attrs, nattr);
   }
   r = calloc(1, sizeof(*r));
   if (!r)
      return -ENOMEM;
   r->start = start;
   r->size = size;
   r->preferred_loc = KFD_IOCTL_SVM_LOCATION_UNDEFINED;
   r->prefetch_loc = KFD_IOCTL_SVM_LOCATION_UNDEFINED;
   r->flags = KFD_IOCTL_SVM_FLAG_HOST_ACCESS | KFD_IOCTL_SVM_FLAG_COHERENT;
   r->granularity = DEFAULT_GRANULARITY;
   if (s->process.xnack_enabled)
      r->access_mask = (1u << s->device_count) - 1;
   apply_attrs(s, r, attrs, nattr);
   r->next = s->process.svm_ranges;
   s->process.svm_ranges = r;
   return 0;
}

static int
get_attr(struct kfdsim_state *s, uint64_t start, uint64_t size,
         struct kfd_ioctl_svm_attribute *attrs, uint32_t nattr)
{
   uint32_t preferred = KFD_IOCTL_SVM_LOCATION_UNDEFINED;
   uint32_t prefetch = KFD_IOCTL_SVM_LOCATION_UNDEFINED;
   uint32_t flags_and = ~0u, flags_or = 0, granularity = DEFAULT_GRANULARITY;
   uint32_t access = ~0u, in_place = ~0u;
   bool found = false;
   int ret;

   if ((ret = check_attrs(s, attrs, nattr)))
      return ret;
   if ((ret = kfdsim_user_range_mapped(s, start, size)))
      return ret;
   for (struct kfdsim_svm_range *r = s->process.svm_ranges; r; r = r->next) {
      if (!range_overlaps(start, size, r->start, r->size))
         continue;
      if (!found) {
         preferred = r->preferred_loc;
         prefetch = r->prefetch_loc;
         granularity = r->granularity;
      }
      if (preferred != r->preferred_loc)
         preferred = KFD_IOCTL_SVM_LOCATION_UNDEFINED;
      if (prefetch != r->prefetch_loc)
         prefetch = KFD_IOCTL_SVM_LOCATION_UNDEFINED;
      if (r->granularity < granularity)
         granularity = r->granularity;
      flags_and &= r->flags;
      flags_or |= r->flags;
      access &= r->access_mask;
      in_place &= r->in_place_mask;
      found = true;
   }
   if (!found) {
      flags_and = 0;
      access = s->process.xnack_enabled ? ~0u : 0;
      in_place = 0;
   }
   for (uint32_t i = 0; i < nattr; i++) {
      int gpu;

      switch (attrs[i].type) {
      case KFD_IOCTL_SVM_ATTR_PREFERRED_LOC:
         attrs[i].value = preferred;
         break;
      case KFD_IOCTL_SVM_ATTR_PREFETCH_LOC:
         attrs[i].value = prefetch;
         break;
      case KFD_IOCTL_SVM_ATTR_ACCESS:
      case KFD_IOCTL_SVM_ATTR_ACCESS_IN_PLACE:
      case KFD_IOCTL_SVM_ATTR_NO_ACCESS:
         /* The type is overwritten with the access the GPU has. */
         gpu = gpu_index(s, attrs[i].value);
         attrs[i].type = access & (1u << gpu)     ? KFD_IOCTL_SVM_ATTR_ACCESS
                         : in_place & (1u << gpu) ? KFD_IOCTL_SVM_ATTR_ACCESS_IN_PLACE
                                                  : KFD_IOCTL_SVM_ATTR_NO_ACCESS;
         break;
      case KFD_IOCTL_SVM_ATTR_SET_FLAGS:
         attrs[i].value = flags_and;
         break;
      case KFD_IOCTL_SVM_ATTR_CLR_FLAGS:
         attrs[i].value = ~flags_or & SVM_FLAGS_MASK;
         break;
      case KFD_IOCTL_SVM_ATTR_GRANULARITY:
         attrs[i].value = granularity;
         break;
      }
   }
   return 0;
}

int
kfdsim_ioctl_svm(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_svm_args *a = args;

   if ((a->start_addr & (KFDSIM_PAGE_SIZE - 1)) || (a->size & (KFDSIM_PAGE_SIZE - 1)))
      return -EINVAL;
   if (!a->start_addr || !a->size)
      return -EINVAL;
   /* The attributes travel inside the argument; its size must hold them. */
   if (a->nattr > (size - sizeof(*a)) / sizeof(a->attrs[0]))
      return -EINVAL;
   switch (a->op) {
   case KFD_IOCTL_SVM_OP_SET_ATTR:
      return set_attr(s, a->start_addr, a->size, a->attrs, a->nattr);
   case KFD_IOCTL_SVM_OP_GET_ATTR:
      return get_attr(s, a->start_addr, a->size, a->attrs, a->nattr);
   default:
      return -EINVAL;
   }
}

int
kfdsim_ioctl_set_xnack_mode(struct kfdsim_state *s, void *args, uint32_t size)
{
   struct kfd_ioctl_set_xnack_mode_args *a = args;

   /* A negative value only asks for the current mode. */
   if (a->xnack_enabled < 0) {
      a->xnack_enabled = s->process.xnack_enabled;
      return 0;
   }
   /* Shader code compiled for the other mode may be running. */
   if (s->process.queues)
      return -EBUSY;
   if ((a->xnack_enabled != 0) == s->process.xnack_enabled)
      return 0;
   if (a->xnack_enabled) {
      for (unsigned int i = 0; i < s->device_count; i++) {
         if (s->devices[i].props.gfx_version >= GFX_NO_XNACK)
            return -EPERM;
      }
   }
   s->process.xnack_enabled = a->xnack_enabled != 0;
   return 0;
}
