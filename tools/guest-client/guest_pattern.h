/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The byte pattern the guest client and the end-to-end test's host probe agree on:
 * word i of a buffer filled with `seed` is pattern_word(seed, i), so either side can
 * check the other's writes without sending the bytes.
 */
#ifndef GUEST_PATTERN_H
#define GUEST_PATTERN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t
pattern_word(uint32_t seed, uint64_t index)
{
   /* a mix of both, so that neighbouring words, pages and seeds all differ */
   uint64_t x = (index + 1) * 0x9e3779b97f4a7c15ull ^ ((uint64_t)seed << 32 | seed);
   x ^= x >> 29;
   x *= 0xbf58476d1ce4e5b9ull;
   x ^= x >> 32;
   return (uint32_t)x;
}

/* Fills `size` bytes (a multiple of 4) with words first_word, first_word + 1, ... */
static inline void
pattern_fill(void *buffer, size_t size, uint32_t seed, uint64_t first_word)
{
   uint8_t *bytes = buffer;
   for (size_t i = 0; i < size / 4; i++) {
      uint32_t word = pattern_word(seed, first_word + i);
      memcpy(bytes + 4 * i, &word, 4);
   }
}

/* The number of words that differ; the first one's index in *first_bad. */
static inline size_t
pattern_check(const void *buffer, size_t size, uint32_t seed, uint64_t first_word,
              size_t *first_bad)
{
   const uint8_t *bytes = buffer;
   size_t bad = 0;
   for (size_t i = 0; i < size / 4; i++) {
      uint32_t word;
      memcpy(&word, bytes + 4 * i, 4);
      if (word != pattern_word(seed, first_word + i) && !bad++ && first_bad)
         *first_bad = i;
   }
   return bad;
}

#endif /* GUEST_PATTERN_H */
