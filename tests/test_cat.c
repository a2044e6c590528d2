/*
 * test_cat.c - astron-event-cat, run as a separate program and judged by
 * its exact output.
 *
 * - Events built with msgpack-c cover every msgpack type; the JSON lines are
 *   compared byte for byte with hand-written expectations (compact and
 *   --pretty), from a file and from a pipe.
 * - Garbage, non-map values and a truncated event are reported with their
 *   byte offsets, skipped, and turn the exit status to 1.
 * - Events emitted by the library to the embedded mock cluster are read back
 *   raw, written to a file and decoded with -f; the same topic is consumed
 *   by astron-event-cat over the Kafka protocol (-e -k -b ADDR) while this
 *   process, which hosts the mock cluster, waits for it; -o picks offsets.
 * - Bad options exit 2; unreachable brokers exit 1 within KAFKA_TIMEOUT.
 *
 * The program under test is $ASTRON_EVENT_CAT, else tools/astron-event-cat
 * relative to the build directory (where `make check` runs tests).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <astron/event.h>

#include "helpers.h"

/* ------------------------------------------------------------------------
 * Running astron-event-cat
 * ---------------------------------------------------------------------- */

typedef struct run {
	char *out, *err; /* NUL-terminated */
	size_t outlen, errlen;
	int status;	 /* exit status, or 128 + signal */
	int64_t ms;	 /* wall time */
} run_t;

static const char *cat_path(void)
{
	const char *p = getenv("ASTRON_EVENT_CAT");
	return p && *p ? p : "tools/astron-event-cat";
}

static void append(char **buf, size_t *len, const char *p, size_t n)
{
	*buf = realloc(*buf, *len + n + 1);
	memcpy(*buf + *len, p, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/* Run the tool with argv (argv[0] is replaced), feeding `in` on its standard
 * input (closed at once when NULL) and collecting both outputs.  `env` is
 * NULL or "NAME=VALUE" / "NAME" (unset) entries applied in the child.  The
 * child is killed after timeout_ms. */
static run_t run_cat(const char **argv, const char *in, size_t inlen,
		     const char **env, int timeout_ms)
{
	int pin[2], pout[2], perr[2], st;
	run_t r = {0};
	size_t written = 0;
	int64_t t0 = test_now_ms();
	pid_t pid;

	cr_assert(access(cat_path(), X_OK) == 0, "%s is not built", cat_path());
	cr_assert(pipe(pin) == 0 && pipe(pout) == 0 && pipe(perr) == 0);
	argv[0] = cat_path();
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		close(pin[0]), close(pin[1]), close(pout[0]), close(pout[1]);
		close(perr[0]), close(perr[1]);
		for (size_t i = 0; env && env[i]; i++) {
			char name[128];
			const char *eq = strchr(env[i], '=');
			if (!eq) {
				unsetenv(env[i]);
				continue;
			}
			snprintf(name, sizeof name, "%.*s", (int)(eq - env[i]), env[i]);
			setenv(name, eq + 1, 1);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pin[0]), close(pout[1]), close(perr[1]);
	fcntl(pin[1], F_SETFL, O_NONBLOCK);
	signal(SIGPIPE, SIG_IGN);
	if (!in) {
		close(pin[1]);
		pin[1] = -1;
	}
	append(&r.out, &r.outlen, "", 0);
	append(&r.err, &r.errlen, "", 0);
	for (int open_fds = 2; open_fds > 0;) {
		struct pollfd pf[3] = {{pout[0], POLLIN, 0}, {perr[0], POLLIN, 0},
				       {pin[1], POLLOUT, 0}};
		char buf[65536];

		if (test_now_ms() - t0 > timeout_ms) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(pf, pin[1] >= 0 ? 3 : 2, 100) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			ssize_t n;
			if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP)))
				continue;
			n = read(pf[i].fd, buf, sizeof buf);
			if (n > 0) {
				if (i == 0)
					append(&r.out, &r.outlen, buf, (size_t)n);
				else
					append(&r.err, &r.errlen, buf, (size_t)n);
			} else {
				close(pf[i].fd);
				if (i == 0)
					pout[0] = -1;
				else
					perr[0] = -1;
				open_fds--;
			}
		}
		if (pin[1] >= 0 && (pf[2].revents & (POLLOUT | POLLERR))) {
			ssize_t n = write(pin[1], in + written, inlen - written);
			if (n > 0)
				written += (size_t)n;
			if (n < 0 && errno != EAGAIN)
				written = inlen;
			if (written == inlen) {
				close(pin[1]);
				pin[1] = -1;
			}
		}
	}
	if (pin[1] >= 0)
		close(pin[1]);
	if (pout[0] >= 0)
		close(pout[0]);
	if (perr[0] >= 0)
		close(perr[0]);
	waitpid(pid, &st, 0);
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r.ms = test_now_ms() - t0;
	return r;
}

static void run_free(run_t *r)
{
	free(r->out);
	free(r->err);
}

/* Write `len` bytes to a new temporary file; returns its path (free it). */
static char *temp_file(const void *buf, size_t len)
{
	char *path = strdup("/tmp/astron-cat-XXXXXX");
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
	return path;
}

/* ------------------------------------------------------------------------
 * Events built with msgpack-c
 * ---------------------------------------------------------------------- */

static void pk_str(msgpack_packer *pk, const char *s, size_t n)
{
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

#define KEY(pk, s) pk_str((pk), (s), strlen(s))

/* Every msgpack type, with the values that a careless printer gets wrong. */
static void pack_all_types(msgpack_packer *pk)
{
	static const char s[] = "q\"b\\s/ nl\n tab\t cr\r ctl\x01\x1f del\x7f "
				"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
	static const char bin[] = {0x00, (char)0xff, 0x10};

	msgpack_pack_map(pk, 33);
	KEY(pk, "@v"), msgpack_pack_int64(pk, 1);
	KEY(pk, "@ts"), msgpack_pack_int64(pk, 1796414373800441894LL);
	KEY(pk, "neg"), msgpack_pack_int64(pk, -1);
	KEY(pk, "min"), msgpack_pack_int64(pk, INT64_MIN);
	KEY(pk, "max"), msgpack_pack_uint64(pk, UINT64_MAX);
	KEY(pk, "i8"), msgpack_pack_int8(pk, -128);
	KEY(pk, "f"), msgpack_pack_double(pk, 0.1);
	KEY(pk, "whole"), msgpack_pack_double(pk, 1.0);
	KEY(pk, "third"), msgpack_pack_double(pk, 1.0 / 3);
	KEY(pk, "tiny"), msgpack_pack_double(pk, 5e-324);
	KEY(pk, "ten"), msgpack_pack_double(pk, 10.0);
	KEY(pk, "e16"), msgpack_pack_double(pk, 1e16);
	KEY(pk, "milli"), msgpack_pack_double(pk, 0.0001);
	KEY(pk, "micro"), msgpack_pack_double(pk, -1.5e-5);
	KEY(pk, "big"), msgpack_pack_double(pk, 1e300);
	KEY(pk, "negz"), msgpack_pack_double(pk, -0.0);
	KEY(pk, "nan"), msgpack_pack_double(pk, NAN);
	KEY(pk, "inf"), msgpack_pack_double(pk, INFINITY);
	KEY(pk, "ninf"), msgpack_pack_double(pk, -INFINITY);
	KEY(pk, "f32"), msgpack_pack_float(pk, 0.1f);
	KEY(pk, "s"), pk_str(pk, s, sizeof s - 1);
	KEY(pk, "badutf8"), pk_str(pk, "a\xff" "b\xed\xa0\x80", 6);
	KEY(pk, "empty"), pk_str(pk, "", 0);
	KEY(pk, "bin"), msgpack_pack_bin(pk, 3), msgpack_pack_bin_body(pk, bin, 3);
	KEY(pk, "bin1"), msgpack_pack_bin(pk, 1), msgpack_pack_bin_body(pk, "\xfb", 1);
	KEY(pk, "bin2"), msgpack_pack_bin(pk, 2), msgpack_pack_bin_body(pk, "\xfb\xff", 2);
	KEY(pk, "nil"), msgpack_pack_nil(pk);
	KEY(pk, "t"), msgpack_pack_true(pk);
	KEY(pk, "fa"), msgpack_pack_false(pk);
	KEY(pk, "arr");
	msgpack_pack_array(pk, 4);
	msgpack_pack_int(pk, 1), KEY(pk, "a"), msgpack_pack_array(pk, 0),
		msgpack_pack_map(pk, 0);
	KEY(pk, "map");
	msgpack_pack_map(pk, 1), KEY(pk, "k"), msgpack_pack_map(pk, 1), KEY(pk, "x"),
		msgpack_pack_array(pk, 1), msgpack_pack_nil(pk);
	KEY(pk, "ext"), msgpack_pack_ext(pk, 2, 5), msgpack_pack_ext_body(pk, "ab", 2);
	msgpack_pack_int(pk, 7), KEY(pk, "int key");
}

static const char all_types_json[] =
	"{\"@v\":1,\"@ts\":1796414373800441894,"
	"\"@time\":\"2026-12-04T19:59:33.800441894Z\","
	"\"neg\":-1,\"min\":-9223372036854775808,\"max\":18446744073709551615,"
	"\"i8\":-128,\"f\":0.1,\"whole\":1.0,\"third\":0.3333333333333333,"
	"\"tiny\":5e-324,\"ten\":10.0,\"e16\":1e+16,\"milli\":0.0001,"
	"\"micro\":-1.5e-05,\"big\":1e+300,\"negz\":-0.0,\"nan\":\"NaN\","
	"\"inf\":\"Infinity\",\"ninf\":\"-Infinity\",\"f32\":0.1,"
	"\"s\":\"q\\\"b\\\\s/ nl\\n tab\\t cr\\r ctl\\u0001\\u001f del\\u007f "
	"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\","
	"\"badutf8\":\"a\\ufffdb\\ufffd\\ufffd\\ufffd\",\"empty\":\"\","
	"\"bin\":{\"$bin\":\"AP8Q\"},\"bin1\":{\"$bin\":\"+w==\"},"
	"\"bin2\":{\"$bin\":\"+/8=\"},\"nil\":null,\"t\":true,\"fa\":false,"
	"\"arr\":[1,\"a\",[],{}],\"map\":{\"k\":{\"x\":[null]}},"
	"\"ext\":{\"$ext\":5,\"$bin\":\"YWI=\"},\"7\":\"int key\"}\n";

static void pack_small(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 6);
	KEY(pk, "@v"), msgpack_pack_int64(pk, 1);
	KEY(pk, "@ts"), msgpack_pack_int64(pk, 0);
	KEY(pk, "arr");
	msgpack_pack_array(pk, 3), msgpack_pack_int(pk, 1), msgpack_pack_array(pk, 0),
		msgpack_pack_map(pk, 1), KEY(pk, "a"), msgpack_pack_nil(pk);
	KEY(pk, "m"), msgpack_pack_map(pk, 0);
	KEY(pk, "b"), msgpack_pack_bin(pk, 3), msgpack_pack_bin_body(pk, "\x00\xff\x10", 3);
	KEY(pk, "pre"), msgpack_pack_int64(pk, -1);
}

static const char small_json[] =
	"{\"@v\":1,\"@ts\":0,\"@time\":\"1970-01-01T00:00:00.000000000Z\","
	"\"arr\":[1,[],{\"a\":null}],\"m\":{},\"b\":{\"$bin\":\"AP8Q\"},\"pre\":-1}\n";

static const char small_pretty[] =
	"{\n"
	"  \"@v\": 1,\n"
	"  \"@ts\": 0,\n"
	"  \"@time\": \"1970-01-01T00:00:00.000000000Z\",\n"
	"  \"arr\": [\n"
	"    1,\n"
	"    [],\n"
	"    {\n"
	"      \"a\": null\n"
	"    }\n"
	"  ],\n"
	"  \"m\": {},\n"
	"  \"b\": {\"$bin\": \"AP8Q\"},\n"
	"  \"pre\": -1\n"
	"}\n";

Test(cat_file, every_msgpack_type_exactly, .timeout = 30)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const char *argv[] = {NULL, "-f", NULL, NULL};
	char want[4096];
	run_t r;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_all_types(&pk);
	pack_small(&pk);
	msgpack_pack_map(&pk, 0);
	argv[2] = temp_file(sb.data, sb.size);
	r = run_cat(argv, NULL, 0, NULL, 20000);
	snprintf(want, sizeof want, "%s%s{}\n", all_types_json, small_json);
	cr_expect_str_eq(r.out, want);
	cr_expect_str_eq(r.err, "");
	cr_expect_eq(r.status, 0);
	unlink(argv[2]);
	free((char *)argv[2]);
	run_free(&r);
	msgpack_sbuffer_destroy(&sb);
}

Test(cat_file, pretty_is_indented, .timeout = 30)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const char *argv[] = {NULL, "--pretty", "-f", "-", NULL};
	char want[1024];
	run_t r;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_small(&pk);
	msgpack_pack_map(&pk, 0);
	r = run_cat(argv, sb.data, sb.size, NULL, 20000);
	snprintf(want, sizeof want, "%s{}\n", small_pretty);
	cr_expect_str_eq(r.out, want);
	cr_expect_str_eq(r.err, "");
	cr_expect_eq(r.status, 0);
	run_free(&r);
	msgpack_sbuffer_destroy(&sb);
}

/* Thousands of events through a pipe: reads end in the middle of events,
 * which must be decoded once complete, in order, none lost. */
Test(cat_file, stream_on_stdin_in_order, .timeout = 60)
{
	enum { N = 5000 };
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const char *argv[] = {NULL, "-f", "-", NULL};
	char pad[64], line[160], *want = NULL;
	size_t wantlen = 0;
	run_t r;

	memset(pad, 'x', sizeof pad);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (int i = 0; i < N; i++) {
		int n = i % 61;
		msgpack_pack_map(&pk, 3);
		KEY(&pk, "i"), msgpack_pack_int(&pk, i);
		KEY(&pk, "pad"), pk_str(&pk, pad, (size_t)n);
		KEY(&pk, "half"), msgpack_pack_double(&pk, i / 2.0);
		/* i / 2.0 printed the shortest way: 2.0, 2.5, ... */
		snprintf(line, sizeof line, "{\"i\":%d,\"pad\":\"%.*s\",\"half\":%d.%d}\n",
			 i, n, pad, i / 2, i % 2 ? 5 : 0);
		append(&want, &wantlen, line, strlen(line));
	}
	cr_assert_gt(sb.size, 200000, "the input must not fit in one read");
	r = run_cat(argv, sb.data, sb.size, NULL, 50000);
	cr_expect_eq(r.outlen, wantlen, "output is %zu bytes, want %zu", r.outlen, wantlen);
	cr_expect(strcmp(r.out, want) == 0, "output differs");
	cr_expect_str_eq(r.err, "");
	cr_expect_eq(r.status, 0);
	free(want);
	run_free(&r);
	msgpack_sbuffer_destroy(&sb);
}

/* Garbage, values that are not maps, bytes that are never msgpack and a
 * truncated event: each stretch reported once with its offset, the events
 * around them printed, status 1. */
Test(cat_file, undecodable_data_reported_with_offsets, .timeout = 30)
{
	msgpack_sbuffer sb, ev;
	msgpack_packer pk, epk;
	const char *argv[] = {NULL, "-f", NULL, NULL};
	size_t off_garbage, off_array, off_c1, off_trunc;
	char want_err[1024];
	run_t r;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_sbuffer_init(&ev);
	msgpack_packer_init(&epk, &ev, msgpack_sbuffer_write);

	msgpack_pack_map(&pk, 1), KEY(&pk, "n"), msgpack_pack_int(&pk, 1);
	off_garbage = sb.size;
	msgpack_sbuffer_write(&sb, "not msgpack at all\n", 19);
	msgpack_pack_map(&pk, 1), KEY(&pk, "n"), msgpack_pack_int(&pk, 2);
	off_array = sb.size;
	msgpack_pack_array(&pk, 2), msgpack_pack_int(&pk, 1), msgpack_pack_int(&pk, 2);
	msgpack_pack_map(&pk, 1), KEY(&pk, "n"), msgpack_pack_int(&pk, 3);
	off_c1 = sb.size;
	msgpack_sbuffer_write(&sb, "\xc1\xc1", 2);
	msgpack_pack_map(&pk, 1), KEY(&pk, "n"), msgpack_pack_int(&pk, 4);
	off_trunc = sb.size;
	msgpack_pack_map(&epk, 2), KEY(&epk, "n"), msgpack_pack_int(&epk, 5);
	KEY(&epk, "s"), KEY(&epk, "cut short");
	msgpack_sbuffer_write(&sb, ev.data, ev.size - 4);

	argv[2] = temp_file(sb.data, sb.size);
	r = run_cat(argv, NULL, 0, NULL, 20000);
	cr_expect_str_eq(r.out, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n");
	snprintf(want_err, sizeof want_err,
		 "astron-event-cat: %s: offset %zu: not a msgpack map (int); 19 bytes skipped\n"
		 "astron-event-cat: %s: offset %zu: not a msgpack map (array); 3 bytes skipped\n"
		 "astron-event-cat: %s: offset %zu: not msgpack; 2 bytes skipped\n"
		 "astron-event-cat: %s: offset %zu: truncated event; %zu bytes skipped\n",
		 argv[2], off_garbage, argv[2], off_array, argv[2], off_c1, argv[2],
		 off_trunc, ev.size - 4);
	cr_expect_str_eq(r.err, want_err);
	cr_expect_eq(r.status, 1);
	unlink(argv[2]);
	free((char *)argv[2]);
	run_free(&r);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&ev);
}

Test(cat_file, missing_file_is_an_error, .timeout = 30)
{
	const char *argv[] = {NULL, "-f", "/nonexistent/astron.msgpack", NULL};
	run_t r = run_cat(argv, NULL, 0, NULL, 20000);

	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.out, "");
	cr_expect(strstr(r.err, "cannot open /nonexistent/astron.msgpack: No such file"),
		  "stderr: %s", r.err);
	run_free(&r);
}

/* ------------------------------------------------------------------------
 * Options
 * ---------------------------------------------------------------------- */

static void expect_usage_error(const char **argv, const char **env, const char *msg)
{
	run_t r = run_cat(argv, NULL, 0, env, 20000);

	cr_expect_eq(r.status, 2, "%s: status %d", msg, r.status);
	cr_expect_str_eq(r.out, "", "%s: wrote to stdout", msg);
	cr_expect(strstr(r.err, msg) != NULL, "want \"%s\" in: %s", msg, r.err);
	cr_expect(strstr(r.err, "usage: astron-event-cat") != NULL,
		  "%s: no usage in: %s", msg, r.err);
	run_free(&r);
}

Test(cat_options, bad_options_exit_2, .timeout = 60)
{
	const char *a1[] = {NULL, "-Z", "t", NULL};
	const char *a2[] = {NULL, "-b", "127.0.0.1:9092", NULL};
	const char *a3[] = {NULL, "-b", "127.0.0.1:9092", "-o", "middle", "t", NULL};
	const char *a4[] = {NULL, "-f", "x.msgpack", "t", NULL};
	const char *a5[] = {NULL, "-b", "mock", "t", NULL};
	const char *a6[] = {NULL, "t", NULL};
	const char *a7[] = {NULL, "-b", NULL};
	const char *a8[] = {NULL, "--bogus", NULL};
	const char *a9[] = {NULL, "-X", "novalue", "-b", "h:1", "t", NULL};
	const char *a10[] = {NULL, "-k", "-f", "-", NULL};
	const char *no_servers[] = {"KAFKA_SERVERS", NULL};

	expect_usage_error(a1, NULL, "unknown option -Z");
	expect_usage_error(a2, NULL, "missing TOPIC");
	expect_usage_error(a3, NULL, "-o middle: expected beginning, end, N or -N");
	expect_usage_error(a4, NULL, "-f reads a file: no TOPIC");
	expect_usage_error(a5, NULL, "in-process cluster");
	expect_usage_error(a6, no_servers, "no Kafka servers");
	expect_usage_error(a7, NULL, "option -b needs a value");
	expect_usage_error(a8, NULL, "unknown option --bogus");
	expect_usage_error(a9, NULL, "-X novalue: expected NAME=VALUE");
	expect_usage_error(a10, NULL, "need Kafka");
}

Test(cat_options, help_and_version, .timeout = 30)
{
	const char *h[] = {NULL, "--help", NULL};
	const char *v[] = {NULL, "-V", NULL};
	run_t r = run_cat(h, NULL, 0, NULL, 20000);

	cr_expect_eq(r.status, 0);
	cr_expect(strncmp(r.out, "usage: astron-event-cat [options] TOPIC\n", 40) == 0,
		  "help: %s", r.out);
	cr_expect_str_eq(r.err, "");
	run_free(&r);
	r = run_cat(v, NULL, 0, NULL, 20000);
	cr_expect_eq(r.status, 0);
	cr_expect(strncmp(r.out, "astron-event-cat " ASTRON_EVENT_VERSION_STRING " (librdkafka ",
			  strlen("astron-event-cat " ASTRON_EVENT_VERSION_STRING " (librdkafka ")) == 0,
		  "version: %s", r.out);
	run_free(&r);
}

Test(cat_options, bad_librdkafka_property_is_named, .timeout = 30)
{
	const char *argv[] = {NULL, "-X", "no.such.property=1", "-b", "127.0.0.1:1",
			      "t", NULL};
	run_t r = run_cat(argv, NULL, 0, NULL, 20000);

	cr_expect_eq(r.status, 1);
	cr_expect(strstr(r.err, "no.such.property"), "stderr: %s", r.err);
	run_free(&r);
}

/* ------------------------------------------------------------------------
 * Unreachable brokers: a bounded wait, then status 1
 * ---------------------------------------------------------------------- */

/* Nothing listens on port 1: librdkafka retries until KAFKA_TIMEOUT, and
 * the message quotes why. */
Test(cat_kafka, refused_connection_bounded_and_explained, .timeout = 60)
{
	const char *argv[] = {NULL, "-e", "-b", "127.0.0.1:1", "cat.none", NULL};
	const char *env[] = {"KAFKA_TIMEOUT=2", NULL};
	run_t r = run_cat(argv, NULL, 0, env, 30000);

	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.out, "");
	cr_expect(strstr(r.err, "cannot reach Kafka at 127.0.0.1:1: "), "stderr: %s", r.err);
	cr_expect(strstr(r.err, "Connection refused"), "stderr: %s", r.err);
	cr_expect_lt(r.ms, 2000 + 4000, "took %lld ms", (long long)r.ms);
	run_free(&r);
}

/* A socket that accepts connections (the kernel completes the handshake)
 * but never answers: only the timeout can end the wait. */
Test(cat_kafka, silent_broker_bounded_by_kafka_timeout, .timeout = 60)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof sa;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	char addr[64];
	const char *argv[] = {NULL, "-e", "-b", addr, "cat.none", NULL};
	const char *env[] = {"KAFKA_TIMEOUT=2", NULL};
	run_t r;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
	cr_assert_eq(listen(s, 16), 0);
	cr_assert_eq(getsockname(s, (struct sockaddr *)&sa, &len), 0);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(sa.sin_port));
	r = run_cat(argv, NULL, 0, env, 30000);
	cr_expect_eq(r.status, 1);
	cr_expect(strstr(r.err, "cannot reach Kafka at "), "stderr: %s", r.err);
	cr_expect(strstr(r.err, "(no answer within KAFKA_TIMEOUT=2 s)"), "stderr: %s", r.err);
	cr_expect_geq(r.ms, 1800, "gave up after %lld ms", (long long)r.ms);
	cr_expect_lt(r.ms, 2000 + 4000, "took %lld ms", (long long)r.ms);
	close(s);
	run_free(&r);
}

/* ------------------------------------------------------------------------
 * Events emitted by the library, on the mock cluster of this process
 * ---------------------------------------------------------------------- */

#define LIB_TOPIC "cat.lib"
#define LIB_N 40

static int emit_line;
static int emit_tid;

static const char *const lib_keys[] = {NULL, "trace-1", "tr\"ace\n2"};
static const char *const lib_keys_json[] = {"null", "\"trace-1\"", "\"tr\\\"ace\\n2\""};

static void emit_events(void)
{
	/* volatile: a NULL the compiler can see draws -Wformat-overflow. */
	const char *volatile nothing = NULL;

	emit_tid = (int)syscall(SYS_gettid);
	for (int i = 0; i < LIB_N; i++) {
		emit_line = __LINE__ + 1;
		ASTRON_EVENT_KEYED(LIB_TOPIC, lib_keys[i % 3], "i=%d neg=%lld big=%llu f=%f s=%s nil=%s bin=%s c=%c kind=lit",
				   i, -(long long)i - 1, (unsigned long long)UINT64_MAX - (unsigned)i,
				   i + 0.25, "q\"uote\\ nl\n \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
				   nothing, "\xff\xfe", 'x');
	}
}

/* The JSON line astron-event-cat must print for a decoded library event,
 * built from the values this file emitted and the metadata the library
 * added (checked here too).  with_key: the -k form, "@key" first. */
static char *expected_line(const test_msg_t *m, int64_t t0, int64_t t1, int with_key)
{
	const msgpack_object *o = &m->up.data;
	int i = (int)test_int(o, "i");
	int64_t ts = test_int(o, "@ts");
	char when[64], *line = NULL;
	struct tm tm;
	time_t sec = (time_t)(ts / 1000000000);
	int n;

	cr_assert(i >= 0 && i < LIB_N);
	cr_assert(ts >= t0 - 50000000 && ts <= t1 + 50000000, "@ts %lld", (long long)ts);
	gmtime_r(&sec, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	n = asprintf(&line,
		     "{%s%s%s\"@v\":1,\"@ts\":%lld,\"@time\":\"%s.%09lldZ\",\"@file\":\"%s\","
		     "\"@line\":%d,\"@func\":\"emit_events\",\"@pid\":%d,\"@tid\":%d,"
		     "\"@seq\":%d,\"@tseq\":%d,\"i\":%d,\"neg\":%d,\"big\":%llu,"
		     "\"f\":%d.25,\"s\":\"q\\\"uote\\\\ nl\\n \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\","
		     "\"nil\":null,\"bin\":{\"$bin\":\"//4=\"},\"c\":\"x\",\"kind\":\"lit\"}\n",
		     with_key ? "\"@key\":" : "", with_key ? lib_keys_json[i % 3] : "",
		     with_key ? "," : "", (long long)ts, when,
		     (long long)(ts % 1000000000), __FILE__, emit_line, (int)getpid(),
		     emit_tid, i + 1, i + 1, i, -i - 1,
		     (unsigned long long)UINT64_MAX - (unsigned)i, i);
	cr_assert_gt(n, 0);
	return line;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Split output into lines, sorted (partitions interleave freely). */
static size_t sorted_lines(char *out, char ***lines)
{
	size_t n = 0;
	char *p = out, *nl;

	*lines = NULL;
	while ((nl = strchr(p, '\n')) != NULL) {
		*lines = realloc(*lines, (n + 1) * sizeof **lines);
		(*lines)[n++] = p;
		nl[0] = '\0';
		p = nl + 1;
	}
	qsort(*lines, n, sizeof **lines, cmp_str);
	return n;
}

/* Compare the tool's output with the expected lines of those messages
 * that pass `keep`, as sorted sets of lines. */
static void expect_same_lines(run_t *r, test_msg_t *msgs, size_t n, int64_t t0,
			      int64_t t1, int with_key, int64_t min_offset)
{
	char **got, **want = calloc(n, sizeof *want);
	size_t ngot, nwant = 0;

	for (size_t k = 0; k < n; k++) {
		if (msgs[k].offset < min_offset)
			continue;
		want[nwant] = expected_line(&msgs[k], t0, t1, with_key);
		want[nwant][strlen(want[nwant]) - 1] = '\0';
		nwant++;
	}
	qsort(want, nwant, sizeof *want, cmp_str);
	ngot = sorted_lines(r->out, &got);
	cr_expect_eq(ngot, nwant, "%zu lines, want %zu", ngot, nwant);
	for (size_t k = 0; k < ngot && k < nwant; k++)
		cr_expect_str_eq(got[k], want[k]);
	for (size_t k = 0; k < nwant; k++)
		free(want[k]);
	free(want);
	free(got);
}

static size_t emit_and_read_back(test_msg_t **msgs, int64_t *t0, int64_t *t1)
{
	struct timespec ts;
	size_t n;

	setenv("KAFKA_ENABLE", "1", 1);
	setenv("KAFKA_SERVERS", "mock:2", 1);
	clock_gettime(CLOCK_REALTIME, &ts);
	*t0 = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	emit_events();
	cr_assert_eq(astron_event_flush(20000), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	*t1 = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	n = test_consume(astron_event_servers(1000), LIB_TOPIC, LIB_N, 30000, msgs);
	cr_assert_eq(n, LIB_N, "read back %zu of %d", n, LIB_N);
	return n;
}

/* The raw values as Kafka delivered them, concatenated into a file. */
Test(cat_kafka, library_events_from_a_file, .timeout = 90)
{
	test_msg_t *msgs;
	int64_t t0, t1;
	size_t n = emit_and_read_back(&msgs, &t0, &t1);
	char *raw = NULL, *want = NULL;
	size_t rawlen = 0, wantlen = 0;
	const char *argv[] = {NULL, "-f", NULL, NULL};
	run_t r;

	for (size_t k = 0; k < n; k++) {
		char *line = expected_line(&msgs[k], t0, t1, 0);
		append(&raw, &rawlen, msgs[k].value, msgs[k].len);
		append(&want, &wantlen, line, strlen(line));
		free(line);
	}
	argv[2] = temp_file(raw, rawlen);
	r = run_cat(argv, NULL, 0, NULL, 20000);
	cr_expect_str_eq(r.out, want); /* same order as the file */
	cr_expect_str_eq(r.err, "");
	cr_expect_eq(r.status, 0);
	unlink(argv[2]);
	free((char *)argv[2]);
	free(raw);
	free(want);
	run_free(&r);
	test_free_msgs(msgs, n);
}

/* The same events over the Kafka protocol: this process hosts the mock
 * cluster and keeps serving it while astron-event-cat runs. */
Test(cat_kafka, library_events_over_kafka, .timeout = 120)
{
	test_msg_t *msgs;
	int64_t t0, t1;
	size_t n = emit_and_read_back(&msgs, &t0, &t1);
	const char *servers = astron_event_servers(1000);
	const char *all[] = {NULL, "-e", "-k", "-b", servers, LIB_TOPIC, NULL};
	const char *from1[] = {NULL, "-e", "-o", "1", "-b", servers, LIB_TOPIC, NULL};
	const char *at_end[] = {NULL, "-e", "-o", "end", "-b", servers, LIB_TOPIC, NULL};
	const char *tail[] = {NULL, "-e", "-o", "-1", "-b", servers, LIB_TOPIC, NULL};
	const char *unset[] = {"KAFKA_SERVERS", NULL};
	int64_t last[16];
	size_t tails = 0;
	run_t r;

	cr_assert_not_null(servers);
	r = run_cat(all, NULL, 0, unset, 60000);
	cr_expect_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.err, "");
	expect_same_lines(&r, msgs, n, t0, t1, 1, 0);
	run_free(&r);

	r = run_cat(from1, NULL, 0, NULL, 60000);
	cr_expect_eq(r.status, 0, "stderr: %s", r.err);
	expect_same_lines(&r, msgs, n, t0, t1, 0, 1);
	run_free(&r);

	r = run_cat(at_end, NULL, 0, NULL, 60000);
	cr_expect_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out, "");
	run_free(&r);

	/* -o -1: the last event of every partition that has one. */
	memset(last, 0xff, sizeof last);
	for (size_t k = 0; k < n; k++) {
		cr_assert_lt(msgs[k].partition, 16);
		if (msgs[k].offset > last[msgs[k].partition])
			last[msgs[k].partition] = msgs[k].offset;
	}
	for (int p = 0; p < 16; p++)
		tails += last[p] >= 0;
	r = run_cat(tail, NULL, 0, NULL, 60000);
	cr_expect_eq(r.status, 0, "stderr: %s", r.err);
	{
		char **got;
		size_t ngot = sorted_lines(r.out, &got);
		cr_expect_eq(ngot, tails, "-o -1 printed %zu events, want %zu", ngot, tails);
		free(got);
	}
	run_free(&r);
	test_free_msgs(msgs, n);
}

/* A value on the topic that is not an event is reported with its
 * partition and offset; the events around it are printed, with their keys
 * (a key that is not UTF-8 in the bin form). */
Test(cat_kafka, undecodable_message_reported, .timeout = 90)
{
	char err[256];
	astron_kafka_service_t *svc;
	const char *argv[] = {NULL, "-e", "-k", "-b", NULL, "cat.bad", NULL};
	char **lines;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	run_t r;

	setenv("KAFKA_ENABLE", "1", 1);
	svc = astron_kafka_service_factory_create("mock:1", NULL, err, sizeof err);
	cr_assert_not_null(svc, "%s", err);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1), KEY(&pk, "n"), msgpack_pack_int(&pk, 1);
	/* One key: one partition, offsets 0, 1, 2. */
	cr_assert_eq(astron_kafka_service_send_keyed(svc, "cat.bad", "k", 1, sb.data,
						     sb.size, NULL, NULL, 1000), 0);
	cr_assert_eq(astron_kafka_service_send_keyed(svc, "cat.bad", "k", 1, "garbage",
						     7, NULL, NULL, 1000), 0);
	cr_assert_eq(astron_kafka_service_send_keyed(svc, "cat.bad", "k", 1, sb.data,
						     sb.size, NULL, NULL, 1000), 0);
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 1), KEY(&pk, "n"), msgpack_pack_int(&pk, 2);
	cr_assert_eq(astron_kafka_service_send_keyed(svc, "cat.bad", "\xff\x01", 2,
						     sb.data, sb.size, NULL, NULL, 1000), 0);
	cr_assert_eq(astron_kafka_service_flush(svc, 10000), 0);
	argv[4] = astron_kafka_service_servers(svc);
	r = run_cat(argv, NULL, 0, NULL, 60000);
	cr_expect_eq(r.status, 1);
	cr_assert_eq(sorted_lines(r.out, &lines), 3, "stdout: %s", r.out);
	cr_expect_str_eq(lines[0], "{\"@key\":\"k\",\"n\":1}");
	cr_expect_str_eq(lines[1], "{\"@key\":\"k\",\"n\":1}");
	cr_expect_str_eq(lines[2], "{\"@key\":{\"$bin\":\"/wE=\"},\"n\":2}");
	free(lines);
	cr_expect(strncmp(r.err, "astron-event-cat: cat.bad partition ", 36) == 0 &&
		  strstr(r.err, " offset 1: not a msgpack map (int); skipped\n") &&
		  !strchr(r.err, '\n')[1], "stderr: %s", r.err);
	run_free(&r);
	msgpack_sbuffer_destroy(&sb);
	astron_service_teardown(astron_kafka_service_base(svc));
}
