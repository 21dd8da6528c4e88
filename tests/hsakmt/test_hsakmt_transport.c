/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The capset-8 command stream (wire-protocol.md §1, hostile-inputs.md "Native-context
 * ccmd stream"): capset, shared memory, framing, responses and seqnos, on the real
 * libhsakmt over the KFD emulator.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hsakmt_test_env.h"
#include "kfdsim.h"

static struct hsakmt_test_env env;

static int
setup(void **state)
{
   hsakmt_test_env_start(&env);
   return 0;
}

static int
teardown(void **state)
{
   hsakmt_test_env_stop(&env);
   return 0;
}

static struct hsakmt_query_info_req
version_query(void)
{
   struct hsakmt_query_info_req req;
   memset(&req, 0, sizeof(req));
   req.hdr.cmd = HSAKMT_CCMD_QUERY_INFO;
   req.type = HSAKMT_QUERY_GET_VER;
   return req;
}

static void
test_capset(void **state)
{
   uint32_t max_ver = 0, max_size = 0;
   virgl_renderer_get_cap_set(HSAKMT_CAPSET_ID, &max_ver, &max_size);
   assert_int_equal(max_ver, 1);
   assert_int_equal(max_size, 24);
   struct virgl_renderer_capset_hsakmt caps;
   memset(&caps, 0, sizeof(caps));
   virgl_renderer_fill_caps(HSAKMT_CAPSET_ID, 0, &caps);
   assert_int_equal(caps.context_type, HSAKMT_CONTEXT_TYPE_AMDGPU);
   assert_int_equal(caps.wire_format_version, HSAKMT_WIRE_FORMAT_VERSION);
   assert_int_equal(caps.version_major, 1);
   assert_true(caps.version_minor >= 5);
   assert_int_equal(caps.pad, 0);
}

static void
test_one_request_roundtrip(void **state)
{
   struct hsakmt_query_info_req req = version_query();
   struct hsakmt_query_info_rsp *rsp =
      hsakmt_guest_call(&env.guest, &req, sizeof(req), 424);
   assert_non_null(rsp);
   assert_int_equal(rsp->hdr.ret, 0);
   assert_int_equal(rsp->hdr.len, 424);
   assert_int_equal(rsp->kfd_version.kernel_interface_major, 1);
   assert_int_equal(hsakmt_guest_published_seqno(&env.guest), env.guest.seqno);
}

static void
test_nop_and_concatenation(void **state)
{
   /* three requests in one submit: NOP, GET_VER, GET_SYS_PROP */
   uint8_t buffer[16 + 2 * sizeof(struct hsakmt_query_info_req)];
   struct hsakmt_ccmd_req nop = { HSAKMT_CCMD_NOP, 16, ++env.guest.seqno, 0 };
   memcpy(buffer, &nop, sizeof(nop));
   struct hsakmt_query_info_req a = version_query(), b = version_query();
   b.type = HSAKMT_QUERY_GET_SYS_PROP;
   a.hdr = (struct hsakmt_ccmd_req){ HSAKMT_CCMD_QUERY_INFO, 128, ++env.guest.seqno, 0 };
   b.hdr =
      (struct hsakmt_ccmd_req){ HSAKMT_CCMD_QUERY_INFO, 128, ++env.guest.seqno, 424 };
   memcpy(buffer + 16, &a, sizeof(a));
   memcpy(buffer + 16 + sizeof(a), &b, sizeof(b));
   uint8_t *area = env.guest.shmem + env.guest.rsp_mem_offset;
   uint32_t slot = 424;
   memcpy(area, &slot, 4);
   memcpy(area + 424, &slot, 4);
   assert_int_equal(hsakmt_guest_submit_raw(&env.guest, buffer, sizeof(buffer)), 0);
   assert_int_equal(hsakmt_guest_published_seqno(&env.guest), env.guest.seqno);
   const struct hsakmt_query_info_rsp *ra = (const void *)area;
   const struct hsakmt_query_info_rsp *rb = (const void *)(area + 424);
   assert_int_equal(ra->kfd_version.kernel_interface_major, 1);
   assert_true(rb->sys_props.num_nodes >= 2);
}

static void
test_framing_errors_publish_seqno(void **state)
{
   struct hsakmt_query_info_req req = version_query();
   uint32_t base = env.guest.seqno;

   /* len below the header, not 8-aligned (and not last), larger than the buffer */
   const uint32_t bad_lens[] = { 0, 8, 15, 20, 132, 256 };
   for (size_t i = 0; i < sizeof(bad_lens) / sizeof(bad_lens[0]); i++) {
      uint8_t buffer[sizeof(req) + 16];
      memset(buffer, 0, sizeof(buffer));
      req.hdr =
         (struct hsakmt_ccmd_req){ HSAKMT_CCMD_QUERY_INFO, bad_lens[i], ++base, 0 };
      memcpy(buffer, &req, sizeof(req));
      /* a well-formed NOP after it must not run: the rest of the submit is dropped */
      struct hsakmt_ccmd_req nop = { HSAKMT_CCMD_NOP, 16, base + 1000, 0 };
      memcpy(buffer + sizeof(req), &nop, sizeof(nop));
      int ret = hsakmt_guest_submit_raw(&env.guest, buffer, sizeof(buffer));
      assert_int_equal(ret, -EINVAL);
      assert_int_equal(hsakmt_guest_published_seqno(&env.guest), base);
   }

   /* an unaligned rsp_off */
   req.hdr = (struct hsakmt_ccmd_req){ HSAKMT_CCMD_QUERY_INFO, 128, ++base, 4 };
   assert_int_equal(hsakmt_guest_submit_raw(&env.guest, &req, sizeof(req)), -EINVAL);
   assert_int_equal(hsakmt_guest_published_seqno(&env.guest), base);

   /* trailing bytes after a valid request: the request runs, the tail is refused */
   uint8_t tail[sizeof(req) + 8];
   req.hdr = (struct hsakmt_ccmd_req){ HSAKMT_CCMD_QUERY_INFO, 128, ++base, 0 };
   memcpy(tail, &req, sizeof(req));
   memset(tail + sizeof(req), 0, 8);
   assert_int_equal(hsakmt_guest_submit_raw(&env.guest, tail, sizeof(tail)), -EINVAL);
   assert_int_equal(hsakmt_guest_published_seqno(&env.guest), base);

   /* a final request with len % 8 == 4 is accepted (SET_CU_MASK with odd words) */
   uint8_t odd[132];
   memset(odd, 0, sizeof(odd));
   req.hdr = (struct hsakmt_ccmd_req){ HSAKMT_CCMD_QUERY_INFO, 132, ++base, 0 };
   memcpy(odd, &req, sizeof(req));
   assert_int_equal(hsakmt_guest_submit_raw(&env.guest, odd, sizeof(odd)), 0);
   assert_int_equal(hsakmt_guest_published_seqno(&env.guest), base);
   env.guest.seqno = base;
}

static void
test_unknown_commands_answer_not_supported(void **state)
{
   const uint32_t cmds[] = { 0, 7, 100, UINT32_MAX };
   for (size_t i = 0; i < 4; i++) {
      struct hsakmt_query_info_req req = version_query();
      req.hdr.cmd = cmds[i];
      struct hsakmt_ccmd_rsp *rsp = hsakmt_guest_call(&env.guest, &req, sizeof(req), 64);
      assert_non_null(rsp);
      assert_int_equal(rsp->ret, VKFD_STATUS_NOT_SUPPORTED);
      assert_int_equal(rsp->len, 8);
   }
   /* unknown and unimplemented sub-types of every command: never silent success */
   struct {
      uint32_t cmd, type, req_len, rsp_len, type_offset;
   } subs[] = {
      { HSAKMT_CCMD_QUERY_INFO, HSAKMT_QUERY_COUNT, 128, 424, 48 },
      { HSAKMT_CCMD_QUERY_INFO, UINT32_MAX, 128, 424, 48 },
      { HSAKMT_CCMD_QUERY_INFO, HSAKMT_QUERY_SPM_ACQUIRE, 128, 424, 48 },
      { HSAKMT_CCMD_EVENT, HSAKMT_EVENT_COUNT, 104, 80, 80 },
      { HSAKMT_CCMD_EVENT, HSAKMT_EVENT_WAIT_ON_MULTI_EVENTS, 104, 80, 80 },
      { HSAKMT_CCMD_MEMORY, HSAKMT_MEMORY_COUNT, 312, 320, 304 },
      { HSAKMT_CCMD_MEMORY, HSAKMT_MEMORY_FREE, 312, 320, 304 },
      { HSAKMT_CCMD_MEMORY, HSAKMT_MEMORY_SVM_GET_ATTR, 312, 320, 304 },
      { HSAKMT_CCMD_QUEUE, HSAKMT_QUEUE_COUNT, 136, 168, 124 },
      { HSAKMT_CCMD_GL_INTER, 7, 48, 120, 40 },
   };
   for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
      uint8_t req[312];
      memset(req, 0, sizeof(req));
      struct hsakmt_ccmd_req hdr = { subs[i].cmd, 0, 0, 0 };
      memcpy(req, &hdr, sizeof(hdr));
      memcpy(req + subs[i].type_offset, &subs[i].type, 4);
      struct hsakmt_ccmd_rsp *rsp =
         hsakmt_guest_call(&env.guest, req, subs[i].req_len, subs[i].rsp_len);
      assert_non_null(rsp);
      assert_int_equal(rsp->ret, VKFD_STATUS_NOT_SUPPORTED);
   }
}

static void
test_short_request_is_zero_extended(void **state)
{
   /* an old guest's 64-byte QUERY_INFO: the rest reads as zeros, node 0 */
   struct hsakmt_query_info_req req = version_query();
   req.type = HSAKMT_QUERY_GET_NODE_PROP;
   struct hsakmt_query_info_rsp *rsp = hsakmt_guest_call(&env.guest, &req, 64, 424);
   assert_non_null(rsp);
   assert_int_equal(rsp->hdr.ret, 0);
   assert_true(rsp->node_props.num_cpu_cores > 0); /* node 0 is the CPU */
}

static void
test_response_bounds(void **state)
{
   uint8_t *area = env.guest.shmem + env.guest.rsp_mem_offset;
   uint32_t area_size = env.guest.rsp_area_size;
   struct hsakmt_query_info_req req = version_query();

   /* a slot the guest sized at 16 bytes gets 16 bytes, nothing past it */
   memset(area, 0xcc, 64);
   uint32_t small = 16;
   memcpy(area, &small, 4);
   req.hdr =
      (struct hsakmt_ccmd_req){ HSAKMT_CCMD_QUERY_INFO, 128, ++env.guest.seqno, 0 };
   assert_int_equal(hsakmt_guest_submit_raw(&env.guest, &req, sizeof(req)), 0);
   const struct hsakmt_query_info_rsp *rsp = (const void *)area;
   assert_int_equal(rsp->hdr.len, 16);
   assert_int_equal(rsp->kfd_version.kernel_interface_major, 1);
   assert_int_equal(area[16], 0xcc);

   /* a slot below the header size: nothing written, seqno still published */
   uint32_t tiny = 4;
   memcpy(area, &tiny, 4);
   memset(area + 4, 0xcc, 8);
   req.hdr.seqno = ++env.guest.seqno;
   assert_int_equal(hsakmt_guest_submit_raw(&env.guest, &req, sizeof(req)), 0);
   assert_int_equal(area[4], 0xcc);
   assert_int_equal(hsakmt_guest_published_seqno(&env.guest), env.guest.seqno);

   /* rsp_off at and past the end of the area, and near UINT32_MAX */
   const uint32_t offsets[] = { area_size - 8, area_size, area_size + 8, 0xfffffff8u };
   for (size_t i = 0; i < 4; i++) {
      req.hdr = (struct hsakmt_ccmd_req){ HSAKMT_CCMD_QUERY_INFO, 128, ++env.guest.seqno,
                                          offsets[i] };
      if (offsets[i] <= area_size - 8) {
         uint32_t len = 424;
         memcpy(area + offsets[i], &len, 4);
      }
      assert_int_equal(hsakmt_guest_submit_raw(&env.guest, &req, sizeof(req)), 0);
      assert_int_equal(hsakmt_guest_published_seqno(&env.guest), env.guest.seqno);
   }
   /* the last in-bounds slot got exactly the 8 bytes that fit */
   const struct hsakmt_ccmd_rsp *last = (const void *)(area + area_size - 8);
   assert_int_equal(last->len, 8);
   assert_int_equal(last->ret, 0);
}

static void
test_shmem_rules(void **state)
{
   /* a second shmem in the same context */
   struct virgl_renderer_resource_create_blob_args args = {
      .res_handle = 900,
      .ctx_id = 1,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
      .blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE,
      .size = HSAKMT_GUEST_SHMEM_SIZE,
   };
   assert_int_equal(virgl_renderer_resource_create_blob(&args), -EINVAL);

   /* a new context: wrong flags, too small, not a page multiple, too large */
   assert_int_equal(
      virgl_renderer_context_create_with_flags(2, HSAKMT_CAPSET_ID, 0, NULL), 0);
   struct hsakmt_query_info_req req = version_query();
   req.hdr = (struct hsakmt_ccmd_req){ HSAKMT_CCMD_QUERY_INFO, 128, 1, 0 };
   assert_int_equal(virgl_renderer_submit_cmd(&req, 2, 32), -EINVAL); /* before shmem */
   args.ctx_id = 2;
   const struct {
      uint32_t flags;
      uint64_t size;
   } bad[] = {
      { 0, 4096 },
      { VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE | VIRGL_RENDERER_BLOB_FLAG_USE_SHAREABLE,
        4096 },
      { VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE, 16 },
      { VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE, 4096 + 8 },
      { VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE, 1ull << 32 },
      { VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE, UINT64_MAX },
   };
   for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
      args.blob_flags = bad[i].flags;
      args.size = bad[i].size;
      assert_int_equal(virgl_renderer_resource_create_blob(&args), -EINVAL);
   }
   args.blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE;
   args.size = 4096;
   assert_int_equal(virgl_renderer_resource_create_blob(&args), 0);
   uint32_t fd_type;
   int fd;
   assert_int_equal(virgl_renderer_resource_export_blob(900, &fd_type, &fd), 0);
   assert_int_equal(fd_type, VIRGL_RENDERER_BLOB_FD_TYPE_SHM);
   close(fd);
   /* unref the shmem, then commands have nowhere to answer */
   virgl_renderer_resource_unref(900);
   assert_int_equal(virgl_renderer_submit_cmd(&req, 2, 32), -EINVAL);
   args.res_handle = 901;
   assert_int_equal(virgl_renderer_resource_create_blob(&args), -EINVAL); /* only one */
   virgl_renderer_context_destroy(2);
}

static atomic_bool flipping;

static void *
flip_thread(void *arg)
{
   volatile uint32_t *slot = arg;
   while (atomic_load(&flipping)) {
      *slot = 0xfffffff0u;
      *slot = 8;
      *slot = 424;
   }
   return NULL;
}

static void *
flip_end_thread(void *arg)
{
   volatile uint32_t *slot = arg;
   while (atomic_load(&flipping)) {
      *slot = 32;
      *slot = 0xfffffff0u;
   }
   return NULL;
}

static void
test_guest_flips_shared_memory(void **state)
{
   /* a guest thread rewriting the slot length while the host answers (double fetch) */
   uint8_t *area = env.guest.shmem + env.guest.rsp_mem_offset;
   memset(area + 4096 + 424, 0xab, 64);
   atomic_store(&flipping, true);
   pthread_t thread;
   assert_int_equal(pthread_create(&thread, NULL, flip_thread, area + 4096), 0);
   for (int i = 0; i < 2000; i++) {
      struct hsakmt_query_info_req req = version_query();
      req.type = HSAKMT_QUERY_GET_NODE_PROP;
      req.hdr =
         (struct hsakmt_ccmd_req){ HSAKMT_CCMD_QUERY_INFO, 128, ++env.guest.seqno, 4096 };
      assert_int_equal(hsakmt_guest_submit_raw(&env.guest, &req, sizeof(req)), 0);
      assert_int_equal(hsakmt_guest_published_seqno(&env.guest), env.guest.seqno);
   }
   atomic_store(&flipping, false);
   pthread_join(thread, NULL);
   /* whatever the guest wrote, the host never wrote past the 424-byte response */
   for (int i = 0; i < 64; i++)
      assert_int_equal(area[4096 + 424 + i], 0xab);

   /*
    * The last 64 bytes of the area, the length flipping between a size that fits
    * and one far past the end of the shared memory: a host that checked one
    * fetch of the length and copied with another would write past the mapping.
    */
   uint32_t last = (env.guest.rsp_area_size - 64) & ~7u;
   atomic_store(&flipping, true);
   assert_int_equal(pthread_create(&thread, NULL, flip_end_thread, area + last), 0);
   for (int i = 0; i < 2000; i++) {
      struct hsakmt_query_info_req req = version_query();
      req.type = HSAKMT_QUERY_GET_NODE_PROP;
      req.hdr =
         (struct hsakmt_ccmd_req){ HSAKMT_CCMD_QUERY_INFO, 128, ++env.guest.seqno, last };
      assert_int_equal(hsakmt_guest_submit_raw(&env.guest, &req, sizeof(req)), 0);
      assert_int_equal(hsakmt_guest_published_seqno(&env.guest), env.guest.seqno);
   }
   atomic_store(&flipping, false);
   pthread_join(thread, NULL);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
   const struct CMUnitTest tests[] = {
      T(test_capset),
      T(test_one_request_roundtrip),
      T(test_nop_and_concatenation),
      T(test_framing_errors_publish_seqno),
      T(test_unknown_commands_answer_not_supported),
      T(test_short_request_is_zero_extended),
      T(test_response_bounds),
      T(test_shmem_rules),
      T(test_guest_flips_shared_memory),
   };
#undef T
   return cmocka_run_group_tests_name("hsakmt-transport", tests, NULL, NULL);
}
