/*
 * test_format.c - the format parser (astron_format_parse): what each
 * conversion, length modifier, flag and malformed pair turns into.
 *
 * Every test looks at the plan the hot path will run: the ops (what each one
 * reads from the va_list and whether it records it), the counts, the error
 * text, and the pre-encoded bytes, decoded back with msgpack-c so that the
 * keys and literals are compared as the consumer will see them.  parse()
 * also checks the invariants every plan must hold (layout of the bytes,
 * reserves, field count), so each test checks them on its own format too.
 */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "format.h"
#include "utf8.h"

/* The largest encoding of a value, as the encoder may write it. */
static uint32_t value_max(uint8_t conv)
{
	switch (conv) {
	case ASTRON_CONV_STR:
		return 5; /* str32 header; the body is measured separately */
	case ASTRON_CONV_CHAR:
		return 3; /* bin8 header + one byte */
	default:
		return 9; /* int64, uint64, float64 */
	}
}

/* Decode buf[0..len) as a sequence of msgpack objects that must be exactly
 * the str objects want[0..n), in order. */
static void expect_strs(const uint8_t *buf, size_t len,
			const char *const *want, size_t n, const char *what)
{
	msgpack_unpacked up;
	size_t off = 0, i = 0;

	msgpack_unpacked_init(&up);
	while (off < len) {
		msgpack_unpack_return r =
			msgpack_unpack_next(&up, (const char *)buf, len, &off);
		cr_assert_eq(r, MSGPACK_UNPACK_SUCCESS,
			     "%s: object %zu does not decode (%d)", what, i, r);
		cr_assert_lt(i, n, "%s: more than the %zu expected objects",
			     what, n);
		cr_assert_eq(up.data.type, MSGPACK_OBJECT_STR,
			     "%s: object %zu has type %d, want str", what, i,
			     up.data.type);
		cr_assert_eq(up.data.via.str.size, strlen(want[i]),
			     "%s: object %zu is \"%.*s\", want \"%s\"", what, i,
			     (int)up.data.via.str.size, up.data.via.str.ptr,
			     want[i]);
		cr_assert(up.data.via.str.size == 0 ||
				  memcmp(up.data.via.str.ptr, want[i],
					 up.data.via.str.size) == 0,
			  "%s: object %zu is \"%.*s\", want \"%s\"", what, i,
			  (int)up.data.via.str.size, up.data.via.str.ptr, want[i]);
		i++;
	}
	cr_assert_eq(off, len, "%s: trailing bytes", what);
	cr_assert_eq(i, n, "%s: %zu objects, want %zu", what, i, n);
	msgpack_unpacked_destroy(&up);
}

/* STRS("a", "b") expands to an array and its length. */
#define STRS(...)                                                           \
	(const char *const[]){__VA_ARGS__},                                 \
		sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)

static void expect_pre_v(const astron_plan_t *plan, uint32_t i,
			 const char *const *want, size_t n)
{
	char what[32];

	cr_assert_lt(i, plan->nops, "op %u does not exist (nops %u)", i,
		     plan->nops);
	snprintf(what, sizeof what, "op %u pre-bytes", i);
	expect_strs(plan->bytes + plan->ops[i].pre_off, plan->ops[i].pre_len,
		    want, n, what);
}
#define EXPECT_PRE(plan, i, ...) expect_pre_v(plan, i, STRS(__VA_ARGS__))
#define EXPECT_PRE_EMPTY(plan, i)                                           \
	cr_assert_eq((plan)->ops[i].pre_len, 0, "op %d has pre-bytes", (int)(i))

#define EXPECT_TAIL(plan, ...)                                              \
	expect_strs((plan)->bytes + (plan)->tail_off, (plan)->tail_len,     \
		    STRS(__VA_ARGS__), "tail")
#define EXPECT_TAIL_EMPTY(plan)                                             \
	cr_assert_eq((plan)->tail_len, 0, "the tail is not empty")

/* What every plan must hold, whatever its format. */
static void check_invariants(const astron_plan_t *plan)
{
	uint32_t off = 0, need, recorded = 0, nstr = 0, i;
	uint32_t bad_utf8 = UINT32_MAX;
	msgpack_unpacked up;
	size_t pos = 0, total;
	const msgpack_object *last_key = NULL;
	msgpack_object prev = {0}, last = {0};

	cr_assert_not_null(plan->bytes);
	cr_assert_not_null(plan->fmt_copy);
	cr_assert(plan->nops == 0 || plan->ops != NULL);

	/* The pre-bytes of the ops and the tail tile the bytes in order. */
	for (i = 0; i < plan->nops; i++) {
		cr_assert_eq(plan->ops[i].pre_off, off,
			     "op %u pre_off %u, want %u", i,
			     plan->ops[i].pre_off, off);
		off += plan->ops[i].pre_len;
		cr_assert_not_null(plan->ops[i].key, "op %u key is NULL", i);
		if (plan->ops[i].record) {
			recorded++;
			cr_assert_neq(plan->ops[i].key[0], '\0',
				      "recorded op %u has an empty key", i);
		} else {
			cr_assert_str_empty(plan->ops[i].key,
					    "discarding op %u has key \"%s\"", i,
					    plan->ops[i].key);
		}
	}
	cr_assert_eq(plan->tail_off, off, "tail_off %u, want %u",
		     plan->tail_off, off);

	/* Reserves: what the rest of the event may need after each value. */
	need = plan->tail_len;
	for (i = plan->nops; i-- > 0;) {
		cr_assert_eq(plan->ops[i].reserve, need,
			     "op %u reserve %u, want %u", i,
			     plan->ops[i].reserve, need);
		need += plan->ops[i].pre_len + value_max(plan->ops[i].conv);
	}
	cr_assert_eq(plan->fixed_max, need, "fixed_max %u, want %u",
		     plan->fixed_max, need);

	/* Every pre-encoded object is a str: one key per recorded op, a key
	 * and a value per literal pair and for "@error". */
	total = plan->tail_off + plan->tail_len;
	msgpack_unpacked_init(&up);
	while (pos < total) {
		cr_assert_eq(msgpack_unpack_next(&up, (const char *)plan->bytes,
						 total, &pos),
			     MSGPACK_UNPACK_SUCCESS, "bytes do not decode");
		cr_assert_eq(up.data.type, MSGPACK_OBJECT_STR,
			     "pre-encoded object %u is not a str", nstr);
		/* (An "@error" value is checked by its own tests below.) */
		if (!astron_utf8_valid((const uint8_t *)up.data.via.str.ptr,
				       up.data.via.str.size))
			bad_utf8 = nstr;
		prev = last;
		last = up.data;
		nstr++;
	}
	cr_assert(bad_utf8 == UINT32_MAX ||
			  (plan->error && bad_utf8 == nstr - 1),
		  "pre-encoded str %u is not valid UTF-8", bad_utf8);
	cr_assert_eq(pos, total);
	cr_assert_geq(plan->nfields, recorded);
	cr_assert_eq(nstr, recorded + 2 * (plan->nfields - recorded),
		     "%u pre-encoded strs for %u fields (%u recorded ops)", nstr,
		     plan->nfields, recorded);

	/* An error always ends the event as an "@error" pair. */
	if (plan->error) {
		cr_assert_geq(nstr, 2);
		cr_assert_geq(plan->tail_len, 2);
		last_key = &prev;
		cr_assert(last_key->via.str.size == 6 &&
			  memcmp(last_key->via.str.ptr, "@error", 6) == 0,
			  "the last pair is not \"@error\"");
		cr_assert_eq(last.via.str.size, strlen(plan->error));
		cr_assert(memcmp(last.via.str.ptr, plan->error,
				 last.via.str.size) == 0); /* never empty */
	}
	msgpack_unpacked_destroy(&up);
#ifdef ASTRON_COPY_SLACK_BYTES
	/* The hot path copies short runs as whole chunks: zeros follow. */
	for (i = 0; i < ASTRON_COPY_SLACK_BYTES; i++)
		cr_assert_eq(plan->bytes[total + i], 0, "slack byte %u is %#x", i,
			     plan->bytes[total + i]);
#endif
	if (plan->stopped)
		cr_assert_not_null(plan->error, "stopped without an error");
}

static astron_plan_t *parse(const char *fmt)
{
	astron_plan_t *plan = astron_format_parse(fmt);

	cr_assert_not_null(plan, "parse(\"%s\") returned NULL", fmt ? fmt : "(null)");
	check_invariants(plan);
	return plan;
}

static void expect_op(const astron_plan_t *plan, uint32_t i, int conv,
		      int len, int record, const char *key)
{
	const astron_op_t *op;

	cr_assert_lt(i, plan->nops, "op %u does not exist (nops %u)", i,
		     plan->nops);
	op = &plan->ops[i];
	cr_assert_eq(op->conv, conv, "op %u (%s) conv %d, want %d", i, key,
		     op->conv, conv);
	cr_assert_eq(op->len, len, "op %u (%s) len %d, want %d", i, key,
		     op->len, len);
	cr_assert_eq(op->record, record, "op %u (%s) record %d, want %d", i,
		     key, op->record, record);
	cr_assert_str_eq(op->key, key, "op %u key \"%s\", want \"%s\"", i,
			 op->key, key);
}

static void expect_error(const astron_plan_t *plan, const char *part)
{
	cr_assert_not_null(plan->error, "no error, want one with \"%s\"", part);
	cr_assert(strstr(plan->error, part) != NULL,
		  "error \"%s\" does not contain \"%s\"", plan->error, part);
}

static void expect_no_error(const astron_plan_t *plan)
{
	cr_assert_null(plan->error, "unexpected error \"%s\"", plan->error);
	cr_assert_eq(plan->stopped, 0);
}

/* One recorded conversion alone: "k=<spec>". */
static void expect_single(const char *fmt, int conv, int len)
{
	astron_plan_t *plan = parse(fmt);

	expect_no_error(plan);
	cr_assert_eq(plan->nops, 1, "%s: nops %u", fmt, plan->nops);
	cr_assert_eq(plan->nfields, 1, "%s: nfields %u", fmt, plan->nfields);
	cr_assert_eq(plan->ops[0].conv, conv, "%s: conv %d, want %d", fmt,
		     plan->ops[0].conv, conv);
	cr_assert_eq(plan->ops[0].len, len, "%s: len %d, want %d", fmt,
		     plan->ops[0].len, len);
	cr_assert_eq(plan->ops[0].record, 1, "%s: not recorded", fmt);
	cr_assert_str_eq(plan->ops[0].key, "k");
	EXPECT_PRE(plan, 0, "k");
	EXPECT_TAIL_EMPTY(plan);
	astron_format_free(plan);
}

/* ---------------------------------------------------------------------- */
/* Empty and NULL formats                                                 */
/* ---------------------------------------------------------------------- */

Test(format, empty_format_has_no_fields)
{
	astron_plan_t *plan = parse("");

	expect_no_error(plan);
	cr_assert_eq(plan->nops, 0);
	cr_assert_eq(plan->nfields, 0);
	cr_assert_eq(plan->tail_len, 0);
	cr_assert_eq(plan->fixed_max, 0);
	astron_format_free(plan);
}

Test(format, blank_format_has_no_fields)
{
	astron_plan_t *plan = parse("  \t \t  ");

	expect_no_error(plan);
	cr_assert_eq(plan->nops, 0);
	cr_assert_eq(plan->nfields, 0);
	cr_assert_eq(plan->fixed_max, 0);
	astron_format_free(plan);
}

Test(format, null_format_is_an_error_pair)
{
	astron_plan_t *plan = parse(NULL);

	cr_assert_str_eq(plan->error, "format is NULL");
	cr_assert_eq(plan->stopped, 0);
	cr_assert_eq(plan->nops, 0);
	cr_assert_eq(plan->nfields, 1);
	EXPECT_TAIL(plan, "@error", "format is NULL");
	cr_assert_eq(plan->fixed_max, plan->tail_len);
	astron_format_free(plan);
}

/* ---------------------------------------------------------------------- */
/* Conversions                                                            */
/* ---------------------------------------------------------------------- */

Test(format, signed_conversions)
{
	expect_single("k=%d", ASTRON_CONV_INT, ASTRON_LEN_NONE);
	expect_single("k=%i", ASTRON_CONV_INT, ASTRON_LEN_NONE);
}

Test(format, unsigned_conversions)
{
	expect_single("k=%u", ASTRON_CONV_UINT, ASTRON_LEN_NONE);
	expect_single("k=%x", ASTRON_CONV_UINT, ASTRON_LEN_NONE);
	expect_single("k=%X", ASTRON_CONV_UINT, ASTRON_LEN_NONE);
	expect_single("k=%o", ASTRON_CONV_UINT, ASTRON_LEN_NONE);
}

Test(format, double_conversions)
{
	static const char *const fmts[] = {"k=%f", "k=%F", "k=%e", "k=%E",
					   "k=%g", "k=%G", "k=%a", "k=%A"};

	for (size_t i = 0; i < sizeof fmts / sizeof *fmts; i++)
		expect_single(fmts[i], ASTRON_CONV_DOUBLE, ASTRON_LEN_NONE);
}

Test(format, long_double_conversions)
{
	static const char *const fmts[] = {"k=%Lf", "k=%LF", "k=%Le", "k=%LE",
					   "k=%Lg", "k=%LG", "k=%La", "k=%LA"};

	for (size_t i = 0; i < sizeof fmts / sizeof *fmts; i++)
		expect_single(fmts[i], ASTRON_CONV_LDOUBLE, ASTRON_LEN_BIG_L);
}

Test(format, l_double_is_still_double)
{
	/* %lf is a double (C99): the l has no effect. */
	expect_single("k=%lf", ASTRON_CONV_DOUBLE, ASTRON_LEN_L);
	expect_single("k=%lg", ASTRON_CONV_DOUBLE, ASTRON_LEN_L);
}

Test(format, char_string_pointer_conversions)
{
	expect_single("k=%c", ASTRON_CONV_CHAR, ASTRON_LEN_NONE);
	expect_single("k=%s", ASTRON_CONV_STR, ASTRON_LEN_NONE);
	expect_single("k=%p", ASTRON_CONV_PTR, ASTRON_LEN_NONE);
}

Test(format, string_default_precision_is_none)
{
	astron_plan_t *plan = parse("k=%s");

	cr_assert_eq(plan->ops[0].prec, -1);
	cr_assert_eq(plan->ops[0].star_width, 0);
	cr_assert_eq(plan->ops[0].star_prec, 0);
	astron_format_free(plan);
}

Test(format, percent_n_is_refused)
{
	astron_plan_t *plan = parse("a=%d n=%n b=%d");

	cr_assert_eq(plan->stopped, 0);
	cr_assert_eq(plan->nops, 3);
	expect_op(plan, 0, ASTRON_CONV_INT, ASTRON_LEN_NONE, 1, "a");
	expect_op(plan, 1, ASTRON_CONV_SKIP_PTR, ASTRON_LEN_NONE, 0, "");
	expect_op(plan, 2, ASTRON_CONV_INT, ASTRON_LEN_NONE, 1, "b");
	cr_assert_str_eq(plan->error,
			 "%n at offset 7 is refused (never written through)");
	cr_assert_eq(plan->nfields, 3); /* a, b, @error */
	EXPECT_PRE(plan, 0, "a");
	EXPECT_PRE_EMPTY(plan, 1);
	EXPECT_PRE(plan, 2, "b");
	EXPECT_TAIL(plan, "@error", plan->error);
	astron_format_free(plan);
}

Test(format, percent_n_with_length_is_refused)
{
	astron_plan_t *plan = parse("n=%hhn m=%lln");

	cr_assert_eq(plan->nops, 2);
	expect_op(plan, 0, ASTRON_CONV_SKIP_PTR, ASTRON_LEN_HH, 0, "");
	expect_op(plan, 1, ASTRON_CONV_SKIP_PTR, ASTRON_LEN_LL, 0, "");
	expect_error(plan, "%n at offset 2 is refused");
	cr_assert_eq(plan->nfields, 1);
	EXPECT_TAIL(plan, "@error", plan->error);
	astron_format_free(plan);
}

/* ---------------------------------------------------------------------- */
/* Length modifiers                                                       */
/* ---------------------------------------------------------------------- */

Test(format, length_modifiers_on_signed)
{
	expect_single("k=%hhd", ASTRON_CONV_INT, ASTRON_LEN_HH);
	expect_single("k=%hd", ASTRON_CONV_INT, ASTRON_LEN_H);
	expect_single("k=%ld", ASTRON_CONV_INT, ASTRON_LEN_L);
	expect_single("k=%lld", ASTRON_CONV_INT, ASTRON_LEN_LL);
	expect_single("k=%qd", ASTRON_CONV_INT, ASTRON_LEN_LL);
	expect_single("k=%zd", ASTRON_CONV_INT, ASTRON_LEN_Z);
	expect_single("k=%jd", ASTRON_CONV_INT, ASTRON_LEN_J);
	expect_single("k=%td", ASTRON_CONV_INT, ASTRON_LEN_T);
	expect_single("k=%hhi", ASTRON_CONV_INT, ASTRON_LEN_HH);
	expect_single("k=%lli", ASTRON_CONV_INT, ASTRON_LEN_LL);
}

Test(format, length_modifiers_on_unsigned)
{
	expect_single("k=%hhu", ASTRON_CONV_UINT, ASTRON_LEN_HH);
	expect_single("k=%hx", ASTRON_CONV_UINT, ASTRON_LEN_H);
	expect_single("k=%lX", ASTRON_CONV_UINT, ASTRON_LEN_L);
	expect_single("k=%llo", ASTRON_CONV_UINT, ASTRON_LEN_LL);
	expect_single("k=%qu", ASTRON_CONV_UINT, ASTRON_LEN_LL);
	expect_single("k=%zu", ASTRON_CONV_UINT, ASTRON_LEN_Z);
	expect_single("k=%zx", ASTRON_CONV_UINT, ASTRON_LEN_Z);
	expect_single("k=%ju", ASTRON_CONV_UINT, ASTRON_LEN_J);
	expect_single("k=%tu", ASTRON_CONV_UINT, ASTRON_LEN_T);
}

Test(format, big_l_on_integers_reads_long_long)
{
	/* glibc reads %Ld / %Lu as long long. */
	expect_single("k=%Ld", ASTRON_CONV_INT, ASTRON_LEN_LL);
	expect_single("k=%Li", ASTRON_CONV_INT, ASTRON_LEN_LL);
	expect_single("k=%Lu", ASTRON_CONV_UINT, ASTRON_LEN_LL);
	expect_single("k=%Lx", ASTRON_CONV_UINT, ASTRON_LEN_LL);
}

/* ---------------------------------------------------------------------- */
/* Flags, width, precision                                                */
/* ---------------------------------------------------------------------- */

Test(format, flags_and_width_are_skipped)
{
	expect_single("k=%-5d", ASTRON_CONV_INT, ASTRON_LEN_NONE);
	expect_single("k=%+d", ASTRON_CONV_INT, ASTRON_LEN_NONE);
	expect_single("k=%#x", ASTRON_CONV_UINT, ASTRON_LEN_NONE);
	expect_single("k=%08lu", ASTRON_CONV_UINT, ASTRON_LEN_L);
	expect_single("k=%'d", ASTRON_CONV_INT, ASTRON_LEN_NONE);
	expect_single("k=%Id", ASTRON_CONV_INT, ASTRON_LEN_NONE);
	expect_single("k=%-+#0'12.4lld", ASTRON_CONV_INT, ASTRON_LEN_LL);
	expect_single("k=%#10.3Lg", ASTRON_CONV_LDOUBLE, ASTRON_LEN_BIG_L);
	expect_single("k=%-20p", ASTRON_CONV_PTR, ASTRON_LEN_NONE);
}

Test(format, precision_is_recorded)
{
	astron_plan_t *plan = parse("a=%.3s b=%-20.5s c=%.s d=%10s e=%.12f");

	expect_no_error(plan);
	cr_assert_eq(plan->nops, 5);
	cr_assert_eq(plan->ops[0].prec, 3);
	cr_assert_eq(plan->ops[1].prec, 5);
	cr_assert_eq(plan->ops[2].prec, 0); /* "." alone means 0 */
	cr_assert_eq(plan->ops[3].prec, -1);
	cr_assert_eq(plan->ops[4].prec, 12);
	for (uint32_t i = 0; i < plan->nops; i++) {
		cr_assert_eq(plan->ops[i].star_width, 0);
		cr_assert_eq(plan->ops[i].star_prec, 0);
	}
	expect_op(plan, 4, ASTRON_CONV_DOUBLE, ASTRON_LEN_NONE, 1, "e");
	astron_format_free(plan);
}

Test(format, huge_precision_saturates)
{
	astron_plan_t *plan = parse("k=%.99999999999999999999s");

	expect_no_error(plan);
	cr_assert_eq(plan->nops, 1);
	cr_assert_geq(plan->ops[0].prec, 0, "prec %d overflowed",
		      plan->ops[0].prec);
	astron_format_free(plan);
}

Test(format, star_width)
{
	astron_plan_t *plan = parse("k=%*d");

	expect_no_error(plan);
	expect_op(plan, 0, ASTRON_CONV_INT, ASTRON_LEN_NONE, 1, "k");
	cr_assert_eq(plan->ops[0].star_width, 1);
	cr_assert_eq(plan->ops[0].star_prec, 0);
	cr_assert_eq(plan->ops[0].prec, -1);
	astron_format_free(plan);
}

Test(format, star_precision)
{
	astron_plan_t *plan = parse("k=%.*s");

	expect_no_error(plan);
	expect_op(plan, 0, ASTRON_CONV_STR, ASTRON_LEN_NONE, 1, "k");
	cr_assert_eq(plan->ops[0].star_width, 0);
	cr_assert_eq(plan->ops[0].star_prec, 1);
	cr_assert_eq(plan->ops[0].prec, -1);
	astron_format_free(plan);
}

Test(format, star_width_and_precision)
{
	astron_plan_t *plan = parse("k=%-*.*s f=%*.*Lf");

	expect_no_error(plan);
	cr_assert_eq(plan->nops, 2);
	expect_op(plan, 0, ASTRON_CONV_STR, ASTRON_LEN_NONE, 1, "k");
	cr_assert_eq(plan->ops[0].star_width, 1);
	cr_assert_eq(plan->ops[0].star_prec, 1);
	expect_op(plan, 1, ASTRON_CONV_LDOUBLE, ASTRON_LEN_BIG_L, 1, "f");
	cr_assert_eq(plan->ops[1].star_width, 1);
	cr_assert_eq(plan->ops[1].star_prec, 1);
	astron_format_free(plan);
}

/* ---------------------------------------------------------------------- */
/* Literal pairs, keys, separators                                        */
/* ---------------------------------------------------------------------- */

Test(format, literals_precede_the_next_key)
{
	astron_plan_t *plan = parse("app=demo ver=1.2 x=%d y=%s");

	expect_no_error(plan);
	cr_assert_eq(plan->nops, 2);
	cr_assert_eq(plan->nfields, 4);
	expect_op(plan, 0, ASTRON_CONV_INT, ASTRON_LEN_NONE, 1, "x");
	expect_op(plan, 1, ASTRON_CONV_STR, ASTRON_LEN_NONE, 1, "y");
	EXPECT_PRE(plan, 0, "app", "demo", "ver", "1.2", "x");
	EXPECT_PRE(plan, 1, "y");
	EXPECT_TAIL_EMPTY(plan);
	astron_format_free(plan);
}

Test(format, trailing_literals_are_the_tail)
{
	astron_plan_t *plan = parse("x=%d env=prod region=eu-west-1");

	expect_no_error(plan);
	cr_assert_eq(plan->nops, 1);
	cr_assert_eq(plan->nfields, 3);
	EXPECT_PRE(plan, 0, "x");
	EXPECT_TAIL(plan, "env", "prod", "region", "eu-west-1");
	astron_format_free(plan);
}

Test(format, literal_only_format)
{
	astron_plan_t *plan = parse("a=1 b=two");

	expect_no_error(plan);
	cr_assert_eq(plan->nops, 0);
	cr_assert_eq(plan->nfields, 2);
	EXPECT_TAIL(plan, "a", "1", "b", "two");
	cr_assert_eq(plan->fixed_max, plan->tail_len);
	astron_format_free(plan);
}

Test(format, double_percent_in_literal)
{
	astron_plan_t *plan = parse("ratio=100%% p=%% d=%%d x=a%%b%%");

	expect_no_error(plan);
	cr_assert_eq(plan->nops, 0);
	cr_assert_eq(plan->nfields, 4);
	EXPECT_TAIL(plan, "ratio", "100%", "p", "%", "d", "%d", "x", "a%b%");
	astron_format_free(plan);
}

Test(format, empty_literal)
{
	astron_plan_t *plan = parse("k= n=%d e=");

	expect_no_error(plan);
	cr_assert_eq(plan->nops, 1);
	cr_assert_eq(plan->nfields, 3);
	EXPECT_PRE(plan, 0, "k", "", "n");
	EXPECT_TAIL(plan, "e", "");
	astron_format_free(plan);
}

Test(format, literal_may_contain_equals)
{
	astron_plan_t *plan = parse("q=a=b k=%d");

	expect_no_error(plan);
	EXPECT_PRE(plan, 0, "q", "a=b", "k");
	astron_format_free(plan);
}

Test(format, utf8_keys_and_literals)
{
	astron_plan_t *plan = parse("ville=Zürich clé=%s 𝄞=✓");

	expect_no_error(plan);
	cr_assert_eq(plan->nops, 1);
	expect_op(plan, 0, ASTRON_CONV_STR, ASTRON_LEN_NONE, 1, "clé");
	EXPECT_PRE(plan, 0, "ville", "Zürich", "clé");
	EXPECT_TAIL(plan, "𝄞", "✓");
	astron_format_free(plan);
}

Test(format, spaces_and_tabs_separate_pairs)
{
	astron_plan_t *plan = parse("  a=%d \t\t b=lit\tc=%s   \t");

	expect_no_error(plan);
	cr_assert_eq(plan->nops, 2);
	cr_assert_eq(plan->nfields, 3);
	expect_op(plan, 0, ASTRON_CONV_INT, ASTRON_LEN_NONE, 1, "a");
	expect_op(plan, 1, ASTRON_CONV_STR, ASTRON_LEN_NONE, 1, "c");
	EXPECT_PRE(plan, 0, "a");
	EXPECT_PRE(plan, 1, "b", "lit", "c");
	EXPECT_TAIL_EMPTY(plan);
	astron_format_free(plan);
}

Test(format, long_key_and_literal_use_wider_headers)
{
	char fmt[700], key[41], lit[301];
	astron_plan_t *plan;

	memset(key, 'k', 40);
	key[40] = '\0'; /* str8 */
	memset(lit, 'v', 300);
	lit[300] = '\0'; /* str16 */
	snprintf(fmt, sizeof fmt, "%s=%s %s2=%%u", key, lit, key);
	plan = parse(fmt);
	expect_no_error(plan);
	cr_assert_eq(plan->nops, 1);
	{
		char key2[43];
		snprintf(key2, sizeof key2, "%s2", key);
		EXPECT_PRE(plan, 0, key, lit, key2);
		cr_assert_str_eq(plan->ops[0].key, key2);
		/* 2 + 40, 3 + 300, 2 + 41 */
		cr_assert_eq(plan->ops[0].pre_len, 42 + 303 + 43);
	}
	astron_format_free(plan);
}

Test(format, keys_live_in_the_plan)
{
	char fmt[] = "alpha=%d beta=%s";
	astron_plan_t *plan = astron_format_parse(fmt);

	cr_assert_not_null(plan);
	memset(fmt, 'X', sizeof fmt - 1); /* the caller's string changes */
	cr_assert_str_eq(plan->ops[0].key, "alpha");
	cr_assert_str_eq(plan->ops[1].key, "beta");
	EXPECT_PRE(plan, 0, "alpha");
	EXPECT_PRE(plan, 1, "beta");
	astron_format_free(plan);
}

Test(format, many_ops_grow_the_array)
{
	char fmt[512], key[16];
	size_t o = 0;
	astron_plan_t *plan;

	for (int i = 0; i < 40; i++)
		o += (size_t)snprintf(fmt + o, sizeof fmt - o, "k%d=%%d ", i);
	plan = parse(fmt);
	expect_no_error(plan);
	cr_assert_eq(plan->nops, 40);
	cr_assert_eq(plan->nfields, 40);
	for (uint32_t i = 0; i < 40; i++) {
		snprintf(key, sizeof key, "k%u", i);
		expect_op(plan, i, ASTRON_CONV_INT, ASTRON_LEN_NONE, 1, key);
		expect_pre_v(plan, i, (const char *const[]){key}, 1);
	}
	cr_assert_eq(plan->fixed_max, 40 * 9 + 10 * 3 + 30 * 4);
	astron_format_free(plan);
}

/* ---------------------------------------------------------------------- */
/* Reserves                                                               */
/* ---------------------------------------------------------------------- */

Test(format, reserve_and_fixed_max_by_hand)
{
	astron_plan_t *plan = parse("a=%d s=%s c=%c lit=x p=%p end=z");

	expect_no_error(plan);
	cr_assert_eq(plan->nops, 4);
	/* pre_len: "a" 2, "s" 2, "c" 2, "lit" "x" "p" 4+2+2 */
	cr_assert_eq(plan->ops[0].pre_len, 2);
	cr_assert_eq(plan->ops[1].pre_len, 2);
	cr_assert_eq(plan->ops[2].pre_len, 2);
	cr_assert_eq(plan->ops[3].pre_len, 8);
	cr_assert_eq(plan->tail_len, 4 + 2); /* "end" "z" */
	cr_assert_eq(plan->ops[3].reserve, 6);
	cr_assert_eq(plan->ops[2].reserve, 6 + 8 + 9);
	cr_assert_eq(plan->ops[1].reserve, 23 + 2 + 3);
	cr_assert_eq(plan->ops[0].reserve, 28 + 2 + 5);
	cr_assert_eq(plan->fixed_max, 35 + 2 + 9);
	astron_format_free(plan);
}

Test(format, reserve_counts_discarding_ops_and_error)
{
	astron_plan_t *plan = parse("a=%s =%d");

	expect_error(plan, "missing key");
	cr_assert_eq(plan->nops, 2);
	/* The discarding op writes nothing but is still bounded by 9. */
	cr_assert_eq(plan->ops[1].reserve, plan->tail_len);
	cr_assert_eq(plan->ops[0].reserve, plan->tail_len + 0 + 9);
	cr_assert_eq(plan->fixed_max, plan->tail_len + 9 + 2 + 5);
	astron_format_free(plan);
}

/* ---------------------------------------------------------------------- */
/* Malformed pairs: the arguments stay aligned                            */
/* ---------------------------------------------------------------------- */

Test(format, pair_without_equals)
{
	astron_plan_t *plan = parse("a=%d novalue b=%d");

	cr_assert_str_eq(plan->error, "pair 'novalue' at offset 5 has no '='");
	cr_assert_eq(plan->stopped, 0);
	cr_assert_eq(plan->nops, 2);
	cr_assert_eq(plan->nfields, 3);
	expect_op(plan, 0, ASTRON_CONV_INT, ASTRON_LEN_NONE, 1, "a");
	expect_op(plan, 1, ASTRON_CONV_INT, ASTRON_LEN_NONE, 1, "b");
	EXPECT_PRE(plan, 0, "a");
	EXPECT_PRE(plan, 1, "b");
	EXPECT_TAIL(plan, "@error", plan->error);
	astron_format_free(plan);
}

Test(format, pair_without_equals_still_consumes)
{
	astron_plan_t *plan = parse("a=%d val:%s%lu b=%d");

	expect_error(plan, "pair 'val:%s%lu' at offset 5 has no '='");
	cr_assert_eq(plan->nops, 4);
	expect_op(plan, 1, ASTRON_CONV_STR, ASTRON_LEN_NONE, 0, "");
	expect_op(plan, 2, ASTRON_CONV_UINT, ASTRON_LEN_L, 0, "");
	expect_op(plan, 3, ASTRON_CONV_INT, ASTRON_LEN_NONE, 1, "b");
	EXPECT_PRE_EMPTY(plan, 1);
	EXPECT_PRE_EMPTY(plan, 2);
	EXPECT_PRE(plan, 3, "b");
	astron_format_free(plan);
}

Test(format, missing_key_consumes_the_argument)
{
	astron_plan_t *plan = parse("=%d b=%s");

	cr_assert_str_eq(plan->error, "missing key in pair '=%d' at offset 0");
	cr_assert_eq(plan->nops, 2);
	cr_assert_eq(plan->nfields, 2);
	expect_op(plan, 0, ASTRON_CONV_INT, ASTRON_LEN_NONE, 0, "");
	expect_op(plan, 1, ASTRON_CONV_STR, ASTRON_LEN_NONE, 1, "b");
	EXPECT_PRE_EMPTY(plan, 0);
	EXPECT_PRE(plan, 1, "b");
	EXPECT_TAIL(plan, "@error", plan->error);
	astron_format_free(plan);
}

Test(format, key_with_conversion_consumes_both)
{
	astron_plan_t *plan = parse("%s=%d b=%u");

	cr_assert_str_eq(plan->error,
			 "a key cannot hold a conversion in pair '%s=%d' at offset 0");
	cr_assert_eq(plan->nops, 3);
	cr_assert_eq(plan->nfields, 2);
	expect_op(plan, 0, ASTRON_CONV_STR, ASTRON_LEN_NONE, 0, "");
	expect_op(plan, 1, ASTRON_CONV_INT, ASTRON_LEN_NONE, 0, "");
	expect_op(plan, 2, ASTRON_CONV_UINT, ASTRON_LEN_NONE, 1, "b");
	EXPECT_PRE(plan, 2, "b");
	astron_format_free(plan);
}

Test(format, key_with_double_percent_is_refused)
{
	astron_plan_t *plan = parse("a%%b=1 c=%d");

	expect_error(plan, "a key cannot hold a conversion");
	cr_assert_eq(plan->nops, 1);
	cr_assert_eq(plan->nfields, 2);
	expect_op(plan, 0, ASTRON_CONV_INT, ASTRON_LEN_NONE, 1, "c");
	astron_format_free(plan);
}

Test(format, text_mixed_with_conversion)
{
	astron_plan_t *plan = parse("k=abc%d n=%d");

	cr_assert_str_eq(plan->error,
			 "value of 'k' at offset 0 mixes text and conversions");
	cr_assert_eq(plan->nops, 2);
	cr_assert_eq(plan->nfields, 2); /* n and @error: no literal k */
	expect_op(plan, 0, ASTRON_CONV_INT, ASTRON_LEN_NONE, 0, "");
	expect_op(plan, 1, ASTRON_CONV_INT, ASTRON_LEN_NONE, 1, "n");
	EXPECT_PRE_EMPTY(plan, 0);
	EXPECT_PRE(plan, 1, "n");
	EXPECT_TAIL(plan, "@error", plan->error);
	astron_format_free(plan);
}

Test(format, conversion_followed_by_text)
{
	astron_plan_t *plan = parse("k=%dms n=%d");

	expect_error(plan, "mixes text and conversions");
	cr_assert_eq(plan->nops, 2);
	expect_op(plan, 0, ASTRON_CONV_INT, ASTRON_LEN_NONE, 0, "");
	expect_op(plan, 1, ASTRON_CONV_INT, ASTRON_LEN_NONE, 1, "n");
	astron_format_free(plan);
}

Test(format, two_conversions_in_one_value)
{
	astron_plan_t *plan = parse("k=%d%s%% n=%Lf");

	expect_error(plan, "mixes text and conversions");
	cr_assert_eq(plan->nops, 3);
	expect_op(plan, 0, ASTRON_CONV_INT, ASTRON_LEN_NONE, 0, "");
	expect_op(plan, 1, ASTRON_CONV_STR, ASTRON_LEN_NONE, 0, "");
	expect_op(plan, 2, ASTRON_CONV_LDOUBLE, ASTRON_LEN_BIG_L, 1, "n");
	astron_format_free(plan);
}

Test(format, discarding_ops_keep_star_arguments)
{
	astron_plan_t *plan = parse("=%*.*s n=%d");

	cr_assert_eq(plan->nops, 2);
	expect_op(plan, 0, ASTRON_CONV_STR, ASTRON_LEN_NONE, 0, "");
	cr_assert_eq(plan->ops[0].star_width, 1);
	cr_assert_eq(plan->ops[0].star_prec, 1);
	astron_format_free(plan);
}

Test(format, reserved_key_prefix)
{
	astron_plan_t *plan = parse("@file=x @n=%d b=%d");

	cr_assert_str_eq(plan->error, "keys starting with '@' are reserved "
				      "in pair '@file=x' at offset 0");
	cr_assert_eq(plan->nops, 2);
	cr_assert_eq(plan->nfields, 2); /* b, @error */
	expect_op(plan, 0, ASTRON_CONV_INT, ASTRON_LEN_NONE, 0, "");
	expect_op(plan, 1, ASTRON_CONV_INT, ASTRON_LEN_NONE, 1, "b");
	EXPECT_PRE_EMPTY(plan, 0);
	EXPECT_PRE(plan, 1, "b");
	EXPECT_TAIL(plan, "@error", plan->error);
	astron_format_free(plan);
}

Test(format, at_sign_inside_a_key_is_fine)
{
	astron_plan_t *plan = parse("user@host=%s");

	expect_no_error(plan);
	expect_op(plan, 0, ASTRON_CONV_STR, ASTRON_LEN_NONE, 1, "user@host");
	astron_format_free(plan);
}

Test(format, invalid_utf8_key)
{
	astron_plan_t *plan = parse("k\xff=%d b=%d");

	expect_error(plan, "key is not valid UTF-8");
	expect_error(plan, "at offset 0");
	cr_assert_eq(plan->nops, 2);
	cr_assert_eq(plan->nfields, 2);
	expect_op(plan, 0, ASTRON_CONV_INT, ASTRON_LEN_NONE, 0, "");
	expect_op(plan, 1, ASTRON_CONV_INT, ASTRON_LEN_NONE, 1, "b");
	EXPECT_PRE(plan, 1, "b");
	astron_format_free(plan);
}

Test(format, invalid_utf8_literal)
{
	astron_plan_t *plan = parse("k=\xc0\xaf b=%d");

	cr_assert_str_eq(plan->error,
			 "literal value of 'k' at offset 0 is not valid UTF-8");
	cr_assert_eq(plan->nops, 1);
	cr_assert_eq(plan->nfields, 2); /* b, @error: no literal k */
	expect_op(plan, 0, ASTRON_CONV_INT, ASTRON_LEN_NONE, 1, "b");
	EXPECT_PRE(plan, 0, "b");
	EXPECT_TAIL(plan, "@error", plan->error);
	astron_format_free(plan);
}

Test(format, surrogate_in_literal_is_invalid)
{
	astron_plan_t *plan = parse("k=a\xed\xa0\x80z");

	expect_error(plan, "not valid UTF-8");
	cr_assert_eq(plan->nfields, 1);
	astron_format_free(plan);
}

Test(format, wide_string_is_consumed_not_recorded)
{
	astron_plan_t *plan = parse("w=%ls b=%d");

	cr_assert_str_eq(plan->error, "wide string conversion is not supported");
	cr_assert_eq(plan->stopped, 0);
	cr_assert_eq(plan->nops, 2);
	cr_assert_eq(plan->nfields, 2);
	expect_op(plan, 0, ASTRON_CONV_STR, ASTRON_LEN_L, 0, "");
	expect_op(plan, 1, ASTRON_CONV_INT, ASTRON_LEN_NONE, 1, "b");
	EXPECT_PRE_EMPTY(plan, 0);
	EXPECT_PRE(plan, 1, "b");
	astron_format_free(plan);
}

Test(format, wide_char_is_consumed_not_recorded)
{
	astron_plan_t *plan = parse("c=%lc b=%d");

	cr_assert_str_eq(plan->error, "wide character conversion is not supported");
	cr_assert_eq(plan->nops, 2);
	cr_assert_eq(plan->nfields, 2);
	expect_op(plan, 0, ASTRON_CONV_CHAR, ASTRON_LEN_L, 0, "");
	expect_op(plan, 1, ASTRON_CONV_INT, ASTRON_LEN_NONE, 1, "b");
	astron_format_free(plan);
}

Test(format, capital_s_and_c_are_wide)
{
	astron_plan_t *plan = parse("w=%S c=%C");

	expect_error(plan, "wide");
	cr_assert_eq(plan->nops, 2);
	cr_assert_eq(plan->nfields, 1);
	expect_op(plan, 0, ASTRON_CONV_STR, ASTRON_LEN_L, 0, "");
	expect_op(plan, 1, ASTRON_CONV_CHAR, ASTRON_LEN_L, 0, "");
	astron_format_free(plan);
}

Test(format, percent_m_reads_no_argument)
{
	astron_plan_t *plan = parse("e=%m b=%d");

	cr_assert_not_null(plan->error);
	cr_assert_eq(plan->stopped, 0);
	cr_assert_eq(plan->nops, 1);
	expect_op(plan, 0, ASTRON_CONV_INT, ASTRON_LEN_NONE, 1, "b");
	astron_format_free(plan);
}

Test(format, only_the_first_error_is_kept)
{
	astron_plan_t *plan = parse("novalue =%d @x=1");

	cr_assert_str_eq(plan->error, "pair 'novalue' at offset 0 has no '='");
	cr_assert_eq(plan->nops, 1);
	cr_assert_eq(plan->nfields, 1);
	EXPECT_TAIL(plan, "@error", plan->error);
	astron_format_free(plan);
}

/* ---------------------------------------------------------------------- */
/* Unknown conversions stop the parse                                     */
/* ---------------------------------------------------------------------- */

/* Regression: the unknown conversion, not "mixes text", is reported. */
Test(format, unknown_conversion_stops_the_parse)
{
	astron_plan_t *plan = parse("a=%d k=%y b=%s c=lit");
	char error[256];

	cr_assert_eq(plan->stopped, 1);
	cr_assert_eq(plan->nops, 1, "later pairs were parsed");
	cr_assert_eq(plan->nfields, 2); /* a, @error */
	expect_op(plan, 0, ASTRON_CONV_INT, ASTRON_LEN_NONE, 1, "a");
	EXPECT_PRE(plan, 0, "a");
	EXPECT_TAIL(plan, "@error", plan->error);
	snprintf(error, sizeof error, "%s", plan->error);
	astron_format_free(plan);
	cr_assert_str_eq(error, "unknown conversion '%y' at offset 7");
}

Test(format, unknown_conversion_after_text_stops_the_parse)
{
	astron_plan_t *plan = parse("a=%d k=ab%w b=%s");

	cr_assert_eq(plan->stopped, 1);
	cr_assert_eq(plan->nops, 1);
	cr_assert_eq(plan->nfields, 2);
	expect_op(plan, 0, ASTRON_CONV_INT, ASTRON_LEN_NONE, 1, "a");
	cr_assert_not_null(plan->error);
	astron_format_free(plan);
}

Test(format, unknown_conversion_in_a_bad_pair_stops_the_parse)
{
	astron_plan_t *plan = parse("a=%d junk%d%k b=%s");

	/* junk%d is consumed (no '='), then %k cannot be sized. */
	cr_assert_eq(plan->stopped, 1);
	cr_assert_eq(plan->nops, 2);
	expect_op(plan, 1, ASTRON_CONV_INT, ASTRON_LEN_NONE, 0, "");
	cr_assert_eq(plan->nfields, 2);
	expect_error(plan, "pair 'junk%d%k' at offset 5 has no '='");
	astron_format_free(plan);
}

Test(format, unknown_conversion_in_a_key_reports_offset)
{
	astron_plan_t *plan = parse("a%y=1 b=%d");

	cr_assert_eq(plan->stopped, 1);
	cr_assert_eq(plan->nops, 0);
	cr_assert_eq(plan->nfields, 1);
	expect_error(plan, "at offset 0");
	astron_format_free(plan);
}

Test(format, lone_percent_at_end_stops_the_parse)
{
	astron_plan_t *plan = parse("a=%d k=%");

	cr_assert_eq(plan->stopped, 1);
	cr_assert_eq(plan->nops, 1);
	cr_assert_not_null(plan->error);
	astron_format_free(plan);
}

Test(format, positional_arguments_stop_the_parse)
{
	astron_plan_t *plan = parse("a=%1$d b=%d");

	cr_assert_eq(plan->stopped, 1);
	cr_assert_eq(plan->nops, 0);
	cr_assert_eq(plan->nfields, 1);
	astron_format_free(plan);
}

/* ---------------------------------------------------------------------- */
/* The "@error" value is a str: it must be valid UTF-8                    */
/* ---------------------------------------------------------------------- */

/* Regression: an invalid key quoted in @error is sanitized to UTF-8. */
Test(format, error_text_is_valid_utf8_for_a_bad_key)
{
	astron_plan_t *plan = astron_format_parse("k\xff=%d");

	char error[512];

	cr_assert_not_null(plan);
	cr_assert_not_null(plan->error);
	snprintf(error, sizeof error, "%s", plan->error);
	astron_format_free(plan);
	cr_assert(astron_utf8_valid((const uint8_t *)error, strlen(error)),
		  "@error \"%s\" is not valid UTF-8", error);
}

/* Regression: a long @error is never cut inside a UTF-8 character. */
Test(format, error_text_is_valid_utf8_when_cut)
{
	char fmt[512], error[512];
	astron_plan_t *plan;
	size_t n;

	for (int i = 0; i < 200; i++)
		memcpy(fmt + 2 * i, "\xc3\xa9", 2);
	fmt[400] = '\0';
	plan = astron_format_parse(fmt);
	cr_assert_not_null(plan);
	expect_error(plan, "pair '");
	snprintf(error, sizeof error, "%s", plan->error);
	astron_format_free(plan);
	n = strlen(error);
	cr_assert(astron_utf8_valid((const uint8_t *)error, n),
		  "@error of %zu bytes is not valid UTF-8 (ends with 0x%02x)",
		  n, (uint8_t)error[n - 1]);
}
