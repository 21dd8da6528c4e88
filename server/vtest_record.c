/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Recording a client's input stream for bug reports, and replaying it (§8.3 with
 * §10 row 29 fixed). Each client gets its own file, `<base>.<pid>.<serial>`, so
 * forked children and concurrent clients never share or truncate one. The file is
 * a sequence of records: "VTESTREC" once, then {u32 tag, u32 size, bytes}. Tag 'D'
 * holds stream bytes as read; tag 'F' marks that the last byte read carried an fd,
 * with {u64 st_size, u32 is_regular_file} so that replay can substitute a fresh
 * memfd of the same size (fd contents are not recorded).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "virglrenderer.h"
#include "vtest_server.h"

#define RECORD_MAGIC "VTESTREC"
#define TAG_DATA     0x44 /* 'D' */
#define TAG_FD       0x46 /* 'F' */

struct vtest_record {
   int fd;
};

struct vtest_record *
vtest_record_open(const char *base, unsigned serial)
{
   char path[4096];
   snprintf(path, sizeof(path), "%s.%ld.%u", base, (long)getpid(), serial);
   struct vtest_record *rec = calloc(1, sizeof(*rec));
   if (!rec)
      return NULL;
   rec->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
   if (rec->fd < 0) {
      vtest_log("cannot record to %s: %s", path, strerror(errno));
      free(rec);
      return NULL;
   }
   if (write(rec->fd, RECORD_MAGIC, 8) != 8)
      vtest_log("recording to %s failed: %s", path, strerror(errno));
   vtest_log("recording client %u to %s", serial, path);
   return rec;
}

static void
record_write(struct vtest_record *rec, uint32_t tag, const void *data, size_t size)
{
   uint32_t hdr[2] = { tag, (uint32_t)size };
   struct iovec iov[2] = { { hdr, sizeof(hdr) }, { (void *)data, size } };
   if (writev(rec->fd, iov, 2) != (ssize_t)(sizeof(hdr) + size))
      vtest_log("recording failed: %s", strerror(errno));
}

void
vtest_record_bytes(struct vtest_record *rec, const void *data, size_t size)
{
   if (rec && size)
      record_write(rec, TAG_DATA, data, size);
}

void
vtest_record_fd(struct vtest_record *rec, int fd)
{
   if (!rec)
      return;
   struct stat st;
   uint32_t info[3] = { 0, 0, 0 };
   if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
      info[0] = (uint32_t)st.st_size;
      info[1] = (uint32_t)((uint64_t)st.st_size >> 32);
      info[2] = 1;
   }
   record_write(rec, TAG_FD, info, sizeof(info));
}

void
vtest_record_close(struct vtest_record *rec)
{
   if (!rec)
      return;
   close(rec->fd);
   free(rec);
}

/* A stand-in for a recorded fd: fresh memory of the recorded size. */
static int
replay_fd(const uint32_t *info)
{
   uint64_t size = vtest_u64(info);
   int fd = memfd_create("vtest-replay", MFD_CLOEXEC | MFD_ALLOW_SEALING);
   if (fd >= 0 && size && ftruncate(fd, (off_t)size) < 0) {
      close(fd);
      return -1;
   }
   return fd;
}

int
vtest_replay(const char *path)
{
   FILE *file = fopen(path, "rbe");
   if (!file) {
      vtest_log("cannot replay %s: %s", path, strerror(errno));
      return -errno;
   }
   char magic[8];
   if (fread(magic, 1, 8, file) != 8 || memcmp(magic, RECORD_MAGIC, 8)) {
      vtest_log("%s is not a virtkfd vtest recording", path);
      fclose(file);
      return -EINVAL;
   }
   struct vtest_client *client = vtest_client_create(-1);
   if (!client) {
      fclose(file);
      return -ENOMEM;
   }
   int ret = 0;
   uint32_t hdr[2];
   while (fread(hdr, 1, sizeof(hdr), file) == sizeof(hdr)) {
      if (hdr[1] > (64u << 20)) {
         ret = -EINVAL;
         break;
      }
      uint8_t *data = malloc(hdr[1] ? hdr[1] : 1);
      if (!data || fread(data, 1, hdr[1], file) != hdr[1]) {
         free(data);
         ret = -EINVAL;
         break;
      }
      if (hdr[0] == TAG_DATA) {
         /*
          * Run what is complete before new bytes arrive (an fd marker always
          * follows the bytes it belongs to), so fences retire in between as live.
          */
         bool alive = vtest_client_process(client);
         virgl_renderer_poll();
         vtest_client_progress(client);
         vtest_tx_flush(&client->tx, -1);
         if (!alive) {
            free(data);
            break;
         }
         vtest_rx_push(&client->rx, data, hdr[1], -1);
      } else if (hdr[0] == TAG_FD && hdr[1] == 12) {
         vtest_rx_push(&client->rx, data, 0, replay_fd((uint32_t *)data));
      }
      free(data);
   }
   fclose(file);
   client->rx.eof = true;
   for (int i = 0; i < 1000 && vtest_client_process(client); i++) {
      virgl_renderer_poll();
      vtest_client_progress(client);
      vtest_tx_flush(&client->tx, -1);
   }
   vtest_log("replay of %s done: %llu bytes of commands", path,
             (unsigned long long)client->rx.consumed);
   vtest_client_destroy(client);
   return ret;
}
