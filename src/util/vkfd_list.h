/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * A minimal intrusive doubly linked list (the same shape as Mesa's list.h).
 */
#ifndef VKFD_LIST_H
#define VKFD_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct vkfd_list {
   struct vkfd_list *prev;
   struct vkfd_list *next;
};

static inline void
vkfd_list_init(struct vkfd_list *list)
{
   list->prev = list;
   list->next = list;
}

static inline bool
vkfd_list_is_empty(const struct vkfd_list *list)
{
   return list->next == list;
}

static inline void
vkfd_list_add_tail(struct vkfd_list *item, struct vkfd_list *list)
{
   item->next = list;
   item->prev = list->prev;
   list->prev->next = item;
   list->prev = item;
}

static inline void
vkfd_list_del(struct vkfd_list *item)
{
   item->prev->next = item->next;
   item->next->prev = item->prev;
   item->prev = item;
   item->next = item;
}

/* Moves every item of `from` to the tail of `to`, leaving `from` empty. */
static inline void
vkfd_list_splice_tail(struct vkfd_list *from, struct vkfd_list *to)
{
   if (vkfd_list_is_empty(from))
      return;
   from->next->prev = to->prev;
   to->prev->next = from->next;
   from->prev->next = to;
   to->prev = from->prev;
   vkfd_list_init(from);
}

#define vkfd_container_of(ptr, type, member) \
   ((type *)((char *)(ptr)-offsetof(type, member)))

#define vkfd_list_for_each_safe(type, pos, head, member)                      \
   for (type *pos = vkfd_container_of((head)->next, type, member),            \
             *pos##_next = vkfd_container_of(pos->member.next, type, member); \
        &pos->member != (head); pos = pos##_next,                             \
             pos##_next = vkfd_container_of(pos->member.next, type, member))

#endif /* VKFD_LIST_H */
