/*
 * site.h - what the library knows about one ASTRON_EVENT call site.
 *
 * Built on the site's first call (the slow path) and published in
 * site->plan_ with a release store; every later call loads it with acquire.
 */
#ifndef ASTRON_SITE_H
#define ASTRON_SITE_H

#include <stdint.h>

#include "astron/event.h"
#include "format.h"

/* Metadata entries the flusher adds to every event (see message.c). */
#define ASTRON_META_FIELDS 9

/* Bytes of an event besides its fields: the record header and the key. */
#define ASTRON_KEY_SHARE 4 /* a key may use max_event / ASTRON_KEY_SHARE */

typedef struct astron_site_plan {
	astron_plan_t *fmt;	  /* the parsed format */
	const char *topic;	  /* validated; NULL when invalid */
	const char *file, *func;
	int line;
	uint8_t *meta;		  /* "@file", "@line", "@func" pre-encoded */
	uint32_t meta_len;
	int too_big;		  /* the format cannot fit ASTRON_EVENT_MAX_SIZE */
	int drop;		  /* events of this site are dropped (why logged) */
	struct astron_site_plan *next; /* every plan, for cleanup */
} astron_site_plan_t;

/* The site's plan, building it on first use; safe under concurrent first
 * calls (one wins, the others free theirs).  NULL when out of memory. */
const astron_site_plan_t *astron_site_plan(astron_site_t *site,
					   size_t max_event);

/* A topic Kafka accepts: 1..249 of [a-zA-Z0-9._-], not "." or "..".  Returns
 * NULL or why not. */
const char *astron_topic_problem(const char *topic);

#endif /* ASTRON_SITE_H */
