/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "forward_library.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "forward.h"
#include "forward/forward_private.h"
#include "util/vkfd_log.h"

#ifndef VKFD_FORWARD_LIBRARY_DEFAULT
#define VKFD_FORWARD_LIBRARY_DEFAULT "none"
#endif

_Thread_local unsigned forward_call_depth;

/* Loaded once per process; `lock` also makes get_cap_set before init safe. */
static struct {
   pthread_mutex_t lock;
   bool decided;
   struct forward_library *library;
   /* set before the first call into it: re-entry finds it without the lock */
   _Atomic(struct forward_library *) entered;
} loader = {
   .lock = PTHREAD_MUTEX_INITIALIZER,
};

const struct forward_entry_points *
forward_reentry(void)
{
   return &atomic_load_explicit(&loader.entered, memory_order_acquire)->fn;
}

/* The file this code was loaded from: virtkfd's library, or a program linking it. */
static bool
own_file_stat(struct stat *st)
{
   Dl_info info;
   if (dladdr((void *)forward_library_get, &info) && info.dli_fname &&
       info.dli_fname[0] == '/' && stat(info.dli_fname, st) == 0)
      return true;
   /* the main program's entry has no usable name */
   return stat("/proc/self/exe", st) == 0;
}

static bool
library_is_virtkfd(const char *path, const struct stat *target)
{
   struct stat own;
   if (!own_file_stat(&own)) {
      vkfd_warn("forwarding off: cannot tell whether %s is virtkfd itself", path);
      return true;
   }
   return own.st_dev == target->st_dev && own.st_ino == target->st_ino;
}

static bool
library_resolve(struct forward_library *lib)
{
   bool api_v1 = dlsym(lib->handle, "virgl_set_log_callback") != NULL;
#define FORWARD_RESOLVE(member, symbol, required)                                        \
   do {                                                                                  \
      void *address = dlsym(lib->handle, #symbol);                                       \
      if (!address && (required)) {                                                      \
         vkfd_warn("forwarding off: %s has no %s; it is not a virglrenderer", lib->path, \
                   #symbol);                                                             \
         return false;                                                                   \
      }                                                                                  \
      if (address == (void *)symbol) {                                                   \
         vkfd_warn("forwarding off: %s resolves to virtkfd itself", lib->path);          \
         return false;                                                                   \
      }                                                                                  \
      lib->fn.member = (__typeof__(lib->fn.member))address;                              \
   } while (0);
   FORWARD_ENTRY_POINTS(FORWARD_RESOLVE)
#undef FORWARD_RESOLVE
   lib->api_v1 = api_v1;
   if (!api_v1) {
      /* 0.x declares it with a 32-bit id */
      lib->export_fence_v0 = (int (*)(uint32_t, int *))(void *)lib->fn.export_fence;
      lib->fn.export_fence = NULL;
   }
   return true;
}

static struct forward_library *
library_load(void)
{
   const char *path = getenv("VIRTKFD_FORWARD_LIBRARY");
   bool from_env = path && *path;
   if (!from_env)
      path = VKFD_FORWARD_LIBRARY_DEFAULT;
   if (!strcmp(path, "none")) {
      vkfd_info("forwarding off (%s): only capset 8 is served",
                from_env ? "VIRTKFD_FORWARD_LIBRARY=none" : "built without a library");
      return NULL;
   }
   if (path[0] != '/') {
      vkfd_warn("forwarding off: VIRTKFD_FORWARD_LIBRARY=%s is not an absolute path",
                path);
      return NULL;
   }
   struct stat st;
   if (stat(path, &st) != 0) {
      vkfd_warn(
         "forwarding off: no system virglrenderer at %s%s", path,
         from_env ? "" : " (install libvirglrenderer1, or set VIRTKFD_FORWARD_LIBRARY)");
      return NULL;
   }
   if (library_is_virtkfd(path, &st)) {
      vkfd_warn("forwarding off: %s is virtkfd itself", path);
      return NULL;
   }

   struct forward_library *lib = calloc(1, sizeof(*lib));
   if (!lib) {
      vkfd_warn("forwarding off: out of memory");
      return NULL;
   }
   snprintf(lib->path, sizeof(lib->path), "%s", path);
   lib->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
   if (!lib->handle) {
      vkfd_warn("forwarding off: cannot load %s: %s", path, dlerror());
      free(lib);
      return NULL;
   }
   if (!library_resolve(lib)) {
      dlclose(lib->handle);
      free(lib);
      return NULL;
   }
   atomic_store_explicit(&loader.entered, lib, memory_order_release);
   forward_log_attach(lib);
   vkfd_info("forwarding every capset but virtkfd's to %s (%s API)", path,
             lib->api_v1 ? "1.x" : "0.x");
   return lib;
}

const struct forward_library *
forward_library_get(void)
{
   pthread_mutex_lock(&loader.lock);
   if (!loader.decided) {
      loader.library = library_load();
      loader.decided = true;
   }
   struct forward_library *lib = loader.library;
   pthread_mutex_unlock(&loader.lock);
   return lib;
}
