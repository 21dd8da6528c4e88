/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "vkfd_kfd_loader.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>

#include "util/vkfd_log.h"

#define VKFD_HSAKMT_DEFAULT_LIBRARY "libhsakmt.so.1"

/* Process-wide: the library stays loaded until exit (libhsakmt keeps global state). */
static struct {
   pthread_once_t once;
   bool loaded;
   void *handle;
   struct vkfd_hsakmt_api api;
} loader = { .once = PTHREAD_ONCE_INIT };

static void
loader_load_once(void)
{
   const char *name = getenv("VIRTKFD_HSAKMT_LIBRARY");
   if (!name || !*name)
      name = VKFD_HSAKMT_DEFAULT_LIBRARY;

   void *handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
   if (!handle) {
      vkfd_warn("KFD: cannot load %s: %s; the ROCm capset (8) is not offered", name,
                dlerror());
      return;
   }

#define VKFD_RESOLVE_REQUIRED(fn)                                                   \
   loader.api.fn = (__typeof__(loader.api.fn))dlsym(handle, #fn);                   \
   if (!loader.api.fn) {                                                            \
      vkfd_warn("KFD: %s lacks %s; the ROCm capset (8) is not offered", name, #fn); \
      dlclose(handle);                                                              \
      return;                                                                       \
   }
   VKFD_HSAKMT_REQUIRED(VKFD_RESOLVE_REQUIRED)
#undef VKFD_RESOLVE_REQUIRED

#define VKFD_RESOLVE_OPTIONAL(fn, type)      \
   loader.api.fn = (type)dlsym(handle, #fn); \
   vkfd_debug("KFD: optional %s %s", #fn, loader.api.fn ? "present" : "absent");
   VKFD_HSAKMT_OPTIONAL(VKFD_RESOLVE_OPTIONAL)
#undef VKFD_RESOLVE_OPTIONAL

   loader.handle = handle;
   loader.loaded = true;
   vkfd_info("KFD: loaded %s", name);
}

const struct vkfd_hsakmt_api *
vkfd_hsakmt_load(void)
{
   pthread_once(&loader.once, loader_load_once);
   return loader.loaded ? &loader.api : NULL;
}
