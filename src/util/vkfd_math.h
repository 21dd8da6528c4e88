/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Overflow-checked arithmetic for every guest- or client-derived size. Each helper
 * returns true when the result wrapped, like the C23 ckd_* macros.
 */
#ifndef VKFD_MATH_H
#define VKFD_MATH_H

#include <stdbool.h>
#include <stdint.h>

#define vkfd_ckd_add(result, a, b) __builtin_add_overflow((a), (b), (result))
#define vkfd_ckd_sub(result, a, b) __builtin_sub_overflow((a), (b), (result))
#define vkfd_ckd_mul(result, a, b) __builtin_mul_overflow((a), (b), (result))

static inline bool
vkfd_is_power_of_two(uint64_t v)
{
   return v && !(v & (v - 1));
}

/* Aligns `v` up to `align` (a power of two); returns true on overflow. */
static inline bool
vkfd_ckd_align_up(uint64_t *result, uint64_t v, uint64_t align)
{
   uint64_t sum;
   if (vkfd_ckd_add(&sum, v, align - 1))
      return true;
   *result = sum & ~(align - 1);
   return false;
}

static inline uint64_t
vkfd_align_down(uint64_t v, uint64_t align)
{
   return v & ~(align - 1);
}

static inline bool
vkfd_is_aligned(uint64_t v, uint64_t align)
{
   return (v & (align - 1)) == 0;
}

#define VKFD_MIN(a, b)     ((a) < (b) ? (a) : (b))
#define VKFD_MAX(a, b)     ((a) > (b) ? (a) : (b))
#define VKFD_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif /* VKFD_MATH_H */
