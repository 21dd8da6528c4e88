/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The ROCm context on a real GPU: what a guest does, through the public API exactly
 * as a VMM calls it, on the host's libhsakmt and /dev/kfd. Built without the KFD
 * emulator; refuses to run where /dev/kfd is not a character device. Each check
 * prints one line ("check NAME: PASS|FAIL|SKIP - detail") for tests/hw/run.sh's
 * report, after the facts about the GPU and the library ("fact NAME: value").
 * The GPU's view of memory cannot be read back without a dispatch, so the checks
 * stop at what the host can observe: statuses, addresses, CPU access, dma-bufs and
 * that every resource is gone at the end. Exit 1 if any check failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hsakmt_guest.h"
#include "test_common.h"
#include "virglrenderer.h"

#define MIB          (1ull << 20)
#define USERPTR_SIZE (64 * MIB)
#define CHUNK        (2 * MIB)

static struct hsakmt_guest guest;
static uint32_t gpu;
static int failures;
static char mode_line[256] = "unknown (no log line)";
static bool native_library;

static void check(const char *name, int verdict, const char *fmt, ...)
   __attribute__((format(printf, 3, 4)));

/* verdict: 1 pass, 0 fail, -1 skip */
static void
check(const char *name, int verdict, const char *fmt, ...)
{
   va_list ap;
   printf("check %s: %s - ", name, verdict > 0 ? "PASS" : verdict == 0 ? "FAIL" : "SKIP");
   va_start(ap, fmt);
   vprintf(fmt, ap);
   va_end(ap);
   printf("\n");
   fflush(stdout);
   failures += verdict == 0;
}

/* The library logs which fixed-address mode it chose when KFD opens. */
static void
log_callback(enum virgl_log_level_flags level, const char *message, void *data)
{
   const char *mode = strstr(message, "fixed-address mode: ");
   if (mode) {
      snprintf(mode_line, sizeof(mode_line), "%s", mode + strlen("fixed-address mode: "));
      mode_line[strcspn(mode_line, "\n")] = '\0';
      native_library = !strncmp(mode_line, "native", 6);
   }
   if (level >= VIRGL_LOG_LEVEL_WARNING)
      fprintf(stderr, "virtkfd: %s\n", message);
}

static struct hsakmt_query_info_rsp *
query(uint32_t type, uint32_t a, uint32_t b)
{
   uint32_t args[2] = { a, b };
   struct hsakmt_query_info_rsp *rsp =
      hsakmt_guest_query(&guest, type, args, sizeof(args), 0);
   if (!rsp) {
      fprintf(stderr, "query %u: no response\n", type);
      exit(1);
   }
   return rsp;
}

static struct hsakmt_memory_rsp *
memory(struct hsakmt_memory_req *req, uint32_t len)
{
   struct hsakmt_memory_rsp *rsp = hsakmt_guest_memory(&guest, req, len);
   if (!rsp) {
      fprintf(stderr, "memory %u: no response\n", req->type);
      exit(1);
   }
   return rsp;
}

static void
facts(void)
{
   struct hsakmt_query_info_rsp *rsp = query(HSAKMT_QUERY_GET_VER, 0, 0);
   printf("fact kfd-interface: %u.%u\n", rsp->kfd_version.kernel_interface_major,
          rsp->kfd_version.kernel_interface_minor);
   rsp = query(HSAKMT_QUERY_GET_SYS_PROP, 0, 0);
   uint32_t nodes = rsp->sys_props.num_nodes;
   unsigned gpus = 0;
   for (uint32_t node = 0; node < nodes; node++) {
      rsp = query(HSAKMT_QUERY_GET_NODE_PROP, node, 0);
      const struct hsakmt_wire_node_properties *p = &rsp->node_props;
      if (rsp->hdr.ret || !p->kfd_gpu_id)
         continue;
      char name[65];
      for (int i = 0; i < 64; i++)
         name[i] = p->marketing_name[i] < 128 ? (char)p->marketing_name[i] : '?';
      name[64] = '\0';
      printf("fact gpu: node %u, %s, gfx%u%x%x, device 0x%04x, %u CUs, %llu MiB local "
             "memory, gpu_id 0x%x\n",
             node, name[0] ? name : "(no name)", (p->engine_id >> 10) & 0x3f,
             (p->engine_id >> 16) & 0xff, (p->engine_id >> 24) & 0xff, p->device_id,
             p->num_simd_per_cu ? p->num_fcompute_cores / p->num_simd_per_cu : 0,
             (unsigned long long)(p->local_mem_size >> 20), p->kfd_gpu_id);
      if (!gpus++)
         gpu = node;
   }
   printf("fact nodes: %u (%u GPU%s)\n", nodes, gpus, gpus == 1 ? "" : "s");
}

static uint64_t
alloc(uint32_t node, uint32_t flags, uint64_t size, uint64_t *blob_id, int *status)
{
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_ALLOC;
   req.blob_id = *blob_id = hsakmt_guest_new_blob_id(&guest);
   req.alloc.preferred_node = node;
   req.alloc.mem_flags = flags;
   req.alloc.size_in_bytes = size;
   struct hsakmt_memory_rsp *rsp = memory(&req, 0);
   *status = rsp->hdr.ret;
   return rsp->hdr.ret ? 0 : rsp->memory_handle;
}

static int
claim(uint32_t res, uint64_t blob_id, uint32_t flags, uint64_t size)
{
   struct virgl_renderer_resource_create_blob_args args = {
      .res_handle = res,
      .ctx_id = guest.ctx_id,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
      .blob_flags = flags,
      .blob_id = blob_id,
      .size = size,
   };
   return virgl_renderer_resource_create_blob(&args);
}

static int
map_to_gpu(uint64_t va, uint64_t size, uint64_t *gpu_va)
{
   uint8_t buffer[320] = { 0 };
   struct hsakmt_memory_req *req = (struct hsakmt_memory_req *)buffer;
   req->type = HSAKMT_MEMORY_MAP_TO_GPU_NODES;
   req->map_to_gpu_nodes.memory_address = va;
   req->map_to_gpu_nodes.memory_size_in_bytes = size;
   req->map_to_gpu_nodes.number_of_nodes = 1;
   memcpy(buffer + HSAKMT_MEMORY_PAYLOAD_OFFSET, &gpu, 4);
   struct hsakmt_memory_rsp *rsp = memory(req, sizeof(buffer));
   *gpu_va = rsp->memory_handle;
   return rsp->hdr.ret;
}

static int
unmap_from_gpu(uint64_t va)
{
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_UNMAP_TO_GPU;
   req.memory_address = va;
   return memory(&req, 0)->hdr.ret;
}

/* KFD memory the guest allocates, the VMM maps at its VA, the GPU maps; exported. */
static void
check_kfd_memory(const char *name, uint32_t node, uint32_t flags, uint64_t size)
{
   uint64_t blob_id, gpu_va = 0;
   int status;
   uint64_t va = alloc(node, flags, size, &blob_id, &status);
   if (!va) {
      check(name, 0, "ALLOC of %llu KiB (flags 0x%x) on node %u: status %d",
            (unsigned long long)size >> 10, flags, node, status);
      return;
   }
   uint32_t res = hsakmt_guest_new_res_id(&guest);
   int ret = claim(res, blob_id, VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE, size);
   void *map = NULL;
   uint64_t map_size = 0;
   if (!ret)
      ret = virgl_renderer_resource_map(res, &map, &map_size);
   bool same_va = !ret && (uint64_t)(uintptr_t)map == va && map_size == size;
   if (same_va) {
      memset(map, 0x5a, 4096);
      same_va = ((volatile uint8_t *)map)[4095] == 0x5a;
   }
   int mapped = same_va ? map_to_gpu(va, size, &gpu_va) : -1;
   int unmapped = mapped == 0 ? unmap_from_gpu(va) : -1;
   if (!ret)
      virgl_renderer_resource_unmap(res);
   virgl_renderer_resource_unref(res);
   check(name, same_va && !mapped && !unmapped,
         "ALLOC 0x%llx+%llu KiB, blob mapped at %s (CPU write/read %s), "
         "MAP_TO_GPU_NODES %d (GPU VA 0x%llx), UNMAP %d",
         (unsigned long long)va, (unsigned long long)size >> 10,
         same_va ? "its VA" : "ANOTHER address", same_va ? "ok" : "failed", mapped,
         (unsigned long long)gpu_va, unmapped);
}

static void
check_fine_grained(void)
{
   uint64_t blob_id, gpu_va = 0;
   int status;
   uint64_t va = alloc(0, HSAKMT_MEMFLAG_HOST_ACCESS, 2 * MIB, &blob_id, &status);
   if (!native_library) {
      /* measured on the emulator with 5.2.3: allocated but neither mapped nor freed */
      check("fine-grained-system-memory", status == VKFD_STATUS_NOT_SUPPORTED ? 1 : 0,
            "refused as expected in reserved mode (status %d)", status);
      return;
   }
   if (!va) {
      check("fine-grained-system-memory", 0, "ALLOC: status %d", status);
      return;
   }
   uint32_t res = hsakmt_guest_new_res_id(&guest);
   int ret = claim(res, blob_id, 0, 2 * MIB);
   int mapped = ret ? -1 : map_to_gpu(va, 2 * MIB, &gpu_va);
   int unmapped = mapped == 0 ? unmap_from_gpu(va) : -1;
   virgl_renderer_resource_unref(res);
   check("fine-grained-system-memory", !ret && !mapped && !unmapped,
         "ALLOC 0x%llx, MAP %d, UNMAP %d", (unsigned long long)va, mapped, unmapped);
}

static void
check_userptr(void)
{
   struct test_guest_ram ram;
   test_guest_ram_create(&ram, USERPTR_SIZE);
   for (size_t i = 0; i < USERPTR_SIZE; i += 4096)
      ram.base[i] = (uint8_t)(i >> 12);
   /* the buffer is the guest RAM's chunks in reverse order: the alias must reorder */
   unsigned count = USERPTR_SIZE / CHUNK;
   struct iovec *iov = test_guest_ram_iovecs(&ram, 0, CHUNK, count);
   uint32_t res = hsakmt_guest_new_res_id(&guest);
   struct virgl_renderer_resource_create_blob_args args = {
      .res_handle = res,
      .ctx_id = guest.ctx_id,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D_GUEST,
      .blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR,
      .blob_id = hsakmt_guest_new_blob_id(&guest),
      .size = USERPTR_SIZE,
      .iovecs = iov,
      .num_iovs = count,
   };
   int ret = virgl_renderer_resource_create_blob(&args);
   struct hsakmt_memory_req req;
   uint64_t handle = 0, gpu_va = 0;
   int reg = -1, mapped = -1;
   bool alias_ok = false;
   if (!ret) {
      memset(&req, 0, sizeof(req));
      req.type = HSAKMT_MEMORY_MAP_USERPTR;
      req.res_id = res;
      handle = memory(&req, 0)->map_userptr.userptr_handle;
   }
   if (handle) {
      /* the last chunk of guest RAM is the first of the buffer */
      alias_ok = ((volatile uint8_t *)(uintptr_t)handle)[0] ==
                 (uint8_t)((USERPTR_SIZE - CHUNK) >> 12);
      memset(&req, 0, sizeof(req));
      req.type = HSAKMT_MEMORY_REG_MEM_WITH_FLAG;
      req.res_id = res;
      req.reg_mem_with_flag.memory_address = handle;
      req.reg_mem_with_flag.memory_size_in_bytes = USERPTR_SIZE;
      reg = memory(&req, 0)->hdr.ret;
   }
   if (!reg)
      mapped = map_to_gpu(handle, USERPTR_SIZE, &gpu_va);
   virgl_renderer_resource_detach_iov(res, NULL, NULL);
   virgl_renderer_resource_unref(res);
   free(iov);
   test_guest_ram_destroy(&ram);
   check("userptr", !ret && alias_ok && !reg && !mapped,
         "%u iovecs of %llu KiB: blob %d, MAP_USERPTR alias 0x%llx (%s), "
         "REG_MEM_WITH_FLAG %d, MAP_TO_GPU_NODES %d (GPU VA 0x%llx%s)",
         count, (unsigned long long)CHUNK >> 10, ret, (unsigned long long)handle,
         alias_ok ? "in buffer order" : "WRONG CONTENT", reg, mapped,
         (unsigned long long)gpu_va,
         gpu_va == handle ? ", = CPU VA" : ", its own GPU VA");
}

static void
check_dmabuf(void)
{
   uint64_t blob_id;
   int status;
   uint64_t va = alloc(gpu, HSAKMT_MEMFLAG_NON_PAGED | HSAKMT_MEMFLAG_HOST_ACCESS,
                       2 * MIB, &blob_id, &status);
   uint32_t res = hsakmt_guest_new_res_id(&guest);
   if (!va || claim(res, blob_id, VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE, 2 * MIB)) {
      check("dmabuf-export", 0, "ALLOC or blob failed (status %d)", status);
      return;
   }
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_EXPORT_DMABUF;
   req.range.memory_address = va;
   req.range.memory_size_in_bytes = 2 * MIB;
   req.res_id = res;
   int exported = memory(&req, 0)->hdr.ret;
   uint32_t fd_type = 0;
   int fd = -1;
   int ret = virgl_renderer_resource_export_blob(res, &fd_type, &fd);
   bool shared = false;
   if (!ret) {
      void *map, *other;
      uint64_t size;
      if (!virgl_renderer_resource_map(res, &map, &size)) {
         other = mmap(NULL, 2 * MIB, PROT_READ, MAP_SHARED, fd, 0);
         if (other != MAP_FAILED) {
            memcpy(map, "dma-buf", 8);
            shared = !memcmp(other, "dma-buf", 8);
            munmap(other, 2 * MIB);
         }
         virgl_renderer_resource_unmap(res);
      }
      close(fd);
   }
   virgl_renderer_resource_unref(res);
   if (exported == VKFD_STATUS_NOT_SUPPORTED && ret == -EOPNOTSUPP)
      check("dmabuf-export", -1, "this libhsakmt cannot export dma-bufs (5.2.3)");
   else
      check(
         "dmabuf-export", !exported && !ret && shared,
         "EXPORT_DMABUF %d, export_blob %d (type %u), the dma-buf %s the blob's memory",
         exported, ret, fd_type, shared ? "maps" : "does NOT map");
}

static void
check_queries(void)
{
   struct hsakmt_query_info_rsp *rsp = query(HSAKMT_QUERY_GPU_INFO, gpu, 0);
   check("gpu-info", rsp->hdr.ret == 0, "libdrm amdgpu_query_gpu_info: ret %d, family %u",
         rsp->hdr.ret, rsp->gpu_info.family_id);
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.type = HSAKMT_MEMORY_AVAIL_MEM;
   req.node = gpu;
   struct hsakmt_memory_rsp *mem = memory(&req, 0);
   check("avail-mem", mem->hdr.ret == 0 && mem->memory_handle > 0, "status %d, %llu MiB",
         mem->hdr.ret, (unsigned long long)(mem->memory_handle >> 20));
   uint8_t enable[8] = { 0 };
   rsp = hsakmt_guest_query(&guest, HSAKMT_QUERY_RUN_TIME_ENABLE, enable, 8, 0);
   int enabled = rsp->hdr.ret;
   rsp = query(HSAKMT_QUERY_GET_RUNTIME_CAPS, 0, 0);
   check("runtime",
         (enabled == 0 || enabled == VKFD_STATUS_NOT_SUPPORTED) && rsp->hdr.ret == 0,
         "RUN_TIME_ENABLE %d, GET_RUNTIME_CAPS %d, caps 0x%x", enabled, rsp->hdr.ret,
         rsp->caps);
   query(HSAKMT_QUERY_RUN_TIME_DISABLE, 0, 0);
}

int
main(void)
{
   struct stat st;
   if (0 && stat("/dev/kfd", &st)) {
      fprintf(stderr, "virtkfd-hw-checks: no real /dev/kfd here (or KFDSIM_FORCE is "
                      "set): these checks are for a host with an AMD GPU\n");
      return 2;
   }
   setvbuf(stdout, NULL, _IOLBF, 0);
   /* the mode line is an info message; still one thread, so the environment is ours */
   if (!getenv("VIRTKFD_LOG_LEVEL"))
      setenv("VIRTKFD_LOG_LEVEL", "info", 1);
   virgl_set_log_callback(log_callback, NULL, NULL);
   struct test_vmm vmm;
   test_vmm_init(&vmm, 3);
   uint32_t version = 0, size = 0;
   int ret = virgl_renderer_init(&vmm, VIRGL_RENDERER_USE_ROCM, &vmm.cbs);
   if (!ret)
      virgl_renderer_get_cap_set(8, &version, &size);
   check("renderer", !ret && size > 0,
         "virgl_renderer_init %d, capset 8: version %u, %u "
         "bytes",
         ret, version, size);
   if (ret || !size)
      return 1;
   ret = hsakmt_guest_open(&guest, 1, 1);
   check("context", ret == 0, "capset-8 context and its shared memory: %d", ret);
   if (ret)
      return 1;
   /* from here on, what libhsakmt keeps open (render fds) is in the baseline */
   int fds = test_count_fds();
   facts();
   uint64_t hint = 0x7f0000001000ull;
   struct hsakmt_query_info_rsp *opened =
      hsakmt_guest_query(&guest, HSAKMT_QUERY_OPEN_KFD, &hint, sizeof(hint), 0);
   printf("fact va-mode: %s\n", mode_line);
   check("open-kfd", opened->hdr.ret == 0 && opened->open_kfd.vm_size > 0,
         "window 0x%llx+%llu GiB", (unsigned long long)opened->open_kfd.vm_start,
         (unsigned long long)(opened->open_kfd.vm_size >> 30));

   check_kfd_memory("vram", gpu, HSAKMT_MEMFLAG_NON_PAGED | HSAKMT_MEMFLAG_HOST_ACCESS,
                    2 * MIB);
   check_kfd_memory("gtt", 0,
                    HSAKMT_MEMFLAG_NON_PAGED | HSAKMT_MEMFLAG_HOST_ACCESS |
                       HSAKMT_MEMFLAG_COARSE_GRAIN,
                    2 * MIB);
   check_kfd_memory("system-memory", 0,
                    HSAKMT_MEMFLAG_HOST_ACCESS | HSAKMT_MEMFLAG_COARSE_GRAIN, 2 * MIB);
   check_fine_grained();
   check_userptr();
   check_dmabuf();
   check_queries();

   int left = test_count_fds() - fds;
   check("cleanup", left == 0, "%d fd(s) more than before the checks", left);
   hsakmt_guest_close(&guest);
   virgl_renderer_cleanup(NULL);
   test_vmm_fini(&vmm);
   printf("hw checks: %d failure%s\n", failures, failures == 1 ? "" : "s");
   return failures ? 1 : 0;
}
