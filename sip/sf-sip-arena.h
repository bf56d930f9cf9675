/* sf-sip-arena.h: a bump allocator for what parsing one message makes (its
 * header table, parsed values, URIs and parameter arrays), freed at once with
 * the message.  One malloc and one free per value was a third of a parse.
 *
 * The first block is the caller's (inside the message); further blocks come
 * from g_malloc, at least SF_SIP_ARENA_BLOCK bytes each.  What is allocated is
 * bounded by what the message holds, itself bounded by SF_SIP_MAX_MSG_SIZE,
 * SF_SIP_MAX_HEADERS and SF_SIP_MAX_PARAMS. */
#pragma once
#include <glib.h>
#include <string.h>

G_BEGIN_DECLS

#define SF_SIP_ARENA_BLOCK 4096

typedef struct _SfSipArenaBlock SfSipArenaBlock;

typedef struct _SfSipArena SfSipArena;

struct _SfSipArena {
  char *p;                  /* next free byte */
  char *end;
  SfSipArenaBlock *blocks;  /* owned: the g_malloc'd blocks */
  gsize grow;               /* the least size of a further block */
};

/* @first (@size bytes, nullable) is used before any block is allocated;
 * further blocks are at least SF_SIP_ARENA_BLOCK bytes. */
void sf_sip_arena_init (SfSipArena *a, void *first, gsize size);
/* Further blocks at least @grow bytes (a message kept long and seldom read:
 * sf_sip_msg_compact()). */
void sf_sip_arena_set_grow (SfSipArena *a, gsize grow);
#define SF_SIP_ARENA_ALIGN 16

/* The slow path of the two below: a new block (not zeroed). */
void *sf_sip_arena_alloc_block (SfSipArena *a, gsize n);

/* @n bytes aligned for any type, not zeroed: for a table whose every entry is
 * written before it is read (the message's header table); never NULL (aborts
 * when out of memory, as g_malloc).  Inline: most allocations fit the block. */
static inline void *
sf_sip_arena_alloc (SfSipArena *a, gsize n)
{
  gsize need = (n + SF_SIP_ARENA_ALIGN - 1) & ~(gsize) (SF_SIP_ARENA_ALIGN - 1);
  if (G_UNLIKELY (need < n || a->p == NULL || (gsize) (a->end - a->p) < need))
    return sf_sip_arena_alloc_block (a, n);
  void *out = a->p;
  a->p += need;
  return out;
}

/* The same, zeroed.  With @n a constant the zeroing is a few stores instead
 * of a call to memset (a parse makes about fifty). */
static inline void *
sf_sip_arena_alloc0 (SfSipArena *a, gsize n)
{
  void *out = sf_sip_arena_alloc (a, n);
  memset (out, 0, n);
  return out;
}
/* A copy of @n bytes of @src (@n may be 0: a non-NULL pointer all the same). */
void *sf_sip_arena_dup (SfSipArena *a, const void *src, gsize n);
/* Frees the blocks; the arena is empty afterwards. */
void sf_sip_arena_clear (SfSipArena *a);

G_END_DECLS
