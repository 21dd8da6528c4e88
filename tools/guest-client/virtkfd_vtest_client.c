/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * virtkfd_vtest_client: a guest-like run of the zero-copy userptr path over
 * vtest (vtest-protocol.md §13.6). It acts as guest kernel and user-mode driver:
 * it negotiates, reads capset 8, creates the context and the shared-memory blob,
 * adds memfd "guest RAM" in two adjacent regions, registers a fragmented buffer
 * through RESOURCE_CREATE_BLOB_SG -> MAP_USERPTR -> REG_MEM_WITH_FLAG ->
 * MAP_TO_GPU_NODES, and checks that the server's view of guest RAM, and the GPU's
 * when the server runs on the KFD emulator with --debug-commands, hold the bytes
 * it wrote. There it also runs compute (vtest_client_compute.c): an AQL queue on KFD
 * memory, a packet, the doorbell rung through its mapping of the doorbell blob, what
 * the emulated GPU saw, an event the GPU signalled, and the teardown. It prints every
 * step with its time and exits non-zero on failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_steps.h"
#include "vtest_client.h"
#include "vtest_client_compute.h"

#define PAGE        4096u
#define SHMEM_SIZE  (80u * PAGE)
#define REGION_SIZE (8u << 20)
/* the buffer and one spare page fit the two regions */
#define MAX_PAGES (2 * REGION_SIZE / PAGE - 1)
#define GPA_BASE  0x100000000ull

struct ram {
   int fd;
   uint8_t *base;
};

static int
ram_create(struct ram *ram)
{
   ram->fd = memfd_create("guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
   if (ram->fd < 0 || ftruncate(ram->fd, REGION_SIZE) < 0 ||
       fcntl(ram->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
      return -errno;
   ram->base = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ram->fd, 0);
   return ram->base == MAP_FAILED ? -errno : 0;
}

static uint8_t *
guest_page(struct ram *rams, uint64_t gpa)
{
   uint64_t off = gpa - GPA_BASE;
   return rams[off / REGION_SIZE].base + off % REGION_SIZE;
}

int
main(int argc, char **argv)
{
   const char *path = VTEST_DEFAULT_SOCKET_NAME;
   uint32_t pages = 1024; /* a 4 MiB buffer */
   for (int i = 1; i < argc; i++) {
      if (!strncmp(argv[i], "--socket-path=", 14))
         path = argv[i] + 14;
      else if (!strcmp(argv[i], "--socket-path") && i + 1 < argc)
         path = argv[++i];
      else if (!strcmp(argv[i], "--pages") && i + 1 < argc)
         pages = (uint32_t)strtoul(argv[++i], NULL, 0);
      else {
         printf("usage: %s [--socket-path PATH] [--pages N (2..%u)]\n", argv[0],
                MAX_PAGES);
         return strcmp(argv[i], "--help") ? 2 : 0;
      }
   }
   if (pages < 2 || pages > MAX_PAGES) {
      fprintf(stderr, "virtkfd_vtest_client: --pages %u is outside 2..%u\n", pages,
              MAX_PAGES);
      return 2;
   }
   steps_begin("");
   printf("virtkfd_vtest_client: %s\n", path);

   struct vtc c;
   int ret = vtc_connect(&c, path, "virtkfd_vtest_client");
   step(ret == 0, "connect, CREATE_RENDERER, PING/BUSY_WAIT, PROTOCOL_VERSION -> %u",
        ret ? 0 : c.version);
   if (ret)
      return 1;
   step(c.ext, "GET_PARAM(VIRTKFD_EXT) -> extension revision %s",
        c.ext ? "1" : "absent (not a virtkfd server?)");
   if (!c.ext)
      return 1;

   struct virgl_renderer_capset_hsakmt caps;
   memset(&caps, 0, sizeof(caps));
   ret = vtc_get_capset(&c, HSAKMT_CAPSET_ID, HSAKMT_CAPSET_VERSION, &caps, sizeof(caps));
   step(ret >= (int)sizeof(caps),
        "GET_CAPSET(8, 1) -> %d bytes, wire format %u, "
        "version %u.%u.%u, context_type %u",
        ret, caps.wire_format_version, caps.version_major, caps.version_minor,
        caps.version_patchlevel, caps.context_type);
   if (ret < (int)sizeof(caps))
      return 1;

   ret = vtc_hsakmt_open(&c, SHMEM_SIZE);
   step(ret == 0,
        "CONTEXT_INIT(8) + shmem RESOURCE_CREATE_BLOB(HOST3D, 0x%x bytes) "
        "-> res %u, rsp_mem_offset %u",
        SHMEM_SIZE, c.shmem_res, c.hk.rsp_mem_offset);
   if (ret)
      return 1;

   uint32_t gres = 0;
   int gfd = -1;
   ret = vtc_blob_create(&c, VCMD_BLOB_TYPE_GUEST, VCMD_BLOB_FLAG_MAPPABLE, 64 << 10, 0,
                         &gres, &gfd);
   int seals = gfd >= 0 ? fcntl(gfd, F_GET_SEALS) : -1;
   step(ret == 0 && seals >= 0 && (seals & F_SEAL_SHRINK),
        "RESOURCE_CREATE_BLOB(GUEST, 64 KiB) -> res %u and a sealed memfd", gres);
   if (gfd >= 0)
      close(gfd);
   vtc_unref(&c, gres);

   uint32_t node = 1, gpu_id = 0;
   ret = hkc_get_node_gpu_id(&c.hk, node, &gpu_id);
   step(ret == 0 && gpu_id, "ccmd QUERY_INFO(GET_NODE_PROP, node 1) -> gpu_id 0x%x",
        gpu_id);
   if (ret || !gpu_id)
      return 1;

   /* two adjacent RAM regions, as a VMM with two memory backends */
   struct ram rams[2];
   for (int i = 0; i < 2; i++) {
      ret = ram_create(&rams[i]);
      if (!ret)
         ret = vtc_guest_ram_add(&c, GPA_BASE + (uint64_t)i * REGION_SIZE, REGION_SIZE,
                                 rams[i].fd);
      step(ret == 0, "GUEST_RAM_ADD(gpa 0x%llx, %u MiB memfd) -> status %d",
           (unsigned long long)(GPA_BASE + (uint64_t)i * REGION_SIZE), REGION_SIZE >> 20,
           ret);
      if (ret)
         return 1;
   }

   /*
    * A fragmented guest buffer: its pages lie shuffled over both regions, and one
    * two-page entry crosses the boundary between them (the server splits it).
    */
   uint32_t count = pages - 1;
   struct vtest_sg_entry *sg = calloc(count, sizeof(*sg));
   uint32_t *slot = calloc(2 * REGION_SIZE / PAGE, sizeof(*slot));
   if (!sg || !slot)
      return 1;
   uint32_t total_pages = 2 * REGION_SIZE / PAGE, boundary = REGION_SIZE / PAGE;
   uint32_t x = 12345;
   for (uint32_t i = 0; i < total_pages; i++)
      slot[i] = i;
   for (uint32_t i = total_pages - 1; i > 0; i--) {
      x = x * 1664525u + 1013904223u;
      uint32_t j = x % (i + 1), t = slot[i];
      slot[i] = slot[j];
      slot[j] = t;
   }
   uint32_t buffer_page = 0, used = 0;
   for (uint32_t k = 0; k < count; k++) {
      uint32_t gp;
      uint32_t len = PAGE;
      if (k == count / 2) {
         gp = boundary - 1; /* this entry crosses into the second region */
         len = 2 * PAGE;
      } else {
         do
            gp = slot[used++];
         while (gp == boundary - 1 || gp == boundary);
      }
      sg[k].addr = GPA_BASE + (uint64_t)gp * PAGE;
      sg[k].length = len;
      for (uint32_t p = 0; p < len / PAGE; p++) {
         uint32_t tag = 0x70000000u | buffer_page++;
         memcpy(guest_page(rams, sg[k].addr + (uint64_t)p * PAGE), &tag, 4);
      }
   }
   uint64_t size = (uint64_t)buffer_page * PAGE;

   uint32_t res = 0;
   ret = vtc_blob_sg(&c, VCMD_BLOB_TYPE_HOST3D_GUEST, 0x8 /* USE_USERPTR */, size,
                     vtc_new_blob_id(&c), sg, count, &res);
   step(ret == 0,
        "RESOURCE_CREATE_BLOB_SG(HOST3D_GUEST, USE_USERPTR, %llu KiB, %u "
        "entries) -> res %u (status %d)",
        (unsigned long long)size >> 10, count, res, ret);
   if (ret)
      return 1;

   uint64_t handle = 0;
   ret = hkc_map_userptr(&c.hk, res, &handle);
   step(ret == 0 && handle, "ccmd MAP_USERPTR -> handle 0x%llx (ret %d)",
        (unsigned long long)handle, ret);
   if (ret || !handle)
      return 1;

   ret = hkc_reg_mem(&c.hk, res, handle, size, 0);
   step(ret == 0, "ccmd REG_MEM_WITH_FLAG(handle, %llu KiB) -> ret %d",
        (unsigned long long)size >> 10, ret);

   uint64_t gpu_va = 0;
   ret = hkc_map_to_gpu_nodes(&c.hk, res, handle, size, &node, 1, &gpu_va);
   step(ret == 0 && gpu_va, "ccmd MAP_TO_GPU_NODES(node 1) -> GPU VA 0x%llx",
        (unsigned long long)gpu_va);

   /* the server's view of guest RAM, and the GPU's (test-only commands) */
   uint32_t stats[VTEST_STAT_COUNT];
   bool debug = vtc_debug_stats(&c, stats) == 0;
   if (!debug) {
      /* the unknown command ended the session; the server freed everything */
      printf("  (server without --debug-commands: its views cannot be read back)\n");
   } else {
      uint32_t mismatches = 0, checked = 0;
      for (uint32_t k = 0; k < count; k += 7) {
         uint32_t tag_ram = 0, expect;
         memcpy(&expect, guest_page(rams, sg[k].addr), 4);
         if (vtc_debug_read(&c, VCMD_VIRTKFD_DEBUG_RAM_READ, sg[k].addr, &tag_ram, 4) ||
             tag_ram != expect)
            mismatches++;
         checked++;
      }
      step(!mismatches, "server's view of guest RAM: %u of %u sampled entries match",
           checked - mismatches, checked);
      /* only the emulator lets the server read what the GPU sees */
      bool emulated = stats[VTEST_STAT_KFD_EMULATED] != 0;
      mismatches = checked = 0;
      for (uint32_t p = 0; emulated && p < buffer_page; p += 5) {
         uint32_t tag = 0;
         if (vtc_debug_read(&c, VCMD_VIRTKFD_DEBUG_GPU_READ, gpu_va + (uint64_t)p * PAGE,
                            &tag, 4) ||
             tag != (0x70000000u | p))
            mismatches++;
         checked++;
      }
      if (emulated)
         step(!mismatches,
              "GPU view (KFD emulator): %u of %u sampled pages read the guest's "
              "pattern in buffer order; %u USERPTR registration(s) live",
              checked - mismatches, checked, stats[VTEST_STAT_KFD_USERPTRS]);
      else
         printf("  (a real KFD: the GPU's view cannot be read back without a "
                "dispatch)\n");

      vtc_unref(&c, res);
      uint32_t after[VTEST_STAT_COUNT];
      ret = vtc_debug_stats(&c, after);
      if (emulated)
         step(ret == 0 &&
                 after[VTEST_STAT_KFD_USERPTRS] + 1 == stats[VTEST_STAT_KFD_USERPTRS] &&
                 after[VTEST_STAT_OPEN_FDS] == stats[VTEST_STAT_OPEN_FDS],
              "RESOURCE_UNREF -> USERPTR registrations %u -> %u, server fds %u -> %u",
              stats[VTEST_STAT_KFD_USERPTRS], after[VTEST_STAT_KFD_USERPTRS],
              stats[VTEST_STAT_OPEN_FDS], after[VTEST_STAT_OPEN_FDS]);
      else
         step(ret == 0 && after[VTEST_STAT_OPEN_FDS] == stats[VTEST_STAT_OPEN_FDS],
              "RESOURCE_UNREF -> server fds %u -> %u", stats[VTEST_STAT_OPEN_FDS],
              after[VTEST_STAT_OPEN_FDS]);
      /* compute needs the emulator's view of the blobs a VMM would map */
      if (emulated) {
         printf("compute on GPU node %u:\n", node);
         vtc_compute_demo(&c, node);
      } else {
         printf("  (a real KFD: host-VA blobs cannot be handed to a vtest client, so "
                "the compute steps are skipped)\n");
      }
   }
   vtc_close(&c);
   for (int i = 0; i < 2; i++) {
      munmap(rams[i].base, REGION_SIZE);
      close(rams[i].fd);
   }
   free(sg);
   free(slot);
   int failures = steps_failures();
   printf("virtkfd_vtest_client: %s in %.1f ms (%d failure%s)\n",
          failures ? "FAILED" : "all steps passed", steps_elapsed_ms(), failures,
          failures == 1 ? "" : "s");
   return failures ? 1 : 0;
}
