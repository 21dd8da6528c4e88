/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Command submission (§6.3, §6.6), vtest syncs and their waits (§6.5), and the
 * ring timelines that retire through write_context_fence (§7). A SUBMIT_CMD2 is
 * validated completely, descriptors and sync ids, before any batch runs (§10 rows
 * 1-8), in 64-bit arithmetic.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "virglrenderer.h"
#include "vtest_server.h"

bool
vtest_cmd_submit_cmd(struct vtest_client *client, const uint32_t *payload, uint32_t len,
                     int unused)
{
   int ret =
      len ? virgl_renderer_submit_cmd((void *)payload, (int)client->ctx_id, (int)len) : 0;
   if (ret)
      return vtest_client_fail(client, VCMD_SUBMIT_CMD, ret < 0 ? -ret : ret,
                               "virgl_renderer_submit_cmd failed (%d)", ret);
   /* the implicit ctx0 fence that BUSY_WAIT observes (§6.3) */
   uint32_t fence_id;
   if (vtest_note_implicit_fence(client, &fence_id) < 0)
      return vtest_client_fail(client, VCMD_SUBMIT_CMD, ENOMEM, "fence bookkeeping");
   ret = virgl_renderer_create_fence((int)fence_id, 0);
   if (ret) {
      client->implicit_retired++; /* it will never retire */
      return vtest_client_fail(client, VCMD_SUBMIT_CMD, ret, "create_fence failed");
   }
   return true;
}

/* The index of sync_id in the sorted table, or where it would go. */
static uint32_t
sync_index(const struct vtest_client *client, uint32_t sync_id)
{
   uint32_t lo = 0, hi = client->nsyncs;
   while (lo < hi) {
      uint32_t mid = lo + (hi - lo) / 2;
      if (client->syncs[mid].sync_id < sync_id)
         lo = mid + 1;
      else
         hi = mid;
   }
   return lo;
}

struct vtest_sync *
vtest_sync_find(struct vtest_client *client, uint32_t sync_id)
{
   uint32_t i = sync_index(client, sync_id);
   return i < client->nsyncs && client->syncs[i].sync_id == sync_id ? &client->syncs[i]
                                                                    : NULL;
}

void
vtest_sync_set(struct vtest_client *client, struct vtest_sync *sync, uint64_t value)
{
   bool increased = value > sync->value;
   if (!increased && value != sync->value)
      vtest_debug("client %u: sync %u decreases from %llu to %llu", client->serial,
                  sync->sync_id, (unsigned long long)sync->value,
                  (unsigned long long)value);
   sync->value = value;
   if (increased)
      vtest_waits_check(client);
}

static bool
check_descriptor(struct vtest_client *client, const uint32_t *payload, uint32_t len,
                 uint64_t table_end, uint32_t i)
{
   const uint32_t *d = payload + 1 + 8 * (size_t)i;
   uint32_t flags = d[0], cmd_off = d[1], cmd_size = d[2], sync_off = d[3],
            sync_count = d[4], ring = d[5];
   const uint32_t known = VCMD_SUBMIT_CMD2_FLAG_RING_IDX |
                          VCMD_SUBMIT_CMD2_FLAG_IN_FENCE_FD |
                          VCMD_SUBMIT_CMD2_FLAG_OUT_FENCE_FD;
#define BAD(...) vtest_client_fail(client, VCMD_SUBMIT_CMD2, EINVAL, __VA_ARGS__)
   if (flags & ~known)
      return BAD("batch %u: unknown flags 0x%x", i, flags);
   if ((uint64_t)cmd_off + cmd_size > len || (cmd_size && cmd_off < table_end))
      return BAD("batch %u: commands [%u, +%u) outside the data area [%llu, %u)", i,
                 cmd_off, cmd_size, (unsigned long long)table_end, len);
   if ((uint64_t)sync_off + 3 * (uint64_t)sync_count > len ||
       (sync_count && sync_off < table_end))
      return BAD("batch %u: %u syncs at %u outside the data area [%llu, %u)", i,
                 sync_count, sync_off, (unsigned long long)table_end, len);
   if ((flags & VCMD_SUBMIT_CMD2_FLAG_RING_IDX) && ring >= VTEST_MAX_TIMELINE_COUNT)
      return BAD("batch %u: ring_idx %u (at most %u)", i, ring,
                 VTEST_MAX_TIMELINE_COUNT - 1);
   if (client->version >= 4 && (d[6] || d[7]))
      return vtest_client_fail(client, VCMD_SUBMIT_CMD2, ENODEV,
                               "batch %u: %u in / %u out syncobjs, but this context has "
                               "no DRM device",
                               i, d[6], d[7]);
   if (flags & VCMD_SUBMIT_CMD2_FLAG_OUT_FENCE_FD) {
      if (!(flags & VCMD_SUBMIT_CMD2_FLAG_RING_IDX))
         return BAD("batch %u: OUT_FENCE_FD without RING_IDX", i);
      /* §11.1 rule 11: never send nothing where the client waits for an fd */
      return vtest_client_fail(client, VCMD_SUBMIT_CMD2, ENOTSUP,
                               "batch %u: OUT_FENCE_FD: KFD contexts have no sync_file "
                               "fences (wait on the shmem seqno or a vtest sync)",
                               i);
   }
   if (flags & VCMD_SUBMIT_CMD2_FLAG_IN_FENCE_FD)
      return vtest_client_fail(client, VCMD_SUBMIT_CMD2, ENOTSUP,
                               "batch %u: IN_FENCE_FD: KFD contexts cannot wait on a "
                               "sync_file",
                               i);
   for (uint32_t k = 0; k < sync_count; k++) {
      uint32_t id = payload[sync_off + 3 * (size_t)k];
      if (!vtest_sync_find(client, id))
         return BAD("batch %u: unknown sync id %u", i, id);
   }
#undef BAD
   return true;
}

bool
vtest_cmd_submit_cmd2(struct vtest_client *client, const uint32_t *payload, uint32_t len,
                      int unused)
{
   uint32_t count = payload[0];
   uint64_t table_end = 1 + 8 * (uint64_t)count;
   if (!count || count > VTEST_MAX_TIMELINE_COUNT || table_end > len)
      return vtest_client_fail(client, VCMD_SUBMIT_CMD2, EINVAL,
                               "batch_count %u with len %u (1 to %u batches of 8 dwords)",
                               count, len, VTEST_MAX_TIMELINE_COUNT);
   for (uint32_t i = 0; i < count; i++)
      if (!check_descriptor(client, payload, len, table_end, i))
         return false;

   for (uint32_t i = 0; i < count; i++) {
      const uint32_t *d = payload + 1 + 8 * (size_t)i;
      uint32_t flags = d[0], cmd_off = d[1], cmd_size = d[2], sync_off = d[3],
               sync_count = d[4], ring = d[5];
      if (cmd_size) {
         int ret = virgl_renderer_submit_cmd((void *)(payload + cmd_off),
                                             (int)client->ctx_id, (int)cmd_size);
         if (ret)
            return vtest_client_fail(client, VCMD_SUBMIT_CMD2, ret < 0 ? -ret : ret,
                                     "batch %u: virgl_renderer_submit_cmd failed (%d)", i,
                                     ret);
      }
      const uint32_t *triples = payload + sync_off;
      if (!(flags & VCMD_SUBMIT_CMD2_FLAG_RING_IDX)) {
         for (uint32_t k = 0; k < sync_count; k++)
            vtest_sync_set(client, vtest_sync_find(client, triples[3 * k]),
                           vtest_u64(triples + 3 * k + 1));
         continue;
      }
      if (!sync_count)
         continue;
      struct vtest_submit *submit =
         malloc(sizeof(*submit) + sync_count * sizeof(submit->syncs[0]));
      if (!submit)
         return vtest_client_fail(client, VCMD_SUBMIT_CMD2, ENOMEM, "timeline submit");
      submit->cookie = ++client->next_cookie;
      submit->count = sync_count;
      submit->next = NULL;
      for (uint32_t k = 0; k < sync_count; k++) {
         submit->syncs[k].sync_id = triples[3 * k];
         submit->syncs[k].value = vtest_u64(triples + 3 * k + 1);
      }
      struct vtest_submit **tail = &client->submits[ring];
      while (*tail)
         tail = &(*tail)->next;
      *tail = submit;
      /* cookies are monotonic per client, never heap pointers (§7) */
      int ret = virgl_renderer_context_create_fence(
         client->ctx_id, VIRGL_RENDERER_FENCE_FLAG_MERGEABLE, ring, submit->cookie);
      if (ret)
         return vtest_client_fail(client, VCMD_SUBMIT_CMD2, ret < 0 ? -ret : ret,
                                  "batch %u: context_create_fence on ring %u failed", i,
                                  ring);
   }
   return true;
}

void
vtest_timeline_retire(struct vtest_client *client, uint32_t ring, uint64_t cookie)
{
   if (ring >= VTEST_MAX_TIMELINE_COUNT)
      return;
   /* a callback for X retires X and everything before it on this ring */
   while (client->submits[ring] && client->submits[ring]->cookie <= cookie) {
      struct vtest_submit *submit = client->submits[ring];
      client->submits[ring] = submit->next;
      for (uint32_t k = 0; k < submit->count; k++) {
         struct vtest_sync *sync = vtest_sync_find(client, submit->syncs[k].sync_id);
         if (sync) /* unref'd meanwhile: nothing to signal */
            vtest_sync_set(client, sync, submit->syncs[k].value);
      }
      free(submit);
   }
}

bool
vtest_cmd_sync_create(struct vtest_client *client, const uint32_t *payload, uint32_t len,
                      int unused)
{
   if (client->nsyncs >= VTEST_MAX_CLIENT_SYNCS)
      return vtest_client_fail(client, VCMD_SYNC_CREATE, ENOSPC,
                               "%u syncs already (at most %u per client)", client->nsyncs,
                               VTEST_MAX_CLIENT_SYNCS);
   if (client->nsyncs == client->sync_cap) {
      uint32_t cap = client->sync_cap ? client->sync_cap * 2 : 16;
      struct vtest_sync *table = realloc(client->syncs, cap * sizeof(*table));
      if (!table)
         return vtest_client_fail(client, VCMD_SYNC_CREATE, ENOMEM, "sync table");
      client->syncs = table;
      client->sync_cap = cap;
   }
   uint32_t sync_id = vtest_alloc_sync_id(client);
   uint32_t at = sync_index(client, sync_id); /* ids wrap around: not always last */
   memmove(&client->syncs[at + 1], &client->syncs[at],
           (client->nsyncs - at) * sizeof(client->syncs[0]));
   client->nsyncs++;
   client->syncs[at] =
      (struct vtest_sync){ .sync_id = sync_id, .value = vtest_u64(payload) };
   return vtest_reply(client, VCMD_SYNC_CREATE, &sync_id, 1) == 0;
}

bool
vtest_cmd_sync_unref(struct vtest_client *client, const uint32_t *payload, uint32_t len,
                     int unused)
{
   struct vtest_sync *sync = vtest_sync_find(client, payload[0]);
   if (!sync) {
      /* §10 row 21: kept for compatibility, logged where a client bug can be found */
      vtest_debug("client %u: SYNC_UNREF of unknown sync %u ignored", client->serial,
                  payload[0]);
      return true;
   }
   uint32_t at = (uint32_t)(sync - client->syncs);
   client->nsyncs--;
   memmove(sync, sync + 1, (client->nsyncs - at) * sizeof(*sync));
   return true;
}

bool
vtest_cmd_sync_read(struct vtest_client *client, const uint32_t *payload, uint32_t len,
                    int unused)
{
   struct vtest_sync *sync = vtest_sync_find(client, payload[0]);
   if (!sync)
      return vtest_client_fail(client, VCMD_SYNC_READ, EEXIST, "unknown sync %u",
                               payload[0]);
   uint32_t value[2] = { (uint32_t)sync->value, (uint32_t)(sync->value >> 32) };
   return vtest_reply(client, VCMD_SYNC_READ, value, 2) == 0;
}

bool
vtest_cmd_sync_write(struct vtest_client *client, const uint32_t *payload, uint32_t len,
                     int unused)
{
   struct vtest_sync *sync = vtest_sync_find(client, payload[0]);
   if (!sync)
      return vtest_client_fail(client, VCMD_SYNC_WRITE, EEXIST, "unknown sync %u",
                               payload[0]);
   vtest_sync_set(client, sync, vtest_u64(payload + 1));
   return true;
}

static bool
condition_met(struct vtest_client *client, uint32_t sync_id, uint64_t value)
{
   struct vtest_sync *sync = vtest_sync_find(client, sync_id);
   return sync && sync->value >= value;
}

static void
signal_eventfd(int fd)
{
   uint64_t one = 1;
   ssize_t ret = write(fd, &one, sizeof(one));
   (void)ret; /* a full counter is already readable */
}

bool
vtest_cmd_sync_wait(struct vtest_client *client, const uint32_t *payload, uint32_t len,
                    int unused)
{
   if ((len - 2) % 3)
      return vtest_client_fail(client, VCMD_SYNC_WAIT, EINVAL,
                               "len %u is not 2 + 3 * count", len);
   uint32_t flags = payload[0], timeout_ms = payload[1], count = (len - 2) / 3;
   if (flags & ~(uint32_t)VCMD_SYNC_WAIT_FLAG_ANY)
      return vtest_client_fail(client, VCMD_SYNC_WAIT, EINVAL, "unknown flags 0x%x",
                               flags);
   for (uint32_t k = 0; k < count; k++)
      if (!vtest_sync_find(client, payload[2 + 3 * k]))
         return vtest_client_fail(client, VCMD_SYNC_WAIT, EEXIST, "unknown sync %u",
                                  payload[2 + 3 * k]);

   if (client->wait_conds + (uint64_t)count > VTEST_MAX_PENDING_CONDS)
      return vtest_client_fail(client, VCMD_SYNC_WAIT, ENOSPC,
                               "%u conditions pending already, %u more (at most %u)",
                               client->wait_conds, count, VTEST_MAX_PENDING_CONDS);
   struct vtest_wait *wait = malloc(sizeof(*wait) + count * sizeof(wait->conds[0]));
   if (!wait)
      return vtest_client_fail(client, VCMD_SYNC_WAIT, ENOMEM, "wait");
   wait->any = flags & VCMD_SYNC_WAIT_FLAG_ANY;
   wait->count = 0;
   bool dropped = false;
   for (uint32_t k = 0; k < count; k++) {
      uint32_t id = payload[2 + 3 * k];
      uint64_t value = vtest_u64(payload + 3 + 3 * k);
      if (condition_met(client, id, value)) {
         dropped = true;
         continue;
      }
      wait->conds[wait->count].sync_id = id;
      wait->conds[wait->count].value = value;
      wait->count++;
   }
   wait->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
   int sent = wait->efd >= 0 ? fcntl(wait->efd, F_DUPFD_CLOEXEC, 0) : -1;
   if (sent < 0) {
      int err = errno;
      if (wait->efd >= 0)
         close(wait->efd);
      free(wait);
      return vtest_client_fail(client, VCMD_SYNC_WAIT, err, "eventfd: %s", strerror(err));
   }
   if (!wait->count || (wait->any && dropped) || timeout_ms == 0) {
      /* done at once, or a zero timeout: never kept (§6.5) */
      if (!wait->count || (wait->any && dropped))
         signal_eventfd(wait->efd);
      close(wait->efd);
      free(wait);
   } else {
      wait->deadline_ns = timeout_ms > INT32_MAX
                             ? INT64_MAX
                             : vtest_now_ns() + (int64_t)timeout_ms * 1000000;
      wait->next = client->waits;
      client->waits = wait;
      client->wait_conds += wait->count;
   }
   bool ok = vtest_reply(client, VCMD_SYNC_WAIT, NULL, 0) == 0;
   return (vtest_reply_fd(client, sent) == 0) & ok;
}

void
vtest_waits_check(struct vtest_client *client)
{
   int64_t now = vtest_now_ns();
   for (struct vtest_wait **p = &client->waits; *p;) {
      struct vtest_wait *wait = *p;
      uint32_t met = 0;
      for (uint32_t k = 0; k < wait->count; k++)
         met += condition_met(client, wait->conds[k].sync_id, wait->conds[k].value);
      bool done = wait->any ? met > 0 : met == wait->count;
      if (done)
         signal_eventfd(wait->efd);
      if (done || now >= wait->deadline_ns) {
         *p = wait->next;
         client->wait_conds -= wait->count;
         close(wait->efd);
         free(wait);
      } else {
         p = &wait->next;
      }
   }
}

void
vtest_syncs_fini(struct vtest_client *client)
{
   while (client->waits) {
      struct vtest_wait *wait = client->waits;
      client->waits = wait->next;
      close(wait->efd);
      free(wait);
   }
   client->wait_conds = 0;
   for (uint32_t r = 0; r < VTEST_MAX_TIMELINE_COUNT; r++) {
      while (client->submits[r]) {
         struct vtest_submit *submit = client->submits[r];
         client->submits[r] = submit->next;
         free(submit);
      }
   }
   free(client->syncs);
   client->syncs = NULL;
   client->nsyncs = 0;
}
