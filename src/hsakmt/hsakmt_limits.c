/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "hsakmt_limits.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsakmt/hsakmt_va.h"
#include "kfd/vkfd_kfd.h"
#include "util/vkfd_log.h"
#include "util/vkfd_math.h"

/* A limit as configured: a share of what there is, or an absolute amount. */
struct limit_setting {
   bool percent;
   uint64_t value;
};

static const char *const limit_names[HSAKMT_LIMIT_COUNT] = {
   [HSAKMT_LIMIT_WINDOW] = "window", [HSAKMT_LIMIT_VRAM] = "vram",
   [HSAKMT_LIMIT_SYSMEM] = "sysmem", [HSAKMT_LIMIT_OBJECTS] = "objects",
   [HSAKMT_LIMIT_QUEUES] = "queues", [HSAKMT_LIMIT_EVENTS] = "events",
};

/*
 * Defaults a ROCm program does not reach: a process cannot use more window than
 * RAM + VRAM, half the window; ROCr grows into most of a GPU, but not 90% of it
 * beside another process; 65536 objects are tens of thousands more than a ROCr
 * process keeps (its allocators sub-allocate from 2 MiB blocks); a quarter of the
 * KFD process's 1024 queues and 4096 events is more than ROCr makes (it creates
 * its interrupt events without the transport, and a handful of queues per GPU).
 */
static const struct limit_setting limit_defaults[HSAKMT_LIMIT_COUNT] = {
   [HSAKMT_LIMIT_WINDOW] = { true, 50 },   [HSAKMT_LIMIT_VRAM] = { true, 90 },
   [HSAKMT_LIMIT_SYSMEM] = { true, 50 },   [HSAKMT_LIMIT_OBJECTS] = { false, 65536 },
   [HSAKMT_LIMIT_QUEUES] = { false, 256 }, [HSAKMT_LIMIT_EVENTS] = { false, 1024 },
};

static struct {
   pthread_mutex_t lock;
   bool loaded;
   struct limit_setting settings[HSAKMT_LIMIT_COUNT];
} limits = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* "50%", "4G", "65536": false when the text is none of these. */
static bool
parse_setting(const char *text, size_t len, struct limit_setting *out)
{
   char buf[32];
   if (!len || len >= sizeof(buf))
      return false;
   memcpy(buf, text, len);
   buf[len] = '\0';
   char *end;
   unsigned long long v = strtoull(buf, &end, 10);
   if (end == buf)
      return false;
   uint64_t value = v, shift = 0;
   bool percent = false;
   switch (*end) {
   case '\0':
      break;
   case '%':
      percent = true;
      end++;
      break;
   case 'K':
   case 'k':
      shift = 10, end++;
      break;
   case 'M':
   case 'm':
      shift = 20, end++;
      break;
   case 'G':
   case 'g':
      shift = 30, end++;
      break;
   case 'T':
   case 't':
      shift = 40, end++;
      break;
   default:
      return false;
   }
   if (*end || (percent && (value == 0 || value > 100)) ||
       (shift && value > (UINT64_MAX >> shift)))
      return false;
   out->percent = percent;
   out->value = value << shift;
   return true;
}

static void
load_settings_locked(void)
{
   memcpy(limits.settings, limit_defaults, sizeof(limits.settings));
   limits.loaded = true;
   const char *env = getenv("VIRTKFD_CONTEXT_LIMITS");
   if (!env || !*env)
      return;
   for (const char *item = env; *item;) {
      size_t len = strcspn(item, ",");
      const char *eq = memchr(item, '=', len);
      bool known = false;
      for (int i = 0; eq && i < HSAKMT_LIMIT_COUNT; i++) {
         size_t name_len = strlen(limit_names[i]);
         if ((size_t)(eq - item) != name_len || strncmp(item, limit_names[i], name_len))
            continue;
         struct limit_setting setting;
         /* counts are plain numbers: no percent of them */
         bool count = i == HSAKMT_LIMIT_OBJECTS || i == HSAKMT_LIMIT_QUEUES ||
                      i == HSAKMT_LIMIT_EVENTS;
         known = parse_setting(eq + 1, len - name_len - 1, &setting) &&
                 (!count || !setting.percent);
         if (known)
            limits.settings[i] = setting;
      }
      if (!known)
         vkfd_err("VIRTKFD_CONTEXT_LIMITS: '%.*s' is not name=percent%% or name=size "
                  "with a name of window, vram, sysmem, objects, queues or events; "
                  "ignored",
                  (int)len, item);
      item += len;
      if (*item == ',')
         item++;
   }
}

static struct limit_setting
setting_of(enum hsakmt_limit limit)
{
   pthread_mutex_lock(&limits.lock);
   if (!limits.loaded)
      load_settings_locked();
   struct limit_setting setting = limits.settings[limit];
   pthread_mutex_unlock(&limits.lock);
   return setting;
}

void
hsakmt_limits_reset(void)
{
   pthread_mutex_lock(&limits.lock);
   limits.loaded = false;
   pthread_mutex_unlock(&limits.lock);
}

/* What a percent limit is a share of. */
static uint64_t
limit_whole(enum hsakmt_limit limit, uint32_t node)
{
   uint64_t start, size;
   struct hsakmt_wire_node_properties props;
   switch (limit) {
   case HSAKMT_LIMIT_WINDOW:
      return hsakmt_va_window_bounds(&start, &size) ? size : 0;
   case HSAKMT_LIMIT_VRAM:
      return vkfd_kfd_node_properties(node, &props) ? 0 : props.local_mem_size;
   case HSAKMT_LIMIT_SYSMEM:
      return (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
   default:
      return 0;
   }
}

uint64_t
hsakmt_limit_of(enum hsakmt_limit limit, uint32_t node)
{
   struct limit_setting setting = setting_of(limit);
   if (!setting.percent)
      return setting.value;
   /* floor(whole * percent / 100) without the product, which could wrap */
   uint64_t whole = limit_whole(limit, node);
   return whole / 100 * setting.value + whole % 100 * setting.value / 100;
}

void
hsakmt_account_init(struct hsakmt_account *account, uint32_t ctx_id)
{
   memset(account, 0, sizeof(*account));
   account->ctx_id = ctx_id;
   vkfd_list_init(&account->charges);
}

void
hsakmt_account_fini(struct hsakmt_account *account)
{
   vkfd_list_for_each_safe(struct hsakmt_charge, charge, &account->charges, link)
   {
      vkfd_list_del(&charge->link);
      charge->account = NULL;
   }
}

/* Adds `amount` to `*used` within `limit`; false (nothing added) beyond it. */
static bool
take(uint64_t *used, uint64_t amount, uint64_t limit)
{
   uint64_t total;
   if (vkfd_ckd_add(&total, *used, amount) || total > limit)
      return false;
   *used = total;
   return true;
}

int
hsakmt_account_charge(struct hsakmt_account *account, struct hsakmt_charge *charge,
                      const struct hsakmt_charge *request, const char *what)
{
   memset(charge, 0, sizeof(*charge));
   vkfd_list_init(&charge->link);
   if (request->vram && request->vram_node >= HSAKMT_MAX_MEMORY_NODES)
      return VKFD_STATUS_INVALID_NODE_UNIT;

   uint64_t *vram = &account->vram[request->vram_node % HSAKMT_MAX_MEMORY_NODES];
   struct {
      enum hsakmt_limit limit;
      uint64_t *used;
      uint64_t amount;
   } const items[] = {
      { HSAKMT_LIMIT_OBJECTS, &account->objects, request->objects },
      { HSAKMT_LIMIT_QUEUES, &account->queues, request->queues },
      { HSAKMT_LIMIT_EVENTS, &account->events, request->events },
      { HSAKMT_LIMIT_WINDOW, &account->window, request->window },
      { HSAKMT_LIMIT_VRAM, vram, request->vram },
      { HSAKMT_LIMIT_SYSMEM, &account->sysmem, request->sysmem },
   };
   size_t taken = 0;
   for (; taken < VKFD_ARRAY_SIZE(items); taken++) {
      if (!items[taken].amount)
         continue;
      uint64_t limit = hsakmt_limit_of(items[taken].limit, request->vram_node);
      if (!take(items[taken].used, items[taken].amount, limit)) {
         vkfd_err("ctx %u: %s: the context's %s limit is reached (0x%llx in use + "
                  "0x%llx > 0x%llx; VIRTKFD_CONTEXT_LIMITS sets it)",
                  account->ctx_id, what, limit_names[items[taken].limit],
                  (unsigned long long)*items[taken].used,
                  (unsigned long long)items[taken].amount, (unsigned long long)limit);
         break;
      }
   }
   if (taken < VKFD_ARRAY_SIZE(items)) {
      while (taken--)
         *items[taken].used -= items[taken].amount;
      return VKFD_STATUS_NO_MEMORY;
   }
   *charge = *request;
   charge->account = account;
   vkfd_list_add_tail(&charge->link, &account->charges);
   return VKFD_STATUS_SUCCESS;
}

void
hsakmt_charge_release(struct hsakmt_charge *charge)
{
   if (!charge || !charge->account)
      return;
   struct hsakmt_account *account = charge->account;
   account->objects -= charge->objects;
   account->queues -= charge->queues;
   account->events -= charge->events;
   account->window -= charge->window;
   account->sysmem -= charge->sysmem;
   account->vram[charge->vram_node % HSAKMT_MAX_MEMORY_NODES] -= charge->vram;
   vkfd_list_del(&charge->link);
   charge->account = NULL;
}

uint64_t
hsakmt_account_vram_left(const struct hsakmt_account *account, uint32_t node)
{
   if (node >= HSAKMT_MAX_MEMORY_NODES)
      return 0;
   uint64_t limit = hsakmt_limit_of(HSAKMT_LIMIT_VRAM, node);
   return limit > account->vram[node] ? limit - account->vram[node] : 0;
}
