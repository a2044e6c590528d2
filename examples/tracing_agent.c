/*
 * tracing_agent.c - the inside of a tracing agent: span start and end
 * events, keyed by trace id, from several worker threads, and what the
 * instrumentation costs the threads that do the work.
 *
 * Each worker serves requests.  A request is a trace: a root span and two
 * child spans (a cache lookup and a query).  Every span emits
 *
 *     phase=start span=%llu parent=%llu name=%s
 *     phase=end   span=%llu dur_us=%lld ok=%d
 *
 * on the topic "agent.spans" with the trace id as the Kafka key, so all
 * the spans of one trace land in one partition, in order.  The worker
 * times each ASTRON_EVENT call with clock_gettime() and, at the end, the
 * agent prints the cost per event (the timer's own cost subtracted), the
 * library's counters, and exits 0 only if every event was delivered.  One
 * "agent.status" event marks the start: the first event of a process starts
 * the pipeline, a one-time cost shown on its own.
 *
 * With no environment it runs on the embedded default (KAFKA_ENABLE=1,
 * KAFKA_SERVERS=mock); set KAFKA_SERVERS to use a real cluster.
 *
 *     cc tracing_agent.c $(pkg-config --cflags --libs astron-event) -pthread
 */
#include <astron/event.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOPIC "agent.spans"
#define WORKERS 4
#define REQUESTS 1000		/* per worker */
#define SPANS_PER_REQUEST 3	/* root, cache, query */
#define EVENTS_PER_WORKER (REQUESTS * SPANS_PER_REQUEST * 2)

typedef struct worker {
	int id;
	uint64_t next_span;
	int64_t cost_ns[EVENTS_PER_WORKER]; /* one sample per ASTRON_EVENT */
	int ncost;
	int failed_requests;
} worker_t;

typedef struct span {
	uint64_t id, parent;
	int64_t start_ns;
} span_t;

static int64_t timer_cost_ns; /* what one clock_gettime pair costs */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The timer's own cost: the least of many back-to-back readings, which is
 * what a reading adds to the interval it brackets. */
static int64_t measure_timer_cost(void)
{
	int64_t best = INT64_MAX;

	for (int i = 0; i < 10000; i++) {
		int64_t a = now_ns(), b = now_ns();
		if (b - a < best)
			best = b - a;
	}
	return best;
}

/* Record the cost of one instrumentation call. */
static void account(worker_t *w, int64_t t0)
{
	int64_t d = now_ns() - t0 - timer_cost_ns;
	w->cost_ns[w->ncost++] = d > 0 ? d : 0;
}

static span_t span_start(worker_t *w, const char *trace, uint64_t parent,
			 const char *name)
{
	span_t s = {((uint64_t)w->id << 48) | ++w->next_span, parent, now_ns()};
	int64_t t0 = now_ns();

	ASTRON_EVENT_KEYED(TOPIC, trace, "phase=start span=%llu parent=%llu name=%s",
			   (unsigned long long)s.id, (unsigned long long)parent, name);
	account(w, t0);
	return s;
}

static void span_end(worker_t *w, const char *trace, const span_t *s, int ok)
{
	long long dur_us = (now_ns() - s->start_ns) / 1000;
	int64_t t0 = now_ns();

	ASTRON_EVENT_KEYED(TOPIC, trace, "phase=end span=%llu dur_us=%lld ok=%d",
			   (unsigned long long)s->id, dur_us, ok);
	account(w, t0);
}

/* Some work for a span to measure: a few microseconds of computation. */
static unsigned simulate_work(unsigned seed, int rounds)
{
	for (int i = 0; i < rounds; i++)
		seed = seed * 1103515245u + 12345u;
	return seed;
}

static void *serve(void *arg)
{
	worker_t *w = arg;
	unsigned seed = (unsigned)w->id * 2654435761u;

	for (int r = 0; r < REQUESTS; r++) {
		char trace[40];
		span_t root, child;
		int ok;

		snprintf(trace, sizeof trace, "trace-%d-%06d", w->id, r);
		root = span_start(w, trace, 0, "GET /orders");

		child = span_start(w, trace, root.id, "cache.get");
		seed = simulate_work(seed, 500);
		span_end(w, trace, &child, 1);

		child = span_start(w, trace, root.id, "db.query");
		seed = simulate_work(seed, 2000);
		ok = seed % 50 != 0; /* a query fails now and then */
		span_end(w, trace, &child, ok);

		span_end(w, trace, &root, ok);
		w->failed_requests += !ok;
	}
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int main(void)
{
	static worker_t workers[WORKERS];
	static int64_t all[WORKERS * EVENTS_PER_WORKER];
	pthread_t th[WORKERS];
	astron_event_stats_t st;
	int64_t sum = 0, t0, wall;
	size_t n = 0;
	int failed = 0, rc;
	const uint64_t total = (uint64_t)WORKERS * EVENTS_PER_WORKER + 1;

	/* The embedded default; a real deployment sets these outside. */
	setenv("KAFKA_ENABLE", "1", 0);
	setenv("KAFKA_SERVERS", "mock", 0);

	timer_cost_ns = measure_timer_cost();
	printf("tracing_agent: %d workers x %d requests, %d spans each, on %s\n",
	       WORKERS, REQUESTS, SPANS_PER_REQUEST, getenv("KAFKA_SERVERS"));

	/* The first event of the process reads the environment and starts
	 * the pipeline (and here the embedded cluster): a one-time cost,
	 * shown apart from the per-event cost. */
	t0 = now_ns();
	ASTRON_EVENT("agent.status", "state=started workers=%d", WORKERS);
	printf("first event (starts the pipeline): %.2f ms\n", (now_ns() - t0) / 1e6);

	t0 = now_ns();
	for (int i = 0; i < WORKERS; i++) {
		workers[i].id = i + 1;
		pthread_create(&th[i], NULL, serve, &workers[i]);
	}
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(th[i], NULL);
		failed += workers[i].failed_requests;
		memcpy(all + n, workers[i].cost_ns,
		       (size_t)workers[i].ncost * sizeof all[0]);
		n += (size_t)workers[i].ncost;
	}
	wall = now_ns() - t0;

	for (size_t i = 0; i < n; i++)
		sum += all[i];
	qsort(all, n, sizeof all[0], cmp_i64);
	printf("%zu span events in %.1f ms (%d requests failed, as simulated)\n",
	       n, wall / 1e6, failed);
	/* The mean includes the rare slow calls (a thread's first event
	 * allocates its ring; a worker may be preempted mid-call), so the
	 * percentiles are shown too. */
	printf("overhead per event: avg %.0f ns, p50 %" PRId64 " ns, p99 %" PRId64
	       " ns, p99.9 %" PRId64 " ns, max %" PRId64 " ns (timer cost %" PRId64
	       " ns subtracted)\n",
	       n ? (double)sum / (double)n : 0.0, n ? all[n / 2] : 0,
	       n ? all[n * 99 / 100] : 0, n ? all[n * 999 / 1000] : 0,
	       n ? all[n - 1] : 0, timer_cost_ns);

	rc = astron_event_flush(-1); /* bounded by KAFKA_TIMEOUT */
	astron_event_stats(&st);
	printf("flush: %s\n", astron_strerror(rc));
	printf("stats: emitted=%" PRIu64 " delivered=%" PRIu64 " failed=%" PRIu64
	       " dropped=%" PRIu64 " format_errors=%" PRIu64 " truncated=%" PRIu64
	       " threads=%" PRIu64 " ring_bytes=%" PRIu64 "\n",
	       st.emitted, st.delivered, st.failed, st.dropped, st.format_errors,
	       st.truncated, st.threads, st.ring_bytes);
	if (rc != 0 || st.delivered != total || st.dropped || st.failed) {
		printf("NOT all delivered: %" PRIu64 " of %" PRIu64 "\n", st.delivered,
		       total);
		return 1;
	}
	printf("all %" PRIu64 " events delivered\n", total);

	return 0;
}
