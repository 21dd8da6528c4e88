/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "hsakmt_token.h"

#include "hsakmt/hsakmt_objects.h"
#include "virtkfd/hsakmt_proto.h"

#define TOKEN_TOP_BIT (1ull << 63)

/*
 * A keyed bijection of 64-bit values (xor, odd multiplies, xor-shifts: each step is
 * invertible), so distinct counters give distinct values and a token reveals neither
 * the counter nor the salt at a glance.
 */
static uint64_t
token_mix(uint64_t counter, uint64_t salt)
{
   uint64_t x = counter ^ salt;
   x *= 0x9e3779b97f4a7c15ull;
   x ^= x >> 29;
   x *= 0xbf58476d1ce4e5b9ull;
   x ^= x >> 32;
   return x;
}

void
hsakmt_tokens_init(struct hsakmt_tokens *tokens, uint64_t salt)
{
   vkfd_hash_init(&tokens->live);
   tokens->salt = salt;
   tokens->issued = 0;
}

void
hsakmt_tokens_fini(struct hsakmt_tokens *tokens)
{
   vkfd_hash_fini(&tokens->live);
}

int
hsakmt_token_issue(struct hsakmt_tokens *tokens, struct hsakmt_object *obj)
{
   /* the top bit is forced, which can make two counters meet: take the next one */
   for (;;) {
      uint64_t token = token_mix(++tokens->issued, tokens->salt) | TOKEN_TOP_BIT;
      if (vkfd_hash_lookup(&tokens->live, token))
         continue;
      if (vkfd_hash_insert(&tokens->live, token, obj))
         return VKFD_STATUS_NO_MEMORY;
      obj->token = token;
      return VKFD_STATUS_SUCCESS;
   }
}

struct hsakmt_object *
hsakmt_token_resolve(const struct hsakmt_tokens *tokens, uint64_t token, int kind)
{
   if (!(token & TOKEN_TOP_BIT))
      return NULL;
   struct hsakmt_object *obj = vkfd_hash_lookup(&tokens->live, token);
   if (obj && (int)obj->kind != kind)
      return NULL;
   return obj;
}

void
hsakmt_token_revoke(struct hsakmt_tokens *tokens, struct hsakmt_object *obj)
{
   if (obj->token)
      vkfd_hash_remove(&tokens->live, obj->token);
   obj->token = 0;
}
