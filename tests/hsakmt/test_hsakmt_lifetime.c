/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Memory lives as long as anything can see it (wire-protocol.md §4.1, lifetime rule;
 * §6.2 row 23). Guest process A allocates KFD memory, the VMM maps its blob, A writes
 * to it and then closes its GEM handle (the guest kernel's detach) while keeping its
 * mmap, or A's context is destroyed outright. Process B, with a context of its own,
 * then allocates again and again: none of its allocations may land on A's memory,
 * A's bytes stay as A wrote them, the VMM's unmap works, and only the last unref
 * releases the memory. A detach from a context that does not own the blob touches
 * nothing but that attachment. And when a teardown step fails, nothing the GPU may
 * still reach is freed or handed out again.
 *
 * KFD memory needs the fixed-address window, which ASan builds do not have.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#include <cmocka.h>

#include "hsakmt/hsakmt_va.h"
#include "hsakmt_test_env.h"
#include "kfdsim.h"

#define MIB           (1ull << 20)
#define PAGE          4096u
#define CTX_B         2
#define KFD_FREE_NR   0x17
#define KFD_UNMAP_NR  0x19
#define VRAM_HOST     (HSAKMT_MEMFLAG_NON_PAGED | HSAKMT_MEMFLAG_HOST_ACCESS)
#define SYSTEM_COARSE (HSAKMT_MEMFLAG_HOST_ACCESS | HSAKMT_MEMFLAG_COARSE_GRAIN)

static struct hsakmt_test_env env;
static struct hsakmt_guest b;
static uint64_t kept_window; /* window bytes kept on purpose by failure tests */
static uint32_t gpu = 1;
static const char a_secret[] = "A's secret, written through A's mapping";

static int
setup(void **state)
{
   hsakmt_test_env_start(&env);
   uint64_t start, size;
   assert_int_equal(hsakmt_guest_open_kfd(&env.guest, &start, &size), 0);
   assert_int_equal(hsakmt_guest_open(&b, CTX_B, 5000), 0);
   assert_int_equal(hsakmt_guest_open_kfd(&b, &start, &size), 0);
   return 0;
}

static int
teardown(void **state)
{
   hsakmt_guest_close(&b);
   hsakmt_test_env_stop(&env);
   assert_int_equal(hsakmt_test_window_used(), kept_window);
   return 0;
}

/* A's part: a mappable allocation, mapped by the VMM and the GPU, written by A. */
struct a_blob {
   uint32_t res;
   uint64_t va;
   uint64_t size;
   uint8_t *map; /* the VMM's mapping, which A's guest mapping stands for */
};

static void
a_allocates(struct a_blob *blob, uint32_t flags, uint64_t size)
{
   uint64_t id = hsakmt_guest_new_blob_id(&env.guest);
   assert_int_equal(hsakmt_guest_alloc(&env.guest,
                                       flags & HSAKMT_MEMFLAG_NON_PAGED ? gpu : 0, flags,
                                       size, 0, id, &blob->va),
                    0);
   hsakmt_test_assert_no_host_address(blob->va, size, "ALLOC's VA");
   blob->res = hsakmt_guest_new_res_id(&env.guest);
   blob->size = size;
   assert_int_equal(hsakmt_guest_claim(&env.guest, blob->res, id,
                                       VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE, size),
                    0);
   void *map = NULL;
   uint64_t map_size = 0;
   assert_int_equal(virgl_renderer_resource_map(blob->res, &map, &map_size), 0);
   assert_true((uint64_t)(uintptr_t)map == blob->va); /* guest VA == host VA */
   blob->map = map;
   uint64_t gpu_va;
   assert_int_equal(hsakmt_guest_map_to_gpu_nodes(&env.guest, blob->res, blob->va, size,
                                                  &gpu, 1, 0, &gpu_va),
                    0);
   for (uint64_t off = 0; off < size; off += PAGE)
      memcpy(blob->map + off, a_secret, sizeof(a_secret));
}

/* B allocates six times, of several sizes, and writes its own data everywhere. */
static void
b_allocates(uint32_t res_ids[6], const struct a_blob *a)
{
   const uint64_t want[6] = { 2 * MIB, a->size, 4 * MIB, a->size, 64 * 1024, 2 * MIB };
   for (int i = 0; i < 6; i++) {
      uint64_t id = hsakmt_guest_new_blob_id(&b), va;
      uint32_t flags = i % 2 ? VRAM_HOST : SYSTEM_COARSE;
      assert_int_equal(hsakmt_guest_alloc(&b, flags & HSAKMT_MEMFLAG_NON_PAGED ? gpu : 0,
                                          flags, want[i], 0, id, &va),
                       0);
      /* never where A may still look */
      assert_true(va + want[i] <= a->va || va >= a->va + a->size);
      res_ids[i] = hsakmt_guest_new_res_id(&b);
      assert_int_equal(hsakmt_guest_claim(&b, res_ids[i], id,
                                          VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE, want[i]),
                       0);
      void *map;
      assert_int_equal(virgl_renderer_resource_map(res_ids[i], &map, NULL), 0);
      memset(map, 'B', want[i]);
      assert_int_equal(virgl_renderer_resource_unmap(res_ids[i]), 0);
   }
}

static void
a_reads_its_own_bytes(const struct a_blob *a)
{
   for (uint64_t off = 0; off < a->size; off += PAGE)
      assert_memory_equal(a->map + off, a_secret, sizeof(a_secret));
}

static void
b_releases(const uint32_t res_ids[6])
{
   for (int i = 0; i < 6; i++)
      virgl_renderer_resource_unref(res_ids[i]);
}

/* The VMM lets go last: unmap, then unref; then everything is back at baseline. */
static void
vmm_lets_go(struct a_blob *a, unsigned bos_before)
{
   assert_int_equal(virgl_renderer_resource_unmap(a->res), 0);
   assert_true(kfdsim_live_bos() > bos_before); /* still there until the unref */
   virgl_renderer_resource_unref(a->res);
   assert_int_equal(kfdsim_live_bos(), bos_before);
}

static void
lifetime_scenario(bool destroy_context)
{
   unsigned bos = kfdsim_live_bos();
   struct a_blob a;
   a_allocates(&a, VRAM_HOST, 2 * MIB);
   struct a_blob a_sys;
   a_allocates(&a_sys, SYSTEM_COARSE, 2 * MIB);

   if (destroy_context) {
      /* the whole guest process A goes; the VMM still maps its blobs */
      hsakmt_guest_close(&env.guest);
   } else {
      /* A closes its GEM handles but keeps its mmaps */
      virgl_renderer_ctx_detach_resource(env.guest.ctx_id, (int)a.res);
      virgl_renderer_ctx_detach_resource(env.guest.ctx_id, (int)a_sys.res);
   }
   /* A's context no longer knows them: no GPU mapping, no way to name them */
   struct kfdsim_bo_info bo;
   assert_int_equal(kfdsim_bo_find(a.va, &bo), 0);
   assert_int_equal(bo.mapped_gpus, 0);
   if (!destroy_context) {
      uint64_t gpu_va;
      assert_int_equal(
         hsakmt_guest_map_to_gpu_nodes(&env.guest, 0, a.va, a.size, &gpu, 1, 0, &gpu_va),
         VKFD_STATUS_INVALID_PARAMETER);
   }
   /* nor can the VMM map them afresh: nobody is left to ask for it */
   void *again;
   assert_int_equal(virgl_renderer_resource_map(a.res, &again, NULL), -EINVAL);

   uint32_t b_res[6];
   b_allocates(b_res, &a);
   a_reads_its_own_bytes(&a);
   a_reads_its_own_bytes(&a_sys);
   b_releases(b_res);

   vmm_lets_go(&a, bos + 1);
   vmm_lets_go(&a_sys, bos);
   if (destroy_context)
      assert_int_equal(hsakmt_guest_open(&env.guest, 1, 100), 0);
}

static void
test_detach_while_mapped(void **state)
{
   lifetime_scenario(false);
}

static void
test_context_destroyed_while_mapped(void **state)
{
   lifetime_scenario(true);
}

static void
test_foreign_detach_changes_nothing(void **state)
{
   unsigned bos = kfdsim_live_bos();
   struct a_blob a;
   a_allocates(&a, VRAM_HOST, 2 * MIB);
   /* B's process imported A's blob (a dma-buf), then closed it */
   virgl_renderer_ctx_attach_resource(CTX_B, (int)a.res);
   virgl_renderer_ctx_detach_resource(CTX_B, (int)a.res);
   /* B cannot name it either way */
   uint64_t gpu_va;
   assert_int_equal(
      hsakmt_guest_map_to_gpu_nodes(&b, a.res, a.va, a.size, &gpu, 1, 0, &gpu_va),
      VKFD_STATUS_INVALID_PARAMETER);
   /* A's object is whole: mapped to the GPU, its bytes there, still A's to use */
   struct kfdsim_bo_info bo;
   assert_int_equal(kfdsim_bo_find(a.va, &bo), 0);
   assert_int_equal(bo.mapped_gpus, 1);
   char seen[sizeof(a_secret)];
   assert_int_equal(kfdsim_gpu_read(a.va, seen, sizeof(seen)), 0);
   assert_memory_equal(seen, a_secret, sizeof(a_secret));
   assert_int_equal(hsakmt_guest_unmap_from_gpu(&env.guest, a.va), 0);
   assert_int_equal(
      hsakmt_guest_map_to_gpu_nodes(&env.guest, a.res, a.va, a.size, &gpu, 1, 0, &gpu_va),
      0);
   a_reads_its_own_bytes(&a);
   /* B's whole context going does not touch it either */
   hsakmt_guest_close(&b);
   assert_int_equal(kfdsim_bo_find(a.va, &bo), 0);
   assert_int_equal(bo.mapped_gpus, 1);
   assert_int_equal(hsakmt_guest_open(&b, CTX_B, 6000), 0);
   vmm_lets_go(&a, bos);
}

static void
test_unmap_in_any_order(void **state)
{
   /* unmap before detach, after detach, after context destruction: all succeed */
   unsigned bos = kfdsim_live_bos();
   struct a_blob a;
   a_allocates(&a, VRAM_HOST, 2 * MIB);
   assert_int_equal(virgl_renderer_resource_unmap(a.res), 0);
   virgl_renderer_ctx_detach_resource(env.guest.ctx_id, (int)a.res);
   assert_int_equal(virgl_renderer_resource_unmap(a.res), 0);
   virgl_renderer_resource_unref(a.res);
   assert_int_equal(kfdsim_live_bos(), bos);

   a_allocates(&a, VRAM_HOST, 2 * MIB);
   hsakmt_guest_close(&env.guest);
   assert_int_equal(virgl_renderer_resource_unmap(a.res), 0);
   virgl_renderer_resource_unref(a.res);
   assert_int_equal(kfdsim_live_bos(), bos);
   assert_int_equal(hsakmt_guest_open(&env.guest, 1, 200), 0);
}

/*
 * A GPU unmap that fails at detach: the memory may still be in the GPU's page tables,
 * so the unref must neither free it nor give its VA to anyone else.
 */
static void
test_failed_gpu_unmap_keeps_memory(void **state)
{
   unsigned bos = kfdsim_live_bos();
   int fds = test_count_fds();
   uint64_t used_at_start = hsakmt_test_window_used();
   struct a_blob a;
   a_allocates(&a, VRAM_HOST, 2 * MIB);
   assert_int_equal(kfdsim_fail_next(KFD_UNMAP_NR, 1, EIO), 0);
   virgl_renderer_ctx_detach_resource(env.guest.ctx_id, (int)a.res);
   kfdsim_fail_clear();
   assert_int_equal(virgl_renderer_resource_unmap(a.res), 0);
   uint64_t used_before_unref = hsakmt_test_window_used();
   virgl_renderer_resource_unref(a.res);
   /* kept on purpose, and logged: the BO and its range of the window */
   assert_int_equal(kfdsim_live_bos(), bos + 1);
   assert_true(hsakmt_test_window_used() == used_before_unref);
   struct kfdsim_bo_info bo;
   assert_int_equal(kfdsim_bo_find(a.va, &bo), 0);
   /* no later allocation lands on it */
   uint32_t b_res[6];
   b_allocates(b_res, &a);
   b_releases(b_res);
   /* the kept buffer is part of the baseline from here on, with the emulator's
    * backing of it (a memfd per buffer) */
   env.live_bos++;
   env.fds += test_count_fds() - fds;
   kept_window += hsakmt_test_window_used() - used_at_start;
}

/* A free that fails at unref: the VA range stays out of the window for good. */
static void
test_failed_free_keeps_range(void **state)
{
   uint64_t used_at_start = hsakmt_test_window_used();
   int fds = test_count_fds();
   struct a_blob a;
   a_allocates(&a, VRAM_HOST, 2 * MIB);
   assert_int_equal(virgl_renderer_resource_unmap(a.res), 0);
   virgl_renderer_ctx_detach_resource(env.guest.ctx_id, (int)a.res);
   uint64_t used_before_unref = hsakmt_test_window_used();
   uint64_t frees = kfdsim_ioctl_count(KFD_FREE_NR);
   assert_int_equal(kfdsim_fail_next(KFD_FREE_NR, 1, EBUSY), 0);
   virgl_renderer_resource_unref(a.res);
   kfdsim_fail_clear();
   assert_true(kfdsim_ioctl_count(KFD_FREE_NR) > frees);
   struct kfdsim_bo_info bo;
   if (kfdsim_bo_find(a.va, &bo) == 0) {
      /* the library reported the failure: the range was kept */
      assert_true(hsakmt_test_window_used() == used_before_unref);
      env.live_bos++;
      env.fds += test_count_fds() - fds;
   } else {
      /* the library dropped the BO whatever the kernel said: there is nothing to keep */
      assert_true(hsakmt_test_window_used() < used_before_unref);
   }
   uint32_t b_res[6];
   b_allocates(b_res, &a);
   b_releases(b_res);
   kept_window += hsakmt_test_window_used() - used_at_start;
}

/* The userptr path: a failed GPU unmap keeps the alias's range reserved for good. */
static void
test_failed_userptr_unmap_keeps_range(void **state)
{
   uint64_t used_at_start = hsakmt_test_window_used();
   struct test_guest_ram ram;
   test_guest_ram_create(&ram, 4 * MIB);
   struct iovec iov[2] = { { ram.base + 2 * MIB, MIB }, { ram.base, MIB } };
   uint32_t res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_create_userptr(&env.guest, res, iov, 2, 2 * MIB,
                                                VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR),
                    0);
   uint64_t handle, gpu_va;
   assert_int_equal(hsakmt_guest_map_userptr(&env.guest, res, &handle), 0);
   hsakmt_test_assert_no_host_address(handle, 2 * MIB, "MAP_USERPTR's handle");
   assert_int_equal(hsakmt_guest_register_userptr(&env.guest, res, handle, 2 * MIB, 0),
                    0);
   assert_int_equal(hsakmt_guest_map_to_gpu_nodes(&env.guest, res, handle, 2 * MIB, &gpu,
                                                  1, 0, &gpu_va),
                    0);
   hsakmt_test_assert_no_host_address(gpu_va, 2 * MIB, "the userptr's GPU VA");
   struct kfdsim_bo_info bo;
   assert_int_equal(kfdsim_bo_find(gpu_va, &bo), 0);
   uintptr_t alias = (uintptr_t)bo.cpu_addr;
   unsigned userptrs = kfdsim_userptr_count();
   int maps = hsakmt_test_count_maps();

   assert_int_equal(kfdsim_fail_next(KFD_UNMAP_NR, 1, EIO), 0);
   virgl_renderer_resource_unref(res);
   kfdsim_fail_clear();
   /* not deregistered, and the alias no longer maps guest RAM, but its range stays */
   assert_int_equal(kfdsim_userptr_count(), userptrs);
   assert_true(test_range_mapped(alias, 2 * MIB));
   char probe;
   assert_int_equal(kfdsim_gpu_read(gpu_va, &probe, 1), -EFAULT);
   assert_true(hsakmt_test_count_maps() >= maps - 2);
   env.userptrs++;
   env.live_bos++;
   /* where the alias lives in the KFD window (libhsakmt 6.x), that range is kept */
   kept_window += hsakmt_test_window_used() - used_at_start;
   test_guest_ram_destroy(&ram);
}

int
main(void)
{
#if defined(__SANITIZE_ADDRESS__)
   printf("SKIP: KFD memory needs the fixed-address window, and libhsakmt's reserved "
          "SVM aperture lies below 2^40, where AddressSanitizer keeps its shadow\n");
   return 77;
#endif
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
   const struct CMUnitTest tests[] = {
      T(test_detach_while_mapped),
      T(test_context_destroyed_while_mapped),
      T(test_foreign_detach_changes_nothing),
      T(test_unmap_in_any_order),
      T(test_failed_gpu_unmap_keeps_memory),
      T(test_failed_free_keeps_range),
      T(test_failed_userptr_unmap_keeps_range),
   };
#undef T
   return cmocka_run_group_tests_name("hsakmt-lifetime", tests, NULL, NULL);
}
