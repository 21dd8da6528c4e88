/*
 * User memory as the kernel reaches it.
 *
 * copy_from_user/copy_to_user go through process_vm_readv/writev on our own
 * pid: like the kernel, a bad pointer yields EFAULT instead of a crash, and
 * the copy is not seen by AddressSanitizer, which must not flag the kernel
 * reading, say, the page-aligned span around a malloc'd buffer.
 *
 * get_user_pages is modelled on /proc/self/maps: a range can be pinned when
 * every page is in a mapping with the needed permissions that is not a device
 * mapping (amdgpu and amdkfd map BOs, doorbells and MMIO with VM_IO|VM_PFNMAP,
 * which get_user_pages refuses; here those are the mappings of the emulator's
 * device-memory memfd).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kfdsim_priv.h"

/* x86-64 TASK_SIZE_MAX with 4-level page tables, the bound access_ok() uses. */
#define USER_SPACE_END 0x00007ffffffff000ull

bool
kfdsim_access_ok(uint64_t addr, uint64_t len)
{
   return len <= USER_SPACE_END && addr <= USER_SPACE_END - len;
}

int
kfdsim_copy_from_user(void *dst, uint64_t src, size_t len)
{
   uint8_t *out = dst;

   while (len) {
      struct iovec local = { out, len };
      struct iovec remote = { (void *)(uintptr_t)src, len };
      ssize_t n;

      if (!kfdsim_access_ok(src, len))
         return -EFAULT;
      n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
      if (n < 0 && errno == EINTR)
         continue;
      if (n <= 0)
         return -EFAULT;
      out += n;
      src += (uint64_t)n;
      len -= (size_t)n;
   }
   return 0;
}

int
kfdsim_copy_to_user(uint64_t dst, const void *src, size_t len)
{
   const uint8_t *in = src;

   while (len) {
      struct iovec local = { (void *)in, len };
      struct iovec remote = { (void *)(uintptr_t)dst, len };
      ssize_t n;

      if (!kfdsim_access_ok(dst, len))
         return -EFAULT;
      n = process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
      if (n < 0 && errno == EINTR)
         continue;
      if (n <= 0)
         return -EFAULT;
      in += n;
      dst += (uint64_t)n;
      len -= (size_t)n;
   }
   return 0;
}

struct vma {
   uint64_t start;
   uint64_t end;
   bool read;
   bool write;
   bool device;
};

/* Read /proc/self/maps with the real open (no fd may leak to user code, and
 * the emulator must not re-enter itself).
 */
static char *
read_maps(void)
{
   size_t capacity = 64 * 1024, used = 0;
   char *buf = malloc(capacity);
   int fd;

   if (!buf)
      return NULL;
   fd = kfdsim_real()->open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
   if (fd < 0) {
      free(buf);
      return NULL;
   }
   for (;;) {
      ssize_t n;

      if (capacity - used < 4096) {
         char *bigger = realloc(buf, capacity * 2);
         if (!bigger) {
            free(buf);
            buf = NULL;
            break;
         }
         buf = bigger;
         capacity *= 2;
      }
      n = read(fd, buf + used, capacity - used - 1);
      if (n < 0 && errno == EINTR)
         continue;
      if (n <= 0)
         break;
      used += (size_t)n;
   }
   kfdsim_real()->close(fd);
   if (buf)
      buf[used] = '\0';
   return buf;
}

/* A hexadecimal field; NULL when it is empty or does not fit 64 bits. */
static const char *
parse_hex(const char *p, uint64_t *out)
{
   const char *first = p;
   uint64_t v = 0;

   for (;; p++) {
      unsigned int digit;

      if (*p >= '0' && *p <= '9')
         digit = (unsigned int)(*p - '0');
      else if ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'f')
         digit = (unsigned int)((*p | 0x20) - 'a' + 10);
      else
         break;
      if (v >> 60)
         return NULL;
      v = v << 4 | digit;
   }
   *out = v;
   return p == first ? NULL : p;
}

/* A decimal field; NULL when it is empty or does not fit 64 bits. */
static const char *
parse_dec(const char *p, uint64_t *out)
{
   const char *first = p;
   uint64_t v = 0;

   for (; *p >= '0' && *p <= '9'; p++) {
      uint64_t digit = (uint64_t)(*p - '0');

      if (v > (UINT64_MAX - digit) / 10)
         return NULL;
      v = v * 10 + digit;
   }
   *out = v;
   return p == first ? NULL : p;
}

/* One line of /proc/self/maps, "start-end perms offset major:minor inode   path",
 * parsed by hand: with sscanf, parsing alone took a third of the time of a check
 * over 16384 mappings (bench/bench_userptr).
 */
static bool
parse_vma(const char *line, struct vma *vma)
{
   uint64_t start, end, offset, major, minor, inode;
   const char *p = line, *perms, *path;

   if (!(p = parse_hex(p, &start)) || *p != '-' || !(p = parse_hex(p + 1, &end)) ||
       *p != ' ')
      return false;
   perms = ++p;
   while (*p && *p != ' ')
      p++;
   if (p == perms || p - perms > 7 || *p != ' ' || !(p = parse_hex(p + 1, &offset)) ||
       *p != ' ' || !(p = parse_hex(p + 1, &major)) || *p != ':' ||
       !(p = parse_hex(p + 1, &minor)) || *p != ' ' || !(p = parse_dec(p + 1, &inode)))
      return false;
   path = p;
   while (*path == ' ' || *path == '\t')
      path++;
   vma->start = start;
   vma->end = end;
   vma->read = perms[0] == 'r';
   vma->write = perms[1] == 'w';
   /* Our device mappings, and the kernel's own special mappings. */
   /* the backing store and every BO's memory file (also mapped through a dma-buf) */
   vma->device = (inode != 0 && strstr(path, "/memfd:kfdsim-device-memory")) ||
                 !strncmp(path, "[vvar", 5) || !strncmp(path, "[vsyscall]", 10);
   return true;
}

/* Walk the mappings over [addr, addr+len); check(vma) must hold for each, and
 * the mappings must leave no hole.
 */
static int
check_range(struct kfdsim_state *s, uint64_t addr, uint64_t len, bool need_read,
            bool need_write)
{
   uint64_t end, covered;
   char *maps;
   int ret = -EFAULT;

   if (len == 0 || !kfdsim_access_ok(addr, len))
      return -EFAULT;
   end = addr + len;
   covered = addr;
   maps = read_maps();
   if (!maps)
      return -ENOMEM;
   for (char *line = maps; line && *line;) {
      char *next = strchr(line, '\n');
      struct vma vma;

      if (next)
         *next++ = '\0';
      if (parse_vma(line, &vma) && vma.end > covered && vma.start < end) {
         if (vma.start > covered || vma.device || (need_read && !vma.read) ||
             (need_write && !vma.write))
            break;
         covered = vma.end;
         if (covered >= end) {
            ret = 0;
            break;
         }
      }
      line = next;
   }
   free(maps);
   return ret;
}

int
kfdsim_user_range_pinnable(struct kfdsim_state *s, uint64_t addr, uint64_t len,
                           bool write)
{
   return check_range(s, addr, len, true, write);
}

int
kfdsim_user_range_mapped(struct kfdsim_state *s, uint64_t addr, uint64_t len)
{
   return check_range(s, addr, len, false, false);
}
