"""AWS and GitHub played by local processes, without Docker (`make dev`): moto for DynamoDB and SQS, a
redis-server, the GitHub stub, API Gateway (gateway.py builds its proxy events, events.py), Lambda instances
(instances.py), SQS's event source and the relay's schedule (sqs_poller.py, audit_worker.py), and the fake
credentials and moto set-up every local tool shares (local_aws.py)."""
