"""The audit functions: the SQS consumer that stores audit events, and the scheduled outbox relay."""
