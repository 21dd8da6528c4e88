/*
 * Internal interfaces of the KFD emulator.
 *
 * The emulated kernel is one struct kfdsim_state (kfdsim_state.c) guarded by
 * one mutex. Every function here that takes a struct kfdsim_state expects the
 * caller to hold that mutex; no module keeps state of its own. Code inside the
 * emulator never calls the libc functions it interposes (open, fopen, opendir,
 * ioctl, mmap, close, ...) directly: that would re-enter the emulator; it uses
 * kfdsim_real() instead.
 */
#ifndef KFDSIM_PRIV_H
#define KFDSIM_PRIV_H

#include <dirent.h>
#include <linux/kfd_ioctl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <stdio.h>
#include <sys/types.h>

#include "kfdsim.h"

#define KFDSIM_EXPORT    __attribute__((visibility("default")))

#define KFDSIM_PAGE_SIZE 4096ull
#define KFDSIM_MAX_GPUS  8
/* DRM ioctl nrs are 8 bits; render-node calls are counted per nr. */
#define KFDSIM_DRM_NR_COUNT 256

/* amdkfd's mmap offset encoding (kfd_priv.h): type in bits 63:62, gpu_id in
 * bits 61:46 of the byte offset user mode passes to mmap().
 */
#define KFDSIM_MMAP_TYPE_SHIFT        62
#define KFDSIM_MMAP_TYPE_MASK         (3ull << KFDSIM_MMAP_TYPE_SHIFT)
#define KFDSIM_MMAP_TYPE_DOORBELL     (3ull << KFDSIM_MMAP_TYPE_SHIFT)
#define KFDSIM_MMAP_TYPE_EVENTS       (2ull << KFDSIM_MMAP_TYPE_SHIFT)
#define KFDSIM_MMAP_TYPE_RESERVED_MEM (1ull << KFDSIM_MMAP_TYPE_SHIFT)
#define KFDSIM_MMAP_TYPE_MMIO         (0ull << KFDSIM_MMAP_TYPE_SHIFT)
#define KFDSIM_MMAP_GPU_ID_SHIFT      46
#define KFDSIM_MMAP_GPU_ID_MASK       (0xffffull << KFDSIM_MMAP_GPU_ID_SHIFT)
#define KFDSIM_MMAP_GPU_ID(id)        (((uint64_t)(id) << KFDSIM_MMAP_GPU_ID_SHIFT))

/* The KFD 1.12 and 1.13 commands, newer than the installed <linux/kfd_ioctl.h>
 * (1.11); layouts from kfd_ioctl.h of those versions.
 */
struct kfdsim_export_dmabuf_args {
   uint64_t handle;    /* to KFD */
   uint32_t flags;     /* to KFD: O_CLOEXEC or not */
   uint32_t dmabuf_fd; /* from KFD */
};
struct kfdsim_runtime_enable_args {
   uint64_t r_debug;
   uint32_t mode_mask;
   uint32_t capabilities_mask;
};
#define KFDSIM_IOC_EXPORT_DMABUF  _IOWR('K', 0x24, struct kfdsim_export_dmabuf_args)
#define KFDSIM_IOC_RUNTIME_ENABLE _IOWR('K', 0x25, struct kfdsim_runtime_enable_args)
/* kfd_ioctl_dbg_trap_args: the target pid, the operation and a 24-byte union. */
struct kfdsim_dbg_trap_args {
   uint32_t pid;
   uint32_t op;
   uint8_t data[24];
};
#define KFDSIM_IOC_DBG_TRAP               _IOWR('K', 0x26, struct kfdsim_dbg_trap_args)
#define KFDSIM_RUNTIME_ENABLE_MODE_ENABLE 1u
/* The oldest and newest KFD interface the emulator can present. */
#define KFDSIM_KFD_MINOR_MIN     11
#define KFDSIM_KFD_MINOR_MAX     14
#define KFDSIM_KFD_MINOR_DEFAULT 14
/* HSA_CAP_TRAP_DEBUG_FIRMWARE_SUPPORTED: what libhsakmt 6.x checks before
 * RUNTIME_ENABLE; amdkfd sets it where the firmware supports the debugger (1.13+).
 */
#define KFDSIM_CAP_DEBUG_FIRMWARE 0x20000000u

/* KFD_IOC_ALLOC_MEM_FLAGS_WRITABLE is (1 << 31), which overflows int: use
 * this instead so UBSan stays quiet.
 */
#define KFDSIM_ALLOC_WRITABLE 0x80000000u

/* Handles are (gpu_id << 32) | idr index, as MAKE_HANDLE in kfd_priv.h;
 * libhsakmt passes the events-page handle through event_page_offset and the
 * kernel takes the GPU from its upper half.
 */
#define KFDSIM_HANDLE(gpu_id, idr) (((uint64_t)(gpu_id) << 32) | (idr))
#define KFDSIM_HANDLE_GPU_ID(h)    ((uint32_t)((h) >> 32))
#define KFDSIM_HANDLE_IDR(h)       ((uint32_t)((h)&0xffffffffu))

/* Process doorbell slice on SOC15 (gfx9+): 1024 doorbells of 8 bytes. */
#define KFDSIM_DOORBELL_SLICE 8192u
#define KFDSIM_DOORBELL_COUNT 1024u
/* The signal-event page: KFD_SIGNAL_EVENT_LIMIT slots of 8 bytes. */
#define KFDSIM_EVENT_PAGE_SIZE (KFD_SIGNAL_EVENT_LIMIT * 8u)
/* The CWSR trap-handler area behind KFD_MMAP_TYPE_RESERVED_MEM. */
#define KFDSIM_CWSR_TBA_TMA_SIZE (2 * KFDSIM_PAGE_SIZE)

/* ---------------------------------------------------------------------- */
/* Real libc entry points (kfdsim_real.c)                                  */

struct kfdsim_real_libc {
   int (*open)(const char *path, int flags, ...);
   int (*openat)(int dirfd, const char *path, int flags, ...);
   FILE *(*fopen)(const char *path, const char *mode);
   DIR *(*opendir)(const char *path);
   struct dirent *(*readdir)(DIR *dir);
   struct dirent64 *(*readdir64)(DIR *dir);
   int (*closedir)(DIR *dir);
   int (*ioctl)(int fd, unsigned long request, ...);
   void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
   int (*close)(int fd);
   int (*fstat)(int fd, struct stat *st);
   int (*stat)(const char *path, struct stat *st);
};

const struct kfdsim_real_libc *kfdsim_real(void);

/* ---------------------------------------------------------------------- */
/* Topology (kfdsim_topology.c, kfdsim_topology_gen.c)                     */

/* One file of the sysfs tree below /sys/devices/virtual/kfd/kfd; path is
 * relative to that directory ("topology/nodes/1/properties").
 */
struct kfdsim_sysfs_file {
   char *path;
   char *content;
   size_t size;
};

/* What the emulator needs to know about a GPU node, parsed from its
 * properties file whichever way the tree was made.
 */
struct kfdsim_gpu_props {
   uint32_t node_id;
   uint32_t gpu_id;
   uint32_t render_minor;
   uint32_t gfx_version; /* gfx_target_version: 100300 for gfx1030 */
   uint32_t device_id;
   uint64_t vram_size;
   bool large_bar; /* VRAM bank is FB_PUBLIC (heap type 1) */
   uint32_t num_gws;
   uint32_t num_sdma_engines;
   uint32_t num_sdma_xgmi_engines;
   uint32_t num_sdma_queues_per_engine;
   uint32_t num_cp_queues;
   /* what the render node reports (AMDGPU_INFO_DEV_INFO) */
   uint32_t pci_rev;
   uint32_t cu_count;
   uint32_t shader_engines;
   uint32_t arrays_per_engine;
   uint32_t wave_front_size;
   uint32_t engine_clk_mhz;
   uint32_t mem_clk_mhz;
   uint32_t mem_width;
};

struct kfdsim_topology {
   struct kfdsim_sysfs_file *files;
   size_t file_count;
   size_t file_capacity;
   unsigned int node_count;
   struct kfdsim_gpu_props gpus[KFDSIM_MAX_GPUS];
   unsigned int gpu_count;
};

/* Build the tree: from KFDSIM_SYSFS_KFD if set, else generated from the
 * KFDSIM_* environment. On failure *why says what was wrong.
 */
int kfdsim_topology_init(struct kfdsim_topology *topo, uint32_t kfd_minor, char *why,
                         size_t why_size);
void kfdsim_topology_fini(struct kfdsim_topology *topo);
int kfdsim_topology_add_file(struct kfdsim_topology *topo, const char *path,
                             const char *content, size_t size);
const struct kfdsim_sysfs_file *
kfdsim_topology_find_file(const struct kfdsim_topology *topo, const char *path);
bool kfdsim_topology_is_dir(const struct kfdsim_topology *topo, const char *path);
int kfdsim_topology_generate(struct kfdsim_topology *topo, uint32_t kfd_minor, char *why,
                             size_t why_size);

/* ---------------------------------------------------------------------- */
/* Device memory backing store (kfdsim_backing.c)                           */

/* A range of the backing memfd; also the render-node mmap offset of a BO. */
struct kfdsim_range {
   uint64_t start;
   uint64_t size;
   struct kfdsim_range *next;
};

struct kfdsim_backing {
   int fd; /* one sparse memfd holding every BO, doorbell and MMIO page */
   dev_t dev;
   ino_t ino;
   struct kfdsim_range *ranges; /* allocated ranges, sorted by start */
};

int kfdsim_backing_init(struct kfdsim_backing *b);
void kfdsim_backing_fini(struct kfdsim_backing *b);
int kfdsim_backing_alloc(struct kfdsim_backing *b, uint64_t size, uint64_t *start);
void kfdsim_backing_free(struct kfdsim_backing *b, uint64_t start);
int kfdsim_backing_read(struct kfdsim_backing *b, uint64_t off, void *buf, size_t len);
int
kfdsim_backing_write(struct kfdsim_backing *b, uint64_t off, const void *buf, size_t len);
int kfdsim_backing_fill(struct kfdsim_backing *b, uint64_t off, int byte, size_t len);
/* The same on any memory file (a BO's own memfd). */
int kfdsim_memfile_read(int fd, uint64_t off, void *buf, size_t len);
int kfdsim_memfile_write(int fd, uint64_t off, const void *buf, size_t len);
int kfdsim_memfile_fill(int fd, uint64_t off, int byte, size_t len);

/* ---------------------------------------------------------------------- */
/* The emulated kernel state (kfdsim_state.c)                              */

enum kfdsim_file_kind {
   KFDSIM_FILE_KFD,
   KFDSIM_FILE_RENDER,
};

/* An fd the emulator handed out: a memfd standing for /dev/kfd or a render
 * node. The memfd's inode identifies the open file description, so dup()ed
 * fds are recognised too.
 */
struct kfdsim_file {
   int fd;
   ino_t ino;
   enum kfdsim_file_kind kind;
   unsigned int gpu; /* render nodes: index into topology gpus */
   pid_t owner;      /* only the opening process may use a /dev/kfd fd */
};

struct kfdsim_bo {
   struct kfdsim_bo *next;
   unsigned int gpu; /* the GPU (process device) it was allocated on */
   uint32_t idr;
   uint32_t flags;
   uint64_t va;
   uint64_t size;        /* page aligned */
   uint64_t backing;     /* its render-node mmap offset (a range of the backing store) */
   int mem_fd;           /* VRAM/GTT: a memfd of its own holding the pages, else -1 */
   uint64_t userptr;     /* USERPTR: CPU address */
   uint32_t mapped_mask; /* bit per GPU index */
   bool imported;        /* made by IMPORT_DMABUF: shares another BO's pages */
};

struct kfdsim_queue {
   struct kfdsim_queue *next;
   uint32_t id;
   unsigned int gpu;
   uint32_t type;
   uint64_t ring_base;
   uint32_t ring_size;
   uint32_t percentage;
   uint32_t priority;
   uint64_t read_ptr;
   uint64_t write_ptr;
   uint64_t ctx_save_restore;
   uint32_t doorbell_id;
   uint32_t sdma_slot; /* SDMA: engine * queues_per_engine + queue */
   uint32_t cu_mask_count;
   bool gws;
};

struct kfdsim_event_waiter;

struct kfdsim_event {
   struct kfdsim_event *next;
   uint32_t id;
   uint32_t type;
   bool auto_reset;
   bool signaled;
   uint32_t node_id;
   struct kfdsim_event_waiter *waiters; /* threads in WAIT_EVENTS on it */
};

/* Per-GPU process device data plus the per-device "hardware" pages. */
struct kfdsim_device {
   struct kfdsim_gpu_props props;
   uint64_t mmio_page;     /* backing store: the MMIO remap page */
   uint64_t doorbell_page; /* backing store: this process's doorbell slice */
   bool vm_acquired;
   ino_t drm_ino; /* the render file ACQUIRE_VM bound to this GPU's VM */
   uint64_t vram_used;
   uint64_t vram_used_aligned;
   uint64_t doorbell_bitmap[KFDSIM_DOORBELL_COUNT / 64];
   uint32_t sdma_used; /* bit per SDMA queue slot */
   uint32_t queue_count;
   bool gws_in_use;
   uint64_t scratch_va;
   uint64_t tba_addr;
   uint64_t tma_addr;
   uint64_t cwsr_page; /* backing store: RESERVED_MEM area, 0 until mapped */
};

struct kfdsim_svm_range {
   struct kfdsim_svm_range *next;
   uint64_t start;
   uint64_t size;
   uint32_t preferred_loc;
   uint32_t prefetch_loc;
   uint32_t flags;
   uint32_t granularity;
   uint32_t access_mask;   /* bit per GPU index: ACCESS */
   uint32_t in_place_mask; /* bit per GPU index: ACCESS_IN_PLACE */
};

/* The amdkfd "process": it lives from the first open of /dev/kfd until the
 * process exits (as kfd_process lives until the mm goes away), not until the
 * fd is closed.
 */
struct kfdsim_process {
   bool exists;
   pid_t pid;
   struct kfdsim_bo *bos;
   struct kfdsim_queue *queues;
   struct kfdsim_event *events;
   struct kfdsim_svm_range *svm_ranges;
   uint64_t gtt_used;
   uint64_t userptr_used;
   bool xnack_enabled;
   /* The signal-event page: a user GTT BO (dGPU) or one the kernel made. */
   bool signal_page_set;
   uint64_t signal_page;        /* backing store start */
   uint64_t signal_page_size;   /* bytes mapped: bounds the signal event ids */
   uint64_t signal_page_handle; /* the user BO's handle, 0 if kernel-made */
   bool signal_page_kernel;
   int signal_page_fd; /* the backing store, or the user BO's memfd */
   uint32_t signal_event_count;
   bool runtime_enabled; /* RUNTIME_ENABLE */
};

struct kfdsim_log_entry {
   uint64_t seq;
   int fd;
   unsigned long request;
   unsigned int nr;
   uint32_t arg_size;
   uint32_t arg_copied;
   bool arg_readable;
   bool injected;
   int ret;
   int err;
   uint8_t *in;  /* arg_copied bytes */
   uint8_t *out; /* arg_copied bytes */
};

struct kfdsim_log {
   struct kfdsim_log_entry *entries; /* a ring of the most recent calls */
   size_t first;                     /* index of the oldest record */
   size_t count;
   size_t capacity;
   uint64_t dropped; /* records overwritten since the last reset */
   uint64_t next_seq;
   uint64_t counts[KFDSIM_NR_COUNT];
   struct {
      unsigned int remaining;
      int err;
   } fail[KFDSIM_NR_COUNT];
   int trace_fd; /* -1: no tracing */
   bool trace_fd_owned;
};

/* An opendir() of a directory of the emulated sysfs tree. */
struct kfdsim_dir {
   struct kfdsim_dir *next;
   char **names;
   unsigned char *types;
   size_t count;
   size_t pos;
   struct dirent64 entry;
};

enum kfdsim_mode {
   KFDSIM_MODE_UNDECIDED,
   KFDSIM_MODE_ACTIVE,
   KFDSIM_MODE_PASSTHROUGH,
};

struct kfdsim_state {
   enum kfdsim_mode mode;
   struct kfdsim_topology topo;
   struct kfdsim_topology drm_sysfs; /* /sys/dev/char/226:N/device/drm */
   struct kfdsim_backing backing;
   struct kfdsim_device devices[KFDSIM_MAX_GPUS];
   unsigned int device_count;
   struct kfdsim_process process;
   struct kfdsim_file *files;
   size_t file_count;
   size_t file_capacity;
   struct kfdsim_dir *dirs;
   struct kfdsim_log log;
   uint64_t drm_counts[KFDSIM_DRM_NR_COUNT]; /* render-node ioctls per nr */
   uint64_t gtt_limit;
   uint64_t sysmem_limit;
   uint32_t kfd_minor;    /* the KFD interface minor version (KFDSIM_KFD_MINOR) */
   bool runtime_caps_set; /* KFDSIM_RUNTIME_CAPS given: RUNTIME_ENABLE reports it */
   uint32_t runtime_caps;
};

/* Lock the state, deciding on first use whether to emulate. */
struct kfdsim_state *kfdsim_state_lock(void);
void kfdsim_state_unlock(struct kfdsim_state *s);
/* Sleep until kfdsim_state_wake() or the absolute CLOCK_MONOTONIC deadline
 * (NULL: no deadline), with the lock released meanwhile. Returns ETIMEDOUT on
 * timeout, else 0.
 */
int kfdsim_state_wait(struct kfdsim_state *s, const struct timespec *deadline);
void kfdsim_state_wake(struct kfdsim_state *s);

/* Fast checks the hooks make before taking the lock. */
bool kfdsim_state_has_files(void);
bool kfdsim_state_is_memfd_dev(dev_t dev);
/* Count of open emulated directories, so readdir() of anything else need not
 * take the lock.
 */
void kfdsim_state_dir_opened(bool opened);
bool kfdsim_state_has_dirs(void);

/* Create the kfd_process on the first open of /dev/kfd (or after fork). */
void kfdsim_process_ensure(struct kfdsim_state *s);

struct kfdsim_device *kfdsim_device_by_id(struct kfdsim_state *s, uint32_t gpu_id);
int kfdsim_device_index(struct kfdsim_state *s, const struct kfdsim_device *dev);

int kfdsim_file_add(struct kfdsim_state *s, int fd, enum kfdsim_file_kind kind,
                    unsigned int gpu);
struct kfdsim_file *kfdsim_file_lookup(struct kfdsim_state *s, int fd);
struct kfdsim_file *
kfdsim_file_lookup_stat(struct kfdsim_state *s, const struct stat *st);
void kfdsim_file_closed(struct kfdsim_state *s, struct kfdsim_file *file, int fd);

/* ---------------------------------------------------------------------- */
/* Log, trace, failure injection (kfdsim_log.c)                             */

void kfdsim_log_init(struct kfdsim_log *log);
void kfdsim_log_fini(struct kfdsim_log *log);
void kfdsim_log_reset(struct kfdsim_log *log);
/* Returns the errno to inject for this call of nr, or 0. Counts the call. */
int kfdsim_log_count_and_inject(struct kfdsim_log *log, unsigned int nr);
void kfdsim_log_append(struct kfdsim_log *log, const struct kfdsim_log_entry *entry);
/* Record number index, 0 being the oldest kept; NULL past the end. */
const struct kfdsim_log_entry *
kfdsim_log_entry_at(const struct kfdsim_log *log, size_t index);
void kfdsim_trace(struct kfdsim_state *s, const char *fmt, ...)
   __attribute__((format(printf, 2, 3)));
void kfdsim_trace_open(struct kfdsim_log *log);

/* ---------------------------------------------------------------------- */
/* User memory, as the kernel reaches it (kfdsim_usermem.c)                */

int kfdsim_copy_from_user(void *dst, uint64_t src, size_t len);
int kfdsim_copy_to_user(uint64_t dst, const void *src, size_t len);
/* Whether [addr, addr+len) could be pinned with get_user_pages: every page in
 * a readable (and, with write, writable) mapping that is not a device
 * mapping. Returns 0 or -EFAULT.
 */
int kfdsim_user_range_pinnable(struct kfdsim_state *s, uint64_t addr, uint64_t len,
                               bool write);
/* Whether every page of [addr, addr+len) lies in some CPU mapping that is not
 * an I/O (device) mapping, as svm_range_is_valid checks. 0 or -EFAULT.
 */
int kfdsim_user_range_mapped(struct kfdsim_state *s, uint64_t addr, uint64_t len);
/* access_ok(): the range lies in the user half of the address space. */
bool kfdsim_access_ok(uint64_t addr, uint64_t len);

/* ---------------------------------------------------------------------- */
/* ioctl dispatch (kfdsim_ioctl.c) and handlers                             */

/* Handle an ioctl on an emulated /dev/kfd fd; returns 0 or -errno. */
int kfdsim_ioctl_kfd(struct kfdsim_state *s, const struct kfdsim_file *file, int fd,
                     unsigned long request, uint64_t arg);

/* args is the kernel copy of the argument, size bytes long (at least the
 * kernel struct's size, more if user mode passed a larger one).
 */
typedef int (*kfdsim_ioctl_handler)(struct kfdsim_state *s, void *args, uint32_t size);

/* kfdsim_dmabuf.c */
int kfdsim_ioctl_export_dmabuf(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_get_dmabuf_info(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_import_dmabuf(struct kfdsim_state *s, void *args, uint32_t size);
/* The BO whose pages the file with this inode holds, or NULL. */
struct kfdsim_bo *kfdsim_bo_by_memfile(struct kfdsim_state *s, dev_t dev, ino_t ino);

/* kfdsim_ioctl_misc.c */
int kfdsim_ioctl_runtime_enable(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_dbg_trap(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_get_version(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_get_process_apertures(struct kfdsim_state *s, void *args, uint32_t size);
int
kfdsim_ioctl_get_process_apertures_new(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_acquire_vm(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_set_memory_policy(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_get_clock_counters(struct kfdsim_state *s, void *args, uint32_t size);
int
kfdsim_ioctl_set_scratch_backing_va(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_get_tile_config(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_set_trap_handler(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_dbg_deprecated(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_smi_events(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_criu(struct kfdsim_state *s, void *args, uint32_t size);
/* The process-device binding every memory and queue ioctl needs: -ENODEV
 * until ACQUIRE_VM gave the GPU a VM (kfd_bind_process_to_device).
 */
int kfdsim_device_bind(struct kfdsim_device *dev);

/* kfdsim_memory.c */
int kfdsim_ioctl_alloc_memory(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_free_memory(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_map_memory(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_unmap_memory(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_available_memory(struct kfdsim_state *s, void *args, uint32_t size);
struct kfdsim_bo *kfdsim_bo_lookup(struct kfdsim_state *s, uint64_t handle);
/* The lowest free idr of the process on that GPU (idr_alloc). */
uint32_t kfdsim_bo_next_idr(struct kfdsim_state *s, unsigned int gpu);
/* A sparse memfd of size bytes for a VRAM or GTT BO's pages. */
int kfdsim_bo_memfile_create(uint64_t size, int *fd);
/* Frees a BO that is no longer on the process's list, closing its memory file. */
void kfdsim_bo_destroy(struct kfdsim_bo *bo);
struct kfdsim_bo *kfdsim_bo_by_mmap_offset(struct kfdsim_state *s, uint64_t offset);
/* The mapped BO covering gpu_va, or NULL. */
struct kfdsim_bo *
kfdsim_bo_by_gpu_va(struct kfdsim_state *s, uint64_t gpu_va, bool mapped_only);
uint64_t kfdsim_bo_gpu_span(const struct kfdsim_bo *bo);
int kfdsim_gpu_access(struct kfdsim_state *s, uint64_t gpu_va, void *buf, size_t len,
                      bool write);

/* kfdsim_queue.c */
int kfdsim_ioctl_create_queue(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_destroy_queue(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_update_queue(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_set_cu_mask(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_get_queue_wave_state(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_alloc_queue_gws(struct kfdsim_state *s, void *args, uint32_t size);
struct kfdsim_queue *kfdsim_queue_lookup(struct kfdsim_state *s, uint32_t queue_id);

/* kfdsim_event.c */
int kfdsim_ioctl_create_event(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_destroy_event(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_set_event(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_reset_event(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_wait_events(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_event_signal(struct kfdsim_state *s, uint32_t event_id);
/* Make sure the process has a signal page (the kernel allocates one when user
 * mode did not provide it); used by the events mmap.
 */
int kfdsim_event_page_ensure(struct kfdsim_state *s);

/* kfdsim_svm.c */
int kfdsim_ioctl_svm(struct kfdsim_state *s, void *args, uint32_t size);
int kfdsim_ioctl_set_xnack_mode(struct kfdsim_state *s, void *args, uint32_t size);
bool kfdsim_svm_overlaps(struct kfdsim_state *s, uint64_t start, uint64_t size);
void kfdsim_svm_release_all(struct kfdsim_state *s);

/* ---------------------------------------------------------------------- */
/* Render nodes (kfdsim_drm.c)                                              */

/* Handle an ioctl on an emulated render-node fd; returns 0 or -errno. */
int kfdsim_ioctl_render(struct kfdsim_state *s, const struct kfdsim_file *file, int fd,
                        unsigned long request, uint64_t arg);
/* amdgpu's family id (AMDGPU_FAMILY_*) of a gfx_target_version. */
uint32_t kfdsim_amdgpu_family(uint32_t gfx_version);
/* GB_ADDR_CONFIG of the GPU, as GET_TILE_CONFIG and AMDGPU_INFO report it. */
uint32_t kfdsim_gb_addr_config(const struct kfdsim_gpu_props *props);

/* ---------------------------------------------------------------------- */
/* Device mmaps (kfdsim_mmap.c)                                             */

/* mmap() on an emulated fd; returns the mapping or MAP_FAILED with *err. */
void *
kfdsim_mmap_device(struct kfdsim_state *s, const struct kfdsim_file *file, void *addr,
                   size_t len, int prot, int flags, uint64_t off, int *err);

/* ---------------------------------------------------------------------- */
/* Sysfs tree served to open/fopen/opendir (kfdsim_sysfs.c)                */

/* If path names something below the KFD sysfs directory, return the part
 * after it ("" for the directory itself), else NULL. Paths below /sys/dev/char
 * set *drm and name the DRM tree (kfdsim_sysfs_claims() tells whether the
 * emulator answers them).
 */
const char *
kfdsim_sysfs_relative(const char *path, char *buf, size_t buf_size, bool *drm);
bool kfdsim_sysfs_claims(struct kfdsim_state *s, const char *rel, bool drm);
/* open() of a sysfs file: a read-only memfd with its contents, or -errno. */
int kfdsim_sysfs_open(struct kfdsim_state *s, const char *rel, bool drm, int flags);
struct kfdsim_dir *
kfdsim_sysfs_opendir(struct kfdsim_state *s, const char *rel, bool drm, int *err);
/* The /sys/dev/char entries of the emulated render nodes and their cards. */
int kfdsim_sysfs_build_drm(struct kfdsim_state *s);
bool kfdsim_sysfs_owns_dir(struct kfdsim_state *s, const void *dir);
struct dirent64 *kfdsim_sysfs_readdir(struct kfdsim_dir *dir);
void kfdsim_sysfs_closedir(struct kfdsim_state *s, struct kfdsim_dir *dir);

#endif
