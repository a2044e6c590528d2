/*
 * test_ring.c - the per-thread single-producer ring (lib/ring.h), driven
 * directly, and the accounting of the whole pipeline under a tiny ring.
 *
 * Every test record is an astron_rec_t header followed by a payload whose
 * bytes are a function of (producer id, sequence number, offset): keylen
 * carries the producer id, tseq the sequence number, tsc an FNV-1a checksum
 * of the payload.  The reader recomputes all of it, so a record that is
 * lost, duplicated, reordered, torn or placed at the wrong offset fails.
 *
 * Assertions are made on the test's main thread only: worker threads write
 * the first problem they see into a buffer that the main thread asserts on
 * after joining them.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "astron/event.h"
#include "ring.h"

#define HDR sizeof(astron_rec_t)

/* ------------------------------------------------------------ records */

static uint8_t pattern(uint32_t id, uint64_t seq, size_t i)
{
	return (uint8_t)(id * 131u + seq * 29u + i * 7u + (i >> 8) + 1u);
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* A payload length in 0..max_payload that varies with id and seq. */
static size_t vary_len(uint32_t id, uint64_t seq, size_t max_payload)
{
	uint64_t x = seq * 0x9e3779b97f4a7c15ull + id * 0xbf58476d1ce4e5b9ull;

	x ^= x >> 31;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 29;
	return (size_t)(x % (max_payload + 1));
}

/* Fill a reserved slot with record (id, seq) of plen payload bytes; returns
 * the record's size (header included). */
static size_t fill(uint8_t *slot, uint32_t id, uint64_t seq, size_t plen)
{
	astron_rec_t *rec = (astron_rec_t *)slot;
	uint8_t *p = slot + HDR;

	for (size_t i = 0; i < plen; i++)
		p[i] = pattern(id, seq, i);
	rec->size = (uint32_t)(HDR + plen);
	rec->keylen = id;
	rec->plan = NULL;
	rec->tsc = fnv1a(p, plen);
	rec->tseq = seq;
	return rec->size;
}

/* Write one record; 1 when written, 0 when the ring refused (full). */
static int put(astron_ring_t *r, uint32_t id, uint64_t seq, size_t plen,
	       size_t *skip_out)
{
	size_t skip = (size_t)-1;
	uint8_t *slot = astron_ring_reserve(r, &skip);

	if (!slot)
		return 0;
	astron_ring_commit(r, skip, fill(slot, id, seq, plen));
	if (skip_out)
		*skip_out = skip;
	return 1;
}

static int failed_yet(void);

/* Write one record, yielding while the ring is full (and giving up once
 * the reader has reported a failure, so that a test fails instead of
 * hanging). */
static void put_wait(astron_ring_t *r, uint32_t id, uint64_t seq, size_t plen)
{
	while (!put(r, id, seq, plen, NULL) && !failed_yet())
		sched_yield();
}

/* Check a record against what (id, seq) must hold.  Returns NULL or a
 * description of the first difference (in a static-per-thread buffer). */
static const char *check(const astron_rec_t *rec, uint32_t id, uint64_t seq,
			 size_t plen)
{
	static __thread char why[256];
	const uint8_t *p = (const uint8_t *)rec + HDR;

	if (rec->keylen != id || rec->tseq != seq) {
		snprintf(why, sizeof why, "want record %u/%llu, got %u/%llu", id,
			 (unsigned long long)seq, rec->keylen,
			 (unsigned long long)rec->tseq);
		return why;
	}
	if (rec->size != HDR + plen) {
		snprintf(why, sizeof why, "record %u/%llu: size %u, want %zu", id,
			 (unsigned long long)seq, rec->size, HDR + plen);
		return why;
	}
	for (size_t i = 0; i < plen; i++) {
		if (p[i] != pattern(id, seq, i)) {
			snprintf(why, sizeof why, "record %u/%llu: byte %zu is "
				 "0x%02x, want 0x%02x", id, (unsigned long long)seq,
				 i, p[i], pattern(id, seq, i));
			return why;
		}
	}
	if (rec->tsc != fnv1a(p, plen)) {
		snprintf(why, sizeof why, "record %u/%llu: checksum mismatch", id,
			 (unsigned long long)seq);
		return why;
	}
	return NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The first problem a worker thread saw, asserted on by the main thread. */
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static char fail_msg[512];
static int fail_flag; /* set (release) once fail_msg is written */

static void fail_later(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail_later(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&fail_lock);
	if (!fail_msg[0]) {
		va_start(ap, fmt);
		vsnprintf(fail_msg, sizeof fail_msg, fmt, ap);
		va_end(ap);
		__atomic_store_n(&fail_flag, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&fail_lock);
}

static int failed_yet(void)
{
	return __atomic_load_n(&fail_flag, __ATOMIC_ACQUIRE);
}

static void assert_no_failure(void)
{
	pthread_mutex_lock(&fail_lock);
	cr_assert(fail_msg[0] == '\0', "%s", fail_msg);
	pthread_mutex_unlock(&fail_lock);
}

/* ------------------------------------------------ one producer, in order */

struct one_consumer {
	astron_ring_t *ring;
	uint32_t id;
	uint64_t want;
	size_t max_payload;
	uint64_t got;
};

static void *consume_one(void *arg)
{
	struct one_consumer *c = arg;
	int64_t deadline = now_ms() + 60000; /* a hang, not a speed test */

	while (c->got < c->want && !failed_yet()) {
		const astron_rec_t *rec = astron_ring_peek(c->ring);
		const char *why;

		if (!rec) {
			if (now_ms() > deadline) {
				fail_later("consumer timed out after %llu records",
					   (unsigned long long)c->got);
				break;
			}
			sched_yield();
			continue;
		}
		why = check(rec, c->id, c->got,
			    vary_len(c->id, c->got, c->max_payload));
		if (why) {
			fail_later("%s", why);
			break;
		}
		astron_ring_consume(c->ring);
		c->got++;
	}
	return NULL;
}

Test(ring, single_producer_in_order)
{
	const size_t size = 64 << 10, max_event = 1024;
	astron_ring_t *r = astron_ring_attach(size, max_event);
	struct one_consumer c = {r, 7, 100000, max_event - HDR, 0};
	pthread_t t;

	cr_assert_not_null(r);
	cr_assert_eq(astron_tls_ring, r, "attach sets the thread's ring");
	cr_assert_eq(astron_rings_first(), r, "attach registers the ring");
	cr_assert_eq(r->size, size);
	cr_assert_eq(r->max_event, max_event);
	cr_assert_null(astron_ring_peek(r), "a new ring is empty");

	cr_assert_eq(pthread_create(&t, NULL, consume_one, &c), 0);
	for (uint64_t seq = 0; seq < c.want && !failed_yet(); seq++)
		put_wait(r, c.id, seq, vary_len(c.id, seq, c.max_payload));
	pthread_join(t, NULL);

	assert_no_failure();
	cr_assert_eq(c.got, c.want);
	cr_assert_null(astron_ring_peek(r), "nothing beyond the last record");
	cr_assert_eq(r->tail, r->head, "consumer caught up exactly");
	cr_assert_gt(r->head / size, 100, "the ring wrapped many times "
		     "(head %llu)", (unsigned long long)r->head);
}

/* ------------------------------------------- wrap-around, byte for byte */

/*
 * Single-threaded, so every offset is predictable: a model of the producer
 * (next record at head, skipping a remainder shorter than max_event) says
 * where each record must land and how many bytes reserve() skips.  Producer
 * and consumer alternate in uneven bursts so the ring is sometimes nearly
 * empty and sometimes nearly full when it wraps.
 */
Test(ring, wraps_with_variable_sizes_and_skips)
{
	const size_t size = 4096, max_event = 1024;
	astron_ring_t *r = astron_ring_attach(size, max_event);
	/* Scripted lengths first: records that end exactly at the buffer's
	 * end, that leave exactly max_event bytes (no skip) and that leave 8
	 * bytes (skipped).  The pseudo-random lengths after them also hit a
	 * skip of max_event - 8; the assertions at the end check all three. */
	static const size_t script[] = {
		1024 - HDR, 1024 - HDR, 1024 - HDR, 1024 - HDR, /* ends at 4096 */
		1024 - HDR, 1024 - HDR, 1024 - HDR,		 /* 1024 left */
		1024 - HDR,					 /* at 3072 */
		1016 - HDR, 1024 - HDR, 1024 - HDR, 1024 - HDR, /* 8 left */
		0,						 /* skip 8 */
		1, 7, 9, 1024 - HDR - 7,
	};
	const size_t nscript = sizeof script / sizeof script[0];
	uint64_t model = 0, wseq = 0, rseq = 0, skips = 0;
	uint64_t in_ring[256]; /* offsets of records written, not yet read */
	size_t lens[256], nin = 0;
	int edge_8 = 0, edge_max8 = 0, exact_end = 0;

	cr_assert_not_null(r);
	for (int round = 0; wseq < 80000; round++) {
		int burst = 1 + (int)vary_len(1, (uint64_t)round, 6);
		int rburst = 1 + (int)vary_len(2, (uint64_t)round, 6);

		for (int k = 0; k < burst; k++) {
			size_t plen = wseq < nscript ? script[wseq]
						     : vary_len(3, wseq, max_event - HDR);
			size_t pos = model & (size - 1), skip = 12345;
			size_t want_skip = size - pos < max_event ? size - pos : 0;

			if (!put(r, 3, wseq, plen, &skip))
				break; /* full: the model checks below say why */
			cr_assert_eq(skip, want_skip, "record %llu at %zu: skip %zu, "
				     "want %zu", (unsigned long long)wseq, pos, skip,
				     want_skip);
			if (want_skip) {
				skips++;
				edge_8 |= want_skip == 8;
				edge_max8 |= want_skip == max_event - 8;
			}
			model += want_skip;
			exact_end |= (model & (size - 1)) + ASTRON_ALIGN8(HDR + plen) == size;
			cr_assert_lt(nin, 256);
			in_ring[nin] = model;
			lens[nin++] = plen;
			model += ASTRON_ALIGN8(HDR + plen);
			cr_assert_eq(r->head, model, "head after record %llu",
				     (unsigned long long)wseq);
			wseq++;
		}
		/* reserve() accepts exactly when the model says there is room. */
		{
			size_t pos = model & (size - 1);
			size_t extra = size - pos < max_event ? size - pos : 0;
			uint64_t tail = r->tail;
			int room = model + extra + max_event - tail <= size;
			size_t dummy;
			uint8_t *slot = astron_ring_reserve(r, &dummy);

			cr_assert_eq(slot != NULL, room, "reserve at head %llu tail "
				     "%llu: %s", (unsigned long long)model,
				     (unsigned long long)tail,
				     slot ? "accepted without room" : "refused with room");
		}
		for (int k = 0; k < rburst && nin; k++) {
			const astron_rec_t *rec = astron_ring_peek(r);
			const char *why;

			cr_assert_not_null(rec, "record %llu missing",
					   (unsigned long long)rseq);
			cr_assert_eq((const uint8_t *)rec - r->buf,
				     (ptrdiff_t)(in_ring[0] & (size - 1)),
				     "record %llu read at the wrong offset",
				     (unsigned long long)rseq);
			why = check(rec, 3, rseq, lens[0]);
			cr_assert_null(why, "%s", why);
			astron_ring_consume(r);
			memmove(in_ring, in_ring + 1, --nin * sizeof in_ring[0]);
			memmove(lens, lens + 1, nin * sizeof lens[0]);
			rseq++;
		}
	}
	while (nin) {
		const astron_rec_t *rec = astron_ring_peek(r);
		const char *why;

		cr_assert_not_null(rec);
		why = check(rec, 3, rseq, lens[0]);
		cr_assert_null(why, "%s", why);
		astron_ring_consume(r);
		memmove(in_ring, in_ring + 1, --nin * sizeof in_ring[0]);
		memmove(lens, lens + 1, nin * sizeof lens[0]);
		rseq++;
	}
	cr_assert_null(astron_ring_peek(r));
	cr_assert_eq(rseq, wseq);
	cr_assert_gt(model / size, 1000, "wrapped %llu times",
		     (unsigned long long)(model / size));
	cr_assert_gt(skips, 1000, "remainders skipped: %llu",
		     (unsigned long long)skips);
	cr_assert(edge_8 && edge_max8 && exact_end,
		  "edge cases hit: skip 8 %d, skip max-8 %d, exact end %d",
		  edge_8, edge_max8, exact_end);
	/* After the reader skipped the last remainder, tail and head agree. */
	cr_assert_eq(r->tail, r->head);
}

/* Producer and consumer on two threads with a ring of four max_events:
 * nearly every record wraps or waits, so ordering races would show. */
Test(ring, wraps_concurrently_in_a_tiny_ring)
{
	const size_t size = 4096, max_event = 1024;
	astron_ring_t *r = astron_ring_attach(size, max_event);
	struct one_consumer c = {r, 11, 150000, max_event - HDR, 0};
	pthread_t t;

	cr_assert_not_null(r);
	cr_assert_eq(pthread_create(&t, NULL, consume_one, &c), 0);
	for (uint64_t seq = 0; seq < c.want && !failed_yet(); seq++)
		put_wait(r, c.id, seq, vary_len(c.id, seq, c.max_payload));
	pthread_join(t, NULL);
	assert_no_failure();
	cr_assert_eq(c.got, c.want);
	cr_assert_null(astron_ring_peek(r));
	cr_assert_gt(r->head / size, 5000, "wrapped %llu times",
		     (unsigned long long)(r->head / size));
}

/* ---------------------------------------------------------- full ring */

/*
 * Fixed 256-byte records in a 64 KiB ring with max_event 1 KiB: reserve()
 * needs max_event free bytes, so with the consumer stopped exactly
 * (65536 - 1024) / 256 + 1 = 253 records fit, and every later attempt is
 * refused.  The 253rd record ends at 64768, leaving 768 bytes (< max_event)
 * that the next record skips: it then needs tail >= 1024, i.e. exactly four
 * records consumed - three are one too few.
 */
struct stopped_consumer {
	astron_ring_t *ring;
	uint64_t next;	 /* next sequence number expected */
	uint64_t target; /* consume until `next` reaches this */
	int quit;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static void *consume_on_demand(void *arg)
{
	struct stopped_consumer *c = arg;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (c->next == c->target && !c->quit)
			pthread_cond_wait(&c->cond, &c->lock);
		if (c->next == c->target && c->quit)
			break;
		pthread_mutex_unlock(&c->lock);
		const astron_rec_t *rec = astron_ring_peek(c->ring);
		pthread_mutex_lock(&c->lock);
		if (!rec) {
			fail_later("record %llu missing", (unsigned long long)c->next);
			c->target = c->next;
		} else {
			const char *why = check(rec, 5, c->next, 256 - HDR);
			if (why) {
				fail_later("%s", why);
				c->target = c->next;
			} else {
				astron_ring_consume(c->ring);
				c->next++;
			}
		}
		pthread_cond_broadcast(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Let the consumer thread take records until it has read `upto`. */
static void consume_until(struct stopped_consumer *c, uint64_t upto)
{
	pthread_mutex_lock(&c->lock);
	c->target = upto;
	pthread_cond_broadcast(&c->cond);
	while (c->next < c->target)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
	assert_no_failure();
	cr_assert_eq(c->next, upto);
}

Test(ring, full_ring_refuses_then_resumes)
{
	const size_t size = 64 << 10, max_event = 1024, rec = 256;
	const uint64_t fit = (size - max_event) / rec + 1;
	astron_ring_t *r = astron_ring_attach(size, max_event);
	struct stopped_consumer c = {r, 0, 0, 0, PTHREAD_MUTEX_INITIALIZER,
				     PTHREAD_COND_INITIALIZER};
	uint64_t seq = 0, accepted = 0, refused = 0;
	pthread_t t;

	cr_assert_not_null(r);
	cr_assert_eq(fit, 253);
	cr_assert_eq(pthread_create(&t, NULL, consume_on_demand, &c), 0);

	/* Consumer stopped: 1000 attempts, exactly `fit` accepted. */
	for (int i = 0; i < 1000; i++) {
		if (put(r, 5, seq, rec - HDR, NULL)) {
			accepted++;
			seq++;
		} else {
			refused++;
		}
	}
	cr_assert_eq(accepted, fit, "accepted %llu records into an idle ring",
		     (unsigned long long)accepted);
	cr_assert_eq(refused, 1000 - fit);
	cr_assert_eq(r->head, fit * rec);

	/* Three records freed are 768 bytes: not enough (the next record
	 * wraps, skipping 768, and needs 1024 free at offset 0). */
	consume_until(&c, 3);
	cr_assert_eq(put(r, 5, seq, rec - HDR, NULL), 0,
		     "reserve accepted with tail %llu head %llu",
		     (unsigned long long)r->tail, (unsigned long long)r->head);
	consume_until(&c, 4);
	{
		size_t skip = 0;
		cr_assert_eq(put(r, 5, seq, rec - HDR, &skip), 1,
			     "one more record freed must make room");
		cr_assert_eq(skip, size - fit * rec, "skipped the 768-byte tail");
		seq++;
	}
	cr_assert_eq(put(r, 5, seq, rec - HDR, NULL), 0,
		     "room for exactly one record");

	/* Drain everything: writing resumes, and wraps, without loss. */
	consume_until(&c, seq);
	for (int i = 0; i < 2000; i++) {
		if (!put(r, 5, seq, rec - HDR, NULL)) {
			consume_until(&c, seq);
			cr_assert_eq(put(r, 5, seq, rec - HDR, NULL), 1,
				     "an empty ring refused record %llu",
				     (unsigned long long)seq);
		}
		seq++;
	}
	consume_until(&c, seq);
	pthread_mutex_lock(&c.lock);
	c.quit = 1;
	pthread_cond_broadcast(&c.cond);
	pthread_mutex_unlock(&c.lock);
	pthread_join(t, NULL);
	assert_no_failure();
	cr_assert_eq(c.next, fit + 1 + 2000);
	cr_assert_null(astron_ring_peek(r));
}

/* ------------------------------------------ many producers, one reader */

#define NPROD 6
#define PER_PROD 200000
#define MP_RING (16u << 10)
#define MP_MAX 512u

static astron_ring_t *prod_ring[NPROD]; /* published with release */

static void *produce_many(void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg;
	astron_ring_t *r = astron_ring_attach(MP_RING, MP_MAX);

	if (!r || astron_tls_ring != r) {
		fail_later("producer %u: attach failed", id);
		return NULL;
	}
	__atomic_store_n(&prod_ring[id], r, __ATOMIC_RELEASE);
	for (uint64_t seq = 0; seq < PER_PROD && !failed_yet(); seq++) {
		/* Mostly small records, some near max_event. */
		size_t plen = vary_len(id, seq, seq % 16 ? 64 : MP_MAX - HDR);
		put_wait(r, id, seq, plen);
	}
	return NULL;
}

static uint64_t mp_next[NPROD];

static void *consume_all_rings(void *arg)
{
	uint64_t total = 0, want = (uint64_t)NPROD * PER_PROD;
	int64_t deadline = now_ms() + 60000; /* a hang, not a speed test */

	(void)arg;
	while (total < want && !failed_yet()) {
		size_t moved = 0;

		for (astron_ring_t *r = astron_rings_first(); r; r = r->next) {
			const astron_rec_t *rec;
			int n = 0;

			while (n < 256 && (rec = astron_ring_peek(r))) {
				uint32_t id = rec->keylen;
				uint64_t seq;
				const char *why;

				if (id >= NPROD ||
				    __atomic_load_n(&prod_ring[id], __ATOMIC_ACQUIRE) != r) {
					fail_later("record of producer %u in the "
						   "wrong ring", id);
					return NULL;
				}
				seq = mp_next[id];
				why = check(rec, id, seq,
					    vary_len(id, seq, seq % 16 ? 64 : MP_MAX - HDR));
				if (why) {
					fail_later("%s", why);
					return NULL;
				}
				astron_ring_consume(r);
				mp_next[id]++;
				n++;
			}
			moved += (size_t)n;
			total += (uint64_t)n;
		}
		if (!moved) {
			if (now_ms() > deadline) {
				fail_later("consumer timed out at %llu of %llu",
					   (unsigned long long)total,
					   (unsigned long long)want);
				return NULL;
			}
			sched_yield();
		}
	}
	return NULL;
}

Test(ring, many_producers_one_consumer)
{
	pthread_t prod[NPROD], cons;
	astron_ring_totals_t t;

	cr_assert_null(astron_rings_first(), "no ring before the test");
	cr_assert_eq(pthread_create(&cons, NULL, consume_all_rings, NULL), 0);
	for (uintptr_t i = 0; i < NPROD; i++)
		cr_assert_eq(pthread_create(&prod[i], NULL, produce_many,
					    (void *)i), 0);
	for (int i = 0; i < NPROD; i++)
		pthread_join(prod[i], NULL);
	pthread_join(cons, NULL);
	assert_no_failure();

	for (int i = 0; i < NPROD; i++) {
		cr_assert_eq(mp_next[i], PER_PROD, "producer %d: %llu records read",
			     i, (unsigned long long)mp_next[i]);
		cr_assert_null(astron_ring_peek(prod_ring[i]),
			       "producer %d: records beyond the last", i);
		cr_assert_eq(__atomic_load_n(&prod_ring[i]->orphaned,
					     __ATOMIC_ACQUIRE), 1,
			     "producer %d exited: its ring is orphaned", i);
	}
	/* Every ring is listed once. */
	{
		int seen[NPROD] = {0}, n = 0;
		for (astron_ring_t *r = astron_rings_first(); r; r = r->next, n++)
			for (int i = 0; i < NPROD; i++)
				seen[i] += r == prod_ring[i];
		cr_assert_eq(n, NPROD);
		for (int i = 0; i < NPROD; i++)
			cr_assert_eq(seen[i], 1, "ring of producer %d listed %d "
				     "times", i, seen[i]);
	}
	astron_rings_totals(&t);
	cr_assert_eq(t.rings, NPROD);
	cr_assert_eq(t.bytes, (uint64_t)NPROD * MP_RING);
	/* All drained and orphaned: reaping frees every one. */
	astron_rings_reap();
	astron_rings_totals(&t);
	cr_assert_eq(t.rings, 0);
	cr_assert_eq(t.bytes, 0);
	cr_assert_null(astron_rings_first());
}

/* ------------------------------------------------------- thread exit */

struct exiting {
	astron_ring_t *ring;
	int nrec;
	int attach_only;
};

static void *produce_and_exit(void *arg)
{
	struct exiting *e = arg;
	astron_ring_t *r = astron_ring_attach(64 << 10, 1024);

	e->ring = r;
	if (!r || e->attach_only)
		return NULL;
	for (int i = 0; i < e->nrec; i++)
		if (!put(r, 9, (uint64_t)i, vary_len(9, (uint64_t)i, 200), NULL))
			fail_later("record %d refused", i);
	/* Stand in for the emit path's counters, to see them survive reap. */
	r->emitted = (uint64_t)e->nrec;
	r->dropped = 3;
	return NULL;
}

Test(ring, exited_thread_ring_is_drained_then_reaped)
{
	struct exiting e = {NULL, 40, 0};
	astron_ring_t *mine = astron_ring_attach(8192, 1024);
	astron_ring_totals_t t;
	pthread_t th;

	cr_assert_not_null(mine);
	cr_assert_eq(pthread_create(&th, NULL, produce_and_exit, &e), 0);
	pthread_join(th, NULL);
	assert_no_failure();
	cr_assert_not_null(e.ring);
	cr_assert_neq(e.ring, mine);
	cr_assert_eq(astron_tls_ring, mine, "another thread's attach leaves "
		     "this thread's ring alone");
	cr_assert_eq(__atomic_load_n(&e.ring->orphaned, __ATOMIC_ACQUIRE), 1,
		     "the ring of an exited thread is orphaned");
	cr_assert_eq(mine->orphaned, 0);

	astron_rings_totals(&t);
	cr_assert_eq(t.rings, 2);
	cr_assert_eq(t.bytes, (64u << 10) + 8192u);
	cr_assert_eq(t.emitted, 40);
	cr_assert_eq(t.dropped, 3);

	/* Not drained: reap keeps it, and its records are intact. */
	astron_rings_reap();
	astron_rings_totals(&t);
	cr_assert_eq(t.rings, 2, "reap freed a ring that still held records");
	for (int i = 0; i < 20; i++) {
		const astron_rec_t *rec = astron_ring_peek(e.ring);
		const char *why;

		cr_assert_not_null(rec, "record %d of the exited thread", i);
		why = check(rec, 9, (uint64_t)i, vary_len(9, (uint64_t)i, 200));
		cr_assert_null(why, "%s", why);
		astron_ring_consume(e.ring);
	}
	astron_rings_reap();
	astron_rings_totals(&t);
	cr_assert_eq(t.rings, 2, "reap freed a half-drained ring");
	for (int i = 20; i < 40; i++) {
		const astron_rec_t *rec = astron_ring_peek(e.ring);
		const char *why;

		cr_assert_not_null(rec, "record %d of the exited thread", i);
		why = check(rec, 9, (uint64_t)i, vary_len(9, (uint64_t)i, 200));
		cr_assert_null(why, "%s", why);
		astron_ring_consume(e.ring);
	}
	cr_assert_null(astron_ring_peek(e.ring));

	/* Drained: reap frees it, the live (empty) ring stays, and the
	 * counters of the freed ring are kept. */
	astron_rings_reap();
	astron_rings_totals(&t);
	cr_assert_eq(t.rings, 1);
	cr_assert_eq(t.bytes, 8192);
	cr_assert_eq(astron_rings_first(), mine);
	cr_assert_null(mine->next);
	cr_assert_eq(t.emitted, 40, "totals went backwards after reap");
	cr_assert_eq(t.dropped, 3);

	/* A thread that exits without writing leaves an empty orphan that
	 * the next reap frees at once. */
	e = (struct exiting){NULL, 0, 1};
	cr_assert_eq(pthread_create(&th, NULL, produce_and_exit, &e), 0);
	pthread_join(th, NULL);
	astron_rings_totals(&t);
	cr_assert_eq(t.rings, 2);
	astron_rings_reap();
	astron_rings_totals(&t);
	cr_assert_eq(t.rings, 1);
	cr_assert_eq(astron_rings_first(), mine);
	cr_assert_eq(t.emitted, 40);

	/* A live ring is never reaped, even when empty. */
	astron_rings_reap();
	cr_assert_eq(astron_rings_first(), mine);
}

/* -------------------------------------- the public API with a tiny ring */

#define EMITTERS 8
#define CALLS_PER_THREAD 25000

static pthread_barrier_t emitted_all, may_exit;

static void *emit_many(void *arg)
{
	int id = (int)(intptr_t)arg;
	static const char pad[] = "0123456789abcdef0123456789abcdef0123456789"
				  "abcdef0123456789abcdef";

	for (int i = 0; i < CALLS_PER_THREAD; i++)
		ASTRON_EVENT("astron.test.ring", "thread=%d i=%d pad=%s kind=tiny",
			     id, i, pad + (i % 64));
	pthread_barrier_wait(&emitted_all);
	pthread_barrier_wait(&may_exit);
	return NULL;
}

static void quiet_log(int level, const char *msg, void *opaque)
{
	(void)level;
	(void)msg;
	__atomic_fetch_add((int *)opaque, 1, __ATOMIC_RELAXED);
}

Test(ring, public_api_accounting_with_tiny_rings, .timeout = 30)
{
	pthread_t th[EMITTERS];
	astron_event_stats_t st, after;
	const uint64_t calls = (uint64_t)EMITTERS * CALLS_PER_THREAD;
	int logs = 0;

	setenv("KAFKA_ENABLE", "1", 1);
	setenv("KAFKA_SERVERS", "mock", 1);
	setenv("ASTRON_EVENT_RING_SIZE", "64k", 1);
	setenv("ASTRON_EVENT_MAX_SIZE", "4k", 1);
	astron_event_set_log_cb(quiet_log, &logs);
	pthread_barrier_init(&emitted_all, NULL, EMITTERS + 1);
	pthread_barrier_init(&may_exit, NULL, EMITTERS + 1);

	for (intptr_t i = 0; i < EMITTERS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, emit_many, (void *)i), 0);
	pthread_barrier_wait(&emitted_all);

	cr_assert_eq(astron_event_stats(&st), 0);
	cr_assert_eq(st.emitted + st.dropped, calls,
		     "emitted %llu + dropped %llu != %llu calls",
		     (unsigned long long)st.emitted,
		     (unsigned long long)st.dropped, (unsigned long long)calls);
	cr_assert_gt(st.emitted, 0);
	cr_assert_eq(st.threads, EMITTERS, "one ring per emitting thread");
	cr_assert_eq(st.ring_bytes, EMITTERS * (64u << 10),
		     "rings sized by ASTRON_EVENT_RING_SIZE");
	cr_assert_eq(st.format_errors, 0);
	cr_assert_eq(st.truncated, 0);

	pthread_barrier_wait(&may_exit);
	for (int i = 0; i < EMITTERS; i++)
		pthread_join(th[i], NULL);

	cr_assert_eq(astron_event_flush(10000), 0);
	cr_assert_eq(astron_event_stats(&after), 0);
	cr_assert_eq(after.emitted, st.emitted, "emitted changed after the "
		     "threads exited (%llu -> %llu)",
		     (unsigned long long)st.emitted,
		     (unsigned long long)after.emitted);
	cr_assert_eq(after.dropped, st.dropped);
	cr_assert_eq(after.emitted, after.delivered + after.failed,
		     "emitted %llu != delivered %llu + failed %llu",
		     (unsigned long long)after.emitted,
		     (unsigned long long)after.delivered,
		     (unsigned long long)after.failed);
	cr_assert_eq(after.failed, 0, "the mock cluster refused events");
	pthread_barrier_destroy(&emitted_all);
	pthread_barrier_destroy(&may_exit);
}
