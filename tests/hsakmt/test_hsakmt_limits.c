/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Per-context limits (hsakmt_limits.h, docs/security.md): one guest process must not
 * take the whole KFD VA window, a GPU's memory or the host's object memory away from
 * the others. First the measurement of what one context takes without limits, then
 * each limit reached, refused with NO_MEMORY, and another context unaffected.
 *
 * The emulated GPU has 1 GiB of VRAM here (KFDSIM_VRAM_MB in meson.build). KFD memory
 * needs the fixed-address window, which ASan builds do not have.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <cmocka.h>

#include "hsakmt/hsakmt_limits.h"
#include "hsakmt_guest_compute.h"
#include "hsakmt_test_env.h"
#include "kfdsim.h"

#define MIB       (1ull << 20)
#define CHUNK     (64 * MIB)
#define VRAM      (HSAKMT_MEMFLAG_NON_PAGED | HSAKMT_MEMFLAG_HOST_ACCESS)
#define SYSTEM    (HSAKMT_MEMFLAG_HOST_ACCESS | HSAKMT_MEMFLAG_COARSE_GRAIN)
#define CTX_B     2
#define MAX_CHUNK 64

static struct hsakmt_test_env env;
static struct hsakmt_guest b;
static uint32_t gpu = 1;
static uint64_t vram_size;

static void
use_limits(const char *limits)
{
   if (limits)
      setenv("VIRTKFD_CONTEXT_LIMITS", limits, 1);
   else
      unsetenv("VIRTKFD_CONTEXT_LIMITS");
   hsakmt_limits_reset();
}

static int
setup(void **state)
{
   hsakmt_test_env_start(&env);
   uint64_t start, size;
   assert_int_equal(hsakmt_guest_open_kfd(&env.guest, &start, &size), 0);
   assert_int_equal(hsakmt_guest_open(&b, CTX_B, 5000), 0);
   assert_int_equal(hsakmt_guest_open_kfd(&b, &start, &size), 0);
   uint32_t node = gpu;
   struct hsakmt_query_info_rsp *rsp =
      hsakmt_guest_query(&env.guest, HSAKMT_QUERY_GET_NODE_PROP, &node, 4, 0);
   vram_size = rsp->node_props.local_mem_size;
   assert_true(vram_size >= 512 * MIB);
   return 0;
}

static int
teardown(void **state)
{
   hsakmt_guest_close(&b);
   hsakmt_test_env_stop(&env);
   use_limits(NULL);
   return 0;
}

/* Allocations of one guest, each claimed by a blob, until the first refusal. */
struct taken {
   uint32_t res[MAX_CHUNK];
   unsigned count;
   int refusal; /* the status that stopped it */
};

static int
alloc_claimed(struct hsakmt_guest *guest, uint32_t flags, uint64_t size, uint32_t *res)
{
   uint64_t id = hsakmt_guest_new_blob_id(guest), va;
   int status = hsakmt_guest_alloc(guest, flags & HSAKMT_MEMFLAG_NON_PAGED ? gpu : 0,
                                   flags, size, 0, id, &va);
   if (status)
      return status;
   *res = hsakmt_guest_new_res_id(guest);
   assert_int_equal(hsakmt_guest_claim(guest, *res, id, 0, size), 0);
   return 0;
}

static void
take_until_refused(struct hsakmt_guest *guest, uint32_t flags, uint64_t size,
                   struct taken *taken)
{
   taken->count = 0;
   taken->refusal = 0;
   while (taken->count < MAX_CHUNK) {
      taken->refusal = alloc_claimed(guest, flags, size, &taken->res[taken->count]);
      if (taken->refusal)
         return;
      taken->count++;
   }
}

static void
give_back(struct taken *taken)
{
   for (unsigned i = 0; i < taken->count; i++)
      virgl_renderer_resource_unref(taken->res[i]);
   taken->count = 0;
}

static uint64_t
available(struct hsakmt_guest *guest)
{
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_AVAIL_MEM;
   req.node = gpu;
   struct hsakmt_memory_rsp *rsp = hsakmt_guest_memory(guest, &req, 0);
   assert_int_equal(rsp->hdr.ret, 0);
   return rsp->memory_handle;
}

/* What one context could take before the limits existed: every byte of VRAM. */
static void
test_one_context_without_limits(void **state)
{
   use_limits("window=100%,vram=100%,sysmem=100%,objects=1000000");
   uint64_t vram_free = available(&env.guest); /* less what the driver reserves */
   struct taken a;
   take_until_refused(&env.guest, VRAM, CHUNK, &a);
   printf("one context without limits took %u MiB of %llu MiB of VRAM\n",
          (unsigned)(a.count * (CHUNK / MIB)), (unsigned long long)(vram_size / MIB));
   assert_int_equal(a.refusal, VKFD_STATUS_NO_MEMORY);
   /* all of it, to the last whole chunk */
   assert_true((uint64_t)(a.count + 1) * CHUNK > vram_free);
   /* and the other context got nothing */
   uint32_t res;
   assert_int_equal(alloc_claimed(&b, VRAM, CHUNK, &res), VKFD_STATUS_NO_MEMORY);
   give_back(&a);
}

static void
test_vram_limit(void **state)
{
   use_limits("vram=100%");
   uint64_t vram_free = available(&env.guest); /* less what the driver reserves */
   use_limits(NULL); /* the defaults: 90% of a GPU's memory per context */
   uint64_t limit = hsakmt_limit_of(HSAKMT_LIMIT_VRAM, gpu);
   assert_true(limit == vram_size * 9 / 10);
   struct taken a;
   take_until_refused(&env.guest, VRAM, CHUNK, &a);
   printf("with the default limits one context took %u MiB of %llu MiB of VRAM\n",
          (unsigned)(a.count * (CHUNK / MIB)), (unsigned long long)(vram_size / MIB));
   assert_int_equal(a.refusal, VKFD_STATUS_NO_MEMORY);
   assert_true((uint64_t)a.count * CHUNK <= limit);
   assert_true((uint64_t)(a.count + 1) * CHUNK > limit);
   /* what A is told is what A may still take */
   assert_true(available(&env.guest) < CHUNK);
   /* B still gets the rest */
   struct taken other;
   take_until_refused(&b, VRAM, CHUNK, &other);
   assert_true(other.count >= 1);
   assert_true((uint64_t)(a.count + other.count + 1) * CHUNK > vram_free);
   give_back(&other);
   /* a detached blob the VMM still holds keeps counting against A */
   virgl_renderer_ctx_detach_resource(env.guest.ctx_id, (int)a.res[0]);
   uint32_t res;
   assert_int_equal(alloc_claimed(&env.guest, VRAM, CHUNK, &res), VKFD_STATUS_NO_MEMORY);
   /* once the VMM lets go, A may take it again */
   virgl_renderer_resource_unref(a.res[0]);
   assert_true(available(&env.guest) >= CHUNK);
   assert_int_equal(alloc_claimed(&env.guest, VRAM, CHUNK, &a.res[0]), 0);
   give_back(&a);
}

static void
test_object_limit(void **state)
{
   use_limits("objects=8");
   struct taken a;
   take_until_refused(&env.guest, SYSTEM, 64 * 1024, &a);
   assert_int_equal(a.count, 8);
   assert_int_equal(a.refusal, VKFD_STATUS_NO_MEMORY);
   /* userptr blobs are objects too */
   struct test_guest_ram ram;
   test_guest_ram_create(&ram, 64 * 1024);
   struct iovec iov = { ram.base, 64 * 1024 };
   uint32_t res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_create_userptr(&env.guest, res, &iov, 1, 64 * 1024,
                                                VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR),
                    -ENOSPC);
   /* B has its own count */
   struct taken other;
   take_until_refused(&b, SYSTEM, 64 * 1024, &other);
   assert_int_equal(other.count, 8);
   give_back(&other);
   /* a freed object makes room */
   virgl_renderer_resource_unref(a.res[--a.count]);
   assert_int_equal(hsakmt_guest_create_userptr(&env.guest, res, &iov, 1, 64 * 1024,
                                                VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR),
                    0);
   virgl_renderer_resource_unref(res);
   test_guest_ram_destroy(&ram);
   give_back(&a);
}

static void
test_window_and_sysmem_limits(void **state)
{
   use_limits("window=1G,sysmem=256M");
   struct taken a;
   take_until_refused(&env.guest, SYSTEM, CHUNK, &a);
   assert_int_equal(a.count, 256 * MIB / CHUNK);
   assert_int_equal(a.refusal, VKFD_STATUS_NO_MEMORY);
   /* VRAM counts against the window, not against system memory */
   struct taken vram;
   take_until_refused(&env.guest, VRAM, CHUNK, &vram);
   assert_int_equal(vram.count, (1024 * MIB - 256 * MIB) / CHUNK);
   /* B is not affected */
   uint32_t res;
   assert_int_equal(alloc_claimed(&b, SYSTEM, CHUNK, &res), 0);
   virgl_renderer_resource_unref(res);
   give_back(&vram);
   give_back(&a);
}

static void
test_queue_and_event_limits(void **state)
{
   /* amdkfd has 1024 queues and 4096 events for every context together */
   use_limits(NULL);
   hsakmt_test_env_warm_up_compute(&env, gpu);
   assert_int_equal(hsakmt_limit_of(HSAKMT_LIMIT_QUEUES, 0), 256);
   assert_int_equal(hsakmt_limit_of(HSAKMT_LIMIT_EVENTS, 0), 1024);
   use_limits("events=2,queues=1");
   uint64_t blob_ids[3];
   for (int i = 0; i < 3; i++) {
      blob_ids[i] = hsakmt_guest_new_blob_id(&env.guest);
      assert_int_equal(
         hsakmt_guest_create_event(&env.guest, gpu, false, false, blob_ids[i], NULL),
         i < 2 ? 0 : VKFD_STATUS_NO_MEMORY);
   }
   /* the other context has its own */
   assert_int_equal(hsakmt_guest_create_event(&b, gpu, false, false,
                                              hsakmt_guest_new_blob_id(&b), NULL),
                    0);
   struct hsakmt_guest_aql aql;
   assert_int_equal(hsakmt_guest_aql_memory(&env.guest, gpu, 4096, &aql), 0);
   assert_int_equal(hsakmt_guest_aql_create(&env.guest, &aql, 0, true), 0);
   uint32_t first_queue = aql.queue_res, doorbell = aql.doorbell_res;
   assert_int_equal(hsakmt_guest_aql_create(&env.guest, &aql, 0, false),
                    VKFD_STATUS_NO_MEMORY);
   /* a queue that goes gives its place back */
   virgl_renderer_resource_unref(first_queue);
   assert_int_equal(hsakmt_guest_aql_create(&env.guest, &aql, 0, false), 0);
   virgl_renderer_resource_unref(aql.queue_res);
   virgl_renderer_resource_unref(doorbell);
   hsakmt_guest_aql_memory_release(&env.guest, &aql);
   /* the pending events go with their contexts */
}

static void
test_bad_settings_keep_defaults(void **state)
{
   use_limits("vram=abc,window=0%,objects=50%,sysmem=101%,frobs=3,window,queues=5%");
   assert_true(hsakmt_limit_of(HSAKMT_LIMIT_VRAM, gpu) == vram_size * 9 / 10);
   assert_int_equal(hsakmt_limit_of(HSAKMT_LIMIT_OBJECTS, 0), 65536);
   assert_int_equal(hsakmt_limit_of(HSAKMT_LIMIT_QUEUES, 0), 256);
   use_limits("objects=12,vram=512M,sysmem=1T");
   assert_int_equal(hsakmt_limit_of(HSAKMT_LIMIT_OBJECTS, 0), 12);
   assert_true(hsakmt_limit_of(HSAKMT_LIMIT_VRAM, gpu) == 512 * MIB);
   assert_true(hsakmt_limit_of(HSAKMT_LIMIT_SYSMEM, 0) == 1ull << 40);
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
      T(test_one_context_without_limits),
      T(test_vram_limit),
      T(test_object_limit),
      T(test_window_and_sysmem_limits),
      T(test_queue_and_event_limits),
      T(test_bad_settings_keep_defaults),
   };
#undef T
   return cmocka_run_group_tests_name("hsakmt-limits", tests, NULL, NULL);
}
