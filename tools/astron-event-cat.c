/*
 * astron-event-cat - print astron-event events as JSON lines.
 *
 *     astron-event-cat -e -b broker:9092 agent.spans
 *     astron-event-cat -f events.msgpack
 *
 * The companion of the library, in the spirit of kcat: it reads a topic (or a
 * file of concatenated msgpack values) and writes each event as one JSON
 * object per line, keeping msgpack's types visible: integers with all their
 * digits, floats with the shortest text that reads back to the same double,
 * bin as {"$bin":"<base64>"}, nil as null.  After "@ts" (nanoseconds since
 * the epoch) it adds "@time", the same instant in RFC 3339 UTC with all nine
 * digits.  The mapping is specified in astron-event-cat(1).
 *
 * It deliberately needs nothing from libastron-event: a consumer of events
 * depends only on the wire format (doc/event-format.md), librdkafka and
 * msgpack-c.
 *
 * Exit status: 0 success, 1 a runtime error or undecodable data (reported on
 * stderr with its offset, then skipped), 2 a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <msgpack.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <astron/version.h>

#define PROG "astron-event-cat"
#define EXIT_USAGE 2
#define DEFAULT_TIMEOUT_S 10   /* KAFKA_TIMEOUT, as in the library */
#define READ_CHUNK (64 * 1024)
#define MAX_PENDING (256u << 20) /* largest event -f waits for */

typedef struct options {
	const char *servers;  /* -b, else KAFKA_SERVERS */
	const char *topic;
	const char *file;     /* -f: NULL for Kafka */
	int64_t offset;	      /* -o: an RD_KAFKA_OFFSET_* or absolute */
	int exit_eof;	      /* -e */
	int show_key;	      /* -k */
	int pretty;	      /* --pretty */
	int timeout_ms;	      /* KAFKA_TIMEOUT: bound on reaching brokers */
	const char **props;   /* -X name=value, as name, value pairs */
	size_t nprops;
} options_t;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [options] TOPIC\n"
		"       " PROG " [--pretty] -f FILE|-\n"
		"\n"
		"Print astron-event events as JSON, one object per line.\n"
		"\n"
		"  -b SERVERS       Kafka bootstrap servers (default: KAFKA_SERVERS)\n"
		"  -o OFFSET        where to start in every partition: beginning (default),\n"
		"                   end, N (absolute) or -N (N before the end)\n"
		"  -e               exit when every partition has reached its end\n"
		"  -k               add the message key as \"@key\"\n"
		"  -X NAME=VALUE    set a librdkafka consumer property (repeatable)\n"
		"  -f FILE          decode concatenated msgpack events from FILE (- for\n"
		"                   standard input) instead of Kafka\n"
		"  -p, --pretty     indented multi-line JSON\n"
		"  -h, --help       this help\n"
		"  -V, --version    print the version\n"
		"\n"
		"KAFKA_TIMEOUT (seconds, default %d) bounds the wait for the brokers.\n"
		"Exit status: 0 ok, 1 error or undecodable data, 2 usage error.\n"
		"See astron-event-cat(1).\n", DEFAULT_TIMEOUT_S);
}

static void die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	usage(stderr);
	exit(EXIT_USAGE);
}

/* ------------------------------------------------------------------------
 * JSON output
 * ---------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) at s, or 0 when there is none. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		return n >= 3 && s[1] >= lo && s[1] <= hi &&
		       (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		return n >= 4 && s[1] >= lo && s[1] <= hi &&
		       (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

static int utf8_valid(const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t len;

	for (size_t i = 0; i < n; i += len)
		if ((len = utf8_seq(s + i, n - i)) == 0)
			return 0;
	return 1;
}

/* A JSON string.  Valid UTF-8 passes through; '"', '\\' and the control
 * characters (and DEL, which terminals act on) are escaped; a byte that is
 * not part of valid UTF-8 becomes U+FFFD.  astron-event never sends such a
 * str (it sends bin instead), but other producers might. */
static void json_str(FILE *f, const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0;

	putc('"', f);
	while (i < n) {
		unsigned c = s[i];
		size_t len;

		switch (c) {
		case '"': fputs("\\\"", f); i++; continue;
		case '\\': fputs("\\\\", f); i++; continue;
		case '\b': fputs("\\b", f); i++; continue;
		case '\f': fputs("\\f", f); i++; continue;
		case '\n': fputs("\\n", f); i++; continue;
		case '\r': fputs("\\r", f); i++; continue;
		case '\t': fputs("\\t", f); i++; continue;
		}
		if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
			i++;
			continue;
		}
		len = utf8_seq(s + i, n - i);
		if (len == 0) {
			fputs("\\ufffd", f);
			i++;
			continue;
		}
		fwrite(s + i, 1, len, f);
		i += len;
	}
	putc('"', f);
}

static void base64(FILE *f, const void *p, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i + 3 <= n; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
		putc(tab[v >> 18], f);
		putc(tab[(v >> 12) & 63], f);
		putc(tab[(v >> 6) & 63], f);
		putc(tab[v & 63], f);
	}
	if (n - i == 1) {
		unsigned v = (unsigned)s[i] << 16;
		fprintf(f, "%c%c==", tab[v >> 18], tab[(v >> 12) & 63]);
	} else if (n - i == 2) {
		unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8;
		fprintf(f, "%c%c%c=", tab[v >> 18], tab[(v >> 12) & 63],
			tab[(v >> 6) & 63]);
	}
}

/* A float as the shortest decimal that reads back to the same value (at
 * most 17 significant digits for a double, 9 for a float32; "%.17g" always
 * round-trips, shorter forms are tried first), written like Python's repr():
 * plain notation for exponents -4..15, else scientific, and always with a
 * '.' or an exponent so that a JSON reader keeps it a float.  JSON has no
 * NaN or infinity: they are written as the strings "NaN", "Infinity" and
 * "-Infinity". */
static void json_float(FILE *f, double d, int is_float32)
{
	char buf[400];
	int prec, exp;

	if (isnan(d)) {
		fputs("\"NaN\"", f);
		return;
	}
	if (isinf(d)) {
		fputs(d > 0 ? "\"Infinity\"" : "\"-Infinity\"", f);
		return;
	}
	for (prec = 1; prec < (is_float32 ? 9 : 17); prec++) {
		snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
		if (is_float32 ? (float)strtod(buf, NULL) == (float)d
			       : strtod(buf, NULL) == d)
			break;
	}
	snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
	exp = atoi(strchr(buf, 'e') + 1);
	if (exp >= -4 && exp < 16) {
		snprintf(buf, sizeof buf, "%.*f",
			 prec - 1 - exp > 0 ? prec - 1 - exp : 0, d);
		if (!strchr(buf, '.'))
			strcat(buf, ".0");
	}
	fputs(buf, f);
}

/* "@time": nanoseconds since the epoch as RFC 3339 UTC with nine digits.
 * Returns 0 when the instant is outside what gmtime can represent. */
static int format_time(char *buf, size_t size, int64_t ns)
{
	int64_t sec = ns / 1000000000, frac = ns % 1000000000;
	time_t t;
	struct tm tm;
	size_t n;

	if (frac < 0) { /* floor, so that the fraction is positive */
		frac += 1000000000;
		sec--;
	}
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
		return 0;
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0)
		return 0;
	snprintf(buf + n, size - n, ".%09dZ", (int)frac);
	return 1;
}

typedef struct printer {
	FILE *f;
	int pretty;
} printer_t;

static void json_value(const printer_t *pr, const msgpack_object *o, int depth);

static void newline(const printer_t *pr, int depth)
{
	if (!pr->pretty)
		return;
	putc('\n', pr->f);
	for (int i = 0; i < depth; i++)
		fputs("  ", pr->f);
}

/* A map key: JSON keys are strings, so a key of another type (never sent by
 * astron-event) is written as the string of its compact JSON text. */
static void json_key(const printer_t *pr, const msgpack_object *k)
{
	printer_t compact = {NULL, 0};
	char *text = NULL;
	size_t len = 0;

	if (k->type == MSGPACK_OBJECT_STR) {
		json_str(pr->f, k->via.str.ptr, k->via.str.size);
	} else if ((compact.f = open_memstream(&text, &len)) != NULL) {
		json_value(&compact, k, 0);
		fclose(compact.f);
		json_str(pr->f, text, len);
		free(text);
	} else {
		fputs("\"?\"", pr->f);
	}
	fputs(pr->pretty ? ": " : ":", pr->f);
}

static void json_map(const printer_t *pr, const msgpack_object_map *m, int depth)
{
	if (m->size == 0) {
		fputs("{}", pr->f);
		return;
	}
	putc('{', pr->f);
	for (uint32_t i = 0; i < m->size; i++) {
		if (i)
			putc(',', pr->f);
		newline(pr, depth + 1);
		json_key(pr, &m->ptr[i].key);
		json_value(pr, &m->ptr[i].val, depth + 1);
	}
	newline(pr, depth);
	putc('}', pr->f);
}

static void json_array(const printer_t *pr, const msgpack_object_array *a, int depth)
{
	if (a->size == 0) {
		fputs("[]", pr->f);
		return;
	}
	putc('[', pr->f);
	for (uint32_t i = 0; i < a->size; i++) {
		if (i)
			putc(',', pr->f);
		newline(pr, depth + 1);
		json_value(pr, &a->ptr[i], depth + 1);
	}
	newline(pr, depth);
	putc(']', pr->f);
}

/* One msgpack value as JSON; nesting depth is bounded by msgpack-c's
 * unpacker (MSGPACK_EMBED_STACK_SIZE), so the recursion is too. */
static void json_value(const printer_t *pr, const msgpack_object *o, int depth)
{
	FILE *f = pr->f;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		fputs("null", f);
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		fputs(o->via.boolean ? "true" : "false", f);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		fprintf(f, "%llu", (unsigned long long)o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		fprintf(f, "%lld", (long long)o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
		json_float(f, o->via.f64, 1);
		break;
	case MSGPACK_OBJECT_FLOAT64:
		json_float(f, o->via.f64, 0);
		break;
	case MSGPACK_OBJECT_STR:
		json_str(f, o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN:
		fputs(pr->pretty ? "{\"$bin\": \"" : "{\"$bin\":\"", f);
		base64(f, o->via.bin.ptr, o->via.bin.size);
		fputs("\"}", f);
		break;
	case MSGPACK_OBJECT_EXT:
		fprintf(f, pr->pretty ? "{\"$ext\": %d, \"$bin\": \""
				      : "{\"$ext\":%d,\"$bin\":\"",
			(int)o->via.ext.type);
		base64(f, o->via.ext.ptr, o->via.ext.size);
		fputs("\"}", f);
		break;
	case MSGPACK_OBJECT_ARRAY:
		json_array(pr, &o->via.array, depth);
		break;
	case MSGPACK_OBJECT_MAP:
		json_map(pr, &o->via.map, depth);
		break;
	default:
		fputs("null", f);
		break;
	}
}

static int key_is(const msgpack_object *k, const char *s)
{
	size_t n = strlen(s);
	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
	       memcmp(k->via.str.ptr, s, n) == 0;
}

/* One event: a map printed as JSON, with "@key" first when show_key is set
 * (null for a message without a key; bin-shaped when the key is not UTF-8)
 * and "@time" added right after an integer "@ts". */
static void print_event(const printer_t *pr, const msgpack_object *map,
			int show_key, const void *key, size_t keylen)
{
	const msgpack_object_map *m = &map->via.map;
	int first = 1;

	putc('{', pr->f);
	if (show_key) {
		msgpack_object k = {.type = MSGPACK_OBJECT_NIL};

		if (key && utf8_valid(key, keylen)) {
			k.type = MSGPACK_OBJECT_STR;
			k.via.str.ptr = key;
			k.via.str.size = (uint32_t)keylen;
		} else if (key) {
			k.type = MSGPACK_OBJECT_BIN;
			k.via.bin.ptr = key;
			k.via.bin.size = (uint32_t)keylen;
		}
		newline(pr, 1);
		fputs(pr->pretty ? "\"@key\": " : "\"@key\":", pr->f);
		json_value(pr, &k, 1);
		first = 0;
	}
	for (uint32_t i = 0; i < m->size; i++) {
		const msgpack_object *v = &m->ptr[i].val;
		char when[64];

		if (!first)
			putc(',', pr->f);
		first = 0;
		newline(pr, 1);
		json_key(pr, &m->ptr[i].key);
		json_value(pr, v, 1);
		if (!key_is(&m->ptr[i].key, "@ts"))
			continue;
		if ((v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
		     (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
		      v->via.u64 <= INT64_MAX)) &&
		    format_time(when, sizeof when, v->via.i64)) {
			putc(',', pr->f);
			newline(pr, 1);
			fprintf(pr->f, pr->pretty ? "\"@time\": \"%s\"" : "\"@time\":\"%s\"",
				when);
		}
	}
	if (!first)
		newline(pr, 0);
	fputs("}\n", pr->f);
}

static const char *type_name(msgpack_object_type t)
{
	switch (t) {
	case MSGPACK_OBJECT_NIL: return "nil";
	case MSGPACK_OBJECT_BOOLEAN: return "bool";
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "int";
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: return "float";
	case MSGPACK_OBJECT_STR: return "str";
	case MSGPACK_OBJECT_BIN: return "bin";
	case MSGPACK_OBJECT_EXT: return "ext";
	case MSGPACK_OBJECT_ARRAY: return "array";
	case MSGPACK_OBJECT_MAP: return "map";
	}
	return "?";
}

/* ------------------------------------------------------------------------
 * -f: a file or stream of concatenated events
 * ---------------------------------------------------------------------- */

typedef struct stream {
	int fd;
	int eof;
	char *buf;
	size_t start, end, cap; /* unread bytes are buf[start, end) */
	uint64_t base;		/* stream offset of buf[0] */
} stream_t;

/* Read more input, keeping buf[start, end).  Returns 0, or -1 on a read
 * error (reported).  Standard output is flushed before a read can block, so
 * a pipeline sees every event as soon as it is complete. */
static int stream_fill(stream_t *s, const char *name)
{
	ssize_t n;

	if (s->start > 0 && s->start == s->end) {
		s->base += s->start;
		s->start = s->end = 0;
	}
	if (s->cap - s->end < READ_CHUNK) {
		if (s->start > 0) {
			memmove(s->buf, s->buf + s->start, s->end - s->start);
			s->base += s->start;
			s->end -= s->start;
			s->start = 0;
		}
		if (s->cap - s->end < READ_CHUNK) {
			size_t cap = s->cap ? s->cap * 2 : 4 * READ_CHUNK;
			char *b = realloc(s->buf, cap);
			if (!b) {
				fprintf(stderr, PROG ": %s: out of memory\n", name);
				return -1;
			}
			s->buf = b;
			s->cap = cap;
		}
	}
	fflush(stdout);
	do
		n = read(s->fd, s->buf + s->end, s->cap - s->end);
	while (n < 0 && errno == EINTR && !stop_requested);
	if (n < 0) {
		fprintf(stderr, PROG ": %s: %s\n", name, strerror(errno));
		return -1;
	}
	if (n == 0)
		s->eof = 1;
	s->end += (size_t)n;
	return 0;
}

/* Try to decode one msgpack map at buf[pos]: 1 when one is there (*size is
 * its length), 0 when what is there is no map or not msgpack, -1 when it may
 * be one but the input ends first (read more, unless at EOF). */
static int map_at(const stream_t *s, size_t pos, msgpack_unpacked *up, size_t *size)
{
	size_t off = 0;
	msgpack_unpack_return r;

	r = msgpack_unpack_next(up, s->buf + pos, s->end - pos, &off);
	if (r == MSGPACK_UNPACK_CONTINUE)
		return -1;
	if (r != MSGPACK_UNPACK_SUCCESS)
		return 0;
	*size = off;
	return up->data.type == MSGPACK_OBJECT_MAP;
}

/* Report the bad stretch [from, to) of the input once. */
static void report_bad(const char *name, uint64_t from, uint64_t to, const char *why)
{
	fprintf(stderr, PROG ": %s: offset %llu: %s; %llu byte%s skipped\n", name,
		(unsigned long long)from, why, (unsigned long long)(to - from),
		to - from == 1 ? "" : "s");
}

/* Decode concatenated events from `path` ("-" is standard input) and print
 * each.  Whatever is not a msgpack map (garbage, a value of another type) is
 * reported once per bad stretch with its byte offset, then skipped: the
 * decoder moves one byte at a time until a complete map decodes again.  An
 * event cut short by the end of the input is reported as truncated.
 *
 * msgpack-c's streaming unpacker cannot rewind to resynchronize like that,
 * so this keeps its own window of the input and decodes it with
 * msgpack_unpack_next(), re-reading an event that straddles two reads.  The
 * window holds at most one event (MAX_PENDING) beyond what was decoded.
 * Returns the number of bad stretches, or -1 when the input cannot be
 * read. */
static long decode_file(const char *path, const printer_t *pr)
{
	stream_t s = {.fd = 0};
	msgpack_unpacked up;
	long bad = 0;
	uint64_t bad_from = 0;
	int in_bad = 0;
	char why[64] = "";
	const char *name = strcmp(path, "-") == 0 ? "standard input" : path;

	if (strcmp(path, "-") != 0 && (s.fd = open(path, O_RDONLY)) < 0) {
		fprintf(stderr, PROG ": cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	msgpack_unpacked_init(&up);
	while (!stop_requested) {
		size_t size = 0;
		int r;

		if (s.start == s.end) {
			if (s.eof)
				break;
			if (stream_fill(&s, name) < 0) {
				bad = -1;
				break;
			}
			continue;
		}
		r = map_at(&s, s.start, &up, &size);
		if (r < 0 && !s.eof && s.end - s.start < MAX_PENDING) {
			if (stream_fill(&s, name) < 0) {
				bad = -1;
				break;
			}
			continue;
		}
		if (r > 0) {
			if (in_bad)
				report_bad(name, bad_from, s.base + s.start, why);
			in_bad = 0;
			print_event(pr, &up.data, 0, NULL, 0);
			s.start += size;
			continue;
		}
		if (r < 0 && s.eof && !in_bad) {
			/* The input ends inside a value: what is left is
			 * one event cut short, not a stretch to search. */
			bad++;
			report_bad(name, s.base + s.start, s.base + s.end,
				   "truncated event");
			s.start = s.end;
			continue;
		}
		if (!in_bad) {
			in_bad = 1;
			bad++;
			bad_from = s.base + s.start;
			if (r < 0) /* not at EOF: the window is full */
				snprintf(why, sizeof why, "no complete event "
					 "within %u MiB", MAX_PENDING >> 20);
			else if (size)
				snprintf(why, sizeof why, "not a msgpack map (%s)",
					 type_name(up.data.type));
			else
				snprintf(why, sizeof why, "not msgpack");
		}
		s.start++;
	}
	if (in_bad && bad >= 0)
		report_bad(name, bad_from, s.base + s.start, why);
	msgpack_unpacked_destroy(&up);
	if (s.fd > 0)
		close(s.fd);
	free(s.buf);
	return bad;
}

/* ------------------------------------------------------------------------
 * Kafka
 * ---------------------------------------------------------------------- */

/* The last error librdkafka logged, to say why the brokers are unreachable.
 * Written by librdkafka's threads, read by main: hence the lock. */
static pthread_mutex_t last_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_log[512];

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	(void)fac;
	if (level > 4)
		return;
	pthread_mutex_lock(&last_log_lock);
	snprintf(last_log, sizeof last_log, "%s", buf);
	pthread_mutex_unlock(&last_log_lock);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static rd_kafka_t *new_consumer(const options_t *o)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	const char *defaults[] = {
		"bootstrap.servers", o->servers,
		"client.id", PROG,
		"group.id", PROG,
		"enable.auto.commit", "false",
		"enable.auto.offset.store", "false",
		"enable.partition.eof", o->exit_eof ? "true" : "false",
		NULL,
	};

	for (size_t i = 0; defaults[i]; i += 2)
		if (rd_kafka_conf_set(conf, defaults[i], defaults[i + 1], err,
				      sizeof err) != RD_KAFKA_CONF_OK)
			goto fail;
	for (size_t i = 0; i < o->nprops; i++)
		if (rd_kafka_conf_set(conf, o->props[2 * i], o->props[2 * i + 1],
				      err, sizeof err) != RD_KAFKA_CONF_OK)
			goto fail;
	rd_kafka_conf_set_log_cb(conf, on_log);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
	if (rk)
		return rk;
fail:
	fprintf(stderr, PROG ": %s\n", err);
	rd_kafka_conf_destroy(conf);
	return NULL;
}

/* Assign every partition of the topic at o->offset.  The metadata request
 * is the reachability check: it is bounded by KAFKA_TIMEOUT.  Returns the
 * partition count, or -1 (reported). */
static int assign_all(rd_kafka_t *rk, const options_t *o, int32_t **ids)
{
	const rd_kafka_metadata_t *md = NULL;
	rd_kafka_topic_partition_list_t *parts;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
	rd_kafka_resp_err_t err;
	int64_t t0 = mono_ms();
	char waited[64] = "";
	int n;

	err = rd_kafka_metadata(rk, 0, rkt, &md, o->timeout_ms);
	rd_kafka_topic_destroy(rkt);
	if (err) {
		if (mono_ms() - t0 >= o->timeout_ms - 100)
			snprintf(waited, sizeof waited, " (no answer within "
				 "KAFKA_TIMEOUT=%d s)", o->timeout_ms / 1000);
		pthread_mutex_lock(&last_log_lock);
		fprintf(stderr, PROG ": cannot reach Kafka at %s: %s%s%s%s\n",
			o->servers, rd_kafka_err2str(err), waited,
			*last_log ? "; last error: " : "", last_log);
		pthread_mutex_unlock(&last_log_lock);
		return -1;
	}
	if (md->topic_cnt != 1 || md->topics[0].err ||
	    md->topics[0].partition_cnt == 0) {
		fprintf(stderr, PROG ": topic %s: %s\n", o->topic,
			md->topic_cnt == 1 && md->topics[0].err
				? rd_kafka_err2str(md->topics[0].err)
				: "no partitions");
		rd_kafka_metadata_destroy(md);
		return -1;
	}
	n = md->topics[0].partition_cnt;
	*ids = calloc((size_t)n, sizeof **ids);
	parts = rd_kafka_topic_partition_list_new(n);
	for (int i = 0; i < n; i++) {
		(*ids)[i] = md->topics[0].partitions[i].id;
		rd_kafka_topic_partition_list_add(parts, o->topic, (*ids)[i])->offset =
			o->offset;
	}
	rd_kafka_metadata_destroy(md);
	err = rd_kafka_assign(rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	if (err) {
		fprintf(stderr, PROG ": cannot assign %s: %s\n", o->topic,
			rd_kafka_err2str(err));
		return -1;
	}
	return n;
}

/* Print one message; 0 when it was an event, 1 when it was undecodable. */
static int print_message(const printer_t *pr, const options_t *o,
			 const rd_kafka_message_t *m)
{
	msgpack_unpacked up;
	size_t off = 0;
	msgpack_unpack_return r;
	const char *why = NULL;
	char buf[64];

	msgpack_unpacked_init(&up);
	r = msgpack_unpack_next(&up, m->payload, m->len, &off);
	if (r == MSGPACK_UNPACK_CONTINUE)
		why = m->len ? "truncated event" : "empty value";
	else if (r != MSGPACK_UNPACK_SUCCESS)
		why = "not msgpack";
	else if (up.data.type != MSGPACK_OBJECT_MAP) {
		snprintf(buf, sizeof buf, "not a msgpack map (%s)",
			 type_name(up.data.type));
		why = buf;
	} else if (off != m->len) {
		snprintf(buf, sizeof buf, "%zu bytes after the map", m->len - off);
		why = buf;
	}
	if (why)
		fprintf(stderr, PROG ": %s partition %d offset %lld: %s; skipped\n",
			o->topic, (int)m->partition, (long long)m->offset, why);
	else
		print_event(pr, &up.data, o->show_key, m->key, m->key_len);
	msgpack_unpacked_destroy(&up);
	return why != NULL;
}

/* Consume the topic and print its events until interrupted, or with -e
 * until every partition has reported its end.  Returns the exit status. */
static int consume(const options_t *o, const printer_t *pr)
{
	rd_kafka_t *rk = new_consumer(o);
	int32_t *ids = NULL;
	unsigned char *at_end = NULL;
	int nparts, ended = 0, status = 0;
	rd_kafka_resp_err_t last_err = RD_KAFKA_RESP_ERR_NO_ERROR;

	if (!rk)
		return 1;
	nparts = assign_all(rk, o, &ids);
	if (nparts < 0) {
		rd_kafka_destroy(rk);
		return 1;
	}
	at_end = calloc((size_t)nparts, 1);
	while (!stop_requested && !(o->exit_eof && ended == nparts)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		int i;

		if (!m) {
			fflush(stdout); /* idle: let a pipeline see everything */
			continue;
		}
		for (i = 0; i < nparts && ids[i] != m->partition; i++)
			;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			if (i < nparts && !at_end[i]) {
				at_end[i] = 1;
				ended++;
			}
		} else if (m->err) {
			/* Say each kind of error once in a row, not once per
			 * retry. */
			if (m->err != last_err)
				fprintf(stderr, PROG ": %s: %s\n", o->servers,
					rd_kafka_message_errstr(m));
			last_err = m->err;
			if (rd_kafka_fatal_error(rk, NULL, 0) ||
			    (o->exit_eof && m->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)) {
				status = 1;
				rd_kafka_message_destroy(m);
				break;
			}
		} else {
			last_err = RD_KAFKA_RESP_ERR_NO_ERROR;
			if (i < nparts && at_end[i]) {
				at_end[i] = 0;
				ended--;
			}
			if (print_message(pr, o, m))
				status = 1;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	free(at_end);
	free(ids);
	return status;
}

/* ------------------------------------------------------------------------
 * Options
 * ---------------------------------------------------------------------- */

static int64_t parse_offset(const char *s)
{
	char *end;
	long long v;

	if (strcmp(s, "beginning") == 0)
		return RD_KAFKA_OFFSET_BEGINNING;
	if (strcmp(s, "end") == 0)
		return RD_KAFKA_OFFSET_END;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		die_usage("-o %s: expected beginning, end, N or -N", s);
	if (*s == '-') {
		if (v == 0)
			die_usage("-o %s: expected beginning, end, N or -N", s);
		return RD_KAFKA_OFFSET_TAIL(-v);
	}
	return v;
}

static int kafka_timeout_ms(void)
{
	const char *s = getenv("KAFKA_TIMEOUT");
	char *end;
	long v;

	if (!s || !*s)
		return DEFAULT_TIMEOUT_S * 1000;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 3600) {
		fprintf(stderr, PROG ": KAFKA_TIMEOUT='%.64s' is not a number of "
			"seconds (1..3600); using %d\n", s, DEFAULT_TIMEOUT_S);
		return DEFAULT_TIMEOUT_S * 1000;
	}
	return (int)v * 1000;
}

static void parse_options(int argc, char **argv, options_t *o)
{
	static const struct option longopts[] = {
		{"brokers", required_argument, NULL, 'b'},
		{"offset", required_argument, NULL, 'o'},
		{"exit", no_argument, NULL, 'e'},
		{"key", no_argument, NULL, 'k'},
		{"file", required_argument, NULL, 'f'},
		{"pretty", no_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c, kafka_opts = 0;

	memset(o, 0, sizeof *o);
	o->offset = RD_KAFKA_OFFSET_BEGINNING;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":b:o:ekX:f:phV", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': o->servers = optarg; kafka_opts++; break;
		case 'o': o->offset = parse_offset(optarg); kafka_opts++; break;
		case 'e': o->exit_eof = 1; break;
		case 'k': o->show_key = 1; kafka_opts++; break;
		case 'f': o->file = optarg; break;
		case 'p': o->pretty = 1; break;
		case 'X': {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg)
				die_usage("-X %s: expected NAME=VALUE", optarg);
			*eq = '\0';
			o->props = realloc(o->props, (o->nprops + 1) * 2 * sizeof *o->props);
			o->props[2 * o->nprops] = optarg;
			o->props[2 * o->nprops + 1] = eq + 1;
			o->nprops++;
			kafka_opts++;
			break;
		}
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf(PROG " %s (librdkafka %s, msgpack-c %s)\n",
			       ASTRON_EVENT_VERSION_STRING, rd_kafka_version_str(),
			       msgpack_version());
			exit(0);
		case ':':
			die_usage("option %s needs a value", argv[optind - 1]);
		default:
			if (optopt)
				die_usage("unknown option -%c", optopt);
			die_usage("unknown option %s", argv[optind - 1]);
		}
	}
	if (o->file) {
		if (optind < argc)
			die_usage("-f reads a file: no TOPIC (got '%s')", argv[optind]);
		if (kafka_opts)
			die_usage("-b, -o, -k and -X need Kafka, not -f");
		return;
	}
	if (optind != argc - 1)
		die_usage(optind == argc ? "missing TOPIC" : "one TOPIC only");
	o->topic = argv[optind];
	if (!o->servers)
		o->servers = getenv("KAFKA_SERVERS");
	if (!o->servers || !*o->servers)
		die_usage("no Kafka servers: use -b SERVERS or set KAFKA_SERVERS");
	/* What the library takes for its embedded cluster: "mock" or
	 * "mock:N" (a list with a comma names real hosts). */
	if (strcmp(o->servers, "mock") == 0 ||
	    (strncmp(o->servers, "mock:", 5) == 0 && !strchr(o->servers, ',') &&
	     o->servers[5] && strspn(o->servers + 5, "0123456789") == strlen(o->servers + 5)))
		die_usage("'%s' is the in-process cluster of the program that emits; "
			  "pass its address (astron_event_servers()) with -b",
			  o->servers);
	o->timeout_ms = kafka_timeout_ms();
}

int main(int argc, char **argv)
{
	options_t o;
	printer_t pr = {stdout, 0};
	struct sigaction sa;
	int status;

	parse_options(argc, argv, &o);
	pr.pretty = o.pretty;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (o.file) {
		long bad = decode_file(o.file, &pr);
		status = bad != 0;
	} else {
		status = consume(&o, &pr);
	}
	free(o.props);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, PROG ": standard output: %s\n", strerror(errno));
		return 1;
	}
	return status;
}
