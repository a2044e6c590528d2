/*
 * config.c - read KAFKA_* and ASTRON_EVENT_* from the environment.
 *
 * The environment is read once, lazily, the first time the library needs it
 * (never from a constructor), because programs often set variables early in
 * main().  Bad values never stop the program: each one is reported once with
 * the variable's name and the default is kept (a bad ASTRON_EVENT_SINK
 * drops events instead: its default, Kafka, is not what was asked for).
 * When KAFKA_ENABLE is off the library is silent, so no diagnostic is
 * printed at all.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

static astron_config_t cfg;
static pthread_once_t cfg_once = PTHREAD_ONCE_INIT;

int astron_parse_bool(const char *s)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};

	if (!s)
		return 0;
	while (isspace((unsigned char)*s))
		s++;
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		size_t n = strlen(yes[i]);
		if (strncasecmp(s, yes[i], n) == 0) {
			const char *t = s + n;
			while (isspace((unsigned char)*t))
				t++;
			if (*t == '\0')
				return 1;
		}
	}
	return 0;
}

int astron_parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s)
		return -1; /* nothing converted ("", "  ", "abc") */
	while (isspace((unsigned char)*end))
		end++;
	if (*end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* "65536", "64k", "64KiB", "1M", "1MiB", "1g". */
int astron_parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (tolower((unsigned char)*end)) {
	case 'k': shift = 10; end++; break;
	case 'm': shift = 20; end++; break;
	case 'g': shift = 30; end++; break;
	}
	if (shift && (strcasecmp(end, "ib") == 0 || strcasecmp(end, "b") == 0))
		end += strlen(end);
	if (*end || v > (1ull << 40) >> shift)
		return -1;
	*out = (size_t)(v << shift);
	return 0;
}

astron_sink_kind_t astron_parse_sink(const char *s, const char **path)
{
	static const struct {
		const char *name;
		astron_sink_kind_t kind;
	} words[] = {
		{"kafka", ASTRON_SINK_KAFKA},
		{"stderr", ASTRON_SINK_STDERR},
		{"stdout", ASTRON_SINK_STDOUT},
	}, prefixes[] = {
		{"file:", ASTRON_SINK_FILE},
		{"msgpack:", ASTRON_SINK_MSGPACK},
	};
	size_t n;

	*path = NULL;
	if (!s)
		return ASTRON_SINK_KAFKA;
	while (isspace((unsigned char)*s))
		s++;
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		n = strlen(prefixes[i].name);
		if (strncasecmp(s, prefixes[i].name, n) == 0) {
			if (!s[n])
				return ASTRON_SINK_INVALID;
			*path = s + n;
			return prefixes[i].kind;
		}
	}
	for (n = strlen(s); n > 0 && isspace((unsigned char)s[n - 1]); n--)
		;
	if (n == 0)
		return ASTRON_SINK_KAFKA;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strlen(words[i].name) == n && strncasecmp(s, words[i].name, n) == 0)
			return words[i].kind;
	return ASTRON_SINK_INVALID;
}

static size_t round_pow2(size_t v)
{
	size_t p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

static void env_size(const char *name, size_t min, size_t max, size_t *val)
{
	const char *s = getenv(name);
	size_t v;

	if (!s)
		return;
	if (astron_parse_size(s, &v) < 0 || v < min || v > max) {
		astron_log(ASTRON_LOG_ERROR,
			   "%s='%.64s' is not a size between %zu and %zu bytes; "
			   "using %zu", name, s, min, max, *val);
		return;
	}
	*val = v;
}

static void load(void)
{
	const char *s;
	long v;

	memset(&cfg, 0, sizeof cfg);
	cfg.enabled = astron_parse_bool(getenv("KAFKA_ENABLE"));
	cfg.timeout_ms = ASTRON_DEFAULT_TIMEOUT_S * 1000;
	cfg.ring_size = ASTRON_DEFAULT_RING_SIZE;
	cfg.max_event = ASTRON_DEFAULT_MAX_EVENT;
	cfg.log_rate = ASTRON_DEFAULT_LOG_RATE;
	/* Quiet when disabled: nothing below may print. */
	astron_log_set_enabled(cfg.enabled);

	s = getenv("ASTRON_EVENT_LOG_RATE");
	if (s) {
		if (astron_parse_int(s, 0, 1000000, &v) == 0)
			cfg.log_rate = (int)v;
		else
			astron_log(ASTRON_LOG_ERROR,
				   "ASTRON_EVENT_LOG_RATE='%.64s' is not a count of "
				   "messages per second (0..1000000); using %d",
				   s, cfg.log_rate);
	}
	astron_log_set_rate(cfg.log_rate);

	cfg.block_ms = ASTRON_DEFAULT_BLOCK_MS;
	s = getenv("ASTRON_EVENT_BLOCK_MS");
	if (s) {
		if (astron_parse_int(s, 0, ASTRON_MAX_BLOCK_MS, &v) == 0)
			cfg.block_ms = (int)v;
		else
			astron_log(ASTRON_LOG_ERROR,
				   "ASTRON_EVENT_BLOCK_MS='%.64s' is not a number of "
				   "milliseconds (0..%d); using %d (drop when full)",
				   s, ASTRON_MAX_BLOCK_MS, ASTRON_DEFAULT_BLOCK_MS);
	}

	s = getenv("KAFKA_SERVERS");
	cfg.servers = s && *s ? s : NULL;

	s = getenv("ASTRON_EVENT_SINK");
	cfg.sink = astron_parse_sink(s, &cfg.sink_path);
	cfg.sink_spec = cfg.sink == ASTRON_SINK_KAFKA ? NULL : s;
	if (cfg.sink == ASTRON_SINK_INVALID)
		/* Not Kafka by default: a developer who asked for a local
		 * sink must not have events sent to a broker by surprise. */
		astron_log(ASTRON_LOG_ERROR,
			   "ASTRON_EVENT_SINK='%.64s' is not stderr, stdout, "
			   "file:PATH, msgpack:PATH or kafka: events are dropped "
			   "and counted", s);

	s = getenv("KAFKA_TIMEOUT");
	if (s) {
		if (astron_parse_int(s, 0, 3600, &v) == 0)
			cfg.timeout_ms = (int)v * 1000;
		else
			astron_log(ASTRON_LOG_ERROR,
				   "KAFKA_TIMEOUT='%.64s' is not a number of seconds "
				   "(0..3600); using %d", s, ASTRON_DEFAULT_TIMEOUT_S);
	}

	env_size("ASTRON_EVENT_RING_SIZE", ASTRON_MIN_RING_SIZE,
		 ASTRON_MAX_RING_SIZE, &cfg.ring_size);
	if (cfg.ring_size != round_pow2(cfg.ring_size)) {
		cfg.ring_size = round_pow2(cfg.ring_size);
		astron_log(ASTRON_LOG_INFO,
			   "ASTRON_EVENT_RING_SIZE rounded up to %zu bytes",
			   cfg.ring_size);
	}
	env_size("ASTRON_EVENT_MAX_SIZE", ASTRON_MIN_MAX_EVENT,
		 ASTRON_MAX_RING_SIZE / 4, &cfg.max_event);
	if (cfg.max_event > cfg.ring_size / 4) {
		cfg.max_event = cfg.ring_size / 4;
		/* Only an explicit setting is worth a complaint; the default
		 * simply follows a small ring. */
		if (getenv("ASTRON_EVENT_MAX_SIZE"))
			astron_log(ASTRON_LOG_ERROR,
				   "ASTRON_EVENT_MAX_SIZE must be at most a quarter "
				   "of ASTRON_EVENT_RING_SIZE; using %zu",
				   cfg.max_event);
	}
}

const astron_config_t *astron_config(void)
{
	pthread_once(&cfg_once, load);
	return &cfg;
}

void astron_config_reload(void)
{
	pthread_once(&cfg_once, load);
	load();
}
