/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Unit tests of src/util: the hash map, overflow-checked math and the list.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "util/vkfd_hash.h"
#include "util/vkfd_list.h"
#include "util/vkfd_math.h"
#include "util/vkfd_range.h"

static void *
value_for(uint64_t key)
{
   return (void *)(uintptr_t)(key * 2 + 1);
}

static void
test_hash_insert_lookup_remove(void **state)
{
   struct vkfd_hash hash;
   vkfd_hash_init(&hash);
   assert_null(vkfd_hash_lookup(&hash, 1));
   assert_null(vkfd_hash_remove(&hash, 1));

   const uint64_t n = 10000;
   for (uint64_t k = 1; k <= n; k++)
      assert_int_equal(vkfd_hash_insert(&hash, k * 7919, value_for(k)), 0);
   assert_int_equal(vkfd_hash_count(&hash), n);
   assert_int_equal(vkfd_hash_insert(&hash, 7919, value_for(1)), -EEXIST);
   assert_int_equal(vkfd_hash_insert(&hash, 42, NULL), -EINVAL);

   /* remove every other key; the rest must stay reachable through shifted chains */
   for (uint64_t k = 1; k <= n; k += 2)
      assert_ptr_equal(vkfd_hash_remove(&hash, k * 7919), value_for(k));
   for (uint64_t k = 1; k <= n; k++) {
      void *expected = (k % 2) ? NULL : value_for(k);
      assert_ptr_equal(vkfd_hash_lookup(&hash, k * 7919), expected);
   }
   assert_int_equal(vkfd_hash_count(&hash), n / 2);
   vkfd_hash_fini(&hash);
}

static void
test_hash_extreme_keys_and_iteration(void **state)
{
   struct vkfd_hash hash;
   vkfd_hash_init(&hash);
   const uint64_t keys[] = { 0, 1, UINT32_MAX, (uint64_t)UINT32_MAX + 1, UINT64_MAX };
   for (size_t i = 0; i < VKFD_ARRAY_SIZE(keys); i++)
      assert_int_equal(vkfd_hash_insert(&hash, keys[i], value_for(i)), 0);

   size_t cursor = 0, seen = 0;
   uint64_t key;
   void *value;
   while (vkfd_hash_next(&hash, &cursor, &key, &value)) {
      bool found = false;
      for (size_t i = 0; i < VKFD_ARRAY_SIZE(keys); i++)
         found |= keys[i] == key && value == value_for(i);
      assert_true(found);
      seen++;
   }
   assert_int_equal(seen, VKFD_ARRAY_SIZE(keys));
   vkfd_hash_fini(&hash);
   assert_int_equal(vkfd_hash_count(&hash), 0);
}

static void
test_math_overflow(void **state)
{
   uint64_t r;
   assert_false(vkfd_ckd_add(&r, (uint64_t)1, (uint64_t)2));
   assert_int_equal(r, 3);
   assert_true(vkfd_ckd_add(&r, UINT64_MAX, (uint64_t)1));
   assert_true(vkfd_ckd_mul(&r, (uint64_t)1 << 32, (uint64_t)1 << 32));
   uint32_t r32;
   assert_true(vkfd_ckd_mul(&r32, (uint32_t)0x10000, (uint32_t)0x10000));
   assert_true(vkfd_ckd_sub(&r, (uint64_t)0, (uint64_t)1));

   assert_false(vkfd_ckd_align_up(&r, 4097, 4096));
   assert_int_equal(r, 8192);
   assert_true(vkfd_ckd_align_up(&r, UINT64_MAX - 10, 4096));
   assert_int_equal(vkfd_align_down(8191, 4096), 4096);
   assert_true(vkfd_is_power_of_two(4096));
   assert_false(vkfd_is_power_of_two(0));
   assert_false(vkfd_is_power_of_two(12));
}

struct item {
   int value;
   struct vkfd_list link;
};

static void
test_list_splice_and_delete(void **state)
{
   struct vkfd_list a, b;
   vkfd_list_init(&a);
   vkfd_list_init(&b);
   struct item items[6];
   for (int i = 0; i < 6; i++) {
      items[i].value = i;
      vkfd_list_add_tail(&items[i].link, i < 3 ? &a : &b);
   }
   vkfd_list_splice_tail(&b, &a);
   assert_true(vkfd_list_is_empty(&b));
   int expected = 0;
   vkfd_list_for_each_safe(struct item, it, &a, link)
   {
      assert_int_equal(it->value, expected++);
      if (it->value % 2)
         vkfd_list_del(&it->link);
   }
   assert_int_equal(expected, 6);
   expected = 0;
   vkfd_list_for_each_safe(struct item, it, &a, link)
   {
      assert_int_equal(it->value, expected);
      expected += 2;
   }
}

static void
test_range_take_give_merge(void **state)
{
   struct vkfd_range range;
   const uint64_t base = 0x10000000, size = 0x100000;
   assert_int_equal(vkfd_range_init(&range, base, size), 0);
   uint64_t a, b, c;
   assert_int_equal(vkfd_range_take(&range, 0x1000, 0x1000, &a), 0);
   assert_int_equal(a, base);
   /* aligned past what is taken: the gap before it stays free */
   assert_int_equal(vkfd_range_take(&range, 0x10000, 0x10000, &b), 0);
   assert_int_equal(b, base + 0x10000);
   assert_int_equal(vkfd_range_take(&range, 0x1000, 0x1000, &c), 0);
   assert_int_equal(c, base + 0x1000);
   assert_int_equal(range.used, 0x12000);
   assert_int_equal(vkfd_range_take(&range, size, 0x1000, &a), -ENOSPC);
   assert_int_equal(vkfd_range_take(&range, 0, 0x1000, &a), -EINVAL);
   assert_int_equal(vkfd_range_take(&range, 0x1000, 3, &a), -EINVAL);
   assert_int_equal(vkfd_range_take(&range, UINT64_MAX, 0x1000, &a), -ENOSPC);
   /* giving back in any order merges everything into one extent again */
   assert_int_equal(vkfd_range_give(&range, base + 0x10000, 0x10000), 0);
   assert_int_equal(vkfd_range_give(&range, base, 0x1000), 0);
   assert_int_equal(vkfd_range_give(&range, base + 0x1000, 0x1000), 0);
   assert_int_equal(range.used, 0);
   assert_int_equal(vkfd_range_take(&range, size, 0x1000, &a), 0);
   assert_int_equal(a, base);
   vkfd_range_fini(&range);
}

int
main(void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hash_insert_lookup_remove),
      cmocka_unit_test(test_hash_extreme_keys_and_iteration),
      cmocka_unit_test(test_math_overflow),
      cmocka_unit_test(test_list_splice_and_delete),
      cmocka_unit_test(test_range_take_give_merge),
   };
   return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
