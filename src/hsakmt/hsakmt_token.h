/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Opaque per-context handles (wire-protocol.md §6.1). Where upstream hands the guest a
 * host pointer (an HsaEvent*, a queue record, libhsakmt's queue id), this host hands
 * out a token and resolves it through the context's own table when it comes back. A
 * token is derived from a counter that never repeats and the context's random salt,
 * through a bijection: it is never 0, has the top bit set (so it is no canonical user
 * address), and says nothing about the host. A token that was never issued, belongs
 * to another context or was revoked resolves to nothing.
 *
 * Ownership: the table maps tokens to objects it does not own; an object revokes its
 * token before it is freed.
 */
#ifndef HSAKMT_TOKEN_H
#define HSAKMT_TOKEN_H

#include <stdint.h>

#include "util/vkfd_hash.h"

struct hsakmt_object;

struct hsakmt_tokens {
   struct vkfd_hash live; /* token -> struct hsakmt_object */
   uint64_t salt;
   uint64_t issued; /* the counter behind the next token */
};

void hsakmt_tokens_init(struct hsakmt_tokens *tokens, uint64_t salt);

void hsakmt_tokens_fini(struct hsakmt_tokens *tokens);

/* Issues a fresh token for `obj` into obj->token; an HSAKMT status (NO_MEMORY). */
int hsakmt_token_issue(struct hsakmt_tokens *tokens, struct hsakmt_object *obj);

/* The object of `kind` the token names in this context, or NULL. */
struct hsakmt_object *
hsakmt_token_resolve(const struct hsakmt_tokens *tokens, uint64_t token, int kind);

/* Forgets obj->token (NULL-safe for objects that never got one). */
void hsakmt_token_revoke(struct hsakmt_tokens *tokens, struct hsakmt_object *obj);

#endif /* HSAKMT_TOKEN_H */
