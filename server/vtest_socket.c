/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The listening socket and per-client byte streams (§1-§3). Input is buffered and
 * parsed only when a whole message is there, so a slow or silent client never
 * blocks the server; output is queued and flushed on POLLOUT, so a client that
 * never reads its replies cannot block it either.
 *
 * fd messages (§3) sit in line in the stream. Linux delivers an SCM_RIGHTS skb
 * at the end of a recvmsg (it never glues data after it), so each received fd is
 * recorded with the stream offset of the last byte read with it; the parser
 * then takes it only at the exact offset where the protocol expects an fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vtest_server.h"

/* The inode of the socket this process created, so that only it is removed at exit. */
static dev_t listen_dev;
static ino_t listen_ino;

/*
 * §10 row 31: a path may be taken over only when it is a socket nobody listens on
 * any more; a user's file, or the socket of a live server, is never replaced.
 */
static int
claim_path(const char *path, const char *what)
{
   struct stat st;
   if (lstat(path, &st) < 0)
      return errno == ENOENT ? 0 : -errno;
   if (!S_ISSOCK(st.st_mode)) {
      vtest_log("%s exists and is not a socket: refusing to replace it", path);
      return -EEXIST;
   }
   struct sockaddr_un addr = { .sun_family = AF_UNIX };
   snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
   int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
   if (probe < 0)
      return -errno;
   int live = connect(probe, (struct sockaddr *)&addr, sizeof(addr)) == 0;
   close(probe);
   if (live) {
      vtest_log("%s: another server listens on %s", what, path);
      return -EADDRINUSE;
   }
   unlink(path);
   return 0;
}

int
vtest_socket_listen(const char *path)
{
   struct sockaddr_un addr = { .sun_family = AF_UNIX };
   if (strlen(path) >= sizeof(addr.sun_path)) {
      vtest_log("socket path too long (%zu bytes, at most %zu): %s", strlen(path),
                sizeof(addr.sun_path) - 1, path);
      return -ENAMETOOLONG;
   }
   strcpy(addr.sun_path, path);
   int ret = claim_path(path, "socket path");
   if (ret < 0)
      return ret;

   /*
    * Bind to a temporary name and link it into place once listen() succeeded, so the
    * path appears only when connect() works: scripts and tests may wait for it.
    * link() never replaces what appeared at the path meanwhile; rename() would.
    */
   struct sockaddr_un tmp = addr;
   bool staged = strlen(path) + 5 < sizeof(tmp.sun_path);
   if (staged) {
      snprintf(tmp.sun_path, sizeof(tmp.sun_path), "%s.new", path);
      ret = claim_path(tmp.sun_path, "temporary socket path");
      if (ret < 0)
         return ret;
   }
   int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
   if (fd < 0)
      return -errno;
   mode_t old = umask(0077); /* the socket is created mode 0600 */
   ret = bind(fd, (struct sockaddr *)(staged ? &tmp : &addr), sizeof(addr));
   umask(old);
   if (ret < 0 || listen(fd, 16) < 0 || (staged && link(tmp.sun_path, path) < 0)) {
      ret = -errno;
      vtest_log("cannot listen on %s: %s", path, strerror(-ret));
      if (staged)
         unlink(tmp.sun_path);
      close(fd);
      return ret;
   }
   if (staged)
      unlink(tmp.sun_path);
   struct stat st;
   if (lstat(path, &st) == 0) {
      listen_dev = st.st_dev;
      listen_ino = st.st_ino;
   }
   return fd;
}

void
vtest_socket_remove(const char *path)
{
   struct stat st;
   /* a newer server may have taken the path over: leave its socket alone */
   if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == listen_dev &&
       st.st_ino == listen_ino)
      unlink(path);
}

size_t
vtest_rx_avail(const struct vtest_rx *rx)
{
   return rx->tail - rx->head;
}

static int
rx_reserve(struct vtest_rx *rx, size_t want)
{
   if (rx->head && rx->head == rx->tail)
      rx->head = rx->tail = 0;
   if (rx->cap - rx->tail >= want)
      return 0;
   if (rx->head) {
      memmove(rx->buf, rx->buf + rx->head, rx->tail - rx->head);
      rx->tail -= rx->head;
      rx->head = 0;
   }
   if (rx->cap - rx->tail >= want)
      return 0;
   size_t cap = rx->cap ? rx->cap : 4096;
   while (cap - rx->tail < want)
      cap *= 2;
   uint8_t *buf = realloc(rx->buf, cap);
   if (!buf)
      return -ENOMEM;
   rx->buf = buf;
   rx->cap = cap;
   return 0;
}

static int
rx_add_fd(struct vtest_rx *rx, uint64_t pos, int fd)
{
   if (rx->nfds == VTEST_MAX_QUEUED_FDS) {
      close(fd);
      rx->bad_fd_message = true;
      return -EMFILE;
   }
   rx->fds[rx->nfds].pos = pos;
   rx->fds[rx->nfds].fd = fd;
   rx->nfds++;
   return 0;
}

int
vtest_rx_push(struct vtest_rx *rx, const void *data, size_t size, int fd)
{
   if (rx_reserve(rx, size ? size : 1) < 0) {
      if (fd >= 0)
         close(fd);
      return -ENOMEM;
   }
   memcpy(rx->buf + rx->tail, data, size);
   rx->tail += size;
   if (fd >= 0)
      return rx_add_fd(rx, rx->consumed + vtest_rx_avail(rx) - 1, fd);
   return 0;
}

/* Closes every fd of a control message; returns how many there were. */
static unsigned
close_cmsg_fds(struct cmsghdr *cmsg)
{
   unsigned n = 0;
   if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS &&
       cmsg->cmsg_len >= CMSG_LEN(0)) {
      n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (unsigned i = 0; i < n; i++) {
         int fd;
         memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
         close(fd);
      }
   }
   return n;
}

int
vtest_rx_fill(struct vtest_rx *rx, int sock, size_t want, struct vtest_record *rec)
{
   /* room for 16 fds, so that extra fds are seen (and closed), not truncated */
   union {
      struct cmsghdr align;
      char buf[CMSG_SPACE(16 * sizeof(int))];
   } control;
   size_t budget = want > (256u << 10) ? want : (256u << 10);

   while (!rx->eof && vtest_rx_avail(rx) < want && budget) {
      size_t chunk = want - vtest_rx_avail(rx);
      if (chunk < 4096)
         chunk = 4096;
      if (rx_reserve(rx, chunk) < 0)
         return -ENOMEM;
      chunk = rx->cap - rx->tail;
      if (chunk > budget)
         chunk = budget;
      struct iovec iov = { rx->buf + rx->tail, chunk };
      struct msghdr msg = {
         .msg_iov = &iov,
         .msg_iovlen = 1,
         .msg_control = control.buf,
         .msg_controllen = sizeof(control.buf),
      };
      ssize_t got = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (got < 0) {
         if (errno == EINTR)
            continue;
         if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
         return -errno;
      }
      if (got == 0) {
         rx->eof = true;
         /* fds can arrive with a zero-length message: never keep them */
         for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
            if (close_cmsg_fds(c))
               rx->bad_fd_message = true;
         break;
      }
      rx->tail += (size_t)got;
      /* a short read emptied the socket: the caller need not ask again (EAGAIN) */
      rx->drained = (size_t)got < chunk;
      budget -= (size_t)got < budget ? (size_t)got : budget;
      if (rec)
         vtest_record_bytes(rec, rx->buf + rx->tail - got, (size_t)got);

      /* §10 row 15: exactly one SCM_RIGHTS fd in a well-formed message */
      unsigned cmsgs = 0, fds = 0;
      int the_fd = -1;
      for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
         cmsgs++;
         if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
             c->cmsg_len == CMSG_LEN(sizeof(int)) && cmsgs == 1) {
            memcpy(&the_fd, CMSG_DATA(c), sizeof(int));
            fds = 1;
         } else {
            fds += close_cmsg_fds(c) + 1;
         }
      }
      if (msg.msg_flags & MSG_CTRUNC)
         fds = 2;
      if (fds > 1 || (cmsgs && fds == 0)) {
         if (the_fd >= 0)
            close(the_fd);
         rx->bad_fd_message = true;
      } else if (the_fd >= 0) {
         if (rec)
            vtest_record_fd(rec, the_fd);
         rx_add_fd(rx, rx->consumed + vtest_rx_avail(rx) - 1, the_fd);
      }
      if (cmsgs)
         break; /* let the parser look at the fd before reading on */
   }
   return 0;
}

int
vtest_rx_take_fd(struct vtest_rx *rx, uint64_t pos)
{
   for (unsigned i = 0; i < rx->nfds; i++) {
      if (rx->fds[i].pos == pos) {
         int fd = rx->fds[i].fd;
         rx->fds[i] = rx->fds[--rx->nfds];
         return fd;
      }
   }
   return -1;
}

void
vtest_rx_consume(struct vtest_rx *rx, size_t bytes)
{
   rx->head += bytes;
   rx->consumed += bytes;
   /* one huge message must not pin its buffer for the rest of the connection */
   if (rx->head == rx->tail && rx->cap > (1u << 20)) {
      free(rx->buf);
      rx->buf = NULL;
      rx->cap = rx->head = rx->tail = 0;
   }
   /* an fd whose byte was consumed as data came where none was expected */
   for (unsigned i = 0; i < rx->nfds;) {
      if (rx->fds[i].pos < rx->consumed) {
         close(rx->fds[i].fd);
         rx->fds[i] = rx->fds[--rx->nfds];
         rx->bad_fd_message = true;
      } else {
         i++;
      }
   }
}

void
vtest_rx_fini(struct vtest_rx *rx)
{
   for (unsigned i = 0; i < rx->nfds; i++)
      close(rx->fds[i].fd);
   rx->nfds = 0;
   free(rx->buf);
   rx->buf = NULL;
   rx->cap = rx->head = rx->tail = 0;
}

static struct vtest_tx_chunk *
tx_chunk(struct vtest_tx *tx, size_t size)
{
   struct vtest_tx_chunk *chunk = malloc(sizeof(*chunk) + size);
   if (!chunk)
      return NULL;
   chunk->next = NULL;
   chunk->fd = -1;
   chunk->size = size;
   chunk->sent = 0;
   if (tx->last)
      tx->last->next = chunk;
   else
      tx->first = chunk;
   tx->last = chunk;
   tx->queued += size;
   return chunk;
}

int
vtest_tx_data(struct vtest_tx *tx, const void *data, size_t size)
{
   struct vtest_tx_chunk *chunk = tx_chunk(tx, size);
   if (!chunk)
      return -ENOMEM;
   memcpy(chunk->data, data, size);
   return 0;
}

int
vtest_tx_fd(struct vtest_tx *tx, int fd)
{
   struct vtest_tx_chunk *chunk = tx_chunk(tx, 1);
   if (!chunk) {
      close(fd);
      return -ENOMEM;
   }
   chunk->data[0] = 0;
   chunk->fd = fd;
   tx->fds++;
   return 0;
}

static void
tx_pop(struct vtest_tx *tx)
{
   struct vtest_tx_chunk *chunk = tx->first;
   tx->first = chunk->next;
   if (!tx->first)
      tx->last = NULL;
   tx->queued -= chunk->size - chunk->sent;
   if (chunk->fd >= 0) {
      close(chunk->fd);
      tx->fds--;
   }
   free(chunk);
}

int
vtest_tx_flush(struct vtest_tx *tx, int sock)
{
   while (tx->first) {
      struct vtest_tx_chunk *chunk = tx->first;
      if (sock < 0) { /* replay: replies go nowhere */
         tx_pop(tx);
         continue;
      }
      ssize_t sent;
      if (chunk->fd >= 0) {
         /* §3: exactly 1 data byte and one SCM_RIGHTS fd, fully initialised */
         union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int))];
         } control;
         memset(&control, 0, sizeof(control));
         struct iovec iov = { chunk->data, 1 };
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
         memcpy(CMSG_DATA(cmsg), &chunk->fd, sizeof(int));
         sent = sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
      } else {
         sent = send(sock, chunk->data + chunk->sent, chunk->size - chunk->sent,
                     MSG_DONTWAIT | MSG_NOSIGNAL);
      }
      if (sent < 0) {
         if (errno == EINTR)
            continue;
         if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
         return -errno;
      }
      chunk->sent += (size_t)sent;
      tx->queued -= (size_t)sent;
      if (chunk->sent == chunk->size)
         tx_pop(tx); /* also closes a sent fd: the client has its own copy now */
   }
   return 0;
}

void
vtest_tx_fini(struct vtest_tx *tx)
{
   while (tx->first)
      tx_pop(tx);
}
