/*
 * ring.c - per-thread rings and the registry that lists them.
 *
 * Locking rules of the registry: a new ring is pushed at the head of the list
 * with the lock held and published with a release store, so the flusher can
 * walk the list without the lock (it acquires the head).  Only the flusher
 * unlinks rings (those whose thread exited and that it has drained), and it
 * does so with the lock held, so a stats reader (who also holds the lock)
 * never sees a freed ring.  Counters of freed rings are folded into `retired`
 * so the totals never go backwards.
 */
#include "ring.h"

#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

__thread astron_ring_t *astron_tls_ring __attribute__((tls_model("initial-exec")));

static struct {
	pthread_mutex_t lock;
	astron_ring_t *first;
	astron_ring_totals_t retired;
	uint64_t orphan_drops; /* drops with no ring to count them in */
	pthread_key_t exit_key;
	int key_made;
	pthread_once_t key_once;
} reg = {PTHREAD_MUTEX_INITIALIZER, NULL, {0}, 0, 0, 0, PTHREAD_ONCE_INIT};

/* Thread exit: leave the ring for the flusher, which still delivers what is
 * in it and then frees it.  Release pairs with the flusher's acquire of
 * `orphaned`: the final head is visible before the flag is. */
static void on_thread_exit(void *arg)
{
	astron_ring_t *r = arg;

	if (astron_tls_ring == r)
		astron_tls_ring = NULL;
	__atomic_store_n(&r->orphaned, 1, __ATOMIC_RELEASE);
}

static void make_key(void)
{
	reg.key_made = pthread_key_create(&reg.exit_key, on_thread_exit) == 0;
}

astron_ring_t *astron_ring_attach(size_t size, size_t max_event)
{
	astron_ring_t *r;

	pthread_once(&reg.key_once, make_key);
	if (posix_memalign((void **)&r, ASTRON_CACHELINE, sizeof *r))
		return NULL;
	memset(r, 0, sizeof *r);
	if (posix_memalign((void **)&r->buf, 4096, size)) {
		free(r);
		return NULL;
	}
	/* Touch every page now, so the hot path never takes a page fault. */
	memset(r->buf, 0, size);
	r->size = size;
	r->mask = size - 1;
	r->max_event = max_event;
	r->tid = (int)syscall(SYS_gettid);

	pthread_mutex_lock(&reg.lock);
	r->next = reg.first;
	/* Release pairs with the flusher's acquire in astron_rings_first(). */
	__atomic_store_n(&reg.first, r, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&reg.lock);

	if (reg.key_made)
		pthread_setspecific(reg.exit_key, r);
	astron_tls_ring = r;
	return r;
}

const astron_rec_t *astron_ring_peek(astron_ring_t *r)
{
	uint64_t tail = r->tail;

	for (;;) {
		size_t pos = tail & r->mask, contig = r->size - pos;
		const astron_rec_t *rec;

		if (tail == r->head_seen) {
			/* Acquire pairs with the producer's release in commit. */
			r->head_seen = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
			if (tail == r->head_seen) {
				if (tail != r->tail)
					__atomic_store_n(&r->tail, tail, __ATOMIC_RELEASE);
				return NULL;
			}
		}
		rec = (const astron_rec_t *)(r->buf + pos);
		if (contig < r->max_event) {
			tail += contig; /* the producer wrapped here */
			continue;
		}
		r->next_tail = tail + ASTRON_ALIGN8(rec->size);
		return rec;
	}
}

void astron_ring_consume(astron_ring_t *r)
{
	/* Release pairs with the producer's acquire in reserve: we are done
	 * reading the record before the producer may overwrite it. */
	__atomic_store_n(&r->tail, r->next_tail, __ATOMIC_RELEASE);
}

astron_ring_t *astron_rings_first(void)
{
	return __atomic_load_n(&reg.first, __ATOMIC_ACQUIRE);
}

static void add_counts(astron_ring_totals_t *t, const astron_ring_t *r)
{
	t->emitted += __atomic_load_n(&r->emitted, __ATOMIC_RELAXED);
	t->dropped += __atomic_load_n(&r->dropped, __ATOMIC_RELAXED);
}

void astron_rings_reap(void)
{
	astron_ring_t **pp, *r;

	pthread_mutex_lock(&reg.lock);
	pp = &reg.first;
	while ((r = *pp) != NULL) {
		if (__atomic_load_n(&r->orphaned, __ATOMIC_ACQUIRE) &&
		    !astron_ring_peek(r)) {
			*pp = r->next;
			add_counts(&reg.retired, r);
			free(r->buf);
			free(r);
			continue;
		}
		pp = &r->next;
	}
	pthread_mutex_unlock(&reg.lock);
}

void astron_rings_totals(astron_ring_totals_t *t)
{
	const astron_ring_t *r;

	pthread_mutex_lock(&reg.lock);
	*t = reg.retired;
	t->dropped += __atomic_load_n(&reg.orphan_drops, __ATOMIC_RELAXED);
	for (r = reg.first; r; r = r->next) {
		add_counts(t, r);
		t->rings++;
		t->bytes += r->size;
	}
	pthread_mutex_unlock(&reg.lock);
}

void astron_rings_count_orphan_drop(void)
{
	__atomic_fetch_add(&reg.orphan_drops, 1, __ATOMIC_RELAXED);
}

void astron_rings_atfork_prepare(void)
{
	pthread_mutex_lock(&reg.lock);
}

void astron_rings_atfork_parent(void)
{
	pthread_mutex_unlock(&reg.lock);
}

/* In the child only the forking thread exists.  The parent's rings hold the
 * parent's events, which the parent delivers: the child must neither send
 * them again nor count them, so it frees them and starts from nothing. */
void astron_rings_atfork_child(void)
{
	astron_ring_t *r = reg.first, *next;

	for (; r; r = next) {
		next = r->next;
		free(r->buf);
		free(r);
	}
	reg.first = NULL;
	memset(&reg.retired, 0, sizeof reg.retired);
	reg.orphan_drops = 0;
	astron_tls_ring = NULL;
	if (reg.key_made)
		pthread_setspecific(reg.exit_key, NULL);
	pthread_mutex_init(&reg.lock, NULL);
}
