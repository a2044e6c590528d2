/*
 * astron/json.h - an event as JSON, the way astron-event-cat prints it.
 *
 *     astron_event_json(stdout, value, len, key, keylen, ASTRON_JSON_KEY);
 *
 * writes the msgpack map of one event (a Kafka message value, a record of an
 * ASTRON_EVENT_SINK=msgpack: file) as one JSON line.  msgpack's types stay
 * visible: integers with all their digits, floats with the shortest text
 * that reads back to the same value, bin as {"$bin":"<base64>"}, nil as
 * null, and "@time" (RFC 3339 UTC) added after "@ts".  The mapping is
 * specified in astron_event_json(3) and astron-event-cat(1).
 */
#ifndef ASTRON_JSON_H
#define ASTRON_JSON_H

#include <stddef.h>
#include <stdio.h>

#include <astron/event.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Flags of astron_event_json(). */
#define ASTRON_JSON_PRETTY 1 /* indented, several lines (two spaces a level) */
#define ASTRON_JSON_KEY 2    /* "@key" first: the message key, null if none */

/* Decode exactly one msgpack map from value[0..len) and write it to `out` as
 * one JSON object followed by "\n" (compact on one line, or indented with
 * ASTRON_JSON_PRETTY).  With ASTRON_JSON_KEY, key[0..keylen) is added first
 * as "@key" (a string, {"$bin":...} when not UTF-8, null when key is NULL).
 * The text is rendered in memory and written with one fwrite(), independent
 * of the locale.  Returns 0; ASTRON_EINVAL, writing nothing, when out or
 * value is NULL, flags has other bits, or value is not exactly one msgpack
 * map; ASTRON_ENOMEM; or ASTRON_EIO when out reports a write error. */
ASTRON_EXTERN int astron_event_json(FILE *out, const void *value, size_t len,
				    const void *key, size_t keylen, int flags);

#ifdef __cplusplus
}
#endif

#endif /* ASTRON_JSON_H */
