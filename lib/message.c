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
#include <string.h>

#include "clock.h"
#include "pipeline.h"
#include "ring.h"
#include "site.h"

#define ASTRON_SCHEMA_VERSION 1

static void key(msgpack_packer *pk, const char *k)
{
	size_t n = strlen(k);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, k, n);
}

void astron_message_build(msgpack_sbuffer *sb, const astron_rec_t *rec,
			  const astron_ring_t *ring, uint64_t seq, int pid)
{
	const astron_site_plan_t *sp = rec->plan;
	const uint8_t *fields = (const uint8_t *)(rec + 1) +
				(rec->keylen & ASTRON_REC_KEYLEN_MASK);
	size_t flen = rec->size - (size_t)(fields - (const uint8_t *)rec);
	int cut = (rec->keylen & ASTRON_REC_TRUNCATED) != 0;
	msgpack_packer pk;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, ASTRON_META_FIELDS + sp->fmt->nfields + cut);
	key(&pk, "@v");
	msgpack_pack_int64(&pk, ASTRON_SCHEMA_VERSION);
	key(&pk, "@ts");
	msgpack_pack_int64(&pk, astron_clock_to_ns(rec->tsc));
	msgpack_sbuffer_write(sb, (const char *)sp->meta, sp->meta_len);
	key(&pk, "@pid");
	msgpack_pack_int64(&pk, pid);
	key(&pk, "@tid");
	msgpack_pack_int64(&pk, ring->tid);
	key(&pk, "@seq");
	msgpack_pack_uint64(&pk, seq);
	key(&pk, "@tseq");
	msgpack_pack_uint64(&pk, rec->tseq);
	if (cut) {
		key(&pk, "@truncated");
		msgpack_pack_true(&pk);
	}
	msgpack_sbuffer_write(sb, (const char *)fields, flen);
}
