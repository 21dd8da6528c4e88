/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "guest_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* checking megabytes of GPU memory under TCG takes a while */
#define PROBE_TIMEOUT_MS 60000

int
probe_open(struct guest_probe *probe, const char *tty)
{
   probe->fd = open(tty, O_RDWR | O_NOCTTY | O_CLOEXEC);
   if (probe->fd < 0)
      return -errno;
   struct termios mode;
   if (tcgetattr(probe->fd, &mode) == 0) {
      /* the reply must not be echoed back to the host, nor edited */
      cfmakeraw(&mode);
      mode.c_cc[VMIN] = 1;
      mode.c_cc[VTIME] = 0;
      if (tcsetattr(probe->fd, TCSANOW, &mode) == 0 && tcflush(probe->fd, TCIOFLUSH) == 0)
         return 0;
   }
   int err = -errno;
   probe_close(probe);
   return err;
}

void
probe_close(struct guest_probe *probe)
{
   if (probe->fd >= 0)
      close(probe->fd);
   probe->fd = -1;
}

static int
write_all(int fd, const char *text, size_t size)
{
   while (size) {
      ssize_t n = write(fd, text, size);
      if (n < 0 && errno == EINTR)
         continue;
      if (n <= 0)
         return n < 0 ? -errno : -EIO;
      text += n;
      size -= (size_t)n;
   }
   return 0;
}

int
probe_request(struct guest_probe *probe, char *reply, size_t size, const char *fmt, ...)
{
   char line[256];
   va_list ap;
   va_start(ap, fmt);
   int len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
   va_end(ap);
   if (len < 0 || (size_t)len >= sizeof(line) - 1 || size == 0)
      return -EINVAL;
   line[len++] = '\n';
   int ret = write_all(probe->fd, line, (size_t)len);
   if (ret)
      return ret;
   size_t got = 0;
   for (;;) {
      struct pollfd in = { probe->fd, POLLIN, 0 };
      ret = poll(&in, 1, PROBE_TIMEOUT_MS);
      if (ret < 0 && errno == EINTR)
         continue;
      if (ret <= 0)
         return ret == 0 ? -ETIMEDOUT : -errno;
      char c;
      ssize_t n = read(probe->fd, &c, 1);
      if (n < 0 && errno == EINTR)
         continue;
      if (n <= 0)
         return n < 0 ? -errno : -EIO;
      if (c == '\n')
         break;
      if (c != '\r' && got + 1 < size)
         reply[got++] = c;
   }
   reply[got] = '\0';
   return strncmp(reply, "ok", 2) ? -EPROTO : 0;
}
