/*
 * kfdsim: an emulation of the amdkfd kernel driver for tests.
 *
 * libkfdsim interposes the libc calls that libhsakmt and libdrm make (open,
 * fopen, opendir, ioctl, mmap, close, ...) and answers /dev/kfd, the render
 * nodes of the emulated GPUs and the KFD sysfs topology itself; everything else
 * passes through. The real, unmodified libhsakmt runs on top of it. See
 * docs/kfd-emulator.md for what is emulated and how to load it.
 *
 * This header is the test API: it lets a test look at what the "kernel" saw
 * (an ioctl log with raw argument bytes, counts), at what it holds (buffers,
 * pinned user pages, queues, events), access memory the way the GPU would, and
 * inject events and failures.
 *
 * Conventions: functions returning int return 0 or a negative errno. Every
 * function is thread-safe. When the emulator is not active (a real /dev/kfd
 * exists and KFDSIM_FORCE is not set), counters read 0 and the other functions
 * return -ENODEV.
 */
#ifndef KFDSIM_H
#define KFDSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Pseudo ioctl numbers, beyond the 8-bit ioctl nr space, for the operations
 * that are not ioctls but whose failure product code must handle too. They work
 * with kfdsim_fail_next() and kfdsim_ioctl_count().
 */
#define KFDSIM_NR_MMAP  0x100 /* mmap() of a /dev/kfd or emulated render-node fd */
#define KFDSIM_NR_OPEN  0x101 /* open() of /dev/kfd */
#define KFDSIM_NR_COUNT 0x102

/* Bytes of each ioctl argument kept in a log record (the largest KFD argument
 * struct, GET_PROCESS_APERTURES, is 400 bytes).
 */
#define KFDSIM_RECORD_ARG_MAX 512

/* One ioctl on an emulated fd, as the kernel saw it. */
struct kfdsim_ioctl_record {
   uint64_t seq;          /* order of the calls since the process started */
   int fd;                /* the fd the call was made on */
   unsigned long request; /* the request code as passed, e.g. 0xc0284b16 */
   unsigned int nr;       /* _IOC_NR(request), e.g. 0x16 = ALLOC_MEMORY_OF_GPU */
   uint32_t arg_size;     /* _IOC_SIZE(request) */
   uint32_t arg_copied;   /* bytes kept in in[] and out[]: min(arg_size, max) */
   bool arg_readable;     /* false if the argument pointer could not be read */
   uint8_t in[KFDSIM_RECORD_ARG_MAX];  /* argument bytes before the call */
   uint8_t out[KFDSIM_RECORD_ARG_MAX]; /* argument bytes after the call */
   int ret;                            /* what ioctl() returned: 0 or -1 */
   int err;                            /* errno when ret is -1, else 0 */
   bool injected;                      /* the failure came from kfdsim_fail_next() */
};

/* A buffer object (what ALLOC_MEMORY_OF_GPU created). */
struct kfdsim_bo_info {
   uint64_t handle;      /* the handle KFD returned */
   uint32_t gpu_id;      /* the GPU it was allocated on */
   uint32_t flags;       /* KFD_IOC_ALLOC_MEM_FLAGS_* as passed to ALLOC */
   uint64_t va;          /* GPU virtual address */
   uint64_t size;        /* size in bytes, page aligned */
   uint64_t cpu_addr;    /* USERPTR: the pinned CPU address; else 0 */
   uint64_t mmap_offset; /* render-node mmap offset (VRAM/GTT); else 0 */
   uint32_t mapped_gpus; /* number of GPUs it is mapped to */
};

/* A user-mode queue (what CREATE_QUEUE created). */
struct kfdsim_queue_info {
   uint32_t queue_id;
   uint32_t gpu_id;
   uint32_t queue_type;      /* KFD_IOC_QUEUE_TYPE_* */
   uint32_t doorbell_offset; /* byte offset of its doorbell in the doorbell page */
   uint64_t ring_base;
   uint32_t ring_size;
   uint32_t percentage;
   uint32_t priority;
   uint32_t cu_mask_count; /* bits set through SET_CU_MASK, 0 if never set */
   bool active;            /* ring, size and percentage all non-zero */
   bool has_gws;
};

/* Whether the emulator answers KFD calls in this process. The first call
 * decides (the emulator activates lazily); it stays the same afterwards.
 */
bool kfdsim_active(void);

/* Number of emulated GPUs and the gpu_id of the one at index (0-based, in
 * topology node order).
 */
unsigned int kfdsim_gpu_count(void);
int kfdsim_gpu_id(unsigned int index, uint32_t *gpu_id);

/* --- ioctl log ----------------------------------------------------------- */

/* Number of records in the log: the ioctls on emulated /dev/kfd fds since the
 * last kfdsim_log_clear(), at most the 4096 most recent (older ones make room,
 * so a long-running process stays at a constant size; every call is still
 * counted by kfdsim_ioctl_count()).
 */
size_t kfdsim_log_count(void);

/* Copy record number index (0 = oldest) into *rec. -ERANGE if out of range. */
int kfdsim_log_get(size_t index, struct kfdsim_ioctl_record *rec);

/* Copy the most recent record with this ioctl nr. -ENOENT if none. */
int kfdsim_log_find_last(unsigned int nr, struct kfdsim_ioctl_record *rec);

/* Empty the log and reset the per-nr counts. */
void kfdsim_log_clear(void);

/* Calls of ioctl nr (or KFDSIM_NR_*) since the last kfdsim_log_clear(),
 * failed ones included.
 */
uint64_t kfdsim_ioctl_count(unsigned int nr);

/* DRM ioctls of number nr (_IOC_NR, e.g. 0x45 = AMDGPU_INFO) made on the
 * emulated render nodes since the last kfdsim_log_clear(), failed ones
 * included. They are counted, not logged.
 */
uint64_t kfdsim_drm_ioctl_count(unsigned int nr);

/* --- what the "kernel" holds ------------------------------------------- */

/* Live buffer objects of every kind (VRAM, GTT, USERPTR, DOORBELL, MMIO_REMAP)
 * and their total size. Note libhsakmt 5.2.3 never frees the events-page BO it
 * allocates on the first hsaKmtCreateEvent, and keeps the MMIO-remap BO while
 * KFD is open.
 */
unsigned int kfdsim_live_bos(void);
uint64_t kfdsim_live_bytes(void);

/* VRAM in use by live VRAM BOs, over all GPUs. */
uint64_t kfdsim_vram_used(void);

/* Live USERPTR BOs (pinned user memory) and their total size. */
unsigned int kfdsim_userptr_count(void);
uint64_t kfdsim_userptr_bytes(void);

unsigned int kfdsim_live_queues(void);
unsigned int kfdsim_live_events(void);

/* /dev/kfd fds currently open (closed through close(); libhsakmt keeps one
 * while KFD is open; render-node fds are never closed by libhsakmt).
 */
unsigned int kfdsim_kfd_fds_open(void);

/* Describe the BO that contains GPU virtual address gpu_va, whether or not it
 * is mapped. -ENOENT if none.
 */
int kfdsim_bo_find(uint64_t gpu_va, struct kfdsim_bo_info *info);

int kfdsim_queue_info(uint32_t queue_id, struct kfdsim_queue_info *info);

/* --- the GPU's view ------------------------------------------------------ */

/* Read or write len bytes at GPU virtual address gpu_va as the GPU would:
 * through the BOs mapped to at least one GPU. VRAM and GTT are read from the
 * buffer's backing store (independent of any CPU mapping); USERPTR goes to the
 * user pages behind the registered CPU range through the kernel's
 * user-memory path (process_vm_readv/writev), so the CPU and the GPU provably
 * see the same memory. The range may span adjacent mapped BOs.
 * -EFAULT if any byte is not mapped to a GPU, or if the user pages behind a
 * USERPTR are gone (unmapped) or, for writes, not writable.
 */
int kfdsim_gpu_read(uint64_t gpu_va, void *buf, size_t len);
int kfdsim_gpu_write(uint64_t gpu_va, const void *buf, size_t len);

/* Read the 64-bit doorbell at byte offset (8-byte aligned) in the process
 * doorbell page of gpu_id: the last value user mode wrote to it.
 */
int kfdsim_doorbell_read(uint32_t gpu_id, uint32_t offset, uint64_t *value);

/* What the command processor did in one kfdsim_queue_run(). */
struct kfdsim_cp_report {
   uint64_t doorbell;   /* the doorbell's value: the last packet index published */
   uint64_t read_index; /* the read dispatch id after the run */
   uint32_t packets;    /* packets taken */
   uint32_t signals_completed;
   uint32_t events_raised;  /* completion signals with an event mailbox */
   uint8_t last_packet[64]; /* the last packet taken, as the GPU fetched it */
};

/* Run the command processor of AQL queue queue_id once, as after a doorbell
 * write: take the packets from the read dispatch id up to the doorbell's index
 * through the GPU's view of the ring (see kfdsim_cp.c). No shader runs; each
 * packet's completion signal is decremented and its event raised. -EINVAL for
 * an unknown or non-AQL queue, -EFAULT when memory is not mapped to the GPU.
 */
int kfdsim_queue_run(uint32_t queue_id, struct kfdsim_cp_report *report);

/* The queue whose ring starts at ring_base (a GPU VA). -ENOENT if none. */
int kfdsim_queue_find(uint64_t ring_base, uint32_t *queue_id);

/* The file and offset behind `len` bytes of a CPU mapping of emulated device
 * memory at `addr` (a BO, a doorbell or MMIO page): *fd is a new fd (O_CLOEXEC)
 * of the emulator's device-memory memfd, which the caller closes. Lets a test
 * server give another process the memory a VMM would map (kfdsim_share.c).
 * -ENOENT when the range is not one mapping of device memory.
 */
int kfdsim_share_range(const void *addr, size_t len, int *fd, uint64_t *offset);

/* --- injection ----------------------------------------------------------- */

/* Signal event_id as the GPU would (end-of-pipe interrupt): waiters wake up.
 * -EINVAL if there is no such event.
 */
int kfdsim_signal_event(uint32_t event_id);

/* Make the next count calls of ioctl nr (or KFDSIM_NR_*) fail with errno err,
 * before the "kernel" looks at them (so no state changes). count 0 cancels.
 * -EINVAL if nr is out of range or err is not positive.
 */
int kfdsim_fail_next(unsigned int nr, unsigned int count, int err);

/* Cancel every pending injected failure. */
void kfdsim_fail_clear(void);

#ifdef __cplusplus
}
#endif

#endif
