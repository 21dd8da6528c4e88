/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * virtkfd_guest_client: runs inside a virtual machine and drives a ROCm (capset 8)
 * context through the guest kernel's stock virtio-gpu DRM uapi, as the guest
 * libhsakmt does: GETPARAMs, GET_CAPS(8), CONTEXT_INIT, the shared-memory blob,
 * requests in EXECBUFFER with an out-fence, OPEN_KFD, the userptr flow over pages
 * the guest kernel allocates (a HOST3D_GUEST blob with flags 0: a stock kernel
 * refuses USE_USERPTR), and KFD memory mapped at the same address in guest and host.
 * It prints every step with its time and exits non-zero when one fails. Built
 * static, so that an initramfs needs nothing else.
 *
 * With --probe (the end-to-end test, tests/e2e) it also asks the host probe, on a
 * serial port, to read and write the memory as the emulated GPU and to count the
 * VMM's KFD objects.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest_pattern.h"
#include "guest_probe.h"
#include "guest_steps.h"
#include "virtgpu_client.h"
#include "virtgpu_uapi.h"

#define PAGE       4096u
#define SHMEM_SIZE (80u * PAGE) /* what today's guest libhsakmt creates */
#define KFD_SIZE   (2u << 20)
/* VRAM the guest CPU can reach, as ROCr allocates device memory it maps */
#define KFD_VRAM_FLAGS  (HSAKMT_MEMFLAG_NON_PAGED | HSAKMT_MEMFLAG_HOST_ACCESS)
#define LIFETIME_ALLOCS 4

static struct guest_probe probe = { -1 };

struct options {
   const char *device;
   const char *probe_tty;
   uint32_t scattered_mib;
   uint32_t piece_kib;
};

struct guest_ctx {
   struct vgc g;
   uint32_t node, gpu_id;
   uint64_t window_start, window_size;
};

/* A probe request that must succeed: NULL (and the reason printed) otherwise. */
static const char *
ask(char *reply, size_t size, const char *request)
{
   int ret = probe_request(&probe, reply, size, "%s", request);
   if (ret == 0)
      return reply;
   step(false, "host probe '%s': %s", request, ret == -EPROTO ? reply : strerror(-ret));
   return NULL;
}

/* A counter from a probe reply such as "ok bos=3 userptrs=1 ...". */
static long long
reply_count(const char *reply, const char *key)
{
   char name[32];
   snprintf(name, sizeof(name), " %s=", key);
   const char *at = strstr(reply, name);
   return at ? strtoll(at + strlen(name), NULL, 0) : -1;
}

static bool
context_open(struct guest_ctx *ctx, const char *device)
{
   memset(ctx, 0, sizeof(*ctx));
   int ret = vgc_open(&ctx->g, device);
   if (!step(ret == 0, "open %s: a virtio-gpu render node offering capset 8 (%s)",
             ret ? (device ? device : "/dev/dri/renderD*") : ctx->g.path,
             ret ? strerror(-ret) : "context_type 1"))
      return false;

   static const struct {
      uint64_t param;
      const char *name;
   } params[] = {
      { VGPU_PARAM_3D_FEATURES, "3d" },
      { VGPU_PARAM_RESOURCE_BLOB, "blob" },
      { VGPU_PARAM_HOST_VISIBLE, "host-visible" },
      { VGPU_PARAM_CONTEXT_INIT, "context-init" },
      { VGPU_PARAM_SUPPORTED_CAPSET_IDS, "capsets" },
   };
   int values[5];
   bool all = true;
   for (int i = 0; i < 5; i++)
      all &= vgc_get_param(&ctx->g, params[i].param, &values[i]) == 0 && values[i];
   all &= (values[4] & (1 << HSAKMT_CAPSET_ID)) != 0;
   if (!step(all, "GETPARAM: %s %d, %s %d, %s %d, %s %d, %s 0x%x (capset 8 %s)",
             params[0].name, values[0], params[1].name, values[1], params[2].name,
             values[2], params[3].name, values[3], params[4].name, values[4],
             values[4] & (1 << HSAKMT_CAPSET_ID) ? "listed" : "missing"))
      return false;

   struct virgl_renderer_capset_hsakmt caps;
   memset(&caps, 0, sizeof(caps));
   ret =
      vgc_get_caps(&ctx->g, HSAKMT_CAPSET_ID, HSAKMT_CAPSET_VERSION, &caps, sizeof(caps));
   if (!step(ret == 0 && caps.context_type == HSAKMT_CONTEXT_TYPE_AMDGPU,
             "GET_CAPS(8, 24 bytes) -> wire format %u, KFD %u.%u, context_type %u",
             caps.wire_format_version, caps.version_major, caps.version_minor,
             caps.context_type))
      return false;

   ret = vgc_hsakmt_open(&ctx->g, SHMEM_SIZE);
   if (!step(ret == 0,
             "CONTEXT_INIT(capset 8, %u rings) + shmem RESOURCE_CREATE_BLOB(HOST3D, "
             "MAPPABLE, %u KiB) + MAP -> res %u, rsp_mem_offset %u%s%s",
             HSAKMT_NUM_RINGS, SHMEM_SIZE >> 10, ctx->g.shmem_res,
             ctx->g.hk.rsp_mem_offset, ret ? ": " : "", ret ? strerror(-ret) : ""))
      return false;

   struct hsakmt_wire_version_info version = { 0, 0 };
   ret = hkc_get_version(&ctx->g.hk, &version);
   if (!step(ret == 0,
             "ccmd QUERY_INFO(GET_VER) in EXECBUFFER(ring 0, out-fence) -> KFD "
             "interface %u.%u (ret %d)",
             version.kernel_interface_major, version.kernel_interface_minor, ret))
      return false;

   struct hsakmt_wire_system_properties system = { 0, 0, 0, 0 };
   ret = hkc_get_system_properties(&ctx->g.hk, &system);
   for (uint32_t node = 0; ret == 0 && node < system.num_nodes && !ctx->gpu_id; node++) {
      ret = hkc_get_node_gpu_id(&ctx->g.hk, node, &ctx->gpu_id);
      ctx->node = node;
   }
   if (!step(ret == 0 && ctx->gpu_id,
             "ccmd QUERY_INFO(GET_SYS_PROP, GET_NODE_PROP) -> %u nodes, GPU node %u "
             "gpu_id 0x%x",
             system.num_nodes, ctx->node, ctx->gpu_id))
      return false;

   /* the guest libhsakmt's hint: a heap page it just freed */
   void *heap = malloc(PAGE);
   uint64_t hint = (uintptr_t)heap;
   free(heap);
   ret = hkc_open_kfd(&ctx->g.hk, hint, &ctx->window_start, &ctx->window_size);
   void *reserved = MAP_FAILED;
   if (ret == 0 && ctx->window_start && ctx->window_size)
      reserved =
         mmap((void *)(uintptr_t)ctx->window_start, ctx->window_size, PROT_NONE,
              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
   return step(reserved != MAP_FAILED && (uintptr_t)reserved == ctx->window_start,
               "ccmd QUERY_INFO(OPEN_KFD) -> window 0x%llx + %llu GiB, reserved "
               "PROT_NONE in this process (ret %d)",
               (unsigned long long)ctx->window_start,
               (unsigned long long)(ctx->window_size >> 30), ret);
}

/*
 * Leaves single free pages all over guest RAM, so that the guest kernel builds the
 * next blob from scattered pages. GEM objects get unmovable pages (pinned shmem), and
 * the kernel hands those out from other free lists than anonymous memory's, so the
 * holes are made with pipe buffers, which are unmovable pages too: `pages` pipes of
 * one page each, every other one closed again. Returns the pipes still open, to be
 * closed once the blob exists; NULL when the fds cannot be had.
 */
struct fragments {
   int *fds;
   size_t count;
};

static void
fragments_free(struct fragments *f)
{
   for (size_t i = 0; i < f->count; i++)
      if (f->fds[i] >= 0)
         close(f->fds[i]);
   free(f->fds);
   f->fds = NULL;
   f->count = 0;
}

static bool
fragment_guest_memory(struct fragments *f, size_t pages)
{
   f->count = 0;
   f->fds = calloc(2 * pages, sizeof(int));
   struct rlimit limit = { 2 * pages + 64, 2 * pages + 64 };
   if (!f->fds || setrlimit(RLIMIT_NOFILE, &limit))
      return false;
   /* one CPU: the freed pages wait on this CPU's lists for the blob's allocation */
   cpu_set_t one;
   CPU_ZERO(&one);
   CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one);
   sched_setaffinity(0, sizeof(one), &one);
   static uint8_t page[PAGE];
   memset(page, 0x5a, sizeof(page));
   for (size_t i = 0; i < pages; i++) {
      int p[2];
      if (pipe2(p, O_CLOEXEC | O_NONBLOCK))
         break;
      f->fds[f->count++] = p[0];
      f->fds[f->count++] = p[1];
      if (fcntl(p[1], F_SETPIPE_SZ, PAGE) < 0 || write(p[1], page, PAGE) != PAGE)
         break;
   }
   for (size_t i = 0; i < f->count; i += 4) {
      close(f->fds[i]);
      close(f->fds[i + 1]);
      f->fds[i] = f->fds[i + 1] = -1;
   }
   return true;
}

/* The userptr flow over a HOST3D_GUEST blob of `size` bytes. */
static void
userptr_flow(struct guest_ctx *ctx, const char *label, uint64_t size, bool scattered)
{
   struct fragments fragments = { NULL, 0 };
   if (scattered && !fragment_guest_memory(&fragments, 2 * size / PAGE))
      step_note("%s: guest RAM could not be fragmented: %s", label, strerror(errno));
   uint32_t handle = 0, res = 0;
   int ret = vgc_blob_create(&ctx->g, VGPU_BLOB_MEM_HOST3D_GUEST, 0, size,
                             hkc_new_blob_id(&ctx->g.hk), &handle, &res);
   fragments_free(&fragments);
   if (!step(ret == 0,
             "%s: RESOURCE_CREATE_BLOB(HOST3D_GUEST, flags 0, %llu KiB) over pages "
             "the guest kernel allocates%s -> res %u",
             label, (unsigned long long)size >> 10,
             scattered ? " (guest RAM fragmented first)" : "", res))
      return;

   uint8_t *cpu = vgc_map(&ctx->g, handle, size, NULL);
   if (step(cpu != MAP_FAILED, "%s: MAP + mmap of the blob, pattern written", label))
      pattern_fill(cpu, size, 0x5eed0001, 0);
   else
      cpu = NULL;

   uint64_t alias = 0, gpu_va = 0;
   ret = hkc_map_userptr(&ctx->g.hk, res, &alias);
   step(ret == 0 && alias, "%s: ccmd MAP_USERPTR(res %u) -> handle 0x%llx (ret %d)",
        label, res, (unsigned long long)alias, ret);
   if (ret == 0 && alias) {
      ret = hkc_reg_mem(&ctx->g.hk, res, alias, size, 0);
      step(ret == 0, "%s: ccmd REG_MEM_WITH_FLAG(handle, %llu KiB) -> ret %d", label,
           (unsigned long long)size >> 10, ret);
   }
   if (ret == 0 && alias) {
      ret = hkc_map_to_gpu_nodes(&ctx->g.hk, res, alias, size, &ctx->node, 1, &gpu_va);
      step(ret == 0 && gpu_va, "%s: ccmd MAP_TO_GPU_NODES(node %u) -> GPU VA 0x%llx",
           label, ctx->node, (unsigned long long)gpu_va);
   }

   char reply[256], request[128];
   if (probe.fd >= 0 && gpu_va && cpu) {
      snprintf(request, sizeof(request), "pieces 0x%llx", (unsigned long long)gpu_va);
      if (ask(reply, sizeof(reply), request)) {
         /* scattered: most of its pages apart (measured: all of them) */
         long long pieces = reply_count(reply, "pieces"),
                   pages = (long long)(size / PAGE);
         step(scattered ? pieces * 4 >= pages : pieces == 1,
              "%s: the host aliases its %lld page(s) in %lld piece(s) (%s)", label, pages,
              pieces, scattered ? "scattered: at least a quarter as many" : "one piece");
      }
      snprintf(request, sizeof(request), "gpu-check 0x%llx %llu 0x5eed0001",
               (unsigned long long)gpu_va, (unsigned long long)size);
      if (ask(reply, sizeof(reply), request))
         step(true, "%s: the GPU reads the guest's pattern in all %llu KiB (%s)", label,
              (unsigned long long)size >> 10, reply + 3);
      snprintf(request, sizeof(request), "gpu-fill 0x%llx %llu 0x5eed0002",
               (unsigned long long)gpu_va, (unsigned long long)size);
      if (ask(reply, sizeof(reply), request)) {
         size_t first = 0, bad = pattern_check(cpu, size, 0x5eed0002, 0, &first);
         step(!bad, "%s: the guest reads what the GPU wrote: %zu of %llu words differ",
              label, bad, (unsigned long long)size / 4);
      }
   } else if (probe.fd < 0) {
      step_note("%s: no host probe: the GPU's view is not checked", label);
   }

   if (cpu)
      munmap(cpu, size);
   ret = vgc_close_handle(&ctx->g, handle);
   step(ret == 0, "%s: munmap + GEM_CLOSE (the host unmaps and deregisters it)", label);
}

/* KFD memory: ALLOC, the claiming blob mapped at the same VA, both views checked. */
static void
kfd_memory_flow(struct guest_ctx *ctx)
{
   uint64_t blob_id = hkc_new_blob_id(&ctx->g.hk), va = 0;
   int ret = hkc_alloc(&ctx->g.hk, ctx->node, KFD_VRAM_FLAGS, KFD_SIZE, blob_id, &va);
   bool inside = va >= ctx->window_start && va - ctx->window_start < ctx->window_size;
   if (!step(ret == 0 && inside,
             "KFD: ccmd ALLOC(node %u, VRAM with host access, %u MiB, blob %llu) -> VA "
             "0x%llx, %s the window (ret %d)",
             ctx->node, KFD_SIZE >> 20, (unsigned long long)blob_id,
             (unsigned long long)va, inside ? "inside" : "outside", ret))
      return;
   uint32_t handle = 0, res = 0;
   ret = vgc_blob_create(&ctx->g, VGPU_BLOB_MEM_HOST3D, VGPU_BLOB_FLAG_USE_MAPPABLE,
                         KFD_SIZE, blob_id, &handle, &res);
   if (!step(ret == 0, "KFD: RESOURCE_CREATE_BLOB(HOST3D, MAPPABLE, blob %llu) -> res %u",
             (unsigned long long)blob_id, res))
      return;
   void *fixed = (void *)(uintptr_t)va;
   uint8_t *cpu = vgc_map(&ctx->g, handle, KFD_SIZE, fixed);
   if (step(cpu == fixed, "KFD: MAP + mmap MAP_FIXED at 0x%llx: guest VA == host VA",
            (unsigned long long)va))
      pattern_fill(cpu, KFD_SIZE, 0x5eed0003, 0);
   else
      cpu = NULL;

   uint64_t gpu_va = 0;
   ret = hkc_map_to_gpu_nodes(&ctx->g.hk, 0, va, KFD_SIZE, &ctx->node, 1, &gpu_va);
   step(ret == 0 && (gpu_va == va || gpu_va == 0),
        "KFD: ccmd MAP_TO_GPU_NODES(node %u) -> GPU VA 0x%llx (ret %d)", ctx->node,
        (unsigned long long)(gpu_va ? gpu_va : va), ret);

   char reply[256], request[128];
   if (probe.fd >= 0 && ret == 0 && cpu) {
      snprintf(request, sizeof(request), "gpu-check 0x%llx %u 0x5eed0003",
               (unsigned long long)va, KFD_SIZE);
      if (ask(reply, sizeof(reply), request))
         step(true, "KFD: the GPU reads the guest's pattern at the same VA (%s)",
              reply + 3);
      snprintf(request, sizeof(request), "gpu-fill 0x%llx %u 0x5eed0004",
               (unsigned long long)va, KFD_SIZE);
      if (ask(reply, sizeof(reply), request)) {
         size_t first = 0, bad = pattern_check(cpu, KFD_SIZE, 0x5eed0004, 0, &first);
         step(!bad, "KFD: the guest reads what the GPU wrote: %zu of %u words differ",
              bad, KFD_SIZE / 4);
      }
   }
   if (ret == 0) {
      ret = hkc_unmap_to_gpu(&ctx->g.hk, va);
      step(ret == 0, "KFD: ccmd UNMAP_TO_GPU(0x%llx) -> ret %d", (unsigned long long)va,
           ret);
   }
   /* the guest libhsakmt's free: its view back to the reservation, then GEM_CLOSE */
   if (cpu)
      mmap(fixed, KFD_SIZE, PROT_NONE,
           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
   ret = vgc_close_handle(&ctx->g, handle);
   step(ret == 0, "KFD: re-reserve + GEM_CLOSE (the host frees the allocation)");
}

static int
run_flow(const struct options *o)
{
   struct guest_ctx ctx;
   if (context_open(&ctx, o->device)) {
      userptr_flow(&ctx, "userptr in one piece", (uint64_t)o->piece_kib << 10, false);
      userptr_flow(&ctx, "userptr scattered", (uint64_t)o->scattered_mib << 20, true);
      kfd_memory_flow(&ctx);
   }
   vgc_close(&ctx.g);
   step(true, "close the render node: the kernel destroys the context");
   return steps_failures();
}

/* ---- the lifetime of KFD memory a process still maps (wire-protocol.md §4.1) ---- */

struct kfd_block {
   uint64_t va;
   uint32_t handle, res;
   uint8_t *cpu;
};

static bool
kfd_block_create(struct guest_ctx *ctx, struct kfd_block *block, uint32_t seed,
                 const char *what)
{
   memset(block, 0, sizeof(*block));
   uint64_t blob_id = hkc_new_blob_id(&ctx->g.hk);
   int ret =
      hkc_alloc(&ctx->g.hk, ctx->node, KFD_VRAM_FLAGS, KFD_SIZE, blob_id, &block->va);
   if (ret == 0)
      ret = vgc_blob_create(&ctx->g, VGPU_BLOB_MEM_HOST3D, VGPU_BLOB_FLAG_USE_MAPPABLE,
                            KFD_SIZE, blob_id, &block->handle, &block->res);
   void *fixed = (void *)(uintptr_t)block->va;
   block->cpu = ret == 0 ? vgc_map(&ctx->g, block->handle, KFD_SIZE, fixed) : MAP_FAILED;
   if (block->cpu != fixed) {
      block->cpu = NULL;
      return step(false, "%s: ALLOC + HOST3D blob + mmap at its VA failed (ret %d)", what,
                  ret);
   }
   pattern_fill(block->cpu, KFD_SIZE, seed, 0);
   return step(true, "%s: ALLOC + HOST3D blob (res %u) mapped at 0x%llx, %u MiB written",
               what, block->res, (unsigned long long)block->va, KFD_SIZE >> 20);
}

static void
kfd_block_destroy(struct guest_ctx *ctx, struct kfd_block *block)
{
   if (block->cpu)
      mmap(block->cpu, KFD_SIZE, PROT_NONE,
           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
   if (block->handle)
      vgc_close_handle(&ctx->g, block->handle);
   block->cpu = NULL;
   block->handle = 0;
}

static bool
wait_byte(int fd)
{
   char c;
   ssize_t n;
   do
      n = read(fd, &c, 1);
   while (n < 0 && errno == EINTR);
   return n == 1;
}

static void
send_byte(int fd)
{
   ssize_t n;
   do
      n = write(fd, "x", 1);
   while (n < 0 && errno == EINTR);
}

/* B: its own context; allocates several times once A closed its handle. */
static int
lifetime_b(const struct options *o, int from_a, int to_a)
{
   steps_begin("B");
   struct guest_ctx ctx;
   struct kfd_block blocks[LIFETIME_ALLOCS];
   memset(blocks, 0, sizeof(blocks));
   bool opened = context_open(&ctx, o->device);
   uint64_t a_va = 0;
   /* A sends its VA once it closed the handle (or 0 when it got nowhere) */
   if (wait_byte(from_a) && read(from_a, &a_va, sizeof(a_va)) == sizeof(a_va) && opened) {
      for (uint32_t i = 0; i < LIFETIME_ALLOCS; i++) {
         char what[64];
         snprintf(what, sizeof(what), "B's ALLOC #%u", i + 1);
         if (kfd_block_create(&ctx, &blocks[i], 0xb0b00000u + i, what) &&
             blocks[i].va == a_va)
            step_note("B's ALLOC #%u got 0x%llx, the VA A still maps", i + 1,
                      (unsigned long long)a_va);
      }
   }
   send_byte(to_a);
   wait_byte(from_a); /* A has looked */
   for (uint32_t i = 0; i < LIFETIME_ALLOCS; i++)
      kfd_block_destroy(&ctx, &blocks[i]);
   vgc_close(&ctx.g);
   return steps_failures() ? 1 : 0;
}

/* What A found at the word it read: B's data, zeroes or something else. */
static const char *
describe(uint32_t word, uint64_t index)
{
   for (uint32_t i = 0; i < LIFETIME_ALLOCS; i++)
      if (word == pattern_word(0xb0b00000u + i, index))
         return "B's data";
   return word ? "neither A's nor B's data" : "zeroes";
}

static int
run_lifetime(const struct options *o)
{
   int a_to_b[2], b_to_a[2];
   if (pipe(a_to_b) || pipe(b_to_a)) {
      step(false, "pipe: %s", strerror(errno));
      return 1;
   }
   fflush(stdout);
   pid_t pid = fork();
   if (pid == 0) {
      close(a_to_b[1]);
      close(b_to_a[0]);
      _exit(lifetime_b(o, a_to_b[0], b_to_a[1]));
   }
   close(a_to_b[0]);
   close(b_to_a[1]);
   steps_begin("A");
   if (!step(pid > 0, "fork: process B runs its own context beside this one"))
      return 1;

   struct guest_ctx ctx;
   struct kfd_block mine;
   memset(&mine, 0, sizeof(mine));
   uint64_t va = 0;
   if (context_open(&ctx, o->device) &&
       kfd_block_create(&ctx, &mine, 0xa11ce000u, "A's KFD memory")) {
      va = mine.va;
      int ret = vgc_close_handle(&ctx.g, mine.handle);
      mine.handle = 0;
      step(ret == 0, "GEM_CLOSE of the blob's handle, its mmap kept: the host sees the "
                     "detach, the VMM still maps the blob");
      /* a host that freed the memory on detach made the VMM fault right here */
      size_t first = 0;
      step(!pattern_check(mine.cpu, KFD_SIZE, 0xa11ce000u, 0, &first),
           "right after the detach A still reads its own %u MiB", KFD_SIZE >> 20);
   }
   send_byte(a_to_b[1]);
   if (write(a_to_b[1], &va, sizeof(va)) != sizeof(va))
      step(false, "write to B: %s", strerror(errno));
   bool b_done = wait_byte(b_to_a[0]);
   if (mine.cpu) {
      size_t first = 0, bad = pattern_check(mine.cpu, KFD_SIZE, 0xa11ce000u, 0, &first);
      uint32_t word = 0;
      if (bad)
         memcpy(&word, mine.cpu + 4 * first, 4);
      step(b_done && !bad,
           "after B's %u ALLOCs A still reads its own %u MiB at 0x%llx: %zu of %u words "
           "differ%s%s",
           LIFETIME_ALLOCS, KFD_SIZE >> 20, (unsigned long long)va, bad, KFD_SIZE / 4,
           bad ? ", it reads " : "", bad ? describe(word, first) : "");
   }
   send_byte(a_to_b[1]);
   int status = 0;
   waitpid(pid, &status, 0);
   step(WIFEXITED(status) && WEXITSTATUS(status) == 0, "process B exited (status 0x%x)",
        (unsigned)status);
   kfd_block_destroy(&ctx, &mine);
   vgc_close(&ctx.g);
   close(a_to_b[1]);
   close(b_to_a[0]);
   return steps_failures();
}

static int
run_host_check(const char *what)
{
   char reply[256];
   if (probe.fd < 0) {
      step(false, "%s needs --probe", what);
      return 1;
   }
   if (!strcmp(what, "baseline")) {
      if (ask(reply, sizeof(reply), "baseline"))
         step(true, "host KFD objects before the guest's contexts: %s", reply + 3);
   } else if (ask(reply, sizeof(reply), "settle 5000")) {
      step(true, "host KFD objects back at the baseline: %s", reply + 3);
   }
   return steps_failures();
}

static void
usage(const char *argv0)
{
   printf("usage: %s [--device PATH] [--probe TTY] [--piece-kib N] [--scattered-mib N]\n"
          "          [flow | lifetime | baseline | settle]\n"
          "  flow      the context, the userptr flow (in one piece and scattered) and\n"
          "            KFD memory (default)\n"
          "  lifetime  two processes: A closes a KFD blob's handle but keeps its mmap,\n"
          "            B allocates; A must still read its own bytes\n"
          "  baseline  (--probe) records the host's KFD objects\n"
          "  settle    (--probe) waits until they are back at the baseline\n",
          argv0);
}

int
main(int argc, char **argv)
{
   struct options o = { NULL, NULL, 8, 4 };
   const char *command = "flow";
   for (int i = 1; i < argc; i++) {
      const char *value = i + 1 < argc ? argv[i + 1] : NULL;
      if (!strcmp(argv[i], "--device") && value) {
         o.device = argv[++i];
      } else if (!strcmp(argv[i], "--probe") && value) {
         o.probe_tty = argv[++i];
      } else if (!strcmp(argv[i], "--scattered-mib") && value) {
         o.scattered_mib = (uint32_t)strtoul(argv[++i], NULL, 0);
      } else if (!strcmp(argv[i], "--piece-kib") && value) {
         o.piece_kib = (uint32_t)strtoul(argv[++i], NULL, 0);
      } else if (argv[i][0] != '-') {
         command = argv[i];
      } else {
         usage(argv[0]);
         return strcmp(argv[i], "--help") ? 2 : 0;
      }
   }
   if (o.scattered_mib < 1 || o.scattered_mib > 64 || o.piece_kib < 4 ||
       o.piece_kib > 65536 || o.piece_kib % 4) {
      fprintf(stderr, "virtkfd_guest_client: sizes out of range (1..64 MiB, 4..65536 "
                      "KiB in pages)\n");
      return 2;
   }
   if (o.probe_tty) {
      int ret = probe_open(&probe, o.probe_tty);
      if (ret) {
         fprintf(stderr, "virtkfd_guest_client: %s: %s\n", o.probe_tty, strerror(-ret));
         return 1;
      }
   }
   printf("virtkfd_guest_client %s\n", command);
   fflush(stdout);
   steps_begin("");
   int failures;
   if (!strcmp(command, "flow")) {
      failures = run_flow(&o);
   } else if (!strcmp(command, "lifetime")) {
      failures = run_lifetime(&o);
   } else if (!strcmp(command, "baseline") || !strcmp(command, "settle")) {
      failures = run_host_check(command);
   } else {
      usage(argv[0]);
      return 2;
   }
   probe_close(&probe);
   printf("virtkfd_guest_client %s: %s in %.1f ms (%d failure%s)\n", command,
          failures ? "FAILED" : "all steps passed", steps_elapsed_ms(), failures,
          failures == 1 ? "" : "s");
   return failures ? 1 : 0;
}
