/*
 * Serving the in-memory topology to open(), fopen() and opendir().
 *
 * A file is opened as a fresh memfd holding its contents, so it is a real fd
 * that read(), fscanf() and close() handle as usual. A directory is listed
 * through a DIR handle of our own that only our readdir()/closedir() hooks
 * accept (they pass every other DIR to libc): a directory has no memfd
 * equivalent, and building a real tree on disk would leave files behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kfdsim_priv.h"

static const struct {
   const char *path;
   bool drm;
} sysfs_roots[] = {
   { "/sys/devices/virtual/kfd/kfd", false },
   { "/sys/class/kfd/kfd", false },
   /* drmGetNodeTypeFromFd() and friends: /sys/dev/char/226:<minor>/device/drm */
   { "/sys/dev/char", true },
};

const char *
kfdsim_sysfs_relative(const char *path, char *buf, size_t buf_size, bool *drm)
{
   const char *rest = NULL;
   size_t out = 0;

   if (!path || strncmp(path, "/sys/", 5))
      return NULL;
   for (size_t i = 0; i < sizeof(sysfs_roots) / sizeof(sysfs_roots[0]); i++) {
      size_t len = strlen(sysfs_roots[i].path);
      if (!strncmp(path, sysfs_roots[i].path, len) &&
          (path[len] == '\0' || path[len] == '/')) {
         rest = path + len;
         *drm = sysfs_roots[i].drm;
         break;
      }
   }
   if (!rest)
      return NULL;
   /* Drop the leading, repeated and trailing slashes. */
   for (const char *p = rest; *p; p++) {
      if (*p == '/' && (out == 0 || buf[out - 1] == '/'))
         continue;
      if (out + 1 >= buf_size)
         return NULL;
      buf[out++] = *p;
   }
   if (out && buf[out - 1] == '/')
      out--;
   buf[out] = '\0';
   return buf;
}

static const struct kfdsim_topology *
tree_of(struct kfdsim_state *s, bool drm)
{
   return drm ? &s->drm_sysfs : &s->topo;
}

bool
kfdsim_sysfs_claims(struct kfdsim_state *s, const char *rel, bool drm)
{
   /* the KFD tree is ours as a whole; of /sys/dev/char only the emulated GPUs */
   return !drm || (*rel && (kfdsim_topology_find_file(&s->drm_sysfs, rel) ||
                            kfdsim_topology_is_dir(&s->drm_sysfs, rel)));
}

int
kfdsim_sysfs_open(struct kfdsim_state *s, const char *rel, bool drm, int flags)
{
   const struct kfdsim_topology *tree = tree_of(s, drm);
   const struct kfdsim_sysfs_file *file = kfdsim_topology_find_file(tree, rel);
   size_t done = 0;
   int fd;

   if (!file) {
      /* Directories are only listable, through opendir(). */
      return kfdsim_topology_is_dir(tree, rel) ? -EISDIR : -ENOENT;
   }
   /* sysfs attributes of the KFD topology are read-only (0444). */
   if ((flags & O_ACCMODE) != O_RDONLY)
      return -EACCES;
   if (flags & O_DIRECTORY)
      return -ENOTDIR;
   fd = memfd_create("kfdsim-sysfs", (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
   if (fd < 0)
      return -errno;
   while (done < file->size) {
      ssize_t n = write(fd, file->content + done, file->size - done);
      if (n < 0 && errno == EINTR)
         continue;
      if (n <= 0) {
         int err = n < 0 ? -errno : -EIO;
         kfdsim_real()->close(fd);
         return err;
      }
      done += (size_t)n;
   }
   lseek(fd, 0, SEEK_SET);
   kfdsim_trace(s, "sysfs open %s", rel);
   return fd;
}

static int
add_name(struct kfdsim_dir *dir, const char *name, size_t len, unsigned char type)
{
   char **names;
   unsigned char *types;

   for (size_t i = 0; i < dir->count; i++) {
      if (strlen(dir->names[i]) == len && !strncmp(dir->names[i], name, len))
         return 0;
   }
   names = realloc(dir->names, (dir->count + 1) * sizeof(*names));
   if (!names)
      return -ENOMEM;
   dir->names = names;
   types = realloc(dir->types, (dir->count + 1) * sizeof(*types));
   if (!types)
      return -ENOMEM;
   dir->types = types;
   dir->names[dir->count] = strndup(name, len);
   if (!dir->names[dir->count])
      return -ENOMEM;
   dir->types[dir->count] = type;
   dir->count++;
   return 0;
}

static void
free_dir(struct kfdsim_dir *dir)
{
   for (size_t i = 0; i < dir->count; i++)
      free(dir->names[i]);
   free(dir->names);
   free(dir->types);
   free(dir);
}

struct kfdsim_dir *
kfdsim_sysfs_opendir(struct kfdsim_state *s, const char *rel, bool drm, int *err)
{
   const struct kfdsim_topology *tree = tree_of(s, drm);
   size_t len = strlen(rel);
   struct kfdsim_dir *dir;
   int ret;

   if (kfdsim_topology_find_file(tree, rel)) {
      *err = ENOTDIR;
      return NULL;
   }
   if (!kfdsim_topology_is_dir(tree, rel)) {
      *err = ENOENT;
      return NULL;
   }
   dir = calloc(1, sizeof(*dir));
   if (!dir) {
      *err = ENOMEM;
      return NULL;
   }
   ret = add_name(dir, ".", 1, DT_DIR);
   if (!ret)
      ret = add_name(dir, "..", 2, DT_DIR);
   for (size_t i = 0; !ret && i < tree->file_count; i++) {
      const char *path = tree->files[i].path;
      const char *name, *slash;

      if (len && (strncmp(path, rel, len) || path[len] != '/'))
         continue;
      name = len ? path + len + 1 : path;
      slash = strchr(name, '/');
      ret = slash ? add_name(dir, name, (size_t)(slash - name), DT_DIR)
                  : add_name(dir, name, strlen(name), DT_REG);
   }
   if (ret) {
      free_dir(dir);
      *err = -ret;
      return NULL;
   }
   dir->next = s->dirs;
   s->dirs = dir;
   kfdsim_state_dir_opened(true);
   kfdsim_trace(s, "sysfs opendir %s (%zu entries)", *rel ? rel : ".", dir->count - 2);
   return dir;
}

bool
kfdsim_sysfs_owns_dir(struct kfdsim_state *s, const void *dir)
{
   for (struct kfdsim_dir *d = s->dirs; d; d = d->next) {
      if (d == dir)
         return true;
   }
   return false;
}

struct dirent64 *
kfdsim_sysfs_readdir(struct kfdsim_dir *dir)
{
   struct dirent64 *e = &dir->entry;

   if (dir->pos >= dir->count)
      return NULL;
   memset(e, 0, sizeof(*e));
   e->d_ino = dir->pos + 1;
   e->d_off = (off64_t)(dir->pos + 1);
   e->d_reclen = sizeof(*e);
   e->d_type = dir->types[dir->pos];
   snprintf(e->d_name, sizeof(e->d_name), "%s", dir->names[dir->pos]);
   dir->pos++;
   return e;
}

void
kfdsim_sysfs_closedir(struct kfdsim_state *s, struct kfdsim_dir *dir)
{
   for (struct kfdsim_dir **link = &s->dirs; *link; link = &(*link)->next) {
      if (*link == dir) {
         *link = dir->next;
         free_dir(dir);
         kfdsim_state_dir_opened(false);
         return;
      }
   }
}

int
kfdsim_sysfs_build_drm(struct kfdsim_state *s)
{
   memset(&s->drm_sysfs, 0, sizeof(s->drm_sysfs));
   for (unsigned int i = 0; i < s->device_count; i++) {
      uint32_t minor = s->devices[i].props.render_minor;
      char path[128], dev[32];
      int ret;

      /* each GPU has its primary node, card<i>, beside its render node */
      snprintf(path, sizeof(path), "226:%u/device/drm/card%u/dev", minor, i);
      snprintf(dev, sizeof(dev), "226:%u\n", i);
      ret = kfdsim_topology_add_file(&s->drm_sysfs, path, dev, strlen(dev));
      if (!ret) {
         snprintf(path, sizeof(path), "226:%u/device/drm/renderD%u/dev", minor, minor);
         snprintf(dev, sizeof(dev), "226:%u\n", minor);
         ret = kfdsim_topology_add_file(&s->drm_sysfs, path, dev, strlen(dev));
      }
      if (ret)
         return ret;
   }
   return 0;
}
