/*
 * emit.c - ASTRON_EVENT's hot path, on the caller's thread.
 *
 * In the steady state this is: load the site's plan, reserve room in the
 * thread's own ring, read the clock, copy the key, encode the values, publish
 * the record, and poke the flusher only if it sleeps.  No lock, no atomic
 * read-modify-write, no allocation, no system call.  Everything slow (parsing
 * the format, allocating the ring, starting the flusher) happens on a site's
 * or a thread's first call, in emit_slow().
 */
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "encode.h"
#include "pipeline.h"
#include "ring.h"
#include "site.h"

static inline uint64_t count(uint64_t *c)
{
	/* Single writer (this thread); stats read it with a relaxed load.
	 * Returns the new value, so a caller need not load it again. */
	uint64_t v = *c + 1;

	__atomic_store_n(c, v, __ATOMIC_RELAXED);
	return v;
}

/* The site's plan.  Acquire pairs with the release of the compare-and-swap
 * that installs it (site.c): the plan is complete before we read it. */
static inline const astron_site_plan_t *plan_of(astron_site_t *site)
{
	return __atomic_load_n((astron_site_plan_t **)&site->plan_,
			       __ATOMIC_ACQUIRE);
}

/* First call on this thread or at this site: make both exist (the thread's
 * ring in astron_tls_ring, the site's plan in site->plan_); 1 when they do.
 * Out of line, and taking no addresses of the hot path's locals, so those
 * stay in registers there. */
static __attribute__((noinline)) int
emit_slow(astron_site_t *site)
{
	astron_ring_t *r = astron_tls_ring;
	const astron_site_plan_t *sp = plan_of(site);
	const astron_config_t *cfg = astron_config();

	/* Every thread's first call passes here.  Acquire pairs with the
	 * release of the gate in astron_event_open_(): what was set up before
	 * the gate opened (the clock, the pipeline) is visible to this thread
	 * from now on, even though the macro only loads the gate relaxed. */
	(void)__atomic_load_n(&astron_event_gate_, __ATOMIC_ACQUIRE);

	/* Not accepting (not configured, shut down): count the drop without
	 * giving this thread a ring it would never use. */
	if (!r && !astron_pipeline_accepting())
		return 0;
	if (!r)
		r = astron_ring_attach(cfg->ring_size, cfg->max_event);
	if (!sp)
		sp = astron_site_plan(site, cfg->max_event);
	return r && sp;
}

/* The ring is full.  By default the event is dropped (and counted); with
 * ASTRON_EVENT_BLOCK_MS the caller opted into waiting, at most that long,
 * for the flusher to make room: it wakes the flusher and naps briefly
 * between tries.  Never called on the fast path. */
static __attribute__((noinline)) uint8_t *
wait_for_room(astron_ring_t *r, size_t *skip)
{
	int ms = astron_config()->block_ms;
	struct timespec nap = {0, 20000};
	int64_t until;
	uint8_t *p;

	if (ms <= 0)
		return NULL;
	until = astron_mono_ns() + (int64_t)ms * 1000000;
	do {
		astron_pipeline_kick();
		nanosleep(&nap, NULL);
		if ((p = astron_ring_reserve(r, skip)) != NULL)
			return p;
		if (!astron_pipeline_accepting())
			return NULL;
	} while (astron_mono_ns() < until);
	return NULL;
}

ASTRON_EXTERN void astron_event_emit_(astron_site_t *site, const char *key,
				      const char *fmt, ...)
{
	astron_ring_t *r = astron_tls_ring;
	const astron_site_plan_t *sp = plan_of(site);
	astron_rec_t *rec;
	uint8_t *p;
	size_t skip, keylen = 0;
	uint64_t tseq;
	int cut = 0;
	va_list ap;

	(void)fmt; /* the site's own copy was parsed; fmt is for -Wformat */
	if (__builtin_expect(!r || !sp, 0)) {
		int ok = emit_slow(site);

		r = astron_tls_ring;
		sp = plan_of(site);
		if (!ok) {
			if (r)
				count(&r->dropped);
			else
				astron_rings_count_orphan_drop();
			return;
		}
	}
	tseq = count(&r->tseq);
	if (__builtin_expect(sp->drop || !astron_pipeline_accepting(), 0) ||
	    (!(p = astron_ring_reserve(r, &skip)) &&
	     !(p = wait_for_room(r, &skip)))) {
		count(&r->dropped);
		return;
	}
	rec = (astron_rec_t *)p;
	rec->plan = sp;
	rec->tsc = astron_clock_now();
	rec->tseq = tseq;
	p += sizeof *rec;
	if (key) {
		keylen = strnlen(key, r->max_event / ASTRON_KEY_SHARE + 1);
		if (keylen > r->max_event / ASTRON_KEY_SHARE) {
			keylen = r->max_event / ASTRON_KEY_SHARE;
			cut = 1;
		}
		memcpy(p, key, keylen);
		p += keylen;
	}
	va_start(ap, fmt);
	p = astron_encode_fields(sp->fmt, p, (uint8_t *)rec + r->max_event,
				 &cut, &ap);
	va_end(ap);
	rec->size = (uint32_t)(p - (uint8_t *)rec);
	rec->keylen = (uint32_t)keylen | (key ? ASTRON_REC_KEYED : 0) |
		      (cut ? ASTRON_REC_TRUNCATED : 0);
	astron_ring_commit(r, skip, rec->size);
	count(&r->emitted);
	astron_pipeline_poke();
}
