/*
 * test_sink.c - ASTRON_EVENT_SINK: events written locally instead of to
 * Kafka, with KAFKA_ENABLE=1 and no KAFKA_SERVERS.
 *
 * - msgpack:PATH from two threads and three kinds of call site: every value
 *   is decoded with msgpack-c and compared, field by field and in order,
 *   with the map the library must have built; `astron-event-cat -f PATH`
 *   prints exactly what astron_event_json renders for those values.
 * - file:PATH: every line is byte-identical to astron_event_json(value,
 *   ASTRON_JSON_KEY) of the expected value (its time stamp taken from the
 *   line), and astron-event-cat -f on those values prints the same lines
 *   without "@key".
 * - stderr and stdout get the same lines, written by the time
 *   astron_event_flush() returns; delivered == emitted; nothing is logged.
 * - A bad value, a file that cannot be opened and one that cannot be
 *   written are each reported naming ASTRON_EVENT_SINK, and the events are
 *   counted (dropped or failed), never sent to Kafka.
 * - KAFKA_ENABLE stays the master switch; a forked child and the flush at
 *   exit append to the same file; examples/local_sink does what the README
 *   says.
 *
 * Each Criterion test runs in its own process, so each sets the environment
 * before its first event.  tools/astron-event-cat ($ASTRON_EVENT_CAT) and
 * examples/local_sink are run relative to the build directory, where `make
 * check` runs tests.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <astron/event.h>

#include "../lib/config.h" /* not the autoconf config.h at the top */
#include "helpers.h"

#define THREADS 2
#define PER_THREAD 600
#define TOTAL (THREADS * PER_THREAD)

/* ------------------------------------------------------------------------
 * Helpers: environment, files, threads
 * ---------------------------------------------------------------------- */

/* A temporary directory for the test's files, removed at the end. */
static char tmpdir[64];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/astron-sink-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
	char cmd[128];

	if (!tmpdir[0])
		return;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	cr_expect_eq(system(cmd), 0);
}

/* KAFKA_ENABLE=1, the sink `spec` (with %s replaced by the temporary
 * directory), no KAFKA_SERVERS, diagnostics captured.  Returns the path
 * part for file sinks (static storage). */
static const char *use_sink(const char *spec)
{
	static char value[256];
	const char *colon, *dir = strstr(spec, "%s");

	unsetenv("KAFKA_SERVERS");
	unsetenv("ASTRON_EVENT_LOG_RATE");
	setenv("KAFKA_ENABLE", "1", 1);
	if (dir)
		snprintf(value, sizeof value, "%.*s%s%s", (int)(dir - spec), spec,
			 tmpdir, dir + 2);
	else
		snprintf(value, sizeof value, "%s", spec);
	setenv("ASTRON_EVENT_SINK", value, 1);
	test_log_capture();
	colon = strchr(value, ':');
	return colon ? colon + 1 : NULL;
}

/* The whole file, NUL-terminated; *len its size. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	cr_assert_not_null(f, "cannot open %s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

/* Split text into lines (in place); each must end with '\n'. */
static size_t split_lines(char *text, char **lines, size_t max)
{
	size_t n = 0;
	char *p = text, *nl;

	while (*p && (nl = strchr(p, '\n')) != NULL) {
		*nl = '\0';
		if (n < max)
			lines[n] = p;
		n++;
		p = nl + 1;
	}
	cr_assert_eq(*p, '\0', "the text does not end with a newline: \"%s\"", p);
	return n;
}

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Threads of this process whose name starts with `prefix`. */
static int threads_named(const char *prefix)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL) {
		char path[300], name[64] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
		if ((f = fopen(path, "r")) != NULL) {
			if (fgets(name, sizeof name, f))
				n += strncmp(name, prefix, strlen(prefix)) == 0;
			fclose(f);
		}
	}
	closedir(d);
	return n;
}

static astron_event_stats_t stats(void)
{
	astron_event_stats_t st;

	astron_event_stats(&st);
	return st;
}

/* Run a shell command; its standard output is returned (free it), its
 * standard error goes to the file `err` (NULL: discarded), *status is its
 * exit status. */
static char *run(const char *cmd, const char *err, int *status)
{
	char full[1024], *out = NULL;
	size_t len = 0;
	FILE *p, *mem = open_memstream(&out, &len);
	char buf[65536];
	size_t n;
	int st;

	snprintf(full, sizeof full, "%s 2>%s", cmd, err ? err : "/dev/null");
	p = popen(full, "r");
	cr_assert_not_null(p);
	while ((n = fread(buf, 1, sizeof buf, p)) > 0)
		fwrite(buf, 1, n, mem);
	st = pclose(p);
	fclose(mem);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	return out;
}

static const char *cat_path(void)
{
	const char *p = getenv("ASTRON_EVENT_CAT");
	return p && *p ? p : "tools/astron-event-cat";
}

/* ------------------------------------------------------------------------
 * Two threads, three kinds of call site
 * ---------------------------------------------------------------------- */

static const char fancy[] = "q\"b\\s nl\n tab\t caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
static const char not_utf8[] = "ok\xff\xfe";

typedef struct worker {
	int t;
	int tid;
	int line[3];
	const char *func;
} worker_t;

static void *emit_worker(void *arg)
{
	worker_t *w = arg;
	const char *volatile nothing = NULL;
	char key[8], text[32];

	w->tid = (int)syscall(SYS_gettid);
	w->func = __func__;
	snprintf(key, sizeof key, "k%d", w->t);
	for (int i = 0; i < PER_THREAD; i++) {
		snprintf(text, sizeof text, "t%d-%d", w->t, i);
		switch (i % 3) {
		case 0:
			w->line[0] = __LINE__ + 1;
			ASTRON_EVENT("sink.plain", "t=%d i=%d s=%s f=%f neg=%lld kind=plain",
				     w->t, i, text, i * 0.5, -(long long)i);
			break;
		case 1:
			w->line[1] = __LINE__ + 1;
			ASTRON_EVENT_KEYED("sink.keyed", key, "t=%d i=%d u=%llu x=%x c=%c fancy=%s",
					   w->t, i, i * 1000000007ULL, 0xffffffffu, 'z', fancy);
			break;
		default:
			w->line[2] = __LINE__ + 1;
			ASTRON_EVENT("sink.odd", "t=%d i=%d bin=%s nil=%s p=%p big=%e",
				     w->t, i, not_utf8, nothing, (void *)0x1234, 1e300);
			break;
		}
	}
	return NULL;
}

static int64_t run_workers(worker_t *w)
{
	pthread_t th[THREADS];

	for (int t = 0; t < THREADS; t++) {
		w[t].t = t;
		cr_assert_eq(pthread_create(&th[t], NULL, emit_worker, &w[t]), 0);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	return wall_ns();
}

/* Flushed, every event delivered, nothing logged, no Kafka. */
static void expect_all_written(void)
{
	astron_event_stats_t st;

	cr_assert_eq(astron_event_flush(30000), 0, "flush");
	st = stats();
	cr_expect_eq(st.emitted, TOTAL);
	cr_expect_eq(st.delivered, TOTAL);
	cr_expect_eq(st.failed, 0);
	cr_expect_eq(st.dropped, 0);
	cr_expect_eq(test_log_n(), 0, "logged: %s", test_log_line(0));
	cr_expect_eq(threads_named("rdk:"), 0, "librdkafka threads exist");
	cr_expect_null(astron_event_servers(0));
}

static void pk_str(msgpack_packer *pk, const char *s, size_t n)
{
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

#define KEY(pk, s) pk_str((pk), (s), strlen(s))

/* The map the library must build for call i of thread t (doc/event-
 * format.md): the metadata, then the user fields in format order. */
static void pack_expected(msgpack_sbuffer *sb, const worker_t *w, int i,
			  int64_t ts, uint64_t seq)
{
	msgpack_packer pk;
	char text[32];

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 9 + 6);
	KEY(&pk, "@v"), msgpack_pack_int(&pk, 1);
	KEY(&pk, "@ts"), msgpack_pack_int64(&pk, ts);
	KEY(&pk, "@file"), KEY(&pk, __FILE__);
	KEY(&pk, "@line"), msgpack_pack_int(&pk, w->line[i % 3]);
	KEY(&pk, "@func"), KEY(&pk, w->func);
	KEY(&pk, "@pid"), msgpack_pack_int(&pk, getpid());
	KEY(&pk, "@tid"), msgpack_pack_int(&pk, w->tid);
	KEY(&pk, "@seq"), msgpack_pack_uint64(&pk, seq);
	KEY(&pk, "@tseq"), msgpack_pack_uint64(&pk, (uint64_t)i + 1);
	KEY(&pk, "t"), msgpack_pack_int(&pk, w->t);
	KEY(&pk, "i"), msgpack_pack_int(&pk, i);
	switch (i % 3) {
	case 0:
		snprintf(text, sizeof text, "t%d-%d", w->t, i);
		KEY(&pk, "s"), KEY(&pk, text);
		KEY(&pk, "f"), msgpack_pack_double(&pk, i * 0.5);
		KEY(&pk, "neg"), msgpack_pack_int64(&pk, -(long long)i);
		KEY(&pk, "kind"), KEY(&pk, "plain");
		break;
	case 1:
		KEY(&pk, "u"), msgpack_pack_uint64(&pk, i * 1000000007ULL);
		KEY(&pk, "x"), msgpack_pack_uint64(&pk, 0xffffffffu);
		KEY(&pk, "c"), KEY(&pk, "z");
		KEY(&pk, "fancy"), pk_str(&pk, fancy, sizeof fancy - 1);
		break;
	default:
		KEY(&pk, "bin"), msgpack_pack_bin(&pk, sizeof not_utf8 - 1);
		msgpack_pack_bin_body(&pk, not_utf8, sizeof not_utf8 - 1);
		KEY(&pk, "nil"), msgpack_pack_nil(&pk);
		KEY(&pk, "p"), msgpack_pack_uint64(&pk, 0x1234);
		KEY(&pk, "big"), msgpack_pack_double(&pk, 1e300);
		break;
	}
}

/* Two decoded values are the same: types, values, and map order. */
static int same(const msgpack_object *a, const msgpack_object *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case MSGPACK_OBJECT_NIL: return 1;
	case MSGPACK_OBJECT_BOOLEAN: return a->via.boolean == b->via.boolean;
	case MSGPACK_OBJECT_POSITIVE_INTEGER: return a->via.u64 == b->via.u64;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: return a->via.i64 == b->via.i64;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: return memcmp(&a->via.f64, &b->via.f64, sizeof(double)) == 0;
	case MSGPACK_OBJECT_STR:
		return a->via.str.size == b->via.str.size &&
		       memcmp(a->via.str.ptr, b->via.str.ptr, a->via.str.size) == 0;
	case MSGPACK_OBJECT_BIN:
		return a->via.bin.size == b->via.bin.size &&
		       memcmp(a->via.bin.ptr, b->via.bin.ptr, a->via.bin.size) == 0;
	case MSGPACK_OBJECT_MAP:
		if (a->via.map.size != b->via.map.size)
			return 0;
		for (uint32_t k = 0; k < a->via.map.size; k++)
			if (!same(&a->via.map.ptr[k].key, &b->via.map.ptr[k].key) ||
			    !same(&a->via.map.ptr[k].val, &b->via.map.ptr[k].val))
				return 0;
		return 1;
	default:
		return 0;
	}
}

/* The JSON line of a value as astron_event_json writes it (free it). */
static char *json_of(const void *value, size_t len, const char *key, int flags)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);

	cr_assert_eq(astron_event_json(f, value, len, key, key ? strlen(key) : 0, flags), 0);
	fclose(f);
	return text;
}

/* The integer after "name": in a JSON line. */
static long long json_int(const char *line, const char *name)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof pat, "\"%s\":", name);
	p = strstr(line, pat);
	cr_assert_not_null(p, "no %s in %s", pat, line);
	return strtoll(p + strlen(pat), NULL, 10);
}

/* Each (thread, call) exactly once. */
static void mark_seen(unsigned char *seen, int t, int i)
{
	cr_assert(t >= 0 && t < THREADS && i >= 0 && i < PER_THREAD, "t=%d i=%d", t, i);
	cr_assert_eq(seen[t * PER_THREAD + i], 0, "t=%d i=%d twice", t, i);
	seen[t * PER_THREAD + i] = 1;
}

/* ------------------------------------------------------------------------
 * msgpack:PATH and file:PATH
 * ---------------------------------------------------------------------- */

Test(sink, msgpack_file_every_field_and_cat_agrees, .timeout = 120)
{
	static worker_t w[THREADS];
	static unsigned char seen[TOTAL];
	const char *path;
	char *data, *want, *got, cmd[512], errpath[128];
	size_t len, off = 0, k = 0;
	FILE *expect;
	msgpack_sbuffer sb;
	int64_t t0, t1;
	int status;

	make_tmpdir();
	path = use_sink("msgpack:%s/events.msgpack");
	t0 = wall_ns();
	run_workers(w);
	expect_all_written();
	t1 = wall_ns();

	data = slurp(path, &len);
	msgpack_sbuffer_init(&sb);
	want = NULL;
	expect = open_memstream(&want, &(size_t){0});
	while (off < len) {
		msgpack_unpacked up, exp;
		size_t used = 0, eoff = 0;
		const msgpack_object *m;
		int64_t ts;
		int t, i;

		msgpack_unpacked_init(&up);
		cr_assert_eq(msgpack_unpack_next(&up, data + off, len - off, &used),
			     MSGPACK_UNPACK_SUCCESS, "value %zu at offset %zu", k, off);
		m = &up.data;
		cr_assert_eq(m->type, MSGPACK_OBJECT_MAP, "value %zu", k);
		t = (int)test_int(m, "t");
		i = (int)test_int(m, "i");
		mark_seen(seen, t, i);
		ts = test_int(m, "@ts");
		cr_expect(ts >= t0 - 50000000 && ts <= t1 + 50000000, "@ts %lld", (long long)ts);

		/* The whole map, field by field, in order; @seq is the
		 * order of writing. */
		pack_expected(&sb, &w[t], i, ts, k + 1);
		msgpack_unpacked_init(&exp);
		cr_assert_eq(msgpack_unpack_next(&exp, sb.data, sb.size, &eoff),
			     MSGPACK_UNPACK_SUCCESS);
		cr_assert(same(m, &exp.data), "value %zu (t=%d i=%d) differs from "
			  "what the library must build", k, t, i);
		msgpack_unpacked_destroy(&exp);

		/* What astron-event-cat -f must print for it. */
		cr_assert_eq(astron_event_json(expect, data + off, used, NULL, 0, 0), 0);
		msgpack_unpacked_destroy(&up);
		off += used;
		k++;
	}
	fclose(expect);
	cr_expect_eq(k, TOTAL, "%zu values in the file", k);

	snprintf(errpath, sizeof errpath, "%s/cat.err", tmpdir);
	snprintf(cmd, sizeof cmd, "%s -f %s", cat_path(), path);
	got = run(cmd, errpath, &status);
	cr_expect_eq(status, 0, "astron-event-cat -f exit status");
	cr_expect(strcmp(got, want) == 0, "astron-event-cat -f differs from "
		  "astron_event_json (%zu vs %zu bytes)", strlen(got), strlen(want));
	free(got);
	got = slurp(errpath, NULL);
	cr_expect_str_eq(got, "");
	free(got);

	free(want);
	free(data);
	msgpack_sbuffer_destroy(&sb);
	remove_tmpdir();
}

Test(sink, json_file_lines_are_astron_event_json, .timeout = 120)
{
	static worker_t w[THREADS];
	static unsigned char seen[TOTAL];
	static char *lines[TOTAL + 1];
	const char *path;
	char *text, *values_path, *got, *want = NULL, cmd[512];
	size_t n;
	msgpack_sbuffer sb, all;
	FILE *stripped;
	int64_t t0, t1;
	int status;

	make_tmpdir();
	path = use_sink("file:%s/events.json");
	t0 = wall_ns();
	run_workers(w);
	expect_all_written();
	t1 = wall_ns();

	text = slurp(path, NULL);
	n = split_lines(text, lines, TOTAL + 1);
	cr_assert_eq(n, TOTAL, "%zu lines", n);
	msgpack_sbuffer_init(&sb);
	msgpack_sbuffer_init(&all);
	stripped = open_memstream(&want, &(size_t){0});
	for (size_t k = 0; k < n; k++) {
		int t = (int)json_int(lines[k], "t"), i = (int)json_int(lines[k], "i");
		int64_t ts = json_int(lines[k], "@ts");
		const char *key = i % 3 == 1 ? (t ? "k1" : "k0") : NULL;
		char *line;
		const char *rest;

		mark_seen(seen, t, i);
		cr_expect(ts >= t0 - 50000000 && ts <= t1 + 50000000, "@ts %lld", (long long)ts);
		pack_expected(&sb, &w[t], i, ts, k + 1);
		line = json_of(sb.data, sb.size, key, ASTRON_JSON_KEY);
		cr_assert(strncmp(line, lines[k], strlen(lines[k])) == 0 &&
			  strcmp(line + strlen(lines[k]), "\n") == 0,
			  "line %zu:\n%s\nwant:\n%s", k + 1, lines[k], line);
		free(line);

		/* The same line without "@key", for astron-event-cat -f. */
		rest = strchr(lines[k], ',');
		cr_assert(strncmp(lines[k], "{\"@key\":", 8) == 0 && rest);
		fprintf(stripped, "{%s\n", rest + 1);
		msgpack_sbuffer_write(&all, sb.data, sb.size);
	}
	fclose(stripped);

	values_path = malloc(strlen(tmpdir) + 20);
	sprintf(values_path, "%s/values.msgpack", tmpdir);
	FILE *f = fopen(values_path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(all.data, 1, all.size, f), all.size);
	fclose(f);
	snprintf(cmd, sizeof cmd, "%s -f %s", cat_path(), values_path);
	got = run(cmd, NULL, &status);
	cr_expect_eq(status, 0);
	cr_expect(strcmp(got, want) == 0, "astron-event-cat -f does not print the "
		  "sink's lines (without \"@key\")");

	free(got);
	free(want);
	free(values_path);
	free(text);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&all);
	remove_tmpdir();
}

/* ------------------------------------------------------------------------
 * stderr and stdout
 * ---------------------------------------------------------------------- */

/* The line of call n (0, 1, 2) of stream_events(), rebuilt from the line's
 * own time stamp. */
static void expect_stream_line(const char *line, int n, int at_line,
			       const char *func, const char *who)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char *want;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 9 + 2);
	KEY(&pk, "@v"), msgpack_pack_int(&pk, 1);
	KEY(&pk, "@ts"), msgpack_pack_int64(&pk, json_int(line, "@ts"));
	KEY(&pk, "@file"), KEY(&pk, __FILE__);
	KEY(&pk, "@line"), msgpack_pack_int(&pk, at_line);
	KEY(&pk, "@func"), KEY(&pk, func);
	KEY(&pk, "@pid"), msgpack_pack_int(&pk, getpid());
	KEY(&pk, "@tid"), msgpack_pack_int(&pk, (int)syscall(SYS_gettid));
	KEY(&pk, "@seq"), msgpack_pack_uint64(&pk, (uint64_t)n + 1);
	KEY(&pk, "@tseq"), msgpack_pack_uint64(&pk, (uint64_t)n + 1);
	KEY(&pk, "n"), msgpack_pack_int(&pk, n);
	KEY(&pk, "who"), KEY(&pk, who);
	want = json_of(sb.data, sb.size, n == 1 ? "key-1" : NULL, ASTRON_JSON_KEY);
	cr_expect(strncmp(want, line, strlen(line)) == 0 &&
		  strcmp(want + strlen(line), "\n") == 0,
		  "line %d:\n%s\nwant:\n%s", n + 1, line, want);
	free(want);
	msgpack_sbuffer_destroy(&sb);
}

/* Point file descriptor fd at a new file in the temporary directory;
 * returns the saved descriptor. */
static int redirect(int fd, const char *name, char *path, size_t size)
{
	int saved = dup(fd), nfd;

	snprintf(path, size, "%s/%s", tmpdir, name);
	nfd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(nfd, 0);
	cr_assert_geq(dup2(nfd, fd), 0);
	close(nfd);
	return saved;
}

static void stream_test(int fd, const char *sink)
{
	char path[128], *text, *lines[8];
	int saved, at_line = 0;
	size_t n;
	astron_event_stats_t st;

	make_tmpdir();
	fflush(fd == 1 ? stdout : stderr);
	saved = redirect(fd, "stream.out", path, sizeof path);
	use_sink(sink);
	for (int i = 0; i < 3; i++) {
		at_line = __LINE__ + 1;
		ASTRON_EVENT_KEYED("sink.stream", i == 1 ? "key-1" : NULL,
				   "n=%d who=%s", i, sink);
	}
	cr_assert_eq(astron_event_flush(10000), 0);
	/* Written by now: read it before anything else flushes. */
	text = slurp(path, NULL);
	dup2(saved, fd);
	close(saved);

	st = stats();
	cr_expect_eq(st.emitted, 3);
	cr_expect_eq(st.delivered, 3);
	cr_expect_eq(st.failed + st.dropped, 0);
	cr_expect_eq(test_log_n(), 0, "logged: %s", test_log_line(0));
	n = split_lines(text, lines, 8);
	cr_assert_eq(n, 3, "%zu lines:\n%s", n, text);
	for (int i = 0; i < 3; i++)
		expect_stream_line(lines[i], i, at_line, __func__, sink);
	free(text);
	remove_tmpdir();
}

Test(sink, stderr_gets_json_lines, .timeout = 60)
{
	stream_test(2, "stderr");
}

/* stdout is the program's buffered stream: the events are flushed to it by
 * the time astron_event_flush() returns, the program need not. */
Test(sink, stdout_gets_json_lines, .timeout = 60)
{
	stream_test(1, "stdout");
}

/* ------------------------------------------------------------------------
 * Problems: named, counted, never sent to Kafka
 * ---------------------------------------------------------------------- */

Test(sink, parse_values)
{
	static const struct {
		const char *s;
		astron_sink_kind_t kind;
		const char *path;
	} cases[] = {
		{NULL, ASTRON_SINK_KAFKA, NULL},
		{"", ASTRON_SINK_KAFKA, NULL},
		{"  ", ASTRON_SINK_KAFKA, NULL},
		{"kafka", ASTRON_SINK_KAFKA, NULL},
		{"stderr", ASTRON_SINK_STDERR, NULL},
		{" STDERR\n", ASTRON_SINK_STDERR, NULL},
		{"stdout", ASTRON_SINK_STDOUT, NULL},
		{"Stdout", ASTRON_SINK_STDOUT, NULL},
		{"file:/tmp/x.json", ASTRON_SINK_FILE, "/tmp/x.json"},
		{"FILE:rel/x y", ASTRON_SINK_FILE, "rel/x y"},
		{"msgpack:/tmp/x.mp", ASTRON_SINK_MSGPACK, "/tmp/x.mp"},
		{"msgpack:file:x", ASTRON_SINK_MSGPACK, "file:x"},
		{"file:", ASTRON_SINK_INVALID, NULL},
		{"msgpack:", ASTRON_SINK_INVALID, NULL},
		{"file", ASTRON_SINK_INVALID, NULL},
		{"bogus", ASTRON_SINK_INVALID, NULL},
		{"stderr2", ASTRON_SINK_INVALID, NULL},
		{"std", ASTRON_SINK_INVALID, NULL},
		{"json:/tmp/x", ASTRON_SINK_INVALID, NULL},
		{"/tmp/x.json", ASTRON_SINK_INVALID, NULL},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *path = "unset";
		astron_sink_kind_t kind = astron_parse_sink(cases[i].s, &path);

		cr_expect_eq(kind, cases[i].kind, "'%s': kind %d", cases[i].s ? cases[i].s : "(null)", kind);
		if (cases[i].path)
			cr_expect(path && strcmp(path, cases[i].path) == 0,
				  "'%s': path '%s'", cases[i].s, path ? path : "(null)");
		else
			cr_expect_null(path, "'%s': path '%s'", cases[i].s ? cases[i].s : "(null)", path);
	}
}

/* A bad value is one error naming the variable; every event is dropped and
 * counted, and Kafka -- here a mock cluster that would work -- is never
 * tried. */
Test(sink, bad_value_drops_without_falling_back_to_kafka, .timeout = 60)
{
	astron_event_stats_t st;

	use_sink("bogus");
	setenv("KAFKA_SERVERS", "mock:1", 1);
	for (int i = 0; i < 10; i++)
		ASTRON_EVENT("sink.bad", "i=%d", i);
	cr_expect_eq(astron_event_flush(5000), 0);
	st = stats();
	cr_expect_eq(st.emitted, 0);
	cr_expect_eq(st.dropped, 10);
	cr_expect_eq(st.delivered + st.failed, 0);
	cr_expect_eq(test_log_n(), 1, "%d lines; first: %s", test_log_n(),
		     test_log_line(0));
	cr_expect_eq(test_log_count("ASTRON_EVENT_SINK='bogus'", "dropped"), 1,
		     "got: %s", test_log_line(0));
	cr_expect_null(astron_event_servers(1000));
	cr_expect_eq(threads_named("rdk:"), 0);
	cr_expect_eq(threads_named("astron-flusher"), 0);
}

/* A file that cannot be opened: one error naming the variable, the path
 * and the reason; what was accepted before the flusher found out fails,
 * the rest is dropped. */
Test(sink, unopenable_file_is_one_error_and_counted, .timeout = 60)
{
	astron_event_stats_t st;

	make_tmpdir();
	use_sink("file:%s/no/such/dir/events.json");
	for (int i = 0; i < 10; i++)
		ASTRON_EVENT("sink.bad", "i=%d", i);
	cr_expect_eq(astron_event_flush(5000), 0);
	for (int i = 0; i < 10; i++)
		ASTRON_EVENT("sink.bad", "i=%d", i);
	cr_expect_eq(astron_event_flush(5000), 0);
	st = stats();
	cr_expect_eq(st.emitted + st.dropped, 20);
	cr_expect_geq(st.dropped, 10, "emitted %llu dropped %llu failed %llu delivered %llu", (unsigned long long)st.emitted, (unsigned long long)st.dropped, (unsigned long long)st.failed, (unsigned long long)st.delivered);
	cr_expect_eq(st.delivered, 0);
	cr_expect_eq(st.failed, st.emitted);
	cr_expect_eq(test_log_n(), 1, "%d lines; first: %s", test_log_n(),
		     test_log_line(0));
	cr_expect_eq(test_log_count("ASTRON_EVENT_SINK=file:",
				    "/no/such/dir/events.json: "
				    "No such file or directory"),
		     1, "got: %s", test_log_line(0));
	remove_tmpdir();
}

/* Writes that fail count as failed, each with a (rate-limited) diagnostic
 * naming the sink and the reason; flush still completes. */
static void write_errors(const char *sink)
{
	astron_event_stats_t st;
	char want[64];

	use_sink(sink);
	for (int i = 0; i < 5; i++)
		ASTRON_EVENT("sink.full", "i=%d s=%s", i, "no room");
	cr_expect_eq(astron_event_flush(5000), 0);
	st = stats();
	cr_expect_eq(st.emitted, 5);
	cr_expect_eq(st.delivered, 0);
	cr_expect_eq(st.failed, 5);
	snprintf(want, sizeof want, "ASTRON_EVENT_SINK=%s: cannot write", sink);
	cr_expect_eq(test_log_count(want, "No space left on device"), 5,
		     "%d lines; first: %s", test_log_n(), test_log_line(0));
	cr_expect_eq(test_log_n(), 5);
}

Test(sink, json_write_errors_are_failed_and_named, .timeout = 60)
{
	write_errors("file:/dev/full");
}

Test(sink, msgpack_write_errors_are_failed_and_named, .timeout = 60)
{
	write_errors("msgpack:/dev/full");
}

/* KAFKA_ENABLE off: the sink changes nothing -- no output, no file, no
 * thread. */
Test(sink, kafka_enable_is_still_the_master_switch, .timeout = 60)
{
	char errpath[128], outpath[128], file[128], *text;
	int saved_err, saved_out;
	struct stat sbuf;
	astron_event_stats_t st;

	make_tmpdir();
	fflush(stdout);
	fflush(stderr);
	saved_err = redirect(2, "stderr", errpath, sizeof errpath);
	saved_out = redirect(1, "stdout", outpath, sizeof outpath);
	use_sink("file:%s/events.json");
	setenv("KAFKA_ENABLE", "0", 1);
	astron_event_set_log_cb(NULL, NULL);
	snprintf(file, sizeof file, "%s/events.json", tmpdir);
	for (int i = 0; i < 10; i++)
		ASTRON_EVENT("sink.off", "i=%d", i);
	cr_expect_eq(astron_event_flush(1000), ASTRON_EDISABLED);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_err, 2);
	dup2(saved_out, 1);
	close(saved_err);
	close(saved_out);

	cr_expect_eq(astron_event_enabled(), 0);
	st = stats();
	cr_expect_eq(st.emitted + st.dropped + st.delivered + st.failed, 0);
	cr_expect_eq(stat(file, &sbuf), -1, "%s was created", file);
	cr_expect_eq(threads_named("astron-flusher"), 0);
	text = slurp(errpath, NULL);
	cr_expect_str_eq(text, "");
	free(text);
	text = slurp(outpath, NULL);
	cr_expect_str_eq(text, "");
	free(text);
	remove_tmpdir();
}

/* ------------------------------------------------------------------------
 * Processes: a forked child, the flush at exit, the example
 * ---------------------------------------------------------------------- */

/* Parent and child append to one file: the child reopens it after fork()
 * and leaves with exit(), whose flush writes what it emitted; no line is
 * lost or cut into another. */
Test(sink, fork_and_exit_append_whole_lines, .timeout = 60)
{
	enum { N = 200 };
	const char *path;
	char *text, *lines[2 * N + 8];
	unsigned char seen[2][N + 1] = {{0}};
	size_t n;
	pid_t child;
	int st;

	make_tmpdir();
	path = use_sink("file:%s/events.json");
	ASTRON_EVENT("sink.fork", "who=%s n=%d", "parent", 0);
	cr_assert_eq(astron_event_flush(5000), 0);
	child = fork();
	cr_assert_neq(child, -1);
	if (child == 0) {
		for (int i = 0; i < N; i++)
			ASTRON_EVENT("sink.fork", "who=%s n=%d", "child", i);
		exit(0); /* no flush: the library's exit handler writes them */
	}
	for (int i = 1; i <= N; i++)
		ASTRON_EVENT("sink.fork", "who=%s n=%d", "parent", i);
	cr_assert_eq(astron_event_flush(10000), 0);
	cr_assert_eq(waitpid(child, &st, 0), child);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	text = slurp(path, NULL);
	n = split_lines(text, lines, sizeof lines / sizeof lines[0]);
	cr_assert_eq(n, 2 * N + 1, "%zu lines", n);
	for (size_t k = 0; k < n; k++) {
		const char *l = lines[k];
		int is_child = strstr(l, "\"who\":\"child\"") != NULL;
		long long pid = json_int(l, "@pid"), i = json_int(l, "n");
		char tail[64];

		cr_assert(strncmp(l, "{\"@key\":null,\"@v\":1,\"@ts\":", 26) == 0,
			  "line %zu: %s", k + 1, l);
		snprintf(tail, sizeof tail, ",\"who\":\"%s\",\"n\":%lld}",
			 is_child ? "child" : "parent", i);
		cr_assert(strlen(l) > strlen(tail) &&
			  strcmp(l + strlen(l) - strlen(tail), tail) == 0,
			  "line %zu: %s", k + 1, l);
		cr_assert_eq(pid, is_child ? child : getpid(), "line %zu: %s", k + 1, l);
		cr_assert(i >= 0 && i <= N && !seen[is_child][i], "line %zu: %s", k + 1, l);
		seen[is_child][i] = 1;
	}
	free(text);
	remove_tmpdir();
}

/* examples/local_sink, as the README runs it. */
Test(sink, example_local_sink, .timeout = 60)
{
	char errpath[128], *out, *err, *lines[8];
	int status;
	size_t n;

	make_tmpdir();
	snprintf(errpath, sizeof errpath, "%s/example.err", tmpdir);
	out = run("env -u KAFKA_SERVERS KAFKA_ENABLE=1 ASTRON_EVENT_SINK=stderr "
		  "examples/local_sink", errpath, &status);
	cr_expect_eq(status, 0);
	cr_expect_str_eq(out, "emitted=3 delivered=3 failed=0 dropped=0\n");
	free(out);
	err = slurp(errpath, NULL);
	n = split_lines(err, lines, 8);
	cr_assert_eq(n, 3, "%zu lines on stderr", n);
	cr_expect(strncmp(lines[0], "{\"@key\":null,\"@v\":1,\"@ts\":", 26) == 0, "%s", lines[0]);
	cr_expect(strstr(lines[0], ",\"user\":\"alice\",\"ok\":1,\"latency_ms\":12.5,"
			 "\"method\":\"password\"}") != NULL, "%s", lines[0]);
	cr_expect(strncmp(lines[1], "{\"@key\":\"trace-42\",\"@v\":1,", 26) == 0, "%s", lines[1]);
	cr_expect(strstr(lines[1], ",\"span\":7,\"dur_us\":1500,\"name\":\"db.query\"}") != NULL,
		  "%s", lines[1]);
	cr_expect(strstr(lines[2], ",\"user\":\"bob\",\"ok\":0,\"reason\":\"bad password\"}") != NULL,
		  "%s", lines[2]);
	free(err);

	out = run("env KAFKA_ENABLE=0 ASTRON_EVENT_SINK=stderr examples/local_sink",
		  errpath, &status);
	cr_expect_eq(status, 0);
	cr_expect_str_eq(out, "KAFKA_ENABLE is off: nothing is emitted\n");
	free(out);
	err = slurp(errpath, NULL);
	cr_expect_str_eq(err, "");
	free(err);
	remove_tmpdir();
}
