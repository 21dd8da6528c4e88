/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "test_common.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int
test_count_fds(void)
{
   DIR *dir = opendir("/proc/self/fd");
   if (!dir)
      abort();
   int count = 0;
   struct dirent *entry;
   while ((entry = readdir(dir)))
      count += entry->d_name[0] != '.';
   closedir(dir);
   return count - 1; /* the directory's own fd */
}

bool
test_range_mapped(uintptr_t start, size_t size)
{
   FILE *maps = fopen("/proc/self/maps", "re");
   if (!maps)
      abort();
   char line[512];
   bool found = false;
   while (!found && fgets(line, sizeof(line), maps)) {
      unsigned long lo, hi;
      if (sscanf(line, "%lx-%lx", &lo, &hi) == 2)
         found = lo < start + size && start < hi;
   }
   fclose(maps);
   return found;
}

static void
record(struct test_vmm *vmm, uint32_t ctx_id, uint32_t ring_idx, uint64_t id)
{
   pthread_mutex_lock(&vmm->lock);
   /* a worker may call back while the VMM thread is in a call; only re-entry counts */
   if (vmm->inside_create && pthread_equal(pthread_self(), vmm->main_thread))
      vmm->callback_inside_create = true;
   if (vmm->count < TEST_MAX_FENCES) {
      struct test_fence_record *rec = &vmm->records[vmm->count];
      rec->ctx_id = ctx_id;
      rec->ring_idx = ring_idx;
      rec->id = id;
      rec->other_thread = !pthread_equal(pthread_self(), vmm->main_thread);
   }
   vmm->count++;
   pthread_cond_broadcast(&vmm->cond);
   pthread_mutex_unlock(&vmm->lock);
}

static void
vmm_write_fence(void *cookie, uint32_t fence)
{
   record(cookie, 0, 0, fence);
}

static void
vmm_write_context_fence(void *cookie, uint32_t ctx_id, uint32_t ring_idx,
                        uint64_t fence_id)
{
   record(cookie, ctx_id, ring_idx, fence_id);
}

static int
vmm_get_drm_fd(void *cookie)
{
   return -1;
}

void
test_vmm_init(struct test_vmm *vmm, int version)
{
   memset(vmm, 0, sizeof(*vmm));
   vmm->cbs.version = version;
   vmm->cbs.write_fence = vmm_write_fence;
   vmm->cbs.get_drm_fd = vmm_get_drm_fd;
   vmm->cbs.write_context_fence = vmm_write_context_fence;
   vmm->main_thread = pthread_self();
   pthread_mutex_init(&vmm->lock, NULL);
   pthread_condattr_t attr;
   pthread_condattr_init(&attr);
   pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
   pthread_cond_init(&vmm->cond, &attr);
   pthread_condattr_destroy(&attr);
}

void
test_vmm_fini(struct test_vmm *vmm)
{
   pthread_cond_destroy(&vmm->cond);
   pthread_mutex_destroy(&vmm->lock);
}

int
test_vmm_wait(struct test_vmm *vmm, int count, int timeout_ms)
{
   struct timespec deadline;
   clock_gettime(CLOCK_MONOTONIC, &deadline);
   deadline.tv_sec += timeout_ms / 1000;
   deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
   if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec++;
      deadline.tv_nsec -= 1000000000L;
   }
   pthread_mutex_lock(&vmm->lock);
   while (vmm->count < count) {
      if (pthread_cond_timedwait(&vmm->cond, &vmm->lock, &deadline) == ETIMEDOUT)
         break;
   }
   int n = vmm->count;
   pthread_mutex_unlock(&vmm->lock);
   return n;
}

int
test_vmm_count(struct test_vmm *vmm)
{
   pthread_mutex_lock(&vmm->lock);
   int n = vmm->count;
   pthread_mutex_unlock(&vmm->lock);
   return n;
}

void
test_guest_ram_create(struct test_guest_ram *ram, size_t size)
{
   ram->fd = memfd_create("test-guest-ram", MFD_CLOEXEC);
   if (ram->fd < 0 || ftruncate(ram->fd, (off_t)size))
      abort();
   ram->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, ram->fd, 0);
   if (ram->base == MAP_FAILED)
      abort();
   ram->size = size;
}

void
test_guest_ram_destroy(struct test_guest_ram *ram)
{
   munmap(ram->base, ram->size);
   close(ram->fd);
   ram->fd = -1;
}

struct iovec *
test_guest_ram_iovecs(const struct test_guest_ram *ram, size_t offset, size_t chunk,
                      unsigned count)
{
   struct iovec *iov = calloc(count, sizeof(*iov));
   if (!iov)
      abort();
   for (unsigned i = 0; i < count; i++) {
      iov[i].iov_base = ram->base + offset + (size_t)(count - 1 - i) * chunk;
      iov[i].iov_len = chunk;
   }
   return iov;
}
