"""What the Makefile runs: `make dev` (dev.py), `make invoke`, `make postman`, `make screenshots`, sam build's
import check (verify_build.py), the venv's import roots; and what tests and benchmarks share with them: a
whole stack as a child process (dev_stack.py), the sample events (sample_events.py)."""
