/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "hsakmt_va.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hsakmt/hsakmt_context.h"
#include "kfd/vkfd_kfd.h"
#include "util/vkfd_log.h"
#include "util/vkfd_math.h"
#include "util/vkfd_range.h"

#define VA_FALLBACK_STEP  (256ull << 30)
#define VA_FALLBACK_TRIES 16
#define VA_USER_SPACE_END (1ull << 47)
#define VA_DEFAULT_SIZE   (64ull << 30)
#define VA_MAX_SIZE       (8ull << 40)

/* Process-wide, like libhsakmt's own state; the lock guards all of it. */
static struct {
   pthread_mutex_t lock;
   bool placed;
   enum vkfd_kfd_va_mode mode;
   uint64_t start;
   uint64_t size;
   bool placeholder; /* we hold [start, start + size) PROT_NONE */
   uint64_t guard;   /* kept free after each allocation (libhsakmt's guard page) */
   unsigned users;
   struct vkfd_range free; /* its free extents and the bytes in use */
} va = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t
page_size(void)
{
   return (uint64_t)sysconf(_SC_PAGESIZE);
}

/* 2 x (system RAM + VRAM), capped at 8 TiB (§5.1); VIRTKFD_VA_WINDOW_SIZE overrides. */
static uint64_t
wanted_window_size(void)
{
   const char *env = getenv("VIRTKFD_VA_WINDOW_SIZE");
   if (env && *env) {
      char *end;
      unsigned long long v = strtoull(env, &end, 0);
      if (!*end && v)
         return vkfd_align_down(v, HSAKMT_DEVICE_ALIGNMENT) ?: HSAKMT_DEVICE_ALIGNMENT;
   }
   uint64_t ram = (uint64_t)sysconf(_SC_PHYS_PAGES) * page_size();
   uint64_t vram = 0;
   for (uint32_t node = 0; node < vkfd_kfd_node_count(); node++) {
      struct hsakmt_wire_node_properties props;
      if (vkfd_kfd_node_is_gpu(node) && !vkfd_kfd_node_properties(node, &props))
         vram += props.local_mem_size;
   }
   if (!ram || !vram)
      return VA_DEFAULT_SIZE;
   uint64_t size;
   if (vkfd_ckd_add(&size, ram, vram) || vkfd_ckd_mul(&size, size, (uint64_t)2) ||
       size > VA_MAX_SIZE)
      size = VA_MAX_SIZE;
   return vkfd_align_down(size, HSAKMT_DEVICE_ALIGNMENT);
}

static bool
reserve_placeholder(uint64_t size)
{
   for (uint64_t i = 0; i < VA_FALLBACK_TRIES; i++) {
      uint64_t base = HSAKMT_FIXED_VA_BASE + i * VA_FALLBACK_STEP;
      if (base + size > VA_USER_SPACE_END)
         break;
      void *p =
         mmap((void *)(uintptr_t)base, size, PROT_NONE,
              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
      if (p == MAP_FAILED)
         continue;
      if ((uintptr_t)p != base) { /* a kernel without MAP_FIXED_NOREPLACE */
         munmap(p, size);
         continue;
      }
      madvise(p, size, MADV_DONTFORK);
      va.start = base;
      va.size = size;
      va.placeholder = true;
      return true;
   }
   return false;
}

static int
window_place_locked(void)
{
   struct vkfd_kfd_va_info info;
   vkfd_kfd_va_info(&info);
   uint64_t size = wanted_window_size();

   if (info.mode == VKFD_KFD_VA_RESERVED_SVM) {
      /* the upper part of libhsakmt's aperture, away from low guest addresses */
      size =
         VKFD_MIN(size, vkfd_align_down(info.aperture_size / 2, HSAKMT_DEVICE_ALIGNMENT));
      if (!size)
         return VKFD_STATUS_NO_MEMORY;
      /* both ends 2 MiB aligned: the aperture's own end need not be */
      uint64_t end = vkfd_align_down(info.aperture_base + info.aperture_size,
                                     HSAKMT_DEVICE_ALIGNMENT);
      if (end < info.aperture_base + size)
         return VKFD_STATUS_NO_MEMORY;
      va.start = end - size;
      va.size = size;
      va.guard = page_size();
   } else if (!reserve_placeholder(size)) {
      vkfd_err("OPEN_KFD: no free 0x%llx-byte window at 0x%llx or its fallbacks",
               (unsigned long long)size, (unsigned long long)HSAKMT_FIXED_VA_BASE);
      return VKFD_STATUS_NO_MEMORY;
   } else {
      va.guard = 0;
   }

   if (vkfd_range_init(&va.free, va.start, va.size)) {
      if (va.placeholder)
         munmap((void *)(uintptr_t)va.start, va.size);
      va.placeholder = false;
      return VKFD_STATUS_NO_MEMORY;
   }
   va.mode = info.mode;
   va.placed = true;
   static const char *const modes[] = { "allocations unavailable", "native",
                                        "reserved SVM aperture" };
   vkfd_info("KFD VA window 0x%llx+0x%llx (%s)", (unsigned long long)va.start,
             (unsigned long long)va.size, modes[info.mode]);
   return VKFD_STATUS_SUCCESS;
}

static void
window_remove_locked(void)
{
   vkfd_range_fini(&va.free);
   if (va.placeholder)
      munmap((void *)(uintptr_t)va.start, va.size);
   va.placed = false;
   va.placeholder = false;
   va.mode = VKFD_KFD_VA_NONE;
   va.start = 0;
   va.size = 0;
   va.guard = 0;
}

int
hsakmt_va_window(struct hsakmt_context *ctx, uint64_t guest_hint, uint64_t *start,
                 uint64_t *size)
{
   pthread_mutex_lock(&va.lock);
   int status = va.placed ? VKFD_STATUS_SUCCESS : window_place_locked();
   if (!status) {
      if (!ctx->va_window_user) {
         ctx->va_window_user = true;
         va.users++;
      }
      *start = va.start;
      *size = va.size;
   }
   pthread_mutex_unlock(&va.lock);
   vkfd_debug("ctx %u: OPEN_KFD (guest hint 0x%llx): status %d", ctx->base.id,
              (unsigned long long)guest_hint, status);
   return status;
}

void
hsakmt_va_context_release(struct hsakmt_context *ctx)
{
   if (!ctx->va_window_user)
      return;
   ctx->va_window_user = false;
   pthread_mutex_lock(&va.lock);
   /* the window follows the KFD device, whose SVM aperture may move when reopened */
   if (--va.users == 0 && va.free.used == 0)
      window_remove_locked();
   pthread_mutex_unlock(&va.lock);
}

bool
hsakmt_va_window_bounds(uint64_t *start, uint64_t *size)
{
   pthread_mutex_lock(&va.lock);
   bool placed = va.placed;
   *start = va.start;
   *size = va.size;
   pthread_mutex_unlock(&va.lock);
   return placed;
}

bool
hsakmt_va_can_allocate(void)
{
   pthread_mutex_lock(&va.lock);
   bool can = va.placed && va.mode != VKFD_KFD_VA_NONE;
   pthread_mutex_unlock(&va.lock);
   return can;
}

/* Takes a range from the window; the library's own ranges lose their placeholder. */
static int
va_take(uint64_t size, uint64_t alignment, bool for_library, uint64_t *out)
{
   uint64_t reserve;
   if (!size || !vkfd_is_power_of_two(alignment) || alignment < page_size() ||
       vkfd_ckd_add(&reserve, size, va.guard))
      return VKFD_STATUS_INVALID_PARAMETER;

   pthread_mutex_lock(&va.lock);
   int status = VKFD_STATUS_NO_MEMORY;
   uint64_t start;
   if (!va.placed || va.mode == VKFD_KFD_VA_NONE) {
      /* no window: nothing to say beyond the caller's own refusal */
   } else if (vkfd_range_take(&va.free, reserve, alignment, &start)) {
      vkfd_warn("KFD VA window full: no 0x%llx bytes aligned to 0x%llx (0x%llx in use)",
                (unsigned long long)size, (unsigned long long)alignment,
                (unsigned long long)va.free.used);
   } else {
      if (va.placeholder && for_library)
         munmap((void *)(uintptr_t)start, size); /* the library maps here itself */
      *out = start;
      status = VKFD_STATUS_SUCCESS;
   }
   pthread_mutex_unlock(&va.lock);
   return status;
}

int
hsakmt_va_alloc(uint64_t size, uint64_t alignment, uint64_t *out)
{
   return va_take(size, alignment, true, out);
}

int
hsakmt_va_reserve(uint64_t size, uint64_t alignment, uint64_t *out)
{
   pthread_mutex_lock(&va.lock);
   bool native = va.placed && va.placeholder;
   pthread_mutex_unlock(&va.lock);
   return native ? va_take(size, alignment, false, out) : VKFD_STATUS_NO_MEMORY;
}

bool
hsakmt_va_contains(uint64_t start, uint64_t size)
{
   uint64_t end;
   pthread_mutex_lock(&va.lock);
   bool inside = va.placed && !vkfd_ckd_add(&end, start, size) && start >= va.start &&
                 end <= va.start + va.size;
   pthread_mutex_unlock(&va.lock);
   return inside;
}

void
hsakmt_va_free(uint64_t start, uint64_t size)
{
   pthread_mutex_lock(&va.lock);
   uint64_t reserve = size + va.guard;
   if (va.placeholder)
      mmap((void *)(uintptr_t)start, size, PROT_NONE,
           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
   if (vkfd_range_give(&va.free, start, reserve)) {
      /* the range is lost to the window, not to the process: log and go on */
      vkfd_err("KFD VA window: out of memory returning 0x%llx+0x%llx",
               (unsigned long long)start, (unsigned long long)reserve);
   }
   if (va.users == 0 && va.free.used == 0)
      window_remove_locked();
   pthread_mutex_unlock(&va.lock);
}

void
hsakmt_va_stats(uint64_t *used, uint32_t *free_extents)
{
   pthread_mutex_lock(&va.lock);
   *used = va.free.used;
   *free_extents = vkfd_range_extent_count(&va.free);
   pthread_mutex_unlock(&va.lock);
}
