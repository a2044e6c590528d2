/*
 * test_env.c - configuration from the environment, and the Kafka producer
 * service factory and service.
 *
 * Criterion runs every test in its own process, and the library reads the
 * environment once per process, so each test sets its variables first and
 * then makes the first call that reads them.  Diagnostics are captured with
 * astron_event_set_log_cb, installed before that first call.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astron/event.h"
#include "../lib/config.h" /* not the autoconf config.h at the top */
#include "helpers.h"
#include "kafka_service.h"

extern char **environ;

/* A clean environment for the variables this suite uses. */
static void clear_env(void)
{
	static const char *const vars[] = {
		"KAFKA_ENABLE", "KAFKA_SERVERS", "KAFKA_TIMEOUT",
		"ASTRON_EVENT_RING_SIZE", "ASTRON_EVENT_MAX_SIZE",
		"ASTRON_EVENT_LOG_RATE", "ASTRON_EVENT_BLOCK_MS",
	};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
	for (;;) { /* and every ASTRON_RDKAFKA_* */
		char name[256];
		char **e = environ;

		while (e && *e && strncmp(*e, "ASTRON_RDKAFKA_", 15) != 0)
			e++;
		if (!e || !*e)
			break;
		snprintf(name, sizeof name, "%.*s",
			 (int)(strchr(*e, '=') - *e), *e);
		unsetenv(name);
	}
}

static void enable(void)
{
	clear_env();
	setenv("KAFKA_ENABLE", "1", 1);
	test_log_capture();
}

/* Read the environment now (after the test's setenv calls).  The factory
 * given explicit servers does not read it by itself, and until it is read
 * nothing is logged (see factory.error_logged_without_prior_config). */
static void load_config(void)
{
	cr_assert_eq(astron_event_enabled(), 1);
}

/* ------------------------------------------------------ KAFKA_ENABLE */

struct bool_case {
	char value[16];
	int unset; /* the variable is not set at all */
	int want;
};

static struct bool_case bool_cases[] = {
	{"1", 0, 1},	 {"true", 0, 1},  {"TRUE", 0, 1},    {"yes", 0, 1},
	{"on", 0, 1},	 {"On", 0, 1},	  {" true ", 0, 1},  {"\ttrue\n", 0, 1},
	{"YES", 0, 1},	 {"1 ", 0, 1},	  {"0", 0, 0},	     {"false", 0, 0},
	{"no", 0, 0},	 {"off", 0, 0},	  {"", 0, 0},	     {"garbage", 0, 0},
	{"", 1, 0},	 {"2", 0, 0},	  {"10", 0, 0},	     {"truee", 0, 0},
	{"tru", 0, 0},	 {"onn", 0, 0},	  {"o", 0, 0},	     {"1 1", 0, 0},
	{"yes please", 0, 0}, {"-1", 0, 0}, {"enable", 0, 0},
};

Test(env, parse_bool_table)
{
	for (size_t i = 0; i < sizeof bool_cases / sizeof bool_cases[0]; i++) {
		const struct bool_case *c = &bool_cases[i];
		int got = astron_parse_bool(c->unset ? NULL : c->value);

		cr_expect_eq(got, c->want, "astron_parse_bool(%s%s%s) = %d, want %d",
			     c->unset ? "" : "\"", c->unset ? "NULL" : c->value,
			     c->unset ? "" : "\"", got, c->want);
	}
}

ParameterizedTestParameters(env, kafka_enable_spellings)
{
	return cr_make_param_array(struct bool_case, bool_cases,
				   sizeof bool_cases / sizeof bool_cases[0]);
}

/* The same table through the environment, one process per spelling. */
ParameterizedTest(struct bool_case *c, env, kafka_enable_spellings)
{
	clear_env();
	test_log_capture();
	if (!c->unset)
		setenv("KAFKA_ENABLE", c->value, 1);

	cr_assert_eq(astron_event_enabled(), c->want,
		     "KAFKA_ENABLE=\"%s\"%s: enabled() = %d",
		     c->value, c->unset ? " (unset)" : "", astron_event_enabled());
	cr_assert_eq(astron_config()->enabled, c->want);
	/* Disabled: flush says so.  Enabled with nothing emitted: nothing
	 * to wait for. */
	cr_assert_eq(astron_event_flush(0), c->want ? 0 : ASTRON_EDISABLED);
	cr_assert_eq(test_log_n(), 0, "unexpected diagnostics:\n%s", test_log_text());
}

/* ---------------------------------------------------------- parsers */

struct size_case {
	const char *s;
	int rc;
	unsigned long long want;
};

Test(env, parse_size_table)
{
	static const struct size_case cases[] = {
		{"64k", 0, 65536},
		{"64K", 0, 65536},
		{"64KiB", 0, 65536},
		{"64kb", 0, 65536},
		{"1M", 0, 1 << 20},
		{"1MiB", 0, 1 << 20},
		{"1m", 0, 1 << 20},
		{"1g", 0, 1 << 30},
		{"1GB", 0, 1 << 30},
		{"65536", 0, 65536},
		{"0", 0, 0},
		{"1024g", 0, 1ull << 40},
		{"-1", -1, 0},
		{" -1", -1, 0},
		{"-64k", -1, 0},
		{"abc", -1, 0},
		{"1T", -1, 0},
		{"1t", -1, 0},
		{"", -1, 0},
		{NULL, -1, 0},
		{"k", -1, 0},
		{"12kk", -1, 0},
		{"1.5M", -1, 0},
		{"64 k", -1, 0},
		{"64KiBs", -1, 0},
		{"64i", -1, 0},
		{"1025g", -1, 0},
		{"1099511627777", -1, 0},
		{"18446744073709551616", -1, 0},
		{"18014398509481984k", -1, 0}, /* 2^54 KiB: would overflow */
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t out = 777;
		int rc = astron_parse_size(cases[i].s, &out);

		cr_expect_eq(rc, cases[i].rc, "astron_parse_size(\"%s\") = %d",
			     cases[i].s ? cases[i].s : "(null)", rc);
		if (cases[i].rc == 0)
			cr_expect_eq(out, cases[i].want, "astron_parse_size(\"%s\") "
				     "-> %zu, want %llu", cases[i].s, out,
				     cases[i].want);
		else
			cr_expect_eq(out, 777, "astron_parse_size(\"%s\") wrote %zu "
				     "on failure", cases[i].s ? cases[i].s : "(null)",
				     out);
	}
}

struct int_case {
	const char *s;
	long min, max;
	int rc;
	long want;
};

Test(env, parse_int_table)
{
	static const struct int_case cases[] = {
		{"42", 0, 100, 0, 42},
		{" 42 ", 0, 100, 0, 42},
		{"0", 0, 3600, 0, 0},
		{"3600", 0, 3600, 0, 3600},
		{"3601", 0, 3600, -1, 0},
		{"-5", 0, 3600, -1, 0},
		{"-5", -10, 10, 0, -5},
		{"+7", 0, 10, 0, 7},
		{"abc", 0, 100, -1, 0},
		{"12abc", 0, 100, -1, 0},
		{"1e3", 0, 10000, -1, 0},
		{"0x10", 0, 100, -1, 0},
		{"", 0, 100, -1, 0},
		/* Regression: a blank string converts no digits and must be
		 * rejected (-1), not parsed as 0 -- otherwise KAFKA_TIMEOUT="  "
		 * would mean a 0 s timeout and ASTRON_EVENT_LOG_RATE=" " would
		 * silence every diagnostic. */
		{"   ", 0, 100, -1, 0},
		{" \t\n", 0, 100, -1, 0},
		{NULL, 0, 100, -1, 0},
		{"99999999999999999999", LONG_MIN, LONG_MAX, -1, 0},
		{"-99999999999999999999", LONG_MIN, LONG_MAX, -1, 0},
		{"9223372036854775807", LONG_MIN, LONG_MAX, 0, LONG_MAX},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		long out = 777;
		const struct int_case *c = &cases[i];
		int rc = astron_parse_int(c->s, c->min, c->max, &out);

		cr_expect_eq(rc, c->rc, "astron_parse_int(\"%s\", %ld, %ld) = %d",
			     c->s ? c->s : "(null)", c->min, c->max, rc);
		cr_expect_eq(out, c->rc == 0 ? c->want : 777,
			     "astron_parse_int(\"%s\") -> %ld",
			     c->s ? c->s : "(null)", out);
	}
}

/* ---------------------------------------------------- KAFKA_TIMEOUT */

struct str_case {
	char value[32];
};

ParameterizedTestParameters(env, kafka_timeout_bad)
{
	static struct str_case cases[] = {
		{"abc"}, {"-5"}, {"99999999999999999999"}, {"3601"}, {"1e3"},
		{""}, {"10s"},
		/* Regression: blank values are invalid (see parse_int_table),
		 * so the default applies instead of a 0 ms timeout. */
		{"   "}, {"\t"},
	};
	return cr_make_param_array(struct str_case, cases,
				   sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct str_case *c, env, kafka_timeout_bad)
{
	enable();
	setenv("KAFKA_TIMEOUT", c->value, 1);

	/* Blank values included: each is rejected and the default kept. */
	cr_assert_eq(astron_config()->timeout_ms, 10000,
		     "KAFKA_TIMEOUT=\"%s\": timeout %d ms, want the default",
		     c->value, astron_config()->timeout_ms);
	cr_assert_eq(test_log_n(), 1, "want one diagnostic, got:\n%s", test_log_text());
	cr_assert_eq(test_log_count_level("KAFKA_TIMEOUT", ASTRON_LOG_ERROR), 1,
		     "the error names KAFKA_TIMEOUT:\n%s", test_log_text());
	if (c->value[0])
		cr_assert_eq(test_log_count_level(c->value, 0), 1,
			     "the error quotes the bad value:\n%s",
			     test_log_text());
	/* Read once: asking again does not repeat the diagnostic. */
	cr_assert_eq(astron_config()->timeout_ms, 10000);
	cr_assert_eq(test_log_n(), 1);
}

Test(env, kafka_timeout_good)
{
	enable();
	setenv("KAFKA_TIMEOUT", " 3 ", 1);
	cr_assert_eq(astron_config()->timeout_ms, 3000);
	cr_assert_eq(test_log_n(), 0, "%s", test_log_text());
}

Test(env, kafka_timeout_zero)
{
	enable();
	setenv("KAFKA_TIMEOUT", "0", 1);
	cr_assert_eq(astron_config()->timeout_ms, 0);
	cr_assert_eq(test_log_n(), 0, "%s", test_log_text());
}

Test(env, kafka_timeout_bad_but_disabled_is_silent)
{
	clear_env();
	test_log_capture();
	setenv("KAFKA_TIMEOUT", "abc", 1);
	setenv("ASTRON_EVENT_RING_SIZE", "tiny", 1);
	setenv("ASTRON_EVENT_MAX_SIZE", "-3", 1);
	cr_assert_eq(astron_event_enabled(), 0);
	cr_assert_eq(astron_config()->timeout_ms, 10000);
	cr_assert_eq(test_log_n(), 0, "disabled must be silent:\n%s", test_log_text());
}

/* ---------------------------------------- ring and event size limits */

struct size_env_case {
	char ring[24];	   /* ASTRON_EVENT_RING_SIZE, "" = unset */
	char max[24];	   /* ASTRON_EVENT_MAX_SIZE, "" = unset */
	size_t want_ring;
	size_t want_max;
	char names[40];	   /* the variable every diagnostic names, "" = none */
	int level;	   /* the diagnostic's level */
};

ParameterizedTestParameters(env, ring_and_max_size)
{
	static struct size_env_case cases[] = {
		/* valid */
		{"64k", "4k", 65536, 4096, "", 0},
		{"256KiB", "", 262144, 65536, "", 0},
		{"1G", "64k", 1u << 30, 65536, "", 0},
		{"64k", "16k", 65536, 16384, "", 0},
		{"", "1k", 1u << 20, 1024, "", 0},
		/* bad ring size: default kept */
		{"abc", "4k", 1u << 20, 4096, "ASTRON_EVENT_RING_SIZE", ASTRON_LOG_ERROR},
		{"-64k", "4k", 1u << 20, 4096, "ASTRON_EVENT_RING_SIZE", ASTRON_LOG_ERROR},
		{"1k", "4k", 1u << 20, 4096, "ASTRON_EVENT_RING_SIZE", ASTRON_LOG_ERROR},
		{"65535", "4k", 1u << 20, 4096, "ASTRON_EVENT_RING_SIZE", ASTRON_LOG_ERROR},
		{"2g", "4k", 1u << 20, 4096, "ASTRON_EVENT_RING_SIZE", ASTRON_LOG_ERROR},
		/* not a power of two: rounded up, said at info level */
		{"100000", "4k", 131072, 4096, "ASTRON_EVENT_RING_SIZE", ASTRON_LOG_INFO},
		{"65537", "4k", 131072, 4096, "ASTRON_EVENT_RING_SIZE", ASTRON_LOG_INFO},
		{"768k", "4k", 1u << 20, 4096, "ASTRON_EVENT_RING_SIZE", ASTRON_LOG_INFO},
		/* max size above a quarter of the ring: clamped */
		{"64k", "32k", 65536, 16384, "ASTRON_EVENT_MAX_SIZE", ASTRON_LOG_ERROR},
		{"", "300k", 1u << 20, 262144, "ASTRON_EVENT_MAX_SIZE", ASTRON_LOG_ERROR},
		{"64k", "16385", 65536, 16384, "ASTRON_EVENT_MAX_SIZE", ASTRON_LOG_ERROR},
		/* bad max size: default kept */
		{"", "512", 1u << 20, 65536, "ASTRON_EVENT_MAX_SIZE", ASTRON_LOG_ERROR},
		{"", "abc", 1u << 20, 65536, "ASTRON_EVENT_MAX_SIZE", ASTRON_LOG_ERROR},
		{"", "1T", 1u << 20, 65536, "ASTRON_EVENT_MAX_SIZE", ASTRON_LOG_ERROR},
	};
	return cr_make_param_array(struct size_env_case, cases,
				   sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct size_env_case *c, env, ring_and_max_size)
{
	const astron_config_t *cfg;

	enable();
	if (c->ring[0])
		setenv("ASTRON_EVENT_RING_SIZE", c->ring, 1);
	if (c->max[0])
		setenv("ASTRON_EVENT_MAX_SIZE", c->max, 1);
	cfg = astron_config();

	cr_expect_eq(cfg->ring_size, c->want_ring, "ring \"%s\" max \"%s\": "
		     "ring_size %zu, want %zu", c->ring, c->max, cfg->ring_size,
		     c->want_ring);
	cr_expect_eq(cfg->max_event, c->want_max, "ring \"%s\" max \"%s\": "
		     "max_event %zu, want %zu", c->ring, c->max, cfg->max_event,
		     c->want_max);
	cr_expect_eq(cfg->ring_size & (cfg->ring_size - 1), 0);
	cr_expect_leq(cfg->max_event, cfg->ring_size / 4);
	if (!c->names[0]) {
		cr_assert_eq(test_log_n(), 0, "ring \"%s\" max \"%s\": unexpected "
			     "diagnostics:\n%s", c->ring, c->max, test_log_text());
	} else {
		cr_assert_eq(test_log_n(), 1, "ring \"%s\" max \"%s\": want one "
			     "diagnostic:\n%s", c->ring, c->max, test_log_text());
		cr_assert_eq(test_log_count_level(c->names, c->level), 1,
			     "ring \"%s\" max \"%s\": want a level-%d line "
			     "naming %s:\n%s", c->ring, c->max, c->level,
			     c->names, test_log_text());
	}
}

/*
 * ASTRON_EVENT_RING_SIZE=64k is the documented minimum, and the default
 * ASTRON_EVENT_MAX_SIZE (64k) does not fit it, so max_event is 16k.
 *
 * Regression: with ASTRON_EVENT_MAX_SIZE unset this documented-valid
 * configuration logs no error; the default silently follows the ring.  The
 * "must be at most a quarter of ASTRON_EVENT_RING_SIZE" error is only for
 * a user's own value that is too large.
 */
Test(env, small_ring_with_default_max_size)
{
	enable();
	setenv("ASTRON_EVENT_RING_SIZE", "64k", 1);
	cr_assert_eq(astron_config()->ring_size, 65536);
	cr_assert_eq(astron_config()->max_event, 16384);
	cr_expect_eq(test_log_count_level("ASTRON_EVENT_MAX_SIZE", ASTRON_LOG_ERROR), 0,
		     "no error may blame ASTRON_EVENT_MAX_SIZE, which is not "
		     "set:\n%s", test_log_text());
}

/* ---------------------------------------------------------- factory */

/* "127.0.0.1:P1,127.0.0.1:P2,..." with `brokers` distinct ports. */
static void assert_mock_servers(const char *servers, int brokers)
{
	char copy[512], *save = NULL;
	long ports[32];
	int n = 0;

	cr_assert_not_null(servers);
	cr_assert_lt(strlen(servers), sizeof copy);
	strcpy(copy, servers);
	for (char *tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		long port;

		cr_assert_eq(strncmp(tok, "127.0.0.1:", 10), 0, "broker \"%s\" in "
			     "\"%s\"", tok, servers);
		cr_assert_eq(astron_parse_int(tok + 10, 1, 65535, &port), 0,
			     "port of \"%s\"", tok);
		for (int i = 0; i < n; i++)
			cr_assert_neq(ports[i], port, "port %ld twice in %s", port,
				      servers);
		cr_assert_lt(n, 32);
		ports[n++] = port;
	}
	cr_assert_eq(n, brokers, "want %d brokers in \"%s\"", brokers, servers);
}

static astron_kafka_service_t *create_ok(const char *servers,
					 const char *const *props)
{
	char err[512] = "untouched";
	astron_kafka_service_t *svc =
		astron_kafka_service_factory_create(servers, props, err, sizeof err);

	cr_assert_not_null(svc, "create(\"%s\") failed: %s",
			   servers ? servers : "(null)", err);
	return svc;
}

/* The factory failed; returns its errstr (static). */
static const char *create_fails(const char *servers, const char *const *props)
{
	static char err[512];
	astron_kafka_service_t *svc;

	strcpy(err, "untouched");
	svc = astron_kafka_service_factory_create(servers, props, err, sizeof err);
	if (svc)
		astron_service_teardown(astron_kafka_service_base(svc));
	cr_assert_null(svc, "create(\"%s\") succeeded",
		       servers ? servers : "(null)");
	cr_assert_neq(strcmp(err, "untouched"), 0, "errstr not written");
	cr_assert_neq(err[0], '\0', "errstr empty");
	return err;
}

/* A librdkafka property of a live service, read back from its conf. */
static const char *service_prop(astron_kafka_service_t *svc, const char *name)
{
	static char val[512];
	size_t n = sizeof val;

	cr_assert_eq(rd_kafka_conf_get(rd_kafka_conf(svc->rk), name, val, &n),
		     RD_KAFKA_CONF_OK, "property %s", name);
	return val;
}

Test(factory, class_and_service_names)
{
	astron_kafka_service_t *svc;
	astron_service_t *base;

	enable();
	cr_assert_str_eq(astron_service_factory_class(astron_kafka_service_factory()),
			 "kafka_producer");
	cr_assert_str_eq(astron_service_factory_class(NULL), "");
	cr_assert_str_eq(astron_service_name(NULL), "");
	cr_assert_eq(astron_service_ready(NULL), 0);
	cr_assert_null(astron_kafka_service_base(NULL));
	astron_service_teardown(NULL); /* a no-op */

	svc = create_ok("mock", NULL);
	base = astron_kafka_service_base(svc);
	cr_assert_eq((void *)base, (void *)svc);
	cr_assert_str_eq(astron_service_name(base), "kafka_producer");
	cr_assert_eq(astron_service_ready(base), 1);
	assert_mock_servers(astron_kafka_service_servers(svc), 3);
	cr_assert_str_eq(service_prop(svc, "client.id"), "astron-event");
	cr_assert_eq(astron_kafka_service_fatal(svc, NULL, 0), 0);
	astron_service_teardown(base);
	cr_assert_eq(test_log_n(), 0, "%s", test_log_text());
}

Test(factory, mock_with_two_brokers)
{
	astron_kafka_service_t *svc;

	enable();
	svc = create_ok("mock:2", NULL);
	assert_mock_servers(astron_kafka_service_servers(svc), 2);
	cr_assert_eq(astron_service_ready(astron_kafka_service_base(svc)), 1);
	astron_service_teardown(astron_kafka_service_base(svc));
}

Test(factory, mock_from_the_environment)
{
	astron_kafka_service_t *svc;

	enable();
	setenv("KAFKA_SERVERS", "mock:1", 1);
	svc = create_ok(NULL, NULL);
	assert_mock_servers(astron_kafka_service_servers(svc), 1);
	astron_service_teardown(astron_kafka_service_base(svc));
}

Test(factory, no_servers_names_kafka_servers)
{
	const char *err;

	enable();
	err = create_fails(NULL, NULL);
	cr_assert(strstr(err, "KAFKA_SERVERS"), "errstr: %s", err);
	cr_assert_eq(test_log_count_level("KAFKA_SERVERS", ASTRON_LOG_ERROR), 1, "%s",
		     test_log_text());

	setenv("KAFKA_SERVERS", "", 1); /* empty is unset; read once, though */
	err = create_fails("", NULL);
	cr_assert(strstr(err, "KAFKA_SERVERS"), "errstr: %s", err);
}

/*
 * Regression: diagnostics are enabled by the first configuration load, so
 * the factory must load the configuration even when it is given explicit
 * servers.  A program (KAFKA_ENABLE=1) whose first library call is
 * astron_kafka_service_factory_create("host:9092",
 * {"no.such.property","1",NULL}, ...) gets NULL, an errstr and exactly one
 * logged error line, as when the environment had already been read.
 */
Test(factory, error_logged_without_prior_config)
{
	const char *const props[] = {"no.such.property", "1", NULL};

	enable();
	(void)create_fails("mock:1", props);
	cr_expect_eq(test_log_count_level("no.such.property", ASTRON_LOG_ERROR), 1,
		     "a factory error must be logged even when the factory is "
		     "the first call:\n%s", test_log_text());
}

Test(factory, no_servers_without_errstr_buffer)
{
	enable();
	cr_assert_null(astron_kafka_service_factory_create(NULL, NULL, NULL, 0));
	cr_assert_eq(test_log_count_level("KAFKA_SERVERS", ASTRON_LOG_ERROR), 1, "%s",
		     test_log_text());
}

Test(factory, explicit_servers_win_over_the_environment)
{
	astron_kafka_service_t *svc;

	enable();
	setenv("KAFKA_SERVERS", "mock:abc", 1); /* would fail if used */
	svc = create_ok("localhost:9", NULL);
	cr_assert_str_eq(astron_kafka_service_servers(svc), "localhost:9");
	cr_assert_str_eq(service_prop(svc, "bootstrap.servers"), "localhost:9");
	astron_service_teardown(astron_kafka_service_base(svc));

	svc = create_ok("mock:1", NULL);
	assert_mock_servers(astron_kafka_service_servers(svc), 1);
	astron_service_teardown(astron_kafka_service_base(svc));
}

Test(factory, env_servers_used_verbatim)
{
	astron_kafka_service_t *svc;

	enable();
	setenv("KAFKA_SERVERS", "broker-a:9092,broker-b:9093", 1);
	svc = create_ok(NULL, NULL);
	cr_assert_str_eq(astron_kafka_service_servers(svc),
			 "broker-a:9092,broker-b:9093");
	astron_service_teardown(astron_kafka_service_base(svc));
}

Test(factory, bad_mock_specs)
{
	static const char *const bad[] = {"mock:0", "mock:abc", "mock:17",
					  "mock:", "mock:-1", "mock:2x"};

	enable();
	load_config();
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *err = create_fails(bad[i], NULL);

		cr_assert(strstr(err, bad[i]), "errstr does not quote \"%s\": %s",
			  bad[i], err);
		cr_assert(strstr(err, "mock:N"), "errstr does not say the "
			  "form: %s", err);
		cr_assert(strstr(err, "1..16"), "errstr does not say the "
			  "range: %s", err);
	}
	cr_assert_eq(test_log_count_level("mock:N", ASTRON_LOG_ERROR),
		     (int)(sizeof bad / sizeof bad[0]), "%s", test_log_text());
}

/*
 * Regression: a host merely named like mock ("mock-kafka:9092",
 * "mockbroker:9092", "mock.example.com:9092") is a real server, used
 * verbatim as bootstrap.servers; only "mock" and "mock:N" start the
 * embedded cluster.
 */
Test(factory, host_named_like_mock_is_a_real_server)
{
	static const char *const hosts[] = {"mock-kafka:9092", "mockbroker:9092",
					    "mock.example.com:9092"};

	enable();
	for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
		char err[512] = "";
		astron_kafka_service_t *svc = astron_kafka_service_factory_create(
			hosts[i], NULL, err, sizeof err);

		cr_expect_not_null(svc, "\"%s\" is a real server, not a mock "
				   "spec, yet was refused: %s", hosts[i], err);
		if (svc) {
			cr_expect_str_eq(astron_kafka_service_servers(svc), hosts[i]);
			astron_service_teardown(astron_kafka_service_base(svc));
		}
	}
}

Test(factory, unknown_property)
{
	const char *const props[] = {"no.such.property", "1", NULL};
	const char *err;

	enable();
	load_config();
	err = create_fails("mock:1", props);
	cr_assert(strstr(err, "\"no.such.property\""), "errstr: %s", err);
	cr_assert_eq(test_log_count_level("no.such.property", ASTRON_LOG_ERROR),
		     1, "%s", test_log_text());
}

Test(factory, invalid_value)
{
	const char *const props[] = {"linger.ms", "5", "acks", "banana", NULL};
	const char *err;

	enable();
	err = create_fails("mock:1", props);
	cr_assert(strstr(err, "\"acks\""), "errstr: %s", err);
	cr_assert(strstr(err, "Invalid value"), "librdkafka's words: %s", err);
}

Test(factory, props_are_applied)
{
	const char *const props[] = {"linger.ms", "7", "compression.type", "lz4",
				     "client.id", "mine", NULL};
	astron_kafka_service_t *svc;

	enable();
	svc = create_ok("mock:1", props);
	cr_assert_str_eq(service_prop(svc, "linger.ms"), "7");
	cr_assert_str_eq(service_prop(svc, "compression.type"), "lz4");
	cr_assert_str_eq(service_prop(svc, "client.id"), "mine");
	astron_service_teardown(astron_kafka_service_base(svc));
}

Test(factory, env_property_then_props_override)
{
	const char *const props[] = {"linger.ms", "9", NULL};
	astron_kafka_service_t *svc;

	enable();
	setenv("ASTRON_RDKAFKA_LINGER_MS", "3", 1);
	setenv("ASTRON_RDKAFKA_COMPRESSION_TYPE", "zstd", 1);
	svc = create_ok("mock:1", NULL);
	cr_assert_str_eq(service_prop(svc, "linger.ms"), "3");
	cr_assert_str_eq(service_prop(svc, "compression.type"), "zstd");
	astron_service_teardown(astron_kafka_service_base(svc));

	svc = create_ok("mock:1", props);
	cr_assert_str_eq(service_prop(svc, "linger.ms"), "9", "props override "
			 "the environment");
	cr_assert_str_eq(service_prop(svc, "compression.type"), "zstd");
	astron_service_teardown(astron_kafka_service_base(svc));
}

Test(factory, bad_env_property_names_variable_and_property)
{
	const char *err;

	enable();
	setenv("ASTRON_RDKAFKA_LINGER_MS", "abc", 1);
	load_config();
	err = create_fails("mock:1", NULL);
	cr_assert(strstr(err, "ASTRON_RDKAFKA_LINGER_MS"), "errstr: %s", err);
	cr_assert(strstr(err, "linger.ms"), "errstr: %s", err);
	cr_assert_eq(test_log_count_level("ASTRON_RDKAFKA_LINGER_MS",
					  ASTRON_LOG_ERROR),
		     1, "%s", test_log_text());
}

Test(factory, unknown_env_property)
{
	const char *err;

	enable();
	setenv("ASTRON_RDKAFKA_NO_SUCH_THING", "1", 1);
	err = create_fails("mock:1", NULL);
	cr_assert(strstr(err, "ASTRON_RDKAFKA_NO_SUCH_THING"), "errstr: %s", err);
	cr_assert(strstr(err, "no.such.thing"), "errstr: %s", err);
}

/*
 * Regression: a props array whose last name has no value ({"linger.ms",
 * NULL}) is refused, and errstr names "linger.ms" so the caller can tell
 * which pair is wrong.
 */
Test(factory, property_without_value)
{
	const char *const props[] = {"compression.type", "lz4", "linger.ms", NULL};
	const char *err;

	enable();
	err = create_fails("mock:1", props);
	cr_expect(strstr(err, "linger.ms"), "errstr must name the property "
		  "that has no value: %s", err);
}

/* ---------------------------------------------------------- secrets */

#define SECRET "hunter2-secret"

static void assert_secret_never_shown(const char *err)
{
	cr_assert_null(strstr(err, SECRET), "errstr shows the secret: %s", err);
	for (int i = 0; i < test_log_n(); i++)
		cr_assert_null(strstr(test_log_line(i), SECRET),
			       "log line shows the secret: %s", test_log_line(i));
}

Test(secrets, invalid_sasl_mechanism)
{
	const char *err;

	enable();
	setenv("ASTRON_RDKAFKA_SASL_PASSWORD", SECRET, 1);
	setenv("ASTRON_RDKAFKA_SASL_USERNAME", "alice", 1);
	setenv("ASTRON_RDKAFKA_SECURITY_PROTOCOL", "sasl_plaintext", 1);
	setenv("ASTRON_RDKAFKA_SASL_MECHANISM", "BOGUS", 1);
	load_config();
	err = create_fails("localhost:9", NULL);
	cr_assert(strstr(err, "BOGUS"), "the real reason is reported: %s", err);
	assert_secret_never_shown(err);
	cr_assert_geq(test_log_n(), 1);
}

Test(secrets, secret_with_an_invalid_property)
{
	const char *const props[] = {"sasl.password", SECRET, "no.such.property",
				     SECRET, NULL};
	const char *err;

	enable();
	setenv("ASTRON_RDKAFKA_SSL_KEY_PASSWORD", SECRET, 1);
	load_config();
	err = create_fails("mock:1", props);
	cr_assert(strstr(err, "no.such.property"), "errstr: %s", err);
	assert_secret_never_shown(err);
}

/* A secret property that this librdkafka build rejects: its value must not
 * be echoed, but the property must still be named. */
Test(secrets, rejected_secret_property)
{
	const char *const props[] = {"sasl.oauthbearer.client.secret", SECRET,
				     NULL};
	char probe[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	int supported = rd_kafka_conf_set(conf, props[0], "x", probe,
					  sizeof probe) == RD_KAFKA_CONF_OK;
	const char *err;

	rd_kafka_conf_destroy(conf);
	enable();
	load_config();
	if (supported) {
		/* Then make it fail on a later property instead. */
		const char *const p2[] = {props[0], SECRET, "acks", SECRET, NULL};
		err = create_fails("mock:1", p2);
		cr_assert(strstr(err, "acks"), "errstr: %s", err);
	} else {
		err = create_fails("mock:1", props);
		cr_assert(strstr(err, "sasl.oauthbearer.client.secret"),
			  "errstr: %s", err);
		cr_assert(strstr(err, "value not shown"), "errstr: %s", err);
	}
	assert_secret_never_shown(err);
}

Test(secrets, bad_mock_spec_with_secret_set)
{
	const char *err;

	enable();
	setenv("ASTRON_RDKAFKA_SASL_PASSWORD", SECRET, 1);
	load_config();
	err = create_fails("mock:0", NULL);
	cr_assert_eq(test_log_n(), 1, "%s", test_log_text());
	assert_secret_never_shown(err);
}

/* Success with a secret configured: nothing in the logs either, through a
 * send, a flush and a teardown. */
Test(secrets, working_service_never_logs_the_secret)
{
	static const char v[] = "x";
	astron_kafka_service_t *svc;

	enable();
	setenv("ASTRON_RDKAFKA_SASL_PASSWORD", SECRET, 1);
	setenv("ASTRON_RDKAFKA_SASL_USERNAME", "alice", 1);
	load_config();
	svc = create_ok("mock:1", NULL);
	cr_assert_eq(astron_kafka_service_send(svc, "astron.secret", v, 1, NULL,
					       NULL, 1000), 0);
	cr_assert_eq(astron_kafka_service_flush(svc, 10000), 0);
	astron_service_teardown(astron_kafka_service_base(svc));
	assert_secret_never_shown("");
}

/* ------------------------------------------------------------ send */

Test(send, disabled_is_quiet)
{
	static const char v[] = "value";
	astron_kafka_service_t *svc;

	clear_env();
	test_log_capture();
	svc = create_ok("mock:1", NULL);
	cr_assert_eq(astron_kafka_service_send(svc, "astron.t", v, 5, NULL, NULL,
					       100), ASTRON_EDISABLED);
	cr_assert_eq(astron_kafka_service_send(NULL, "astron.t", v, 5, NULL, NULL,
					       100), ASTRON_EDISABLED);
	cr_assert_eq(astron_kafka_service_send(svc, "bad topic!", v, 5, NULL,
					       NULL, 100), ASTRON_EDISABLED);
	cr_assert_eq(astron_kafka_service_send_keyed(svc, NULL, "k", 1, v, 5, NULL,
						     NULL, 100), ASTRON_EDISABLED);
	cr_assert_eq(astron_kafka_service_outlen(svc), 0, "nothing was queued");
	astron_service_teardown(astron_kafka_service_base(svc));
	cr_assert_eq(test_log_n(), 0, "disabled must be quiet:\n%s", test_log_text());
}

struct bad_send {
	char what[24];
	int null_svc, null_topic, null_value;
	char topic[24];
	char needle[40];
};

ParameterizedTestParameters(send, invalid_arguments)
{
	static struct bad_send cases[] = {
		{"NULL service", 1, 0, 0, "astron.t", "NULL"},
		{"NULL topic", 0, 1, 0, "", "topic is NULL"},
		{"bad topic", 0, 0, 0, "bad topic!", "[a-zA-Z0-9._-]"},
		{"empty topic", 0, 0, 0, "", "empty"},
		{"dot topic", 0, 0, 0, "..", "\"..\""},
		{"NULL value", 0, 0, 1, "astron.t", "NULL buffer"},
	};
	return cr_make_param_array(struct bad_send, cases,
				   sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct bad_send *c, send, invalid_arguments)
{
	static const char v[] = "value";
	astron_kafka_service_t *svc;

	enable();
	svc = create_ok("mock:1", NULL);
	cr_assert_eq(astron_kafka_service_send(c->null_svc ? NULL : svc,
					       c->null_topic ? NULL : c->topic,
					       c->null_value ? NULL : v, 5, NULL,
					       NULL, 100),
		     ASTRON_EINVAL, "%s", c->what);
	cr_assert_eq(test_log_n(), 1, "%s: want one diagnostic:\n%s", c->what,
		     test_log_text());
	cr_assert_eq(test_log_count_level(c->needle, ASTRON_LOG_ERROR), 1, "%s: want "
		     "\"%s\" in:\n%s", c->what, c->needle, test_log_text());
	cr_assert_eq(astron_kafka_service_outlen(svc), 0);
	astron_service_teardown(astron_kafka_service_base(svc));
}

Test(send, long_topic_is_invalid)
{
	char topic[251];
	astron_kafka_service_t *svc;

	enable();
	memset(topic, 'a', 250);
	topic[250] = '\0';
	svc = create_ok("mock:1", NULL);
	cr_assert_eq(astron_kafka_service_send(svc, topic, "v", 1, NULL, NULL, 0),
		     ASTRON_EINVAL);
	cr_assert_eq(test_log_count_level("249", ASTRON_LOG_ERROR), 1, "%s",
		     test_log_text());
	topic[249] = '\0';
	cr_assert_eq(astron_kafka_service_send(svc, topic, "v", 1, NULL, NULL, 0),
		     0, "249 characters are allowed");
	astron_service_teardown(astron_kafka_service_base(svc));
}

/* What the delivery callback saw. */
struct delivered {
	int calls;
	int err;
	char errstr[256];
	unsigned char value[256];
	size_t len;
	void *opaque;
	size_t lens[8]; /* every report's length, in report order */
};

static void on_delivery(int err, const char *errstr, const void *value,
			size_t len, void *opaque)
{
	struct delivered *d = opaque;

	if (d->calls < 8)
		d->lens[d->calls] = len;
	d->calls++;
	d->err = err;
	snprintf(d->errstr, sizeof d->errstr, "%s", errstr ? errstr : "(null)");
	d->len = len;
	d->opaque = opaque;
	if (value && len <= sizeof d->value)
		memcpy(d->value, value, len);
}

/* {"user": str, "n": int, "ok": bool} as msgpack. */
static void pack_value(msgpack_sbuffer *sb, const char *user, int64_t n)
{
	msgpack_packer pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_str(&pk, 4);
	msgpack_pack_str_body(&pk, "user", 4);
	msgpack_pack_str(&pk, strlen(user));
	msgpack_pack_str_body(&pk, user, strlen(user));
	msgpack_pack_str(&pk, 1);
	msgpack_pack_str_body(&pk, "n", 1);
	msgpack_pack_int64(&pk, n);
	msgpack_pack_str(&pk, 2);
	msgpack_pack_str_body(&pk, "ok", 2);
	msgpack_pack_true(&pk);
}

Test(send, round_trip_through_the_mock_cluster, .timeout = 30)
{
	const char *topic = "astron.env.roundtrip";
	struct delivered d1 = {0}, d2 = {0};
	msgpack_sbuffer v1, v2;
	astron_kafka_service_t *svc;
	test_msg_t *msgs = NULL;
	int seen_plain = 0, seen_keyed = 0;
	size_t n;

	enable();
	svc = create_ok("mock:1", NULL);
	pack_value(&v1, "alice", 42);
	pack_value(&v2, "bob", -7);

	cr_assert_eq(astron_kafka_service_send(svc, topic, v1.data, v1.size,
					       on_delivery, &d1, 1000), 0);
	cr_assert_eq(astron_kafka_service_send_keyed(svc, topic, "user-42", 7,
						     v2.data, v2.size, on_delivery,
						     &d2, 1000), 0);
	cr_assert_eq(astron_kafka_service_flush(svc, 10000), 0);
	cr_assert_eq(astron_kafka_service_outlen(svc), 0);

	cr_assert_eq(d1.calls, 1, "callback fired %d times", d1.calls);
	cr_assert_eq(d1.err, 0, "delivery failed: %s", d1.errstr);
	cr_assert_eq(d1.opaque, &d1);
	cr_assert_eq(d1.len, v1.size);
	cr_assert_arr_eq(d1.value, v1.data, v1.size, "delivered other bytes");
	cr_assert_eq(d2.calls, 1);
	cr_assert_eq(d2.err, 0, "delivery failed: %s", d2.errstr);
	cr_assert_eq(d2.len, v2.size);
	cr_assert_arr_eq(d2.value, v2.data, v2.size);

	n = test_consume(astron_kafka_service_servers(svc), topic, 2, 10000, &msgs);
	cr_assert_eq(n, 2, "consumed %zu of 2", n);
	for (size_t i = 0; i < n; i++) {
		const test_msg_t *m = &msgs[i];
		const msgpack_sbuffer *want = m->key ? &v2 : &v1;

		cr_assert(m->decoded, "message %zu is not one msgpack object", i);
		cr_assert_eq(m->len, want->size);
		cr_assert_arr_eq(m->value, want->data, want->size,
				 "consumed other bytes than sent");
		if (m->key) {
			seen_keyed++;
			cr_assert_eq(m->keylen, 7);
			cr_assert_str_eq(m->key, "user-42");
			test_str_eq(&m->up.data, "user", "bob");
			cr_assert_eq(test_int(&m->up.data, "n"), -7);
		} else {
			seen_plain++;
			test_str_eq(&m->up.data, "user", "alice");
			cr_assert_eq(test_int(&m->up.data, "n"), 42);
		}
		cr_assert_not_null(test_get(&m->up.data, "ok"));
		cr_assert_eq(test_get(&m->up.data, "ok")->type,
			     MSGPACK_OBJECT_BOOLEAN);
	}
	cr_assert_eq(seen_plain, 1);
	cr_assert_eq(seen_keyed, 1);
	test_free_msgs(msgs, n);
	msgpack_sbuffer_destroy(&v1);
	msgpack_sbuffer_destroy(&v2);
	astron_service_teardown(astron_kafka_service_base(svc));
	cr_assert_eq(test_log_n(), 0, "%s", test_log_text());
}

Test(send, default_callback_and_empty_value, .timeout = 30)
{
	struct delivered d = {0};
	astron_kafka_service_t *svc;

	enable();
	svc = create_ok("mock:1", NULL);
	astron_kafka_service_set_default_cb(svc, on_delivery, &d);
	cr_assert_eq(astron_kafka_service_send(svc, "astron.env.default", "abc",
					       3, NULL, NULL, 1000), 0);
	cr_assert_eq(astron_kafka_service_send(svc, "astron.env.default", NULL, 0,
					       NULL, NULL, 1000), 0,
		     "an empty value is valid");
	cr_assert_eq(astron_kafka_service_flush(svc, 10000), 0);
	cr_assert_eq(d.calls, 2, "default callback fired %d times", d.calls);
	cr_assert_eq(d.err, 0, "%s", d.errstr);
	/* Two partitions may report in either order. */
	cr_assert(d.lens[0] + d.lens[1] == 3 && d.lens[0] * d.lens[1] == 0,
		  "reported lengths %zu and %zu, want 3 and 0", d.lens[0],
		  d.lens[1]);
	astron_service_teardown(astron_kafka_service_base(svc));
}

/* Messages still queued when the service is torn down get their one
 * report, as failures. */
Test(send, teardown_reports_undelivered, .timeout = 30)
{
	struct delivered d = {0};
	astron_kafka_service_t *svc;

	enable();
	svc = create_ok("localhost:1", NULL); /* nothing listens there */
	cr_assert_eq(astron_kafka_service_send(svc, "astron.env.nowhere", "abc", 3,
					       on_delivery, &d, 0), 0);
	cr_assert_eq(astron_kafka_service_outlen(svc), 1);
	cr_assert_eq(astron_kafka_service_flush(svc, 200), ASTRON_ETIMEDOUT);
	cr_assert_eq(d.calls, 0);
	astron_service_teardown(astron_kafka_service_base(svc));
	cr_assert_eq(d.calls, 1, "the queued message was reported %d times",
		     d.calls);
	cr_assert_neq(d.err, 0);
	cr_assert_eq(d.len, 3);
	cr_assert_arr_eq(d.value, "abc", 3);
}
