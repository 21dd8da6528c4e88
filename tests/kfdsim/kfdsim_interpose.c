/*
 * The interposed libc entry points.
 *
 * libhsakmt and libdrm reach the kernel through open/fopen/opendir, ioctl and
 * mmap (objdump -T shows no raw syscalls for KFD). Each hook first decides,
 * cheaply and without the lock where it can, whether the call concerns the
 * emulated KFD: /dev/kfd, a render node of an emulated GPU, the KFD sysfs
 * tree, or an fd the emulator handed out. Everything else goes straight to
 * libc. glibc's fopen() and opendir() open files internally without going
 * through open(), so they are hooked too.
 */
/* The hooks must define the plain symbol names: with a 64-bit file offset
 * or fortify build, glibc's headers would rename open() to open64() or wrap
 * it inline.
 */
#undef _FILE_OFFSET_BITS
#undef _FORTIFY_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "kfdsim_priv.h"

_Static_assert(sizeof(struct dirent) == sizeof(struct dirent64),
               "readdir and readdir64 share the emulated entries");

/* glibc's fortified variants, used by callers built with _FORTIFY_SOURCE. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
FILE *fopen64(const char *path, const char *mode);

static int
render_minor(const char *path)
{
   static const char prefix[] = "/dev/dri/renderD";
   const char *digits = path + sizeof(prefix) - 1;
   char *end;
   long minor;

   if (strncmp(path, prefix, sizeof(prefix) - 1) || *digits < '0' || *digits > '9')
      return -1;
   minor = strtol(digits, &end, 10);
   return *end || minor > 255 ? -1 : (int)minor;
}

static int
open_kfd(struct kfdsim_state *s, int flags)
{
   int inject = kfdsim_log_count_and_inject(&s->log, KFDSIM_NR_OPEN);
   int fd, ret;

   if (inject)
      return -inject;
   fd = memfd_create("kfdsim-kfd", (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
   if (fd < 0)
      return -errno;
   kfdsim_process_ensure(s);
   if ((ret = kfdsim_file_add(s, fd, KFDSIM_FILE_KFD, 0))) {
      kfdsim_real()->close(fd);
      return ret;
   }
   kfdsim_trace(s, "open /dev/kfd -> fd %d", fd);
   return fd;
}

static int
open_render(struct kfdsim_state *s, unsigned int gpu, const char *path, int flags)
{
   int fd, ret;

   fd = memfd_create("kfdsim-render", (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
   if (fd < 0)
      return -errno;
   if ((ret = kfdsim_file_add(s, fd, KFDSIM_FILE_RENDER, gpu))) {
      kfdsim_real()->close(fd);
      return ret;
   }
   kfdsim_trace(s, "open %s -> fd %d", path, fd);
   return fd;
}

/* The emulated GPU whose render node has this minor, or -1. */
static int
gpu_of_minor(struct kfdsim_state *s, int minor)
{
   for (unsigned int i = 0; minor >= 0 && i < s->device_count; i++) {
      if (s->devices[i].props.render_minor == (uint32_t)minor)
         return (int)i;
   }
   return -1;
}

/* Returns true if the emulator answered the open (fd or -errno in *result). */
static bool
open_emulated(const char *path, int flags, int *result)
{
   char buf[256];
   const char *rel;
   int minor;
   bool kfd, drm = false;
   struct kfdsim_state *s;
   bool handled = true;

   if (!path || path[0] != '/')
      return false;
   kfd = !strcmp(path, "/dev/kfd");
   minor = render_minor(path);
   rel = kfdsim_sysfs_relative(path, buf, sizeof(buf), &drm);
   if (!kfd && minor < 0 && !rel)
      return false;

   s = kfdsim_state_lock();
   if (s->mode != KFDSIM_MODE_ACTIVE) {
      handled = false;
   } else if (kfd) {
      *result = open_kfd(s, flags);
   } else if (minor >= 0) {
      int gpu = gpu_of_minor(s, minor);
      handled = gpu >= 0;
      if (handled)
         *result = open_render(s, (unsigned int)gpu, path, flags);
   } else if (kfdsim_sysfs_claims(s, rel, drm)) {
      *result = kfdsim_sysfs_open(s, rel, drm, flags);
   } else {
      handled = false;
   }
   kfdsim_state_unlock(s);
   return handled;
}

static bool
needs_mode(int flags)
{
   return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

static int
finish_open(int result)
{
   if (result < 0) {
      errno = -result;
      return -1;
   }
   return result;
}

KFDSIM_EXPORT int
open(const char *path, int flags, ...)
{
   mode_t mode = 0;
   int result;

   if (needs_mode(flags)) {
      va_list ap;
      va_start(ap, flags);
      mode = (mode_t)va_arg(ap, int);
      va_end(ap);
   }
   if (open_emulated(path, flags, &result))
      return finish_open(result);
   return kfdsim_real()->open(path, flags, mode);
}

KFDSIM_EXPORT int
open64(const char *path, int flags, ...)
{
   mode_t mode = 0;
   int result;

   if (needs_mode(flags)) {
      va_list ap;
      va_start(ap, flags);
      mode = (mode_t)va_arg(ap, int);
      va_end(ap);
   }
   if (open_emulated(path, flags, &result))
      return finish_open(result);
   return kfdsim_real()->open(path, flags, mode);
}

KFDSIM_EXPORT int
openat(int dirfd, const char *path, int flags, ...)
{
   mode_t mode = 0;
   int result;

   if (needs_mode(flags)) {
      va_list ap;
      va_start(ap, flags);
      mode = (mode_t)va_arg(ap, int);
      va_end(ap);
   }
   if (open_emulated(path, flags, &result))
      return finish_open(result);
   return kfdsim_real()->openat(dirfd, path, flags, mode);
}

KFDSIM_EXPORT int
openat64(int dirfd, const char *path, int flags, ...)
{
   mode_t mode = 0;
   int result;

   if (needs_mode(flags)) {
      va_list ap;
      va_start(ap, flags);
      mode = (mode_t)va_arg(ap, int);
      va_end(ap);
   }
   if (open_emulated(path, flags, &result))
      return finish_open(result);
   return kfdsim_real()->openat(dirfd, path, flags, mode);
}

KFDSIM_EXPORT int
__open_2(const char *path, int flags)
{
   int result;

   if (open_emulated(path, flags, &result))
      return finish_open(result);
   return kfdsim_real()->open(path, flags);
}

KFDSIM_EXPORT int
__open64_2(const char *path, int flags)
{
   int result;

   if (open_emulated(path, flags, &result))
      return finish_open(result);
   return kfdsim_real()->open(path, flags);
}

KFDSIM_EXPORT int
__openat_2(int dirfd, const char *path, int flags)
{
   int result;

   if (open_emulated(path, flags, &result))
      return finish_open(result);
   return kfdsim_real()->openat(dirfd, path, flags);
}

KFDSIM_EXPORT int
__openat64_2(int dirfd, const char *path, int flags)
{
   int result;

   if (open_emulated(path, flags, &result))
      return finish_open(result);
   return kfdsim_real()->openat(dirfd, path, flags);
}

static int
fopen_flags(const char *mode)
{
   int flags;

   if (mode[0] == 'r')
      flags = strchr(mode, '+') ? O_RDWR : O_RDONLY;
   else if (mode[0] == 'w')
      flags = (strchr(mode, '+') ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC;
   else if (mode[0] == 'a')
      flags = (strchr(mode, '+') ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND;
   else
      return -1;
   if (strchr(mode, 'e'))
      flags |= O_CLOEXEC;
   return flags;
}

static bool
fopen_emulated(const char *path, const char *mode, FILE **file)
{
   int flags = mode ? fopen_flags(mode) : -1;
   int result;

   if (flags < 0 || !open_emulated(path, flags, &result))
      return false;
   *file = NULL;
   if (result < 0) {
      errno = -result;
      return true;
   }
   *file = fdopen(result, mode);
   if (!*file) {
      int err = errno;
      kfdsim_real()->close(result);
      errno = err;
   }
   return true;
}

KFDSIM_EXPORT FILE *
fopen(const char *path, const char *mode)
{
   FILE *file;

   if (fopen_emulated(path, mode, &file))
      return file;
   return kfdsim_real()->fopen(path, mode);
}

KFDSIM_EXPORT FILE *
fopen64(const char *path, const char *mode)
{
   FILE *file;

   if (fopen_emulated(path, mode, &file))
      return file;
   return kfdsim_real()->fopen(path, mode);
}

KFDSIM_EXPORT DIR *
opendir(const char *path)
{
   char buf[256];
   bool drm = false;
   const char *rel = kfdsim_sysfs_relative(path, buf, sizeof(buf), &drm);
   struct kfdsim_state *s;
   struct kfdsim_dir *dir = NULL;
   int err = 0;
   bool handled;

   if (!rel)
      return kfdsim_real()->opendir(path);
   s = kfdsim_state_lock();
   handled = s->mode == KFDSIM_MODE_ACTIVE && kfdsim_sysfs_claims(s, rel, drm);
   if (handled)
      dir = kfdsim_sysfs_opendir(s, rel, drm, &err);
   kfdsim_state_unlock(s);
   if (!handled)
      return kfdsim_real()->opendir(path);
   if (!dir)
      errno = err;
   return (DIR *)dir;
}

/* NULL if dir is not one of ours (then libc must handle it). */
static struct dirent64 *
readdir_emulated(DIR *dir, bool *handled)
{
   struct kfdsim_state *s;
   struct dirent64 *entry = NULL;

   *handled = false;
   if (!dir || !kfdsim_state_has_dirs())
      return NULL;
   s = kfdsim_state_lock();
   if (kfdsim_sysfs_owns_dir(s, dir)) {
      *handled = true;
      entry = kfdsim_sysfs_readdir((struct kfdsim_dir *)dir);
   }
   kfdsim_state_unlock(s);
   return entry;
}

KFDSIM_EXPORT struct dirent *
readdir(DIR *dir)
{
   bool handled;
   struct dirent64 *entry = readdir_emulated(dir, &handled);

   if (handled)
      return (struct dirent *)entry;
   return kfdsim_real()->readdir(dir);
}

KFDSIM_EXPORT struct dirent64 *
readdir64(DIR *dir)
{
   bool handled;
   struct dirent64 *entry = readdir_emulated(dir, &handled);

   if (handled)
      return entry;
   return kfdsim_real()->readdir64(dir);
}

KFDSIM_EXPORT int
closedir(DIR *dir)
{
   struct kfdsim_state *s;
   bool handled = false;

   if (kfdsim_state_has_dirs()) {
      s = kfdsim_state_lock();
      if (kfdsim_sysfs_owns_dir(s, dir)) {
         kfdsim_sysfs_closedir(s, (struct kfdsim_dir *)dir);
         handled = true;
      }
      kfdsim_state_unlock(s);
   }
   return handled ? 0 : kfdsim_real()->closedir(dir);
}

/* Quick test, without the lock, that fd may be one of ours: emulated files
 * are memfds.
 */
static bool
maybe_emulated_fd_stat(int fd, struct stat *st)
{
   return fd >= 0 && kfdsim_state_has_files() && kfdsim_real()->fstat(fd, st) == 0 &&
          kfdsim_state_is_memfd_dev(st->st_dev);
}

KFDSIM_EXPORT int
ioctl(int fd, unsigned long request, ...)
{
   struct kfdsim_state *s;
   struct kfdsim_file *file;
   struct kfdsim_file copy;
   struct stat st;
   va_list ap;
   void *arg;
   int ret;

   va_start(ap, request);
   arg = va_arg(ap, void *);
   va_end(ap);

   if (!maybe_emulated_fd_stat(fd, &st))
      return kfdsim_real()->ioctl(fd, request, arg);
   s = kfdsim_state_lock();
   file = s->mode == KFDSIM_MODE_ACTIVE ? kfdsim_file_lookup_stat(s, &st) : NULL;
   if (!file) {
      kfdsim_state_unlock(s);
      return kfdsim_real()->ioctl(fd, request, arg);
   }
   /* WAIT_EVENTS may sleep with the lock released, and the file table may
    * move meanwhile.
    */
   copy = *file;
   if (copy.kind == KFDSIM_FILE_KFD) {
      ret = kfdsim_ioctl_kfd(s, &copy, fd, request, (uint64_t)(uintptr_t)arg);
   } else {
      ret = kfdsim_ioctl_render(s, &copy, fd, request, (uint64_t)(uintptr_t)arg);
   }
   kfdsim_state_unlock(s);
   if (ret < 0) {
      errno = -ret;
      return -1;
   }
   return 0;
}

static void *
mmap_hook(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
   struct kfdsim_state *s;
   struct kfdsim_file *file;
   void *p;
   int err = 0;

   struct stat st;

   /* one fstat per mmap: guest RAM and alias mappings of plain memfds come here too */
   if ((flags & MAP_ANONYMOUS) || !maybe_emulated_fd_stat(fd, &st))
      return kfdsim_real()->mmap(addr, len, prot, flags, fd, off);
   s = kfdsim_state_lock();
   file = s->mode == KFDSIM_MODE_ACTIVE ? kfdsim_file_lookup_stat(s, &st) : NULL;
   if (!file) {
      kfdsim_state_unlock(s);
      return kfdsim_real()->mmap(addr, len, prot, flags, fd, off);
   }
   p = kfdsim_mmap_device(s, file, addr, len, prot, flags, (uint64_t)off, &err);
   kfdsim_state_unlock(s);
   if (p == MAP_FAILED)
      errno = err;
   return p;
}

KFDSIM_EXPORT void *
mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
   return mmap_hook(addr, len, prot, flags, fd, off);
}

KFDSIM_EXPORT void *
mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
   return mmap_hook(addr, len, prot, flags, fd, off);
}

KFDSIM_EXPORT int
close(int fd)
{
   struct kfdsim_state *s;
   struct kfdsim_file *file;
   struct stat st;
   int ret;

   /* one fstat per close: every memfd the process closes comes here */
   if (!maybe_emulated_fd_stat(fd, &st))
      return kfdsim_real()->close(fd);
   s = kfdsim_state_lock();
   file = s->mode == KFDSIM_MODE_ACTIVE ? kfdsim_file_lookup_stat(s, &st) : NULL;
   ret = kfdsim_real()->close(fd);
   if (file && ret == 0) {
      kfdsim_trace(s, "close %s fd %d",
                   file->kind == KFDSIM_FILE_KFD ? "/dev/kfd" : "render", fd);
      kfdsim_file_closed(s, file, fd);
   }
   kfdsim_state_unlock(s);
   return ret;
}

/* DRM_MAJOR: render nodes are character devices 226:128 and up. */
#define DRM_CHAR_MAJOR 226

/* An emulated render-node fd looks like the character device it stands for:
 * libdrm's drmGetNodeTypeFromFd() checks that (and the /sys/dev/char entry
 * below) before it treats an fd as a render node.
 */
static void
device_stat(struct stat *st)
{
   struct kfdsim_state *s;
   struct kfdsim_file *file;

   if (!kfdsim_state_has_files() || !kfdsim_state_is_memfd_dev(st->st_dev))
      return;
   s = kfdsim_state_lock();
   file = s->mode == KFDSIM_MODE_ACTIVE ? kfdsim_file_lookup_stat(s, st) : NULL;
   if (file && file->kind == KFDSIM_FILE_RENDER) {
      st->st_mode = S_IFCHR | 0660;
      st->st_rdev = makedev(DRM_CHAR_MAJOR, s->devices[file->gpu].props.render_minor);
      st->st_size = 0;
      st->st_blocks = 0;
   }
   kfdsim_state_unlock(s);
}

KFDSIM_EXPORT int
fstat(int fd, struct stat *st)
{
   int ret = kfdsim_real()->fstat(fd, st);

   if (ret == 0)
      device_stat(st);
   return ret;
}

KFDSIM_EXPORT int
fstat64(int fd, struct stat64 *st)
{
   _Static_assert(sizeof(struct stat) == sizeof(struct stat64), "one stat layout");
   return fstat(fd, (struct stat *)st);
}

/* stat() of an emulated render node or of its /sys/dev/char entries; false
 * when the path is not one of those.
 */
static bool
stat_emulated(const char *path, struct stat *st, int *ret)
{
   char buf[256];
   bool drm = false;
   int minor = path ? render_minor(path) : -1;
   const char *rel =
      minor < 0 ? kfdsim_sysfs_relative(path, buf, sizeof(buf), &drm) : NULL;
   struct kfdsim_state *s;
   bool handled = false;

   if (minor < 0 && !(rel && drm))
      return false;
   s = kfdsim_state_lock();
   if (s->mode == KFDSIM_MODE_ACTIVE) {
      int gpu = minor >= 0 ? gpu_of_minor(s, minor) : -1;
      const struct kfdsim_sysfs_file *file =
         rel ? kfdsim_topology_find_file(&s->drm_sysfs, rel) : NULL;

      memset(st, 0, sizeof(*st));
      st->st_nlink = 1;
      st->st_blksize = 4096;
      if (gpu >= 0) {
         st->st_mode = S_IFCHR | 0660;
         st->st_rdev = makedev(DRM_CHAR_MAJOR, (unsigned int)minor);
         handled = true;
      } else if (rel && kfdsim_sysfs_claims(s, rel, drm)) {
         st->st_mode = file ? S_IFREG | 0444 : S_IFDIR | 0755;
         st->st_size = file ? (off_t)file->size : 0;
         handled = true;
      }
      *ret = 0;
   }
   kfdsim_state_unlock(s);
   return handled;
}

KFDSIM_EXPORT int
stat(const char *path, struct stat *st)
{
   int ret;

   if (stat_emulated(path, st, &ret))
      return ret;
   return kfdsim_real()->stat(path, st);
}

KFDSIM_EXPORT int
stat64(const char *path, struct stat64 *st)
{
   return stat(path, (struct stat *)st);
}
