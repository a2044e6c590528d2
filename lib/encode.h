/*
 * encode.h - the hot path's encoder: va_list values -> msgpack, via msgpack-c.
 *
 * The caller guarantees that [p, limit) is writable, and every op's `reserve`
 * keeps enough room for what follows it, so writes need no bounds checks;
 * only string bodies are measured against the room left and cut (at a UTF-8
 * boundary) when they do not fit.  msgpack-c's packer functions are static
 * inline and our write callback is a known static function, so the compiler
 * reduces each value to a few stores.
 */
#ifndef ASTRON_ENCODE_H
#define ASTRON_ENCODE_H

#include <msgpack.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <wchar.h>

#include "format.h"
#include "utf8.h"

typedef struct astron_wbuf {
	uint8_t *p;
} astron_wbuf_t;

static inline int astron_wbuf_write(void *data, const char *buf, size_t len)
{
	astron_wbuf_t *w = (astron_wbuf_t *)data;
	memcpy(w->p, buf, len);
	w->p += len;
	return 0;
}

/* Slack the plan's byte buffer and every reservation keep past their end, so
 * short copies can move a whole 16-byte chunk (see format.c and site.c). */
#define ASTRON_COPY_SLACK ASTRON_COPY_SLACK_BYTES

/* Copy pre-encoded bytes; most are a key or two, copied as one chunk. */
static inline uint8_t *astron_copy_pre(uint8_t *d, const uint8_t *s, uint32_t n)
{
	if (__builtin_expect(n <= ASTRON_COPY_SLACK, 1))
		memcpy(d, s, ASTRON_COPY_SLACK);
	else
		memcpy(d, s, n);
	return d + n;
}

/* A string (or bytes of a %c) as str when UTF-8, else bin; at most `room`
 * bytes of body.  n is its full length.  Returns 1 when it was cut. */
static inline int astron_encode_bytes(msgpack_packer *pk, const char *s,
				      size_t n, size_t room)
{
	int cut = 0;

	if (n > room) {
		n = astron_utf8_cut((const uint8_t *)s, room);
		cut = 1;
	}
	if (astron_utf8_valid((const uint8_t *)s, n)) {
		msgpack_pack_str(pk, n);
		msgpack_pack_str_body(pk, s, n);
	} else {
		msgpack_pack_bin(pk, n);
		msgpack_pack_bin_body(pk, s, n);
	}
	return cut;
}

static inline int64_t astron_read_int(uint8_t len, va_list *ap)
{
	switch (len) {
	case ASTRON_LEN_HH: return (signed char)va_arg(*ap, int);
	case ASTRON_LEN_H: return (short)va_arg(*ap, int);
	case ASTRON_LEN_L: return va_arg(*ap, long);
	case ASTRON_LEN_LL: return va_arg(*ap, long long);
	case ASTRON_LEN_Z: return (int64_t)va_arg(*ap, size_t);
	case ASTRON_LEN_J: return va_arg(*ap, intmax_t);
	case ASTRON_LEN_T: return va_arg(*ap, ptrdiff_t);
	default: return va_arg(*ap, int);
	}
}

static inline uint64_t astron_read_uint(uint8_t len, va_list *ap)
{
	switch (len) {
	case ASTRON_LEN_HH: return (unsigned char)va_arg(*ap, unsigned);
	case ASTRON_LEN_H: return (unsigned short)va_arg(*ap, unsigned);
	case ASTRON_LEN_L: return va_arg(*ap, unsigned long);
	case ASTRON_LEN_LL: return va_arg(*ap, unsigned long long);
	case ASTRON_LEN_Z: return va_arg(*ap, size_t);
	case ASTRON_LEN_J: return va_arg(*ap, uintmax_t);
	case ASTRON_LEN_T: return (uint64_t)va_arg(*ap, ptrdiff_t);
	default: return va_arg(*ap, unsigned);
	}
}

/* The common string: short and ASCII.  Scan, check and copy in one pass,
 * with the body right after a one-byte fixstr header; returns NULL (having
 * written nothing that matters) for anything else, which then takes the
 * general path. */
static inline uint8_t *astron_encode_short_str(uint8_t *p, const char *s,
					       long prec, size_t room)
{
	size_t lim = room < 31 ? room : 31, n = 0;
	unsigned acc = 0;
	astron_wbuf_t hw = {p};
	msgpack_packer hp;

	if (prec >= 0 && (size_t)prec < lim)
		lim = (size_t)prec;
	/* Two bytes a turn (half the loop's own work).  s[n + 1] is read
	 * only once s[n] is known not to be the NUL, and below lim. */
	while (n + 1 < lim) {
		unsigned c0 = (unsigned char)s[n], c1;

		if (!c0)
			goto ended;
		c1 = (unsigned char)s[n + 1];
		p[1 + n] = (uint8_t)c0;
		acc |= c0;
		if (!c1) {
			n++;
			goto ended;
		}
		p[2 + n] = (uint8_t)c1;
		acc |= c1;
		n += 2;
	}
	if (n < lim && s[n]) {
		acc |= (unsigned char)s[n];
		p[1 + n] = (uint8_t)s[n];
		n++;
	}
ended:
	/* Complete when it ended before lim, or exactly at lim because the
	 * precision says so (never read s[prec]) or a NUL follows. */
	if (n == lim && !(prec >= 0 && (size_t)prec == lim) && s[n])
		return NULL;
	if (acc & 0x80)
		return NULL;
	msgpack_packer_init(&hp, &hw, astron_wbuf_write);
	msgpack_pack_str(&hp, n); /* one byte: 0xa0 | n */
	return p + 1 + n;
}

/* A %s value: nil for NULL; the short ASCII path; else str or bin, cut to
 * what the rest of the event leaves room for (its widest header and the
 * copy slack stay free).  Returns the end; *cut is set when it was cut. */
static inline __attribute__((always_inline)) uint8_t *
astron_encode_str(msgpack_packer *pk, uint8_t *p, const char *s, long prec,
		  const uint8_t *limit, uint32_t reserve, int *cut)
{
	astron_wbuf_t *w = (astron_wbuf_t *)pk->data;
	size_t room, n;
	uint8_t *e;

	if (!s) {
		*p = 0xc0; /* msgpack nil */
		return p + 1;
	}
	room = (size_t)(limit - p) - reserve - 5 - ASTRON_COPY_SLACK;
	e = astron_encode_short_str(p, s, prec, room);
	if (__builtin_expect(e != NULL, 1))
		return e;
	n = prec >= 0 && (size_t)prec <= room ? strnlen(s, (size_t)prec)
					       : strnlen(s, room + 1);
	w->p = p;
	*cut |= astron_encode_bytes(pk, s, n, room);
	return w->p;
}

/* Everything without a shortcut: '*' arguments, length modifiers, %c, %p,
 * %n, values read and discarded.  Out of line, to keep the loop small. */
static __attribute__((noinline)) uint8_t *
astron_encode_general(const astron_op_t *op, msgpack_packer *pk, uint8_t *p,
		      const uint8_t *limit, int *cut, va_list *ap)
{
	astron_wbuf_t *w = (astron_wbuf_t *)pk->data;
	long prec = op->prec;

	w->p = p;
	if (op->star_width)
		(void)va_arg(*ap, int);
	if (op->star_prec) {
		int pr = va_arg(*ap, int);
		prec = pr < 0 ? -1 : pr;
	}
	switch (op->conv) {
	case ASTRON_CONV_INT: {
		int64_t v = astron_read_int(op->len, ap);
		if (op->record)
			msgpack_pack_int64(pk, v);
		break;
	}
	case ASTRON_CONV_UINT: {
		uint64_t v = astron_read_uint(op->len, ap);
		if (op->record)
			msgpack_pack_uint64(pk, v);
		break;
	}
	case ASTRON_CONV_DOUBLE: {
		double v = va_arg(*ap, double);
		if (op->record)
			msgpack_pack_double(pk, v);
		break;
	}
	case ASTRON_CONV_LDOUBLE: {
		long double v = va_arg(*ap, long double);
		if (op->record)
			msgpack_pack_double(pk, (double)v);
		break;
	}
	case ASTRON_CONV_CHAR: {
		int c = op->len == ASTRON_LEN_L ? (int)va_arg(*ap, wint_t)
						: va_arg(*ap, int);
		char b = (char)c;
		if (op->record)
			astron_encode_bytes(pk, &b, 1, 1);
		break;
	}
	case ASTRON_CONV_STR: {
		const char *s = va_arg(*ap, const char *);
		if (op->record)
			w->p = astron_encode_str(pk, w->p, s, prec, limit,
						 op->reserve, cut);
		break;
	}
	case ASTRON_CONV_PTR: {
		void *v = va_arg(*ap, void *);
		if (op->record)
			msgpack_pack_uint64(pk, (uint64_t)(uintptr_t)v);
		break;
	}
	default: /* ASTRON_CONV_SKIP_PTR: %n, never written through */
		(void)va_arg(*ap, void *);
		break;
	}
	return w->p;
}

/* Encode the plan's fields from *ap into p; returns the end.  *cut is set
 * when a string was truncated to fit `limit`.  The common ops take their
 * shortcut (format.h: enum astron_fast); msgpack-c picks the smallest
 * encoding of each number whichever packer is used. */
static inline uint8_t *astron_encode_fields(const astron_plan_t *plan,
					    uint8_t *p, const uint8_t *limit,
					    int *cut, va_list *ap)
{
	astron_wbuf_t w = {p};
	msgpack_packer pk;

	msgpack_packer_init(&pk, &w, astron_wbuf_write);
	for (uint32_t i = 0; i < plan->nops; i++) {
		const astron_op_t *op = &plan->ops[i];

		w.p = astron_copy_pre(w.p, plan->bytes + op->pre_off, op->pre_len);
		switch (op->fast) {
		case ASTRON_FAST_INT:
			msgpack_pack_int(&pk, va_arg(*ap, int));
			break;
		case ASTRON_FAST_LLONG:
			msgpack_pack_long_long(&pk, va_arg(*ap, long long));
			break;
		case ASTRON_FAST_UINT:
			msgpack_pack_unsigned_int(&pk, va_arg(*ap, unsigned));
			break;
		case ASTRON_FAST_ULLONG:
			msgpack_pack_unsigned_long_long(
				&pk, va_arg(*ap, unsigned long long));
			break;
		case ASTRON_FAST_DOUBLE:
			msgpack_pack_double(&pk, va_arg(*ap, double));
			break;
		case ASTRON_FAST_STR:
			w.p = astron_encode_str(&pk, w.p, va_arg(*ap, const char *),
						op->prec, limit, op->reserve, cut);
			break;
		default:
			w.p = astron_encode_general(op, &pk, w.p, limit, cut, ap);
			break;
		}
	}
	return astron_copy_pre(w.p, plan->bytes + plan->tail_off, plan->tail_len);
}

#endif /* ASTRON_ENCODE_H */
