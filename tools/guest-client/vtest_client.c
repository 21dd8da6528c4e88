/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "vtest_client.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define VTC_TIMEOUT_S 20

static const struct hkc_transport vtest_transport;

int
vtc_connect_raw(struct vtc *c, const char *path)
{
   memset(c, 0, sizeof(*c));
   hkc_init(&c->hk, &vtest_transport);
   struct sockaddr_un addr = { .sun_family = AF_UNIX };
   if (strlen(path) >= sizeof(addr.sun_path))
      return -ENAMETOOLONG;
   strcpy(addr.sun_path, path);
   c->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
   if (c->sock < 0)
      return -errno;
   /* a test must fail, not hang, when the server stops answering or reading */
   struct timeval tv = { VTC_TIMEOUT_S, 0 };
   setsockopt(c->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
   setsockopt(c->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
   if (connect(c->sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
      int err = -errno;
      close(c->sock);
      c->sock = -1;
      return err;
   }
   return 0;
}

void
vtc_close(struct vtc *c)
{
   if (c->hk.shmem)
      munmap(c->hk.shmem, c->hk.shmem_size);
   c->hk.shmem = NULL;
   if (c->sock >= 0)
      close(c->sock);
   c->sock = -1;
}

int
vtc_write(struct vtc *c, const void *data, size_t size)
{
   const uint8_t *p = data;
   while (size) {
      ssize_t n = send(c->sock, p, size, MSG_NOSIGNAL);
      if (n < 0) {
         if (errno == EINTR)
            continue;
         if (errno == EAGAIN)
            return -ETIMEDOUT;
         return errno == ECONNRESET ? -EPIPE : -errno;
      }
      p += n;
      size -= (size_t)n;
   }
   return 0;
}

int
vtc_send(struct vtc *c, uint32_t cmd, const uint32_t *payload, uint32_t ndw)
{
   /* one write per message: the server wakes once, not per piece */
   uint32_t small[2 + 16];
   small[0] = ndw;
   small[1] = cmd;
   if (ndw <= 16) {
      if (ndw)
         memcpy(small + 2, payload, (size_t)ndw * 4);
      return vtc_write(c, small, (2 + (size_t)ndw) * 4);
   }
   int ret = vtc_write(c, small, 8);
   if (!ret)
      ret = vtc_write(c, payload, (size_t)ndw * 4);
   return ret;
}

int
vtc_send_fd(struct vtc *c, int fd)
{
   union {
      struct cmsghdr align;
      char buf[CMSG_SPACE(sizeof(int))];
   } control;
   memset(&control, 0, sizeof(control));
   char byte = 0;
   struct iovec iov = { &byte, 1 };
   struct msghdr msg = {
      .msg_iov = &iov,
      .msg_iovlen = 1,
      .msg_control = control.buf,
      .msg_controllen = sizeof(control.buf),
   };
   struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
   cmsg->cmsg_level = SOL_SOCKET;
   cmsg->cmsg_type = SCM_RIGHTS;
   cmsg->cmsg_len = CMSG_LEN(sizeof(int));
   memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
   return sendmsg(c->sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

int
vtc_read(struct vtc *c, void *data, size_t size)
{
   uint8_t *p = data;
   while (size) {
      ssize_t n = recv(c->sock, p, size, 0);
      if (n < 0) {
         if (errno == EINTR)
            continue;
         return errno == EAGAIN ? -ETIMEDOUT : -errno;
      }
      if (n == 0)
         return -EPIPE;
      p += n;
      size -= (size_t)n;
   }
   return 0;
}

int
vtc_reply(struct vtc *c, uint32_t cmd, uint32_t *payload, uint32_t max, uint32_t *ndw)
{
   uint32_t hdr[2];
   int ret = vtc_read(c, hdr, sizeof(hdr));
   if (ret)
      return ret;
   if (hdr[1] == VCMD_VIRTKFD_ERROR && hdr[0] == 2) {
      uint32_t notice[2];
      if (vtc_read(c, notice, sizeof(notice)) == 0) {
         c->error_cmd = notice[0];
         c->error = notice[1];
      }
      return -EPIPE;
   }
   if (hdr[1] != cmd)
      return -EPROTO;
   uint32_t keep = hdr[0] < max ? hdr[0] : max;
   if (keep && (ret = vtc_read(c, payload, (size_t)keep * 4)))
      return ret;
   /* a longer reply than expected: drain it, the stream stays in sync */
   for (uint32_t i = keep; i < hdr[0]; i++) {
      uint32_t skip;
      if ((ret = vtc_read(c, &skip, 4)))
         return ret;
   }
   if (ndw)
      *ndw = hdr[0];
   return 0;
}

int
vtc_recv_fd(struct vtc *c)
{
   union {
      struct cmsghdr align;
      char buf[CMSG_SPACE(sizeof(int))];
   } control;
   char byte;
   struct iovec iov = { &byte, 1 };
   struct msghdr msg = {
      .msg_iov = &iov,
      .msg_iovlen = 1,
      .msg_control = control.buf,
      .msg_controllen = sizeof(control.buf),
   };
   ssize_t n;
   do
      n = recvmsg(c->sock, &msg, MSG_CMSG_CLOEXEC);
   while (n < 0 && errno == EINTR);
   if (n <= 0)
      return n == 0 ? -EPIPE : errno == EAGAIN ? -ETIMEDOUT : -errno;
   struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
   if (!cmsg || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS ||
       cmsg->cmsg_len != CMSG_LEN(sizeof(int)))
      return -EBADMSG;
   int fd;
   memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
   if (msg.msg_flags & MSG_CTRUNC) { /* more fds than one: the server is wrong */
      close(fd);
      return -EBADMSG;
   }
   return fd;
}

bool
vtc_server_closed(struct vtc *c, int timeout_ms)
{
   struct pollfd pfd = { c->sock, POLLIN, 0 };
   while (poll(&pfd, 1, timeout_ms) > 0) {
      char buf[256];
      ssize_t n = recv(c->sock, buf, sizeof(buf), MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno == ECONNRESET))
         return true;
      if (n < 0)
         return false;
   }
   return false;
}

int
vtc_connect(struct vtc *c, const char *path, const char *name)
{
   int ret = vtc_connect_raw(c, path);
   if (ret)
      return ret;
   uint32_t len = (uint32_t)strlen(name) + 1;
   uint32_t hdr[2] = { len, VCMD_CREATE_RENDERER };
   uint32_t busy_wait[2] = { 0, 0 };
   uint32_t value, version = VTEST_PROTOCOL_VERSION;
   if ((ret = vtc_write(c, hdr, sizeof(hdr))) || (ret = vtc_write(c, name, len)) ||
       (ret = vtc_send(c, VCMD_PING_PROTOCOL_VERSION, NULL, 0)) ||
       (ret = vtc_send(c, VCMD_RESOURCE_BUSY_WAIT, busy_wait, 2)) ||
       (ret = vtc_reply(c, VCMD_PING_PROTOCOL_VERSION, NULL, 0, NULL)) ||
       (ret = vtc_reply(c, VCMD_RESOURCE_BUSY_WAIT, &value, 1, NULL)) ||
       (ret = vtc_send(c, VCMD_PROTOCOL_VERSION, &version, 1)) ||
       (ret = vtc_reply(c, VCMD_PROTOCOL_VERSION, &c->version, 1, NULL)))
      goto fail;
   uint32_t valid = 0;
   if (c->version >= 3 &&
       (ret = vtc_get_param(c, VCMD_PARAM_VIRTKFD_EXT, &valid, &value)))
      goto fail;
   c->ext = valid == 1 && value >= 1;
   return 0;
fail:
   vtc_close(c);
   return ret;
}

int
vtc_get_param(struct vtc *c, uint32_t param, uint32_t *valid, uint32_t *value)
{
   uint32_t reply[2] = { 0, 0 };
   int ret = vtc_send(c, VCMD_GET_PARAM, &param, 1);
   if (!ret)
      ret = vtc_reply(c, VCMD_GET_PARAM, reply, 2, NULL);
   *valid = reply[0];
   *value = reply[1];
   return ret;
}

int
vtc_get_capset(struct vtc *c, uint32_t id, uint32_t version, void *caps, size_t size)
{
   uint32_t req[2] = { id, version }, reply[1 + 1024], ndw = 0;
   int ret = vtc_send(c, VCMD_GET_CAPSET, req, 2);
   if (!ret)
      ret = vtc_reply(c, VCMD_GET_CAPSET, reply, 1 + 1024, &ndw);
   if (ret)
      return ret;
   if (!ndw || !reply[0])
      return 0;
   size_t have = (size_t)(ndw - 1) * 4;
   memcpy(caps, reply + 1, have < size ? have : size);
   return (int)have;
}

int
vtc_context_init(struct vtc *c, uint32_t capset)
{
   return vtc_send(c, VCMD_CONTEXT_INIT, &capset, 1);
}

int
vtc_blob_create(struct vtc *c, uint32_t type, uint32_t flags, uint64_t size,
                uint64_t blob_id, uint32_t *res_id, int *fd)
{
   uint32_t req[6] = { type,
                       flags,
                       (uint32_t)size,
                       (uint32_t)(size >> 32),
                       (uint32_t)blob_id,
                       (uint32_t)(blob_id >> 32) };
   int ret = vtc_send(c, VCMD_RESOURCE_CREATE_BLOB, req, 6);
   if (!ret)
      ret = vtc_reply(c, VCMD_RESOURCE_CREATE_BLOB, res_id, 1, NULL);
   if (ret)
      return ret;
   int got = vtc_recv_fd(c);
   if (got < 0)
      return got;
   if (fd)
      *fd = got;
   else
      close(got);
   return 0;
}

int
vtc_export_fd(struct vtc *c, uint32_t res_id)
{
   int ret = vtc_send(c, VCMD_RESOURCE_EXPORT_FD, &res_id, 1);
   if (!ret)
      ret = vtc_reply(c, VCMD_RESOURCE_EXPORT_FD, NULL, 0, NULL);
   return ret ? ret : vtc_recv_fd(c);
}

int
vtc_unref(struct vtc *c, uint32_t res_id)
{
   return vtc_send(c, VCMD_RESOURCE_UNREF, &res_id, 1);
}

int
vtc_busy_wait(struct vtc *c, uint32_t handle, uint32_t flags, uint32_t *busy)
{
   uint32_t req[2] = { handle, flags };
   int ret = vtc_send(c, VCMD_RESOURCE_BUSY_WAIT, req, 2);
   return ret ? ret : vtc_reply(c, VCMD_RESOURCE_BUSY_WAIT, busy, 1, NULL);
}

int
vtc_submit_cmd(struct vtc *c, const void *cmds, uint32_t ndw)
{
   return vtc_send(c, VCMD_SUBMIT_CMD, cmds, ndw);
}

int
vtc_submit_cmd2(struct vtc *c, uint32_t ring, const void *cmds, uint32_t ndw,
                const uint32_t *sync_ids, const uint64_t *values, uint32_t nsyncs)
{
   return vtc_submit_cmd2_then(c, ring, cmds, ndw, sync_ids, values, nsyncs, NULL, 0);
}

int
vtc_submit_cmd2_then(struct vtc *c, uint32_t ring, const void *cmds, uint32_t ndw,
                     const uint32_t *sync_ids, const uint64_t *values, uint32_t nsyncs,
                     const void *more, size_t more_size)
{
   uint32_t len = 9 + ndw + 3 * nsyncs;
   uint32_t *msg = malloc((2 + (size_t)len) * 4 + more_size);
   if (!msg)
      return -ENOMEM;
   uint32_t *p = msg + 2;
   msg[0] = len;
   msg[1] = VCMD_SUBMIT_CMD2;
   p[0] = 1;
   struct vtest_submit_cmd2_batch batch = {
      .flags = VCMD_SUBMIT_CMD2_FLAG_RING_IDX,
      .cmd_offset = 9,
      .cmd_size = ndw,
      .sync_offset = 9 + ndw,
      .sync_count = nsyncs,
      .ring_idx = ring,
   };
   memcpy(p + 1, &batch, sizeof(batch));
   memcpy(p + 9, cmds, (size_t)ndw * 4);
   for (uint32_t k = 0; k < nsyncs; k++) {
      p[9 + ndw + 3 * k] = sync_ids[k];
      p[9 + ndw + 3 * k + 1] = (uint32_t)values[k];
      p[9 + ndw + 3 * k + 2] = (uint32_t)(values[k] >> 32);
   }
   if (more_size)
      memcpy(p + len, more, more_size);
   int ret = vtc_write(c, msg, (2 + (size_t)len) * 4 + more_size);
   free(msg);
   return ret;
}

int
vtc_sync_create(struct vtc *c, uint64_t value, uint32_t *sync_id)
{
   uint32_t req[2] = { (uint32_t)value, (uint32_t)(value >> 32) };
   int ret = vtc_send(c, VCMD_SYNC_CREATE, req, 2);
   return ret ? ret : vtc_reply(c, VCMD_SYNC_CREATE, sync_id, 1, NULL);
}

int
vtc_sync_unref(struct vtc *c, uint32_t sync_id)
{
   return vtc_send(c, VCMD_SYNC_UNREF, &sync_id, 1);
}

int
vtc_sync_read(struct vtc *c, uint32_t sync_id, uint64_t *value)
{
   uint32_t reply[2];
   int ret = vtc_send(c, VCMD_SYNC_READ, &sync_id, 1);
   if (!ret)
      ret = vtc_reply(c, VCMD_SYNC_READ, reply, 2, NULL);
   if (!ret)
      *value = (uint64_t)reply[0] | ((uint64_t)reply[1] << 32);
   return ret;
}

int
vtc_sync_write(struct vtc *c, uint32_t sync_id, uint64_t value)
{
   uint32_t req[3] = { sync_id, (uint32_t)value, (uint32_t)(value >> 32) };
   return vtc_send(c, VCMD_SYNC_WRITE, req, 3);
}

int
vtc_sync_wait(struct vtc *c, uint32_t flags, uint32_t timeout_ms,
              const uint32_t *sync_ids, const uint64_t *values, uint32_t n)
{
   uint32_t *req = malloc((2 + 3 * (size_t)n) * 4);
   if (!req)
      return -ENOMEM;
   req[0] = flags;
   req[1] = timeout_ms;
   for (uint32_t k = 0; k < n; k++) {
      req[2 + 3 * k] = sync_ids[k];
      req[3 + 3 * k] = (uint32_t)values[k];
      req[4 + 3 * k] = (uint32_t)(values[k] >> 32);
   }
   int ret = vtc_send(c, VCMD_SYNC_WAIT, req, 2 + 3 * n);
   free(req);
   if (!ret)
      ret = vtc_reply(c, VCMD_SYNC_WAIT, NULL, 0, NULL);
   return ret ? ret : vtc_recv_fd(c);
}

int
vtc_guest_ram_add(struct vtc *c, uint64_t gpa, uint64_t size, int fd)
{
   uint32_t req[4] = { (uint32_t)gpa, (uint32_t)(gpa >> 32), (uint32_t)size,
                       (uint32_t)(size >> 32) };
   uint32_t status = 0;
   int ret = vtc_send(c, VCMD_GUEST_RAM_ADD, req, 4);
   if (!ret)
      ret = vtc_send_fd(c, fd);
   if (!ret)
      ret = vtc_reply(c, VCMD_GUEST_RAM_ADD, &status, 1, NULL);
   return ret ? ret : (int)status;
}

int
vtc_blob_sg(struct vtc *c, uint32_t blob_mem, uint32_t flags, uint64_t size,
            uint64_t blob_id, const struct vtest_sg_entry *entries, uint32_t n,
            uint32_t *res_id)
{
   uint32_t hdr[2 + 7] = { 7 + 4 * n,
                           VCMD_RESOURCE_CREATE_BLOB_SG,
                           blob_mem,
                           flags,
                           (uint32_t)size,
                           (uint32_t)(size >> 32),
                           (uint32_t)blob_id,
                           (uint32_t)(blob_id >> 32),
                           n };
   uint32_t reply[2] = { 0, 0 }, ndw = 0;
   int ret = vtc_write(c, hdr, sizeof(hdr));
   if (!ret)
      ret = vtc_write(c, entries, (size_t)n * sizeof(*entries));
   if (!ret)
      ret = vtc_reply(c, VCMD_RESOURCE_CREATE_BLOB_SG, reply, 2, &ndw);
   if (ret)
      return ret;
   /* §13.3: {res_id} or {0, errno}; anything else is not an answer */
   if (ndw == 1 ? !reply[0] : ndw != 2 || reply[0] || !reply[1])
      return -EPROTO;
   *res_id = reply[0];
   return reply[0] ? 0 : (int)reply[1];
}

int
vtc_debug_stats(struct vtc *c, uint32_t stats[VTEST_STAT_COUNT])
{
   int ret = vtc_send(c, VCMD_VIRTKFD_DEBUG_STATS, NULL, 0);
   return ret ? ret
              : vtc_reply(c, VCMD_VIRTKFD_DEBUG_STATS, stats, VTEST_STAT_COUNT, NULL);
}

int
vtc_debug_read(struct vtc *c, uint32_t cmd, uint64_t addr, void *buf, uint32_t size)
{
   uint32_t req[3] = { (uint32_t)addr, (uint32_t)(addr >> 32), size };
   uint32_t *reply = malloc(4 + (size_t)size + 4);
   if (!reply)
      return -ENOMEM;
   uint32_t ndw = 0;
   int ret = vtc_send(c, cmd, req, 3);
   if (!ret)
      ret = vtc_reply(c, cmd, reply, 1 + (size + 3) / 4, &ndw);
   if (!ret) {
      ret = (int)reply[0];
      if (!ret && ndw != 1 + (size + 3) / 4)
         ret = -EPROTO; /* a short answer: never hand out what it did not hold */
      if (!ret)
         memcpy(buf, reply + 1, size);
   }
   free(reply);
   return ret;
}

static struct vtc *
vtc_of_channel(struct hkc_channel *ch)
{
   return (struct vtc *)((char *)ch - offsetof(struct vtc, hk));
}

static int
vtest_submit(struct hkc_channel *ch, const void *cmds, uint32_t size)
{
   return vtc_submit_cmd2(vtc_of_channel(ch), 0, cmds, size / 4, NULL, NULL, 0);
}

static bool
vtest_alive(struct hkc_channel *ch)
{
   /* a dropped session never publishes the seqno: its notice and EOF do show */
   struct vtc *c = vtc_of_channel(ch);
   struct pollfd hup = { c->sock, POLLRDHUP, 0 };
   if (poll(&hup, 1, 1) > 0 && (hup.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
      uint32_t notice_hdr[2], notice[2];
      if (vtc_read(c, notice_hdr, sizeof(notice_hdr)) == 0 &&
          notice_hdr[1] == VCMD_VIRTKFD_ERROR && notice_hdr[0] == 2 &&
          vtc_read(c, notice, sizeof(notice)) == 0) {
         c->error_cmd = notice[0];
         c->error = notice[1];
      }
      return false;
   }
   return true;
}

static const struct hkc_transport vtest_transport = {
   .submit = vtest_submit,
   .alive = vtest_alive,
};

int
vtc_hsakmt_open(struct vtc *c, uint32_t shmem_size)
{
   int fd = -1, ret = vtc_context_init(c, HSAKMT_CAPSET_ID);
   if (!ret)
      ret = vtc_blob_create(c, VCMD_BLOB_TYPE_HOST3D, VCMD_BLOB_FLAG_MAPPABLE, shmem_size,
                            0, &c->shmem_res, &fd);
   if (ret)
      return ret;
   void *shmem = mmap(NULL, shmem_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
   close(fd);
   if (shmem == MAP_FAILED)
      return -errno;
   ret = hkc_attach_shmem(&c->hk, shmem, shmem_size);
   if (ret)
      munmap(shmem, shmem_size);
   return ret;
}

uint64_t
vtc_new_blob_id(struct vtc *c)
{
   return hkc_new_blob_id(&c->hk);
}

void *
vtc_hsakmt_call(struct vtc *c, void *req, uint32_t req_len, uint32_t rsp_len)
{
   return hkc_call(&c->hk, req, req_len, rsp_len);
}

void *
vtc_hsakmt_frame(struct vtc *c, void *req, uint32_t req_len, uint32_t rsp_len)
{
   return hkc_frame(&c->hk, req, req_len, rsp_len);
}

bool
vtc_hsakmt_wait(struct vtc *c, uint32_t seqno)
{
   return hkc_wait(&c->hk, seqno);
}
