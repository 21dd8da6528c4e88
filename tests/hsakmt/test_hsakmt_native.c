/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * What a current host libhsakmt adds, and what Debian's 5.2.3 answers instead
 * (wire-protocol.md §2.2, §2.4, §8): EXPORT_DMABUF and dma-bufs of KFD memory behind
 * SHAREABLE and exported blobs, AVAIL_MEM through hsaKmtAvailableMemory, and the
 * runtime capabilities. The emulator is asked to report a core-dump capability
 * (KFDSIM_RUNTIME_CAPS=0x80000000, set by the test's environment) so that passing
 * it through can be seen. Needs fixed-address allocations: on 5.2.3 that is the
 * reserved aperture, so under ASan it skips there.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "hsakmt_test_env.h"
#include "kfdsim.h"
#include "test_hsakmt_library.h"

#define SIZE         (64u << 10)
#define VRAM         (HSAKMT_MEMFLAG_NON_PAGED | HSAKMT_MEMFLAG_HOST_ACCESS)
#define CORE_DUMP    0x80000000u
#define KFD_OPEN_NR  0x101 /* KFDSIM_NR_OPEN */
#define AVAIL_MEM_NR 0x23

static struct hsakmt_test_env env;
static const uint32_t gpu = 1;

static int
setup(void **state)
{
   hsakmt_test_env_start(&env);
   uint64_t hint = 0x7f0000001000ull;
   struct hsakmt_query_info_rsp *rsp =
      hsakmt_guest_query(&env.guest, HSAKMT_QUERY_OPEN_KFD, &hint, sizeof(hint), 0);
   assert_int_equal(rsp->hdr.ret, 0);
   return 0;
}

static int
teardown(void **state)
{
   hsakmt_test_env_stop(&env);
   return 0;
}

static uint64_t
alloc(uint32_t node, uint32_t flags, uint64_t *blob_id)
{
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_ALLOC;
   req.blob_id = *blob_id = hsakmt_guest_new_blob_id(&env.guest);
   req.alloc.preferred_node = node;
   req.alloc.mem_flags = flags;
   req.alloc.size_in_bytes = SIZE;
   struct hsakmt_memory_rsp *rsp = hsakmt_guest_memory(&env.guest, &req, 0);
   assert_int_equal(rsp->hdr.ret, 0);
   return rsp->memory_handle;
}

static int
claim(uint32_t res, uint64_t blob_id, uint32_t flags)
{
   struct virgl_renderer_resource_create_blob_args args = {
      .res_handle = res,
      .ctx_id = env.guest.ctx_id,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
      .blob_flags = flags,
      .blob_id = blob_id,
      .size = SIZE,
   };
   return virgl_renderer_resource_create_blob(&args);
}

static struct hsakmt_memory_rsp *
export_dmabuf(uint64_t address, uint64_t size, uint32_t res)
{
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_EXPORT_DMABUF;
   req.range.memory_address = address;
   req.range.memory_size_in_bytes = size;
   req.res_id = res;
   return hsakmt_guest_memory(&env.guest, &req, 0);
}

static void
test_export_dmabuf_command(void **state)
{
   int fds = test_count_fds();
   uint64_t blob_id, va = alloc(gpu, VRAM, &blob_id);
   uint32_t res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(claim(res, blob_id, VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE), 0);
   /* the emulator keeps each buffer's pages in a memfd of its own */
   int allocated = test_count_fds();

   struct hsakmt_memory_rsp *rsp = export_dmabuf(va + 4096, 8192, res);
   if (!test_hsakmt_has_dmabuf_export()) {
      /* libhsakmt 5.2.3 has no hsaKmtExportDMABufHandle */
      assert_int_equal(rsp->hdr.ret, VKFD_STATUS_NOT_SUPPORTED);
      assert_true(rsp->export_dmabuf.dmabuf_fd == -1);
      virgl_renderer_resource_unref(res);
      return;
   }
   assert_int_equal(rsp->hdr.ret, 0);
   /* never a host fd number; the offset of the address in its allocation */
   assert_true(rsp->export_dmabuf.dmabuf_fd == -1);
   assert_true(rsp->export_dmabuf.offset == 4096);
   assert_int_equal(test_count_fds(),
                    allocated + 1);  /* the allocation keeps its dma-buf */
   rsp = export_dmabuf(va, SIZE, 0); /* again: the same dma-buf */
   assert_int_equal(rsp->hdr.ret, 0);
   assert_true(rsp->export_dmabuf.offset == 0);
   assert_int_equal(test_count_fds(), allocated + 1);

   /* only this context's allocations, wholly, and under their own res_id */
   assert_int_equal(export_dmabuf(va + SIZE - 4096, 8192, res)->hdr.ret,
                    VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(export_dmabuf(va, 4096, res + 1)->hdr.ret,
                    VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(export_dmabuf((uint64_t)(uintptr_t)&env, 4096, 0)->hdr.ret,
                    VKFD_STATUS_INVALID_PARAMETER);
   struct hsakmt_guest other;
   assert_int_equal(hsakmt_guest_open(&other, 2, 5000), 0);
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_EXPORT_DMABUF;
   req.range.memory_address = va;
   req.range.memory_size_in_bytes = 4096;
   assert_int_equal(hsakmt_guest_memory(&other, &req, 0)->hdr.ret,
                    VKFD_STATUS_INVALID_PARAMETER);
   hsakmt_guest_close(&other);

   /* pageable system memory is a userptr to the GPU driver: no dma-buf of it */
   uint64_t paged_id,
      paged =
         alloc(0, HSAKMT_MEMFLAG_HOST_ACCESS | HSAKMT_MEMFLAG_COARSE_GRAIN, &paged_id);
   uint32_t paged_res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(claim(paged_res, paged_id, VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE), 0);
   assert_int_equal(export_dmabuf(paged, SIZE, paged_res)->hdr.ret, VKFD_STATUS_ERROR);
   virgl_renderer_resource_unref(paged_res);
   virgl_renderer_resource_unref(res);
   assert_int_equal(test_count_fds(), fds); /* the dma-buf went with the allocation */
}

static void
test_shareable_blob(void **state)
{
   unsigned bos = kfdsim_live_bos();
   int fds = test_count_fds();
   uint64_t blob_id, va = alloc(gpu, VRAM, &blob_id);
   uint32_t res = hsakmt_guest_new_res_id(&env.guest);
   int ret = claim(res, blob_id,
                   VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE |
                      VIRGL_RENDERER_BLOB_FLAG_USE_SHAREABLE);
   if (!test_hsakmt_has_dmabuf_export()) {
      /* a SHAREABLE blob is a dma-buf, which 5.2.3 cannot make: refused, freed */
      assert_true(ret < 0);
      assert_int_equal(kfdsim_live_bos(), bos);
      assert_int_equal(test_count_fds(), fds);
      return;
   }
   assert_int_equal(ret, 0);
   /* mapped at the allocation's VA for the VMM, exported as its dma-buf */
   void *map;
   uint64_t size;
   assert_int_equal(virgl_renderer_resource_map(res, &map, &size), 0);
   assert_true((uint64_t)(uintptr_t)map == va && size == SIZE);
   memcpy((char *)map + 100, "guest wrote", 12);
   uint32_t fd_type;
   int fd;
   assert_int_equal(virgl_renderer_resource_export_blob(res, &fd_type, &fd), 0);
   assert_int_equal(fd_type, VIRGL_RENDERER_BLOB_FD_TYPE_DMABUF);
   assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
   char *other_view = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
   assert_true(other_view != MAP_FAILED);
   assert_memory_equal(other_view + 100, "guest wrote", 12);
   munmap(other_view, SIZE);
   close(fd);
   assert_int_equal(virgl_renderer_resource_unmap(res), 0);
   virgl_renderer_resource_unref(res);
   assert_int_equal(kfdsim_live_bos(), bos);
   assert_int_equal(test_count_fds(), fds);
}

static void
test_mappable_blob_export(void **state)
{
   uint64_t blob_id;
   alloc(gpu, VRAM, &blob_id);
   uint32_t res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(claim(res, blob_id, VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE), 0);
   uint32_t fd_type = 0;
   int fd = -1;
   int ret = virgl_renderer_resource_export_blob(res, &fd_type, &fd);
   if (test_hsakmt_has_dmabuf_export()) {
      assert_int_equal(ret, 0);
      assert_int_equal(fd_type, VIRGL_RENDERER_BLOB_FD_TYPE_DMABUF);
      assert_int_equal(lseek(fd, 0, SEEK_END), SIZE);
      close(fd);
   } else {
      assert_int_equal(ret, -EOPNOTSUPP);
   }
   virgl_renderer_resource_unref(res);

   /* not MAPPABLE or SHAREABLE: nothing to hand out, on either library */
   alloc(gpu, HSAKMT_MEMFLAG_NON_PAGED, &blob_id);
   res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(claim(res, blob_id, 0), 0);
   assert_int_equal(virgl_renderer_resource_export_blob(res, &fd_type, &fd), -EINVAL);
   virgl_renderer_resource_unref(res);
}

static void
test_available_memory_path(void **state)
{
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_AVAIL_MEM;
   req.node = gpu;
   kfdsim_log_clear();
   struct hsakmt_memory_rsp *rsp = hsakmt_guest_memory(&env.guest, &req, 0);
   assert_int_equal(rsp->hdr.ret, 0);
   assert_true(rsp->memory_handle > 0 && rsp->memory_handle % (2u << 20) == 0);
   assert_int_equal(kfdsim_ioctl_count(AVAIL_MEM_NR), 1);
   /* hsaKmtAvailableMemory uses the library's own /dev/kfd fd; without it virtkfd
    * opens a second one for the ioctl (§8) */
   assert_int_equal(kfdsim_ioctl_count(KFD_OPEN_NR),
                    test_hsakmt_has_available_memory() ? 0 : 1);
}

static void
test_runtime_capabilities(void **state)
{
   uint8_t enable[8] = { 0 };
   struct hsakmt_query_info_rsp *rsp =
      hsakmt_guest_query(&env.guest, HSAKMT_QUERY_RUN_TIME_ENABLE, enable, 8, 0);
   assert_int_equal(rsp->hdr.ret, 0);
   uint32_t zero = 0;
   rsp = hsakmt_guest_query(&env.guest, HSAKMT_QUERY_GET_RUNTIME_CAPS, &zero, 4, 0);
   assert_int_equal(rsp->hdr.ret, 0); /* ROCr's init needs SUCCESS */
   if (test_hsakmt_has_runtime_caps()) {
      /* what KFD's RUNTIME_ENABLE reported, through hsaKmtGetRuntimeCapabilities */
      assert_int_equal(rsp->caps, CORE_DUMP);
   } else {
      assert_int_equal(rsp->caps, 0); /* 5.2.3 has no such call (§8) */
   }
}

int
main(void)
{
#if defined(__SANITIZE_ADDRESS__)
   if (!test_hsakmt_native_fixed_va()) {
      printf("SKIP: libhsakmt 5.2.3's reserved SVM aperture must lie below 2^40, where "
             "AddressSanitizer keeps its shadow memory\n");
      return 77;
   }
#endif
   printf("on %s\n", test_hsakmt_library_name());
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
   const struct CMUnitTest tests[] = {
      T(test_export_dmabuf_command), T(test_shareable_blob),
      T(test_mappable_blob_export),  T(test_available_memory_path),
      T(test_runtime_capabilities),
   };
#undef T
   return cmocka_run_group_tests_name("hsakmt-native", tests, NULL, NULL);
}
