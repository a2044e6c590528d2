/*
 * site.c - compile a call site once: parse its format, validate its topic,
 * pre-encode its source metadata, and report problems once, naming file:line.
 */
#include "site.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ring.h"

const char *astron_topic_problem(const char *topic)
{
	size_t n;

	if (!topic)
		return "topic is NULL";
	n = strnlen(topic, 250);
	if (n == 0)
		return "topic is empty";
	if (n > 249)
		return "topic is longer than 249 characters";
	if (strcmp(topic, ".") == 0 || strcmp(topic, "..") == 0)
		return "topic cannot be \".\" or \"..\"";
	if (strspn(topic, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			  "0123456789._-") != n)
		return "topic may only hold [a-zA-Z0-9._-]";
	return NULL;
}

static void pack_cstr(msgpack_packer *pk, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s ? s : "", n);
}

static astron_site_plan_t *build(const astron_site_t *site, size_t max_event)
{
	astron_site_plan_t *sp = calloc(1, sizeof *sp);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const char *why;

	if (!sp)
		return NULL;
	sp->fmt = astron_format_parse(site->fmt);
	if (!sp->fmt) {
		free(sp);
		return NULL;
	}
	sp->file = site->file ? site->file : "";
	sp->func = site->func ? site->func : "";
	sp->line = site->line;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_cstr(&pk, "@file");
	pack_cstr(&pk, sp->file);
	pack_cstr(&pk, "@line");
	msgpack_pack_int64(&pk, sp->line);
	pack_cstr(&pk, "@func");
	pack_cstr(&pk, sp->func);
	sp->meta = (uint8_t *)sb.data;
	sp->meta_len = (uint32_t)sb.size;
	if (!sp->meta) {
		astron_format_free(sp->fmt);
		free(sp);
		return NULL;
	}

	why = astron_topic_problem(site->topic);
	if (!why)
		sp->topic = site->topic;
	if (sizeof(astron_rec_t) + sp->fmt->fixed_max + ASTRON_COPY_SLACK_BYTES +
		    max_event / ASTRON_KEY_SHARE > max_event)
		sp->too_big = 1;
	sp->drop = why || sp->too_big;
	return sp;
}

/* Say once, naming file:line, what is wrong with a site. */
static void report(const astron_site_t *site, const astron_site_plan_t *sp,
		   size_t max_event)
{
	const char *why = astron_topic_problem(site->topic);

	if (why)
		astron_log(ASTRON_LOG_ERROR, "%s:%d: %s; events of this call "
			   "site are dropped and counted", sp->file, sp->line, why);
	if (sp->too_big)
		astron_log(ASTRON_LOG_ERROR, "%s:%d: format needs more than "
			   "ASTRON_EVENT_MAX_SIZE (%zu bytes); events of this "
			   "call site are dropped and counted", sp->file,
			   sp->line, max_event);
	if (sp->fmt->error)
		astron_log(ASTRON_LOG_ERROR, "%s:%d: format \"%.200s\": %s; "
			   "events carry an \"@error\" field", sp->file, sp->line,
			   site->fmt ? site->fmt : "(null)", sp->fmt->error);
}

static astron_site_plan_t *all_plans;

const astron_site_plan_t *astron_site_plan(astron_site_t *site,
					   size_t max_event)
{
	astron_site_plan_t *sp;
	void *cur = NULL;

	sp = build(site, max_event);
	if (!sp)
		return NULL;
	/* Publish with release (pairs with the hot path's acquire load): the
	 * plan is fully built before any thread can see it.  A thread that
	 * lost the race uses the winner's plan and frees its own. */
	if (!__atomic_compare_exchange_n(&site->plan_, (void **)&cur, sp, 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		astron_format_free(sp->fmt);
		free(sp->meta);
		free(sp);
		return cur;
	}
	report(site, sp, max_event);
	/* Keep every plan reachable: they live as long as the process. */
	sp->next = __atomic_load_n(&all_plans, __ATOMIC_RELAXED);
	while (!__atomic_compare_exchange_n(&all_plans, &sp->next, sp, 1,
					    __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		;
	return sp;
}
