/*
 * fuzz_format.c - libFuzzer target for the format parser and the encoder
 * (lib/format.c, lib/encode.h, lib/utf8.h); built and run by tests/fuzz/run.
 *
 * The input is a format string, optionally followed by a NUL and the text
 * every string argument points to (without a NUL, the format text itself
 * is used):   "user=%s n=%d\0héllo"
 *
 * Each input is parsed with astron_format_parse().  The plan is then encoded
 * with astron_encode_fields() into a heap buffer of exactly the size the hot
 * path guarantees (fixed_max + ASTRON_COPY_SLACK_BYTES + room for string
 * bodies), so AddressSanitizer sees any write past `limit`, and the result
 * is decoded with msgpack-c.  Each plan is encoded three times: with room
 * for every string body (nothing may be cut), with room for half the string
 * (strings are cut, at a UTF-8 boundary), and with every pointer NULL (%s
 * becomes nil).  The target abort()s when:
 *   - the fields, behind a map header of plan->nfields entries, are not
 *     exactly one msgpack map of nfields entries;
 *   - a key is not a str, a value is not int/uint/float64/str/bin/nil, or a
 *     str is not valid UTF-8 (checked with an independent validator);
 *   - a string was reported cut although the buffer had room for all of it,
 *     or the encoder returned a pointer past `limit`;
 *   - astron_utf8_valid() disagrees with the independent validator, or
 *     astron_utf8_cut() turns valid UTF-8 into invalid UTF-8.
 *
 * How the va_list is fed (the only delicate part).  C cannot build a va_list
 * from data, and a plan may ask for any mix of int, long, double, long
 * double and pointer arguments.  encode_va() below is a variadic function
 * called with 8 doubles and then ARG_PTRS copies of one pointer P, which is
 * either the NUL-terminated string argument or NULL.  On x86-64 (System V
 * ABI) this makes every read the encoder can do land on bytes we passed:
 *   - int-class reads (int, long, size_t, wint_t, pointers) take the two
 *     general registers left after the fixed parameters, then 8-byte stack
 *     slots: all of them hold P, so a %s always gets P (a valid string or
 *     NULL -> nil) and an int/%c/%p/'*' read gets P or its low bits;
 *   - double reads take XMM0-7 (our doubles: zeros, NaN, infinities,
 *     denormals), then stack slots, which hold P's bits: any 64-bit pattern
 *     is a double;
 *   - long double reads always take 16 aligned stack bytes (at most 3 slots
 *     with the alignment gap): an x87 pattern made of pointer bits is at
 *     worst an invalid operand, which converts to NaN without trapping.
 * Because every slot holds the same value, the order of the plan's ops does
 * not matter.  What must hold is that the plan never reads past the slots we
 * passed: stack_slots() bounds what a plan can consume, and plans needing
 * more than we pass are only parsed.  Strictly, ISO C calls va_arg with a
 * type other than the one passed undefined; the argument above is the ABI's,
 * which is why encoding is limited to x86-64 (elsewhere: parse only).
 */
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "format.h"
#include "utf8.h"

#ifndef ASTRON_COPY_SLACK_BYTES
#define ASTRON_COPY_SLACK_BYTES 0
#endif

#if defined(__x86_64__) && !defined(_WIN32)
#define FUZZ_ENCODE 1
#else
#define FUZZ_ENCODE 0
#endif

/* Pointer arguments passed to encode_va(): 2 go in registers, the rest in
 * stack slots. */
#define ARG_PTRS 130
#define STACK_SLOTS (ARG_PTRS - 2)
#define MAX_STRING_ROOM (1u << 20)

/* Independent strict UTF-8 check (Unicode table 3-7): the oracle. */
static int utf8_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		uint8_t lo = 0x80, hi = 0xBF;
		size_t len;

		if (c <= 0x7F) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			len = 2;
		else if (c >= 0xE0 && c <= 0xEF)
			len = 3;
		else if (c >= 0xF0 && c <= 0xF4)
			len = 4;
		else
			return 0;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
		else if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
		if (n - i < len)
			return 0;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t k = 2; k < len; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xBF)
				return 0;
		i += len;
	}
	return 1;
}

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_format: %s\n", what);
	abort();
}

/* Name the offending entry before failing: key and value, escaped. */
static void dump_bytes(const char *label, const char *s, size_t n)
{
	fprintf(stderr, "fuzz_format: %s (%zu bytes): \"", label, n);
	for (size_t i = 0; i < n && i < 300; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"')
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	fprintf(stderr, "%s\"\n", n > 300 ? "..." : "");
}

static void fail_entry(const char *what, const msgpack_object_kv *kv)
{
	if (kv->key.type == MSGPACK_OBJECT_STR)
		dump_bytes("key", kv->key.via.str.ptr, kv->key.via.str.size);
	if (kv->val.type == MSGPACK_OBJECT_STR)
		dump_bytes("value", kv->val.via.str.ptr, kv->val.via.str.size);
	fail(what);
}

/* The UTF-8 helpers the encoder relies on to choose str or bin and to cut. */
static void check_utf8_helpers(const uint8_t *s, size_t n)
{
	int valid = utf8_ok(s, n);
	size_t cuts[4] = {n, n / 2, n > 0 ? n - 1 : 0, n > 2 ? n - 2 : 0};

	if (!!astron_utf8_valid(s, n) != valid)
		fail("astron_utf8_valid disagrees with the oracle");
	for (int k = 0; k < 4; k++) {
		size_t m = astron_utf8_cut(s, cuts[k]);
		if (m > cuts[k])
			fail("astron_utf8_cut grew the string");
		if (valid && !utf8_ok(s, m))
			fail("astron_utf8_cut made valid UTF-8 invalid");
	}
}

/* Stack slots the plan may consume, counting every read as if the registers
 * were already used up: '*' arguments, one slot per value, three for a long
 * double (16 bytes, 16-aligned). */
static size_t stack_slots(const astron_plan_t *plan)
{
	size_t n = 0;

	for (uint32_t i = 0; i < plan->nops; i++) {
		const astron_op_t *op = &plan->ops[i];
		n += op->star_width + op->star_prec;
		n += op->conv == ASTRON_CONV_LDOUBLE ? 3 : 1;
	}
	return n;
}

#if FUZZ_ENCODE
static uint8_t *encode_va(const astron_plan_t *plan, uint8_t *p,
			  const uint8_t *limit, int *cut, ...)
{
	va_list ap;
	uint8_t *end;

	va_start(ap, cut);
	end = astron_encode_fields(plan, p, limit, cut, &ap);
	va_end(ap);
	return end;
}

#define P2 P, P
#define P8 P2, P2, P2, P2
#define P32 P8, P8, P8, P8
#define P128 P32, P32, P32, P32
#define P130 P128, P2 /* ARG_PTRS */

static uint8_t *encode_with(const astron_plan_t *plan, uint8_t *p,
			    const uint8_t *limit, int *cut, const char *P)
{
	return encode_va(plan, p, limit, cut, 0.0, -0.0, 1.5, (double)NAN,
			 (double)INFINITY, -(double)INFINITY, 4.9e-324,
			 -1.7976931348623157e308, P130);
}
#endif

/* Check one decoded entry: str keys, only the value types the format
 * promises, and every str valid UTF-8. */
static void check_entry(const msgpack_object_kv *kv)
{
	const msgpack_object *k = &kv->key, *o = &kv->val;

	if (k->type != MSGPACK_OBJECT_STR)
		fail_entry("a key is not a str", kv);
	if (!utf8_ok((const uint8_t *)k->via.str.ptr, k->via.str.size))
		fail_entry("a key is not valid UTF-8", kv);
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
	case MSGPACK_OBJECT_FLOAT64:
	case MSGPACK_OBJECT_BIN:
		return;
	case MSGPACK_OBJECT_STR:
		if (!utf8_ok((const uint8_t *)o->via.str.ptr, o->via.str.size))
			fail_entry("a str value is not valid UTF-8", kv);
		return;
	default:
		fail_entry("a value has a type the format never produces", kv);
	}
}

/* buf[0..5) is free for a map32 header; the fields are buf[5..end). */
static void check_decodes(const astron_plan_t *plan, uint8_t *buf,
			  const uint8_t *end)
{
	size_t len = (size_t)(end - buf), off = 0;
	msgpack_unpacked up;
	const msgpack_object *m;

	buf[0] = 0xdf;
	buf[1] = (uint8_t)(plan->nfields >> 24);
	buf[2] = (uint8_t)(plan->nfields >> 16);
	buf[3] = (uint8_t)(plan->nfields >> 8);
	buf[4] = (uint8_t)plan->nfields;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, (const char *)buf, len, &off) !=
	    MSGPACK_UNPACK_SUCCESS)
		fail("the fields do not decode");
	if (off != len)
		fail("bytes left after the map: nfields is wrong");
	m = &up.data;
	if (m->type != MSGPACK_OBJECT_MAP || m->via.map.size != plan->nfields)
		fail("not a map of nfields entries");
	for (uint32_t i = 0; i < m->via.map.size; i++)
		check_entry(&m->via.map.ptr[i]);
	msgpack_unpacked_destroy(&up);
}

#if FUZZ_ENCODE
/* Encode with `room` bytes for string bodies on top of what the hot path
 * guarantees; returns whether a string was cut. */
static int encode_and_check(const astron_plan_t *plan, const char *arg,
			    size_t room)
{
	size_t size = plan->fixed_max + ASTRON_COPY_SLACK_BYTES + room;
	uint8_t *buf = malloc(5 + size), *end;
	int cut = 0;

	if (!buf)
		return 0;
	end = encode_with(plan, buf + 5, buf + 5 + size, &cut, arg);
	if (end < buf + 5 || end > buf + 5 + size)
		fail("the encoder returned a pointer outside the buffer");
	check_decodes(plan, buf, end);
	free(buf);
	return cut;
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t flen = nul ? (size_t)(nul - data) : size;
	char *fmt = malloc(flen + 1), *arg;
	size_t alen = nul ? size - flen - 1 : flen;
	astron_plan_t *plan;

	if (!fmt)
		return 0;
	memcpy(fmt, data, flen);
	fmt[flen] = '\0';
	arg = malloc(alen + 1);
	if (!arg) {
		free(fmt);
		return 0;
	}
	memcpy(arg, nul ? nul + 1 : data, alen);
	arg[alen] = '\0';
	alen = strlen(arg); /* the string the encoder will see */

	check_utf8_helpers((const uint8_t *)data, size);
	check_utf8_helpers((const uint8_t *)arg, alen);

	plan = astron_format_parse(fmt);
	if (!plan)
		fail("astron_format_parse returned NULL (out of memory?)");
	if (plan->nfields > plan->nops + flen / 2 + 2)
		fail("more fields than the format can describe");

#if FUZZ_ENCODE
	if (stack_slots(plan) <= STACK_SLOTS) {
		size_t nstr = 0;

		for (uint32_t i = 0; i < plan->nops; i++)
			nstr += plan->ops[i].conv == ASTRON_CONV_STR &&
				plan->ops[i].record;
		/* Room for every string body: nothing may be cut. */
		if (nstr * alen <= MAX_STRING_ROOM &&
		    encode_and_check(plan, arg, nstr * alen))
			fail("a string was cut although it had room");
		/* Tight room: strings are cut, the event still decodes. */
		encode_and_check(plan, arg, alen / 2);
		/* Every pointer NULL: %s becomes nil; no room needed. */
		if (encode_and_check(plan, NULL, 0))
			fail("a NULL string was reported cut");
	}
#endif
	astron_format_free(plan);
	free(arg);
	free(fmt);
	return 0;
}
