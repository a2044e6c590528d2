/*
 * utf8.c - the library's one UTF-8 decoder (RFC 3629) and what is built on
 * it: the slow path of utf8.h's validator, the sanitizer of log text, and
 * (in json.c) the JSON string escaper.
 */
#include "utf8.h"

/* Written with byte ranges rather than by assembling the code point: the
 * second byte alone decides overlong forms (E0 A0.., F0 90..), surrogates
 * (ED ..9F) and the U+10FFFF ceiling (F4 ..8F), so every rule of RFC 3629's
 * table is one comparison and nothing is decoded that is then thrown away. */
size_t astron_utf8_seq(const uint8_t *s, size_t n)
{
	unsigned c;

	if (n == 0)
		return 0;
	c = s[0];
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

int astron_utf8_valid_slow(const uint8_t *s, size_t n)
{
	size_t len;

	for (size_t i = 0; i < n; i += len)
		if ((len = astron_utf8_seq(s + i, n - i)) == 0)
			return 0;
	return 1;
}

void astron_utf8_sanitize(char *s)
{
	size_t n = strlen(s), i = 0;

	while (i < n) {
		size_t len = astron_utf8_seq((const uint8_t *)s + i, n - i);

		if (len) {
			i += len;
			continue;
		}
		s[i++] = '?';
	}
}
