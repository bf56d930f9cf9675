/* sf-sip-arena.c: the per-message bump allocator (see sf-sip-arena.h). */
#include "config.h"
#include "sf-sip-arena.h"
#include <string.h>

#define ALIGN SF_SIP_ARENA_ALIGN

struct _SfSipArenaBlock {
  SfSipArenaBlock *next;
  gsize size;
  /* padded to ALIGN, then the data */
};

#define HEADER (((sizeof (SfSipArenaBlock) + ALIGN - 1) / ALIGN) * ALIGN)

void
sf_sip_arena_init (SfSipArena *a, void *first, gsize size)
{
  a->blocks = NULL;
  a->grow = SF_SIP_ARENA_BLOCK;
  if (first == NULL) {
    a->p = a->end = NULL;
    return;
  }
  /* Start at the first aligned byte of @first. */
  guintptr start = ((guintptr) first + ALIGN - 1) & ~(guintptr) (ALIGN - 1);
  guintptr stop = (guintptr) first + size;
  a->p = start < stop ? (char *) start : NULL;
  a->end = start < stop ? (char *) stop : NULL;
}

void *
sf_sip_arena_alloc_block (SfSipArena *a, gsize n)
{
  gsize need = (n + ALIGN - 1) & ~(gsize) (ALIGN - 1);
  if (need < n)
    g_error ("sf_sip_arena_alloc: %" G_GSIZE_FORMAT " bytes", n);
  if (a->p == NULL || (gsize) (a->end - a->p) < need) {
    gsize size = MAX (need, a->grow);
    SfSipArenaBlock *b = g_malloc (HEADER + size);
    b->next = a->blocks;
    b->size = size;
    a->blocks = b;
    a->p = (char *) b + HEADER;
    a->end = a->p + size;
  }
  void *out = a->p;
  a->p += need;
  return out;
}

void
sf_sip_arena_set_grow (SfSipArena *a, gsize grow)
{
  a->grow = MAX (grow, (gsize) ALIGN);
}

void *
sf_sip_arena_dup (SfSipArena *a, const void *src, gsize n)
{
  void *out = sf_sip_arena_alloc (a, n);
  if (n > 0)
    memcpy (out, src, n);
  return out;
}

void
sf_sip_arena_clear (SfSipArena *a)
{
  while (a->blocks != NULL) {
    SfSipArenaBlock *next = a->blocks->next;
    g_free (a->blocks);
    a->blocks = next;
  }
  a->p = a->end = NULL;
}
