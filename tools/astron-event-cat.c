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
 * digits.
 *
 * The JSON is libastron-event's own (astron_event_json(3), which specifies
 * the mapping; astron-event-cat(1) sums it up), the text that
 * ASTRON_EVENT_SINK writes too, so the tool and the library's local sink
 * always agree.  Everything else is the tool's: reading a stream and finding
 * events in it (-f), consuming a topic with librdkafka, the diagnostics.  It
 * reads any msgpack map, not only the library's, and never starts the
 * library's pipeline.
 *
 * Exit status: 0 success, 1 a runtime error or undecodable data (reported on
 * stderr with its offset, then skipped), 2 a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
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

#include <astron/json.h>

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
 * Events, as the library renders them (astron_event_json)
 * ---------------------------------------------------------------------- */

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

/* Print one event of -f -- value[0..len) is exactly one msgpack map -- on
 * standard output with `flags` (ASTRON_JSON_*).  Returns 0; 1 after
 * reporting that memory ran out.  A write error is left in stdout's error
 * flag, which main() reports once. */
static int print_event(const void *value, size_t len, int flags)
{
	if (astron_event_json(stdout, value, len, NULL, 0, flags) == ASTRON_ENOMEM) {
		fprintf(stderr, PROG ": out of memory; an event of %zu bytes "
			"is skipped\n", len);
		return 1;
	}
	return 0;
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
static long decode_file(const char *path, int flags)
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
			bad += print_event(s.buf + s.start, size, flags);
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

/* Why a Kafka message value is not exactly one msgpack map (buf holds the
 * words when they need formatting). */
static const char *why_not_event(const void *value, size_t len, char *buf,
				 size_t size)
{
	msgpack_unpacked up;
	size_t off = 0;
	msgpack_unpack_return r;
	const char *why = "not an event";

	msgpack_unpacked_init(&up);
	r = msgpack_unpack_next(&up, value, len, &off);
	if (r == MSGPACK_UNPACK_CONTINUE)
		why = len ? "truncated event" : "empty value";
	else if (r != MSGPACK_UNPACK_SUCCESS)
		why = "not msgpack";
	else if (up.data.type != MSGPACK_OBJECT_MAP) {
		snprintf(buf, size, "not a msgpack map (%s)", type_name(up.data.type));
		why = buf;
	} else if (off != len) {
		snprintf(buf, size, "%zu bytes after the map", len - off);
		why = buf;
	}
	msgpack_unpacked_destroy(&up);
	return why;
}

/* Print one message; 0 when it was an event, 1 when it was undecodable
 * (reported) or could not be printed. */
static int print_message(const options_t *o, int flags, const rd_kafka_message_t *m)
{
	char buf[64];
	int rc;

	rc = astron_event_json(stdout, m->payload, m->len, m->key, m->key_len,
			       flags | (o->show_key ? ASTRON_JSON_KEY : 0));
	if (rc == ASTRON_EINVAL) {
		fprintf(stderr, PROG ": %s partition %d offset %lld: %s; skipped\n",
			o->topic, (int)m->partition, (long long)m->offset,
			why_not_event(m->payload, m->len, buf, sizeof buf));
		return 1;
	}
	if (rc == ASTRON_ENOMEM) {
		fprintf(stderr, PROG ": %s partition %d offset %lld: out of memory; "
			"skipped\n", o->topic, (int)m->partition, (long long)m->offset);
		return 1;
	}
	return 0;
}

/* Consume the topic and print its events until interrupted, or with -e
 * until every partition has reported its end.  Returns the exit status. */
static int consume(const options_t *o, int flags)
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
			if (print_message(o, flags, m))
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
	int flags;
	struct sigaction sa;
	int status;

	parse_options(argc, argv, &o);
	flags = o.pretty ? ASTRON_JSON_PRETTY : 0;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (o.file) {
		long bad = decode_file(o.file, flags);
		status = bad != 0;
	} else {
		status = consume(&o, flags);
	}
	free(o.props);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, PROG ": standard output: %s\n", strerror(errno));
		return 1;
	}
	return status;
}
