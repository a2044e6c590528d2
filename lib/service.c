/*
 * service.c - the service base: a name, a ready flag and a teardown.
 *
 * As in the seed's base.py, every service is named, says when it is ready,
 * and knows how to release what it holds; a factory names the class of
 * service it creates.  The concrete behaviour lives in the service's own file
 * (kafka_service.c).
 */
#include "service_base.h"

#include <stddef.h>

void astron_service_init(astron_service_t *svc, const char *name,
			 void (*teardown)(astron_service_t *))
{
	svc->name = name;
	svc->ready = 0;
	svc->teardown = teardown;
}

void astron_service_set_ready(astron_service_t *svc, int ready)
{
	__atomic_store_n(&svc->ready, ready, __ATOMIC_RELEASE);
}

ASTRON_EXTERN const char *astron_service_name(const astron_service_t *svc)
{
	return svc && svc->name ? svc->name : "";
}

ASTRON_EXTERN int astron_service_ready(const astron_service_t *svc)
{
	return svc ? __atomic_load_n(&svc->ready, __ATOMIC_ACQUIRE) : 0;
}

ASTRON_EXTERN void astron_service_teardown(astron_service_t *svc)
{
	if (svc && svc->teardown)
		svc->teardown(svc);
}

ASTRON_EXTERN const char *
astron_service_factory_class(const astron_service_factory_t *factory)
{
	return factory && factory->service_class ? factory->service_class : "";
}
