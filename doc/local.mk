# Man pages, installed: section 1 for astron-event-cat, 3 for every public
# macro and function (one-line ".so" pages for the names a page covers), 7
# for the overview.  Checked by tests/test_install.sh (groff -ww).
dist_man_MANS += \
	doc/man/astron-event-cat.1 \
	doc/man/ASTRON_EVENT.3 \
	doc/man/ASTRON_EVENT_KEYED.3 \
	doc/man/astron_event_enabled.3 \
	doc/man/astron_event_flush.3 \
	doc/man/astron_event_json.3 \
	doc/man/astron_event_servers.3 \
	doc/man/astron_event_set_log_cb.3 \
	doc/man/astron_event_shutdown.3 \
	doc/man/astron_event_stats.3 \
	doc/man/astron_event_version.3 \
	doc/man/astron_kafka_service.3 \
	doc/man/astron_kafka_service_base.3 \
	doc/man/astron_kafka_service_factory.3 \
	doc/man/astron_kafka_service_factory_create.3 \
	doc/man/astron_kafka_service_fatal.3 \
	doc/man/astron_kafka_service_flush.3 \
	doc/man/astron_kafka_service_outlen.3 \
	doc/man/astron_kafka_service_poll.3 \
	doc/man/astron_kafka_service_send.3 \
	doc/man/astron_kafka_service_send_keyed.3 \
	doc/man/astron_kafka_service_servers.3 \
	doc/man/astron_kafka_service_set_default_cb.3 \
	doc/man/astron_service_factory_class.3 \
	doc/man/astron_service_name.3 \
	doc/man/astron_service_ready.3 \
	doc/man/astron_service_teardown.3 \
	doc/man/astron_strerror.3 \
	doc/man/astron-event.7
