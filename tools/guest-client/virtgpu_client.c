/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "virtgpu_client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "virtgpu_uapi.h"

/* how long a submit's fence may take (TCG guests are slow, not this slow) */
#define VGC_FENCE_TIMEOUT_MS 20000

static int
vgc_ioctl(struct vgc *g, unsigned long request, void *arg)
{
   int ret;
   do
      ret = ioctl(g->fd, request, arg);
   while (ret < 0 && (errno == EINTR || errno == EAGAIN));
   return ret < 0 ? -errno : 0;
}

static struct vgc *
vgc_of_channel(struct hkc_channel *ch)
{
   return (struct vgc *)((char *)ch - offsetof(struct vgc, hk));
}

static int
virtgpu_submit(struct hkc_channel *ch, const void *cmds, uint32_t size)
{
   return vgc_execbuffer(vgc_of_channel(ch), 0, cmds, size);
}

static bool
virtgpu_alive(struct hkc_channel *ch)
{
   /* the fence already came: the host is slow, not gone */
   usleep(1000);
   return true;
}

static const struct hkc_transport virtgpu_transport = {
   .submit = virtgpu_submit,
   .alive = virtgpu_alive,
};

static int
open_node(struct vgc *g, const char *path)
{
   memset(g, 0, sizeof(*g));
   hkc_init(&g->hk, &virtgpu_transport);
   snprintf(g->path, sizeof(g->path), "%s", path);
   g->fd = open(path, O_RDWR | O_CLOEXEC);
   return g->fd < 0 ? -errno : 0;
}

int
vgc_open(struct vgc *g, const char *path)
{
   if (path)
      return open_node(g, path);
   int ret = -ENODEV;
   for (int minor = 128; minor < 192; minor++) {
      char node[32];
      snprintf(node, sizeof(node), "/dev/dri/renderD%d", minor);
      if (open_node(g, node))
         continue;
      struct virgl_renderer_capset_hsakmt caps;
      memset(&caps, 0, sizeof(caps));
      ret = vgc_get_caps(g, HSAKMT_CAPSET_ID, 0, &caps, sizeof(caps));
      if (!ret && caps.context_type == HSAKMT_CONTEXT_TYPE_AMDGPU)
         return 0;
      vgc_close(g);
      ret = -ENODEV;
   }
   g->fd = -1;
   return ret;
}

void
vgc_close(struct vgc *g)
{
   if (g->hk.shmem)
      munmap(g->hk.shmem, g->hk.shmem_size);
   g->hk.shmem = NULL;
   if (g->fd >= 0)
      close(g->fd);
   g->fd = -1;
}

int
vgc_get_param(struct vgc *g, uint64_t param, int *value)
{
   struct vgpu_getparam args = { .param = param, .value = (uintptr_t)value };
   *value = 0;
   return vgc_ioctl(g, VGPU_IOCTL_GETPARAM, &args);
}

int
vgc_get_caps(struct vgc *g, uint32_t id, uint32_t version, void *caps, uint32_t size)
{
   struct vgpu_get_caps args = {
      .cap_set_id = id,
      .cap_set_ver = version,
      .addr = (uintptr_t)caps,
      .size = size,
   };
   return vgc_ioctl(g, VGPU_IOCTL_GET_CAPS, &args);
}

int
vgc_context_init(struct vgc *g, uint32_t capset, uint32_t num_rings)
{
   struct vgpu_context_set_param params[2] = {
      { VGPU_CONTEXT_PARAM_CAPSET_ID, capset },
      { VGPU_CONTEXT_PARAM_NUM_RINGS, num_rings },
   };
   struct vgpu_context_init args = {
      .num_params = 2,
      .ctx_set_params = (uintptr_t)params,
   };
   return vgc_ioctl(g, VGPU_IOCTL_CONTEXT_INIT, &args);
}

int
vgc_blob_create(struct vgc *g, uint32_t blob_mem, uint32_t flags, uint64_t size,
                uint64_t blob_id, uint32_t *handle, uint32_t *res_id)
{
   struct vgpu_resource_create_blob args = {
      .blob_mem = blob_mem,
      .blob_flags = flags,
      .size = size,
      .blob_id = blob_id,
   };
   int ret = vgc_ioctl(g, VGPU_IOCTL_RESOURCE_CREATE_BLOB, &args);
   if (!ret) {
      *handle = args.bo_handle;
      *res_id = args.res_handle;
   }
   return ret;
}

void *
vgc_map(struct vgc *g, uint32_t handle, size_t size, void *fixed)
{
   struct vgpu_map args = { .handle = handle };
   int ret = vgc_ioctl(g, VGPU_IOCTL_MAP, &args);
   if (ret) {
      errno = -ret;
      return MAP_FAILED;
   }
   return mmap(fixed, size, PROT_READ | PROT_WRITE, MAP_SHARED | (fixed ? MAP_FIXED : 0),
               g->fd, (off_t)args.offset);
}

int
vgc_close_handle(struct vgc *g, uint32_t handle)
{
   struct vgpu_gem_close args = { .handle = handle };
   return vgc_ioctl(g, VGPU_IOCTL_GEM_CLOSE, &args);
}

int
vgc_execbuffer(struct vgc *g, uint32_t ring, const void *cmds, uint32_t size)
{
   /* the guest libhsakmt's submit: ring 0, an out-fence it waits for (§1.6) */
   struct vgpu_execbuffer args = {
      .flags = VGPU_EXECBUF_RING_IDX | VGPU_EXECBUF_FENCE_FD_OUT,
      .size = size,
      .command = (uintptr_t)cmds,
      .fence_fd = -1,
      .ring_idx = ring,
   };
   int ret = vgc_ioctl(g, VGPU_IOCTL_EXECBUFFER, &args);
   if (ret)
      return ret;
   if (args.fence_fd < 0)
      return -EPROTO;
   /* a sync_file polls readable once it signalled */
   struct pollfd fence = { args.fence_fd, POLLIN, 0 };
   do
      ret = poll(&fence, 1, VGC_FENCE_TIMEOUT_MS);
   while (ret < 0 && errno == EINTR);
   close(args.fence_fd);
   return ret > 0 ? 0 : ret == 0 ? -ETIMEDOUT : -errno;
}

int
vgc_hsakmt_open(struct vgc *g, uint32_t shmem_size)
{
   int ret = vgc_context_init(g, HSAKMT_CAPSET_ID, HSAKMT_NUM_RINGS);
   if (!ret)
      ret = vgc_blob_create(g, VGPU_BLOB_MEM_HOST3D, VGPU_BLOB_FLAG_USE_MAPPABLE,
                            shmem_size, 0, &g->shmem_handle, &g->shmem_res);
   if (ret)
      return ret;
   void *shmem = vgc_map(g, g->shmem_handle, shmem_size, NULL);
   if (shmem == MAP_FAILED)
      return -errno;
   ret = hkc_attach_shmem(&g->hk, shmem, shmem_size);
   if (ret)
      munmap(shmem, shmem_size);
   return ret;
}
