/*
 * utf8.h - UTF-8 checks for strings that become msgpack str.
 *
 * msgpack's str type promises UTF-8; a decoder in another language may refuse
 * a str that is not.  So every string the library encodes is checked: ASCII
 * (the common case) is recognized a word at a time, anything else is fully
 * validated, and invalid data is sent as msgpack bin instead (see
 * doc/event-format.md).  The JSON writer (json.c) uses the same decoder.
 */
#ifndef ASTRON_UTF8_H
#define ASTRON_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The length (1 to 4) of the well-formed UTF-8 sequence at the start of
 * s[0..n) (no overlong forms, no surrogates, nothing above U+10FFFF), or 0
 * when there is none (n == 0, a stray or invalid byte, a sequence cut short
 * by n).  Everything below, and json.c's escaper, is built on it. */
size_t astron_utf8_seq(const uint8_t *s, size_t n);

/* 1 when s[0..n) is well-formed UTF-8: a run of astron_utf8_seq()s. */
int astron_utf8_valid_slow(const uint8_t *s, size_t n);

static inline int astron_utf8_valid(const uint8_t *s, size_t n)
{
	uint64_t acc = 0, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		acc |= w;
	}
	for (; i < n; i++)
		acc |= s[i];
	if (!(acc & 0x8080808080808080ull))
		return 1;
	return astron_utf8_valid_slow(s, n);
}

/* Replace every byte of s (NUL-terminated) that does not start or continue a
 * well-formed sequence (astron_utf8_seq()) with '?', in place. */
void astron_utf8_sanitize(char *s);

/* The largest m <= n such that s[0..m) does not end inside a multi-byte
 * sequence: used when a string is truncated, so that valid UTF-8 stays
 * valid. */
static inline size_t astron_utf8_cut(const uint8_t *s, size_t n)
{
	size_t m = n, back = 0;

	while (m > 0 && back < 3 && (s[m - 1] & 0xC0) == 0x80) {
		m--;
		back++;
	}
	if (m > 0 && s[m - 1] >= 0xC0) {
		/* s[m-1] leads a sequence; keep it only if complete. */
		uint8_t lead = s[m - 1];
		size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
		if (back + 1 < need)
			return m - 1;
		return n;
	}
	return n;
}

#endif /* ASTRON_UTF8_H */
