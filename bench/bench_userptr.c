/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Zero-copy userptr end to end, through the public API on the KFD emulator: guest RAM
 * (a memfd) delivered as shuffled iovecs goes through
 *
 *    virgl_renderer_resource_create_blob(HOST3D_GUEST, USE_USERPTR)
 *    -> MEMORY/MAP_USERPTR -> MEMORY/REG_MEM_WITH_FLAG -> MEMORY/MAP_TO_GPU_NODES
 *
 * as the guest sends them (tests/support/hsakmt_guest.c frames the requests). Each
 * step is timed; MAP_USERPTR is the step that builds the alias. In the same run, and
 * interleaved with it, the two baselines: one bare mmap(MAP_FIXED) per alias run, and
 * a memcpy gathering the same bytes (what a copying implementation would do).
 *
 *    bench_userptr [--size 8G] [--reps 5]
 *
 * bench_userptr_hw is the same program built without the emulator, for a host with an
 * AMD GPU (tests/hw/run.sh): there the check that the alias is right reads it with
 * the CPU, since the GPU's view cannot be read back without a dispatch.
 *
 * Memory: the guest RAM (size) stays populated; the copy's destination (size again)
 * exists only while the copy is measured, so the peak is 2 x size. The alias maps
 * the guest RAM's pages, it adds none. Beyond 30 GiB, raise the emulator's system
 * memory limit (KFDSIM_SYSMEM_LIMIT_MB), which userptrs count against.
 *
 * Targets, for 8 GiB as 512 KiB iovecs (16384) and as 2 MiB iovecs (4096):
 * alias cost per run <= 1.5 x one bare mmap; the whole sequence >= 5 x (512 KiB) and
 * >= 25 x (2 MiB) faster than the copy; the alias alone about 10 x and 50 x.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "bench_common.h"
#include "hsakmt_guest.h"
#ifndef BENCH_REAL_KFD
#include "kfdsim.h"
#endif
#include "test_common.h"
#include "virglrenderer.h"

#ifdef BENCH_REAL_KFD
#define BENCH_KFD "the real GPU"
#else
#define BENCH_KFD "the KFD emulator"
#endif

static struct hsakmt_guest guest;
static uint32_t gpu_node = 1; /* found in the topology at start */

/* The first GPU node of the topology. */
static int
find_gpu_node(void)
{
   uint32_t none = 0;
   struct hsakmt_query_info_rsp *rsp =
      hsakmt_guest_query(&guest, HSAKMT_QUERY_GET_SYS_PROP, &none, 4, 0);
   uint32_t nodes = rsp && !rsp->hdr.ret ? rsp->sys_props.num_nodes : 0;
   for (uint32_t node = 0; node < nodes; node++) {
      rsp = hsakmt_guest_query(&guest, HSAKMT_QUERY_GET_NODE_PROP, &node, 4, 0);
      if (rsp && !rsp->hdr.ret && rsp->node_props.kfd_gpu_id) {
         gpu_node = node;
         return 0;
      }
   }
   return -1;
}

static struct hsakmt_memory_rsp *
memory_call(uint32_t type, uint32_t res_id, struct hsakmt_memory_req *req,
            uint32_t req_len)
{
   req->type = type;
   req->res_id = res_id;
   struct hsakmt_memory_rsp *rsp = hsakmt_guest_memory(&guest, req, req_len);
   if (!rsp) {
      fprintf(stderr, "MEMORY %u of res %u: no response\n", type, res_id);
      exit(1);
   }
   if (rsp->hdr.ret) {
      fprintf(stderr, "MEMORY %u of res %u: status %d\n", type, res_id, rsp->hdr.ret);
      exit(1);
   }
   return rsp;
}

enum step {
   STEP_CREATE_BLOB,
   STEP_MAP_USERPTR,
   STEP_REGISTER,
   STEP_MAP_TO_GPU,
   STEP_SEQUENCE, /* the four above */
   STEP_TEARDOWN, /* detach_iov + unref, as QEMU */
   STEP_COUNT,
};

static const char *const step_names[STEP_COUNT] = {
   [STEP_CREATE_BLOB] = "create_blob (HOST3D_GUEST)",
   [STEP_MAP_USERPTR] = "MAP_USERPTR (builds the alias)",
   [STEP_REGISTER] = "REG_MEM_WITH_FLAG",
   [STEP_MAP_TO_GPU] = "MAP_TO_GPU_NODES",
   [STEP_SEQUENCE] = "whole sequence",
   [STEP_TEARDOWN] = "teardown (detach_iov + unref)",
};

/* One userptr blob through the whole sequence and back; seconds per step. */
static void
userptr_sequence(const struct iovec *iov, uint32_t count, uint64_t size,
                 const struct bench_guest_ram *ram, double times[STEP_COUNT])
{
   uint32_t res = hsakmt_guest_new_res_id(&guest);
   struct virgl_renderer_resource_create_blob_args args = {
      .res_handle = res,
      .ctx_id = guest.ctx_id,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D_GUEST,
      .blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR,
      .blob_id = hsakmt_guest_new_blob_id(&guest),
      .size = size,
      .iovecs = iov,
      .num_iovs = count,
   };
   struct hsakmt_memory_req req;
   _Alignas(struct hsakmt_memory_req) uint8_t map_req[HSAKMT_MEMORY_PAYLOAD_OFFSET + 8];
   double t[5];

   t[0] = bench_now();
   int ret = virgl_renderer_resource_create_blob(&args);
   t[1] = bench_now();
   if (ret) {
      fprintf(stderr, "create_blob: %d\n", ret);
      exit(1);
   }

   memset(&req, 0, sizeof(req));
   uint64_t handle =
      memory_call(HSAKMT_MEMORY_MAP_USERPTR, res, &req, 0)->map_userptr.userptr_handle;
   t[2] = bench_now();

   memset(&req, 0, sizeof(req));
   req.reg_mem_with_flag.memory_address = handle;
   req.reg_mem_with_flag.memory_size_in_bytes = size;
   memory_call(HSAKMT_MEMORY_REG_MEM_WITH_FLAG, res, &req, 0);
   t[3] = bench_now();

   /* the node list follows the fixed part, as the guest lays it out */
   memset(map_req, 0, sizeof(map_req));
   struct hsakmt_memory_req *map = (struct hsakmt_memory_req *)map_req;
   map->map_to_gpu_nodes.memory_address = handle;
   map->map_to_gpu_nodes.memory_size_in_bytes = size;
   map->map_to_gpu_nodes.number_of_nodes = 1;
   memcpy(map_req + HSAKMT_MEMORY_PAYLOAD_OFFSET, &gpu_node, sizeof(gpu_node));
   uint64_t gpu_va =
      memory_call(HSAKMT_MEMORY_MAP_TO_GPU_NODES, res, map, sizeof(map_req))
         ->memory_handle;
   t[4] = bench_now();

   /* what was measured is what was meant: an alias (never the guest RAM itself) that
    * the GPU reads at the right place */
   uint8_t expect =
      ((const uint8_t *)iov[count - 1].iov_base)[iov[count - 1].iov_len - 1];
   uint8_t seen = 0;
#ifdef BENCH_REAL_KFD
   seen = ((const volatile uint8_t *)(uintptr_t)handle)[size - 1];
   bool read_failed = false;
#else
   bool read_failed = kfdsim_gpu_read(gpu_va + size - 1, &seen, 1) != 0;
#endif
   if (handle == (uint64_t)(uintptr_t)ram->base || !gpu_va || read_failed ||
       seen != expect) {
      fprintf(stderr, "userptr of res %u is not the alias it should be\n", res);
      exit(1);
   }

   double t5 = bench_now();
   struct iovec *back;
   int back_count;
   virgl_renderer_resource_detach_iov(res, &back, &back_count);
   virgl_renderer_resource_unref(res);
   times[STEP_TEARDOWN] = bench_now() - t5;

   for (int s = 0; s < 4; s++)
      times[s] = t[s + 1] - t[s];
   times[STEP_SEQUENCE] = t[4] - t[0];
}

struct config {
   const char *name;
   uint64_t chunk;
   double target_sequence; /* memcpy / whole sequence, at least */
   double target_alias;    /* memcpy / alias, about */
};

struct result {
   uint32_t count, runs;
   double step[STEP_COUNT], step_min[STEP_COUNT]; /* seconds */
   double bare, bare_min, raw, raw_min;           /* seconds per mmap */
   double copy, copy_min;                         /* seconds */
   /* the targets */
   double mmap_ratio, sequence_ratio, alias_ratio;
};

static void
run_config(const struct config *cfg, const struct bench_guest_ram *ram, int reps,
           uint64_t seed, struct result *out)
{
   uint64_t size = ram->size;
   uint32_t count = (uint32_t)(size / cfg->chunk);
   uint32_t *perm = bench_shuffled_indices(count, seed);
   struct iovec *iov = bench_guest_ram_iovecs(ram, cfg->chunk, count, perm);
   double step[STEP_COUNT][BENCH_MAX_REPS], times[STEP_COUNT];
   double bare[BENCH_MAX_REPS], raw[BENCH_MAX_REPS], copy[BENCH_MAX_REPS];

   /*
    * Interleaved, so that other load on the machine hits the sequence and the
    * baselines alike. A warm-up sequence first: libhsakmt and the emulator set up
    * their first GPU mapping, which no later blob pays for.
    */
   userptr_sequence(iov, count, size, ram, times);
   for (int r = 0; r < reps; r++) {
      bare[r] = bench_bare_mmap(ram->fd, cfg->chunk, count, perm, false);
      raw[r] = bench_bare_mmap(ram->fd, cfg->chunk, count, perm, true);
      userptr_sequence(iov, count, size, ram, times);
      copy[r] = bench_memcpy_gather(iov, count, size);
      for (int s = 0; s < STEP_COUNT; s++)
         step[s][r] = times[s];
   }

   out->count = count;
   out->runs = bench_count_runs(iov, count);
   /* bench_median sorts: [0] is the minimum afterwards */
   for (int s = 0; s < STEP_COUNT; s++) {
      out->step[s] = bench_median(step[s], reps);
      out->step_min[s] = step[s][0];
   }
   out->bare = bench_median(bare, reps);
   out->bare_min = bare[0];
   out->raw = bench_median(raw, reps);
   out->raw_min = raw[0];
   out->copy = bench_median(copy, reps);
   out->copy_min = copy[0];
   out->mmap_ratio = out->step[STEP_MAP_USERPTR] / out->runs / out->bare;
   out->sequence_ratio = out->copy / out->step[STEP_SEQUENCE];
   out->alias_ratio = out->copy / out->step[STEP_MAP_USERPTR];
   free(iov);
   free(perm);
}

static void
print_config(const struct config *cfg, uint64_t size, const struct result *res)
{
   printf("\n%s: %" PRIu32 " iovecs -> %" PRIu32 " alias runs, %.2f GiB\n", cfg->name,
          res->count, res->runs, (double)size / BENCH_GIB);
   printf("  %-38s %10s %10s %11s\n", "", "median ms", "min ms", "us per run");
   for (int s = 0; s < STEP_COUNT; s++)
      printf("  %-38s %10.3f %10.3f %11.3f\n", step_names[s], res->step[s] * 1e3,
             res->step_min[s] * 1e3, res->step[s] / res->runs * 1e6);
   printf("  %-38s %10.3f %10.3f %11s  %.2f GB/s\n", "memcpy of the same bytes",
          res->copy * 1e3, res->copy_min * 1e3, "", (double)size / res->copy / 1e9);
   printf("  %-38s %10s %10s %11.3f  (min %.3f)\n", "bare mmap(MAP_FIXED), per call", "",
          "", res->bare * 1e6, res->bare_min * 1e6);
   printf("  %-38s %10s %10s %11.3f  (min %.3f)\n", "  the same, raw syscall (no hook)",
          "", "", res->raw * 1e6, res->raw_min * 1e6);

   printf("  %-38s %10s %10s %11s\n", "target", "measured", "target", "verdict");
   printf("  %-38s %10.2f %10s %11s\n", "alias per run / bare mmap", res->mmap_ratio,
          "<= 1.5", bench_verdict(res->mmap_ratio <= 1.5));
   /* stricter: the alias's mmaps pay the emulator's hook, the raw syscall does not */
   double raw_ratio = res->step[STEP_MAP_USERPTR] / res->runs / res->raw;
   printf("  %-38s %10.2f %10s %11s\n", "  the same, vs the raw syscall", raw_ratio,
          "<= 1.5", bench_verdict(raw_ratio <= 1.5));
   printf("  %-38s %9.1fx %8s%.0fx %11s\n", "memcpy / whole sequence",
          res->sequence_ratio, ">= ", cfg->target_sequence,
          bench_verdict(res->sequence_ratio >= cfg->target_sequence));
   printf("  %-38s %9.1fx %8s%.0fx %11s\n", "memcpy / alias alone (MAP_USERPTR)",
          res->alias_ratio, "~ ", cfg->target_alias,
          bench_verdict(res->alias_ratio >= cfg->target_alias));
}

int
main(int argc, char **argv)
{
   uint64_t size = 8 * BENCH_GIB;
   int reps = 5;
   for (int i = 1; i < argc; i++) {
      if (!strcmp(argv[i], "--size") && i + 1 < argc) {
         size = bench_parse_size(argv[++i]);
      } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
         reps = atoi(argv[++i]);
      } else {
         fprintf(stderr, "usage: %s [--size 8G] [--reps 5]\n", argv[0]);
         return 2;
      }
   }
   if (reps < 1 || reps > BENCH_MAX_REPS || size < 4 * BENCH_MIB ||
       size % (2 * BENCH_MIB)) {
      fprintf(stderr, "size must be a multiple of 2 MiB, at least 4 MiB; reps 1..%d\n",
              BENCH_MAX_REPS);
      return 2;
   }

#ifdef BENCH_REAL_KFD
   struct stat st;
   if (stat("/dev/kfd", &st) || !S_ISCHR(st.st_mode)) {
      fprintf(stderr, "no real /dev/kfd: this build is for a host with an AMD GPU\n");
      return 1;
   }
#else
   if (!kfdsim_active()) {
      fprintf(stderr, "the KFD emulator is not active (a real /dev/kfd?)\n");
      return 1;
   }
#endif
   struct test_vmm vmm;
   test_vmm_init(&vmm, 3);
   if (virgl_renderer_init(&vmm, VIRGL_RENDERER_USE_ROCM, &vmm.cbs) ||
       hsakmt_guest_open(&guest, 1, 1) || find_gpu_node()) {
      fprintf(stderr, "cannot start the renderer and a capset-8 context\n");
      return 1;
   }

   struct bench_guest_ram ram;
   bench_guest_ram_create(&ram, size);
   printf("userptr end to end on " BENCH_KFD ": %.2f GiB memfd guest RAM, shuffled "
          "iovecs, %d repetitions (median)\n",
          (double)size / BENCH_GIB, reps);

   const struct config configs[] = {
      { "512 KiB iovecs", 512 * BENCH_KIB, 5, 10 },
      { "2 MiB iovecs", 2 * BENCH_MIB, 25, 50 },
   };
   const size_t config_count = sizeof(configs) / sizeof(configs[0]);
   struct result results[sizeof(configs) / sizeof(configs[0])];
   for (size_t c = 0; c < config_count; c++) {
      run_config(&configs[c], &ram, reps, 1234 + c, &results[c]);
      print_config(&configs[c], size, &results[c]);
   }

   printf("\nsummary, %.2f GiB, medians:\n", (double)size / BENCH_GIB);
   printf("  %-28s %-18s %-20s %-20s\n", "", "alias/mmap <= 1.5", "memcpy/sequence",
          "memcpy/alias alone");
   for (size_t c = 0; c < config_count; c++) {
      const struct config *cfg = &configs[c];
      const struct result *res = &results[c];
      char name[64], sequence[32], alias[32];
      snprintf(name, sizeof(name), "%s (%" PRIu32 ")", cfg->name, res->count);
      snprintf(sequence, sizeof(sequence), "%.1fx >= %.0fx", res->sequence_ratio,
               cfg->target_sequence);
      snprintf(alias, sizeof(alias), "%.1fx ~ %.0fx", res->alias_ratio,
               cfg->target_alias);
      printf("  %-28s %5.2f %-12s %-15s %-4s %-15s %-4s\n", name, res->mmap_ratio,
             bench_verdict(res->mmap_ratio <= 1.5), sequence,
             bench_verdict(res->sequence_ratio >= cfg->target_sequence), alias,
             bench_verdict(res->alias_ratio >= cfg->target_alias));
   }

   bench_guest_ram_destroy(&ram);
   hsakmt_guest_close(&guest);
   virgl_renderer_cleanup(NULL);
   test_vmm_fini(&vmm);
   return 0;
}
