/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * virtkfd's guest-RAM extension (§13): the client registers memfd "guest RAM" at
 * guest-physical addresses and creates blobs from guest-physical scatter lists,
 * which the server translates into iovecs the way QEMU's
 * virtio_gpu_create_mapping_iov does. Also the test-only debug commands, which
 * show a test client the server's view of guest RAM and, when the KFD emulator
 * lives in this process, the GPU's view.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "virglrenderer.h"
#include "vtest_server.h"

static uint32_t
ram_add_status(struct vtest_client *client, uint64_t gpa, uint64_t size, int fd,
               uint8_t **host)
{
   if (client->version < 3 || !client->version_negotiated)
      return EPROTO;
   uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), end;
   struct statfs sfs;
   if (fstatfs(fd, &sfs) == 0 && sfs.f_type == HUGETLBFS_MAGIC)
      page = (uint64_t)sfs.f_bsize;
   if (!size || gpa % page || size % page || !vtest_add_u64(gpa, size, &end) ||
       end > VTEST_GPA_CEILING)
      return EINVAL;
   for (uint32_t i = 0; i < client->nregions; i++) {
      const struct vtest_ram_region *r = &client->regions[i];
      if (gpa < r->gpa + r->size && r->gpa < end)
         return EEXIST;
   }
   uint64_t total;
   if (client->nregions >= vtest_opts.max_ram_regions ||
       !vtest_add_u64(client->ram_total, size, &total) ||
       total > vtest_opts.max_guest_ram)
      return ENOSPC;
   struct stat st;
   if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
      return EBADF;
   /* udmabuf's rule: the RAM must not shrink under the mapping, nor be read-only */
   int seals = fcntl(fd, F_GET_SEALS);
   if (seals < 0 || (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)))
      return EPERM;
   if (!(seals & F_SEAL_SHRINK) && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
      return EPERM;
   /* the size only counts once it can no longer shrink: another thread of the client
    * may ftruncate between a check and the seal, and the server would take SIGBUS */
   if (fstat(fd, &st) < 0)
      return EBADF;
   if ((uint64_t)st.st_size < size)
      return ERANGE;
   void *map = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
   if (map == MAP_FAILED)
      return (uint32_t)errno;
   *host = map;
   return 0;
}

bool
vtest_cmd_guest_ram_add(struct vtest_client *client, const uint32_t *payload,
                        uint32_t len, int fd)
{
   uint64_t gpa = vtest_u64(payload), size = vtest_u64(payload + 2);
   uint8_t *host = NULL;
   uint32_t status = ram_add_status(client, gpa, size, fd, &host);
   if (status) {
      vtest_log("client %u: GUEST_RAM_ADD gpa 0x%llx size 0x%llx: %s", client->serial,
                (unsigned long long)gpa, (unsigned long long)size, strerror((int)status));
      close(fd);
   } else {
      /* keep the regions sorted by gpa for the binary search of the translation */
      uint32_t at = client->nregions;
      while (at && client->regions[at - 1].gpa > gpa) {
         client->regions[at] = client->regions[at - 1];
         at--;
      }
      client->regions[at] = (struct vtest_ram_region){ gpa, size, host, fd };
      client->nregions++;
      client->ram_total += size;
   }
   return vtest_reply(client, VCMD_GUEST_RAM_ADD, &status, 1) == 0;
}

static const struct vtest_ram_region *
region_find(const struct vtest_client *client, uint64_t gpa)
{
   uint32_t lo = 0, hi = client->nregions;
   while (lo < hi) {
      uint32_t mid = lo + (hi - lo) / 2;
      const struct vtest_ram_region *r = &client->regions[mid];
      if (gpa < r->gpa)
         hi = mid;
      else if (gpa - r->gpa >= r->size)
         lo = mid + 1;
      else
         return r;
   }
   return NULL;
}

static bool
sg_reply_error(struct vtest_client *client, int err, const char *why)
{
   vtest_log("client %u: RESOURCE_CREATE_BLOB_SG: %s (%s)", client->serial, why,
             strerror(err));
   uint32_t reply[2] = { 0, (uint32_t)err };
   return vtest_reply(client, VCMD_RESOURCE_CREATE_BLOB_SG, reply, 2) == 0;
}

/* §13.3 step 6: one iovec per (entry, region) piece; never merged. */
static int
sg_translate(struct vtest_client *client, const uint32_t *entries, uint32_t count,
             struct iovec **out, uint32_t *out_count)
{
   uint32_t cap = count, n = 0;
   struct iovec *iov = malloc((size_t)cap * sizeof(*iov));
   if (!iov)
      return ENOMEM;
   for (uint32_t k = 0; k < count; k++) {
      uint64_t addr = vtest_u64(entries + 4 * (size_t)k);
      uint64_t left = entries[4 * (size_t)k + 2];
      while (left) {
         const struct vtest_ram_region *r = region_find(client, addr);
         if (!r) {
            free(iov);
            return EFAULT;
         }
         uint64_t piece = r->gpa + r->size - addr;
         if (piece > left)
            piece = left;
         if (n == cap) {
            if (cap >= VTEST_MAX_SG_IOVS) {
               free(iov);
               return E2BIG;
            }
            cap = cap * 2 > VTEST_MAX_SG_IOVS ? VTEST_MAX_SG_IOVS : cap * 2;
            struct iovec *grown = realloc(iov, (size_t)cap * sizeof(*iov));
            if (!grown) {
               free(iov);
               return ENOMEM;
            }
            iov = grown;
         }
         iov[n].iov_base = r->host + (addr - r->gpa);
         iov[n].iov_len = (size_t)piece;
         n++;
         addr += piece;
         left -= piece;
      }
   }
   *out = iov;
   *out_count = n;
   return 0;
}

bool
vtest_cmd_resource_create_blob_sg(struct vtest_client *client, const uint32_t *payload,
                                  uint32_t len, int unused)
{
   /* the framing layer refused len above 7 + 4 * --max-sg-entries already */
   uint32_t blob_mem = payload[0], flags = payload[1], count = payload[6];
   uint64_t size = vtest_u64(payload + 2), blob_id = vtest_u64(payload + 4);
   const uint32_t *entries = payload + VCMD_RES_CREATE_BLOB_SG_HDR_SIZE;

   /* len is authoritative: the whole payload was consumed, the stream is in sync */
   if (len != VCMD_RES_CREATE_BLOB_SG_HDR_SIZE +
                 (uint64_t)VCMD_RES_CREATE_BLOB_SG_ENTRY_SIZE * count)
      return sg_reply_error(client, EINVAL, "len disagrees with nr_entries");
   if (!client->version_negotiated || client->version < 3)
      return sg_reply_error(client, EPROTO, "needs protocol version 3 or later");
   if (!client->capset_id)
      return sg_reply_error(client, ENODEV, "no context (send CONTEXT_INIT first)");
   if (blob_mem != VIRGL_RENDERER_BLOB_MEM_GUEST &&
       blob_mem != VIRGL_RENDERER_BLOB_MEM_HOST3D_GUEST)
      return sg_reply_error(client, EINVAL, "blob_mem must be GUEST or HOST3D_GUEST");
   if ((flags & ~0x1fu) || ((flags & VIRGL_RENDERER_BLOB_FLAG_USERPTR_RDONLY) &&
                            !(flags & VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR)))
      return sg_reply_error(client, EINVAL, "unknown or inconsistent blob_flags");
   if (!size || size > vtest_opts.max_blob_size)
      return sg_reply_error(client, EINVAL, "size 0 or above --max-blob-size");
   if (!count)
      return sg_reply_error(client, EINVAL, "nr_entries is 0");
   if (count > vtest_opts.max_sg_entries)
      return sg_reply_error(client, E2BIG, "too many entries");
   uint64_t sum = 0;
   for (uint32_t k = 0; k < count; k++) {
      const uint32_t *e = entries + 4 * (size_t)k;
      uint64_t end;
      if (!e[2])
         return sg_reply_error(client, EINVAL, "an entry of length 0");
      if (e[3])
         return sg_reply_error(client, EINVAL, "non-zero entry padding");
      if (!vtest_add_u64(vtest_u64(e), e[2], &end))
         return sg_reply_error(client, EFAULT, "addr + length overflows");
      sum += e[2]; /* at most 2^20 * 2^32: no overflow */
   }
   if (sum < size)
      return sg_reply_error(client, EINVAL, "the entries are shorter than size");

   if (client->nres >= VTEST_MAX_CLIENT_RESOURCES)
      return sg_reply_error(client, ENOSPC, "too many resources for one client");
   struct vtest_resource *res = calloc(1, sizeof(*res));
   if (!res)
      return sg_reply_error(client, ENOMEM, "allocation");
   int err = sg_translate(client, entries, count, &res->iovs, &res->num_iovs);
   if (err) {
      free(res);
      return sg_reply_error(client, err, "translation of the scatter list");
   }
   if (vtest_opts.dump_sg) {
      for (uint32_t i = 0; i < res->num_iovs; i++)
         vtest_log("client %u: SG iovec %u: %p + 0x%zx", client->serial, i,
                   res->iovs[i].iov_base, res->iovs[i].iov_len);
   }
   res->kind = VTEST_RES_SG;
   res->blob_mem = blob_mem;
   res->res_id = vtest_alloc_res_id();
   int ret = vtest_resource_create_in_renderer(client, res, flags, size, blob_id);
   if (ret) {
      free(res->iovs);
      free(res);
      return sg_reply_error(client, ret, "virgl_renderer_resource_create_blob failed");
   }
   virgl_renderer_ctx_attach_resource((int)client->ctx_id, (int)res->res_id);
   if (vtest_resource_add(client, res) < 0) {
      vtest_resource_destroy(res);
      return sg_reply_error(client, ENOMEM, "resource table");
   }
   return vtest_reply(client, VCMD_RESOURCE_CREATE_BLOB_SG, &res->res_id, 1) == 0;
}

void
vtest_guest_ram_fini(struct vtest_client *client)
{
   for (uint32_t i = 0; i < client->nregions; i++) {
      munmap(client->regions[i].host, (size_t)client->regions[i].size);
      close(client->regions[i].fd);
   }
   client->nregions = 0;
   client->ram_total = 0;
}

/* ---- test-only debug commands (--debug-commands) -------------------------------- */

/*
 * The KFD emulator is found at run time, never linked: when it is in this process
 * (LD_PRELOAD=libkfdsim.so, or a test build linked with it) its test API is in the
 * global symbol scope.
 */
void *
vtest_kfdsim_symbol(const char *name)
{
   return dlsym(RTLD_DEFAULT, name);
}

bool
vtest_kfd_emulated(void)
{
   bool (*active)(void) = (bool (*)(void))vtest_kfdsim_symbol("kfdsim_active");
   return active && active();
}

static uint32_t
count_fds(void)
{
   DIR *dir = opendir("/proc/self/fd");
   uint32_t n = 0;
   if (!dir)
      return 0;
   while (readdir(dir))
      n++;
   closedir(dir);
   return n > 3 ? n - 3 : 0; /* ".", ".." and the directory's own fd */
}

bool
vtest_cmd_debug_stats(struct vtest_client *client, const uint32_t *payload, uint32_t len,
                      int unused)
{
   uint32_t stats[VTEST_STAT_COUNT] = { 0 };
   stats[VTEST_STAT_OPEN_FDS] = count_fds();
   stats[VTEST_STAT_RESOURCES] = client->nres;
   stats[VTEST_STAT_SYNCS] = client->nsyncs;
   stats[VTEST_STAT_RAM_REGIONS] = client->nregions;
   stats[VTEST_STAT_CLIENTS] = (uint32_t)vtest_client_count();
   stats[VTEST_STAT_KFD_EMULATED] = vtest_kfd_emulated();
   unsigned (*live_bos)(void) =
      (unsigned (*)(void))vtest_kfdsim_symbol("kfdsim_live_bos");
   unsigned (*userptrs)(void) =
      (unsigned (*)(void))vtest_kfdsim_symbol("kfdsim_userptr_count");
   if (live_bos)
      stats[VTEST_STAT_KFD_LIVE_BOS] = live_bos();
   if (userptrs)
      stats[VTEST_STAT_KFD_USERPTRS] = userptrs();
   return vtest_reply(client, VCMD_VIRTKFD_DEBUG_STATS, stats, VTEST_STAT_COUNT) == 0;
}

static bool
debug_read_reply(struct vtest_client *client, uint32_t status, const void *data,
                 uint32_t size)
{
   uint32_t ndw = (size + 3) / 4;
   uint32_t *reply = calloc(1 + (size_t)ndw, 4);
   if (!reply)
      return vtest_client_fail(client, client->cur_cmd, ENOMEM, "out of memory");
   reply[0] = status;
   if (!status)
      memcpy(reply + 1, data, size);
   else
      ndw = 0;
   bool ok = vtest_reply(client, client->cur_cmd, reply, 1 + ndw) == 0;
   free(reply);
   return ok;
}

bool
vtest_cmd_debug_ram_read(struct vtest_client *client, const uint32_t *payload,
                         uint32_t len, int unused)
{
   uint64_t gpa = vtest_u64(payload);
   uint32_t size = payload[2];
   if (size > VTEST_DEBUG_READ_MAX)
      return debug_read_reply(client, E2BIG, NULL, 0);
   const struct vtest_ram_region *r = region_find(client, gpa);
   if (!r || size > r->gpa + r->size - gpa)
      return debug_read_reply(client, EFAULT, NULL, 0);
   return debug_read_reply(client, 0, r->host + (gpa - r->gpa), size);
}

bool
vtest_cmd_debug_gpu_read(struct vtest_client *client, const uint32_t *payload,
                         uint32_t len, int unused)
{
   uint64_t va = vtest_u64(payload);
   uint32_t size = payload[2];
   int (*gpu_read)(uint64_t, void *, size_t) =
      (int (*)(uint64_t, void *, size_t))vtest_kfdsim_symbol("kfdsim_gpu_read");
   if (size > VTEST_DEBUG_READ_MAX)
      return debug_read_reply(client, E2BIG, NULL, 0);
   if (!gpu_read || !vtest_kfd_emulated())
      return debug_read_reply(client, ENODEV, NULL, 0);
   uint8_t *buf = malloc(size ? size : 1);
   if (!buf)
      return debug_read_reply(client, ENOMEM, NULL, 0);
   int ret = gpu_read(va, buf, size);
   bool ok = debug_read_reply(client, ret < 0 ? (uint32_t)-ret : 0, buf, size);
   free(buf);
   return ok;
}
