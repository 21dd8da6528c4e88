/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Zero-copy userptr end to end (design.md "The userptr path", wire-protocol.md §4.3):
 * CREATE_BLOB(HOST3D_GUEST) from memfd guest RAM -> MAP_USERPTR -> REG_MEM_WITH_FLAG
 * -> MAP_TO_GPU_NODES on the real libhsakmt over the KFD emulator. The emulator shows
 * one USERPTR allocation at the alias, the GPU and the guest see the same bytes, and
 * unref leaves no registration, mapping or fd behind. Then every refusal.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>

#include "hsakmt/hsakmt_va.h"
#include "kfd/vkfd_kfd.h"
#include "hsakmt_test_env.h"
#include "kfdsim.h"

#define PAGE         4096u
#define RAM_SIZE     (128u << 20)
#define BUFFER_SIZE  (64u << 20)
#define KFD_ALLOC_NR 0x16
#define KFD_MAP_NR   0x18
#define KFD_USERPTR  (1u << 2) /* KFD_IOC_ALLOC_MEM_FLAGS_USERPTR */

static struct hsakmt_test_env env;
static struct test_guest_ram ram;
static uint32_t gpu_node_id;

static int
setup(void **state)
{
   hsakmt_test_env_start(&env);
   test_guest_ram_create(&ram, RAM_SIZE);
   /* node 1 is the GPU in the emulator's default topology */
   struct hsakmt_query_info_rsp *rsp;
   uint32_t node = 1;
   rsp = hsakmt_guest_query(&env.guest, HSAKMT_QUERY_GET_NODE_PROP, &node, 4, 0);
   assert_true(rsp->node_props.kfd_gpu_id != 0);
   gpu_node_id = node;
   return 0;
}

static int
teardown(void **state)
{
   test_guest_ram_destroy(&ram);
   hsakmt_test_env_stop(&env);
   return 0;
}

static struct hsakmt_memory_rsp *
memory_call(uint32_t type, uint32_t res_id, struct hsakmt_memory_req *req, uint32_t len)
{
   req->type = type;
   req->res_id = res_id;
   return hsakmt_guest_memory(&env.guest, req, len);
}

/* True when no page of [address, address + size) is mapped. */
static bool
range_unmapped(uint64_t address, uint64_t size)
{
   return !test_range_mapped((uintptr_t)address, (size_t)size);
}

/* Shuffled page order, deterministic. */
static uint32_t *
shuffled(uint32_t count, uint32_t seed)
{
   uint32_t *perm = malloc(count * sizeof(*perm));
   assert_non_null(perm);
   for (uint32_t i = 0; i < count; i++)
      perm[i] = i;
   uint32_t x = seed * 2654435761u + 1;
   for (uint32_t i = count - 1; i > 0; i--) {
      x = x * 1664525u + 1013904223u;
      uint32_t j = x % (i + 1);
      uint32_t t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
   }
   return perm;
}

/* The whole guest sequence over `chunk`-sized shuffled pieces of guest RAM. */
static void
full_sequence(uint32_t chunk, bool shuffle)
{
   uint32_t count = BUFFER_SIZE / chunk;
   uint32_t *perm = shuffle ? shuffled(count, chunk) : NULL;
   struct iovec *iov = calloc(count, sizeof(*iov));
   assert_non_null(iov);
   for (uint32_t i = 0; i < count; i++) {
      uint32_t piece = perm ? perm[i] : i;
      iov[i].iov_base = ram.base + (size_t)piece * chunk;
      iov[i].iov_len = chunk;
      /* the guest's data: each alias page says where it is in the buffer */
      for (uint32_t off = 0; off < chunk; off += PAGE) {
         uint32_t tag = (uint32_t)(((size_t)i * chunk + off) / PAGE);
         memcpy(ram.base + (size_t)piece * chunk + off, &tag, 4);
      }
   }
   unsigned userptrs = kfdsim_userptr_count();

   uint32_t res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_create_userptr(&env.guest, res, iov, count, BUFFER_SIZE,
                                                VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR),
                    0);
   uint64_t handle = 0;
   assert_int_equal(hsakmt_guest_map_userptr(&env.guest, res, &handle), 0);
   assert_true(handle != 0);
   hsakmt_test_assert_no_host_address(handle, BUFFER_SIZE, "MAP_USERPTR's handle");
   kfdsim_log_clear();
   assert_int_equal(
      hsakmt_guest_register_userptr(&env.guest, res, handle, BUFFER_SIZE, 0), 0);
   assert_int_equal(
      hsakmt_guest_register_userptr(&env.guest, res, handle, BUFFER_SIZE, 0),
      0); /* idempotent */
   uint64_t gpu_va = 0;
   assert_int_equal(hsakmt_guest_map_to_gpu_nodes(&env.guest, res, handle, BUFFER_SIZE,
                                                  &gpu_node_id, 1, 0, &gpu_va),
                    0);
   assert_true(gpu_va != 0);
   hsakmt_test_assert_no_host_address(gpu_va, BUFFER_SIZE, "MAP_TO_GPU_NODES's GPU VA");

   /* one USERPTR allocation, at the alias address, for the whole buffer */
   assert_int_equal(kfdsim_userptr_count(), userptrs + 1);
   assert_int_equal(kfdsim_userptr_bytes() >= BUFFER_SIZE, true);
   struct kfdsim_ioctl_record rec;
   assert_int_equal(kfdsim_log_find_last(KFD_ALLOC_NR, &rec), 0);
   uint64_t va_addr, size, mmap_offset;
   uint32_t flags;
   memcpy(&va_addr, rec.in + 0, 8);
   memcpy(&size, rec.in + 8, 8);
   memcpy(&mmap_offset, rec.in + 24, 8);
   memcpy(&flags, rec.in + 36, 4);
   assert_true(flags & KFD_USERPTR);
   assert_true(size == BUFFER_SIZE);
   /* the alias: guest RAM itself for one run where userptrs get GPU VAs of their own
    * (5.2.3), else a mapping of virtkfd's, in the KFD window where GPU VA == CPU VA */
   uint64_t window_start, window_size;
   bool in_window = hsakmt_va_window_bounds(&window_start, &window_size) &&
                    mmap_offset >= window_start &&
                    mmap_offset + BUFFER_SIZE <= window_start + window_size;
   struct vkfd_kfd_va_info va_info;
   vkfd_kfd_va_info(&va_info);
   if (va_info.mode == VKFD_KFD_VA_NATIVE)
      assert_true(in_window);
   else if (count == 1 || !shuffle)
      assert_true(mmap_offset == (uint64_t)(uintptr_t)ram.base);
   if (gpu_va == mmap_offset)
      assert_true(in_window);
   struct kfdsim_bo_info bo;
   assert_int_equal(kfdsim_bo_find(gpu_va, &bo), 0);
   assert_true(bo.cpu_addr == mmap_offset);
   assert_int_equal(bo.mapped_gpus, 1);

   /* the GPU reads what the guest wrote, in buffer order, and the guest sees GPU writes
    */
   for (uint32_t page = 0; page < BUFFER_SIZE / PAGE; page += 257) {
      uint32_t tag = 0;
      assert_int_equal(kfdsim_gpu_read(gpu_va + (uint64_t)page * PAGE, &tag, 4), 0);
      assert_int_equal(tag, page);
   }
   /* POINTER_INFO of an address inside the alias: a registered userptr, no host pointers
    */
   uint64_t inside = handle + 3 * PAGE + 12;
   struct hsakmt_query_info_rsp *info =
      hsakmt_guest_query(&env.guest, HSAKMT_QUERY_POINTER_INFO, &inside, 8, 440);
   assert_int_equal(info->hdr.ret, 0);
   assert_int_equal(info->pointer_info.type, 2); /* HSA_POINTER_REGISTERED_USER */
   assert_true(info->pointer_info.gpu_address == gpu_va);
   assert_true(info->pointer_info.size_in_bytes == BUFFER_SIZE);
   assert_int_equal(info->pointer_info.n_mapped_nodes, 1);
   assert_true(info->pointer_info.mapped_nodes == 1);
   uint32_t mapped_node;
   memcpy(&mapped_node, (uint8_t *)info + 424, 4);
   assert_int_equal(mapped_node, gpu_node_id);

   uint32_t magic = 0x5eedf00d;
   uint32_t last = BUFFER_SIZE / PAGE - 1;
   assert_int_equal(kfdsim_gpu_write(gpu_va + (uint64_t)last * PAGE + 8, &magic, 4), 0);
   uint32_t last_piece = perm ? perm[count - 1] : count - 1;
   uint8_t *guest_page = ram.base + (size_t)last_piece * chunk + (chunk - PAGE);
   assert_memory_equal(guest_page + 8, &magic, 4);

   /* QEMU's teardown: detach_iov, then unref; nothing is left */
   struct iovec *back;
   int back_count;
   virgl_renderer_resource_detach_iov(res, &back, &back_count);
   assert_int_equal(kfdsim_userptr_count(), userptrs);
   virgl_renderer_resource_unref(res);
   assert_int_equal(kfdsim_userptr_count(), userptrs);
   if (handle != (uint64_t)(uintptr_t)ram.base)
      assert_true(range_unmapped(handle, BUFFER_SIZE)); /* the alias is gone */
   free(iov);
   free(perm);
}

static void
test_userptr_shuffled_pages(void **state)
{
   full_sequence(PAGE, true); /* 16384 entries */
}

static void
test_userptr_2mib_runs(void **state)
{
   full_sequence(2u << 20, true);
}

static void
test_userptr_one_run(void **state)
{
   full_sequence(BUFFER_SIZE, false);
}

static void
test_userptr_unref_without_detach(void **state)
{
   /* crosvm unrefs without detach_iov: unref alone tears everything down */
   unsigned userptrs = kfdsim_userptr_count();
   struct iovec iov[2] = { { ram.base + 2 * PAGE, PAGE }, { ram.base, PAGE } };
   uint32_t res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_create_userptr(&env.guest, res, iov, 2, 2 * PAGE, 0),
                    0); /* no USERPTR flag */
   uint64_t handle;
   assert_int_equal(hsakmt_guest_map_userptr(&env.guest, res, &handle), 0);
   assert_int_equal(hsakmt_guest_register_userptr(&env.guest, res, handle, 2 * PAGE, 0),
                    0);
   assert_int_equal(hsakmt_guest_map_to_gpu_nodes(&env.guest, res, handle, 2 * PAGE,
                                                  &gpu_node_id, 1, 0, NULL),
                    0);
   virgl_renderer_resource_unref(res);
   assert_int_equal(kfdsim_userptr_count(), userptrs);
}

static void
test_userptr_refused_memory(void **state)
{
   uint64_t handle;
   uint32_t res;

   /* private anonymous memory (a VMM without share=on): refused, never copied */
   uint8_t *private_ram =
      mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
   struct iovec priv[2] = { { private_ram + PAGE, PAGE }, { private_ram, PAGE } };
   res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_create_userptr(&env.guest, res, priv, 2, 2 * PAGE, 0),
                    0);
   assert_int_equal(hsakmt_guest_map_userptr(&env.guest, res, &handle),
                    VKFD_STATUS_INVALID_PARAMETER);
   assert_true(handle == 0);
   assert_int_equal(hsakmt_guest_register_userptr(&env.guest, res, 0, 2 * PAGE, 0),
                    VKFD_STATUS_INVALID_HANDLE);
   virgl_renderer_resource_unref(res);
   munmap(private_ram, 4 * PAGE);

   /* unaligned entries */
   struct iovec unaligned[2] = { { ram.base + 100, PAGE },
                                 { ram.base + 3 * PAGE, PAGE } };
   res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(
      hsakmt_guest_create_userptr(&env.guest, res, unaligned, 2, 2 * PAGE, 0), 0);
   assert_int_equal(hsakmt_guest_map_userptr(&env.guest, res, &handle),
                    VKFD_STATUS_INVALID_PARAMETER);
   virgl_renderer_resource_unref(res);

   /* a read-only mapping: refused without RDONLY, accepted with it */
   uint8_t *ro = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, ram.fd, 0);
   assert_true(ro != MAP_FAILED);
   struct iovec rov[2] = { { ro + PAGE, PAGE }, { ro, PAGE } };
   res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_create_userptr(&env.guest, res, rov, 2, 2 * PAGE, 0), 0);
   assert_int_equal(hsakmt_guest_map_userptr(&env.guest, res, &handle),
                    VKFD_STATUS_INVALID_PARAMETER);
   virgl_renderer_resource_unref(res);
   res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(
      hsakmt_guest_create_userptr(&env.guest, res, rov, 2, 2 * PAGE,
                                  VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR |
                                     VIRGL_RENDERER_BLOB_FLAG_USERPTR_RDONLY),
      0);
   assert_int_equal(hsakmt_guest_map_userptr(&env.guest, res, &handle), 0);
   /*
    * Measured: libhsakmt 5.2.3 requests WRITABLE for every userptr, so KFD (and the
    * emulator) refuse read-only pages. The GPU must not get write access the guest
    * did not grant: a clean failure, nothing registered.
    */
   unsigned userptrs = kfdsim_userptr_count();
   int status = hsakmt_guest_register_userptr(&env.guest, res, handle, 2 * PAGE,
                                              HSAKMT_MEMFLAG_READ_ONLY);
   if (status)
      assert_int_equal(kfdsim_userptr_count(), userptrs);
   else
      assert_int_equal(kfdsim_userptr_count(), userptrs + 1);
   virgl_renderer_resource_unref(res);
   assert_int_equal(kfdsim_userptr_count(), userptrs);
   munmap(ro, 2 * PAGE);

   /* an entry spanning two mappings of different files */
   int other = memfd_create("other-ram", MFD_CLOEXEC);
   assert_int_equal(ftruncate(other, PAGE), 0);
   uint8_t *pair = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ram.fd, 0);
   assert_true(pair != MAP_FAILED);
   assert_true(mmap(pair + PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
                    other, 0) != MAP_FAILED);
   struct iovec span[2] = { { pair, 2 * PAGE }, { ram.base + 8 * PAGE, PAGE } };
   res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_create_userptr(&env.guest, res, span, 2, 3 * PAGE, 0),
                    0);
   assert_int_equal(hsakmt_guest_map_userptr(&env.guest, res, &handle),
                    VKFD_STATUS_INVALID_PARAMETER);
   virgl_renderer_resource_unref(res);
   munmap(pair, 2 * PAGE);
   close(other);

   /* the same guest page in a second blob */
   struct iovec a[2] = { { ram.base + 20 * PAGE, PAGE }, { ram.base + 22 * PAGE, PAGE } };
   struct iovec b[2] = { { ram.base + 30 * PAGE, PAGE }, { ram.base + 22 * PAGE, PAGE } };
   uint32_t res_a = hsakmt_guest_new_res_id(&env.guest);
   uint32_t res_b = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_create_userptr(&env.guest, res_a, a, 2, 2 * PAGE, 0), 0);
   assert_int_equal(hsakmt_guest_create_userptr(&env.guest, res_b, b, 2, 2 * PAGE, 0), 0);
   assert_int_equal(hsakmt_guest_map_userptr(&env.guest, res_a, &handle), 0);
   assert_int_equal(hsakmt_guest_map_userptr(&env.guest, res_b, &handle),
                    VKFD_STATUS_INVALID_PARAMETER);
   virgl_renderer_resource_unref(res_a);
   virgl_renderer_resource_unref(res_b);

   /* a mappable or non-page-sized userptr blob is refused at creation */
   struct iovec one = { ram.base, PAGE };
   res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_create_userptr(&env.guest, res, &one, 1, PAGE,
                                                VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE),
                    -EINVAL);
   assert_int_equal(hsakmt_guest_create_userptr(&env.guest, res, &one, 1, 100, 0),
                    -EINVAL);
}

static void
test_userptr_bad_commands(void **state)
{
   struct iovec iov[2] = { { ram.base + 4 * PAGE, PAGE }, { ram.base + 2 * PAGE, PAGE } };
   uint32_t res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_create_userptr(&env.guest, res, iov, 2, 2 * PAGE, 0), 0);
   uint64_t handle;

   /* REG before MAP_USERPTR; REG of something else; REG of a raw address */
   assert_int_equal(hsakmt_guest_register_userptr(&env.guest, res, 0x1000, 2 * PAGE, 0),
                    VKFD_STATUS_INVALID_HANDLE);
   assert_int_equal(hsakmt_guest_map_userptr(&env.guest, res, &handle), 0);
   assert_int_equal(
      hsakmt_guest_register_userptr(&env.guest, res + 1000, handle, 2 * PAGE, 0),
      VKFD_STATUS_INVALID_HANDLE);
   assert_int_equal(
      hsakmt_guest_register_userptr(&env.guest, env.guest.shmem_res_id, handle, PAGE, 0),
      VKFD_STATUS_INVALID_HANDLE);
   assert_int_equal(hsakmt_guest_register_userptr(&env.guest, 0,
                                                  (uint64_t)(uintptr_t)ram.base, PAGE, 0),
                    VKFD_STATUS_INVALID_HANDLE);
   assert_int_equal(
      hsakmt_guest_register_userptr(&env.guest, res, handle + PAGE, PAGE, 0),
      VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(hsakmt_guest_register_userptr(&env.guest, res, handle, 3 * PAGE, 0),
                    VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(hsakmt_guest_register_userptr(&env.guest, res, handle, 0, 0),
                    VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(
      hsakmt_guest_register_userptr(&env.guest, res, handle, 2 * PAGE, 0x80000000u),
      VKFD_STATUS_INVALID_PARAMETER);
   /* hostile-inputs ccmd item 5: padding must be zero */
   {
      struct hsakmt_memory_req req;
      memset(&req, 0, sizeof(req));
      req.reg_mem_with_flag.memory_address = handle;
      req.reg_mem_with_flag.memory_size_in_bytes = 2 * PAGE;
      req.reg_mem_with_flag.pad = 1;
      assert_int_equal(
         memory_call(HSAKMT_MEMORY_REG_MEM_WITH_FLAG, res, &req, 0)->hdr.ret,
         VKFD_STATUS_INVALID_PARAMETER);
   }
   /* MAP before REG */
   assert_int_equal(hsakmt_guest_map_to_gpu_nodes(&env.guest, res, handle, 2 * PAGE,
                                                  &gpu_node_id, 1, 0, NULL),
                    VKFD_STATUS_MEMORY_NOT_REGISTERED);

   /* a failing registration leaves nothing behind and can be retried */
   unsigned userptrs = kfdsim_userptr_count();
   assert_int_equal(kfdsim_fail_next(KFD_ALLOC_NR, 1, ENOMEM), 0);
   assert_true(hsakmt_guest_register_userptr(&env.guest, res, handle, 2 * PAGE, 0) != 0);
   assert_int_equal(kfdsim_userptr_count(), userptrs);
   assert_int_equal(hsakmt_guest_register_userptr(&env.guest, res, handle, 2 * PAGE, 0),
                    0);

   /* node lists: none, too many, longer than the request, a CPU node, unknown */
   uint32_t nodes[40] = { 0 };
   for (int i = 0; i < 40; i++)
      nodes[i] = gpu_node_id;
   assert_int_equal(
      hsakmt_guest_map_to_gpu_nodes(&env.guest, res, handle, 2 * PAGE, nodes, 0, 0, NULL),
      VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(hsakmt_guest_map_to_gpu_nodes(&env.guest, res, handle, 2 * PAGE,
                                                  nodes, 33, 0, NULL),
                    VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(hsakmt_guest_map_to_gpu_nodes(&env.guest, res, handle, 2 * PAGE,
                                                  nodes, 4, 312, NULL),
                    VKFD_STATUS_INVALID_PARAMETER);
   /* counts whose byte size wraps 32 and 64 bits */
   {
      uint8_t buffer[320];
      memset(buffer, 0, sizeof(buffer));
      struct hsakmt_memory_req *req = (struct hsakmt_memory_req *)buffer;
      req->map_to_gpu_nodes.memory_address = handle;
      req->map_to_gpu_nodes.memory_size_in_bytes = 2 * PAGE;
      const uint64_t counts[] = { 1ull << 30, 1ull << 62, UINT64_MAX };
      for (int i = 0; i < 3; i++) {
         req->map_to_gpu_nodes.number_of_nodes = counts[i];
         assert_int_equal(
            memory_call(HSAKMT_MEMORY_MAP_TO_GPU_NODES, res, req, 320)->hdr.ret,
            VKFD_STATUS_INVALID_PARAMETER);
      }
   }
   uint32_t cpu = 0, unknown = 77;
   assert_int_equal(
      hsakmt_guest_map_to_gpu_nodes(&env.guest, res, handle, 2 * PAGE, &cpu, 1, 0, NULL),
      VKFD_STATUS_INVALID_NODE_UNIT);
   assert_int_equal(hsakmt_guest_map_to_gpu_nodes(&env.guest, res, handle, 2 * PAGE,
                                                  &unknown, 1, 0, NULL),
                    VKFD_STATUS_INVALID_NODE_UNIT);
   /* addresses outside the object, straddling its end, or wrapping */
   assert_int_equal(hsakmt_guest_map_to_gpu_nodes(&env.guest, res, handle + PAGE,
                                                  2 * PAGE, &gpu_node_id, 1, 0, NULL),
                    VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(hsakmt_guest_map_to_gpu_nodes(
                       &env.guest, res, (uint64_t)(uintptr_t)ram.base + 50 * PAGE, PAGE,
                       &gpu_node_id, 1, 0, NULL),
                    VKFD_STATUS_INVALID_PARAMETER);
   assert_int_equal(hsakmt_guest_map_to_gpu_nodes(&env.guest, res, UINT64_MAX - PAGE,
                                                  2 * PAGE, &gpu_node_id, 1, 0, NULL),
                    VKFD_STATUS_INVALID_PARAMETER);

   /* a failing GPU map, then a good one */
   assert_int_equal(kfdsim_fail_next(KFD_MAP_NR, 1, EINVAL), 0);
   assert_true(hsakmt_guest_map_to_gpu_nodes(&env.guest, res, handle, 2 * PAGE,
                                             &gpu_node_id, 1, 0, NULL) != 0);
   uint64_t gpu_va;
   assert_int_equal(hsakmt_guest_map_to_gpu_nodes(&env.guest, res, handle, 2 * PAGE,
                                                  &gpu_node_id, 1, 0, &gpu_va),
                    0);
   assert_true(gpu_va != 0);

   /* MAP_USERPTR of ids that are not memory objects of this context */
   assert_int_equal(hsakmt_guest_map_userptr(&env.guest, env.guest.shmem_res_id, &handle),
                    VKFD_STATUS_INVALID_HANDLE);
   assert_int_equal(hsakmt_guest_map_userptr(&env.guest, 123456, &handle),
                    VKFD_STATUS_INVALID_HANDLE);
   assert_true(handle == 0);

   /* DETACH_BACKING while registered and mapped: torn down before the VMM unmaps */
   struct iovec *back;
   int back_count;
   virgl_renderer_resource_detach_iov(res, &back, &back_count);
   assert_int_equal(kfdsim_userptr_count(), userptrs);
   assert_int_equal(hsakmt_guest_map_userptr(&env.guest, res, &handle),
                    VKFD_STATUS_INVALID_HANDLE);
   virgl_renderer_resource_unref(res);
}

static void
test_userptr_other_context_cannot_name_it(void **state)
{
   struct iovec iov = { ram.base + 40 * PAGE, PAGE };
   uint32_t res = hsakmt_guest_new_res_id(&env.guest);
   assert_int_equal(hsakmt_guest_create_userptr(&env.guest, res, &iov, 1, PAGE, 0), 0);
   uint64_t handle;
   assert_int_equal(hsakmt_guest_map_userptr(&env.guest, res, &handle), 0);

   struct hsakmt_guest other;
   assert_int_equal(hsakmt_guest_open(&other, 2, 5000), 0);
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_REG_MEM_WITH_FLAG;
   req.res_id = res;
   req.reg_mem_with_flag.memory_address = handle;
   req.reg_mem_with_flag.memory_size_in_bytes = PAGE;
   struct hsakmt_memory_rsp *rsp = hsakmt_guest_memory(&other, &req, 0);
   assert_int_equal(rsp->hdr.ret, VKFD_STATUS_INVALID_HANDLE);
   hsakmt_guest_close(&other);
   virgl_renderer_resource_unref(res);
}

static void
test_userptr_context_destroyed_while_live(void **state)
{
   /* a guest process dies with a registered, GPU-mapped userptr: all of it goes */
   struct hsakmt_guest other;
   assert_int_equal(hsakmt_guest_open(&other, 3, 8000), 0);
   unsigned userptrs = kfdsim_userptr_count();
   struct iovec iov[2] = { { ram.base + 60 * PAGE, PAGE },
                           { ram.base + 50 * PAGE, PAGE } };
   struct virgl_renderer_resource_create_blob_args args = {
      .res_handle = 8500,
      .ctx_id = 3,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D_GUEST,
      .blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR,
      .blob_id = 1,
      .size = 2 * PAGE,
      .iovecs = iov,
      .num_iovs = 2,
   };
   assert_int_equal(virgl_renderer_resource_create_blob(&args), 0);
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_MAP_USERPTR;
   req.res_id = 8500;
   uint64_t handle = hsakmt_guest_memory(&other, &req, 0)->map_userptr.userptr_handle;
   assert_true(handle != 0);
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_REG_MEM_WITH_FLAG;
   req.res_id = 8500;
   req.reg_mem_with_flag.memory_address = handle;
   req.reg_mem_with_flag.memory_size_in_bytes = 2 * PAGE;
   assert_int_equal(hsakmt_guest_memory(&other, &req, 0)->hdr.ret, 0);
   uint8_t buffer[320] = { 0 };
   struct hsakmt_memory_req *map = (struct hsakmt_memory_req *)buffer;
   map->type = HSAKMT_MEMORY_MAP_TO_GPU_NODES;
   map->res_id = 8500;
   map->map_to_gpu_nodes.memory_address = handle;
   map->map_to_gpu_nodes.memory_size_in_bytes = 2 * PAGE;
   map->map_to_gpu_nodes.number_of_nodes = 1;
   memcpy(buffer + HSAKMT_MEMORY_PAYLOAD_OFFSET, &gpu_node_id, 4);
   assert_int_equal(hsakmt_guest_memory(&other, map, 320)->hdr.ret, 0);
   assert_int_equal(kfdsim_userptr_count(), userptrs + 1);

   virgl_renderer_context_destroy(3);
   assert_int_equal(kfdsim_userptr_count(), userptrs);
   /* the resource itself stays in the global table until the VMM unrefs it */
   struct virgl_renderer_resource_info info;
   assert_int_equal(virgl_renderer_resource_get_info(8500, &info), 0);
   hsakmt_guest_close(&other);
   virgl_renderer_resource_unref(8500);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
   const struct CMUnitTest tests[] = {
      T(test_userptr_shuffled_pages),
      T(test_userptr_2mib_runs),
      T(test_userptr_one_run),
      T(test_userptr_unref_without_detach),
      T(test_userptr_refused_memory),
      T(test_userptr_bad_commands),
      T(test_userptr_other_context_cannot_name_it),
      T(test_userptr_context_destroyed_while_live),
   };
#undef T
   return cmocka_run_group_tests_name("hsakmt-userptr", tests, NULL, NULL);
}
