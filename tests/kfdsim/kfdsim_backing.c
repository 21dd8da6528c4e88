/*
 * Device memory: one sparse memfd stands for the doorbell pages, the MMIO pages,
 * the signal and CWSR pages of every emulated GPU, and gives every buffer its
 * render-node mmap offset: a buffer's range in the file (like a DRM fake offset,
 * it is above 4 GiB and below 2^40, which libhsakmt requires to tell render-node
 * offsets from KFD ones). The pages of a VRAM or GTT buffer live in a memfd of
 * their own (kfdsim_memory.c), so that the buffer can be exported as a dma-buf
 * that another process maps at offset 0. Pages are only allocated when touched,
 * and punched out on free.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kfdsim_priv.h"

#define BACKING_START (1ull << 32)
#define BACKING_END   (1ull << 40)

int
kfdsim_backing_init(struct kfdsim_backing *b)
{
   struct stat st;

   b->ranges = NULL;
   b->fd = memfd_create("kfdsim-device-memory", MFD_CLOEXEC);
   if (b->fd < 0)
      return -errno;
   if (ftruncate(b->fd, (off_t)BACKING_END) < 0 || kfdsim_real()->fstat(b->fd, &st) < 0) {
      int err = -errno;
      kfdsim_real()->close(b->fd);
      b->fd = -1;
      return err;
   }
   b->dev = st.st_dev;
   b->ino = st.st_ino;
   return 0;
}

void
kfdsim_backing_fini(struct kfdsim_backing *b)
{
   while (b->ranges) {
      struct kfdsim_range *next = b->ranges->next;
      free(b->ranges);
      b->ranges = next;
   }
   if (b->fd >= 0)
      kfdsim_real()->close(b->fd);
   b->fd = -1;
}

/* First fit, so freed offsets are reused like the DRM offset manager does. */
int
kfdsim_backing_alloc(struct kfdsim_backing *b, uint64_t size, uint64_t *start)
{
   struct kfdsim_range **link = &b->ranges;
   uint64_t candidate = BACKING_START;
   struct kfdsim_range *range;

   if (size == 0 || size > BACKING_END - BACKING_START)
      return -ENOMEM;
   size = (size + KFDSIM_PAGE_SIZE - 1) & ~(KFDSIM_PAGE_SIZE - 1);

   while (*link) {
      if ((*link)->start - candidate >= size)
         break;
      candidate = (*link)->start + (*link)->size;
      link = &(*link)->next;
   }
   if (candidate > BACKING_END - size)
      return -ENOMEM;

   range = calloc(1, sizeof(*range));
   if (!range)
      return -ENOMEM;
   range->start = candidate;
   range->size = size;
   range->next = *link;
   *link = range;
   *start = candidate;
   return 0;
}

void
kfdsim_backing_free(struct kfdsim_backing *b, uint64_t start)
{
   for (struct kfdsim_range **link = &b->ranges; *link; link = &(*link)->next) {
      struct kfdsim_range *range = *link;

      if (range->start != start)
         continue;
      /* Give the pages back and make the range read as zeroes again. */
      fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)range->start,
                (off_t)range->size);
      *link = range->next;
      free(range);
      return;
   }
}

int
kfdsim_backing_read(struct kfdsim_backing *b, uint64_t off, void *buf, size_t len)
{
   return kfdsim_memfile_read(b->fd, off, buf, len);
}

int
kfdsim_backing_write(struct kfdsim_backing *b, uint64_t off, const void *buf, size_t len)
{
   return kfdsim_memfile_write(b->fd, off, buf, len);
}

int
kfdsim_backing_fill(struct kfdsim_backing *b, uint64_t off, int byte, size_t len)
{
   return kfdsim_memfile_fill(b->fd, off, byte, len);
}

int
kfdsim_memfile_read(int fd, uint64_t off, void *buf, size_t len)
{
   uint8_t *dst = buf;

   while (len) {
      ssize_t n = pread(fd, dst, len, (off_t)off);
      if (n < 0 && errno == EINTR)
         continue;
      if (n <= 0)
         return n < 0 ? -errno : -EIO;
      dst += n;
      off += (uint64_t)n;
      len -= (size_t)n;
   }
   return 0;
}

int
kfdsim_memfile_write(int fd, uint64_t off, const void *buf, size_t len)
{
   const uint8_t *src = buf;

   while (len) {
      ssize_t n = pwrite(fd, src, len, (off_t)off);
      if (n < 0 && errno == EINTR)
         continue;
      if (n <= 0)
         return n < 0 ? -errno : -EIO;
      src += n;
      off += (uint64_t)n;
      len -= (size_t)n;
   }
   return 0;
}

int
kfdsim_memfile_fill(int fd, uint64_t off, int byte, size_t len)
{
   uint8_t chunk[4096];

   memset(chunk, byte, sizeof(chunk));
   while (len) {
      size_t n = len < sizeof(chunk) ? len : sizeof(chunk);
      int ret = kfdsim_memfile_write(fd, off, chunk, n);
      if (ret)
         return ret;
      off += n;
      len -= n;
   }
   return 0;
}
