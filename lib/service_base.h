/*
 * service_base.h - the layout behind astron_service_t and
 * astron_service_factory_t (the seed's Service / ServiceFactory).
 *
 * A concrete service embeds astron_service_t as its first member and fills
 * in its teardown; the base functions in service.c work on any of them.
 */
#ifndef ASTRON_SERVICE_BASE_H
#define ASTRON_SERVICE_BASE_H

#include "astron/service.h"

struct astron_service {
	const char *name;
	int ready; /* set with release once the service can serve */
	void (*teardown)(astron_service_t *svc);
};

struct astron_service_factory {
	const char *service_class;
};

void astron_service_init(astron_service_t *svc, const char *name,
			 void (*teardown)(astron_service_t *));
void astron_service_set_ready(astron_service_t *svc, int ready);

#endif /* ASTRON_SERVICE_BASE_H */
