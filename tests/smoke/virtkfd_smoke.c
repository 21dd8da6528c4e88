/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * A VMM in miniature: loads libvirglrenderer.so.1 like QEMU does, using only the
 * public API, and prints each step. It checks what any build must do (capset query
 * before init, init, context-0 fences, guest blobs from memfd RAM, cleanup) and
 * reports which native-context capsets this host offers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <virglrenderer.h>

static int failures;
static unsigned fences_seen;

#define STEP(cond, ...)                         \
   do {                                         \
      bool ok_ = (cond);                        \
      printf("  [%s] ", ok_ ? " ok " : "FAIL"); \
      printf(__VA_ARGS__);                      \
      printf("\n");                             \
      failures += !ok_;                         \
   } while (0)

static void
write_fence(void *cookie, uint32_t fence)
{
   fences_seen = fence;
}

static struct virgl_renderer_callbacks callbacks = {
   .version = 3,
   .write_fence = write_fence,
};

int
main(void)
{
   printf("virtkfd API smoke test (libvirglrenderer %d.%d.%d API)\n", VIRGL_MAJOR_VERSION,
          VIRGL_MINOR_VERSION, VIRGL_MICRO_VERSION);

   uint32_t max_ver, max_size;
   virgl_renderer_get_cap_set(8, &max_ver, &max_size);
   printf("  capset 8 (ROCm/KFD) before init: version %u, %u bytes%s\n", max_ver,
          max_size, max_size ? "" : " (not offered on this host/build)");
   virgl_renderer_get_cap_set(1, &max_ver, &max_size);
   STEP(max_size == 0, "capset 1 (virgl GL) is not offered: there is no GL renderer");

   STEP(virgl_renderer_init(NULL, VIRGL_RENDERER_NO_VIRGL, &callbacks) == 0, "init");
   int poll_fd = virgl_renderer_get_poll_fd();
   STEP(poll_fd >= 0, "poll fd %d for polled fence delivery", poll_fd);

   int ret = virgl_renderer_context_create_with_flags(1, 2, 4, "virgl");
   STEP(ret == EINVAL, "a GL (capset 2) context is refused with EINVAL (%d)", ret);

   size_t ram_size = 1 << 20;
   int ram_fd = memfd_create("smoke-guest-ram", MFD_CLOEXEC);
   if (ram_fd < 0 || ftruncate(ram_fd, (off_t)ram_size)) {
      perror("memfd");
      return 1;
   }
   char *ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd, 0);
   if (ram == MAP_FAILED) {
      perror("mmap");
      return 1;
   }
   struct iovec iov[2] = { { ram + 8192, 4096 }, { ram, 4096 } };
   struct virgl_renderer_resource_create_blob_args blob = {
      .res_handle = 1,
      .blob_mem = VIRGL_RENDERER_BLOB_MEM_GUEST,
      .size = 8192,
      .iovecs = iov,
      .num_iovs = 2,
   };
   STEP(virgl_renderer_resource_create_blob(&blob) == 0,
        "GUEST blob from 2 iovecs of memfd guest RAM");
   struct virgl_renderer_resource_info info;
   STEP(virgl_renderer_resource_get_info(1, &info) == 0 && info.fd == -1,
        "get_info returns 0 for the blob (QEMU requires it)");
   STEP(virgl_renderer_resource_map_fixed(1, ram) == -EOPNOTSUPP,
        "map_fixed of an iov-only blob is -EOPNOTSUPP");
   struct iovec *back = NULL;
   int count = 0;
   virgl_renderer_resource_detach_iov(1, &back, &count);
   STEP(back == iov && count == 2, "detach_iov hands the iovecs back");
   virgl_renderer_resource_unref(1);

   STEP(virgl_renderer_create_fence(41, 0) == 0 &&
           virgl_renderer_create_fence(42, 0) == 0,
        "two context-0 fences");
   STEP(fences_seen == 0, "no callback from inside create_fence");
   virgl_renderer_poll();
   STEP(fences_seen == 42, "virgl_renderer_poll retired them (last %u)", fences_seen);

   virgl_renderer_cleanup(NULL);
   munmap(ram, ram_size);
   close(ram_fd);
   printf("%s: %d failure(s)\n", failures ? "FAILED" : "PASSED", failures);
   return failures ? 1 : 0;
}
