/*
 * message.c - assemble the Kafka message of one event (doc/event-format.md).
 *
 * The hot path wrote the format's key/value pairs; the flusher wraps them in
 * a map with the metadata that is cheaper to add here than on the caller's
 * thread: the schema version, the wall-clock time converted from the raw
 * clock, the pre-encoded source location, the process and thread ids and the
 * sequence numbers.  The result is a plain msgpack map with string keys,
 * decodable by any msgpack library.
 */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "encode.h"
#include "pipeline.h"
#include "ring.h"
#include "site.h"

#define ASTRON_SCHEMA_VERSION 1

/* The metadata keys, pre-encoded as msgpack fixstr (0xa0 | length). */
#define KEY(w, lit) put((w), "" lit, sizeof(lit) - 1)

static inline void put(astron_wbuf_t *w, const char *s, size_t n)
{
	memcpy(w->p, s, n);
	w->p += n;
}

/* The flusher calls this once per event, so it writes straight into the
 * buffer, grown once up front, through msgpack-c's inline packers (no
 * per-value allocation checks); the keys are constant bytes. */
void astron_message_build(msgpack_sbuffer *sb, const astron_rec_t *rec,
			  const astron_ring_t *ring, uint64_t seq, int pid)
{
	const astron_site_plan_t *sp = rec->plan;
	const uint8_t *fields = (const uint8_t *)(rec + 1) +
				(rec->keylen & ASTRON_REC_KEYLEN_MASK);
	size_t flen = rec->size - (size_t)(fields - (const uint8_t *)rec);
	size_t need = 160 + sp->meta_len + flen;
	int cut = (rec->keylen & ASTRON_REC_TRUNCATED) != 0;
	astron_wbuf_t w;
	msgpack_packer pk;

	if (sb->alloc < need) {
		char *d = realloc(sb->data, need * 2);
		if (!d) {
			sb->size = 0; /* the caller sends an empty value: failed */
			return;
		}
		sb->data = d;
		sb->alloc = need * 2;
	}
	w.p = (uint8_t *)sb->data;
	msgpack_packer_init(&pk, &w, astron_wbuf_write);
	msgpack_pack_map(&pk, ASTRON_META_FIELDS + sp->fmt->nfields + cut);
	KEY(&w, "\xa2@v");
	msgpack_pack_int64(&pk, ASTRON_SCHEMA_VERSION);
	KEY(&w, "\xa3@ts");
	msgpack_pack_int64(&pk, astron_clock_to_ns(rec->tsc));
	put(&w, (const char *)sp->meta, sp->meta_len);
	KEY(&w, "\xa4@pid");
	msgpack_pack_int64(&pk, pid);
	KEY(&w, "\xa4@tid");
	msgpack_pack_int64(&pk, ring->tid);
	KEY(&w, "\xa4@seq");
	msgpack_pack_uint64(&pk, seq);
	KEY(&w, "\xa5@tseq");
	msgpack_pack_uint64(&pk, rec->tseq);
	if (cut) {
		KEY(&w, "\xaa@truncated");
		msgpack_pack_true(&pk);
	}
	put(&w, (const char *)fields, flen);
	sb->size = (size_t)(w.p - (uint8_t *)sb->data);
}
