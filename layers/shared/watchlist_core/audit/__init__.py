"""The audit trail's domain: the message format (message.py), the events as the services raise them (events.py),
and the admin's view of the stored trail (queries.py). Delivering them: services/audit_delivery.py."""
