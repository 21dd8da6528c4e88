/*
 * The emulated kernel: one struct kfdsim_state and the mutex beside it.
 *
 * Activation is lazy: the first hook or test-API call that needs the state
 * decides, under the lock, whether to emulate (no real /dev/kfd, or
 * KFDSIM_FORCE=1) and builds the topology then. Nothing happens at load time,
 * so loading libkfdsim into a program that never touches KFD costs nothing and
 * prints nothing.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kfdsim_priv.h"

static struct kfdsim_state state;
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
/* Signalled on every event change; WAIT_EVENTS sleeps on it with the lock. */
static pthread_cond_t state_event_cond;
static pthread_once_t state_cond_once = PTHREAD_ONCE_INIT;

/* Read without the lock by the hooks' fast paths: once true, stay true. */
static atomic_bool state_files_exist;
static atomic_ulong state_memfd_dev;
static atomic_bool state_memfd_dev_known;
static atomic_int state_dirs_open;

#define DEFAULT_SYSMEM_LIMIT_MB 30720ull

static void
say(const char *msg)
{
   size_t len = strlen(msg);

   while (len) {
      ssize_t n = write(STDERR_FILENO, msg, len);
      if (n <= 0)
         return;
      msg += n;
      len -= (size_t)n;
   }
}

static void
init_cond(void)
{
   pthread_condattr_t attr;

   pthread_condattr_init(&attr);
   pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
   pthread_cond_init(&state_event_cond, &attr);
   pthread_condattr_destroy(&attr);
}

static void
fork_prepare(void)
{
   pthread_mutex_lock(&state_lock);
}

static void
fork_parent(void)
{
   pthread_mutex_unlock(&state_lock);
}

/* The child gets a copy of the "kernel" state, but real amdkfd gives a child
 * nothing: its inherited /dev/kfd fds fail with EBADF and its first open
 * creates a new process. kfdsim_process_ensure() does that; here only the
 * synchronisation objects are made usable again.
 */
static void
fork_child(void)
{
   pthread_mutex_init(&state_lock, NULL);
   init_cond();
}

/* KFDSIM_KFD_MINOR: the KFD interface to present; KFDSIM_RUNTIME_CAPS: what
 * RUNTIME_ENABLE reports.
 */
static int
read_kfd_config(struct kfdsim_state *s, char *why, size_t why_size)
{
   const char *minor = getenv("KFDSIM_KFD_MINOR");
   const char *caps = getenv("KFDSIM_RUNTIME_CAPS");
   char *end;

   s->kfd_minor = KFDSIM_KFD_MINOR_DEFAULT;
   if (minor && *minor) {
      unsigned long v = strtoul(minor, &end, 10);
      if (*end || v < KFDSIM_KFD_MINOR_MIN || v > KFDSIM_KFD_MINOR_MAX) {
         snprintf(why, why_size, "KFDSIM_KFD_MINOR=%s is not in [%d, %d]", minor,
                  KFDSIM_KFD_MINOR_MIN, KFDSIM_KFD_MINOR_MAX);
         return -EINVAL;
      }
      s->kfd_minor = (uint32_t)v;
   }
   if (caps && *caps) {
      unsigned long v = strtoul(caps, &end, 0);
      if (*end || v > UINT32_MAX) {
         snprintf(why, why_size, "KFDSIM_RUNTIME_CAPS=%s is not a 32-bit mask", caps);
         return -EINVAL;
      }
      s->runtime_caps_set = true;
      s->runtime_caps = (uint32_t)v;
   }
   return 0;
}

static void
activate(struct kfdsim_state *s)
{
   const char *real_kfd = getenv("KFDSIM_REAL_KFD");
   const char *force = getenv("KFDSIM_FORCE");
   const char *sysmem = getenv("KFDSIM_SYSMEM_LIMIT_MB");
   char why[512] = "";
   char msg[768];
   int ret;

   kfdsim_log_init(&s->log);
   s->mode = KFDSIM_MODE_PASSTHROUGH;
   if (!real_kfd || !*real_kfd)
      real_kfd = "/dev/kfd";
   if (!(force && !strcmp(force, "1")) && access(real_kfd, F_OK) == 0) {
      snprintf(msg, sizeof(msg),
               "kfdsim: %s exists, so this host has a real KFD: not emulating "
               "(set KFDSIM_FORCE=1 to emulate anyway)\n",
               real_kfd);
      say(msg);
      return;
   }

   ret = read_kfd_config(s, why, sizeof(why));
   if (!ret)
      ret = kfdsim_topology_init(&s->topo, s->kfd_minor, why, sizeof(why));
   if (!ret) {
      ret = kfdsim_backing_init(&s->backing);
      if (ret)
         snprintf(why, sizeof(why), "cannot create the device-memory memfd: %s",
                  strerror(-ret));
   }
   for (unsigned int i = 0; !ret && i < s->topo.gpu_count; i++) {
      struct kfdsim_device *dev = &s->devices[i];

      memset(dev, 0, sizeof(*dev));
      dev->props = s->topo.gpus[i];
      ret = kfdsim_backing_alloc(&s->backing, KFDSIM_PAGE_SIZE, &dev->mmio_page);
      if (ret)
         snprintf(why, sizeof(why), "cannot allocate the MMIO page");
      s->device_count = i + 1;
   }
   if (!ret && (ret = kfdsim_sysfs_build_drm(s)))
      snprintf(why, sizeof(why), "cannot build the render nodes' sysfs entries");
   if (ret) {
      snprintf(msg, sizeof(msg), "kfdsim: not emulating KFD: %s\n", why);
      say(msg);
      kfdsim_topology_fini(&s->topo);
      kfdsim_topology_fini(&s->drm_sysfs);
      s->device_count = 0;
      return;
   }

   s->sysmem_limit = DEFAULT_SYSMEM_LIMIT_MB << 20;
   if (sysmem && *sysmem)
      s->sysmem_limit = strtoull(sysmem, NULL, 0) << 20;
   atomic_store(&state_memfd_dev, (unsigned long)s->backing.dev);
   atomic_store(&state_memfd_dev_known, true);
   pthread_atfork(fork_prepare, fork_parent, fork_child);
   s->mode = KFDSIM_MODE_ACTIVE;
   kfdsim_trace(s, "active: %u GPU(s), %u topology node(s)", s->device_count,
                s->topo.node_count);
}

struct kfdsim_state *
kfdsim_state_lock(void)
{
   pthread_once(&state_cond_once, init_cond);
   pthread_mutex_lock(&state_lock);
   if (state.mode == KFDSIM_MODE_UNDECIDED)
      activate(&state);
   return &state;
}

void
kfdsim_state_unlock(struct kfdsim_state *s)
{
   (void)s;
   pthread_mutex_unlock(&state_lock);
}

int
kfdsim_state_wait(struct kfdsim_state *s, const struct timespec *deadline)
{
   (void)s;
   if (!deadline)
      return pthread_cond_wait(&state_event_cond, &state_lock);
   return pthread_cond_timedwait(&state_event_cond, &state_lock, deadline);
}

void
kfdsim_state_wake(struct kfdsim_state *s)
{
   (void)s;
   pthread_cond_broadcast(&state_event_cond);
}

bool
kfdsim_state_has_files(void)
{
   return atomic_load(&state_files_exist);
}

bool
kfdsim_state_is_memfd_dev(dev_t dev)
{
   return atomic_load(&state_memfd_dev_known) &&
          atomic_load(&state_memfd_dev) == (unsigned long)dev;
}

void
kfdsim_state_dir_opened(bool opened)
{
   atomic_fetch_add(&state_dirs_open, opened ? 1 : -1);
}

bool
kfdsim_state_has_dirs(void)
{
   return atomic_load(&state_dirs_open) > 0;
}

/* After fork the child holds a copy of the parent's objects but shares the
 * parent's device-memory memfd: freeing through it would punch holes into
 * the parent's buffers. So the child forgets the objects and starts a new
 * backing store.
 */
static void
forget_inherited_process(struct kfdsim_state *s)
{
   struct kfdsim_backing fresh;

   while (s->process.bos) {
      struct kfdsim_bo *next = s->process.bos->next;
      kfdsim_bo_destroy(s->process.bos); /* closes the child's copy of its memfd */
      s->process.bos = next;
   }
   while (s->process.queues) {
      struct kfdsim_queue *next = s->process.queues->next;
      free(s->process.queues);
      s->process.queues = next;
   }
   while (s->process.events) {
      struct kfdsim_event *next = s->process.events->next;
      free(s->process.events);
      s->process.events = next;
   }
   kfdsim_svm_release_all(s);

   if (kfdsim_backing_init(&fresh) == 0) {
      /* Drop the inherited ranges without punching them. */
      while (s->backing.ranges) {
         struct kfdsim_range *next = s->backing.ranges->next;
         free(s->backing.ranges);
         s->backing.ranges = next;
      }
      kfdsim_real()->close(s->backing.fd);
      s->backing = fresh;
      atomic_store(&state_memfd_dev, (unsigned long)fresh.dev);
      for (unsigned int i = 0; i < s->device_count; i++)
         kfdsim_backing_alloc(&s->backing, KFDSIM_PAGE_SIZE, &s->devices[i].mmio_page);
   }
   memset(&s->process, 0, sizeof(s->process));
}

void
kfdsim_process_ensure(struct kfdsim_state *s)
{
   pid_t pid = getpid();

   if (s->process.exists && s->process.pid == pid)
      return;
   if (s->process.exists)
      forget_inherited_process(s);

   memset(&s->process, 0, sizeof(s->process));
   s->process.exists = true;
   s->process.pid = pid;
   for (unsigned int i = 0; i < s->device_count; i++) {
      struct kfdsim_device *dev = &s->devices[i];
      struct kfdsim_gpu_props props = dev->props;
      uint64_t mmio = dev->mmio_page;

      memset(dev, 0, sizeof(*dev));
      dev->props = props;
      dev->mmio_page = mmio;
      if (kfdsim_backing_alloc(&s->backing, KFDSIM_DOORBELL_SLICE, &dev->doorbell_page))
         dev->doorbell_page = 0;
   }
   kfdsim_trace(s, "process %d created", (int)pid);
}

struct kfdsim_device *
kfdsim_device_by_id(struct kfdsim_state *s, uint32_t gpu_id)
{
   if (gpu_id == 0)
      return NULL;
   for (unsigned int i = 0; i < s->device_count; i++) {
      if (s->devices[i].props.gpu_id == gpu_id)
         return &s->devices[i];
   }
   return NULL;
}

int
kfdsim_device_index(struct kfdsim_state *s, const struct kfdsim_device *dev)
{
   return (int)(dev - s->devices);
}

int
kfdsim_file_add(struct kfdsim_state *s, int fd, enum kfdsim_file_kind kind,
                unsigned int gpu)
{
   struct stat st;

   if (kfdsim_real()->fstat(fd, &st) < 0)
      return -errno;
   if (s->file_count == s->file_capacity) {
      size_t capacity = s->file_capacity ? s->file_capacity * 2 : 16;
      void *files = realloc(s->files, capacity * sizeof(*s->files));
      if (!files)
         return -ENOMEM;
      s->files = files;
      s->file_capacity = capacity;
   }
   s->files[s->file_count++] = (struct kfdsim_file){
      .fd = fd,
      .ino = st.st_ino,
      .kind = kind,
      .gpu = gpu,
      .owner = getpid(),
   };
   atomic_store(&state_files_exist, true);
   return 0;
}

/* Find the emulated file behind fd by its memfd inode, so that dup()ed fds
 * and fds renumbered behind our back are recognised, and a recycled fd number
 * is not mistaken for ours.
 */
struct kfdsim_file *
kfdsim_file_lookup(struct kfdsim_state *s, int fd)
{
   struct stat st;

   if (s->file_count == 0 || kfdsim_real()->fstat(fd, &st) < 0)
      return NULL;
   return kfdsim_file_lookup_stat(s, &st);
}

/* The same for a caller that has just fstat()ed the fd (every mmap does). */
struct kfdsim_file *
kfdsim_file_lookup_stat(struct kfdsim_state *s, const struct stat *st)
{
   if (s->file_count == 0 || st->st_dev != s->backing.dev)
      return NULL;
   for (size_t i = 0; i < s->file_count; i++) {
      if (s->files[i].ino == st->st_ino)
         return &s->files[i];
   }
   return NULL;
}

/* Another fd of this process that refers to the same open file, or -1. */
static int
find_other_fd(ino_t ino, dev_t dev, int closed_fd)
{
   DIR *dir = kfdsim_real()->opendir("/proc/self/fd");
   struct dirent *entry;
   int found = -1;

   if (!dir)
      return -1;
   while (found < 0 && (entry = kfdsim_real()->readdir(dir))) {
      struct stat st;
      char *end;
      long fd = strtol(entry->d_name, &end, 10);

      if (*end || fd == closed_fd || fd == dirfd(dir))
         continue;
      if (kfdsim_real()->fstat((int)fd, &st) == 0 && st.st_ino == ino && st.st_dev == dev)
         found = (int)fd;
   }
   kfdsim_real()->closedir(dir);
   return found;
}

/* Called after fd was closed. The open file lives on while a dup() of it is
 * open: keep tracking it under that fd.
 */
void
kfdsim_file_closed(struct kfdsim_state *s, struct kfdsim_file *file, int fd)
{
   int other = find_other_fd(file->ino, s->backing.dev, fd);

   if (other >= 0) {
      file->fd = other;
      return;
   }
   *file = s->files[--s->file_count];
}
