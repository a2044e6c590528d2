/*
 * test_disabled.c - KAFKA_ENABLE off costs nothing and says nothing; on but
 * without KAFKA_SERVERS it says so exactly once and counts every event as
 * dropped.
 *
 * Each Criterion test runs in its own process, so each sets the environment
 * before its first ASTRON_EVENT (the library reads it lazily, once).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "astron/event.h"
#include "helpers.h"

/* ------------------------------------------------------------ probes */

static int side_effects;

/* Argument expressions that must not run while disabled. */
static int side_effect(void)
{
	__atomic_fetch_add(&side_effects, 1, __ATOMIC_RELAXED);
	return 1;
}

static const char *key_effect(void)
{
	__atomic_fetch_add(&side_effects, 1, __ATOMIC_RELAXED);
	return "user-1";
}

static int effects(void)
{
	return __atomic_load_n(&side_effects, __ATOMIC_RELAXED);
}

/* Threads of this process, from /proc/self/task. */
static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* stderr, redirected into a temporary file while a test runs. */
static struct {
	FILE *tmp;
	int saved;
} err_capture;

static void stderr_begin(void)
{
	fflush(stderr);
	err_capture.tmp = tmpfile();
	cr_assert_not_null(err_capture.tmp);
	err_capture.saved = dup(STDERR_FILENO);
	cr_assert_geq(err_capture.saved, 0);
	cr_assert_geq(dup2(fileno(err_capture.tmp), STDERR_FILENO), 0);
}

/* Restore stderr; returns what was written to it (static buffer). */
static const char *stderr_end(void)
{
	static char buf[8192];
	size_t n;

	fflush(stderr);
	dup2(err_capture.saved, STDERR_FILENO);
	close(err_capture.saved);
	rewind(err_capture.tmp);
	n = fread(buf, 1, sizeof buf - 1, err_capture.tmp);
	buf[n] = '\0';
	fclose(err_capture.tmp);
	return buf;
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void clear_env(void)
{
	unsetenv("KAFKA_ENABLE");
	unsetenv("KAFKA_SERVERS");
	unsetenv("KAFKA_TIMEOUT");
	unsetenv("ASTRON_EVENT_RING_SIZE");
	unsetenv("ASTRON_EVENT_MAX_SIZE");
	unsetenv("ASTRON_EVENT_LOG_RATE");
}

/* Three call sites, keyed and not: `n` rounds make 3n calls and, when the
 * arguments are evaluated, 5n side effects. */
static void emit_rounds(int n)
{
	for (int i = 0; i < n; i++) {
		ASTRON_EVENT("astron.disabled", "a=%d b=%s", side_effect(),
			     side_effect() ? "x" : "y");
		ASTRON_EVENT_KEYED("astron.disabled", key_effect(), "n=%d i=%d",
				   side_effect(), i);
		ASTRON_EVENT("astron.disabled.other", "lit=1 c=%d", side_effect());
	}
}

/* ---------------------------------------------------- disabled mode */

struct disabled_case {
	char enable[8]; /* KAFKA_ENABLE, "" with unset */
	int unset;
	int bad_config; /* also set bad values that would be diagnosed */
	int with_cb;	/* capture with a log callback (else: stderr only) */
};

ParameterizedTestParameters(disabled, costs_and_says_nothing)
{
	static struct disabled_case cases[] = {
		{"", 1, 0, 0}, {"", 1, 0, 1}, {"0", 0, 0, 0}, {"0", 0, 1, 1},
		{"", 1, 1, 0}, {"off", 0, 1, 0},
	};
	return cr_make_param_array(struct disabled_case, cases,
				   sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct disabled_case *c, disabled, costs_and_says_nothing)
{
	static const astron_event_stats_t zero;
	astron_event_stats_t st;
	int threads_before;
	const char *printed;
	char err[256] = "";

	clear_env();
	if (!c->unset)
		setenv("KAFKA_ENABLE", c->enable, 1);
	setenv("KAFKA_SERVERS", "mock", 1); /* ignored while disabled */
	if (c->bad_config) {
		setenv("KAFKA_TIMEOUT", "abc", 1);
		setenv("ASTRON_EVENT_RING_SIZE", "1k", 1);
		setenv("ASTRON_EVENT_MAX_SIZE", "huge", 1);
		setenv("ASTRON_EVENT_LOG_RATE", "-1", 1);
	}
	if (c->with_cb)
		test_log_capture();
	threads_before = count_threads();
	stderr_begin();

	emit_rounds(1000);
	cr_assert_eq(astron_event_gate_, 0, "the gate closed for good");
	emit_rounds(1000); /* the steady state: one branch per call */

	/* Library calls that would complain if they were allowed to. */
	cr_assert_eq(astron_event_flush(0), ASTRON_EDISABLED);
	cr_assert_eq(astron_event_flush(-1), ASTRON_EDISABLED);
	cr_assert_null(astron_event_servers(100));
	cr_assert_eq(astron_event_enabled(), 0);
	cr_assert_eq(astron_kafka_service_send(NULL, "bad topic!", "v", 1, NULL,
					       NULL, 0), ASTRON_EDISABLED);
	cr_assert_null(astron_kafka_service_factory_create("mock:0", NULL, err,
							   sizeof err));
	cr_assert_neq(err[0], '\0', "the factory still explains itself");
	cr_assert_eq(astron_event_stats(&st), 0);
	cr_assert_eq(astron_event_shutdown(0), 0);
	emit_rounds(10);

	printed = stderr_end();
	cr_assert_eq(effects(), 0, "%d argument expressions were evaluated",
		     effects());
	cr_assert_str_empty(printed, "disabled library printed:\n%s", printed);
	cr_assert_eq(test_log_n(), 0, "%d log messages, first: %s", test_log_n(),
		     test_log_line(0));
	cr_assert_eq(count_threads(), threads_before, "a thread was started");
	cr_assert_eq(memcmp(&st, &zero, sizeof st), 0,
		     "stats not all zero: emitted %llu dropped %llu threads "
		     "%llu ring_bytes %llu", (unsigned long long)st.emitted,
		     (unsigned long long)st.dropped,
		     (unsigned long long)st.threads,
		     (unsigned long long)st.ring_bytes);
	cr_assert_eq(astron_event_stats(&st), 0);
	cr_assert_eq(memcmp(&st, &zero, sizeof st), 0, "stats after shutdown");
}

/* Other threads emitting while disabled create nothing either: no ring,
 * no flusher. */
static void *emit_thread(void *arg)
{
	(void)arg;
	emit_rounds(5000);
	return NULL;
}

Test(disabled, threads_emitting_start_nothing)
{
	pthread_t t[4];
	astron_event_stats_t st;
	int before;

	clear_env();
	test_log_capture();
	before = count_threads();
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, emit_thread, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(count_threads(), before);
	cr_assert_eq(effects(), 0);
	cr_assert_eq(astron_event_stats(&st), 0);
	cr_assert_eq(st.threads, 0, "a ring was allocated");
	cr_assert_eq(st.ring_bytes, 0);
	cr_assert_eq(st.dropped, 0, "disabled calls are not counted");
	cr_assert_eq(test_log_n(), 0);
}

/* ------------------------------------- enabled without KAFKA_SERVERS */

static void enabled_without_servers(void)
{
	clear_env();
	setenv("KAFKA_ENABLE", "1", 1);
}

Test(no_servers, one_diagnostic_and_every_event_dropped)
{
	astron_event_stats_t st;
	int before, after;

	enabled_without_servers();
	test_log_capture();
	before = count_threads();

	emit_rounds(1000);
	cr_assert_eq(astron_event_gate_, 1, "enabled: the gate is open");
	emit_rounds(1000);
	after = count_threads();

	cr_assert_eq(test_log_n(), 1,
		     "want exactly one diagnostic, got %d (first: %s)",
		     test_log_n(), test_log_line(0));
	cr_assert(strstr(test_log_line(0), "KAFKA_SERVERS"), "diagnostic: %s",
		  test_log_line(0));
	cr_assert_eq(effects(), 2 * 1000 * 5, "enabled: arguments evaluated");
	cr_assert_eq(astron_event_stats(&st), 0);
	cr_assert_eq(st.emitted, 0);
	cr_assert_eq(st.dropped, 2 * 1000 * 3, "dropped %llu",
		     (unsigned long long)st.dropped);
	cr_assert_eq(st.delivered, 0);
	cr_assert_eq(st.failed, 0);
	cr_assert_eq(after, before, "no flusher without servers");

	/* The program continues; the library keeps answering. */
	cr_assert_null(astron_event_servers(100));
	cr_assert_eq(astron_event_flush(100), 0, "nothing accepted, nothing "
		     "to wait for");
	cr_assert_eq(astron_event_shutdown(100), 0);
	emit_rounds(10);
	cr_assert_eq(astron_event_stats(&st), 0);
	cr_assert_eq(st.dropped, 2 * 1000 * 3 + 30, "dropped after shutdown");
	cr_assert_eq(st.emitted + st.delivered + st.failed, 0);
	cr_assert_eq(test_log_n(), 1, "later calls repeat nothing (first: %s)",
		     test_log_line(0));
}

Test(no_servers, default_log_writes_one_line_to_stderr)
{
	astron_event_stats_t st;
	const char *printed;

	enabled_without_servers();
	stderr_begin();
	emit_rounds(500);
	cr_assert_null(astron_event_servers(0));
	cr_assert_eq(astron_event_flush(0), 0);
	printed = stderr_end();

	cr_assert_eq(count_lines(printed), 1, "stderr:\n%s", printed);
	cr_assert(strstr(printed, "astron-event: error: "), "stderr: %s", printed);
	cr_assert(strstr(printed, "KAFKA_SERVERS"), "stderr: %s", printed);
	cr_assert_eq(astron_event_stats(&st), 0);
	cr_assert_eq(st.emitted, 0);
	cr_assert_eq(st.dropped, 1500);
}

/* Empty KAFKA_SERVERS is the same as unset. */
Test(no_servers, empty_servers_is_missing)
{
	astron_event_stats_t st;

	enabled_without_servers();
	setenv("KAFKA_SERVERS", "", 1);
	test_log_capture();
	emit_rounds(10);
	cr_assert_eq(test_log_n(), 1, "first: %s", test_log_line(0));
	cr_assert(strstr(test_log_line(0), "KAFKA_SERVERS"), "%s", test_log_line(0));
	cr_assert_eq(astron_event_stats(&st), 0);
	cr_assert_eq(st.dropped, 30);
	cr_assert_eq(st.emitted, 0);
}

/* Several threads make their first call at the same time: still exactly
 * one diagnostic, and every call counted. */
static pthread_barrier_t start_line;

static void *race_first_call(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&start_line);
	emit_rounds(2000);
	return NULL;
}

Test(no_servers, concurrent_first_calls_one_diagnostic)
{
	enum { N = 4 };
	pthread_t t[N];
	astron_event_stats_t st;

	enabled_without_servers();
	test_log_capture();
	pthread_barrier_init(&start_line, NULL, N);
	for (int i = 0; i < N; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, race_first_call, NULL), 0);
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start_line);

	cr_assert_eq(test_log_n(), 1, "%d diagnostics, first: %s", test_log_n(),
		     test_log_line(0));
	cr_assert(strstr(test_log_line(0), "KAFKA_SERVERS"), "%s", test_log_line(0));
	cr_assert_eq(astron_event_stats(&st), 0);
	cr_assert_eq(st.emitted, 0);
	cr_assert_eq(st.dropped, (uint64_t)N * 2000 * 3, "dropped %llu",
		     (unsigned long long)st.dropped);
	cr_assert_eq(effects(), N * 2000 * 5);
}
