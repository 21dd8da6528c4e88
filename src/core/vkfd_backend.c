/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "vkfd_backend.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>

#include "hsakmt/hsakmt_backend.h"
#include "util/vkfd_log.h"

#define VKFD_MAX_BACKENDS 8

/* Backends built into the library; each offers its capset only where it can work. */
static const struct vkfd_backend *const builtin_backends[] = {
   &hsakmt_backend,
};

/* Process-wide registry; its own lock because get_cap_set runs before init. */
static struct {
   pthread_mutex_t lock;
   bool builtins_added;
   const struct vkfd_backend *backends[VKFD_MAX_BACKENDS];
   bool ready[VKFD_MAX_BACKENDS];
} registry = {
   .lock = PTHREAD_MUTEX_INITIALIZER,
};

static int
registry_add_locked(const struct vkfd_backend *backend)
{
   int free_slot = -1;
   for (int i = 0; i < VKFD_MAX_BACKENDS; i++) {
      if (registry.backends[i] && registry.backends[i]->capset_id == backend->capset_id)
         return -EEXIST;
      if (!registry.backends[i] && free_slot < 0)
         free_slot = i;
   }
   if (free_slot < 0)
      return -ENOSPC;
   registry.backends[free_slot] = backend;
   registry.ready[free_slot] = false;
   return 0;
}

static void
registry_add_builtins_locked(void)
{
   if (registry.builtins_added)
      return;
   registry.builtins_added = true;
   for (size_t i = 0; i < sizeof(builtin_backends) / sizeof(builtin_backends[0]); i++) {
      if (builtin_backends[i])
         registry_add_locked(builtin_backends[i]);
   }
}

int
vkfd_backend_register(const struct vkfd_backend *backend)
{
   pthread_mutex_lock(&registry.lock);
   registry_add_builtins_locked();
   int ret = registry_add_locked(backend);
   pthread_mutex_unlock(&registry.lock);
   return ret;
}

void
vkfd_backend_unregister(const struct vkfd_backend *backend)
{
   pthread_mutex_lock(&registry.lock);
   for (int i = 0; i < VKFD_MAX_BACKENDS; i++) {
      if (registry.backends[i] == backend) {
         registry.backends[i] = NULL;
         registry.ready[i] = false;
      }
   }
   pthread_mutex_unlock(&registry.lock);
}

static int
registry_index_locked(uint32_t capset_id)
{
   registry_add_builtins_locked();
   for (int i = 0; i < VKFD_MAX_BACKENDS; i++) {
      if (registry.backends[i] && registry.backends[i]->capset_id == capset_id)
         return i;
   }
   return -1;
}

const struct vkfd_backend *
vkfd_backend_find(uint32_t capset_id)
{
   pthread_mutex_lock(&registry.lock);
   int i = registry_index_locked(capset_id);
   const struct vkfd_backend *backend = i >= 0 ? registry.backends[i] : NULL;
   pthread_mutex_unlock(&registry.lock);
   return backend;
}

bool
vkfd_backend_is_ready(uint32_t capset_id)
{
   pthread_mutex_lock(&registry.lock);
   int i = registry_index_locked(capset_id);
   bool ready = i >= 0 && registry.ready[i];
   pthread_mutex_unlock(&registry.lock);
   return ready;
}

void
vkfd_backends_init(const struct vkfd_backend_init_args *args)
{
   pthread_mutex_lock(&registry.lock);
   registry_add_builtins_locked();
   for (int i = 0; i < VKFD_MAX_BACKENDS; i++) {
      const struct vkfd_backend *backend = registry.backends[i];
      if (!backend || registry.ready[i])
         continue;
      int ret = backend->init ? backend->init(args) : 0;
      if (ret) {
         vkfd_warn("capset %u (%s) unavailable: backend init failed (%d)",
                   backend->capset_id, backend->name, ret);
         continue;
      }
      registry.ready[i] = true;
      vkfd_info("capset %u (%s) ready", backend->capset_id, backend->name);
   }
   pthread_mutex_unlock(&registry.lock);
}

void
vkfd_backends_fini(void)
{
   pthread_mutex_lock(&registry.lock);
   for (int i = 0; i < VKFD_MAX_BACKENDS; i++) {
      if (registry.backends[i] && registry.ready[i]) {
         if (registry.backends[i]->fini)
            registry.backends[i]->fini();
         registry.ready[i] = false;
      }
   }
   pthread_mutex_unlock(&registry.lock);
}
