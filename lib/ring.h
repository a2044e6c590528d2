/*
 * ring.h - one lock-free single-producer ring per emitting thread.
 *
 * Each thread that emits gets its own ring the first time it emits (the only
 * allocation it ever makes) and from then on writes records into it with no
 * lock, no atomic read-modify-write and no system call: the producer owns
 * `head`, the flusher owns `tail`, and each publishes its index with a release
 * store that the other side reads with an acquire load.  Per-thread rings keep
 * each thread's events in order for free and keep emitting threads from
 * contending on a shared cache line.
 *
 * A record is 8-byte aligned: an astron_rec_t header, the message key, then
 * the msgpack key/value pairs.  The producer only accepts an event when a
 * whole max_event bytes are free and contiguous, so it can encode without
 * checking bounds on every byte; a record therefore never starts less than
 * max_event bytes before the end of the buffer, and both sides skip such a
 * remainder and continue at offset 0 (no wrap marker is needed).
 */
#ifndef ASTRON_RING_H
#define ASTRON_RING_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "format.h"

#define ASTRON_CACHELINE 64
#define ASTRON_ALIGN8(n) (((n) + 7) & ~(size_t)7)

/* keylen's top bits carry per-event flags. */
#define ASTRON_REC_TRUNCATED 0x80000000u
#define ASTRON_REC_KEYED 0x40000000u
#define ASTRON_REC_KEYLEN_MASK 0x3fffffffu

struct astron_site_plan;

typedef struct astron_rec {
	uint32_t size;	  /* bytes of the record, header included */
	uint32_t keylen;  /* key length | ASTRON_REC_* flags */
	const struct astron_site_plan *plan;
	uint64_t tsc;	  /* raw clock at the call (clock.h) */
	uint64_t tseq;	  /* the thread's call number, drops included */
} astron_rec_t;

typedef struct astron_ring {
	/* Written by the producing thread only. */
	uint64_t head;	    /* bytes ever committed (release) */
	uint64_t tail_seen; /* last tail the producer read */
	uint64_t tseq;	    /* calls made on this thread while enabled */
	uint64_t emitted;   /* these two are read by stats (relaxed) */
	uint64_t dropped;

	/* Written by the flusher only: its own cache line. */
	_Alignas(ASTRON_CACHELINE) uint64_t tail; /* bytes ever consumed */
	uint64_t head_seen; /* last head the flusher read */
	uint64_t next_tail; /* tail after the record being sent */

	/* Set once at creation, then read-only; links owned by the registry. */
	_Alignas(ASTRON_CACHELINE) uint8_t *buf;
	size_t size;
	size_t mask;
	size_t max_event;
	int tid;
	int orphaned; /* the thread exited (release); freed once drained */
	struct astron_ring *next;
} astron_ring_t;

/* The calling thread's ring, NULL until its first event. */
extern __thread astron_ring_t *astron_tls_ring
	__attribute__((tls_model("initial-exec")));

/* Give the calling thread a ring (slow path, once per thread).  NULL when out
 * of memory. */
astron_ring_t *astron_ring_attach(size_t size, size_t max_event);

/* Producer: room for one event of up to max_event bytes, or NULL when the
 * ring is full.  *skip receives the bytes left unused before a wrap. */
static inline uint8_t *astron_ring_reserve(astron_ring_t *r, size_t *skip)
{
	uint64_t head = r->head;
	size_t contig = r->size - (head & r->mask);
	size_t extra = contig < r->max_event ? contig : 0;

	if (head + extra + r->max_event - r->tail_seen > r->size) {
		/* Acquire pairs with the flusher's release of tail: the space
		 * it frees is no longer read once we see it. */
		r->tail_seen = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
		if (head + extra + r->max_event - r->tail_seen > r->size)
			return NULL;
	}
	*skip = extra;
	return r->buf + ((head + extra) & r->mask);
}

/* Producer: publish the record of `len` bytes returned by reserve.  Release
 * pairs with the flusher's acquire of head: every byte of the record is
 * visible before the new head is. */
static inline void astron_ring_commit(astron_ring_t *r, size_t skip, size_t len)
{
	uint64_t head = r->head + skip + ASTRON_ALIGN8(len);

	__atomic_store_n(&r->head, head, __ATOMIC_RELEASE);
	/* The next event lands here: ask for the line (for writing) now, while
	 * the caller goes on with its work, so a cold line does not stall the
	 * next call. */
	__builtin_prefetch(r->buf + (head & r->mask), 1, 3);
	__builtin_prefetch(r->buf + ((head + 64) & r->mask), 1, 3);
}

/* Consumer: the oldest unconsumed record, or NULL when the ring is empty. */
const astron_rec_t *astron_ring_peek(astron_ring_t *r);

/* Consumer: free the record returned by the last peek. */
void astron_ring_consume(astron_ring_t *r);

/* Registry of all rings (see ring.c for the locking rules). */
astron_ring_t *astron_rings_first(void);
void astron_rings_reap(void); /* flusher: free drained rings of dead threads */

typedef struct astron_ring_totals {
	uint64_t emitted, dropped;
	uint64_t rings, bytes;
} astron_ring_totals_t;

void astron_rings_totals(astron_ring_totals_t *t);

/* Count a dropped event that has no ring to be counted in. */
void astron_rings_count_orphan_drop(void);

/* After fork(), in the child: forget the parent's rings (their events belong
 * to the parent, which delivers them). */
void astron_rings_atfork_prepare(void);
void astron_rings_atfork_parent(void);
void astron_rings_atfork_child(void);


#endif /* ASTRON_RING_H */
