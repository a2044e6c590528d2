/*
 * format.h - the format mini-language, parsed once per call site into a plan.
 *
 * A plan is everything the hot path needs to turn a va_list into msgpack
 * key/value pairs without looking at the format string again: one op per
 * conversion (what to read from the va_list, how to encode it) and the
 * pre-encoded bytes (literal pairs and keys) to copy around the values.
 */
#ifndef ASTRON_FORMAT_H
#define ASTRON_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* What an op reads from the va_list and how the value is encoded. */
enum astron_conv {
	ASTRON_CONV_INT,     /* d i: signed, msgpack int */
	ASTRON_CONV_UINT,    /* u x X o: unsigned, msgpack uint */
	ASTRON_CONV_DOUBLE,  /* f F e E g G a A: double, msgpack float64 */
	ASTRON_CONV_LDOUBLE, /* the same with L: long double, sent as float64 */
	ASTRON_CONV_CHAR,    /* c: one byte, msgpack str (bin if not UTF-8) */
	ASTRON_CONV_STR,     /* s: str, nil for NULL, bin if not UTF-8 */
	ASTRON_CONV_PTR,     /* p: msgpack uint */
	ASTRON_CONV_SKIP_PTR /* n: the pointer is read and never written */
};

/* Length modifiers. */
enum astron_len {
	ASTRON_LEN_NONE,
	ASTRON_LEN_HH,
	ASTRON_LEN_H,
	ASTRON_LEN_L,
	ASTRON_LEN_LL,
	ASTRON_LEN_Z,
	ASTRON_LEN_J,
	ASTRON_LEN_T,
	ASTRON_LEN_BIG_L
};

/* The hot path's shortcut for the common ops (no '*', a plain length, a
 * recorded value): one dispatch that knows the argument's type.  Everything
 * else is ASTRON_FAST_NONE and goes through conv/len. */
enum astron_fast {
	ASTRON_FAST_NONE,
	ASTRON_FAST_INT,    /* %d %i: int */
	ASTRON_FAST_LLONG,  /* %ld %lld %jd %td on LP64: 64-bit signed */
	ASTRON_FAST_UINT,   /* %u %x %X %o: unsigned */
	ASTRON_FAST_ULLONG, /* the same with l ll z j */
	ASTRON_FAST_DOUBLE, /* %f %e %g %a ... */
	ASTRON_FAST_STR     /* %s, with or without a fixed precision */
};

typedef struct astron_op {
	uint8_t fast;	   /* enum astron_fast */
	uint8_t conv;	   /* enum astron_conv */
	uint8_t len;	   /* enum astron_len */
	uint8_t star_width; /* an int width argument precedes the value */
	uint8_t star_prec;  /* an int precision argument precedes the value */
	uint8_t record;	   /* 0: read and discard (the pair was malformed) */
	int32_t prec;	   /* %.Ns bound, -1 when none */
	uint32_t pre_off;  /* bytes to copy before the value: literal pairs */
	uint32_t pre_len;  /*   preceding it, then the encoded key */
	uint32_t reserve;  /* bytes the rest of the event may still need */
	const char *key;   /* NUL-terminated, inside the plan (for tests, logs) */
} astron_op_t;

typedef struct astron_plan {
	char *fmt_copy;	   /* the format, its keys NUL-split in place */
	astron_op_t *ops;
	uint32_t nops;	   /* every op consumes arguments */
	uint32_t nfields;  /* map entries the hot path writes, @error included */
	uint8_t *bytes;	   /* pre-encoded literals and keys */
	uint32_t tail_off; /* bytes after the last value: trailing literals */
	uint32_t tail_len; /*   and the "@error" pair */
	uint32_t fixed_max; /* upper bound of everything but string bodies */
	char *error;	   /* first problem in the format, NULL when none */
	int stopped;	   /* an unknown conversion ended the parse: later
			      arguments are not read */
} astron_plan_t;

/* Parse fmt (NULL is treated as an error, "" as an event with no fields).
 * Never fails on bad input: problems are described in plan->error and the
 * "@error" field; returns NULL only when out of memory. */
astron_plan_t *astron_format_parse(const char *fmt);
void astron_format_free(astron_plan_t *plan);

/* Zero bytes padded after plan->bytes; encode.h copies up to this many past
 * the end of a short run (ASTRON_COPY_SLACK there). */
#define ASTRON_COPY_SLACK_BYTES 16

/* Keys starting with this are the library's own metadata. */
#define ASTRON_META_PREFIX '@'

#endif /* ASTRON_FORMAT_H */
