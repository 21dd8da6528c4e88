/*
 * Device memory for another process: which file and offset back a CPU mapping the
 * emulator made (a BO through the render node, a doorbell or MMIO page through
 * /dev/kfd). A real driver's device mappings cannot be handed to another process;
 * the emulator's are ranges of its memfds (the shared one, or a buffer's own), so a test
 * server (the vtest server, for a client that plays the guest) can give a client the very
 * memory a VMM would map into its guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "kfdsim_priv.h"

/* The mapping of this process that holds `addr`: its range, file and offset. */
static int
find_mapping(uintptr_t addr, uintptr_t *start, uintptr_t *end, dev_t *dev, ino_t *ino,
             uint64_t *offset)
{
   /* the real open: /proc/self/maps is no file the emulator answers */
   int fd = kfdsim_real()->open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
   FILE *maps = fd >= 0 ? fdopen(fd, "re") : NULL;
   if (!maps) {
      if (fd >= 0)
         kfdsim_real()->close(fd);
      return -EIO;
   }
   char line[512];
   int ret = -ENOENT;
   while (fgets(line, sizeof(line), maps)) {
      unsigned long lo, hi, off, inode;
      unsigned major, minor;
      if (sscanf(line, "%lx-%lx %*s %lx %x:%x %lu", &lo, &hi, &off, &major, &minor,
                 &inode) != 6)
         continue;
      if (addr < lo || addr >= hi)
         continue;
      *start = lo;
      *end = hi;
      *dev = makedev(major, minor);
      *ino = (ino_t)inode;
      *offset = off;
      ret = 0;
      break;
   }
   fclose(maps);
   return ret;
}

KFDSIM_EXPORT int
kfdsim_share_range(const void *addr, size_t len, int *fd, uint64_t *offset)
{
   struct kfdsim_state *s = kfdsim_state_lock();
   uintptr_t start, end;
   dev_t dev;
   ino_t ino;
   uint64_t file_offset;
   int ret;

   if (s->mode != KFDSIM_MODE_ACTIVE) {
      kfdsim_state_unlock(s);
      return -ENODEV;
   }
   ret = find_mapping((uintptr_t)addr, &start, &end, &dev, &ino, &file_offset);
   /*
    * only the emulator's device memory, and the whole range in one mapping: the
    * shared memfd (doorbell and MMIO pages) or a VRAM/GTT buffer's own memfd
    */
   int source = -1;
   if (!ret && len <= end - (uintptr_t)addr) {
      if (dev == s->backing.dev && ino == s->backing.ino)
         source = s->backing.fd;
      for (struct kfdsim_bo *bo = s->process.bos; source < 0 && bo; bo = bo->next) {
         struct stat st;
         if (bo->mem_fd >= 0 && !kfdsim_real()->fstat(bo->mem_fd, &st) &&
             st.st_dev == dev && st.st_ino == ino)
            source = bo->mem_fd;
      }
   }
   if (!ret && source < 0)
      ret = -ENOENT;
   if (!ret) {
      *offset = file_offset + ((uintptr_t)addr - start);
      *fd = fcntl(source, F_DUPFD_CLOEXEC, 0);
      if (*fd < 0)
         ret = -errno;
   }
   kfdsim_trace(s, "share %p+0x%zx -> %d", addr, len, ret);
   kfdsim_state_unlock(s);
   return ret;
}
