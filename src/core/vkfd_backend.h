/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The capset registry. Each context type (capset) is provided by a backend that the
 * core knows only through this table. Backends register before virgl_renderer_init;
 * the hsakmt (ROCm, capset 8) backend registers itself, tests may add their own.
 */
#ifndef VKFD_BACKEND_H
#define VKFD_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

struct vkfd_context;

struct vkfd_backend_init_args {
   int renderer_flags;              /* virgl_renderer_init() flags */
   bool rocm_requested;             /* init flag bit 14 (USE_ROCM / USE_GUEST_VRAM) */
   int (*get_drm_fd)(void *cookie); /* NULL unless the VMM provides it */
   void *cookie;
};

struct vkfd_backend {
   uint32_t capset_id;
   const char *name;

   /*
    * Capset version and size; may run before init (QEMU asks at device realize).
    * Reports 0/0 when the backend cannot work on this host. Must be cheap.
    */
   void (*get_capset_info)(uint32_t *max_version, uint32_t *max_size);
   /* Writes exactly max_size bytes; called only after a successful init. */
   void (*fill_capset)(uint32_t version, void *caps);

   /* Renderer init/cleanup. init returns 0 or a negative errno (capset then absent). */
   int (*init)(const struct vkfd_backend_init_args *args);
   void (*fini)(void);

   /* Creates a context; 0 or a negative errno. `name` is NUL-terminated. */
   int (*context_create)(uint32_t ctx_id, const char *name, struct vkfd_context **out);
};

/* Registers a backend; -EEXIST for a capset that already has one, -ENOSPC when full. */
int vkfd_backend_register(const struct vkfd_backend *backend);

/* Removes a registered backend (tests); it must not be initialised. */
void vkfd_backend_unregister(const struct vkfd_backend *backend);

const struct vkfd_backend *vkfd_backend_find(uint32_t capset_id);

/* True when the backend for capset_id was initialised by vkfd_backends_init(). */
bool vkfd_backend_is_ready(uint32_t capset_id);

/* Initialises every registered backend; a failing backend only loses its capset. */
void vkfd_backends_init(const struct vkfd_backend_init_args *args);

void vkfd_backends_fini(void);

#endif /* VKFD_BACKEND_H */
