/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * libFuzzer harness over the capset-8 command stream (hostile-inputs.md,
 * wire-protocol.md §1.3-§1.5), through the public API only, on the real libhsakmt over
 * the KFD emulator. Like virglrenderer's drm fuzzer, each input is submitted before
 * and again after the shared-memory blob exists, so both paths are reached.
 *
 * An input is a 4-byte prefix, then the command stream (copied to an aligned buffer of
 * its own size, rounded down to 4 bytes, as QEMU hands it over):
 *   prefix[0]  setup flags
 *              bit 0  a userptr blob (res 2) over 4 pages of memfd "guest RAM"
 *              bit 1  ... in two iovecs, the later pages first (a real alias)
 *              bit 2  ... read-only (USERPTR_RDONLY)
 *              bit 3  ... taken back by the VMM (detach_iov), then a third submit
 *              bit 4  the context is destroyed before its resources are unref'd
 *              bit 5  the guest has MAP_USERPTR'd the userptr first: each 8-byte
 *                     value 0xfeedf00d_XXXXXXXX at a 4-byte offset of the stream
 *                     becomes its handle + XXXXXXXX, the address later requests name
 *              bit 6  context 1 is gone while the stream runs (process-wide settings
 *                     are allowed then; on the emulator's default gfx1030 neither
 *                     XNACK nor the memory policy can actually change)
 *              bit 7  a second userptr (res 4) over pages 2-5, overlapping the first
 *   prefix[1]  the slot lengths pre-written for every request header the guest sends
 *              (bits 0-1): 0 the guest's, 1 a variant-N guest's (§7), 2 8 bytes,
 *              3 none (0); bit 2 adds 64 KiB
 *              bit 3: the guest has an event, an AQL queue on its ring and
 *              amd_queue_t, and scratch, which the stream names through placeholders
 *              (fuzz_hsakmt_compute.h)
 *   prefix[2]  a blob id to claim with CREATE_BLOB(HOST3D) after the second submit
 *              (what MEMORY/ALLOC left pending), 0 for none
 *   prefix[3]  what happens to the claimed blob (wire-protocol.md §4.1, lifetime rule)
 *              bit 0  the VMM keeps it mapped, with the guest's bytes in it, until the
 *                     very end (after the context's destruction with bit 4)
 *              bit 1  the guest closes its GEM handle (detach), then a third submit
 *              bit 2  another context attaches and detaches it, then a third submit
 * Per input: a context (ctx 2), [userptr], submit (refused: no shmem yet), the shmem
 * blob (res 1) mapped, slot lengths, submit, [claim], [detach_iov, submit], [detaches,
 * submit], then every resource unref'd and the context destroyed. A blob the VMM still
 * maps must keep the guest's bytes through all of it. Context 1 stays open between
 * inputs, as another guest process would, so libhsakmt is never reopened (it leaks a
 * little on every open, which would make libFuzzer give up its per-input leak checks).
 *
 * Beyond the sanitizers, it aborts when the seqno of the last request header that
 * could be read is not the published one (the guest would hang), when a response
 * lands outside the slots the guest reserved, or when an input leaves a KFD buffer, a
 * userptr registration or an fd behind.
 *
 * Run with LSAN_OPTIONS=suppressions=tests/kfdsim/lsan-libhsakmt.supp (libhsakmt's
 * own leaks); VIRTKFD_FUZZ_LOG=1 prints the library's log.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fuzz_hsakmt_compute.h"
#include "kfdsim.h"
#include "virglrenderer.h"
#include "virtkfd/hsakmt_proto.h"

#define PAGE_SIZE        4096u
#define KEEPER_CTX       1u
#define FUZZ_CTX         2u
#define WARM_UP_CTX      3u
#define SHMEM_RES        1u
#define USERPTR_RES      2u
#define USERPTR2_RES     4u
#define CLAIM_RES        3u
#define USERPTR_BLOB_ID  1u
#define SHMEM_SIZE       (80u * PAGE_SIZE) /* the newest guest's */
#define GUEST_RAM_PAGES  8u
#define USERPTR_PAGES    4u
#define PREFIX_SIZE      4u
#define SLOT_EXTRA_ROOM  (64u << 10)

#define FLAG_USERPTR     (1u << 0)
#define FLAG_SPLIT       (1u << 1)
#define FLAG_RDONLY      (1u << 2)
#define FLAG_DETACH_IOV  (1u << 3)
#define FLAG_CTX_FIRST   (1u << 4)
#define FLAG_PREMAP      (1u << 5)
#define FLAG_ALONE       (1u << 6)
#define LIFE_KEEP_MAPPED (1u << 0)
#define LIFE_DETACH      (1u << 1)
#define LIFE_FOREIGN     (1u << 2)
#define CLAIM_PATTERN    0xa5
#define FLAG_SECOND      (1u << 7)

#define SLOT_VARIANT_N   1u
#define SLOT_TINY        2u
#define SLOT_NONE        3u
#define SLOT_EXTRA       (1u << 2)
#define SETUP_COMPUTE    (1u << 3)

#define ADDRESS_TOKEN    0xfeedf00du
#define CANARY           0xa5u
#define MAX_SLOTS        1024u

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
   struct virgl_renderer_callbacks cbs;
   bool verbose;
   uint8_t *guest_ram; /* memfd, MAP_SHARED, as QEMU's memory-backend-memfd */
   int guest_ram_fd;
   struct iovec iov[2];
   struct iovec iov2;
} fuzz;

/* What the process holds; libFuzzer opens fds of its own between inputs. */
struct holdings {
   int fds;
   unsigned live_bos;
   unsigned userptrs;
};

static void
fail(const char *what)
{
   fprintf(stderr, "fuzz_hsakmt_ccmd: %s\n", what);
   abort();
}

static void
log_sink(enum virgl_log_level_flags level, const char *message, void *data)
{
   /* every message is formatted (debug included), so bad format arguments show */
   if (fuzz.verbose)
      fprintf(stderr, "virtkfd[%d]: %s\n", (int)level, message);
}

static int
count_fds(void)
{
   DIR *dir = opendir("/proc/self/fd");
   if (!dir)
      fail("cannot read /proc/self/fd");
   int count = 0;
   struct dirent *entry;
   while ((entry = readdir(dir)))
      count += entry->d_name[0] != '.';
   closedir(dir);
   return count - 1; /* the directory's own fd */
}

/* What the fds are, when one too many is open. */
static void
list_fds(void)
{
   DIR *dir = opendir("/proc/self/fd");
   struct dirent *entry;
   while (dir && (entry = readdir(dir))) {
      char path[300], target[256];
      snprintf(path, sizeof(path), "/proc/self/fd/%s", entry->d_name);
      ssize_t n = readlink(path, target, sizeof(target) - 1);
      if (entry->d_name[0] != '.' && n > 0)
         fprintf(stderr, "fuzz_hsakmt_ccmd: fd %s -> %.*s\n", entry->d_name, (int)n,
                 target);
   }
   if (dir)
      closedir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
   fuzz.verbose = getenv("VIRTKFD_FUZZ_LOG") != NULL;
   /* format every log line, debug included; the sink decides what is printed */
   setenv("VIRTKFD_LOG_LEVEL", "debug", 1);
   virgl_set_log_callback(log_sink, NULL, NULL);

   if (!kfdsim_active())
      fail("the KFD emulator is not active (a real /dev/kfd?)");
   fuzz.cbs.version = 3; /* as crosvm; fences are not fuzzed here */
   if (virgl_renderer_init(&fuzz, VIRGL_RENDERER_USE_ROCM, &fuzz.cbs))
      fail("virgl_renderer_init failed");
   uint32_t max_version, max_size;
   virgl_renderer_get_cap_set(HSAKMT_CAPSET_ID, &max_version, &max_size);
   if (!max_version || max_size != sizeof(struct virgl_renderer_capset_hsakmt))
      fail("capset 8 is not offered");
   if (virgl_renderer_context_create_with_flags(KEEPER_CTX, HSAKMT_CAPSET_ID, 6,
                                                "keeper"))
      fail("the keeper context cannot be created");
   /* what libhsakmt keeps once it made it must not count against the first input */
   fuzz_compute_warm_up(WARM_UP_CTX);

   size_t ram_size = GUEST_RAM_PAGES * PAGE_SIZE;
   fuzz.guest_ram_fd = memfd_create("fuzz-guest-ram", MFD_CLOEXEC);
   if (fuzz.guest_ram_fd < 0 || ftruncate(fuzz.guest_ram_fd, (off_t)ram_size))
      fail("cannot create the guest RAM memfd");
   fuzz.guest_ram =
      mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, fuzz.guest_ram_fd, 0);
   if (fuzz.guest_ram == MAP_FAILED)
      fail("cannot map the guest RAM");
   memset(fuzz.guest_ram, 0x5a, ram_size);
   return 0;
}

/* A field of a request as the host reads it: zero past `len` (zero-extension). */
static uint64_t
field(const uint8_t *req, uint32_t len, uint32_t off, uint32_t size)
{
   uint64_t value = 0;
   if (off + size <= len)
      memcpy(&value, req + off, size);
   return value;
}

/* The slot length a guest reserves for a request (wire-protocol.md §2.0, §7). */
static uint32_t
slot_length(const uint8_t *req, uint32_t len, unsigned mode)
{
   bool variant_n = (mode & 3) == SLOT_VARIANT_N;
   uint32_t cmd = (uint32_t)field(req, len, 0, 4);
   uint64_t size = 8;
   switch (cmd) {
   case HSAKMT_CCMD_QUERY_INFO:
      size = HSAKMT_QUERY_INFO_RSP_SIZE;
      switch (field(req, len, 48, 4)) {
      case HSAKMT_QUERY_GET_NOD_MEM_PROP:
         size += 32 * field(req, len, 60, 4);
         break;
      case HSAKMT_QUERY_GET_NOD_CACHE_PROP:
         size += (variant_n ? HSAKMT_WIRE_CACHE_STRIDE_N : 1056) * field(req, len, 64, 4);
         break;
      case HSAKMT_QUERY_GET_NOD_IO_LINK_PROP:
         size += 52 * field(req, len, 60, 4);
         break;
      case HSAKMT_QUERY_POINTER_INFO:
         size = 440;
         break;
      case HSAKMT_QUERY_TILE_CONFIG:
         size += 4 * (field(req, len, 72, 4) + field(req, len, 76, 4));
         break;
      case HSAKMT_QUERY_DRM_CMD_WRITE_READ:
         size += field(req, len, 72, 8); /* capped below */
         break;
      case HSAKMT_QUERY_SPM_SET_DST_BUFFER:
         size += field(req, len, 60, 4);
         break;
      }
      break;
   case HSAKMT_CCMD_EVENT:
      size = HSAKMT_EVENT_RSP_SIZE;
      break;
   case HSAKMT_CCMD_MEMORY:
      size = HSAKMT_MEMORY_RSP_SIZE;
      if (field(req, len, 304, 4) == HSAKMT_MEMORY_SVM_GET_ATTR)
         size += 8 * field(req, len, 32, 4);
      break;
   case HSAKMT_CCMD_QUEUE:
      size = variant_n ? HSAKMT_QUEUE_RSP_SIZE_N : HSAKMT_QUEUE_RSP_SIZE;
      break;
   case HSAKMT_CCMD_GL_INTER:
      size = HSAKMT_GL_INTER_RSP_SIZE;
      break;
   }
   size = (size + 7) & ~7ull;
   if (mode & SLOT_EXTRA)
      size += SLOT_EXTRA_ROOM;
   switch (mode & 3) {
   case SLOT_TINY:
      return 8;
   case SLOT_NONE:
      return 0;
   default:
      return size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
   }
}

/* The slots a submit's requests may write, as the guest laid them out. */
struct guest_view {
   bool read_one;       /* a request header was read */
   uint32_t last_seqno; /* ... and the seqno of the last one */
   uint32_t count;
   bool checkable; /* the slots neither overlap nor are too many to follow */
   struct {
      uint32_t off, len;
   } slots[MAX_SLOTS];
};

/*
 * Walks the stream as the guest laid it out, and as the host must frame it: fills the
 * response area with a canary and pre-writes each request's slot length. Records the
 * last header read, whose seqno the host must publish whatever else went wrong, and
 * the slots, outside which the host must write nothing.
 */
static void
prepare_slots(uint8_t *shmem, const uint8_t *stream, size_t size, unsigned mode,
              struct guest_view *view)
{
   struct hsakmt_shmem header;
   memcpy(&header, shmem, sizeof(header));
   uint32_t area = SHMEM_SIZE - header.rsp_mem_offset;
   uint8_t *rsp_area = shmem + header.rsp_mem_offset;
   memset(rsp_area, CANARY, area);
   view->read_one = false;
   view->count = 0;
   view->checkable = true;
   size_t remaining = size;
   const uint8_t *cursor = stream;
   while (remaining >= sizeof(struct hsakmt_ccmd_req)) {
      struct hsakmt_ccmd_req hdr;
      memcpy(&hdr, cursor, sizeof(hdr));
      view->read_one = true;
      view->last_seqno = hdr.seqno;
      if (hdr.cmd != HSAKMT_CCMD_NOP && hdr.rsp_off % 8 == 0 && hdr.rsp_off < area &&
          area - hdr.rsp_off >= 4) {
         uint32_t readable = hdr.len < remaining ? hdr.len : (uint32_t)remaining;
         uint32_t len = slot_length(cursor, readable, mode);
         memcpy(rsp_area + hdr.rsp_off, &len, sizeof(len));
         if (view->count < MAX_SLOTS) {
            uint32_t room = area - hdr.rsp_off;
            view->slots[view->count].off = hdr.rsp_off;
            view->slots[view->count].len = len < 4 ? 4 : len > room ? room : len;
            view->count++;
         } else {
            view->checkable = false;
         }
      }
      bool bad_len = hdr.len < sizeof(hdr) || hdr.len > remaining;
      bool misaligned = hdr.len % 8 && !(hdr.len % 8 == 4 && hdr.len == remaining);
      if (bad_len || misaligned || hdr.rsp_off % 8)
         break;
      cursor += hdr.len;
      remaining -= hdr.len;
   }
   /* the guest's view of "done": a seqno the host never wrote reads as 0 */
   uint32_t zero = 0;
   memcpy(shmem, &zero, sizeof(zero));

   /* sorted by offset; where slots overlap, one response may rewrite another's length */
   for (uint32_t i = 1; i < view->count; i++) {
      for (uint32_t j = i; j > 0 && view->slots[j - 1].off > view->slots[j].off; j--) {
         uint32_t off = view->slots[j].off, len = view->slots[j].len;
         view->slots[j] = view->slots[j - 1];
         view->slots[j - 1].off = off;
         view->slots[j - 1].len = len;
      }
   }
   for (uint32_t i = 1; i < view->count; i++) {
      if (view->slots[i - 1].off + view->slots[i - 1].len > view->slots[i].off)
         view->checkable = false;
   }
}

static bool
all_canary(const uint8_t *bytes, size_t size)
{
   /* memcmp, not a loop: every compare in this file is traced for libFuzzer */
   static uint8_t canary[PAGE_SIZE];
   if (canary[0] != CANARY)
      memset(canary, CANARY, sizeof(canary));
   for (size_t off = 0; off < size; off += sizeof(canary)) {
      size_t n = size - off < sizeof(canary) ? size - off : sizeof(canary);
      if (memcmp(bytes + off, canary, n))
         return false;
   }
   return true;
}

/* No response byte outside the guest's slots, nor in the shmem header's fixed fields. */
static void
check_slots(const uint8_t *shmem, const struct guest_view *view)
{
   struct hsakmt_shmem header;
   memcpy(&header, shmem, sizeof(header));
   if (header.rsp_mem_offset != sizeof(header) || header.async_error ||
       header.global_faults)
      fail("the shared-memory header changed");
   if (!view->checkable)
      return;
   const uint8_t *rsp_area = shmem + header.rsp_mem_offset;
   uint32_t area = SHMEM_SIZE - header.rsp_mem_offset, at = 0;
   for (uint32_t i = 0; i <= view->count; i++) {
      uint32_t end = i < view->count ? view->slots[i].off : area;
      if (!all_canary(rsp_area + at, end - at)) {
         fprintf(stderr, "fuzz_hsakmt_ccmd: bytes written in 0x%x..0x%x\n", at, end);
         fail("a response was written outside the guest's slot");
      }
      if (i < view->count)
         at = view->slots[i].off + view->slots[i].len;
   }
}

/* What the guest learnt from MAP_USERPTR, put where the stream asks for it. */
static void
patch_addresses(uint8_t *stream, size_t size, uint64_t handle)
{
   for (size_t off = 0; off + 8 <= size; off += 4) {
      uint64_t value;
      memcpy(&value, stream + off, sizeof(value));
      if (value >> 32 == ADDRESS_TOKEN) {
         value = handle + (value & 0xffffffffu);
         memcpy(stream + off, &value, sizeof(value));
      }
   }
}

/* The guest's own MAP_USERPTR, before the fuzzed stream: the userptr's handle or 0. */
static uint64_t
map_userptr(uint8_t *shmem)
{
   struct hsakmt_memory_req req;
   memset(&req, 0, sizeof(req));
   req.hdr = (struct hsakmt_ccmd_req){ HSAKMT_CCMD_MEMORY, sizeof(req), 1, 0 };
   req.type = HSAKMT_MEMORY_MAP_USERPTR;
   req.res_id = USERPTR_RES;
   static struct guest_view view;
   prepare_slots(shmem, (const uint8_t *)&req, sizeof(req), 0, &view);
   if (virgl_renderer_submit_cmd(&req, (int)FUZZ_CTX, (int)(sizeof(req) / 4)))
      fail("the guest's own MAP_USERPTR was refused");
   struct hsakmt_shmem header;
   struct hsakmt_memory_rsp rsp;
   memcpy(&header, shmem, sizeof(header));
   memcpy(&rsp, shmem + header.rsp_mem_offset, sizeof(rsp));
   if (header.seqno != 1 || rsp.hdr.len != sizeof(rsp))
      fail("the guest's own MAP_USERPTR was not answered");
   return rsp.hdr.ret ? 0 : rsp.map_userptr.userptr_handle;
}

/* VIRTKFD_FUZZ_LOG: what each well-framed request got back. */
static void
print_responses(const uint8_t *shmem, const uint8_t *stream, size_t size)
{
   struct hsakmt_shmem header;
   memcpy(&header, shmem, sizeof(header));
   uint32_t area = SHMEM_SIZE - header.rsp_mem_offset;
   for (size_t off = 0; size - off >= sizeof(struct hsakmt_ccmd_req);) {
      struct hsakmt_ccmd_req hdr;
      memcpy(&hdr, stream + off, sizeof(hdr));
      if (hdr.len < sizeof(hdr) || hdr.len > size - off)
         break;
      struct hsakmt_ccmd_rsp rsp = { 0, 0 };
      if (hdr.cmd != HSAKMT_CCMD_NOP && hdr.rsp_off <= area - sizeof(rsp))
         memcpy(&rsp, shmem + header.rsp_mem_offset + hdr.rsp_off, sizeof(rsp));
      fprintf(stderr, "fuzz: seqno %u cmd %u len %u: rsp len %u ret %d\n", hdr.seqno,
              hdr.cmd, hdr.len, rsp.len, rsp.ret);
      off += hdr.len;
   }
}

static void
submit_and_check(uint8_t *shmem, uint8_t *stream, size_t size, unsigned mode)
{
   static struct guest_view view;
   prepare_slots(shmem, stream, size, mode, &view);
   virgl_renderer_submit_cmd(stream, (int)FUZZ_CTX, (int)(size / 4));
   if (fuzz.verbose)
      print_responses(shmem, stream, size);
   uint32_t published;
   memcpy(&published, shmem, sizeof(published));
   if (view.read_one && published != view.last_seqno) {
      fprintf(stderr, "fuzz_hsakmt_ccmd: seqno %u published, %u expected\n", published,
              view.last_seqno);
      fail("the last request's seqno was not published: the guest would hang");
   }
   check_slots(shmem, &view);
}

static void
create_userptr(uint32_t res_id, uint64_t blob_id, const struct iovec *iov, uint32_t count,
               unsigned flags)
{
   struct virgl_renderer_resource_create_blob_args args = {
      .res_handle = res_id,
      .ctx_id = FUZZ_CTX,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D_GUEST,
      .blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR |
                    (flags & FLAG_RDONLY ? VIRGL_RENDERER_BLOB_FLAG_USERPTR_RDONLY : 0),
      .blob_id = blob_id,
      .size = USERPTR_PAGES * PAGE_SIZE,
      .iovecs = iov,
      .num_iovs = count,
   };
   if (virgl_renderer_resource_create_blob(&args))
      fail("a userptr blob was refused");
}

/* The userptrs the prefix asks for, over the guest RAM. */
static void
create_userptrs(unsigned flags)
{
   uint8_t *ram = fuzz.guest_ram;
   size_t half = USERPTR_PAGES / 2 * PAGE_SIZE;
   if (flags & FLAG_SPLIT) {
      fuzz.iov[0] = (struct iovec){ ram + half, half };
      fuzz.iov[1] = (struct iovec){ ram, half };
   } else {
      fuzz.iov[0] = (struct iovec){ ram, 2 * half };
   }
   if (flags & FLAG_USERPTR)
      create_userptr(USERPTR_RES, USERPTR_BLOB_ID, fuzz.iov, flags & FLAG_SPLIT ? 2 : 1,
                     flags);
   fuzz.iov2 = (struct iovec){ ram + half, 2 * half };
   if (flags & FLAG_SECOND)
      create_userptr(USERPTR2_RES, USERPTR_BLOB_ID + 1, &fuzz.iov2, 1, 0);
}

static uint8_t *
create_shmem(void)
{
   struct virgl_renderer_resource_create_blob_args args = {
      .res_handle = SHMEM_RES,
      .ctx_id = FUZZ_CTX,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
      .blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE,
      .blob_id = 0,
      .size = SHMEM_SIZE,
   };
   if (virgl_renderer_resource_create_blob(&args))
      fail("the shared-memory blob was refused");
   void *map = NULL;
   uint64_t map_size = 0;
   if (virgl_renderer_resource_map(SHMEM_RES, &map, &map_size) || map_size < SHMEM_SIZE)
      fail("the shared-memory blob cannot be mapped");
   return map;
}

/*
 * CREATE_BLOB(HOST3D) of what the stream left pending under blob_id; the guest maps
 * it and writes to it. Returns the VMM's mapping when it stays mapped, else NULL.
 */
static bool
claim_blob(uint64_t blob_id, bool keep_mapped, uint8_t **mapping)
{
   *mapping = NULL;
   struct virgl_renderer_resource_create_blob_args args = {
      .res_handle = CLAIM_RES,
      .ctx_id = FUZZ_CTX,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
      .blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE,
      .blob_id = blob_id,
      .size = PAGE_SIZE,
   };
   if (virgl_renderer_resource_create_blob(&args))
      return false;
   void *map = NULL;
   uint64_t map_size = 0;
   if (!virgl_renderer_resource_map(CLAIM_RES, &map, &map_size)) {
      /* the guest touches what it mapped */
      memset(map, CLAIM_PATTERN, map_size < PAGE_SIZE ? map_size : PAGE_SIZE);
      if (keep_mapped && map_size >= PAGE_SIZE)
         *mapping = map;
      else
         virgl_renderer_resource_unmap(CLAIM_RES);
   }
   return true;
}

/* While the VMM maps a blob, its memory is the guest's, whoever let go of it. */
static void
check_claimed_bytes(const uint8_t *mapping)
{
   static uint8_t expected[PAGE_SIZE];
   if (!mapping)
      return;
   memset(expected, CLAIM_PATTERN, sizeof(expected));
   if (memcmp(mapping, expected, PAGE_SIZE))
      fail("a blob the VMM still maps changed after its owner let go of it");
}

static void
take_stock(struct holdings *h)
{
   h->fds = count_fds();
   h->live_bos = kfdsim_live_bos();
   h->userptrs = kfdsim_userptr_count();
}

static void
check_nothing_left(const struct holdings *before)
{
   kfdsim_log_clear(); /* the emulator's ioctl log would grow without end */
   if (kfdsim_live_bos() != before->live_bos)
      fail("a KFD buffer outlived its context");
   if (kfdsim_userptr_count() != before->userptrs)
      fail("a userptr registration outlived its context");
   if (count_fds() != before->fds) {
      list_fds();
      fail("an fd outlived its context");
   }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
   uint8_t prefix[PREFIX_SIZE] = { 0 };
   memcpy(prefix, data, size < PREFIX_SIZE ? size : PREFIX_SIZE);
   size_t stream_size = size > PREFIX_SIZE ? (size - PREFIX_SIZE) & ~(size_t)3 : 0;
   /* exactly the stream's size, so ASan catches a read past its end */
   uint8_t *stream = malloc(stream_size ? stream_size : 1);
   if (!stream)
      return 0;
   if (stream_size)
      memcpy(stream, data + PREFIX_SIZE, stream_size);

   unsigned flags = prefix[0];
   unsigned slot_mode = prefix[1];
   struct holdings before;
   take_stock(&before);
   if (virgl_renderer_context_create_with_flags(FUZZ_CTX, HSAKMT_CAPSET_ID, 4, "fuzz"))
      fail("the context cannot be created");
   if (flags & FLAG_ALONE)
      virgl_renderer_context_destroy(KEEPER_CTX);
   bool userptr = flags & FLAG_USERPTR;
   create_userptrs(flags);

   /* before the shared memory exists: refused, with nothing to publish into */
   if (!virgl_renderer_submit_cmd(stream, (int)FUZZ_CTX, (int)(stream_size / 4)) &&
       stream_size)
      fail("a command was accepted before the shared memory existed");

   uint8_t *shmem = create_shmem();
   if (userptr && (flags & FLAG_PREMAP)) {
      uint64_t handle = map_userptr(shmem);
      if (handle)
         patch_addresses(stream, stream_size, handle);
   }
   struct fuzz_compute compute = { .ctx_id = FUZZ_CTX, .shmem = shmem };
   if (slot_mode & SETUP_COMPUTE) {
      fuzz_compute_setup(&compute);
      fuzz_compute_patch(&compute, stream, stream_size);
   }
   submit_and_check(shmem, stream, stream_size, slot_mode);
   unsigned life = prefix[3];
   uint8_t *claimed_map = NULL;
   bool claimed =
      prefix[2] && claim_blob(prefix[2], life & LIFE_KEEP_MAPPED, &claimed_map);
   if (userptr && (flags & FLAG_DETACH_IOV)) {
      struct iovec *iov = NULL;
      int num_iovs = 0;
      virgl_renderer_resource_detach_iov(USERPTR_RES, &iov, &num_iovs);
      if (iov != fuzz.iov)
         fail("detach_iov did not return the VMM's iovecs");
      submit_and_check(shmem, stream, stream_size, slot_mode);
   }

   if (claimed && (life & (LIFE_DETACH | LIFE_FOREIGN))) {
      if (life & LIFE_FOREIGN) {
         virgl_renderer_ctx_attach_resource((int)KEEPER_CTX, (int)CLAIM_RES);
         virgl_renderer_ctx_detach_resource((int)KEEPER_CTX, (int)CLAIM_RES);
      }
      if (life & LIFE_DETACH)
         virgl_renderer_ctx_detach_resource((int)FUZZ_CTX, (int)CLAIM_RES);
      submit_and_check(shmem, stream, stream_size, slot_mode);
      check_claimed_bytes(claimed_map);
   }

   virgl_renderer_resource_unmap(SHMEM_RES);
   if ((flags & FLAG_ALONE) && virgl_renderer_context_create_with_flags(
                                  KEEPER_CTX, HSAKMT_CAPSET_ID, 6, "keeper"))
      fail("the keeper context cannot be created again");
   if (flags & FLAG_CTX_FIRST)
      virgl_renderer_context_destroy(FUZZ_CTX); /* with everything still attached */
   check_claimed_bytes(claimed_map);
   if (claimed_map && virgl_renderer_resource_unmap(CLAIM_RES))
      fail("the VMM's unmap of a blob failed");
   virgl_renderer_resource_unref(SHMEM_RES);
   if (userptr)
      virgl_renderer_resource_unref(USERPTR_RES);
   if (flags & FLAG_SECOND)
      virgl_renderer_resource_unref(USERPTR2_RES);
   if (claimed)
      virgl_renderer_resource_unref(CLAIM_RES);
   fuzz_compute_release(&compute);
   if (!(flags & FLAG_CTX_FIRST))
      virgl_renderer_context_destroy(FUZZ_CTX);
   free(stream);
   check_nothing_left(&before);
   return 0;
}
