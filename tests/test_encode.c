/*
 * test_encode.c - the hot-path encoder (astron_encode_fields) and the UTF-8
 * helpers it relies on.
 *
 * Each test parses a format, encodes real variadic arguments with it, wraps
 * the bytes in a msgpack map header of plan->nfields entries, and decodes
 * the result with msgpack-c: every key, type and value is compared with what
 * a consumer must see.  event() carries printf's format attribute so that
 * -Wformat checks the arguments of every well-formed case; the deliberately
 * malformed ones switch that warning off locally.
 */
#include <criterion/criterion.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <wchar.h>

#include "encode.h"
#include "format.h"
#include "helpers.h"
#include "utf8.h"

#define CANARY 0xA5

/* The encoder may copy short runs as whole chunks: a caller leaves this
 * much past fixed_max (see site.c), and bytes past the returned end, up to
 * the limit, are scratch.  The tests give the encoder fixed_max + SLACK +
 * `room` bytes: `room` is then exactly what the first string may use. */
#ifndef ASTRON_COPY_SLACK_BYTES
#define ASTRON_COPY_SLACK_BYTES 0
#endif
#define SLACK ASTRON_COPY_SLACK_BYTES

/* ---------------------------------------------------------------------- */
/* Encoding and decoding helpers                                          */
/* ---------------------------------------------------------------------- */

static size_t enc_va(const astron_plan_t *plan, uint8_t *buf, size_t cap,
		     int *cut, va_list ap)
{
	va_list aq;
	uint8_t *end;

	va_copy(aq, ap);
	end = astron_encode_fields(plan, buf, buf + cap, cut, &aq);
	va_end(aq);
	return (size_t)(end - buf);
}

/* Encode the plan's fields from the arguments into buf[0..cap). */
static size_t enc(const astron_plan_t *plan, uint8_t *buf, size_t cap,
		  int *cut, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, cut);
	n = enc_va(plan, buf, cap, cut, ap);
	va_end(ap);
	return n;
}

/* An encoded and decoded event. */
typedef struct event {
	astron_plan_t *plan;
	uint8_t buf[8192];
	size_t len; /* map header + fields */
	int cut;
	msgpack_unpacked up;
	const msgpack_object *map;
} event_t;

/* Decode ev->buf[0..ev->len): exactly one map of plan->nfields entries. */
static void decode(event_t *ev)
{
	size_t off = 0;

	msgpack_unpacked_init(&ev->up);
	cr_assert_eq(msgpack_unpack_next(&ev->up, (const char *)ev->buf,
					 ev->len, &off),
		     MSGPACK_UNPACK_SUCCESS, "the event does not decode");
	cr_assert_eq(off, ev->len, "%zu trailing bytes after the map",
		     ev->len - off);
	ev->map = &ev->up.data;
	cr_assert_eq(ev->map->type, MSGPACK_OBJECT_MAP);
	cr_assert_eq(ev->map->via.map.size, ev->plan->nfields,
		     "map of %u entries, want %u", ev->map->via.map.size,
		     ev->plan->nfields);
	for (uint32_t i = 0; i < ev->map->via.map.size; i++)
		cr_assert_eq(ev->map->via.map.ptr[i].key.type, MSGPACK_OBJECT_STR,
			     "key %u is not a str", i);
}

/* Parse fmt, write the map header, then encode the fields from ap with
 * plan->fixed_max + SLACK + room bytes for them (the limit), and decode.
 * Every byte past the limit must be left alone. */
static void event_v(event_t *ev, size_t room, const char *fmt, va_list ap)
{
	astron_wbuf_t w = {ev->buf};
	msgpack_packer pk;
	size_t hdr, cap;

	ev->plan = astron_format_parse(fmt);
	cr_assert_not_null(ev->plan);
	memset(ev->buf, CANARY, sizeof ev->buf);
	msgpack_packer_init(&pk, &w, astron_wbuf_write);
	msgpack_pack_map(&pk, ev->plan->nfields);
	hdr = (size_t)(w.p - ev->buf);
	cap = hdr + ev->plan->fixed_max + SLACK + room;
	cr_assert_leq(cap, sizeof ev->buf);
	ev->cut = 0;
	ev->len = hdr + enc_va(ev->plan, ev->buf + hdr, cap - hdr, &ev->cut, ap);
	cr_assert_leq(ev->len, cap, "wrote %zu bytes past the limit",
		      ev->len - cap);
	for (size_t i = cap; i < sizeof ev->buf; i++)
		cr_assert_eq(ev->buf[i], CANARY, "byte %zu past the limit "
			     "was written", i - cap);
	decode(ev);
}

/* Parse fmt, encode the arguments with ample room and decode. */
static void event(event_t *ev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void event(event_t *ev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	event_v(ev, 4096, fmt, ap);
	va_end(ap);
	cr_assert_eq(ev->cut, 0, "a string was cut with ample room");
}

/* The same with only `room` bytes beyond plan->fixed_max. */
static void event_room(event_t *ev, size_t room, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void event_room(event_t *ev, size_t room, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	event_v(ev, room, fmt, ap);
	va_end(ap);
}

/* For formats printf cannot check (NULL). */
static void event_unchecked(event_t *ev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	event_v(ev, 4096, fmt, ap);
	va_end(ap);
}

static void event_free(event_t *ev)
{
	msgpack_unpacked_destroy(&ev->up);
	astron_format_free(ev->plan);
}

/* The map's keys, in order, are exactly the NULL-terminated list. */
static void expect_keys(const event_t *ev, ...)
{
	va_list ap;
	uint32_t i = 0;
	const char *k;

	va_start(ap, ev);
	while ((k = va_arg(ap, const char *)) != NULL) {
		const msgpack_object *key;
		cr_assert_lt(i, ev->map->via.map.size, "key \"%s\" missing", k);
		key = &ev->map->via.map.ptr[i].key;
		cr_assert(key->via.str.size == strlen(k) &&
				  memcmp(key->via.str.ptr, k, strlen(k)) == 0,
			  "key %u is \"%.*s\", want \"%s\"", i,
			  (int)key->via.str.size, key->via.str.ptr, k);
		i++;
	}
	va_end(ap);
	cr_assert_eq(i, ev->map->via.map.size, "%u keys, want %u",
		     ev->map->via.map.size, i);
}

static const msgpack_object *get(const event_t *ev, const char *key)
{
	const msgpack_object *o = test_get(ev->map, key);
	cr_assert_not_null(o, "field %s missing", key);
	return o;
}

static void expect_i64(const event_t *ev, const char *key, int64_t want)
{
	const msgpack_object *o = get(ev, key);

	if (want >= 0) {
		cr_assert_eq(o->type, MSGPACK_OBJECT_POSITIVE_INTEGER,
			     "%s: type %d, want positive int", key, o->type);
		cr_assert_eq(o->via.u64, (uint64_t)want, "%s: %" PRIu64
			     ", want %" PRId64, key, o->via.u64, want);
	} else {
		cr_assert_eq(o->type, MSGPACK_OBJECT_NEGATIVE_INTEGER,
			     "%s: type %d, want negative int", key, o->type);
		cr_assert_eq(o->via.i64, want, "%s: %" PRId64 ", want %" PRId64,
			     key, o->via.i64, want);
	}
}

static void expect_u64(const event_t *ev, const char *key, uint64_t want)
{
	const msgpack_object *o = get(ev, key);

	cr_assert_eq(o->type, MSGPACK_OBJECT_POSITIVE_INTEGER,
		     "%s: type %d, want uint", key, o->type);
	cr_assert_eq(o->via.u64, want, "%s: %" PRIu64 ", want %" PRIu64, key,
		     o->via.u64, want);
}

static double get_f64(const event_t *ev, const char *key)
{
	const msgpack_object *o = get(ev, key);

	cr_assert_eq(o->type, MSGPACK_OBJECT_FLOAT64, "%s: type %d, want "
		     "float64", key, o->type);
	return o->via.f64;
}

/* Bitwise: -0.0 and NaN compare as they should. */
static void expect_f64(const event_t *ev, const char *key, double want)
{
	double got = get_f64(ev, key);

	cr_assert(memcmp(&got, &want, sizeof got) == 0, "%s: %a, want %a", key,
		  got, want);
}

static void expect_bytes(const event_t *ev, const char *key, int type,
			 const void *want, size_t n)
{
	const msgpack_object *o = get(ev, key);
	const char *ptr;
	uint32_t size;

	cr_assert_eq(o->type, type, "%s: type %d, want %d", key, o->type, type);
	if (type == MSGPACK_OBJECT_STR) {
		ptr = o->via.str.ptr;
		size = o->via.str.size;
	} else {
		ptr = o->via.bin.ptr;
		size = o->via.bin.size;
	}
	cr_assert_eq(size, n, "%s: %u bytes, want %zu", key, size, n);
	cr_assert(n == 0 || memcmp(ptr, want, n) == 0, "%s: bytes differ", key);
}

static void expect_str(const event_t *ev, const char *key, const char *want)
{
	expect_bytes(ev, key, MSGPACK_OBJECT_STR, want, strlen(want));
}

static void expect_bin(const event_t *ev, const char *key, const char *want,
		       size_t n)
{
	expect_bytes(ev, key, MSGPACK_OBJECT_BIN, want, n);
}

static void expect_nil(const event_t *ev, const char *key)
{
	cr_assert_eq(get(ev, key)->type, MSGPACK_OBJECT_NIL, "%s is not nil", key);
}

static void expect_error_field(const event_t *ev, const char *part)
{
	const msgpack_object *o = get(ev, "@error");
	char text[512];

	cr_assert_eq(o->type, MSGPACK_OBJECT_STR);
	cr_assert_lt(o->via.str.size, sizeof text);
	memcpy(text, o->via.str.ptr, o->via.str.size);
	text[o->via.str.size] = '\0';
	cr_assert(strstr(text, part) != NULL, "@error \"%s\" lacks \"%s\"",
		  text, part);
}

/* ---------------------------------------------------------------------- */
/* Integers                                                               */
/* ---------------------------------------------------------------------- */

Test(encode, signed_extremes)
{
	event_t ev;

	event(&ev, "min=%lld max=%lld m1=%d zero=%d imin=%d imax=%i",
	      (long long)INT64_MIN, (long long)INT64_MAX, -1, 0, INT_MIN,
	      INT_MAX);
	expect_keys(&ev, "min", "max", "m1", "zero", "imin", "imax", NULL);
	expect_i64(&ev, "min", INT64_MIN);
	expect_i64(&ev, "max", INT64_MAX);
	expect_i64(&ev, "m1", -1);
	expect_i64(&ev, "zero", 0);
	expect_i64(&ev, "imin", INT_MIN);
	expect_i64(&ev, "imax", INT_MAX);
	event_free(&ev);
}

Test(encode, small_ints_use_short_encodings)
{
	event_t ev;

	event(&ev, "a=%d b=%d c=%d", 5, -5, 300);
	expect_i64(&ev, "a", 5);
	expect_i64(&ev, "b", -5);
	expect_i64(&ev, "c", 300);
	/* header 1 + ("a" 2 + fixint 1) + ("b" 2 + 1) + ("c" 2 + uint16 3) */
	cr_assert_eq(ev.len, 1 + 3 + 3 + 5);
	event_free(&ev);
}

Test(encode, unsigned_extremes)
{
	event_t ev;

	event(&ev, "u=%llu x=%lx X=%llX o=%llo u32=%u z=%u",
	      (unsigned long long)UINT64_MAX, (unsigned long)ULONG_MAX,
	      (unsigned long long)UINT64_MAX, (unsigned long long)UINT64_MAX,
	      UINT_MAX, 0u);
	expect_keys(&ev, "u", "x", "X", "o", "u32", "z", NULL);
	expect_u64(&ev, "u", UINT64_MAX);
	expect_u64(&ev, "x", ULONG_MAX);
	expect_u64(&ev, "X", UINT64_MAX);
	expect_u64(&ev, "o", UINT64_MAX);
	expect_u64(&ev, "u32", UINT_MAX);
	expect_u64(&ev, "z", 0);
	event_free(&ev);
}

Test(encode, hex_and_octal_are_uint)
{
	event_t ev;

	event(&ev, "x=%x X=%#X o=%o", 0xdeadbeefu, 0xABCu, 0755u);
	expect_u64(&ev, "x", 0xdeadbeefu);
	expect_u64(&ev, "X", 0xABC);
	expect_u64(&ev, "o", 0755);
	event_free(&ev);
}

Test(encode, char_length_truncates_like_printf)
{
	event_t ev;

	event(&ev, "a=%hhd b=%hhd c=%hhu d=%hhu e=%hhi", 300, 200, 300, -1, -129);
	expect_i64(&ev, "a", 44);   /* (signed char)300 */
	expect_i64(&ev, "b", -56);  /* (signed char)200 */
	expect_u64(&ev, "c", 44);   /* (unsigned char)300 */
	expect_u64(&ev, "d", 255);  /* (unsigned char)-1 */
	expect_i64(&ev, "e", 127);  /* (signed char)-129 */
	event_free(&ev);
}

Test(encode, short_length_truncates_like_printf)
{
	event_t ev;

	event(&ev, "a=%hu b=%hd c=%hu d=%hx", 70000, 40000, -1, 0x12345);
	expect_u64(&ev, "a", 4464);   /* 70000 - 65536 */
	expect_i64(&ev, "b", -25536); /* (short)40000 */
	expect_u64(&ev, "c", 65535);
	expect_u64(&ev, "d", 0x2345);
	event_free(&ev);
}

Test(encode, long_lengths)
{
	event_t ev;

	event(&ev, "l=%ld lu=%lu ll=%lld q=%qd Ld=%Ld",
	      LONG_MIN, ULONG_MAX, LLONG_MIN, (long long)-42, (long long)INT64_MAX);
	expect_i64(&ev, "l", LONG_MIN);
	expect_u64(&ev, "lu", ULONG_MAX);
	expect_i64(&ev, "ll", LLONG_MIN);
	expect_i64(&ev, "q", -42);
	expect_i64(&ev, "Ld", INT64_MAX);
	event_free(&ev);
}

Test(encode, size_intmax_ptrdiff_lengths)
{
	event_t ev;

	event(&ev, "zd=%zd zu=%zu jd=%jd ju=%ju td=%td tu=%tu",
	      (ssize_t)-5, (size_t)SIZE_MAX, (intmax_t)INTMAX_MIN,
	      (uintmax_t)UINTMAX_MAX, (ptrdiff_t)-7, (ptrdiff_t)PTRDIFF_MAX);
	expect_keys(&ev, "zd", "zu", "jd", "ju", "td", "tu", NULL);
	expect_i64(&ev, "zd", -5);
	expect_u64(&ev, "zu", SIZE_MAX);
	expect_i64(&ev, "jd", INTMAX_MIN);
	expect_u64(&ev, "ju", UINTMAX_MAX);
	expect_i64(&ev, "td", -7);
	expect_u64(&ev, "tu", PTRDIFF_MAX);
	event_free(&ev);
}

Test(encode, mixed_sizes_stay_aligned)
{
	event_t ev;

	/* Alternate 4-, 8- and 16-byte arguments, in registers and on the
	 * stack (more than 6 integer and 8 float arguments). */
	event(&ev, "a=%hhd b=%lld c=%f d=%Lf e=%d f=%s g=%zu h=%Lg i=%c j=%e "
		   "k=%jd l=%f m=%f n=%f o=%f p=%f q=%f r=%u",
	      (signed char)-3, (long long)1 << 40, 0.5, 1.5L, 7, "str",
	      (size_t)99, -2.25L, 'Z', 1e300, (intmax_t)-1, 1.0, 2.0, 3.0, 4.0,
	      5.0, 6.0, 123u);
	expect_i64(&ev, "a", -3);
	expect_i64(&ev, "b", (int64_t)1 << 40);
	expect_f64(&ev, "c", 0.5);
	expect_f64(&ev, "d", 1.5);
	expect_i64(&ev, "e", 7);
	expect_str(&ev, "f", "str");
	expect_u64(&ev, "g", 99);
	expect_f64(&ev, "h", -2.25);
	expect_str(&ev, "i", "Z");
	expect_f64(&ev, "j", 1e300);
	expect_i64(&ev, "k", -1);
	expect_f64(&ev, "l", 1.0);
	expect_f64(&ev, "q", 6.0);
	expect_u64(&ev, "r", 123);
	event_free(&ev);
}

Test(encode, many_fields_keep_their_order)
{
	event_t ev;
	char key[16];

	/* More than 15 fields (map16 header) and 8 ops (the array grows). */
	event(&ev, "k0=%d k1=%d k2=%d k3=%d k4=%d k5=%d k6=%d k7=%d k8=%d "
		   "k9=%d k10=%d k11=%d k12=%d k13=%d k14=%d k15=%d k16=%d "
		   "k17=%d",
	      0, -1, 2, -3, 4, -5, 6, -7, 8, -9, 10, -11, 12, -13, 14, -15, 16,
	      -17);
	cr_assert_eq(ev.map->via.map.size, 18);
	for (int i = 0; i < 18; i++) {
		const msgpack_object_kv *kv = &ev.map->via.map.ptr[i];
		snprintf(key, sizeof key, "k%d", i);
		cr_assert(kv->key.via.str.size == strlen(key) &&
			  memcmp(kv->key.via.str.ptr, key, strlen(key)) == 0,
			  "key %d out of order", i);
		expect_i64(&ev, key, i % 2 ? -i : i);
	}
	event_free(&ev);
}

/* ---------------------------------------------------------------------- */
/* Floating point                                                         */
/* ---------------------------------------------------------------------- */

Test(encode, doubles)
{
	event_t ev;

	event(&ev, "f=%f e=%e E=%E g=%g G=%G a=%a A=%A F=%F",
	      1.5, -2.25e300, 5e-324, DBL_MAX, -DBL_MIN, 0x1.8p1, 0.1, 123.0);
	expect_f64(&ev, "f", 1.5);
	expect_f64(&ev, "e", -2.25e300);
	expect_f64(&ev, "E", 5e-324);
	expect_f64(&ev, "g", DBL_MAX);
	expect_f64(&ev, "G", -DBL_MIN);
	expect_f64(&ev, "a", 3.0);
	expect_f64(&ev, "A", 0.1);
	expect_f64(&ev, "F", 123.0);
	event_free(&ev);
}

Test(encode, doubles_special_values)
{
	event_t ev;
	double nz;

	event(&ev, "nz=%f pinf=%f ninf=%g nan=%f z=%f", -0.0, INFINITY,
	      -INFINITY, NAN, 0.0);
	nz = get_f64(&ev, "nz");
	cr_assert(nz == 0.0 && signbit(nz), "-0.0 became %a", nz);
	cr_assert(isinf(get_f64(&ev, "pinf")) && get_f64(&ev, "pinf") > 0);
	cr_assert(isinf(get_f64(&ev, "ninf")) && get_f64(&ev, "ninf") < 0);
	cr_assert(isnan(get_f64(&ev, "nan")));
	cr_assert(get_f64(&ev, "z") == 0.0 && !signbit(get_f64(&ev, "z")));
	event_free(&ev);
}

Test(encode, float_is_promoted)
{
	event_t ev;
	float f = 0.1f;

	event(&ev, "f=%f lf=%lf", f, 0.25);
	expect_f64(&ev, "f", (double)0.1f);
	expect_f64(&ev, "lf", 0.25);
	event_free(&ev);
}

Test(encode, long_double_is_sent_as_double)
{
	event_t ev;

	event(&ev, "a=%Lf b=%Le c=%Lg d=%La big=%Lf nan=%Lf",
	      1.25L, -3.5L, 0.1L, (long double)1e-310, LDBL_MAX, (long double)NAN);
	expect_keys(&ev, "a", "b", "c", "d", "big", "nan", NULL);
	expect_f64(&ev, "a", 1.25);
	expect_f64(&ev, "b", -3.5);
	expect_f64(&ev, "c", (double)0.1L);
	expect_f64(&ev, "d", (double)(long double)1e-310);
	cr_assert(isinf(get_f64(&ev, "big")), "LDBL_MAX does not round to inf");
	cr_assert(isnan(get_f64(&ev, "nan")));
	event_free(&ev);
}

/* ---------------------------------------------------------------------- */
/* Characters                                                             */
/* ---------------------------------------------------------------------- */

Test(encode, ascii_char_is_str_of_one)
{
	event_t ev;

	event(&ev, "c=%c d=%-3c", 'A', '~');
	expect_str(&ev, "c", "A");
	expect_str(&ev, "d", "~");
	event_free(&ev);
}

Test(encode, high_byte_char_is_bin_of_one)
{
	event_t ev;

	event(&ev, "c=%c d=%c", 0xE9, (char)0xFF);
	expect_bin(&ev, "c", "\xe9", 1);
	expect_bin(&ev, "d", "\xff", 1);
	event_free(&ev);
}

Test(encode, nul_char_is_one_byte)
{
	event_t ev;

	event(&ev, "c=%c", 0);
	expect_bytes(&ev, "c", MSGPACK_OBJECT_STR, "", 1);
	event_free(&ev);
}

/* ---------------------------------------------------------------------- */
/* Strings                                                                */
/* ---------------------------------------------------------------------- */

Test(encode, null_string_is_nil)
{
	event_t ev;
	const char *nul = NULL;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-overflow"
	event(&ev, "s=%s n=%d", nul, 5);
#pragma GCC diagnostic pop
	expect_keys(&ev, "s", "n", NULL);
	expect_nil(&ev, "s");
	expect_i64(&ev, "n", 5);
	event_free(&ev);
}

Test(encode, empty_string_is_empty_str)
{
	event_t ev;

	event(&ev, "s=%s", "");
	expect_str(&ev, "s", "");
	event_free(&ev);
}

Test(encode, utf8_string_is_str)
{
	event_t ev;

	event(&ev, "s=%s max=%s", "héllo ✓ 𝄞", "\xf4\x8f\xbf\xbf");
	expect_str(&ev, "s", "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9d\x84\x9e");
	expect_str(&ev, "max", "\xf4\x8f\xbf\xbf");
	event_free(&ev);
}

Test(encode, invalid_utf8_is_bin_with_exact_bytes)
{
	event_t ev;

	event(&ev, "ff=%s over=%s sur=%s trunc=%s big=%s cont=%s f8=%s",
	      "\xff\xfe", "\xc0\xaf", "\xed\xa0\x80", "ab\xe2\x82",
	      "\xf4\x90\x80\x80", "x\x80y", "\xf8\x88\x80\x80\x80");
	expect_bin(&ev, "ff", "\xff\xfe", 2);
	expect_bin(&ev, "over", "\xc0\xaf", 2);
	expect_bin(&ev, "sur", "\xed\xa0\x80", 3);
	expect_bin(&ev, "trunc", "ab\xe2\x82", 4);
	expect_bin(&ev, "big", "\xf4\x90\x80\x80", 4);
	expect_bin(&ev, "cont", "x\x80y", 3);
	expect_bin(&ev, "f8", "\xf8\x88\x80\x80\x80", 5);
	event_free(&ev);
}

Test(encode, long_strings_use_wider_headers)
{
	static char s40[41], s300[301], s70k[70001];
	static event_t evs;
	event_t *ev = &evs;
	const msgpack_object *o;
	astron_plan_t *plan = astron_format_parse("a=%s b=%s");
	uint8_t *buf = malloc(80000);
	int cut = 0;
	size_t n, off = 0;
	msgpack_unpacked up;

	memset(s40, 'x', 40);
	memset(s300, 'y', 300);
	event(ev, "a=%s b=%s", s40, s300);
	expect_str(ev, "a", s40);
	expect_str(ev, "b", s300);
	event_free(ev);

	/* str32 does not fit event_t: encode into a larger buffer. */
	memset(s70k, 'z', 70000);
	n = enc(plan, buf, 80000, &cut, s70k, "é");
	cr_assert_eq(cut, 0);
	msgpack_unpacked_init(&up);
	cr_assert_eq(msgpack_unpack_next(&up, (const char *)buf, n, &off),
		     MSGPACK_UNPACK_SUCCESS); /* "a" */
	cr_assert_eq(msgpack_unpack_next(&up, (const char *)buf, n, &off),
		     MSGPACK_UNPACK_SUCCESS);
	o = &up.data;
	cr_assert_eq(o->type, MSGPACK_OBJECT_STR);
	cr_assert_eq(o->via.str.size, 70000);
	cr_assert(memcmp(o->via.str.ptr, s70k, 70000) == 0);
	cr_assert_eq(msgpack_unpack_next(&up, (const char *)buf, n, &off),
		     MSGPACK_UNPACK_SUCCESS); /* "b" */
	cr_assert_eq(msgpack_unpack_next(&up, (const char *)buf, n, &off),
		     MSGPACK_UNPACK_SUCCESS);
	cr_assert_eq(up.data.via.str.size, 2);
	cr_assert_eq(off, n);
	msgpack_unpacked_destroy(&up);
	astron_format_free(plan);
	free(buf);
}

Test(encode, precision_bounds_the_string)
{
	event_t ev;

	event(&ev, "a=%.3s b=%.0s c=%.10s d=%-8.2s", "abcdef", "abc", "abc",
	      "xyz");
	expect_str(&ev, "a", "abc");
	expect_str(&ev, "b", "");
	expect_str(&ev, "c", "abc");
	expect_str(&ev, "d", "xy");
	event_free(&ev);
}

Test(encode, precision_reads_no_further_than_bound)
{
	/* A char array without NUL, followed by more non-NUL bytes: only the
	 * bound may be read. */
	static const struct {
		char id[3];
		char after[5];
	} rec = {{'x', 'y', 'z'}, {'Q', 'Q', 'Q', 'Q', 'Q'}};
	event_t ev;

	event(&ev, "id=%.3s n=%d", rec.id, 9);
	expect_str(&ev, "id", "xyz");
	expect_i64(&ev, "n", 9);
	event_free(&ev);
}

Test(encode, precision_bounds_a_non_ascii_array)
{
	/* The same where the bytes are not ASCII (the general path). */
	static const struct {
		char id[4];
		char after[5];
	} rec = {{'\xc3', '\xa9', 'a', 'b'}, {'Q', 'Q', 'Q', 'Q', 'Q'}};
	event_t ev;

	event(&ev, "id=%.4s n=%d", rec.id, 9);
	expect_str(&ev, "id", "\xc3\xa9" "ab");
	expect_i64(&ev, "n", 9);
	event_free(&ev);
}

Test(encode, precision_bounds_a_long_array)
{
	/* 40 bytes without NUL, longer than any short-string fast path. */
	static struct {
		char id[40];
		char after[8];
	} rec;
	event_t ev;

	memset(rec.id, 'i', sizeof rec.id);
	memset(rec.after, 'Q', sizeof rec.after);
	event(&ev, "id=%.40s n=%d", rec.id, 9);
	expect_bytes(&ev, "id", MSGPACK_OBJECT_STR, rec.id, 40);
	expect_i64(&ev, "n", 9);
	event_free(&ev);
}

Test(encode, precision_counts_bytes_not_characters)
{
	event_t ev;

	/* As printf: %.1s of "é" is one byte, which alone is not UTF-8. */
	event(&ev, "a=%.2s b=%.1s", "éa", "é");
	expect_str(&ev, "a", "é");
	expect_bin(&ev, "b", "\xc3", 1);
	event_free(&ev);
}

Test(encode, star_precision)
{
	event_t ev;

	event(&ev, "a=%.*s b=%.*s c=%.*s n=%d", 2, "hello", -1, "hello", 0,
	      "hello", 42);
	expect_keys(&ev, "a", "b", "c", "n", NULL);
	expect_str(&ev, "a", "he");
	expect_str(&ev, "b", "hello"); /* negative: no bound */
	expect_str(&ev, "c", "");
	expect_i64(&ev, "n", 42);
	event_free(&ev);
}

Test(encode, star_width_is_consumed)
{
	event_t ev;

	event(&ev, "a=%*d b=%-*s c=%*.*f d=%*.*s n=%u", 10, 42, 5, "hi", 8, 2,
	      2.5, -4, 3, "abcdef", 7u);
	expect_keys(&ev, "a", "b", "c", "d", "n", NULL);
	expect_i64(&ev, "a", 42);
	expect_str(&ev, "b", "hi");
	expect_f64(&ev, "c", 2.5);
	expect_str(&ev, "d", "abc");
	expect_u64(&ev, "n", 7);
	event_free(&ev);
}

/* ---------------------------------------------------------------------- */
/* Pointers and %n                                                        */
/* ---------------------------------------------------------------------- */

Test(encode, pointer_is_uint)
{
	event_t ev;
	int x;
	void *nul = NULL;

	event(&ev, "p=%p q=%p", (void *)&x, nul);
	expect_u64(&ev, "p", (uint64_t)(uintptr_t)&x);
	expect_u64(&ev, "q", 0);
	event_free(&ev);
}

Test(encode, percent_n_is_never_written_through)
{
	event_t ev;
	int sentinel = 12345;
	signed char small = 77;

	event(&ev, "a=%d n=%n b=%s m=%hhn c=%d", 1, &sentinel, "after", &small,
	      3);
	cr_assert_eq(sentinel, 12345, "%%n wrote %d", sentinel);
	cr_assert_eq(small, 77, "%%hhn wrote %d", small);
	expect_keys(&ev, "a", "b", "c", "@error", NULL);
	expect_i64(&ev, "a", 1);
	expect_str(&ev, "b", "after");
	expect_i64(&ev, "c", 3);
	expect_error_field(&ev, "%n at offset 7 is refused");
	event_free(&ev);
}

/* ---------------------------------------------------------------------- */
/* Literals and malformed pairs                                           */
/* ---------------------------------------------------------------------- */

Test(encode, literals_interleave_in_order)
{
	event_t ev;

	event(&ev, "app=demo a=%d ver=1.0 b=%s pct=100%% env=prod", 5, "x");
	expect_keys(&ev, "app", "a", "ver", "b", "pct", "env", NULL);
	expect_str(&ev, "app", "demo");
	expect_i64(&ev, "a", 5);
	expect_str(&ev, "ver", "1.0");
	expect_str(&ev, "b", "x");
	expect_str(&ev, "pct", "100%");
	expect_str(&ev, "env", "prod");
	event_free(&ev);
}

Test(encode, empty_format_writes_nothing)
{
	astron_plan_t *plan = astron_format_parse("");
	uint8_t buf[SLACK + 16];
	int cut = 0;

	cr_assert_not_null(plan);
	cr_assert_eq(plan->fixed_max, 0);
	memset(buf, CANARY, sizeof buf);
	cr_assert_eq(enc(plan, buf, SLACK, &cut, 1, 2), 0);
	for (size_t i = SLACK; i < sizeof buf; i++)
		cr_assert_eq(buf[i], CANARY, "byte %zu past the limit written", i);
	cr_assert_eq(cut, 0);
	astron_format_free(plan);
}

Test(encode, null_format_writes_the_error)
{
	event_t ev;

	event_unchecked(&ev, NULL, 1);
	expect_keys(&ev, "@error", NULL);
	expect_str(&ev, "@error", "format is NULL");
	event_free(&ev);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-extra-args"

Test(encode, missing_key_keeps_alignment)
{
	event_t ev;

	event(&ev, "a=%d =%d b=%s", 1, 2, "bee");
	expect_keys(&ev, "a", "b", "@error", NULL);
	expect_i64(&ev, "a", 1);
	expect_str(&ev, "b", "bee");
	expect_error_field(&ev, "missing key");
	event_free(&ev);
}

Test(encode, every_malformed_pair_keeps_alignment)
{
	event_t ev;

	event(&ev, "a=%d %s=%lld junk%Lf m=abc%.*s @r=%hd w=%ls c=%lc b=%s z=%f",
	      1, "keyish", (long long)-1, 2.5L, 3, "zzz", (short)4,
	      L"wide", (wint_t)L'é', "bee", 9.5);
	expect_keys(&ev, "a", "b", "z", "@error", NULL);
	expect_i64(&ev, "a", 1);
	expect_str(&ev, "b", "bee");
	expect_f64(&ev, "z", 9.5);
	expect_error_field(&ev, "a key cannot hold a conversion");
	event_free(&ev);
}

Test(encode, text_mixed_with_conversion_is_discarded)
{
	event_t ev;

	event(&ev, "k=v%d n=%d", 100, 200);
	expect_keys(&ev, "n", "@error", NULL);
	expect_i64(&ev, "n", 200);
	event_free(&ev);
}

Test(encode, wide_conversions_are_read_not_recorded)
{
	event_t ev;

	event(&ev, "w=%ls c=%lc b=%s", L"wide", (wint_t)L'x', "bee");
	expect_keys(&ev, "b", "@error", NULL);
	expect_str(&ev, "b", "bee");
	expect_error_field(&ev, "wide string conversion is not supported");
	event_free(&ev);
}

Test(encode, unknown_conversion_stops_reading)
{
	event_t ev;

	event(&ev, "a=%d k=%y b=%s", 1, 2, "never read");
	expect_keys(&ev, "a", "@error", NULL);
	expect_i64(&ev, "a", 1);
	event_free(&ev);
}

#pragma GCC diagnostic pop

/* ---------------------------------------------------------------------- */
/* Truncation to the limit                                                */
/* ---------------------------------------------------------------------- */

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	cr_assert_not_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

Test(encode, long_string_is_cut_to_the_room)
{
	event_t ev;
	char *s = repeat('a', 100);

	event_room(&ev, 20, "s=%s", s);
	cr_assert_eq(ev.cut, 1);
	expect_bytes(&ev, "s", MSGPACK_OBJECT_STR, s, 20);
	event_free(&ev);
	free(s);
}

Test(encode, string_that_fits_exactly_is_not_cut)
{
	event_t ev;
	char *s = repeat('b', 20);

	event_room(&ev, 20, "s=%s", s);
	cr_assert_eq(ev.cut, 0);
	expect_str(&ev, "s", s);
	event_free(&ev);
	free(s);
}

Test(encode, one_byte_too_many_is_cut)
{
	event_t ev;
	char *s = repeat('c', 21);

	event_room(&ev, 20, "s=%s", s);
	cr_assert_eq(ev.cut, 1);
	expect_bytes(&ev, "s", MSGPACK_OBJECT_STR, s, 20);
	event_free(&ev);
	free(s);
}

Test(encode, cut_keeps_later_fields)
{
	event_t ev;
	char *s = repeat('d', 500);

	event_room(&ev, 20, "s=%s n=%lld t=%s c=%c env=prod", s,
		   (long long)INT64_MIN, "", 'q');
	cr_assert_eq(ev.cut, 1);
	expect_keys(&ev, "s", "n", "t", "c", "env", NULL);
	expect_bytes(&ev, "s", MSGPACK_OBJECT_STR, s, 20);
	expect_i64(&ev, "n", INT64_MIN);
	expect_str(&ev, "t", "");
	expect_str(&ev, "c", "q");
	expect_str(&ev, "env", "prod");
	event_free(&ev);
	free(s);
}

Test(encode, cut_backs_off_to_a_utf8_boundary)
{
	/* 19 ASCII then a 3-byte char straddling byte 20. */
	static const char s[] = "aaaaaaaaaaaaaaaaaaa\xe2\x82\xac" "bbb";
	event_t ev;

	event_room(&ev, 20, "s=%s", s);
	cr_assert_eq(ev.cut, 1);
	expect_bytes(&ev, "s", MSGPACK_OBJECT_STR, s, 19);
	event_free(&ev);
}

Test(encode, cut_is_valid_utf8_at_every_offset)
{
	/* k ASCII bytes then U+1D11E (4 bytes): wherever the room ends, the
	 * result is the longest prefix that ends on a character boundary. */
	for (size_t k = 0; k <= 24; k++) {
		char s[64];
		event_t ev;
		const msgpack_object *o;
		size_t total = k + 6;
		size_t want = total <= 20		? total
			      : k < 20 && k + 4 > 20 ? k
						      : 20;

		memset(s, 'a', k);
		memcpy(s + k, "\xf0\x9d\x84\x9e" "zz", 7);
		event_room(&ev, 20, "s=%s", s);
		cr_assert_eq(ev.cut, total > 20, "k=%zu: cut %d", k, ev.cut);
		o = get(&ev, "s");
		cr_assert_eq(o->type, MSGPACK_OBJECT_STR, "k=%zu: not a str", k);
		cr_assert_eq(o->via.str.size, want, "k=%zu: %u bytes, want %zu",
			     k, o->via.str.size, want);
		cr_assert(memcmp(o->via.str.ptr, s, want) == 0);
		event_free(&ev);
	}
}

Test(encode, cut_of_invalid_utf8_is_bin)
{
	event_t ev;
	char s[64];

	memset(s, '\xff', 40);
	s[40] = '\0';
	event_room(&ev, 20, "s=%s", s);
	cr_assert_eq(ev.cut, 1);
	{
		/* astron_utf8_cut takes a trailing 0xff for a lead byte and
		 * may back off up to 3 bytes: still a prefix of the input. */
		const msgpack_object *o = get(&ev, "s");
		cr_assert_eq(o->type, MSGPACK_OBJECT_BIN);
		cr_assert_leq(o->via.bin.size, 20);
		cr_assert_geq(o->via.bin.size, 17);
		cr_assert(memcmp(o->via.bin.ptr, s, o->via.bin.size) == 0);
	}
	event_free(&ev);
}

Test(encode, precision_larger_than_room_still_cuts)
{
	event_t ev;
	char *s = repeat('e', 100);

	event_room(&ev, 20, "s=%.50s t=%.*s", s, 60, s);
	cr_assert_eq(ev.cut, 1);
	{
		const msgpack_object *a = get(&ev, "s"), *b = get(&ev, "t");
		cr_assert_eq(a->type, MSGPACK_OBJECT_STR);
		cr_assert_eq(b->type, MSGPACK_OBJECT_STR);
		cr_assert_eq(a->via.str.size, 20);
		/* s's header took 1 of the 5 bytes reserved for it: t gets
		 * the 4 left over. */
		cr_assert_eq(b->via.str.size, 4);
	}
	event_free(&ev);
	free(s);
}

Test(encode, precision_within_room_is_not_a_cut)
{
	event_t ev;
	char *s = repeat('f', 100);

	event_room(&ev, 20, "s=%.10s", s);
	cr_assert_eq(ev.cut, 0);
	expect_bytes(&ev, "s", MSGPACK_OBJECT_STR, s, 10);
	event_free(&ev);
	free(s);
}

Test(encode, two_strings_share_the_room)
{
	event_t ev;
	char *s = repeat('g', 300);

	/* The first takes the room; the second gets what its header did not
	 * use of the 5 bytes reserved for it (fixstr: 1). */
	event_room(&ev, 30, "a=%s b=%s n=%d", s, s, 77);
	cr_assert_eq(ev.cut, 1);
	{
		const msgpack_object *a = get(&ev, "a"), *b = get(&ev, "b");
		cr_assert_eq(a->type, MSGPACK_OBJECT_STR);
		cr_assert_eq(b->type, MSGPACK_OBJECT_STR);
		cr_assert_eq(a->via.str.size, 30);
		cr_assert_eq(b->via.str.size, 4);
	}
	expect_i64(&ev, "n", 77);
	event_free(&ev);
	free(s);
}

Test(encode, zero_room_gives_empty_strings)
{
	event_t ev;

	event_room(&ev, 0, "a=%s n=%d", "hello", 1);
	cr_assert_eq(ev.cut, 1);
	expect_str(&ev, "a", "");
	expect_i64(&ev, "n", 1);
	event_free(&ev);
}

Test(encode, cut_flag_is_sticky)
{
	astron_plan_t *plan = astron_format_parse("s=%s");
	uint8_t buf[64];
	int cut = 1;

	cr_assert_not_null(plan);
	enc(plan, buf, sizeof buf, &cut, "x");
	cr_assert_eq(cut, 1, "the encoder cleared a cut already reported");
	cut = 0;
	enc(plan, buf, sizeof buf, &cut, "x");
	cr_assert_eq(cut, 0);
	astron_format_free(plan);
}

Test(encode, worst_case_fits_fixed_max)
{
	astron_plan_t *plan = astron_format_parse(
		"a=%lld b=%llu c=%f d=%c e=%s f=%p lit=x g=%Lf");
	uint8_t buf[256];
	int cut = 0;
	size_t n;

	cr_assert_not_null(plan);
	memset(buf, CANARY, sizeof buf);
	n = enc(plan, buf, plan->fixed_max + SLACK, &cut, (long long)INT64_MIN,
		(unsigned long long)UINT64_MAX, -1.0, 0xE9, "", (void *)buf,
		-1.0L);
	cr_assert_leq(n, plan->fixed_max, "%zu bytes > fixed_max %u", n,
		      plan->fixed_max);
	for (size_t i = plan->fixed_max + SLACK; i < sizeof buf; i++)
		cr_assert_eq(buf[i], CANARY, "byte %zu past the limit written", i);
	cr_assert_eq(cut, 0);
	astron_format_free(plan);
}

/* ---------------------------------------------------------------------- */
/* astron_utf8_valid / astron_utf8_cut                                    */
/* ---------------------------------------------------------------------- */

static int valid(const char *s, size_t n)
{
	int fast = astron_utf8_valid((const uint8_t *)s, n);
	int slow = astron_utf8_valid_slow((const uint8_t *)s, n);

	cr_assert_eq(fast, slow, "fast and slow paths disagree");
	return fast;
}
#define VALID(lit) valid(lit, sizeof(lit) - 1)

Test(utf8, valid_sequences)
{
	cr_assert(VALID(""));
	cr_assert(VALID("plain ascii"));
	cr_assert(VALID("\x00\x7f"));
	cr_assert(VALID("\xc2\x80"));	  /* U+0080 */
	cr_assert(VALID("\xdf\xbf"));	  /* U+07FF */
	cr_assert(VALID("\xe0\xa0\x80")); /* U+0800 */
	cr_assert(VALID("\xed\x9f\xbf")); /* U+D7FF */
	cr_assert(VALID("\xee\x80\x80")); /* U+E000 */
	cr_assert(VALID("\xef\xbf\xbf")); /* U+FFFF */
	cr_assert(VALID("\xf0\x90\x80\x80")); /* U+10000 */
	cr_assert(VALID("\xf4\x8f\xbf\xbf")); /* U+10FFFF */
	cr_assert(VALID("héllo ✓ 𝄞 end"));
}

Test(utf8, overlongs_are_invalid)
{
	cr_assert_not(VALID("\xc0\x80"));
	cr_assert_not(VALID("\xc0\xaf"));
	cr_assert_not(VALID("\xc1\xbf"));
	cr_assert_not(VALID("\xe0\x80\x80"));
	cr_assert_not(VALID("\xe0\x9f\xbf"));
	cr_assert_not(VALID("\xf0\x80\x80\x80"));
	cr_assert_not(VALID("\xf0\x8f\xbf\xbf"));
}

Test(utf8, surrogates_and_out_of_range_are_invalid)
{
	cr_assert_not(VALID("\xed\xa0\x80")); /* U+D800 */
	cr_assert_not(VALID("\xed\xbf\xbf")); /* U+DFFF */
	cr_assert_not(VALID("\xf4\x90\x80\x80")); /* U+110000 */
	cr_assert_not(VALID("\xf5\x80\x80\x80"));
	cr_assert_not(VALID("\xf7\xbf\xbf\xbf"));
	cr_assert_not(VALID("\xf8\x88\x80\x80\x80"));
	cr_assert_not(VALID("\xfc\x84\x80\x80\x80\x80"));
	cr_assert_not(VALID("\xfe"));
	cr_assert_not(VALID("\xff"));
}

Test(utf8, broken_sequences_are_invalid)
{
	cr_assert_not(VALID("\x80"));
	cr_assert_not(VALID("\xbf"));
	cr_assert_not(VALID("a\x80\x80\x80"));
	cr_assert_not(VALID("\xc3"));		/* truncated */
	cr_assert_not(VALID("\xe2\x82"));
	cr_assert_not(VALID("\xf0\x9d\x84"));
	cr_assert_not(VALID("\xc3\x41"));	/* non-continuation */
	cr_assert_not(VALID("\xe2\x28\xa1"));
	cr_assert_not(VALID("\xf0\x9d\x84\x41"));
	cr_assert_not(VALID("\xc3\xa9\xa9")); /* one continuation too many */
	/* The length bounds the check: a complete char cut by n. */
	cr_assert_not(valid("\xc3\xa9", 1));
	cr_assert(valid("\xc3\xa9", 2));
}

Test(utf8, ascii_fast_path_every_length_and_position)
{
	char buf[32];

	for (size_t off = 0; off < 8; off++) {	 /* unaligned starts */
		for (size_t n = 0; n <= 17; n++) {
			char *s = buf + off;

			memset(s, 'a' + (int)(n % 26), n);
			cr_assert(valid(s, n), "ascii n=%zu off=%zu", n, off);
			for (size_t k = 0; k < n; k++) {
				s[k] = '\x80';
				cr_assert_not(valid(s, n), "0x80 at %zu of %zu "
					      "(off %zu)", k, n, off);
				s[k] = 'a';
			}
			for (size_t k = 0; k + 1 < n; k++) {
				memcpy(s + k, "\xc3\xa9", 2);
				cr_assert(valid(s, n), "é at %zu of %zu (off %zu)",
					  k, n, off);
				memset(s + k, 'a', 2);
			}
		}
	}
}

static size_t cut(const char *s, size_t n)
{
	return astron_utf8_cut((const uint8_t *)s, n);
}

Test(utf8, cut_keeps_complete_characters)
{
	cr_assert_eq(cut("", 0), 0);
	cr_assert_eq(cut("abc", 3), 3);
	cr_assert_eq(cut("abc", 2), 2);
	cr_assert_eq(cut("\xc3\xa9", 2), 2);
	cr_assert_eq(cut("\xe2\x82\xac", 3), 3);
	cr_assert_eq(cut("\xf0\x9d\x84\x9e", 4), 4);
	cr_assert_eq(cut("a\xf4\x8f\xbf\xbf", 5), 5);
	cr_assert_eq(cut("\xc3\xa9z", 3), 3);
}

Test(utf8, cut_drops_a_partial_character)
{
	cr_assert_eq(cut("\xc3\xa9", 1), 0);
	cr_assert_eq(cut("a\xc3\xa9", 2), 1);
	cr_assert_eq(cut("\xe2\x82\xac", 1), 0);
	cr_assert_eq(cut("\xe2\x82\xac", 2), 0);
	cr_assert_eq(cut("ab\xe2\x82\xac", 4), 2);
	cr_assert_eq(cut("\xf0\x9d\x84\x9e", 1), 0);
	cr_assert_eq(cut("\xf0\x9d\x84\x9e", 2), 0);
	cr_assert_eq(cut("\xf0\x9d\x84\x9e", 3), 0);
	cr_assert_eq(cut("xy\xf0\x9d\x84\x9e", 5), 2);
}

Test(utf8, cut_result_is_always_valid_for_valid_input)
{
	static const char s[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e"
				"b\xf4\x8f\xbf\xbf\xdf\xbf";
	size_t len = sizeof s - 1;

	for (size_t n = 0; n <= len; n++) {
		size_t m = cut(s, n);
		cr_assert_leq(m, n);
		cr_assert_geq(m + 3, n, "n=%zu: cut back %zu bytes", n, n - m);
		cr_assert(valid(s, m), "cut(%zu) = %zu is not valid", n, m);
	}
}

Test(utf8, cut_leaves_lone_continuations_alone)
{
	/* Not UTF-8 to begin with: nothing to protect, nothing dropped. */
	cr_assert_eq(cut("\x80\x80\x80\x80", 4), 4);
	cr_assert_eq(cut("a\x80", 2), 2);
}

/* ---------------------------------------------------------------------- */
/* The shortcuts (enum astron_fast) against the general path              */
/* ---------------------------------------------------------------------- */

/* Which ops take a shortcut: plain, recorded ones; never one with a '*',
 * a narrowing or wide length, or a value read and discarded. */
Test(encode, shortcuts_are_given_to_plain_ops_only)
{
	static const struct {
		const char *fmt;
		uint8_t fast;
	} cases[] = {
		{"a=%d", ASTRON_FAST_INT},	{"a=%i", ASTRON_FAST_INT},
		{"a=%ld", ASTRON_FAST_LLONG},	{"a=%lld", ASTRON_FAST_LLONG},
		{"a=%jd", ASTRON_FAST_LLONG},	{"a=%td", ASTRON_FAST_LLONG},
		{"a=%u", ASTRON_FAST_UINT},	{"a=%x", ASTRON_FAST_UINT},
		{"a=%lu", ASTRON_FAST_ULLONG},	{"a=%zu", ASTRON_FAST_ULLONG},
		{"a=%llx", ASTRON_FAST_ULLONG}, {"a=%f", ASTRON_FAST_DOUBLE},
		{"a=%g", ASTRON_FAST_DOUBLE},	{"a=%s", ASTRON_FAST_STR},
		{"a=%.3s", ASTRON_FAST_STR},	{"a=%hd", ASTRON_FAST_NONE},
		{"a=%hhu", ASTRON_FAST_NONE},	{"a=%zd", ASTRON_FAST_NONE},
		{"a=%*d", ASTRON_FAST_NONE},	{"a=%.*s", ASTRON_FAST_NONE},
		{"a=%Lf", ASTRON_FAST_NONE},	{"a=%c", ASTRON_FAST_NONE},
		{"a=%p", ASTRON_FAST_NONE},	{"a=%ls", ASTRON_FAST_NONE},
		{"a=%n", ASTRON_FAST_NONE},	{"a%d", ASTRON_FAST_NONE},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		astron_plan_t *plan = astron_format_parse(cases[i].fmt);

		cr_assert_not_null(plan);
		cr_assert_eq(plan->nops, 1, "%s", cases[i].fmt);
		cr_expect_eq(plan->ops[0].fast, cases[i].fast, "%s: fast=%d",
			     cases[i].fmt, plan->ops[0].fast);
		astron_format_free(plan);
	}
}

/* Encode the same arguments with the shortcuts and, ops forced to the
 * general path, without: the bytes must be identical. */
static void same_bytes(const char *fmt, ...)
{
	astron_plan_t *plan = astron_format_parse(fmt);
	uint8_t fast[512], slow[512];
	size_t nf, ns;
	int cf = 0, cs = 0;
	va_list ap;

	cr_assert_not_null(plan);
	va_start(ap, fmt);
	nf = enc_va(plan, fast, sizeof fast, &cf, ap);
	for (uint32_t i = 0; i < plan->nops; i++)
		plan->ops[i].fast = ASTRON_FAST_NONE;
	ns = enc_va(plan, slow, sizeof slow, &cs, ap);
	va_end(ap);
	cr_assert_eq(nf, ns, "%s: %zu bytes with shortcuts, %zu without", fmt, nf, ns);
	cr_assert(memcmp(fast, slow, nf) == 0, "%s: bytes differ", fmt);
	cr_assert_eq(cf, cs, "%s", fmt);
	astron_format_free(plan);
}

Test(encode, shortcuts_encode_like_the_general_path)
{
	same_bytes("a=%d b=%d c=%d d=%d e=%d f=%d g=%d", 0, -1, -32, -33, 127,
		   INT_MIN, INT_MAX);
	same_bytes("a=%d b=%d c=%d d=%d", 128, 255, 256, 65536);
	same_bytes("a=%lld b=%ld c=%jd d=%td e=%lld f=%lld", LLONG_MIN, LONG_MAX,
		   (intmax_t)-129, (ptrdiff_t)-32769, (long long)INT_MIN - 1,
		   (long long)UINT_MAX + 1);
	same_bytes("a=%u b=%x c=%o d=%u e=%u", 0u, 255u, 256u, 65535u, UINT_MAX);
	same_bytes("a=%llu b=%lu c=%zu d=%jx e=%llu", ULLONG_MAX, 0ul,
		   (size_t)4294967296u, (uintmax_t)127, 128ull);
	same_bytes("a=%f b=%g c=%e d=%a e=%f", 0.0, -1.5, DBL_MAX, DBL_MIN,
		   (double)NAN);
	same_bytes("a=%s b=%s c=%s d=%.2s e=%.40s f=%s", "", "short", NULL,
		   "precision", "exactly-thirty-one-bytes-long!!",
		   "a string longer than thirty-one bytes, so not short");
	same_bytes("a=%s b=%s c=%.1s", "caf\xc3\xa9", "\xff\xfe", "\xc3\xa9");
	same_bytes("lit=x a=%d mid=y b=%s tail=z", 7, "v");
}

/* The short-string path at every length around its 31-byte limit, with no
 * precision, with %.*s at every bound, and with one non-ASCII byte at every
 * position: the decoded bytes are the first min(length, bound) of the
 * source.  The source is an exactly sized heap block without a NUL when the
 * bound is below its length, so a read past the bound shows under ASan. */
Test(encode, every_short_length_and_bound)
{
	for (int len = 0; len <= 40; len++) {
		char *src = malloc((size_t)len + 1);
		event_t ev;

		cr_assert_not_null(src);
		for (int i = 0; i < len; i++)
			src[i] = (char)('a' + i % 26);
		src[len] = '\0';
		event(&ev, "s=%s n=%d", src, len);
		expect_bytes(&ev, "s", MSGPACK_OBJECT_STR, src, (size_t)len);
		expect_i64(&ev, "n", len);
		event_free(&ev);
		for (int bound = 0; bound <= len; bound++) {
			char *arr = malloc(bound ? (size_t)bound : 1);

			cr_assert_not_null(arr);
			memcpy(arr, src, (size_t)bound);
			event(&ev, "s=%.*s n=%d", bound, arr, bound);
			expect_bytes(&ev, "s", MSGPACK_OBJECT_STR, src, (size_t)bound);
			expect_i64(&ev, "n", bound);
			event_free(&ev);
			free(arr);
		}
		for (int at = 0; at < len; at++) {
			char saved = src[at];

			src[at] = (char)0xe9; /* Latin-1: not UTF-8, so bin */
			event(&ev, "s=%s", src);
			expect_bytes(&ev, "s", MSGPACK_OBJECT_BIN, src, (size_t)len);
			event_free(&ev);
			src[at] = saved;
		}
		free(src);
	}
}
