/*
 * json.c - an event as JSON (astron_event_json, <astron/json.h>).
 *
 * One msgpack map becomes one JSON object that keeps msgpack's types
 * visible: integers with all their digits, floats with the shortest text
 * that reads back to the same value, bin as {"$bin":"<base64>"}, ext as
 * {"$ext":T,"$bin":"..."}, nil as null, and "@time" (RFC 3339 UTC, nine
 * digits) after an integer "@ts".  astron-event-cat prints events with it
 * and ASTRON_EVENT_SINK writes its JSON lines with it, so the two always
 * agree; the mapping is specified in astron_event_json(3) and pinned byte
 * for byte by tests/test_cat.c.
 *
 * The text is built in a memory buffer and written with one fwrite(): a
 * line is never interleaved with another thread's output on a shared
 * stream, an unbuffered stream (stderr, a sink file) sees one write(2) per
 * event, and a value that is not an event writes nothing at all.
 */
#include <locale.h>
#include <math.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "astron/json.h"
#include "utf8.h"

/* A growing text buffer.  An allocation failure is remembered and later
 * writes are ignored, so the renderer needs no error paths of its own. */
typedef struct jbuf {
	char *p;
	size_t len, cap;
	int oom;
	int pretty;
} jbuf_t;

static void put(jbuf_t *b, const void *s, size_t n)
{
	if (b->oom)
		return;
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap - b->len < n)
			cap *= 2;
		if (!(p = realloc(b->p, cap))) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void putch(jbuf_t *b, char c)
{
	put(b, &c, 1);
}

static void putstr(jbuf_t *b, const char *s)
{
	put(b, s, strlen(s));
}

/* Short formatted pieces only: numbers, escapes, a time stamp. */
static void putf(jbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(jbuf_t *b, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string.  Valid UTF-8 passes through; '"', '\\' and the control
 * characters (and DEL, which terminals act on) are escaped; a byte that is
 * not part of valid UTF-8 becomes U+FFFD.  astron-event never sends such a
 * str (it sends bin instead), but other producers might. */
static void json_str(jbuf_t *b, const char *p, size_t n)
{
	const uint8_t *s = (const uint8_t *)p;
	size_t i = 0;

	putch(b, '"');
	while (i < n) {
		unsigned c = s[i];
		size_t len;

		switch (c) {
		case '"': putstr(b, "\\\""); i++; continue;
		case '\\': putstr(b, "\\\\"); i++; continue;
		case '\b': putstr(b, "\\b"); i++; continue;
		case '\f': putstr(b, "\\f"); i++; continue;
		case '\n': putstr(b, "\\n"); i++; continue;
		case '\r': putstr(b, "\\r"); i++; continue;
		case '\t': putstr(b, "\\t"); i++; continue;
		}
		if (c < 0x20 || c == 0x7f) {
			putf(b, "\\u%04x", c);
			i++;
			continue;
		}
		len = astron_utf8_seq(s + i, n - i);
		if (len == 0) {
			putstr(b, "\\ufffd");
			i++;
			continue;
		}
		put(b, s + i, len);
		i += len;
	}
	putch(b, '"');
}

/* RFC 4648 base64, with padding. */
static void base64(jbuf_t *b, const void *p, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const uint8_t *s = p;
	char quad[4];
	size_t i;

	for (i = 0; i + 3 <= n; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
		quad[0] = tab[v >> 18];
		quad[1] = tab[(v >> 12) & 63];
		quad[2] = tab[(v >> 6) & 63];
		quad[3] = tab[v & 63];
		put(b, quad, 4);
	}
	if (n - i == 1) {
		unsigned v = (unsigned)s[i] << 16;
		quad[0] = tab[v >> 18];
		quad[1] = tab[(v >> 12) & 63];
		quad[2] = quad[3] = '=';
		put(b, quad, 4);
	} else if (n - i == 2) {
		unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8;
		quad[0] = tab[v >> 18];
		quad[1] = tab[(v >> 12) & 63];
		quad[2] = tab[(v >> 6) & 63];
		quad[3] = '=';
		put(b, quad, 4);
	}
}

/* A float as the shortest decimal that reads back to the same value (at
 * most 17 significant digits for a double, 9 for a float32; "%.17g" always
 * round-trips, shorter forms are tried first), written like Python's repr():
 * plain notation for exponents -4..15, else scientific, and always with a
 * '.' or an exponent so that a JSON reader keeps it a float.  JSON has no
 * NaN or infinity: they are written as the strings "NaN", "Infinity" and
 * "-Infinity".  The caller has switched to the C locale, so '.' is the
 * decimal point whatever the program's LC_NUMERIC. */
static void json_float(jbuf_t *b, double d, int is_float32)
{
	char buf[400];
	int prec, exp;

	if (isnan(d)) {
		putstr(b, "\"NaN\"");
		return;
	}
	if (isinf(d)) {
		putstr(b, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
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
	putstr(b, buf);
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

static void json_value(jbuf_t *b, const msgpack_object *o, int depth);

static void newline(jbuf_t *b, int depth)
{
	if (!b->pretty)
		return;
	putch(b, '\n');
	for (int i = 0; i < depth; i++)
		putstr(b, "  ");
}

/* A map key: JSON keys are strings, so a key of another type (never sent by
 * astron-event) is written as the string of its compact JSON text. */
static void json_key(jbuf_t *b, const msgpack_object *k)
{
	if (k->type == MSGPACK_OBJECT_STR) {
		json_str(b, k->via.str.ptr, k->via.str.size);
	} else {
		jbuf_t text = {0};

		json_value(&text, k, 0);
		if (text.oom)
			b->oom = 1;
		else
			json_str(b, text.p, text.len);
		free(text.p);
	}
	putstr(b, b->pretty ? ": " : ":");
}

static void json_map(jbuf_t *b, const msgpack_object_map *m, int depth)
{
	if (m->size == 0) {
		putstr(b, "{}");
		return;
	}
	putch(b, '{');
	for (uint32_t i = 0; i < m->size; i++) {
		if (i)
			putch(b, ',');
		newline(b, depth + 1);
		json_key(b, &m->ptr[i].key);
		json_value(b, &m->ptr[i].val, depth + 1);
	}
	newline(b, depth);
	putch(b, '}');
}

static void json_array(jbuf_t *b, const msgpack_object_array *a, int depth)
{
	if (a->size == 0) {
		putstr(b, "[]");
		return;
	}
	putch(b, '[');
	for (uint32_t i = 0; i < a->size; i++) {
		if (i)
			putch(b, ',');
		newline(b, depth + 1);
		json_value(b, &a->ptr[i], depth + 1);
	}
	newline(b, depth);
	putch(b, ']');
}

/* One msgpack value as JSON; nesting depth is bounded by msgpack-c's
 * unpacker (MSGPACK_EMBED_STACK_SIZE), so the recursion is too. */
static void json_value(jbuf_t *b, const msgpack_object *o, int depth)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		putstr(b, "null");
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		putstr(b, o->via.boolean ? "true" : "false");
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		putf(b, "%llu", (unsigned long long)o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		putf(b, "%lld", (long long)o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
		json_float(b, o->via.f64, 1);
		break;
	case MSGPACK_OBJECT_FLOAT64:
		json_float(b, o->via.f64, 0);
		break;
	case MSGPACK_OBJECT_STR:
		json_str(b, o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN:
		putstr(b, b->pretty ? "{\"$bin\": \"" : "{\"$bin\":\"");
		base64(b, o->via.bin.ptr, o->via.bin.size);
		putstr(b, "\"}");
		break;
	case MSGPACK_OBJECT_EXT:
		putf(b, b->pretty ? "{\"$ext\": %d, \"$bin\": \"" : "{\"$ext\":%d,\"$bin\":\"",
		     (int)o->via.ext.type);
		base64(b, o->via.ext.ptr, o->via.ext.size);
		putstr(b, "\"}");
		break;
	case MSGPACK_OBJECT_ARRAY:
		json_array(b, &o->via.array, depth);
		break;
	case MSGPACK_OBJECT_MAP:
		json_map(b, &o->via.map, depth);
		break;
	default:
		putstr(b, "null");
		break;
	}
}

static int key_is(const msgpack_object *k, const char *s)
{
	size_t n = strlen(s);
	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
	       memcmp(k->via.str.ptr, s, n) == 0;
}

/* One event: a map as JSON, with "@key" first when asked (null for a
 * message without a key; bin-shaped when the key is not UTF-8) and "@time"
 * right after an integer "@ts". */
static void json_event(jbuf_t *b, const msgpack_object_map *m, int with_key,
		       const void *key, size_t keylen)
{
	int first = 1;

	putch(b, '{');
	if (with_key) {
		msgpack_object k = {.type = MSGPACK_OBJECT_NIL};

		if (key && astron_utf8_valid(key, keylen)) {
			k.type = MSGPACK_OBJECT_STR;
			k.via.str.ptr = key;
			k.via.str.size = (uint32_t)keylen;
		} else if (key) {
			k.type = MSGPACK_OBJECT_BIN;
			k.via.bin.ptr = key;
			k.via.bin.size = (uint32_t)keylen;
		}
		newline(b, 1);
		putstr(b, b->pretty ? "\"@key\": " : "\"@key\":");
		json_value(b, &k, 1);
		first = 0;
	}
	for (uint32_t i = 0; i < m->size; i++) {
		const msgpack_object *v = &m->ptr[i].val;
		char when[64];

		if (!first)
			putch(b, ',');
		first = 0;
		newline(b, 1);
		json_key(b, &m->ptr[i].key);
		json_value(b, v, 1);
		if (!key_is(&m->ptr[i].key, "@ts"))
			continue;
		if ((v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
		     (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
		      v->via.u64 <= INT64_MAX)) &&
		    format_time(when, sizeof when, v->via.i64)) {
			putch(b, ',');
			newline(b, 1);
			putstr(b, b->pretty ? "\"@time\": \"" : "\"@time\":\"");
			putstr(b, when);
			putch(b, '"');
		}
	}
	if (!first)
		newline(b, 0);
	putstr(b, "}\n");
}

/* The "C" locale, made once: floats are formatted and read back with '.'
 * whatever setlocale() the program made.  (locale_t)0 if it cannot be made,
 * and then the thread's own locale is used. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

ASTRON_EXTERN int astron_event_json(FILE *out, const void *value, size_t len,
				    const void *key, size_t keylen, int flags)
{
	msgpack_unpacked up;
	size_t off = 0;
	jbuf_t b = {0};
	locale_t saved = (locale_t)0;
	int rc = ASTRON_OK;

	if (!out || !value || (flags & ~(ASTRON_JSON_PRETTY | ASTRON_JSON_KEY)))
		return ASTRON_EINVAL;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, value, len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != len || up.data.type != MSGPACK_OBJECT_MAP) {
		msgpack_unpacked_destroy(&up);
		return ASTRON_EINVAL;
	}
	pthread_once(&c_locale_once, make_c_locale);
	if (c_locale)
		saved = uselocale(c_locale);
	b.pretty = (flags & ASTRON_JSON_PRETTY) != 0;
	json_event(&b, &up.data.via.map, (flags & ASTRON_JSON_KEY) != 0, key, keylen);
	if (saved)
		uselocale(saved);
	msgpack_unpacked_destroy(&up);

	if (b.oom)
		rc = ASTRON_ENOMEM;
	else if (fwrite(b.p, 1, b.len, out) != b.len)
		rc = ASTRON_EIO;
	free(b.p);
	return rc;
}
