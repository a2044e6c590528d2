/*
 * test_alloc.c - in the steady state an ASTRON_EVENT allocates nothing on the
 * emitting thread.
 *
 * The program interposes the allocator (malloc, calloc, realloc,
 * posix_memalign, aligned_alloc, memalign, valloc) and counts the calls made
 * by a thread while its flag is set.  A site's and a thread's first event may
 * allocate (the plan, the ring), so every call site runs once before the
 * count starts; then 10000 events of several formats are emitted with the
 * flag set and the count must be 0.  The events must also be accepted and
 * delivered, so the count cannot be 0 because nothing happened.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#include <astron/event.h>

/* Under ASan, TSan or MSan the sanitizer owns the allocator: no count.  GCC
 * says so with __SANITIZE_*__, clang with __has_feature. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ALLOC_COUNTED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
	__has_feature(memory_sanitizer)
#define ALLOC_COUNTED 0
#endif
#endif
#ifndef ALLOC_COUNTED
#define ALLOC_COUNTED 1
#endif

static __thread int counting;
static __thread uint64_t allocs;

#if ALLOC_COUNTED
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void *__libc_valloc(size_t n);

static inline void seen(void)
{
	if (counting)
		allocs++;
}

void *malloc(size_t n)
{
	seen();
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	seen();
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	seen();
	return __libc_realloc(p, n);
}

void *memalign(size_t align, size_t n)
{
	seen();
	return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
	seen();
	return __libc_memalign(align, n);
}

void *valloc(size_t n)
{
	seen();
	return __libc_valloc(n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p;

	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	seen();
	p = __libc_memalign(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}
#endif

#define FORMATS 6

/* One event of format `which` (0..FORMATS-1); every format has one call
 * site, so a warm-up pass over all of them builds every plan. */
static void emit(int which, int i)
{
	static const char *const words[4] = {
		"alpha", "ünïcödé", "", "a longer string value, forty bytes"};
	const char *w = words[i & 3];

	switch (which) {
	case 0:
		ASTRON_EVENT("alloc.test", "k=%s n=%d", w, i);
		break;
	case 1:
		ASTRON_EVENT("alloc.test", "a=%d b=%u c=%lld d=%zu e=%hhd f=%lx",
			     -i, (unsigned)i, (long long)i << 33, (size_t)i,
			     (signed char)i, (unsigned long)i);
		break;
	case 2:
		ASTRON_EVENT("alloc.test", "s=%s t=%.3s u=%s v=%.*s", w, w,
			     i & 1 ? NULL : w, 2, w);
		break;
	case 3:
		ASTRON_EVENT("alloc.test", "f=%f g=%e h=%Lf", i * 0.5, -i * 1e300,
			     (long double)i / 3);
		break;
	case 4:
		ASTRON_EVENT_KEYED("alloc.test", w, "trace=%s span=%llu ok=%d",
				   w, (unsigned long long)i, i & 1);
		break;
	default:
		ASTRON_EVENT("alloc.test", "c=%c p=%p kind=literal", 'a' + i % 26,
			     (void *)&allocs);
		break;
	}
}

Test(alloc, steady_state_events_allocate_nothing, .timeout = 120)
{
	enum { EVENTS = 10000, BATCH = 1000 };
	void *(*volatile do_malloc)(size_t) = malloc;
	astron_event_stats_t before, after;
	uint64_t counted = 0;
	void *p;

	if (!ALLOC_COUNTED)
		cr_skip_test("sanitizer build: the allocator cannot be interposed");
	setenv("KAFKA_ENABLE", "1", 1);
	setenv("KAFKA_SERVERS", "mock:1", 1);
	unsetenv("ASTRON_EVENT_SINK");

	/* The counter counts: one malloc with the flag set is one. */
	counting = 1;
	p = do_malloc(16);
	counting = 0;
	free(p);
	cr_assert_eq(allocs, 1, "the interposed malloc was not called");
	allocs = 0;

	/* Warm-up: every site's plan, this thread's ring, the producer. */
	cr_assert_not_null(astron_event_servers(30000));
	for (int i = 0; i < 64; i++)
		emit(i % FORMATS, i);
	cr_assert_eq(astron_event_flush(30000), 0);
	astron_event_stats(&before);

	/* Batches that fit in the ring; the flush between them is not an
	 * event and is not counted. */
	for (int i = 0; i < EVENTS; i += BATCH) {
		counting = 1;
		for (int j = i; j < i + BATCH; j++)
			emit(j % FORMATS, j);
		counting = 0;
		counted += allocs;
		allocs = 0;
		cr_assert_eq(astron_event_flush(30000), 0);
	}

	astron_event_stats(&after);
	cr_expect_eq(counted, 0, "%llu heap allocations in %d steady-state events",
		     (unsigned long long)counted, EVENTS);
	cr_assert_eq(after.emitted - before.emitted, EVENTS,
		     "emitted %llu of %d (dropped %llu)",
		     (unsigned long long)(after.emitted - before.emitted), EVENTS,
		     (unsigned long long)(after.dropped - before.dropped));
	cr_assert_eq(after.dropped, before.dropped);
	cr_assert_eq(after.delivered - before.delivered, EVENTS,
		     "delivered %llu of %d (failed %llu)",
		     (unsigned long long)(after.delivered - before.delivered),
		     EVENTS, (unsigned long long)(after.failed - before.failed));
	cr_assert_eq(after.failed, before.failed);
}
