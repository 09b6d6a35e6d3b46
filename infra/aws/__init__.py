"""template.yaml read and applied: its tables and queues created, the first admin (against a local endpoint or
AWS), and a tally of the AWS calls a piece of code makes (for tests and benchmarks)."""
