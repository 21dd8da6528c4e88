/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "mem/vkfd_vma.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util/vkfd_log.h"

/*
 * struct procmap_query of <linux/fs.h>, added in Linux 6.11. Debian 12's headers
 * predate it, so it is spelled out here. The kernel only ever appends fields and
 * zero-extends shorter callers, so this size keeps working on newer kernels.
 */
struct vkfd_procmap_query {
   uint64_t size;
   uint64_t query_flags;   /* in */
   uint64_t query_addr;    /* in */
   uint64_t vma_start;     /* out */
   uint64_t vma_end;       /* out */
   uint64_t vma_flags;     /* out: PROCMAP_QUERY_VMA_* */
   uint64_t vma_page_size; /* out: the huge page size for hugetlb mappings */
   uint64_t vma_offset;    /* out: file offset of vma_start */
   uint64_t inode;         /* out */
   uint32_t dev_major;     /* out */
   uint32_t dev_minor;     /* out */
   uint32_t vma_name_size; /* in/out; 0: no name wanted */
   uint32_t build_id_size; /* in/out; 0: no build id wanted */
   uint64_t vma_name_addr; /* in */
   uint64_t build_id_addr; /* in */
};
_Static_assert(sizeof(struct vkfd_procmap_query) == 104,
               "struct procmap_query is 104 bytes in Linux 6.11");

#define VKFD_PROCMAP_QUERY \
   _IOWR(0x66 /* PROCFS_IOCTL_MAGIC 'f' */, 17, struct vkfd_procmap_query)
_Static_assert(VKFD_PROCMAP_QUERY == 0xc0686611, "PROCMAP_QUERY ioctl number");

/* PROCMAP_QUERY_VMA_* bits of vma_flags */
#define PROCMAP_VMA_READABLE   0x01u
#define PROCMAP_VMA_WRITABLE   0x02u
#define PROCMAP_VMA_EXECUTABLE 0x04u
#define PROCMAP_VMA_SHARED     0x08u

#define VMA_READ_CHUNK         (64u * 1024u)

int
vkfd_vma_query_init(struct vkfd_vma_query *query, bool force_text)
{
   memset(query, 0, sizeof(*query));
   query->maps_fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
   if (query->maps_fd < 0) {
      int ret = -errno;
      vkfd_err("alias: cannot open /proc/self/maps: %s", strerror(-ret));
      return ret;
   }
   query->text_mode = force_text;
   return 0;
}

void
vkfd_vma_query_fini(struct vkfd_vma_query *query)
{
   if (query->maps_fd >= 0)
      close(query->maps_fd);
   query->maps_fd = -1;
   free(query->table);
   query->table = NULL;
   query->table_count = 0;
   query->table_loaded = false;
}

/* Reads the whole of /proc/self/maps into one NUL-terminated buffer. */
static int
maps_read_all(int fd, char **text_out, size_t *len_out)
{
   size_t capacity = VMA_READ_CHUNK, len = 0;
   char *text = malloc(capacity);
   if (!text)
      return -ENOMEM;
   if (lseek(fd, 0, SEEK_SET) < 0)
      goto fail_errno;
   for (;;) {
      if (capacity - len < VMA_READ_CHUNK / 2) {
         char *bigger = realloc(text, capacity * 2);
         if (!bigger) {
            free(text);
            return -ENOMEM;
         }
         text = bigger;
         capacity *= 2;
      }
      ssize_t n = read(fd, text + len, capacity - len - 1);
      if (n < 0 && errno == EINTR)
         continue;
      if (n < 0)
         goto fail_errno;
      if (n == 0)
         break;
      len += (size_t)n;
   }
   text[len] = '\0';
   *text_out = text;
   *len_out = len;
   return 0;

fail_errno:;
   int ret = -errno;
   free(text);
   return ret;
}

static bool
parse_hex(const char **cursor, uint64_t *value)
{
   const char *p = *cursor;
   uint64_t v = 0;
   int digits = 0;
   for (;; p++, digits++) {
      unsigned d;
      if (*p >= '0' && *p <= '9')
         d = (unsigned)(*p - '0');
      else if (*p >= 'a' && *p <= 'f')
         d = (unsigned)(*p - 'a' + 10);
      else
         break;
      if (digits == 16)
         return false;
      v = v << 4 | d;
   }
   *cursor = p;
   *value = v;
   return digits > 0;
}

static bool
parse_dec(const char **cursor, uint64_t *value)
{
   const char *p = *cursor;
   uint64_t v = 0;
   int digits = 0;
   for (; *p >= '0' && *p <= '9'; p++, digits++) {
      if (__builtin_mul_overflow(v, 10, &v) ||
          __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
         return false;
   }
   *cursor = p;
   *value = v;
   return digits > 0;
}

static bool
parse_char(const char **cursor, char c)
{
   if (**cursor != c)
      return false;
   (*cursor)++;
   return true;
}

/* One line: "start-end rwxs offset major:minor inode   path". */
static bool
parse_maps_line(const char *line, struct vkfd_vma_info *info)
{
   const char *p = line;
   uint64_t start, end, offset, major, minor, inode;
   if (!parse_hex(&p, &start) || !parse_char(&p, '-') || !parse_hex(&p, &end) ||
       !parse_char(&p, ' '))
      return false;
   uint32_t flags = 0;
   static const char perm_chars[4] = { 'r', 'w', 'x', 's' };
   static const uint32_t perm_flags[4] = { VKFD_VMA_READ, VKFD_VMA_WRITE, VKFD_VMA_EXEC,
                                           VKFD_VMA_SHARED };
   for (int i = 0; i < 4; i++, p++) {
      if (*p == perm_chars[i])
         flags |= perm_flags[i];
      else if (*p != '-' && *p != 'p')
         return false;
   }
   if (!parse_char(&p, ' ') || !parse_hex(&p, &offset) || !parse_char(&p, ' ') ||
       !parse_hex(&p, &major) || !parse_char(&p, ':') || !parse_hex(&p, &minor) ||
       !parse_char(&p, ' ') || !parse_dec(&p, &inode))
      return false;
   if (end <= start || end > UINTPTR_MAX)
      return false;
   *info = (struct vkfd_vma_info){
      .start = (uintptr_t)start,
      .end = (uintptr_t)end,
      .file_offset = offset,
      .page_size = 0,
      .inode = inode,
      .dev_major = (uint32_t)major,
      .dev_minor = (uint32_t)minor,
      .flags = flags,
   };
   return true;
}

/* Text mode: one read of /proc/self/maps, kept for the rest of the build. */
static int
vma_table_load(struct vkfd_vma_query *query)
{
   char *text = NULL;
   size_t len = 0;
   int ret = maps_read_all(query->maps_fd, &text, &len);
   if (ret) {
      vkfd_err("alias: cannot read /proc/self/maps: %s", strerror(-ret));
      return ret;
   }
   size_t lines = 0;
   for (const char *p = text; (p = memchr(p, '\n', (size_t)(text + len - p))); p++)
      lines++;
   free(query->table);
   query->table = calloc(lines ? lines : 1, sizeof(*query->table));
   if (!query->table) {
      free(text);
      return -ENOMEM;
   }
   size_t count = 0;
   for (char *line = text; line < text + len && count < lines;) {
      char *newline = memchr(line, '\n', (size_t)(text + len - line));
      if (!newline)
         break;
      *newline = '\0';
      if (!parse_maps_line(line, &query->table[count])) {
         vkfd_err("alias: cannot parse /proc/self/maps line \"%s\"", line);
         free(text);
         return -EIO;
      }
      /* the kernel lists mappings in address order; the lookup relies on it */
      if (count && query->table[count].start < query->table[count - 1].end) {
         free(text);
         return -EIO;
      }
      count++;
      line = newline + 1;
   }
   free(text);
   query->table_count = count;
   query->table_loaded = true;
   return 0;
}

static int
vma_table_find(struct vkfd_vma_query *query, uintptr_t addr, struct vkfd_vma_info *info)
{
   if (!query->table_loaded) {
      int ret = vma_table_load(query);
      if (ret)
         return ret;
   }
   size_t lo = 0, hi = query->table_count;
   while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      const struct vkfd_vma_info *vma = &query->table[mid];
      if (addr < vma->start) {
         hi = mid;
      } else if (addr >= vma->end) {
         lo = mid + 1;
      } else {
         *info = *vma;
         return 0;
      }
   }
   return -ENOENT;
}

int
vkfd_vma_query_find(struct vkfd_vma_query *query, uintptr_t addr,
                    struct vkfd_vma_info *info)
{
   if (query->text_mode)
      return vma_table_find(query, addr, info);

   struct vkfd_procmap_query q = {
      .size = sizeof(q),
      .query_flags = 0, /* exactly the mapping covering addr */
      .query_addr = addr,
   };
   if (ioctl(query->maps_fd, VKFD_PROCMAP_QUERY, &q) == 0) {
      uint32_t flags = 0;
      if (q.vma_flags & PROCMAP_VMA_READABLE)
         flags |= VKFD_VMA_READ;
      if (q.vma_flags & PROCMAP_VMA_WRITABLE)
         flags |= VKFD_VMA_WRITE;
      if (q.vma_flags & PROCMAP_VMA_EXECUTABLE)
         flags |= VKFD_VMA_EXEC;
      if (q.vma_flags & PROCMAP_VMA_SHARED)
         flags |= VKFD_VMA_SHARED;
      *info = (struct vkfd_vma_info){
         .start = (uintptr_t)q.vma_start,
         .end = (uintptr_t)q.vma_end,
         .file_offset = q.vma_offset,
         .page_size = q.vma_page_size,
         .inode = q.inode,
         .dev_major = q.dev_major,
         .dev_minor = q.dev_minor,
         .flags = flags,
      };
      return 0;
   }
   int err = errno;
   if (err == ENOENT)
      return -ENOENT;
   if (err == ENOTTY || err == EINVAL || err == EOPNOTSUPP) {
      /* a kernel before 6.11 (or a filtered ioctl): read the text instead */
      vkfd_debug("alias: PROCMAP_QUERY unavailable (%s); reading /proc/self/maps",
                 strerror(err));
      query->text_mode = true;
      return vma_table_find(query, addr, info);
   }
   vkfd_err("alias: PROCMAP_QUERY for 0x%" PRIxPTR " failed: %s", addr, strerror(err));
   return -err;
}

int
vkfd_vma_query_count(struct vkfd_vma_query *query, uint64_t *count)
{
   if (query->table_loaded) {
      *count = query->table_count;
      return 0;
   }
   /* count the lines without keeping them: the ioctl mode needs nothing else */
   char *buf = malloc(VMA_READ_CHUNK);
   if (!buf)
      return -ENOMEM;
   uint64_t lines = 0;
   int ret = 0;
   if (lseek(query->maps_fd, 0, SEEK_SET) < 0) {
      ret = -errno;
   } else {
      for (;;) {
         ssize_t n = read(query->maps_fd, buf, VMA_READ_CHUNK);
         if (n < 0 && errno == EINTR)
            continue;
         if (n < 0) {
            ret = -errno;
            break;
         }
         if (n == 0)
            break;
         for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + n - p))); p++)
            lines++;
      }
   }
   free(buf);
   if (ret)
      vkfd_err("alias: cannot read /proc/self/maps: %s", strerror(-ret));
   else
      *count = lines;
   return ret;
}

int
vkfd_vma_max_map_count(uint64_t *limit)
{
   int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
   if (fd < 0)
      return -errno;
   char buf[32];
   ssize_t n;
   do {
      n = read(fd, buf, sizeof(buf) - 1);
   } while (n < 0 && errno == EINTR);
   int ret = n < 0 ? -errno : 0;
   close(fd);
   if (ret)
      return ret;
   buf[n] = '\0';
   const char *p = buf;
   uint64_t value;
   if (!parse_dec(&p, &value))
      return -EIO;
   *limit = value;
   return 0;
}

int
vkfd_vma_backing_open(struct vkfd_vma_info *info, bool writable)
{
   char path[64];
   snprintf(path, sizeof(path), "/proc/self/map_files/%" PRIxPTR "-%" PRIxPTR,
            info->start, info->end);
   int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
   if (fd < 0)
      return -errno;

   /* the mapping may have been replaced since it was queried */
   struct stat st;
   if (fstat(fd, &st) || st.st_ino != info->inode ||
       major(st.st_dev) != info->dev_major || minor(st.st_dev) != info->dev_minor) {
      close(fd);
      return -ESTALE;
   }

   if (!info->page_size) {
      /*
       * Only hugetlbfs maps with pages larger than the base page; st_blksize of
       * other file systems is an I/O hint (1 MiB on NFS), not a page size.
       */
      struct statfs sfs;
      if (fstatfs(fd, &sfs) == 0 && (uint64_t)sfs.f_type == HUGETLBFS_MAGIC &&
          sfs.f_bsize > 0)
         info->page_size = (uint64_t)sfs.f_bsize;
   }
   return fd;
}
