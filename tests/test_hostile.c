/*
 * test_hostile.c - hostile and odd input: malformed formats, bad topics,
 * huge values and keys, invalid UTF-8, bad environment values and secrets.
 * Each case must give a clear diagnostic naming the call site's file:line
 * (or the environment variable), rate-limited, and the program runs on:
 * the tests go on emitting and check that what follows is delivered.
 *
 * Formats are compile-time constants by construction: ASTRON_EVENT puts the
 * format into a static initializer, so a runtime-built format held in a
 * pointer variable,
 *
 *     const char *fmt = build_format();
 *     ASTRON_EVENT("t", fmt, x);    // error: initializer element is not constant
 *
 * does not compile (not tested here: a compile-fail test is out of scope).
 * Note that the address of a static char array *is* a constant, so
 * `static char buf[64]; snprintf(buf, ...); ASTRON_EVENT("t", buf, x)`
 * compiles (with only a -Wformat-nonliteral warning): such a format is still
 * parsed by the library's own parser, never handed to printf, which is what
 * the tests below check with formats full of printf directives (%n, %s...):
 * %n is never written through, and diagnostics quote formats verbatim.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <astron/event.h>

#include "helpers.h"
#include "pipeline.h" /* and through it lib/config.h: astron_config() */

/* ------------------------------------------------------------ helpers */

static void setup_mock(void)
{
	setenv("KAFKA_ENABLE", "1", 1);
	setenv("KAFKA_SERVERS", "mock:3", 1);
}

/* Exactly one diagnostic names this file at `line` and says `what`. */
static void expect_site_diag(int line, const char *what)
{
	char site[512];

	snprintf(site, sizeof site, "%s:%d:", __FILE__, line);
	cr_expect_eq(test_log_count(site, NULL), 1, "%d diagnostics name %s, want 1",
		     test_log_count(site, NULL), site);
	cr_expect_eq(test_log_count(site, what), 1, "the diagnostic for %s does not "
		     "say \"%s\"", site, what);
	if (test_log_count(site, what) != 1)
		test_log_dump();
}

static astron_event_stats_t stats(void)
{
	astron_event_stats_t st;

	cr_assert_eq(astron_event_stats(&st), 0);
	return st;
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Read `want` events of `topic` back (exactly: no more arrive). */
static test_msg_t *consume(const char *topic, size_t want)
{
	test_msg_t *msgs;
	size_t n = test_consume(astron_event_servers(5000), topic, want, 30000, &msgs);

	cr_assert_eq(n, want, "%s: consumed %zu, want %zu", topic, n, want);
	for (size_t k = 0; k < n; k++)
		cr_assert(msgs[k].decoded, "%s: message %zu is not one msgpack "
			  "object", topic, k);
	return msgs;
}

static void expect_error_field(const msgpack_object *m, const char *needle)
{
	const msgpack_object *e = test_get(m, "@error");

	cr_assert_not_null(e, "no @error field");
	cr_assert_eq(e->type, MSGPACK_OBJECT_STR);
	cr_expect(memmem(e->via.str.ptr, e->via.str.size, needle, strlen(needle)),
		  "@error \"%.*s\" does not say \"%s\"", (int)e->via.str.size,
		  e->via.str.ptr, needle);
}

/* The program runs on: an ordinary event after the hostile ones arrives. */
static void expect_still_working(void)
{
	astron_event_stats_t before = stats(), st;

	ASTRON_EVENT("hostile.after", "ok=%d", 1);
	cr_assert_eq(astron_event_flush(10000), 0);
	st = stats();
	cr_expect_eq(st.emitted, before.emitted + 1);
	cr_expect_eq(st.delivered, st.emitted - st.failed);
}

#define META 9 /* @v @ts @file @line @func @pid @tid @seq @tseq */

/* ------------------------------------------------ malformed formats */

/* Compilers warn about these formats; the point is that they reach us. */
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
#pragma GCC diagnostic ignored "-Wformat-zero-length"
#pragma GCC diagnostic ignored "-Wformat-security"
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

Test(hostile, percent_n_is_never_written_through, .timeout = 60)
{
	int victim = 12345, line;
	astron_event_stats_t st;
	test_msg_t *msgs;
	const msgpack_object *m;

	setup_mock();
	test_log_capture();
	line = __LINE__ + 1;
	ASTRON_EVENT("hostile.pctn", "a=%d n=%n b=%d", 1, &victim, 2);
	cr_assert_eq(victim, 12345, "%%n wrote %d through the pointer", victim);
	cr_assert_eq(astron_event_flush(10000), 0);
	st = stats();
	cr_expect_eq(st.emitted, 1);
	cr_expect_eq(st.format_errors, 1);
	cr_expect_eq(st.delivered, 1);
	expect_site_diag(line, "%n");

	msgs = consume("hostile.pctn", 1);
	m = &msgs[0].up.data;
	cr_expect_eq(test_int(m, "a"), 1);
	cr_expect_eq(test_int(m, "b"), 2, "arguments misaligned after %%n");
	cr_expect_null(test_get(m, "n"), "%%n produced a field");
	expect_error_field(m, "%n");
	cr_expect_eq(m->via.map.size, META + 3, "fields: a, b, @error");
	test_free_msgs(msgs, 1);
	cr_assert_eq(victim, 12345);
	expect_still_working();
}

Test(hostile, unknown_conversion_keeps_what_came_before, .timeout = 60)
{
	test_msg_t *msgs;
	const msgpack_object *m;
	int line;

	setup_mock();
	test_log_capture();
	line = __LINE__ + 1;
	ASTRON_EVENT("hostile.unknown", "a=%d b=%y%s%s%s%n c=%d", 1, 2, 3);
	cr_assert_eq(astron_event_flush(10000), 0);
	cr_expect_eq(stats().format_errors, 1);
	expect_site_diag(line, "unknown conversion");
	/* The diagnostic quotes the format verbatim: it was never used as a
	 * printf format (%s%s%s%n would have read garbage or crashed). */
	cr_expect_eq(test_log_count("\"a=%d b=%y%s%s%s%n c=%d\"", NULL), 1,
		     "the format is not quoted verbatim");

	msgs = consume("hostile.unknown", 1);
	m = &msgs[0].up.data;
	cr_expect_eq(test_int(m, "a"), 1);
	cr_expect_null(test_get(m, "b"));
	cr_expect_null(test_get(m, "c"), "a pair after an unknown conversion "
		       "cannot be aligned and must not be recorded");
	expect_error_field(m, "unknown conversion");
	cr_expect_eq(m->via.map.size, META + 2);
	test_free_msgs(msgs, 1);
	expect_still_working();
}

Test(hostile, malformed_pairs_keep_arguments_aligned, .timeout = 60)
{
	int l_novalue, l_nokey, l_convkey;
	astron_event_stats_t st;
	test_msg_t *msgs;

	setup_mock();
	test_log_capture();
	l_novalue = __LINE__ + 1;
	ASTRON_EVENT("hostile.pairs", "novalue case=1");
	l_nokey = __LINE__ + 1;
	ASTRON_EVENT("hostile.pairs", "=%d case=2", 5);
	l_convkey = __LINE__ + 1;
	ASTRON_EVENT("hostile.pairs", "%s=%d ok=%d case=3", "x", 5, 7);
	cr_assert_eq(astron_event_flush(10000), 0);
	st = stats();
	cr_expect_eq(st.emitted, 3);
	cr_expect_eq(st.format_errors, 3);
	cr_expect_eq(st.delivered, 3);
	expect_site_diag(l_novalue, "novalue");
	expect_site_diag(l_nokey, "missing key");
	expect_site_diag(l_convkey, "a key cannot hold a conversion");

	msgs = consume("hostile.pairs", 3);
	for (int k = 0; k < 3; k++) {
		const msgpack_object *m = &msgs[k].up.data;
		const msgpack_object *c = test_get(m, "case");

		cr_assert_not_null(c);
		cr_assert_eq(c->type, MSGPACK_OBJECT_STR);
		switch (c->via.str.ptr[0]) {
		case '1':
			expect_error_field(m, "novalue");
			cr_expect_eq(m->via.map.size, META + 2);
			break;
		case '2':
			expect_error_field(m, "missing key");
			cr_expect_eq(m->via.map.size, META + 2);
			break;
		case '3':
			expect_error_field(m, "a key cannot hold a conversion");
			cr_expect_eq(test_int(m, "ok"), 7, "ok is not aligned");
			cr_expect_eq(m->via.map.size, META + 3);
			break;
		default:
			cr_assert_fail("case %.*s", (int)c->via.str.size, c->via.str.ptr);
		}
	}
	test_free_msgs(msgs, 3);
	expect_still_working();
}

/* doc/event-format.md: an empty format is an event with metadata only (it
 * is not an error: no @error, not counted in format_errors). */
Test(hostile, empty_format_is_metadata_only, .timeout = 60)
{
	test_msg_t *msgs;
	astron_event_stats_t st;

	setup_mock();
	test_log_capture();
	ASTRON_EVENT("hostile.empty", "");
	cr_assert_eq(astron_event_flush(10000), 0);
	st = stats();
	cr_expect_eq(st.emitted, 1);
	cr_expect_eq(st.format_errors, 0);
	cr_expect_eq(st.delivered, 1);
	msgs = consume("hostile.empty", 1);
	cr_expect_eq(msgs[0].up.data.via.map.size, META);
	cr_expect_null(test_get(&msgs[0].up.data, "@error"));
	test_free_msgs(msgs, 1);
}

Test(hostile, null_format_is_an_error_event, .timeout = 60)
{
	test_msg_t *msgs;
	astron_event_stats_t st;
	int line;

	setup_mock();
	test_log_capture();
	line = __LINE__ + 1;
	ASTRON_EVENT("hostile.null", NULL);
	cr_assert_eq(astron_event_flush(10000), 0);
	st = stats();
	cr_expect_eq(st.emitted, 1);
	cr_expect_eq(st.format_errors, 1);
	cr_expect_eq(st.delivered, 1);
	expect_site_diag(line, "NULL");
	msgs = consume("hostile.null", 1);
	cr_expect_eq(msgs[0].up.data.via.map.size, META + 1);
	expect_error_field(&msgs[0].up.data, "NULL");
	test_free_msgs(msgs, 1);
	expect_still_working();
}

/* ------------------------------------------------ diagnostics' rate */

/* One call site, 1000 bad calls: one diagnostic (a site reports once), and
 * every call still recorded. */
Test(hostile, one_bad_site_logs_once, .timeout = 60)
{
	astron_event_stats_t st;
	int line = 0;

	setup_mock();
	test_log_capture();
	for (int i = 0; i < 1000; i++) {
		line = __LINE__ + 1;
		ASTRON_EVENT("hostile.rate1", "novalue i=%d", i);
	}
	cr_assert_eq(astron_event_flush(10000), 0);
	st = stats();
	cr_expect_eq(st.emitted, 1000);
	cr_expect_eq(st.format_errors, 1000);
	cr_expect_eq(st.delivered, 1000);
	expect_site_diag(line, "novalue");
}

/* 1000 distinct call sites (one macro expanded 1000 times), each bad: their
 * diagnostics go through the ASTRON_EVENT_LOG_RATE token bucket (5 per
 * second here), and the next message that passes counts the rest. */
#define BAD_SITE() ASTRON_EVENT("hostile.rate", "novalue")
#define X10(x) x; x; x; x; x; x; x; x; x; x
static void thousand_bad_sites(void)
{
	X10(X10(X10(BAD_SITE())));
}

Test(hostile, many_bad_sites_are_rate_limited, .timeout = 60)
{
	astron_event_stats_t st;
	unsigned long suppressed = 0;
	int passed, line, allowed;
	int64_t t0;
	const char *p = NULL;

	setup_mock();
	setenv("ASTRON_EVENT_LOG_RATE", "5", 1);
	test_log_capture();
	cr_assert_not_null(astron_event_servers(10000));
	t0 = test_now_ms();
	thousand_bad_sites();
	/* The bucket holds 5 and refills 5 per second: a slow run (say under
	 * a sanitizer) may legitimately pass a few more. */
	allowed = 5 + (int)((test_now_ms() - t0) * 5 / 1000) + 1;
	passed = test_log_count("novalue", NULL);
	cr_assert_eq(astron_event_flush(10000), 0);
	st = stats(); /* format_errors is counted as the flusher sends */
	cr_expect_eq(st.emitted, 1000);
	cr_expect_eq(st.format_errors, 1000);
	cr_log_info("1000 bad sites: %d diagnostics passed; emitted %llu format_errors %llu dropped %llu", passed, (unsigned long long)st.emitted, (unsigned long long)st.format_errors, (unsigned long long)st.dropped);
	cr_expect_geq(passed, 1);
	cr_expect_leq(passed, allowed, "%d diagnostics passed a rate of 5/s "
		      "(at most %d in this run's time)", passed, allowed);

	/* A second later the bucket has tokens again: the next diagnostic
	 * says how many were suppressed. */
	sleep(1);
	line = __LINE__ + 1;
	ASTRON_EVENT("hostile.rate", "another novalue");
	for (int i = test_log_n() - 1; i >= 0 && !p; i--)
		if (strstr(test_log_line(i), "another novalue"))
			p = strstr(test_log_line(i), "(");
	if (p)
		p = strrchr(p, '(');
	if (p)
		suppressed = strtoul(p + 1, NULL, 10);
	expect_site_diag(line, "suppressed by the rate limit");
	cr_log_info("then: %lu reported as suppressed", suppressed);
	cr_expect_geq(suppressed, 1000 - (unsigned long)passed,
		      "%lu suppressed reported, %d passed, of 1000", suppressed,
		      passed);
	cr_assert_eq(astron_event_flush(10000), 0);
	cr_expect_eq(stats().delivered, 1001);
}

/* ------------------------------------------------ topics */

static char topic_249[250], topic_250[251];

Test(hostile, invalid_topics_are_dropped_and_counted, .timeout = 60)
{
	int l_null, l_empty, l_bad, l_long, l_dot, l_dotdot;
	astron_event_stats_t st;
	test_msg_t *msgs;

	memset(topic_249, 'a', 249);
	memset(topic_250, 'a', 250);
	setup_mock();
	test_log_capture();
	for (int i = 0; i < 2; i++) {
		l_null = __LINE__ + 1;
		ASTRON_EVENT(NULL, "i=%d", i);
		l_empty = __LINE__ + 1;
		ASTRON_EVENT("", "i=%d", i);
		l_bad = __LINE__ + 1;
		ASTRON_EVENT("bad topic!", "i=%d", i);
		l_long = __LINE__ + 1;
		ASTRON_EVENT(topic_250, "i=%d", i);
		l_dot = __LINE__ + 1;
		ASTRON_EVENT(".", "i=%d", i);
		l_dotdot = __LINE__ + 1;
		ASTRON_EVENT("..", "i=%d", i);
		ASTRON_EVENT(topic_249, "i=%d", i); /* the longest valid one */
	}
	cr_assert_eq(astron_event_flush(10000), 0);
	st = stats();
	cr_expect_eq(st.dropped, 12, "dropped %llu, want 6 sites x 2",
		     (unsigned long long)st.dropped);
	cr_expect_eq(st.emitted, 2);
	cr_expect_eq(st.delivered, 2);
	expect_site_diag(l_null, "NULL");
	expect_site_diag(l_empty, "empty");
	expect_site_diag(l_bad, "[a-zA-Z0-9._-]");
	expect_site_diag(l_long, "249");
	expect_site_diag(l_dot, "\".\"");
	expect_site_diag(l_dotdot, "\"..\"");
	msgs = consume(topic_249, 2);
	test_free_msgs(msgs, 2);
	expect_still_working();
}

/* ------------------------------------------------ huge values */

#define BIG (16u << 20)

/* A 16 MiB string of "€" (3 bytes each): the event is cut to
 * ASTRON_EVENT_MAX_SIZE (64 KiB) at a character boundary, marked
 * @truncated, the fields after it survive, it is delivered, and the call
 * returns quickly (it must not read 16 MiB, let alone copy it). */
Test(hostile, sixteen_mib_string_is_truncated_fast, .timeout = 60)
{
	char *big = malloc(BIG + 1);
	astron_event_stats_t st;
	test_msg_t *msgs;
	int64_t took;
	size_t i;

	cr_assert_not_null(big);
	for (i = 0; i + 3 <= BIG; i += 3)
		memcpy(big + i, "\xe2\x82\xac", 3);
	memset(big + i, 'x', BIG - i);
	big[BIG] = '\0';
	setup_mock();
	test_log_capture();
	ASTRON_EVENT("hostile.big", "warm=%d", 1); /* ring and pipeline exist */
	took = now_us();
	ASTRON_EVENT("hostile.big", "s=%s n=%d", big, 7);
	took = now_us() - took;
	cr_log_info("a 16 MiB string took %lld us to emit", (long long)took);
	cr_expect_lt(took, 50000, "emitting a 16 MiB string took %lld us",
		     (long long)took);
	cr_assert_eq(astron_event_flush(10000), 0);
	st = stats();
	cr_expect_eq(st.emitted, 2);
	cr_expect_eq(st.truncated, 1);
	cr_expect_eq(st.delivered, 2);

	msgs = consume("hostile.big", 2);
	for (int k = 0; k < 2; k++) {
		const msgpack_object *m = &msgs[k].up.data, *s = test_get(m, "s"), *t;

		if (!s)
			continue;
		cr_log_info("the truncated event: %zu bytes on the wire, a %u-byte "
			    "string", msgs[k].len, s->via.str.size);
		cr_assert_eq(s->type, MSGPACK_OBJECT_STR, "the cut string is not a str");
		cr_expect_eq(s->via.str.size % 3, 0, "cut inside a character");
		for (size_t j = 0; j + 3 <= s->via.str.size; j += 3)
			cr_assert(memcmp(s->via.str.ptr + j, "\xe2\x82\xac", 3) == 0,
				  "byte %zu of the cut string is wrong", j);
		cr_expect_gt(s->via.str.size, 60000, "cut too short");
		cr_expect_leq(msgs[k].len, 65536 + 256, "the event is %zu bytes",
			      msgs[k].len);
		t = test_get(m, "@truncated");
		cr_assert_not_null(t, "no @truncated");
		cr_expect(t->type == MSGPACK_OBJECT_BOOLEAN && t->via.boolean);
		cr_expect_eq(test_int(m, "n"), 7, "the field after the string");
	}
	cr_expect(test_get(&msgs[0].up.data, "s") || test_get(&msgs[1].up.data, "s"));
	test_free_msgs(msgs, 2);
	free(big);
	expect_still_working();
}

/* Invalid UTF-8 in %s (and a non-ASCII %c) is sent as bin, byte for byte;
 * valid UTF-8 stays str. */
Test(hostile, invalid_utf8_is_sent_as_exact_bin, .timeout = 60)
{
	static const struct {
		const char *key, *bytes;
	} bins[] = {
		{"junk", "\xff\xfe" "abc"},
		{"overlong", "\xc0\xaf"},
		{"surrogate", "\xed\xa0\x80"},
		{"cut", "ab\xe2\x82"},
		{"toobig", "\xf4\x90\x80\x80"},
	};
	test_msg_t *msgs;
	const msgpack_object *m, *o;

	setup_mock();
	test_log_capture();
	ASTRON_EVENT("hostile.utf8",
		     "junk=%s overlong=%s surrogate=%s cut=%s toobig=%s ok=%s c=%c",
		     bins[0].bytes, bins[1].bytes, bins[2].bytes, bins[3].bytes,
		     bins[4].bytes, "h\xc3\xa9llo \xe2\x82\xac", 0xe9);
	cr_assert_eq(astron_event_flush(10000), 0);
	cr_expect_eq(stats().delivered, 1);
	cr_expect_eq(stats().format_errors, 0);
	msgs = consume("hostile.utf8", 1);
	m = &msgs[0].up.data;
	for (size_t i = 0; i < sizeof bins / sizeof bins[0]; i++) {
		o = test_get(m, bins[i].key);
		cr_assert_not_null(o, "%s missing", bins[i].key);
		cr_expect_eq(o->type, MSGPACK_OBJECT_BIN, "%s: type %d, want bin",
			     bins[i].key, o->type);
		cr_expect_eq(o->via.bin.size, strlen(bins[i].bytes));
		cr_expect(memcmp(o->via.bin.ptr, bins[i].bytes,
				 strlen(bins[i].bytes)) == 0,
			  "%s: bytes changed", bins[i].key);
	}
	test_str_eq(m, "ok", "h\xc3\xa9llo \xe2\x82\xac");
	o = test_get(m, "c");
	cr_assert_not_null(o);
	cr_expect_eq(o->type, MSGPACK_OBJECT_BIN);
	cr_expect(o->via.bin.size == 1 && (uint8_t)o->via.bin.ptr[0] == 0xe9);
	test_free_msgs(msgs, 1);
}

/* A 1 MiB key is cut to a quarter of ASTRON_EVENT_MAX_SIZE (16 KiB). */
Test(hostile, huge_key_is_truncated, .timeout = 60)
{
	size_t klen = 1u << 20;
	char *key = malloc(klen + 1);
	astron_event_stats_t st;
	test_msg_t *msgs;
	const msgpack_object *t;

	memset(key, 'k', klen);
	key[klen] = '\0';
	setup_mock();
	test_log_capture();
	ASTRON_EVENT_KEYED("hostile.key", key, "a=%d", 1);
	cr_assert_eq(astron_event_flush(10000), 0);
	st = stats();
	cr_expect_eq(st.emitted, 1);
	cr_expect_eq(st.truncated, 1);
	cr_expect_eq(st.delivered, 1);
	msgs = consume("hostile.key", 1);
	cr_expect_eq(msgs[0].keylen, 65536 / 4, "key of %zu bytes", msgs[0].keylen);
	cr_expect(msgs[0].key && memcmp(msgs[0].key, key, msgs[0].keylen) == 0);
	cr_expect_eq(test_int(&msgs[0].up.data, "a"), 1);
	t = test_get(&msgs[0].up.data, "@truncated");
	cr_expect(t && t->type == MSGPACK_OBJECT_BOOLEAN && t->via.boolean);
	test_free_msgs(msgs, 1);
	free(key);
	expect_still_working();
}

/* ------------------------------------------------ environment */

/* One error names the variable and its value; the default is used. */
static void expect_env_error(const char *var, const char *value)
{
	cr_expect_eq(test_log_count(var, value), 1, "%d diagnostics name %s and '%s', "
		     "want 1", test_log_count(var, value), var, value);
	if (test_log_count(var, value) != 1)
		test_log_dump();
}

Test(hostile, kafka_timeout_abc_uses_the_default, .timeout = 60)
{
	setup_mock();
	setenv("KAFKA_TIMEOUT", "abc", 1);
	test_log_capture();
	expect_still_working();
	expect_env_error("KAFKA_TIMEOUT", "abc");
	cr_expect_eq(astron_config()->timeout_ms, 10000);
}

static void bad_ring_size(const char *value)
{
	setup_mock();
	setenv("ASTRON_EVENT_RING_SIZE", value, 1);
	test_log_capture();
	expect_still_working();
	expect_env_error("ASTRON_EVENT_RING_SIZE", value);
	cr_expect_eq(stats().ring_bytes, 1u << 20, "ring of %llu bytes, want the "
		     "1 MiB default", (unsigned long long)stats().ring_bytes);
	cr_expect_eq(stats().dropped, 0);
}

Test(hostile, ring_size_negative, .timeout = 60) { bad_ring_size("-1"); }
Test(hostile, ring_size_one_byte, .timeout = 60) { bad_ring_size("1"); }
Test(hostile, ring_size_absurd, .timeout = 60) { bad_ring_size("99999999999999"); }

/* ASTRON_EVENT_MAX_SIZE above a quarter of the ring is cut to ring/4. */
Test(hostile, max_size_above_a_quarter_of_the_ring, .timeout = 60)
{
	static char s[100000];
	test_msg_t *msgs;
	const msgpack_object *v;

	memset(s, 'z', sizeof s - 1);
	setup_mock();
	setenv("ASTRON_EVENT_RING_SIZE", "64k", 1);
	setenv("ASTRON_EVENT_MAX_SIZE", "32k", 1);
	test_log_capture();
	ASTRON_EVENT("hostile.maxsize", "s=%s", s);
	cr_assert_eq(astron_event_flush(10000), 0);
	cr_expect_eq(test_log_count("ASTRON_EVENT_MAX_SIZE", "16384"), 1,
		     "no single error naming ASTRON_EVENT_MAX_SIZE and the "
		     "size used");
	cr_expect_eq(astron_config()->max_event, 16384);
	cr_expect_eq(stats().delivered, 1);
	cr_expect_eq(stats().truncated, 1);
	msgs = consume("hostile.maxsize", 1);
	v = test_get(&msgs[0].up.data, "s");
	cr_assert_not_null(v);
	cr_expect_gt(v->via.str.size, 15000);
	cr_expect_leq(msgs[0].len, 16384 + 256, "a %zu-byte event with a 16 KiB "
		      "maximum", msgs[0].len);
	test_free_msgs(msgs, 1);
}

/* The smallest valid ring, with no ASTRON_EVENT_MAX_SIZE set, is a valid
 * configuration: the default maximum shrinks to ring/4 silently.
 *
 * Regression: the "ASTRON_EVENT_MAX_SIZE must be at most a quarter of
 * ASTRON_EVENT_RING_SIZE" error is only for an explicit setting, never
 * for the default (64k) following a small ring. */
Test(hostile, small_ring_alone_is_not_an_error, .timeout = 60)
{
	setup_mock();
	setenv("ASTRON_EVENT_RING_SIZE", "64k", 1);
	test_log_capture();
	expect_still_working();
	cr_expect_eq(astron_config()->max_event, 16384);
	cr_expect_eq(test_log_count("ASTRON_EVENT_MAX_SIZE", NULL), 0,
		     "an error about ASTRON_EVENT_MAX_SIZE, which is not set");
	if (test_log_count("ASTRON_EVENT_MAX_SIZE", NULL))
		test_log_dump();
}

/* An unknown librdkafka property: one error naming the variable and the
 * property; no producer, so events are counted (failed while the flusher
 * was creating the producer, dropped after) and the program runs on. */
Test(hostile, unknown_rdkafka_property, .timeout = 60)
{
	astron_event_stats_t st;

	setup_mock();
	setenv("ASTRON_RDKAFKA_NO_SUCH_PROP", "1", 1);
	test_log_capture();
	for (int i = 0; i < 10; i++)
		ASTRON_EVENT("hostile.noprop", "i=%d", i);
	cr_expect_null(astron_event_servers(5000));
	cr_expect_eq(astron_event_flush(5000), 0);
	st = stats();
	cr_expect_eq(st.emitted + st.dropped, 10);
	cr_expect_eq(st.delivered, 0);
	cr_expect_eq(st.failed, st.emitted);
	for (int i = 0; i < 10; i++)
		ASTRON_EVENT("hostile.noprop", "i=%d", i);
	cr_expect_eq(stats().dropped, st.dropped + 10);
	cr_expect_eq(stats().emitted, st.emitted);
	cr_expect_eq(test_log_count("ASTRON_RDKAFKA_NO_SUCH_PROP", "no.such.prop"), 1);
	cr_expect_eq(test_log_count("no.such.prop", NULL), 1, "the error is repeated");
	cr_expect_eq(astron_event_shutdown(1000), 0);
	if (test_log_count("no.such.prop", NULL) != 1)
		test_log_dump();
}

/* ------------------------------------------------ secrets */

#define SECRET "s3cr3t-value"

/* Not the mock cluster: librdkafka forces security.protocol=PLAINTEXT on
 * it, so SASL settings would be ignored.  Nothing listens on port 1. */
static void secret_env(const char *mechanism)
{
	setenv("KAFKA_ENABLE", "1", 1);
	setenv("KAFKA_SERVERS", "127.0.0.1:1", 1);
	setenv("ASTRON_RDKAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT", 1);
	setenv("ASTRON_RDKAFKA_SASL_MECHANISMS", mechanism, 1);
	setenv("ASTRON_RDKAFKA_SASL_USERNAME", "user", 1);
	setenv("ASTRON_RDKAFKA_SASL_PASSWORD", SECRET, 1);
	setenv("KAFKA_TIMEOUT", "1", 1);
}

/* An invalid companion setting makes the producer fail: the error is
 * logged, the password is not. */
Test(hostile, secret_never_reaches_the_log_callback, .timeout = 60)
{
	secret_env("BOGUS");
	test_log_capture();
	for (int i = 0; i < 5; i++)
		ASTRON_EVENT("hostile.secret", "i=%d", i);
	astron_event_flush(2000);
	astron_event_shutdown(1000);
	test_log_dump();
	cr_expect_geq(test_log_n(), 1, "the bad configuration was not reported");
	cr_expect_geq(test_log_count("BOGUS", NULL) +
			      test_log_count("mechanism", NULL),
		      1, "no diagnostic names the bad setting");
	cr_expect_eq(test_log_count(SECRET, NULL), 0, "the password was logged");
	cr_expect_eq(stats().delivered, 0);
}

/* The same with the default callback (stderr) and a valid mechanism that
 * the mock cluster does not speak: connection and authentication failures
 * are printed, the password is not. */
static void stderr_has_no_secret(const char *mechanism)
{
	char path[] = "/tmp/astron-hostile-XXXXXX", buf[65536];
	int fd = mkstemp(path), saved = dup(2);
	ssize_t n;

	cr_assert_geq(fd, 0);
	unlink(path);
	dup2(fd, 2);
	secret_env(mechanism);
	for (int i = 0; i < 5; i++)
		ASTRON_EVENT("hostile.secret", "i=%d", i);
	astron_event_flush(1500);
	astron_event_shutdown(1000);
	fflush(stderr);
	dup2(saved, 2);
	n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	cr_assert_geq(n, 0);
	buf[n] = '\0';
	cr_log_info("stderr with sasl.mechanisms=%s (%zd bytes):\n%.2000s",
		    mechanism, n, buf);
	cr_expect(strstr(buf, "astron-event: error") != NULL,
		  "nothing reported on stderr");
	cr_expect_null(strstr(buf, SECRET), "the password is on stderr");
}

Test(hostile, secret_never_reaches_stderr_bad_mechanism, .timeout = 60)
{
	stderr_has_no_secret("BOGUS");
}

Test(hostile, secret_never_reaches_stderr_failed_auth, .timeout = 60)
{
	stderr_has_no_secret("PLAIN");
}

/* An encrypted private key whose file does not exist: librdkafka refuses
 * the SSL configuration; the key's password is never shown. */
Test(hostile, ssl_key_password_never_logged, .timeout = 60)
{
	setenv("KAFKA_ENABLE", "1", 1);
	setenv("KAFKA_SERVERS", "127.0.0.1:1", 1);
	setenv("KAFKA_TIMEOUT", "1", 1);
	setenv("ASTRON_RDKAFKA_SECURITY_PROTOCOL", "SSL", 1);
	setenv("ASTRON_RDKAFKA_SSL_KEY_LOCATION", "/nonexistent/astron.key", 1);
	setenv("ASTRON_RDKAFKA_SSL_KEY_PASSWORD", SECRET, 1);
	test_log_capture();
	for (int i = 0; i < 5; i++)
		ASTRON_EVENT("hostile.secret", "i=%d", i);
	astron_event_flush(1000);
	astron_event_shutdown(1000);
	test_log_dump();
	cr_expect_geq(test_log_n(), 1, "the bad configuration was not reported");
	cr_expect_eq(test_log_count(SECRET, NULL), 0, "a password was logged");
	cr_expect_eq(stats().delivered, 0);
	cr_expect_eq(stats().emitted + stats().dropped, 5);
}

/* A misspelt secret property is unknown to librdkafka: one error naming
 * the variable and the property, and the value is not echoed. */
Test(hostile, misspelt_secret_property_not_echoed, .timeout = 60)
{
	setup_mock();
	setenv("ASTRON_RDKAFKA_SASL_PASSWORDS", SECRET, 1);
	test_log_capture();
	ASTRON_EVENT("hostile.secret", "i=%d", 1);
	cr_expect_null(astron_event_servers(5000));
	test_log_dump();
	cr_expect_eq(test_log_count("ASTRON_RDKAFKA_SASL_PASSWORDS",
				    "sasl.passwords"), 1);
	cr_expect_eq(test_log_count(SECRET, NULL), 0, "the password was logged");
	cr_expect_eq(stats().delivered, 0);
}
