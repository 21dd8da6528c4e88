/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * An open-addressing hash map from 64-bit keys to non-NULL pointers. Used for the
 * context table (ctx_id), the resource table (res_id) and per-context object tables.
 * Not thread-safe: the owner of the map holds the lock.
 */
#ifndef VKFD_HASH_H
#define VKFD_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vkfd_hash_slot {
   uint64_t key;
   void *value; /* NULL marks an empty slot */
};

struct vkfd_hash {
   struct vkfd_hash_slot *slots;
   size_t capacity; /* a power of two, or 0 before the first insert */
   size_t count;
};

void vkfd_hash_init(struct vkfd_hash *hash);

/* Frees the table; the values are not touched. */
void vkfd_hash_fini(struct vkfd_hash *hash);

void *vkfd_hash_lookup(const struct vkfd_hash *hash, uint64_t key);

/* Returns 0, -EEXIST when the key is present, or -ENOMEM. `value` must be non-NULL. */
int vkfd_hash_insert(struct vkfd_hash *hash, uint64_t key, void *value);

/* Returns the removed value, or NULL when the key was absent. */
void *vkfd_hash_remove(struct vkfd_hash *hash, uint64_t key);

static inline size_t
vkfd_hash_count(const struct vkfd_hash *hash)
{
   return hash->count;
}

/*
 * Iteration: `*cursor` starts at 0. Returns false at the end. The map must not be
 * modified during an iteration; collect keys first when entries are to be removed.
 */
bool
vkfd_hash_next(const struct vkfd_hash *hash, size_t *cursor, uint64_t *key, void **value);

#endif /* VKFD_HASH_H */
