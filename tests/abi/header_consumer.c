/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Compiled with -Wall -Wextra -Werror -pedantic, once with and once without
 * VIRGL_RENDERER_UNSTABLE_APIS, as a VMM includes the header. Linking it against the
 * shared library proves every declared entry point is exported.
 */
#include <virglrenderer.h>

#include <stdio.h>

int
main(void)
{
   uint32_t max_ver = 1, max_size = 1;
   virgl_renderer_get_cap_set(0, &max_ver, &max_size);
   /* taking the addresses forces the linker to resolve them in the library */
   int (*volatile init)(void *, int, struct virgl_renderer_callbacks *) =
      virgl_renderer_init;
   int (*volatile map_fixed)(uint32_t, void *) = virgl_renderer_resource_map_fixed;
   (void)init;
   (void)map_fixed;
#ifdef VIRGL_RENDERER_UNSTABLE_APIS
   int (*volatile submit2)(void *, int, int, uint64_t *, uint32_t) =
      virgl_renderer_submit_cmd2;
   int (*volatile dev_fd)(int) = virgl_renderer_get_dev_fd;
   (void)submit2;
   (void)dev_fd;
#endif
   printf("capset 0: version %u size %u\n", max_ver, max_size);
   return max_ver == 0 && max_size == 0 ? 0 : 1;
}
