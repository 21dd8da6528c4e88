/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "vkfd_hash.h"

#include <errno.h>
#include <stdlib.h>

#define VKFD_HASH_MIN_CAPACITY 16

static inline size_t
hash_key(uint64_t key)
{
   /* splitmix64 finaliser: sequential ids spread over the table */
   key ^= key >> 30;
   key *= 0xbf58476d1ce4e5b9ull;
   key ^= key >> 27;
   key *= 0x94d049bb133111ebull;
   key ^= key >> 31;
   return (size_t)key;
}

void
vkfd_hash_init(struct vkfd_hash *hash)
{
   hash->slots = NULL;
   hash->capacity = 0;
   hash->count = 0;
}

void
vkfd_hash_fini(struct vkfd_hash *hash)
{
   free(hash->slots);
   vkfd_hash_init(hash);
}

static struct vkfd_hash_slot *
hash_find_slot(const struct vkfd_hash *hash, uint64_t key)
{
   if (!hash->capacity)
      return NULL;
   size_t mask = hash->capacity - 1;
   for (size_t i = hash_key(key) & mask;; i = (i + 1) & mask) {
      struct vkfd_hash_slot *slot = &hash->slots[i];
      if (!slot->value)
         return NULL;
      if (slot->key == key)
         return slot;
   }
}

void *
vkfd_hash_lookup(const struct vkfd_hash *hash, uint64_t key)
{
   struct vkfd_hash_slot *slot = hash_find_slot(hash, key);
   return slot ? slot->value : NULL;
}

static void
hash_place(struct vkfd_hash_slot *slots, size_t capacity, uint64_t key, void *value)
{
   size_t mask = capacity - 1;
   size_t i = hash_key(key) & mask;
   while (slots[i].value)
      i = (i + 1) & mask;
   slots[i].key = key;
   slots[i].value = value;
}

static int
hash_grow(struct vkfd_hash *hash)
{
   size_t capacity = hash->capacity ? hash->capacity * 2 : VKFD_HASH_MIN_CAPACITY;
   if (capacity < hash->capacity)
      return -ENOMEM;
   struct vkfd_hash_slot *slots = calloc(capacity, sizeof(*slots));
   if (!slots)
      return -ENOMEM;
   for (size_t i = 0; i < hash->capacity; i++) {
      if (hash->slots[i].value)
         hash_place(slots, capacity, hash->slots[i].key, hash->slots[i].value);
   }
   free(hash->slots);
   hash->slots = slots;
   hash->capacity = capacity;
   return 0;
}

int
vkfd_hash_insert(struct vkfd_hash *hash, uint64_t key, void *value)
{
   if (!value)
      return -EINVAL;
   if (hash_find_slot(hash, key))
      return -EEXIST;
   /* keep the load factor at or below 1/2 so that probe chains stay short */
   if ((hash->count + 1) * 2 > hash->capacity) {
      int ret = hash_grow(hash);
      if (ret)
         return ret;
   }
   hash_place(hash->slots, hash->capacity, key, value);
   hash->count++;
   return 0;
}

void *
vkfd_hash_remove(struct vkfd_hash *hash, uint64_t key)
{
   struct vkfd_hash_slot *slot = hash_find_slot(hash, key);
   if (!slot)
      return NULL;
   void *value = slot->value;
   size_t mask = hash->capacity - 1;
   size_t hole = (size_t)(slot - hash->slots);

   /* backward-shift deletion: no tombstones, probe chains stay intact */
   for (size_t i = (hole + 1) & mask; hash->slots[i].value; i = (i + 1) & mask) {
      size_t home = hash_key(hash->slots[i].key) & mask;
      bool movable = hole <= i ? (home <= hole || home > i) : (home <= hole && home > i);
      if (movable) {
         hash->slots[hole] = hash->slots[i];
         hole = i;
      }
   }
   hash->slots[hole].value = NULL;
   hash->slots[hole].key = 0;
   hash->count--;
   return value;
}

bool
vkfd_hash_next(const struct vkfd_hash *hash, size_t *cursor, uint64_t *key, void **value)
{
   for (size_t i = *cursor; i < hash->capacity; i++) {
      if (hash->slots[i].value) {
         if (key)
            *key = hash->slots[i].key;
         if (value)
            *value = hash->slots[i].value;
         *cursor = i + 1;
         return true;
      }
   }
   *cursor = hash->capacity;
   return false;
}
