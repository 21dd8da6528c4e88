/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Blob resources (§6.4, §6.8) and the per-client resource table (§11.1 rule 5).
 * Every id a client names is looked up in its own table, never in the library's
 * global one (§10 row 20).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "virglrenderer.h"
#include "vtest_server.h"

#define BLOB_FLAGS_KNOWN                                                               \
   (VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE | VIRGL_RENDERER_BLOB_FLAG_USE_SHAREABLE |   \
    VIRGL_RENDERER_BLOB_FLAG_USE_CROSS_DEVICE | VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR | \
    VIRGL_RENDERER_BLOB_FLAG_USERPTR_RDONLY)

struct vtest_resource *
vtest_resource_find(struct vtest_client *client, uint32_t res_id)
{
   for (uint32_t i = 0; i < client->nres; i++)
      if (client->res[i]->res_id == res_id)
         return client->res[i];
   return NULL;
}

int
vtest_resource_add(struct vtest_client *client, struct vtest_resource *res)
{
   if (client->nres == client->res_cap) {
      uint32_t cap = client->res_cap ? client->res_cap * 2 : 16;
      struct vtest_resource **table = realloc(client->res, cap * sizeof(*table));
      if (!table)
         return -ENOMEM;
      client->res = table;
      client->res_cap = cap;
   }
   client->res[client->nres++] = res;
   return 0;
}

/* The library's resource first (QEMU's order), then the memory behind it. */
void
vtest_resource_destroy(struct vtest_resource *res)
{
   if (res->iovs) {
      struct iovec *iov;
      int count;
      virgl_renderer_resource_detach_iov((int)res->res_id, &iov, &count);
   }
   /* a VMM unmaps a blob before it lets go of it */
   if (res->library_mapped)
      virgl_renderer_resource_unmap(res->res_id);
   virgl_renderer_resource_unref(res->res_id);
   if (res->kind == VTEST_RES_SG)
      free(res->iovs);
   if (res->map)
      munmap(res->map, res->map_size);
   free(res);
}

/* §10 row 17: close-on-exec, sealed so that the client cannot shrink it under us. */
static int
sealed_memfd(const char *name, size_t size)
{
   int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
   if (fd < 0)
      return -errno;
   if ((size && ftruncate(fd, (off_t)size) < 0) ||
       fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
      int err = -errno;
      close(fd);
      return err;
   }
   return fd;
}

int
vtest_resource_create_in_renderer(struct vtest_client *client,
                                  const struct vtest_resource *res, uint32_t flags,
                                  uint64_t size, uint64_t blob_id)
{
   struct virgl_renderer_resource_create_blob_args args = {
      .res_handle = res->res_id,
      .ctx_id = client->ctx_id,
      .blob_mem = res->blob_mem,
      .blob_flags = flags,
      .blob_id = blob_id,
      .size = size,
      .iovecs = res->iovs,
      .num_iovs = res->num_iovs,
   };
   int ret = virgl_renderer_resource_create_blob(&args);
   return ret < 0 ? -ret : ret;
}

static bool
blob_fail(struct vtest_client *client, struct vtest_resource *res, int fd, int err,
          const char *what)
{
   if (fd >= 0)
      close(fd);
   if (res) {
      if (res->map)
         munmap(res->map, res->map_size);
      free(res);
   }
   return vtest_client_fail(client, VCMD_RESOURCE_CREATE_BLOB, err, "%s: %s", what,
                            strerror(err));
}

bool
vtest_cmd_resource_create_blob(struct vtest_client *client, const uint32_t *payload,
                               uint32_t len, int unused)
{
   uint32_t type = payload[0], flags = payload[1];
   uint64_t size = vtest_u64(payload + 2), blob_id = vtest_u64(payload + 4);
   long page = sysconf(_SC_PAGESIZE);

   if (type != VCMD_BLOB_TYPE_GUEST && type != VCMD_BLOB_TYPE_HOST3D &&
       type != VCMD_BLOB_TYPE_HOST3D_GUEST)
      return vtest_client_fail(client, VCMD_RESOURCE_CREATE_BLOB, EINVAL,
                               "unknown blob type %u", type);
   if ((flags & ~BLOB_FLAGS_KNOWN) ||
       ((flags & VIRGL_RENDERER_BLOB_FLAG_USERPTR_RDONLY) &&
        !(flags & VIRGL_RENDERER_BLOB_FLAG_USE_USERPTR)))
      return vtest_client_fail(client, VCMD_RESOURCE_CREATE_BLOB, EINVAL,
                               "unknown or inconsistent flags 0x%x", flags);
   if (!size || size > vtest_opts.max_blob_size)
      return vtest_client_fail(client, VCMD_RESOURCE_CREATE_BLOB, EINVAL,
                               "size %llu outside [1, %llu] (--max-blob-size)",
                               (unsigned long long)size,
                               (unsigned long long)vtest_opts.max_blob_size);

   if (client->nres >= VTEST_MAX_CLIENT_RESOURCES)
      return vtest_client_fail(client, VCMD_RESOURCE_CREATE_BLOB, ENOSPC,
                               "%u resources already (at most %u per client)",
                               client->nres, VTEST_MAX_CLIENT_RESOURCES);
   struct vtest_resource *res = calloc(1, sizeof(*res));
   if (!res)
      return blob_fail(client, NULL, -1, ENOMEM, "allocation");
   res->res_id = vtest_alloc_res_id();
   res->blob_mem = type;
   int fd = -1;

   if (type != VCMD_BLOB_TYPE_HOST3D) {
      /* the guest memory of a GUEST blob is a server-created memfd (§6.4 step 2) */
      uint64_t aligned = (size + (uint64_t)page - 1) & ~((uint64_t)page - 1);
      char name[32];
      snprintf(name, sizeof(name), "vtest-res-%u", res->res_id);
      fd = sealed_memfd(name, (size_t)aligned);
      if (fd < 0)
         return blob_fail(client, res, -1, -fd, "memfd");
      res->map = mmap(NULL, (size_t)aligned, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (res->map == MAP_FAILED) {
         res->map = NULL;
         return blob_fail(client, res, fd, errno, "mmap of the memfd");
      }
      res->map_size = (size_t)aligned;
      res->kind = VTEST_RES_MEMFD;
      res->one_iov.iov_base = res->map;
      res->one_iov.iov_len = (size_t)size;
      res->iovs = &res->one_iov;
      res->num_iovs = 1;
   } else {
      res->kind = VTEST_RES_HOST;
   }

   int ret = vtest_resource_create_in_renderer(client, res, flags, size, blob_id);
   if (ret)
      return blob_fail(client, res, fd, ret, "virgl_renderer_resource_create_blob");

   if (type == VCMD_BLOB_TYPE_HOST3D) {
      uint32_t fd_type = 0;
      ret = virgl_renderer_resource_export_blob(res->res_id, &fd_type, &fd);
      if (ret == 0 && fd_type != VIRGL_RENDERER_BLOB_FD_TYPE_DMABUF &&
          fd_type != VIRGL_RENDERER_BLOB_FD_TYPE_SHM) {
         close(fd);
         fd = -1;
         ret = -EINVAL;
      }
      /* a host-VA blob (KFD memory a library cannot export, a doorbell page) is
       * mapped by the VMM in its own process and has no fd: like a blob without
       * MAPPABLE, it gets a placeholder */
      uint32_t map_info;
      bool host_va = (ret == -EINVAL || ret == -EOPNOTSUPP) &&
                     !(flags & VIRGL_RENDERER_BLOB_FLAG_USE_SHAREABLE) &&
                     virgl_renderer_resource_get_map_info(res->res_id, &map_info) == 0;
      if (host_va)
         vtest_debug("client %u: res %u maps host memory and has no fd to send",
                     client->serial, res->res_id);
      if (ret && (host_va || !(flags & (VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE |
                                        VIRGL_RENDERER_BLOB_FLAG_USE_SHAREABLE)))) {
         /* §11.1 rule 10: a placeholder keeps always-recvmsg clients in sync */
         char name[32];
         snprintf(name, sizeof(name), "vtest-nofd-%u", res->res_id);
         fd = sealed_memfd(name, 0);
         ret = fd < 0 ? fd : 0;
      }
      if (ret) {
         virgl_renderer_resource_unref(res->res_id);
         return blob_fail(client, res, -1, ret < 0 ? -ret : ret, "export of the blob");
      }
   }

   virgl_renderer_ctx_attach_resource((int)client->ctx_id, (int)res->res_id);
   if (vtest_resource_add(client, res) < 0) {
      vtest_resource_destroy(res);
      close(fd);
      return vtest_client_fail(client, VCMD_RESOURCE_CREATE_BLOB, ENOMEM,
                               "resource table");
   }
   uint32_t id = res->res_id;
   /* §6.4 step 7: always an fd after the reply; the queue closes our copy */
   bool ok = vtest_reply(client, VCMD_RESOURCE_CREATE_BLOB, &id, 1) == 0;
   return (vtest_reply_fd(client, fd) == 0) & ok;
}

bool
vtest_cmd_resource_unref(struct vtest_client *client, const uint32_t *payload,
                         uint32_t len, int unused)
{
   for (uint32_t i = 0; i < client->nres; i++) {
      if (client->res[i]->res_id == payload[0]) {
         vtest_resource_destroy(client->res[i]);
         client->res[i] = client->res[--client->nres];
         return true;
      }
   }
   /* kept from upstream for compatibility (§10 row 21), but never silent */
   vtest_debug("client %u: RESOURCE_UNREF of unknown resource %u ignored", client->serial,
               payload[0]);
   return true;
}

bool
vtest_cmd_resource_export_fd(struct vtest_client *client, const uint32_t *payload,
                             uint32_t len, int unused)
{
   struct vtest_resource *res = vtest_resource_find(client, payload[0]);
   if (!res)
      return vtest_client_fail(client, VCMD_RESOURCE_EXPORT_FD, EINVAL,
                               "resource %u is not one of this client's", payload[0]);
   uint32_t fd_type = 0;
   int fd = -1;
   int ret = virgl_renderer_resource_export_blob(res->res_id, &fd_type, &fd);
   if (ret)
      return vtest_client_fail(client, VCMD_RESOURCE_EXPORT_FD, ret < 0 ? -ret : ret,
                               "resource %u cannot be exported: %s", res->res_id,
                               strerror(ret < 0 ? -ret : ret));
   bool ok = vtest_reply(client, VCMD_RESOURCE_EXPORT_FD, NULL, 0) == 0;
   return (vtest_reply_fd(client, fd) == 0) & ok;
}
