/*
 * astron-bench.c - `make bench`: what one ASTRON_EVENT costs, next to the
 * direct librdkafka call it replaces, in one run on librdkafka's mock cluster.
 *
 * Run without arguments, the program is a driver: it calibrates the TSC, runs
 * every measurement in a fresh child process (fork + exec of itself with a
 * mode argument, because the library reads the environment and builds its
 * pipeline once per process), collects each child's "key=value" lines from a
 * pipe and prints one table with the targets of issue 4 beside the results.
 * Every mode can also be run on its own, e.g. `astron-bench --latency ours`.
 *
 *   --disabled            ns per ASTRON_EVENT with KAFKA_ENABLE off
 *   --latency ours|direct per-call latency at a paced 200k events/s, cost per
 *                         call over blocks of 100, delivery, allocations per
 *                         event, RSS, ring bytes, CPU while idle
 *   --throughput ours|direct T
 *                         highest paced rate delivered with zero drops by T
 *                         emitting threads, then the drops at half that rate
 *
 * "direct" is a C port of the seed's KafkaProducerService.send(): the caller
 * encodes the same msgpack map (same keys, its own timestamp) and calls
 * rd_kafka_producev + rd_kafka_poll(0), on its own producer with the same
 * librdkafka settings (test.mock.num.brokers=3 and every ASTRON_RDKAFKA_*).
 *
 * Timing uses the TSC: lfence;rdtsc;lfence before and rdtscp;lfence after the
 * call, minus the median cost of an empty pair, converted with a rate
 * calibrated against CLOCK_MONOTONIC.  Pacing busy-waits on the TSC between
 * calls: sleeping would measure a call on a core just woken, with cold caches.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <msgpack.h>

#include <astron/event.h>

#define PACED_RATE 200000.0  /* events/s of the latency runs */
#define LAT_CALLS 400000     /* per-call samples: 2 s at PACED_RATE */
#define LAT_BLOCKS 2000	     /* blocks of BLOCK calls */
#define BLOCK 100
#define WARMUP_CALLS 2000
#define IDLE_SECONDS 2.0
#define TPUT_PROBE_S 1.0     /* the unpaced probe of the throughput search */
#define TPUT_STEP_S 1.5	     /* each paced step of the search */
#define TPUT_STEPS 5
#define TPUT_MAX_THREADS 4
#define FLUSH_MS 60000
#define CHILD_ALARM_S 100

enum impl { OURS, DIRECT };

static double tsc_per_ns; /* calibrated; from the driver via BENCH_TSC_GHZ */

/* ------------------------------------------------------------------------
 * Heap allocations on the emitting thread: the bench binary interposes the
 * allocator and counts the calls made while this thread's flag is set.
 * (Not under sanitizers, which bring their own allocator.)
 * ---------------------------------------------------------------------- */
static __thread int alloc_counting;
static __thread uint64_t alloc_count;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BENCH_COUNTS_ALLOCS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
	__has_feature(memory_sanitizer)
#define BENCH_COUNTS_ALLOCS 0
#endif
#endif
#ifndef BENCH_COUNTS_ALLOCS
#define BENCH_COUNTS_ALLOCS 1
#endif

#if BENCH_COUNTS_ALLOCS
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);

static inline void alloc_seen(void)
{
	if (alloc_counting)
		alloc_count++;
}

void *malloc(size_t n)
{
	alloc_seen();
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	alloc_seen();
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	alloc_seen();
	return __libc_realloc(p, n);
}

void *aligned_alloc(size_t align, size_t n)
{
	alloc_seen();
	return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p;

	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	alloc_seen();
	p = __libc_memalign(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}
#endif

/* ------------------------------------------------------------------------
 * Clocks
 * ---------------------------------------------------------------------- */
#if defined(__x86_64__)
/* lfence before rdtsc: earlier instructions have completed; after it: later
 * ones (the measured call) do not start before the read. */
static inline uint64_t tsc_start(void)
{
	uint32_t lo, hi;
	__asm__ __volatile__("lfence\n\trdtsc\n\tlfence"
			     : "=a"(lo), "=d"(hi)::"memory");
	return (uint64_t)hi << 32 | lo;
}

/* rdtscp waits for the measured call to complete; the lfence keeps later
 * instructions from starting before the read. */
static inline uint64_t tsc_stop(void)
{
	uint32_t lo, hi;
	__asm__ __volatile__("rdtscp\n\tlfence"
			     : "=a"(lo), "=d"(hi)::"rcx", "memory");
	return (uint64_t)hi << 32 | lo;
}

static inline uint64_t tsc_read(void)
{
	uint32_t lo, hi;
	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}
#else
/* Elsewhere: nanoseconds of CLOCK_MONOTONIC_RAW stand in for ticks. */
static inline uint64_t tsc_read(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#define tsc_start tsc_read
#define tsc_stop tsc_read
#endif

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_s(double s)
{
	struct timespec d = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&d, &d) != 0 && errno == EINTR)
		;
}

/* A (tsc, monotonic) pair, the TSC read on both sides of the clock read; the
 * tightest of a few tries. */
static void tsc_mono_pair(uint64_t *tsc, int64_t *ns)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 16; i++) {
		uint64_t a = tsc_read();
		int64_t t = mono_ns();
		uint64_t b = tsc_read();
		if (b - a < best) {
			best = b - a;
			*tsc = a + (b - a) / 2;
			*ns = t;
		}
	}
}

static double tsc_calibrate(double seconds)
{
	uint64_t t0, t1;
	int64_t n0, n1;

	tsc_mono_pair(&t0, &n0);
	sleep_s(seconds);
	tsc_mono_pair(&t1, &n1);
	return (double)(t1 - t0) / (double)(n1 - n0);
}

static double ticks_to_ns(double ticks)
{
	return ticks / tsc_per_ns;
}

/* ------------------------------------------------------------------------
 * Small helpers: percentiles, /proc readings, results
 * ---------------------------------------------------------------------- */
static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static size_t pct_index(size_t n, double p)
{
	size_t i = (size_t)(p * (double)n);
	return i < n ? i : n - 1;
}

static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* The id of this process's thread called `name`, or -1. */
static int find_thread(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int tid = -1;

	if (!d)
		return -1;
	while (tid < 0 && (e = readdir(d))) {
		char path[300], comm[64] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fgets(comm, sizeof comm, f)) {
			comm[strcspn(comm, "\n")] = '\0';
			if (strcmp(comm, name) == 0)
				tid = atoi(e->d_name);
		}
		fclose(f);
	}
	closedir(d);
	return tid;
}

/* CPU seconds (utime + stime) of thread `tid` from /proc/self/task/<tid>/stat;
 * the kernel counts them in clock ticks (usually 10 ms). */
static double thread_cpu_s(int tid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
	if (!(f = fopen(path, "r")))
		return -1;
	p = fgets(buf, sizeof buf, f);
	fclose(f);
	/* Fields after the ")" that ends the name: state is field 3, utime 14. */
	if (!p || !(p = strrchr(buf, ')')))
		return -1;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		   &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The same thread's CPU time in nanoseconds through its CPU-time clock (the
 * kernel's MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)): exact, not in ticks. */
static double thread_cpu_clock_s(int tid)
{
	struct timespec ts;
	clockid_t id = (clockid_t)((~(unsigned)tid << 3) | 6);

	if (clock_gettime(id, &ts) != 0)
		return -1;
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double process_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* Results leave a child as "key=value" lines on stdout. */
static void put(const char *key, double v)
{
	printf("%s=%.17g\n", key, v);
}

static void putf(double v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(double v, const char *fmt, ...)
{
	char key[96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(key, sizeof key, fmt, ap);
	va_end(ap);
	put(key, v);
}

static const char *const words[8] = {"alpha", "bravo", "charlie", "delta",
				     "echo", "foxtrot", "golf", "hotel"};

/* ------------------------------------------------------------------------
 * The direct baseline: the seed's send(), in C.
 * ---------------------------------------------------------------------- */
static struct {
	rd_kafka_t *rk;
	int pid;
	uint64_t seq;			/* fetch-add by every sender */
	uint64_t delivered, failed;	/* written by delivery reports */
	uint64_t queue_full;		/* produce refused (queue full): the
					   seed raises, we count a drop */
} dk;

static __thread msgpack_sbuffer d_sb; /* reused: the kindest C port */
static __thread int d_tid;
static __thread uint64_t d_tseq;

static void on_direct_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
			       void *opaque)
{
	(void)rk;
	(void)opaque;
	__atomic_fetch_add(m->err ? &dk.failed : &dk.delivered, 1,
			   __ATOMIC_RELAXED);
}

/* ASTRON_RDKAFKA_LINGER_MS=5 -> "linger.ms", as the library's factory reads
 * them, so both producers run with the same settings. */
static int apply_rdkafka_env(rd_kafka_conf_t *conf, char *err, size_t errsize)
{
	extern char **environ;
	const char *pre = "ASTRON_RDKAFKA_";

	for (char **e = environ; *e; e++) {
		const char *eq = strchr(*e, '=');
		char name[256];
		size_t n, i;

		if (strncmp(*e, pre, strlen(pre)) != 0 || !eq)
			continue;
		n = (size_t)(eq - *e) - strlen(pre);
		if (n == 0 || n >= sizeof name)
			continue;
		for (i = 0; i < n; i++) {
			char c = (*e)[strlen(pre) + i];
			name[i] = c == '_' ? '.' : (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		name[n] = '\0';
		if (rd_kafka_conf_set(conf, name, eq + 1, err, errsize) !=
		    RD_KAFKA_CONF_OK)
			return -1;
	}
	return 0;
}

/* librdkafka's warnings and errors only, as the library's service shows. */
static void on_direct_log(const rd_kafka_t *rk, int level, const char *fac,
			  const char *buf)
{
	(void)rk;
	if (level <= 4)
		fprintf(stderr, "astron-bench: direct: librdkafka %s: %s\n", fac, buf);
}

static int direct_open(void)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	if (rd_kafka_conf_set(conf, "test.mock.num.brokers", "3", err, sizeof err) ||
	    rd_kafka_conf_set(conf, "client.id", "astron-bench-direct", err,
			      sizeof err) ||
	    apply_rdkafka_env(conf, err, sizeof err) < 0) {
		fprintf(stderr, "astron-bench: direct producer: %s\n", err);
		return -1;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, on_direct_delivery);
	rd_kafka_conf_set_log_cb(conf, on_direct_log);
	dk.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	if (!dk.rk) {
		fprintf(stderr, "astron-bench: direct producer: %s\n", err);
		return -1;
	}
	dk.pid = (int)getpid();
	return 0;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

/* KafkaProducerService.send(topic, value) with the encoding in front: the
 * event's map (the same keys as an ASTRON_EVENT's), then produce (copied)
 * and poll(0) for delivery reports, all on the caller's thread. */
static __attribute__((noinline)) void
direct_send(const char *topic, const char *file, int line, const char *func,
	    const char *k, int n)
{
	struct timespec ts;
	msgpack_packer pk;
	rd_kafka_resp_err_t err;

	if (!d_tid) {
		d_tid = (int)syscall(SYS_gettid);
		msgpack_sbuffer_init(&d_sb);
	}
	msgpack_sbuffer_clear(&d_sb);
	msgpack_packer_init(&pk, &d_sb, msgpack_sbuffer_write);
	clock_gettime(CLOCK_REALTIME, &ts);
	msgpack_pack_map(&pk, 11);
	pack_str(&pk, "@v");
	msgpack_pack_int64(&pk, 1);
	pack_str(&pk, "@ts");
	msgpack_pack_int64(&pk, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
	pack_str(&pk, "@file");
	pack_str(&pk, file);
	pack_str(&pk, "@line");
	msgpack_pack_int64(&pk, line);
	pack_str(&pk, "@func");
	pack_str(&pk, func);
	pack_str(&pk, "@pid");
	msgpack_pack_int64(&pk, dk.pid);
	pack_str(&pk, "@tid");
	msgpack_pack_int64(&pk, d_tid);
	pack_str(&pk, "@seq");
	msgpack_pack_uint64(&pk, __atomic_add_fetch(&dk.seq, 1, __ATOMIC_RELAXED));
	pack_str(&pk, "@tseq");
	msgpack_pack_uint64(&pk, ++d_tseq);
	pack_str(&pk, "k");
	pack_str(&pk, k);
	pack_str(&pk, "n");
	msgpack_pack_int64(&pk, n);

	err = rd_kafka_producev(dk.rk, RD_KAFKA_V_TOPIC(topic),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				RD_KAFKA_V_VALUE(d_sb.data, d_sb.size),
				RD_KAFKA_V_END);
	if (err)
		__atomic_fetch_add(&dk.queue_full, 1, __ATOMIC_RELAXED);
	rd_kafka_poll(dk.rk, 0);
}

#define DIRECT_EVENT(topic, k, n) \
	direct_send(topic, __FILE__, __LINE__, __func__, k, n)

/* One "k=%s n=%d" event, the same for both. */
static inline __attribute__((always_inline)) void emit(enum impl impl,
						       uint64_t i)
{
	if (impl == OURS)
		ASTRON_EVENT("bench.events", "k=%s n=%d", words[i & 7], (int)i);
	else
		DIRECT_EVENT("bench.events", words[i & 7], (int)i);
}

/* The library on the mock cluster, or the direct producer. */
static int open_impl(enum impl impl)
{
	if (impl == DIRECT)
		return direct_open();
	setenv("KAFKA_ENABLE", "1", 1);
	setenv("KAFKA_SERVERS", "mock", 1);
	unsetenv("ASTRON_EVENT_SINK"); /* Kafka is what is measured */
	if (!astron_event_servers(30000)) {
		fprintf(stderr, "astron-bench: the pipeline did not start\n");
		return -1;
	}
	return 0;
}

typedef struct counts {
	uint64_t emitted, dropped, delivered, failed;
} counts_t;

static counts_t read_counts(enum impl impl, uint64_t direct_calls)
{
	counts_t c;

	if (impl == OURS) {
		astron_event_stats_t st;
		astron_event_stats(&st);
		c.emitted = st.emitted;
		c.dropped = st.dropped;
		c.delivered = st.delivered;
		c.failed = st.failed;
	} else {
		c.dropped = __atomic_load_n(&dk.queue_full, __ATOMIC_RELAXED);
		c.emitted = direct_calls - c.dropped;
		c.delivered = __atomic_load_n(&dk.delivered, __ATOMIC_RELAXED);
		c.failed = __atomic_load_n(&dk.failed, __ATOMIC_RELAXED);
	}
	return c;
}

static int flush_impl(enum impl impl)
{
	if (impl == OURS)
		return astron_event_flush(FLUSH_MS);
	return rd_kafka_flush(dk.rk, FLUSH_MS) ? -1 : 0;
}

/* ------------------------------------------------------------------------
 * --latency ours|direct
 * ---------------------------------------------------------------------- */

/* Median cost of an empty timer pair, in ticks. */
static double timer_overhead(double *min_ticks)
{
	enum { N = 200000 };
	static uint32_t s[N];

	for (int i = 0; i < N; i++) {
		uint64_t a = tsc_start();
		uint64_t b = tsc_stop();
		s[i] = (uint32_t)(b - a);
	}
	qsort(s, N, sizeof s[0], cmp_u32);
	*min_ticks = s[0];
	return s[N / 2];
}

/* Spin until the TSC reaches `t`; returns the TSC read. */
static inline uint64_t spin_until(uint64_t t)
{
	uint64_t now;

	while ((now = tsc_read()) < t)
		;
	return now;
}

/* The paced loops: per call, then per block of BLOCK back-to-back calls with
 * the blocks paced to the same average rate.  A schedule that slips by more
 * than 100 us (the thread was preempted) restarts from now instead of
 * bursting to catch up; such slips are counted. */
static inline __attribute__((always_inline)) void
latency_loops(enum impl impl, uint32_t *calls, double *blocks, uint64_t *late)
{
	uint64_t gap = (uint64_t)(tsc_per_ns * 1e9 / PACED_RATE);
	uint64_t slack = (uint64_t)(tsc_per_ns * 100000);
	uint64_t next = tsc_read() + gap, i = WARMUP_CALLS;

	alloc_count = 0;
	alloc_counting = 1;
	for (int c = 0; c < LAT_CALLS; c++, i++) {
		uint64_t t0, t1;

		spin_until(next);
		t0 = tsc_start();
		emit(impl, i);
		t1 = tsc_stop();
		calls[c] = (uint32_t)(t1 - t0);
		next += gap;
		if (t1 > next + slack) {
			next = t1 + gap;
			(*late)++;
		}
	}
	alloc_counting = 0;

	next = tsc_read() + gap * BLOCK;
	for (int b = 0; b < LAT_BLOCKS; b++) {
		uint64_t t0, t1;

		spin_until(next);
		t0 = tsc_start();
		for (int j = 0; j < BLOCK; j++, i++)
			emit(impl, i);
		t1 = tsc_stop();
		blocks[b] = (double)(t1 - t0);
		next += gap * BLOCK;
		if (t1 > next + slack) {
			next = t1 + gap * BLOCK;
			(*late)++;
		}
	}
}

static __attribute__((noinline)) void
latency_ours(uint32_t *c, double *b, uint64_t *late)
{
	latency_loops(OURS, c, b, late);
}

static __attribute__((noinline)) void
latency_direct(uint32_t *c, double *b, uint64_t *late)
{
	latency_loops(DIRECT, c, b, late);
}

static int run_latency(enum impl impl)
{
	static uint32_t calls[LAT_CALLS];
	static double blocks[LAT_BLOCKS];
	uint64_t gap = (uint64_t)(tsc_per_ns * 1e9 / PACED_RATE), late = 0;
	uint64_t total = WARMUP_CALLS + LAT_CALLS + (uint64_t)LAT_BLOCKS * BLOCK;
	double ovh, ovh_min, cpu0, pcpu0, cpu_clk0, idle_wall;
	int64_t w0;
	counts_t c;
	int tid = -1, rc;

	if (open_impl(impl) < 0)
		return 1;
	/* Warm-up: the call site's plan, this thread's ring, the topic's
	 * metadata and the brokers' connections all exist before timing. */
	for (uint64_t i = 0, next = tsc_read(); i < WARMUP_CALLS; i++) {
		spin_until(next += gap);
		emit(impl, i);
	}
	if (flush_impl(impl) != 0)
		fprintf(stderr, "astron-bench: warm-up flush timed out\n");

	ovh = timer_overhead(&ovh_min);
	if (impl == OURS)
		latency_ours(calls, blocks, &late);
	else
		latency_direct(calls, blocks, &late);
	w0 = mono_ns();
	rc = flush_impl(impl);
	put("flush_s", (double)(mono_ns() - w0) * 1e-9);
	put("flush_ok", rc == 0);

	put("timer_ns", ticks_to_ns(ovh));
	put("timer_min_ns", ticks_to_ns(ovh_min));
	for (int i = 0; i < LAT_CALLS; i++)
		calls[i] = calls[i] > ovh ? (uint32_t)(calls[i] - ovh) : 0;
	qsort(calls, LAT_CALLS, sizeof calls[0], cmp_u32);
	put("p50_ns", ticks_to_ns(calls[pct_index(LAT_CALLS, 0.50)]));
	put("p99_ns", ticks_to_ns(calls[pct_index(LAT_CALLS, 0.99)]));
	put("p999_ns", ticks_to_ns(calls[pct_index(LAT_CALLS, 0.999)]));
	put("max_ns", ticks_to_ns(calls[LAT_CALLS - 1]));
	for (int b = 0; b < LAT_BLOCKS; b++)
		blocks[b] = ticks_to_ns(blocks[b] > ovh ? blocks[b] - ovh : 0) / BLOCK;
	qsort(blocks, LAT_BLOCKS, sizeof blocks[0], cmp_double);
	put("block_p50_ns", blocks[pct_index(LAT_BLOCKS, 0.50)]);
	put("block_p99_ns", blocks[pct_index(LAT_BLOCKS, 0.99)]);
	put("late", (double)late);
	put("allocs_per_event",
	    BENCH_COUNTS_ALLOCS ? (double)alloc_count / LAT_CALLS : -1);

	c = read_counts(impl, total);
	put("calls", (double)total);
	put("emitted", (double)c.emitted);
	put("dropped", (double)c.dropped);
	put("delivered", (double)c.delivered);
	put("failed", (double)c.failed);
	put("rss_kib", (double)rss_kib());
	if (impl == OURS) {
		astron_event_stats_t st;
		astron_event_stats(&st);
		put("ring_bytes", (double)st.ring_bytes);
		tid = find_thread("astron-flusher");
	}

	/* Idle: everything is delivered; watch the CPU for a while. */
	cpu0 = tid > 0 ? thread_cpu_s(tid) : 0;
	cpu_clk0 = tid > 0 ? thread_cpu_clock_s(tid) : 0;
	pcpu0 = process_cpu_s();
	w0 = mono_ns();
	sleep_s(IDLE_SECONDS);
	idle_wall = (double)(mono_ns() - w0) * 1e-9;
	if (tid > 0) {
		put("idle_flusher_pct", 100 * (thread_cpu_s(tid) - cpu0) / idle_wall);
		put("idle_flusher_clock_pct",
		    100 * (thread_cpu_clock_s(tid) - cpu_clk0) / idle_wall);
	}
	put("idle_process_pct", 100 * (process_cpu_s() - pcpu0) / idle_wall);
	fflush(stdout);
	if (impl == DIRECT) {
		rd_kafka_destroy(dk.rk);
		dk.rk = NULL;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * --disabled: KAFKA_ENABLE off; the arguments must not even be evaluated.
 * ---------------------------------------------------------------------- */
static int evaluated;

static int run_disabled(void)
{
	const uint64_t n = 200000000;
	uint64_t t0, t1, e0, e1;
	astron_event_stats_t st;

	setenv("KAFKA_ENABLE", "0", 1);
	ASTRON_EVENT("bench.disabled", "k=%s n=%d", words[0], ++evaluated);
	t0 = tsc_start();
	for (uint64_t i = 0; i < n; i++)
		ASTRON_EVENT("bench.disabled", "k=%s n=%d", words[i & 7],
			     ++evaluated);
	t1 = tsc_stop();
	/* The same loop without the event: what the loop itself costs. */
	e0 = tsc_start();
	for (uint64_t i = 0; i < n; i++)
		__asm__ __volatile__("" ::: "memory");
	e1 = tsc_stop();
	astron_event_stats(&st);
	put("disabled_ns", ticks_to_ns((double)(t1 - t0)) / (double)n);
	put("empty_loop_ns", ticks_to_ns((double)(e1 - e0)) / (double)n);
	put("evaluated", evaluated);
	put("emitted", (double)st.emitted);
	put("enabled", astron_event_enabled());
	return 0;
}

/* ------------------------------------------------------------------------
 * --throughput ours|direct T
 * ---------------------------------------------------------------------- */
typedef struct tput {
	enum impl impl;
	int threads;
	pthread_barrier_t start, done;
	int quit;
	uint64_t t0, t_end;   /* TSC: the phase's start and end of emitting */
	double per_tick;      /* events per TSC tick per thread, 0: unpaced */
	uint64_t calls;	      /* all threads, this phase (fetch-add) */
	uint64_t direct_calls; /* all phases, for read_counts(DIRECT) */
} tput_t;

typedef struct phase {
	double rate;	/* asked, events/s over all threads; 0: unpaced */
	double calls, dropped, failed, delivered;
	double offered_per_s, delivered_per_s, flush_s;
	int pass;
} phase_t;

/* Emit on schedule until t_end: whatever is due, in bursts of at most 256;
 * when ahead of schedule, sleep briefly so the flusher and librdkafka get a
 * core (2 cores and up to 4 emitters: spinning would starve them). */
static inline __attribute__((always_inline)) uint64_t
tput_emit(enum impl impl, const tput_t *t, uint64_t base)
{
	const struct timespec nap = {0, 100000};
	uint64_t sent = 0, now;

	while ((now = tsc_read()) < t->t_end) {
		uint64_t due = t->per_tick > 0
				       ? (uint64_t)((double)(now - t->t0) * t->per_tick) + 1
				       : sent + 256;
		uint64_t n;

		if (sent >= due) {
			nanosleep(&nap, NULL);
			continue;
		}
		n = due - sent < 256 ? due - sent : 256;
		for (uint64_t j = 0; j < n; j++)
			emit(impl, base + sent++);
	}
	return sent;
}

static __attribute__((noinline)) uint64_t tput_ours(const tput_t *t, uint64_t b)
{
	return tput_emit(OURS, t, b);
}

static __attribute__((noinline)) uint64_t tput_direct(const tput_t *t, uint64_t b)
{
	return tput_emit(DIRECT, t, b);
}

static void *tput_worker(void *arg)
{
	tput_t *t = arg;
	uint64_t base = 0;

	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	for (;;) {
		uint64_t n;

		pthread_barrier_wait(&t->start);
		if (t->quit)
			break;
		n = t->impl == OURS ? tput_ours(t, base) : tput_direct(t, base);
		base += n;
		__atomic_fetch_add(&t->calls, n, __ATOMIC_RELAXED);
		pthread_barrier_wait(&t->done);
	}
	return NULL;
}

/* One phase: `rate` events/s over all threads (0: as fast as they can) for
 * `seconds`, then flush.  Delivered/s counts until the flush completed. */
static phase_t tput_phase(tput_t *t, double rate, double seconds)
{
	phase_t ph = {.rate = rate};
	counts_t a, b;
	uint64_t t_emit, t_flushed;
	int rc;

	a = read_counts(t->impl, t->direct_calls);
	t->calls = 0;
	t->per_tick = rate > 0 ? rate / t->threads / (tsc_per_ns * 1e9) : 0;
	t->t0 = tsc_read();
	t->t_end = t->t0 + (uint64_t)(seconds * 1e9 * tsc_per_ns);
	pthread_barrier_wait(&t->start);
	pthread_barrier_wait(&t->done);
	t_emit = tsc_read();
	t->direct_calls += t->calls;
	rc = flush_impl(t->impl);
	t_flushed = tsc_read();
	b = read_counts(t->impl, t->direct_calls);

	ph.calls = (double)t->calls;
	ph.dropped = (double)(b.dropped - a.dropped);
	ph.failed = (double)(b.failed - a.failed);
	ph.delivered = (double)(b.delivered - a.delivered);
	ph.offered_per_s = ph.calls / (ticks_to_ns((double)(t_emit - t->t0)) * 1e-9);
	ph.delivered_per_s = ph.delivered /
			     (ticks_to_ns((double)(t_flushed - t->t0)) * 1e-9);
	ph.flush_s = ticks_to_ns((double)(t_flushed - t_emit)) * 1e-9;
	/* Sustained: nothing dropped or failed, everything delivered, the
	 * emitters kept up with the asked rate, and delivery kept up with the
	 * emitters (a ring or queue that only buffered the excess would leave
	 * a long flush behind). */
	ph.pass = rc == 0 && ph.dropped == 0 && ph.failed == 0 &&
		  ph.delivered == ph.calls &&
		  (rate == 0 || ph.offered_per_s >= 0.95 * rate) &&
		  ph.delivered_per_s >= 0.95 * ph.offered_per_s;
	return ph;
}

static void put_phase(const char *name, const phase_t *ph)
{
	putf(ph->rate, "%s_rate", name);
	putf(ph->calls, "%s_calls", name);
	putf(ph->offered_per_s, "%s_offered", name);
	putf(ph->delivered_per_s, "%s_delivered_per_s", name);
	putf(ph->dropped, "%s_dropped", name);
	putf(ph->failed, "%s_failed", name);
	putf(ph->flush_s, "%s_flush_s", name);
	putf(ph->pass, "%s_pass", name);
	fflush(stdout);
}

/* Probe unpaced, then search the paced rate: up while a step passes, down
 * while it fails, bisecting once both bounds are known.  Finally the drops
 * at half the best rate. */
static int run_throughput(enum impl impl, int threads)
{
	pthread_t th[TPUT_MAX_THREADS];
	tput_t t = {.impl = impl, .threads = threads};
	phase_t probe, best = {0}, half;
	double lo = 0, hi = 0, r;
	uint64_t gap = (uint64_t)(tsc_per_ns * 1e9 / PACED_RATE);

	if (threads < 1 || threads > TPUT_MAX_THREADS || open_impl(impl) < 0)
		return 1;
	for (uint64_t i = 0, next = tsc_read(); i < WARMUP_CALLS; i++) {
		spin_until(next += gap);
		emit(impl, i);
	}
	t.direct_calls = WARMUP_CALLS;
	flush_impl(impl);
	pthread_barrier_init(&t.start, NULL, (unsigned)threads + 1);
	pthread_barrier_init(&t.done, NULL, (unsigned)threads + 1);
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, tput_worker, &t);

	probe = tput_phase(&t, 0, TPUT_PROBE_S);
	put_phase("probe", &probe);
	r = probe.delivered_per_s > 10000 ? probe.delivered_per_s : 10000;
	for (int s = 0; s < TPUT_STEPS; s++) {
		phase_t ph = tput_phase(&t, r, TPUT_STEP_S);
		char name[16];

		snprintf(name, sizeof name, "step%d", s);
		put_phase(name, &ph);
		if (ph.pass) {
			if (ph.delivered_per_s > best.delivered_per_s)
				best = ph;
			lo = r;
			r = hi > 0 ? (lo + hi) / 2 : r * 1.4;
		} else {
			hi = r;
			r = lo > 0 ? (lo + hi) / 2 : r * 0.6;
		}
	}
	put_phase("best", &best);
	if (best.pass) {
		half = tput_phase(&t, best.delivered_per_s / 2, TPUT_STEP_S);
		put_phase("half", &half);
	}

	t.quit = 1;
	pthread_barrier_wait(&t.start);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	put("rss_kib", (double)rss_kib());
	if (impl == DIRECT)
		rd_kafka_destroy(dk.rk);
	return 0;
}

/* ------------------------------------------------------------------------
 * The driver
 * ---------------------------------------------------------------------- */
typedef struct result {
	int ok;		 /* the child exited 0 */
	int n;
	char key[160][48];
	double val[160];
} result_t;

static double get(const result_t *r, const char *key)
{
	for (int i = 0; r->ok && i < r->n; i++)
		if (strcmp(r->key[i], key) == 0)
			return r->val[i];
	return NAN;
}

/* Run this program again with `args` in a fresh process and collect its
 * key=value lines. */
static void run_child(result_t *r, const char *what, char *const args[])
{
	char *argv[8] = {"astron-bench"}, line[256];
	int fd[2], status, i;
	int64_t w0 = mono_ns();
	pid_t pid;
	FILE *f;

	memset(r, 0, sizeof *r);
	for (i = 0; args[i] && i < 6; i++)
		argv[i + 1] = args[i];
	fprintf(stderr, "astron-bench: %-28s", what);
	fflush(stderr);
	fflush(stdout);
	if (pipe(fd) < 0 || (pid = fork()) < 0) {
		perror("astron-bench");
		return;
	}
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		alarm(CHILD_ALARM_S);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(fd[1]);
	f = fdopen(fd[0], "r");
	while (fgets(line, sizeof line, f)) {
		char *eq = strchr(line, '=');
		if (!eq || r->n == 160 || eq - line >= 48)
			continue;
		memcpy(r->key[r->n], line, (size_t)(eq - line));
		r->key[r->n][eq - line] = '\0';
		r->val[r->n++] = strtod(eq + 1, NULL);
	}
	fclose(f);
	waitpid(pid, &status, 0);
	r->ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (r->ok)
		fprintf(stderr, " %5.1f s\n", (double)(mono_ns() - w0) * 1e-9);
	else if (WIFSIGNALED(status))
		fprintf(stderr, " FAILED: killed by signal %d (%s)\n",
			WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		fprintf(stderr, " FAILED: exit status %d\n", WEXITSTATUS(status));
}

/* First line of a command's output, or `dflt`. */
static void command_line(const char *cmd, char *out, size_t size,
			 const char *dflt)
{
	FILE *p = popen(cmd, "r");

	snprintf(out, size, "%s", dflt);
	if (p) {
		if (fgets(out, (int)size, p))
			out[strcspn(out, "\n")] = '\0';
		if (pclose(p) != 0 || !*out)
			snprintf(out, size, "%s", dflt);
	}
}

static void cpu_model(char *out, size_t size)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(out, size, "unknown");
	while (f && fgets(line, sizeof line, f)) {
		char *c = strchr(line, ':');
		if (strncmp(line, "model name", 10) == 0 && c) {
			snprintf(out, size, "%s", c + 2);
			out[strcspn(out, "\n")] = '\0';
			break;
		}
	}
	if (f)
		fclose(f);
}

/* Busy and total CPU seconds of the whole machine, from /proc/stat. */
static void machine_cpu(double *busy, double *total)
{
	unsigned long long v[10] = {0};
	double tck = (double)sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/stat", "r");

	*busy = *total = 0;
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
		   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (int i = 0; i < 8; i++)
			*total += (double)v[i] / tck;
		*busy = *total - (double)(v[3] + v[4]) / tck; /* idle, iowait */
	}
	fclose(f);
}

static double children_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_CHILDREN, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* Table cells. */
static const char *fmt_ns(char *b, double v)
{
	if (isnan(v))
		snprintf(b, 32, "n/a");
	else if (v >= 10000)
		snprintf(b, 32, "%.1f us", v / 1000);
	else if (v < 10)
		snprintf(b, 32, "%.2f ns", v);
	else
		snprintf(b, 32, "%.1f ns", v);
	return b;
}

static const char *fmt_rate(char *b, double v)
{
	if (isnan(v))
		snprintf(b, 32, "n/a");
	else if (v >= 1e6)
		snprintf(b, 32, "%.2f M/s", v / 1e6);
	else
		snprintf(b, 32, "%.0f k/s", v / 1e3);
	return b;
}

static const char *fmt_num(char *b, double v, const char *unit)
{
	if (isnan(v))
		snprintf(b, 32, "n/a");
	else
		snprintf(b, 32, "%.3g%s", v, unit);
	return b;
}

static const char *fmt_ratio(char *b, double v)
{
	if (isnan(v) || isinf(v))
		b[0] = '\0';
	else
		snprintf(b, 32, "%.1fx", v);
	return b;
}

static void row(const char *figure, const char *ours, const char *direct,
		const char *ratio, const char *target, int verdict)
{
	printf("%-44s %-16s %-16s %-8s %-26s %s\n", figure, ours, direct, ratio,
	       target, verdict > 0 ? "PASS" : verdict == 0 ? "MISS" : "");
}

/* "602000/602000", or FAILED with what is missing. */
static const char *fmt_delivered(char *b, const result_t *r)
{
	double calls = get(r, "calls"), del = get(r, "delivered");

	if (isnan(calls))
		snprintf(b, 48, "n/a");
	else if (del == calls)
		snprintf(b, 48, "%.0f/%.0f", del, calls);
	else
		snprintf(b, 48, "FAILED %.0f/%.0f", del, calls);
	return b;
}

static void print_search(const char *who, int threads, const result_t *r)
{
	char b1[32], b2[32], b3[32];

	printf("  %s, %d thread%s: unpaced probe offered %s, delivered %s, "
	       "dropped %.0f\n", who, threads, threads > 1 ? "s" : "",
	       fmt_rate(b1, get(r, "probe_offered")),
	       fmt_rate(b2, get(r, "probe_delivered_per_s")),
	       get(r, "probe_dropped"));
	for (int s = 0; s < TPUT_STEPS; s++) {
		char k[6][32];
		const char *f[6] = {"rate", "offered", "delivered_per_s",
				    "dropped", "flush_s", "pass"};
		for (int i = 0; i < 6; i++)
			snprintf(k[i], sizeof k[i], "step%d_%s", s, f[i]);
		if (isnan(get(r, k[0])))
			break;
		printf("    paced %-9s offered %-9s delivered %-9s dropped %-8.0f "
		       "flush %.2f s  %s\n", fmt_rate(b1, get(r, k[0])),
		       fmt_rate(b2, get(r, k[1])), fmt_rate(b3, get(r, k[2])),
		       get(r, k[3]), get(r, k[4]), get(r, k[5]) > 0 ? "ok" : "not sustained");
	}
}

static int run_driver(void)
{
	result_t *dis = malloc(sizeof *dis), *lat[2], *tp[2][3];
	static const int nthreads[3] = {1, 2, 4};
	char commit[64], date[64], cpu[256], ghz[32], cmd[256];
	char b1[48], b2[48], b3[48], b4[48];
	const char *ring = getenv("ASTRON_EVENT_RING_SIZE");
	const char *maxsz = getenv("ASTRON_EVENT_MAX_SIZE");
	extern char **environ;
	time_t now = time(NULL);
	int64_t w0 = mono_ns();
	double busy0, total0, busy1, total1, others, ch0 = children_cpu_s();
	char load[64];

	command_line("cat /proc/loadavg", load, sizeof load, "unknown");
	machine_cpu(&busy0, &total0);

	for (int i = 0; i < 2; i++) {
		lat[i] = malloc(sizeof *lat[i]);
		for (int j = 0; j < 3; j++)
			tp[i][j] = malloc(sizeof *tp[i][j]);
	}
	tsc_per_ns = tsc_calibrate(0.3);
	snprintf(ghz, sizeof ghz, "%.6f", tsc_per_ns);
	setenv("BENCH_TSC_GHZ", ghz, 1);

	run_child(dis, "disabled path", (char *[]){"--disabled", NULL});
	run_child(lat[0], "latency, astron-event", (char *[]){"--latency", "ours", NULL});
	run_child(lat[1], "latency, direct send()", (char *[]){"--latency", "direct", NULL});
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 3; j++) {
			char n[4], what[64];
			snprintf(n, sizeof n, "%d", nthreads[j]);
			snprintf(what, sizeof what, "throughput, %s, %d thr",
				 i ? "direct" : "astron", nthreads[j]);
			run_child(tp[i][j], what, (char *[]){"--throughput",
				  i ? "direct" : "ours", n, NULL});
		}

	machine_cpu(&busy1, &total1);
	/* What other processes took from the machine while we measured. */
	others = total1 > total0 ? 100 * ((busy1 - busy0) - (children_cpu_s() - ch0)) /
					   (total1 - total0)
				 : NAN;
	if (others < 0)
		others = 0; /* the two clocks disagree by a few ticks */
	command_line("git rev-parse --short HEAD 2>/dev/null", commit,
		     sizeof commit, "unknown");
	if (strcmp(commit, "unknown") != 0) {
		char dirty[8];
		command_line("git status --porcelain -- lib include 2>/dev/null "
			     "| head -n 1 | cut -c1-2", dirty, sizeof dirty, "");
		if (*dirty)
			strcat(commit, " + uncommitted lib/ changes");
	}
	strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
	cpu_model(cpu, sizeof cpu);
	snprintf(cmd, sizeof cmd, "%ld", sysconf(_SC_NPROCESSORS_ONLN));

	printf("\nastron-event %s benchmark  commit %s  %s\n",
	       astron_event_version(), commit, date);
	printf("CPU: %s, %s cores; TSC %.3f GHz (calibrated against "
	       "CLOCK_MONOTONIC)\n", cpu, cmd, tsc_per_ns);
	printf("librdkafka %s, mock cluster (3 brokers, one per process); "
	       "event \"k=%%s n=%%d\"\n", rd_kafka_version_str());
	printf("machine: load average before the run %s; other processes used "
	       "%.0f %% of all cores during it\n", load, others);
	printf("settings: ASTRON_EVENT_RING_SIZE=%s ASTRON_EVENT_MAX_SIZE=%s",
	       ring ? ring : "1M (default)", maxsz ? maxsz : "64k (default)");
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "ASTRON_RDKAFKA_", 15) == 0)
			printf(" %s", *e);
	printf("\n\n");

	row("figure", "astron-event", "direct send()", "ratio", "target", -1);
	{
		const result_t *o = lat[0], *d = lat[1];
		double p50 = get(o, "p50_ns"), dp50 = get(d, "p50_ns");
		double bl = get(o, "block_p50_ns");
		int delivered_ok = get(o, "delivered") == get(o, "calls");

		printf("-- per call, paced at %.0fk events/s, flusher running; "
		       "timer pair cost subtracted --\n", PACED_RATE / 1000);
		row("timer pair (lfence;rdtsc .. rdtscp;lfence)",
		    fmt_ns(b1, get(o, "timer_ns")), fmt_ns(b2, get(d, "timer_ns")),
		    "", "(reported, subtracted)", -1);
		row("hot path p50", fmt_ns(b1, p50), fmt_ns(b2, dp50),
		    fmt_ratio(b3, dp50 / p50), "<= 20 ns, >= 10x below direct",
		    delivered_ok && p50 <= 20 && dp50 / p50 >= 10);
		row("hot path p99", fmt_ns(b1, get(o, "p99_ns")),
		    fmt_ns(b2, get(d, "p99_ns")),
		    fmt_ratio(b3, get(d, "p99_ns") / get(o, "p99_ns")), "<= 100 ns",
		    delivered_ok && get(o, "p99_ns") <= 100);
		row("hot path p99.9", fmt_ns(b1, get(o, "p999_ns")),
		    fmt_ns(b2, get(d, "p999_ns")),
		    fmt_ratio(b3, get(d, "p999_ns") / get(o, "p999_ns")), "<= 500 ns",
		    delivered_ok && get(o, "p999_ns") <= 500);
		row("hot path max", fmt_ns(b1, get(o, "max_ns")),
		    fmt_ns(b2, get(d, "max_ns")), "", "", -1);
		row("per call over blocks of 100, median block", fmt_ns(b1, bl),
		    fmt_ns(b2, get(d, "block_p50_ns")),
		    fmt_ratio(b3, get(d, "block_p50_ns") / bl), "<= 20 ns",
		    delivered_ok && bl <= 20);
		row("per call over blocks of 100, p99 block",
		    fmt_ns(b1, get(o, "block_p99_ns")),
		    fmt_ns(b2, get(d, "block_p99_ns")), "", "", -1);
		row("events delivered (after flush)", fmt_delivered(b1, o),
		    fmt_delivered(b2, d), "", "all", delivered_ok);
		row("heap allocations per event (emitting thread)",
		    fmt_num(b1, get(o, "allocs_per_event"), ""),
		    fmt_num(b2, get(d, "allocs_per_event"), ""), "", "0",
		    get(o, "allocs_per_event") == 0);
		printf("-- disabled (KAFKA_ENABLE=0, separate process) --\n");
		row("disabled path per call (loop included)",
		    fmt_ns(b1, get(dis, "disabled_ns")), "", "", "<= 1 ns",
		    get(dis, "disabled_ns") <= 1);
		snprintf(b2, sizeof b2, "%.0f", get(dis, "evaluated"));
		row("arguments evaluated (counter in an argument)", b2, "", "",
		    "0", get(dis, "evaluated") == 0);
	}
	printf("-- throughput: highest paced rate delivered with zero drops "
	       "(delivered / time until flush done) --\n");
	for (int j = 0; j < 3; j++) {
		double o = get(tp[0][j], "best_delivered_per_s");
		double d = get(tp[1][j], "best_delivered_per_s");
		char fig[64];

		if (!(get(tp[0][j], "best_pass") > 0))
			o = NAN;
		if (!(get(tp[1][j], "best_pass") > 0))
			d = NAN;
		snprintf(fig, sizeof fig, "sustained delivered throughput, %d thr",
			 nthreads[j]);
		row(fig, fmt_rate(b1, o), fmt_rate(b2, d), fmt_ratio(b3, o / d),
		    ">= 2 M/s, >= 1.0x direct", o >= 2e6 && o / d >= 1.0);
	}
	for (int j = 0; j < 3; j++) {
		double hr = get(tp[0][j], "half_rate"), dr = get(tp[0][j], "half_dropped");
		char fig[64];

		snprintf(fig, sizeof fig, "drops at half that rate, %d thr", nthreads[j]);
		if (isnan(hr))
			snprintf(b1, sizeof b1, "n/a");
		else
			snprintf(b1, sizeof b1, "%.0f @ %s", dr,
				 fmt_rate(b4, hr));
		row(fig, b1, "", "", "0", dr == 0);
	}
	printf("-- memory and idle CPU --\n");
	snprintf(b1, sizeof b1, "%.0f KiB", get(lat[0], "ring_bytes") / 1024);
	row("ring bytes (one emitting thread)", b1,
	    "", "", "", -1);
	row("process RSS after the latency run",
	    fmt_num(b1, get(lat[0], "rss_kib") / 1024, " MiB"),
	    fmt_num(b2, get(lat[1], "rss_kib") / 1024, " MiB"), "", "", -1);
	row("flusher thread CPU when idle (2 s)",
	    fmt_num(b1, get(lat[0], "idle_flusher_clock_pct"), " %"), "", "",
	    "< 1 %", get(lat[0], "idle_flusher_clock_pct") < 1);
	row("whole process CPU when idle (2 s)",
	    fmt_num(b1, get(lat[0], "idle_process_pct"), " %"),
	    fmt_num(b2, get(lat[1], "idle_process_pct"), " %"), "", "", -1);

	printf("\nnotes:\n");
	printf("  per call: %d paced calls (busy-wait on the TSC, no sleep); "
	       "blocks: %d blocks of %d back-to-back calls, one timer pair per "
	       "block, blocks paced to the same rate\n", LAT_CALLS, LAT_BLOCKS,
	       BLOCK);
	printf("  schedule slips > 100 us (preemption): astron %.0f, direct %.0f; "
	       "flush after the latency run: astron %.2f s, direct %.2f s\n",
	       get(lat[0], "late"), get(lat[1], "late"), get(lat[0], "flush_s"),
	       get(lat[1], "flush_s"));
	printf("  disabled: 200M calls in a loop, %.3f ns per iteration; the same "
	       "loop without the event %.3f ns\n", get(dis, "disabled_ns"),
	       get(dis, "empty_loop_ns"));
	printf("  flusher idle CPU from /proc/self/task/<tid>/stat (10 ms ticks): "
	       "%.2f %%; from its CPU-time clock: %.3f %%\n",
	       get(lat[0], "idle_flusher_pct"), get(lat[0], "idle_flusher_clock_pct"));
	printf("  throughput search (paced steps of %.1f s; emitters sleep when "
	       "ahead of schedule; ok = no drop, all delivered,\n    the asked "
	       "rate offered and delivered within 5 %%):\n", TPUT_STEP_S);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 3; j++)
			print_search(i ? "direct" : "astron", nthreads[j], tp[i][j]);
	printf("  whole run: %.0f s\n", (double)(mono_ns() - w0) * 1e-9);

	for (int i = 0; i < 2; i++) {
		free(lat[i]);
		for (int j = 0; j < 3; j++)
			free(tp[i][j]);
	}
	free(dis);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: astron-bench [--disabled | --latency ours|direct "
		"| --throughput ours|direct THREADS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *ghz = getenv("BENCH_TSC_GHZ");
	enum impl impl;

	if (argc == 1)
		return run_driver();
	tsc_per_ns = ghz ? strtod(ghz, NULL) : 0;
	if (!(tsc_per_ns > 0))
		tsc_per_ns = tsc_calibrate(0.2);
	if (strcmp(argv[1], "--disabled") == 0)
		return run_disabled();
	if (argc < 3)
		return usage();
	if (strcmp(argv[2], "ours") == 0)
		impl = OURS;
	else if (strcmp(argv[2], "direct") == 0)
		impl = DIRECT;
	else
		return usage();
	if (strcmp(argv[1], "--latency") == 0)
		return run_latency(impl);
	if (strcmp(argv[1], "--throughput") == 0 && argc == 4)
		return run_throughput(impl, atoi(argv[3]));
	return usage();
}
