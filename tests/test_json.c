/*
 * test_json.c - astron_event_json(), the JSON of an event, called directly.
 *
 * The full type mapping is pinned byte for byte through astron-event-cat in
 * test_cat.c; this suite pins what only the function shows: the flags
 * ("@key" in each of its shapes, pretty), every way a value is refused
 * (and that nothing is written then), write errors, one fwrite() per event,
 * independence from the program's locale, and that it needs no pipeline.
 * It also checks the library's one UTF-8 decoder, astron_utf8_seq(),
 * against a reference decoder over every sequence of up to three bytes,
 * and the validator and sanitizer built on it.
 */
#include <criterion/criterion.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <astron/event.h>

#include "helpers.h"
#include "utf8.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static void pk_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

/* {"@ts":1796414373800441894,"user":"alice","ratio":0.25,"raw":<00 ff>} */
static void pack_small(msgpack_sbuffer *sb)
{
	msgpack_packer pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	pk_str(&pk, "@ts"), msgpack_pack_int64(&pk, 1796414373800441894LL);
	pk_str(&pk, "user"), pk_str(&pk, "alice");
	pk_str(&pk, "ratio"), msgpack_pack_double(&pk, 0.25);
	pk_str(&pk, "raw"), msgpack_pack_bin(&pk, 2), msgpack_pack_bin_body(&pk, "\0\xff", 2);
}

static const char small_json[] =
	"{\"@ts\":1796414373800441894,\"@time\":\"2026-12-04T19:59:33.800441894Z\","
	"\"user\":\"alice\",\"ratio\":0.25,\"raw\":{\"$bin\":\"AP8=\"}}\n";

/* What astron_event_json writes, as a NUL-terminated string (free it);
 * *rc receives its return value. */
static char *render(const void *value, size_t len, const void *key,
		    size_t keylen, int flags, int *rc)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);

	cr_assert_not_null(f);
	*rc = astron_event_json(f, value, len, key, keylen, flags);
	cr_assert_eq(fclose(f), 0);
	return text;
}

/* ------------------------------------------------------------------------
 * Rendering and flags
 * ---------------------------------------------------------------------- */

Test(json, compact_line)
{
	msgpack_sbuffer sb;
	int rc;
	char *out;

	pack_small(&sb);
	out = render(sb.data, sb.size, NULL, 0, 0, &rc);
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(out, small_json);
	free(out);
	msgpack_sbuffer_destroy(&sb);
}

Test(json, pretty_block)
{
	msgpack_sbuffer sb;
	int rc;
	char *out;

	pack_small(&sb);
	out = render(sb.data, sb.size, "t-1", 3, ASTRON_JSON_PRETTY | ASTRON_JSON_KEY, &rc);
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(out, "{\n"
			      "  \"@key\": \"t-1\",\n"
			      "  \"@ts\": 1796414373800441894,\n"
			      "  \"@time\": \"2026-12-04T19:59:33.800441894Z\",\n"
			      "  \"user\": \"alice\",\n"
			      "  \"ratio\": 0.25,\n"
			      "  \"raw\": {\"$bin\": \"AP8=\"}\n"
			      "}\n");
	free(out);
	msgpack_sbuffer_destroy(&sb);
}

/* "@key" in each of its shapes, always first; without the flag the key is
 * ignored even when given. */
Test(json, key_shapes)
{
	static const struct {
		const char *key;
		size_t keylen;
		int flags;
		const char *want;
	} cases[] = {
		{NULL, 0, ASTRON_JSON_KEY, "{\"@key\":null,\"n\":1}\n"},
		{NULL, 5, ASTRON_JSON_KEY, "{\"@key\":null,\"n\":1}\n"},
		{"", 0, ASTRON_JSON_KEY, "{\"@key\":\"\",\"n\":1}\n"},
		{"trace-42", 8, ASTRON_JSON_KEY, "{\"@key\":\"trace-42\",\"n\":1}\n"},
		{"tr\"ace\n", 7, ASTRON_JSON_KEY, "{\"@key\":\"tr\\\"ace\\n\",\"n\":1}\n"},
		{"\xc3\xa9t\xc3\xa9", 5, ASTRON_JSON_KEY, "{\"@key\":\"\xc3\xa9t\xc3\xa9\",\"n\":1}\n"},
		{"\0\xff", 2, ASTRON_JSON_KEY, "{\"@key\":{\"$bin\":\"AP8=\"},\"n\":1}\n"},
		{"a\xed\xa0\x80", 4, ASTRON_JSON_KEY, "{\"@key\":{\"$bin\":\"Ye2ggA==\"},\"n\":1}\n"},
		{"trace-42", 5, ASTRON_JSON_KEY, "{\"@key\":\"trace\",\"n\":1}\n"},
		{"trace-42", 8, 0, "{\"n\":1}\n"},
	};
	msgpack_sbuffer sb;
	msgpack_packer pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	pk_str(&pk, "n"), msgpack_pack_int(&pk, 1);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc;
		char *out = render(sb.data, sb.size, cases[i].key, cases[i].keylen,
				   cases[i].flags, &rc);
		cr_expect_eq(rc, 0, "case %zu", i);
		cr_expect_str_eq(out, cases[i].want, "case %zu", i);
		free(out);
	}
	msgpack_sbuffer_destroy(&sb);
}

/* An empty map is "{}" -- also with "@key" and pretty. */
Test(json, empty_map)
{
	int rc;
	char *out;

	out = render("\x80", 1, NULL, 0, 0, &rc);
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(out, "{}\n");
	free(out);
	out = render("\x80", 1, "k", 1, ASTRON_JSON_KEY | ASTRON_JSON_PRETTY, &rc);
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(out, "{\n  \"@key\": \"k\"\n}\n");
	free(out);
}

/* ------------------------------------------------------------------------
 * Refusals: ASTRON_EINVAL and nothing written
 * ---------------------------------------------------------------------- */

Test(json, not_one_map_is_einval_and_writes_nothing)
{
	static const struct {
		const char *bytes;
		size_t len;
		const char *what;
	} cases[] = {
		{"", 0, "empty"},
		{"\xc1", 1, "never-used byte"},
		{"\x01", 1, "an int"},
		{"\x91\x01", 2, "an array"},
		{"\xa1x", 2, "a str"},
		{"\xc0", 1, "nil"},
		{"\x81\xa1n", 3, "a map cut short"},
		{"\x81\xa1n\x01\x00", 5, "a map and one more byte"},
		{"\x80\x80", 2, "two maps"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc;
		char *out = render(cases[i].bytes, cases[i].len, "k", 1,
				   ASTRON_JSON_KEY, &rc);
		cr_expect_eq(rc, ASTRON_EINVAL, "%s: rc %d", cases[i].what, rc);
		cr_expect_str_eq(out, "", "%s: wrote \"%s\"", cases[i].what, out);
		free(out);
	}
}

Test(json, null_arguments_and_unknown_flags)
{
	msgpack_sbuffer sb;
	int rc;
	char *out;

	pack_small(&sb);
	cr_expect_eq(astron_event_json(NULL, sb.data, sb.size, NULL, 0, 0), ASTRON_EINVAL);
	out = render(NULL, 0, NULL, 0, 0, &rc);
	cr_expect_eq(rc, ASTRON_EINVAL);
	cr_expect_str_eq(out, "");
	free(out);
	out = render(sb.data, sb.size, NULL, 0, 4, &rc);
	cr_expect_eq(rc, ASTRON_EINVAL);
	cr_expect_str_eq(out, "");
	free(out);
	out = render(sb.data, sb.size, NULL, 0, -1, &rc);
	cr_expect_eq(rc, ASTRON_EINVAL);
	cr_expect_str_eq(out, "");
	free(out);
	msgpack_sbuffer_destroy(&sb);
}

/* ------------------------------------------------------------------------
 * Writing
 * ---------------------------------------------------------------------- */

Test(json, write_error_is_eio)
{
	msgpack_sbuffer sb;
	FILE *f = fopen("/dev/full", "w");

	cr_assert_not_null(f, "/dev/full");
	setvbuf(f, NULL, _IONBF, 0);
	pack_small(&sb);
	cr_expect_eq(astron_event_json(f, sb.data, sb.size, NULL, 0, 0), ASTRON_EIO);
	cr_expect_str_eq(astron_strerror(ASTRON_EIO), "input/output error");
	fclose(f);
	msgpack_sbuffer_destroy(&sb);
}

/* A stream that records the size of every write it receives. */
static size_t writes[16], nwrites;

static ssize_t count_write(void *cookie, const char *buf, size_t size)
{
	(void)cookie;
	(void)buf;
	if (nwrites < sizeof writes / sizeof writes[0])
		writes[nwrites] = size;
	nwrites++;
	return (ssize_t)size;
}

/* The whole line reaches an unbuffered stream in one write, even when it
 * is far longer than any stdio buffer: what the sink relies on for records
 * that never cut into each other. */
Test(json, one_write_per_event)
{
	cookie_io_functions_t io = {.write = count_write};
	FILE *f = fopencookie(NULL, "w", io);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t big = 200000;
	char *s = malloc(big);

	cr_assert_not_null(f);
	setvbuf(f, NULL, _IONBF, 0);
	memset(s, 'x', big);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	pk_str(&pk, "n"), msgpack_pack_int(&pk, 7);
	pk_str(&pk, "s"), msgpack_pack_str(&pk, big), msgpack_pack_str_body(&pk, s, big);

	cr_assert_eq(astron_event_json(f, sb.data, sb.size, "k", 1, ASTRON_JSON_KEY), 0);
	cr_expect_eq(nwrites, 1, "%zu writes", nwrites);
	cr_expect_eq(writes[0], strlen("{\"@key\":\"k\",\"n\":7,\"s\":\"\"}\n") + big);
	fclose(f);
	free(s);
	msgpack_sbuffer_destroy(&sb);
}

/* Build a locale whose decimal point is a comma (de_DE) into a temporary
 * LOCPATH; 0 when localedef cannot. */
static int make_comma_locale(char *dir)
{
	char cmd[512];

	if (!mkdtemp(dir))
		return 0;
	snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 "
		 ">/dev/null 2>&1", dir);
	if (system(cmd) != 0)
		return 0;
	setenv("LOCPATH", dir, 1);
	return setlocale(LC_ALL, "de_DE.UTF-8") != NULL;
}

/* A program that called setlocale() still gets JSON numbers with '.'; and
 * its own locale is left as it was. */
Test(json, numbers_ignore_the_program_locale, .timeout = 60)
{
	char dir[] = "/tmp/astron-locale-XXXXXX", buf[32], cmd[300];
	msgpack_sbuffer sb;
	int rc;
	char *out;

	if (!make_comma_locale(dir))
		cr_skip_test("cannot build a de_DE locale with localedef");
	snprintf(buf, sizeof buf, "%.2f", 0.25);
	cr_assert_str_eq(buf, "0,25", "the test locale is not in effect");

	pack_small(&sb);
	out = render(sb.data, sb.size, NULL, 0, 0, &rc);
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(out, small_json);
	free(out);
	snprintf(buf, sizeof buf, "%.2f", 0.25);
	cr_expect_str_eq(buf, "0,25", "the program's locale was changed");

	setlocale(LC_ALL, "C");
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
	msgpack_sbuffer_destroy(&sb);
}

/* A consumer uses it with the library disabled: no pipeline, no thread. */
Test(json, needs_no_pipeline)
{
	msgpack_sbuffer sb;
	astron_event_stats_t st;
	int rc;
	char *out;

	unsetenv("KAFKA_ENABLE");
	pack_small(&sb);
	out = render(sb.data, sb.size, NULL, 0, 0, &rc);
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(out, small_json);
	free(out);
	cr_expect_eq(astron_event_enabled(), 0);
	astron_event_stats(&st);
	cr_expect_eq(st.threads, 0);
	cr_expect_eq(st.emitted + st.delivered, 0);
	msgpack_sbuffer_destroy(&sb);
}

/* ------------------------------------------------------------------------
 * The UTF-8 decoder
 * ---------------------------------------------------------------------- */

/* RFC 3629 the long way: assemble the code point, then reject overlong
 * forms, surrogates and values above U+10FFFF. */
static size_t reference_seq(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];
	size_t len;
	uint32_t cp, min;

	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0)
		len = 2, cp = c & 0x1f, min = 0x80;
	else if ((c & 0xf0) == 0xe0)
		len = 3, cp = c & 0x0f, min = 0x800;
	else if ((c & 0xf8) == 0xf0)
		len = 4, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Every sequence of one, two and three bytes, each also cut short; four
 * bytes with every lead and second byte and representative others. */
Test(utf8, seq_agrees_with_a_reference_decoder, .timeout = 60)
{
	static const uint8_t tails[] = {0x00, 0x41, 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xff};
	uint8_t s[4] = {0};
	size_t bad = 0;

	cr_expect_eq(astron_utf8_seq(s, 0), 0);
	for (unsigned a = 0; a < 256; a++)
		for (unsigned b = 0; b < 256; b++)
			for (unsigned c = 0; c < 256; c++) {
				s[0] = (uint8_t)a, s[1] = (uint8_t)b, s[2] = (uint8_t)c;
				for (size_t n = 1; n <= 3; n++)
					bad += astron_utf8_seq(s, n) != reference_seq(s, n);
			}
	for (unsigned a = 0xf0; a < 0x100; a++)
		for (unsigned b = 0; b < 256; b++)
			for (size_t i = 0; i < sizeof tails; i++)
				for (size_t j = 0; j < sizeof tails; j++) {
					s[0] = (uint8_t)a, s[1] = (uint8_t)b;
					s[2] = tails[i], s[3] = tails[j];
					bad += astron_utf8_seq(s, 4) != reference_seq(s, 4);
				}
	cr_expect_eq(bad, 0, "%zu disagreements", bad);
	/* The boundaries, by name. */
	cr_expect_eq(astron_utf8_seq((const uint8_t *)"\xc2\x80", 2), 2);
	cr_expect_eq(astron_utf8_seq((const uint8_t *)"\xc1\xbf", 2), 0);
	cr_expect_eq(astron_utf8_seq((const uint8_t *)"\xe0\x9f\xbf", 3), 0);
	cr_expect_eq(astron_utf8_seq((const uint8_t *)"\xed\x9f\xbf", 3), 3);
	cr_expect_eq(astron_utf8_seq((const uint8_t *)"\xed\xa0\x80", 3), 0);
	cr_expect_eq(astron_utf8_seq((const uint8_t *)"\xf0\x8f\xbf\xbf", 4), 0);
	cr_expect_eq(astron_utf8_seq((const uint8_t *)"\xf4\x8f\xbf\xbf", 4), 4);
	cr_expect_eq(astron_utf8_seq((const uint8_t *)"\xf4\x90\x80\x80", 4), 0);
}

/* The validator and the sanitizer are runs of that decoder. */
Test(utf8, validator_and_sanitizer_follow_seq)
{
	static const struct {
		const char *in, *sanitized;
		int valid;
	} cases[] = {
		{"plain", "plain", 1},
		{"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 1},
		{"a\xff" "b", "a?b", 0},
		{"\xc3", "?", 0},
		{"x\xe2\x82", "x??", 0},
		{"\xed\xa0\x80!", "???" "!", 0},
		{"\xc0\xaf", "??", 0},
		{"\x80\xbf", "??", 0},
		{"\xf4\x90\x80\x80", "????", 0},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[64];

		snprintf(buf, sizeof buf, "%s", cases[i].in);
		cr_expect_eq(astron_utf8_valid_slow((const uint8_t *)buf, strlen(buf)),
			     cases[i].valid, "case %zu", i);
		cr_expect_eq(astron_utf8_valid((const uint8_t *)buf, strlen(buf)),
			     cases[i].valid, "case %zu", i);
		astron_utf8_sanitize(buf);
		cr_expect_str_eq(buf, cases[i].sanitized, "case %zu", i);
	}
}
