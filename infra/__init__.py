"""Everything around the functions, by what it is for:

- aws/: template.yaml read and applied (tables, queues, the first admin), and a tally of AWS calls;
- local/: AWS and GitHub played by local processes for `make dev` (moto, redis-server, the GitHub stub, the
  API Gateway and Lambda stand-ins, the audit worker);
- commands/: what the Makefile runs (`make dev`, `invoke`, `postman`, `screenshots`, the build check) and what
  tests and benchmarks share with it (a whole stack as a child process, the sample events);
- containers/: `make sam-local` (a Docker engine, images built offline, sam local and Docker Compose).
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the project: template.yaml, events/, frontend/
