/*
 * format.c - parse "key=%conv key=literal ..." into a plan (see format.h).
 *
 * The parser runs once per call site, so it favours clarity over speed.  It
 * must never crash and never lose argument alignment: every conversion the C
 * compiler would consume an argument for is turned into an op, even when the
 * pair around it is malformed (such ops have record == 0: the hot path reads
 * the argument and throws it away).  Only a conversion we cannot size (an
 * unknown letter) ends the parse, because from there on we no longer know
 * where the following arguments are.
 */
#include "format.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* The largest encoding of one fixed-size value: int64/uint64/float64 are 9
 * bytes; a string header is at most 5. */
#define ASTRON_MAX_SCALAR 9
#define ASTRON_MAX_STRHDR 5

typedef struct spec {
	int kind; /* SPEC_* */
	uint8_t conv, len, star_width, star_prec;
	int32_t prec;
	size_t end; /* offset just past the spec */
} spec_t;

enum {
	SPEC_CONV,    /* a conversion that reads arguments */
	SPEC_PERCENT, /* %% */
	SPEC_NOARG,   /* a known conversion that reads nothing (%m) */
	SPEC_UNKNOWN  /* cannot be sized: the parse stops */
};

typedef struct parser {
	astron_plan_t *plan;
	msgpack_sbuffer bytes;
	msgpack_packer pk;
	uint32_t pending_off; /* literal pairs not yet attached to an op */
	size_t cap_ops;
	int oom;
} parser_t;

/* Record the first problem only: later ones are usually consequences. */
static void set_error(parser_t *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_error(parser_t *ps, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	if (ps->plan->error)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	/* The message quotes the format, which may hold invalid UTF-8 or be
	 * cut mid-character; it becomes a msgpack str, so make it valid. */
	astron_utf8_sanitize(buf);
	ps->plan->error = strdup(buf);
	if (!ps->plan->error)
		ps->oom = 1;
}

/* Parse the conversion specification that starts at s[0] == '%'. */
static spec_t parse_spec(const char *s)
{
	spec_t sp = {SPEC_UNKNOWN, 0, ASTRON_LEN_NONE, 0, 0, -1, 1};
	size_t i = 1;

	if (s[1] == '%') {
		sp.kind = SPEC_PERCENT;
		sp.end = 2;
		return sp;
	}
	while (s[i] && strchr("-+ #0'I", s[i]))
		i++;
	if (s[i] == '*') {
		sp.star_width = 1;
		i++;
	}
	while (s[i] >= '0' && s[i] <= '9')
		i++;
	if (s[i] == '.') {
		i++;
		if (s[i] == '*') {
			sp.star_prec = 1;
			i++;
		} else {
			long p = 0;
			while (s[i] >= '0' && s[i] <= '9') {
				if (p < 0x7fffffff / 10)
					p = p * 10 + (s[i] - '0');
				i++;
			}
			sp.prec = (int32_t)p;
		}
	}
	switch (s[i]) {
	case 'h':
		sp.len = s[i + 1] == 'h' ? ASTRON_LEN_HH : ASTRON_LEN_H;
		i += s[i + 1] == 'h' ? 2 : 1;
		break;
	case 'l':
		sp.len = s[i + 1] == 'l' ? ASTRON_LEN_LL : ASTRON_LEN_L;
		i += s[i + 1] == 'l' ? 2 : 1;
		break;
	case 'q':
		sp.len = ASTRON_LEN_LL;
		i++;
		break;
	case 'z':
		sp.len = ASTRON_LEN_Z;
		i++;
		break;
	case 'j':
		sp.len = ASTRON_LEN_J;
		i++;
		break;
	case 't':
		sp.len = ASTRON_LEN_T;
		i++;
		break;
	case 'L':
		sp.len = ASTRON_LEN_BIG_L;
		i++;
		break;
	}
	sp.end = s[i] ? i + 1 : i;
	sp.kind = SPEC_CONV;
	switch (s[i]) {
	case 'd':
	case 'i':
		sp.conv = ASTRON_CONV_INT;
		if (sp.len == ASTRON_LEN_BIG_L)
			sp.len = ASTRON_LEN_LL; /* glibc reads %Ld as long long */
		break;
	case 'u':
	case 'x':
	case 'X':
	case 'o':
		sp.conv = ASTRON_CONV_UINT;
		if (sp.len == ASTRON_LEN_BIG_L)
			sp.len = ASTRON_LEN_LL;
		break;
	case 'f': case 'F': case 'e': case 'E':
	case 'g': case 'G': case 'a': case 'A':
		sp.conv = sp.len == ASTRON_LEN_BIG_L ? ASTRON_CONV_LDOUBLE
						     : ASTRON_CONV_DOUBLE;
		break;
	case 'c':
		sp.conv = ASTRON_CONV_CHAR;
		break;
	case 'C':
		sp.conv = ASTRON_CONV_CHAR;
		sp.len = ASTRON_LEN_L;
		break;
	case 's':
		sp.conv = ASTRON_CONV_STR;
		break;
	case 'S':
		sp.conv = ASTRON_CONV_STR;
		sp.len = ASTRON_LEN_L;
		break;
	case 'p':
		sp.conv = ASTRON_CONV_PTR;
		break;
	case 'n':
		sp.conv = ASTRON_CONV_SKIP_PTR;
		break;
	case 'm':
		sp.kind = SPEC_NOARG;
		break;
	default:
		sp.kind = SPEC_UNKNOWN;
		break;
	}
	return sp;
}

static uint32_t value_max(uint8_t conv)
{
	switch (conv) {
	case ASTRON_CONV_STR:
		return ASTRON_MAX_STRHDR;
	case ASTRON_CONV_CHAR:
		return 3; /* bin8 header + one byte */
	default:
		return ASTRON_MAX_SCALAR;
	}
}

static void pack_str(parser_t *ps, const char *s, size_t n)
{
	if (msgpack_pack_str(&ps->pk, n) || msgpack_pack_str_body(&ps->pk, s, n))
		ps->oom = 1;
}

/* The shortcut for an op, if it has one (see enum astron_fast).  The 64-bit
 * ones read the argument as long long, which is what l, j and t are on LP64
 * (checked here, so elsewhere they stay on the general path); z is size_t,
 * unsigned, so %zd keeps the general path's conversion. */
static uint8_t fast_of(const astron_op_t *op)
{
	int wide = sizeof(long) == sizeof(long long) &&
		   sizeof(intmax_t) == sizeof(long long) &&
		   sizeof(ptrdiff_t) == sizeof(long long) &&
		   sizeof(size_t) == sizeof(long long);

	if (!op->record || op->star_width || op->star_prec)
		return ASTRON_FAST_NONE;
	switch (op->conv) {
	case ASTRON_CONV_INT:
		if (op->len == ASTRON_LEN_NONE)
			return ASTRON_FAST_INT;
		if (op->len == ASTRON_LEN_LL ||
		    (wide && (op->len == ASTRON_LEN_L || op->len == ASTRON_LEN_J ||
			      op->len == ASTRON_LEN_T)))
			return ASTRON_FAST_LLONG;
		break;
	case ASTRON_CONV_UINT:
		if (op->len == ASTRON_LEN_NONE)
			return ASTRON_FAST_UINT;
		if (op->len == ASTRON_LEN_LL ||
		    (wide && (op->len == ASTRON_LEN_L || op->len == ASTRON_LEN_J ||
			      op->len == ASTRON_LEN_Z)))
			return ASTRON_FAST_ULLONG;
		break;
	case ASTRON_CONV_DOUBLE:
		return ASTRON_FAST_DOUBLE;
	case ASTRON_CONV_STR:
		if (op->len == ASTRON_LEN_NONE)
			return ASTRON_FAST_STR;
		break;
	}
	return ASTRON_FAST_NONE;
}

/* Append an op that reads the argument(s) of `sp`; `key` NULL means the value
 * is read and discarded.  The op takes over the literal pairs packed since
 * the previous op as the first part of its pre-bytes. */
static void add_op(parser_t *ps, const spec_t *sp, const char *key)
{
	astron_plan_t *plan = ps->plan;
	astron_op_t *op;
	int record = key != NULL;

	/* A wide character or string cannot be encoded faithfully here: read
	 * its argument (we know its size) and report it. */
	if ((sp->conv == ASTRON_CONV_CHAR || sp->conv == ASTRON_CONV_STR) &&
	    sp->len == ASTRON_LEN_L) {
		set_error(ps, "wide %s conversion is not supported",
			  sp->conv == ASTRON_CONV_CHAR ? "character" : "string");
		record = 0;
	}
	if (plan->nops == ps->cap_ops) {
		size_t cap = ps->cap_ops ? ps->cap_ops * 2 : 8;
		astron_op_t *ops = realloc(plan->ops, cap * sizeof *ops);
		if (!ops) {
			ps->oom = 1;
			return;
		}
		plan->ops = ops;
		ps->cap_ops = cap;
	}
	op = &plan->ops[plan->nops++];
	memset(op, 0, sizeof *op);
	op->conv = sp->conv;
	op->len = sp->len;
	op->star_width = sp->star_width;
	op->star_prec = sp->star_prec;
	op->prec = sp->prec;
	op->record = (uint8_t)record;
	op->pre_off = ps->pending_off;
	if (record) {
		op->key = key;
		pack_str(ps, key, strlen(key));
		plan->nfields++;
	} else {
		op->key = "";
	}
	op->pre_len = (uint32_t)ps->bytes.size - op->pre_off;
	ps->pending_off = (uint32_t)ps->bytes.size;
	op->fast = fast_of(op);
}

/* Turn every conversion in s[0..n) into a discarding op, so the arguments
 * stay aligned; stop at one we cannot size. */
static void consume_all(parser_t *ps, const char *s, size_t n, size_t base)
{
	size_t i = 0;

	while (i < n && !ps->plan->stopped) {
		spec_t sp;

		if (s[i] != '%') {
			i++;
			continue;
		}
		sp = parse_spec(s + i);
		if (sp.kind == SPEC_UNKNOWN) {
			set_error(ps, "unknown conversion '%.*s' at offset %zu",
				  (int)(sp.end), s + i, base + i);
			ps->plan->stopped = 1;
			return;
		}
		if (sp.kind == SPEC_CONV) {
			if (sp.conv == ASTRON_CONV_SKIP_PTR)
				set_error(ps, "%%n at offset %zu is refused "
					  "(never written through)", base + i);
			add_op(ps, &sp, NULL);
		}
		i += sp.end;
	}
}

/* A key is any non-empty run of valid UTF-8 without '%', not starting with
 * the metadata prefix. */
static const char *key_problem(const char *key, size_t n)
{
	if (n == 0)
		return "missing key";
	if (key[0] == ASTRON_META_PREFIX)
		return "keys starting with '@' are reserved";
	if (memchr(key, '%', n))
		return "a key cannot hold a conversion";
	if (!astron_utf8_valid((const uint8_t *)key, n))
		return "key is not valid UTF-8";
	return NULL;
}

/* Handle one space-delimited token tok[0..n) found at offset base. */
static void parse_pair(parser_t *ps, char *tok, size_t n, size_t base)
{
	char *eq = memchr(tok, '=', n);
	size_t klen = eq ? (size_t)(eq - tok) : n;
	char *val = eq ? eq + 1 : tok + n;
	size_t vlen = eq ? n - klen - 1 : 0;
	const char *why;

	if (!eq) {
		set_error(ps, "pair '%.*s' at offset %zu has no '='", (int)n,
			  tok, base);
		consume_all(ps, tok, n, base);
		return;
	}
	why = key_problem(tok, klen);
	if (why) {
		set_error(ps, "%s in pair '%.*s' at offset %zu", why, (int)n,
			  tok, base);
		consume_all(ps, tok, n, base);
		return;
	}
	*eq = '\0'; /* the key is now a C string inside fmt_copy */

	if (vlen > 0 && val[0] == '%' && val[1] != '%') {
		spec_t sp = parse_spec(val);
		if (sp.kind == SPEC_CONV && sp.end == vlen) {
			if (sp.conv == ASTRON_CONV_SKIP_PTR) {
				set_error(ps, "%%n at offset %zu is refused "
					  "(never written through)", base + klen + 1);
				add_op(ps, &sp, NULL);
			} else {
				add_op(ps, &sp, tok);
			}
			return;
		}
	}
	/* A literal: %% stands for '%'; any other '%' is an error. */
	{
		size_t i, o = 0;
		for (i = 0; i < vlen; i++) {
			if (val[i] != '%') {
				val[o++] = val[i];
			} else if (i + 1 < vlen && val[i + 1] == '%') {
				val[o++] = '%';
				i++;
			} else {
				/* Consume first: an unknown conversion here is
				 * the error worth reporting (it stops the parse). */
				consume_all(ps, val + i, vlen - i, base + klen + 1 + i);
				set_error(ps, "value of '%s' at offset %zu mixes "
					  "text and conversions", tok, base);
				return;
			}
		}
		if (!astron_utf8_valid((const uint8_t *)val, o)) {
			set_error(ps, "literal value of '%s' at offset %zu is "
				  "not valid UTF-8", tok, base);
			return;
		}
		pack_str(ps, tok, klen);
		pack_str(ps, val, o);
		ps->plan->nfields++;
	}
}

/* Compute each op's reserve (what the rest of the event may need besides
 * string bodies) walking backwards, and the plan's fixed maximum. */
static void compute_reserves(astron_plan_t *plan)
{
	uint32_t need = plan->tail_len;
	uint32_t i = plan->nops;

	while (i-- > 0) {
		plan->ops[i].reserve = need;
		need += plan->ops[i].pre_len + value_max(plan->ops[i].conv);
	}
	plan->fixed_max = need;
}

/* Pairs are separated by white space; a trailing "\n" (a printf habit) is
 * therefore harmless. */
static int is_sep(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

astron_plan_t *astron_format_parse(const char *fmt)
{
	parser_t ps;
	astron_plan_t *plan = calloc(1, sizeof *plan);
	size_t i = 0, n;

	if (!plan)
		return NULL;
	memset(&ps, 0, sizeof ps);
	ps.plan = plan;
	msgpack_sbuffer_init(&ps.bytes);
	msgpack_packer_init(&ps.pk, &ps.bytes, msgpack_sbuffer_write);

	if (!fmt) {
		set_error(&ps, "format is NULL");
		fmt = "";
	}
	plan->fmt_copy = strdup(fmt);
	if (!plan->fmt_copy)
		ps.oom = 1;
	n = plan->fmt_copy ? strlen(plan->fmt_copy) : 0;

	while (i < n && !plan->stopped && !ps.oom) {
		size_t start;
		if (is_sep(plan->fmt_copy[i])) {
			i++;
			continue;
		}
		start = i;
		while (i < n && !is_sep(plan->fmt_copy[i]))
			i++;
		/* Terminate the token so no spec parse can read past it. */
		plan->fmt_copy[i] = '\0';
		parse_pair(&ps, plan->fmt_copy + start, i - start, start);
		i++;
	}

	if (plan->error) {
		pack_str(&ps, "@error", 6);
		pack_str(&ps, plan->error, strlen(plan->error));
		plan->nfields++;
	}
	plan->tail_off = ps.pending_off;
	plan->tail_len = (uint32_t)ps.bytes.size - ps.pending_off;
	/* Slack for the hot path's whole-chunk copies (encode.h). */
	{
		static const char zeros[ASTRON_COPY_SLACK_BYTES];
		if (msgpack_sbuffer_write(&ps.bytes, zeros, sizeof zeros))
			ps.oom = 1;
	}
	plan->bytes = (uint8_t *)ps.bytes.data; /* the plan owns it now */
	if (ps.oom || !plan->bytes) {
		astron_format_free(plan);
		return NULL;
	}
	compute_reserves(plan);
	return plan;
}

void astron_format_free(astron_plan_t *plan)
{
	if (!plan)
		return;
	free(plan->fmt_copy);
	free(plan->ops);
	free(plan->bytes);
	free(plan->error);
	free(plan);
}
