/*
 * astron/service.h - the service and factory base, as in the seed's base.py.
 *
 * A service has a name, a ready flag and a teardown; a factory knows the
 * class of service it creates.  The Kafka producer service
 * (<astron/kafka.h>) is the one service astron-event ships; its handle
 * converts to an astron_service_t with astron_kafka_service_base().
 */
#ifndef ASTRON_SERVICE_H
#define ASTRON_SERVICE_H

#ifdef __cplusplus
extern "C" {
#endif

#ifndef ASTRON_EXTERN
#if defined(__GNUC__)
#define ASTRON_EXTERN __attribute__((visibility("default")))
#else
#define ASTRON_EXTERN
#endif
#endif

typedef struct astron_service astron_service_t;
typedef struct astron_service_factory astron_service_factory_t;

/* The service's name (e.g. "kafka_producer"); never NULL for a valid handle,
 * "" for NULL. */
ASTRON_EXTERN const char *astron_service_name(const astron_service_t *svc);

/* 1 once the service is ready to serve, 0 otherwise (and for NULL). */
ASTRON_EXTERN int astron_service_ready(const astron_service_t *svc);

/* Release everything the service holds and free it.  NULL is a no-op. */
ASTRON_EXTERN void astron_service_teardown(astron_service_t *svc);

/* The name of the service class a factory creates ("" for NULL). */
ASTRON_EXTERN const char *
astron_service_factory_class(const astron_service_factory_t *factory);

#ifdef __cplusplus
}
#endif

#endif /* ASTRON_SERVICE_H */
