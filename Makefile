# Two commands on a fresh machine: `make dev` and `make test`. Everything they need, they install.
# Python 3.13, the functions' runtime: python3.13 on the PATH, else pyenv's 3.13 (whose shim answers only when
# that version is selected).
ifndef PYTHON
PYTHON := $(shell for python in python3.13 "$$(pyenv prefix 3.13 2>/dev/null)/bin/python3.13"; do \
	"$$python" -c 'import sys; print(sys.executable)' 2>/dev/null && break; done)
endif
NEED_PYTHON = @test -n "$(PYTHON)" || { echo "make: Python 3.13 is needed (python3.13 on the PATH, or PYTHON=...)" >&2; exit 1; }
VENV := .venv
SAM_VENV := .venv-sam
CLIENT_VENV := .venv-client
SCAN_VENV := .venv-scan
CONTAINERS_VENV := .venv-containers
PY := $(VENV)/bin/python
# The tools' venvs compile no bytecode at install: each module is compiled at its first import (the venvs are
# writable), rather than every module of every package (pip's default, 60 % of an install's CPU: .venv's 57 -> 23 s
# here). .venv compiles at install: under make dev and the tests the app meets deadlines (a GitHub call's, a health
# check's) in which a first import compiled on a loaded machine could miss them.
PIP_BYTECODE := --no-compile
PIP_INSTALL = -m pip install --quiet --disable-pip-version-check $(PIP_BYTECODE)
# make test times its stages (infra/commands/stages.py): a recipe line under $(call timed,NAME) is recorded under NAME
# when STAGES_FILE is set, and run as it is otherwise.
STAGES := $(PYTHON) infra/commands/stages.py
timed = $(if $(STAGES_FILE),$(STAGES) run '$(1)' --)

.PHONY: dev sam-local test install lint typecheck scan openapi-check sam-validate sam-build sam-build-arm64 images arm64-root arm64-proof postman smoke client-check screenshots unit integration bench invoke debug admin deploy destroy migrate-keys clean

# A venv of the runtime's Python holding its target's first prerequisite, a requirements file, and what it includes.
define VENV_INSTALL
	$(NEED_PYTHON)
	$(PYTHON) -m venv $(@D)
	$(call timed,install $(@D)) $(@D)/bin/python $(PIP_INSTALL) -r $<
	touch $@
endef

$(VENV)/.installed: requirements-dev.txt requirements.txt layers/dependencies/requirements.txt \
		frontend/requirements.txt infra/local/requirements.txt infra/containers/requirements.txt
	$(VENV_INSTALL)
$(VENV)/.installed: PIP_BYTECODE := --compile

# The import roots (pyproject.toml's mypy_path, and the project root) as a .pth file in the venv: python, pytest,
# mypy and an editor using it import the project without a PYTHONPATH or make in front.
%/.import-roots: pyproject.toml infra/commands/import_roots.py %/.installed
	$*/bin/python -m infra.commands.import_roots
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(VENV_INSTALL)

# openapi-python-client, which the generated-client test runs (its pins differ from ours).
$(CLIENT_VENV)/.installed: requirements-client.txt
	$(VENV_INSTALL)

# checkov, cfn-lint-serverless and the SAM translator for make scan (checkov's pins differ from ours and SAM CLI's).
$(SCAN_VENV)/.installed: requirements-scan.txt
	$(VENV_INSTALL)

# Compose and PyYAML alone, for preparing the container tests' images and root (below) without waiting for .venv.
$(CONTAINERS_VENV)/.installed: infra/containers/requirements.txt
	$(VENV_INSTALL)

install: $(VENV)/.installed $(VENV)/.import-roots

dev: install
	exec $(PY) -m infra.commands.dev

# make dev with the handlers in its own process (no reload), under debugpy: attach any editor's debugger (the Debug
# Adapter Protocol) to 127.0.0.1:$(DEBUG_PORT); VS Code's configurations are in .vscode/launch.json.
DEBUG_PORT ?= 5678
debug: install
	RELOAD=0 exec $(PY) -m debugpy --listen 127.0.0.1:$(DEBUG_PORT) -m infra.commands.dev

# The same API through `sam local start-api` in Lambda containers, with the docker-compose.yml services (a Docker
# engine: the running one, else a private one; stand-in images where the real ones cannot be pulled).
sam-local: install sam-build
	exec $(PY) -m infra.containers.sam_local

lint: install
	$(call timed,lint) $(VENV)/bin/ruff check .
	$(call timed,lint) $(VENV)/bin/ruff format --check .

typecheck: install
	$(call timed,types) $(VENV)/bin/mypy

# The security and best-practice scanners, offline, each with its skips in one file beside its reasons: cfn-lint
# with the serverless rules on template.yaml and the pipeline's AWS side, infra/aws/pipeline.yaml
# (.cfnlint-scan.yaml), checkov on the CloudFormation the SAM transform makes of template.yaml and on the
# Dockerfiles (.checkov.yaml), and the GitHub Actions workflows by actionlint and zizmor (offline: no lookups of
# the pinned actions). About 20 s here (a minute more to install its venv).
scan: $(SCAN_VENV)/.installed
	$(call timed,scan) $(SCAN_VENV)/bin/cfn-lint --config-file .cfnlint-scan.yaml
	AWS_DEFAULT_REGION=us-east-1 $(call timed,scan) $(SCAN_VENV)/bin/python -m infra.aws.scan .aws-sam/scan/template.json
	$(call timed,scan) $(SCAN_VENV)/bin/checkov --config-file .checkov.yaml
	$(call timed,scan) $(SCAN_VENV)/bin/actionlint
	$(call timed,scan) $(SCAN_VENV)/bin/zizmor --offline --no-progress .github

# Would the working tree's OpenAPI document break a client of BASE's (a git ref; default: the last v* release tag,
# else main)? Both generated from their code, compared by Optic offline (infra/commands/openapi_check.py).
openapi-check: install node_modules/.installed
	$(PY) -m infra.commands.openapi_check $(BASE)

sam-validate: $(SAM_VENV)/.installed
	SAM_CLI_TELEMETRY=0 $(call timed,sam-validate) $(SAM_VENV)/bin/sam validate --lint --region us-east-1 --template template.yaml

# sam build without Docker, with our Python 3.13 (SAM's builder runs the runtime's python3.13 from the PATH), then
# each built handler imported in a fresh interpreter that sees only the build's function and layer directories.
SAM_BUILD = PATH="$(CURDIR)/$(VENV)/bin:$$PATH" SAM_CLI_TELEMETRY=0 $(call timed,$@) $(SAM_VENV)/bin/sam build --cached --template template.yaml
# Bytecode compiled into the build: Lambda's /var/task and /opt are read-only, so without it Python compiles every
# module of the function and its layers on every cold start (twice the import time: bench/cold_start.py).
# unchecked-hash: valid whatever the zip and Lambda do to the files' times; the artifact never changes once built.
BYTECODE = $(PY) -m compileall -q -f -j 0 --invalidation-mode unchecked-hash
sam-build: $(SAM_VENV)/.installed install
	$(SAM_BUILD) --build-dir .aws-sam/build
	$(call timed,$@) $(BYTECODE) .aws-sam/build
	$(call timed,$@) $(PY) -m infra.commands.verify_build .aws-sam/build

# The same build for Graviton (template parameter Architecture=arm64): aarch64 wheels, in a directory of its own.
# Its handlers cannot be imported here; tests/e2e/test_arm64.py runs them in an arm64 root under emulation.
sam-build-arm64: $(SAM_VENV)/.installed install
	$(SAM_BUILD) --build-dir .aws-sam/build-arm64 --cache-dir .aws-sam/cache-arm64 --parameter-overrides Architecture=arm64
	$(call timed,$@) $(BYTECODE) .aws-sam/build-arm64

# What the container tests run on, kept per machine and built only when missing or when its recipe changed: the
# images of make sam-local and docker compose up, and the arm64 root (infra/containers/prepare.py).
images: $(CONTAINERS_VENV)/.installed
	$(call timed,images) $(CONTAINERS_VENV)/bin/python -m infra.containers.prepare images
arm64-root: $(CONTAINERS_VENV)/.installed
	$(call timed,arm64-root) $(CONTAINERS_VENV)/bin/python -m infra.containers.prepare arm64-root

# The arm64 proof alone: the build above on an arm64 Debian, emulated: every compiled module loaded, each function
# imported and run on representative events.
arm64-proof: sam-build-arm64 arm64-root
	$(PY) -m pytest tests/e2e/test_arm64.py

# pytest-xdist: the tests in PYTEST_WORKERS processes (default 2, this machine's cores), each file on one worker, so
# that a module's stack (a make dev, a sam local) starts once; each worker has its own moto and Redis servers.
PYTEST_WORKERS ?= 2
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

# Everything the tests need, built side by side (TEST_JOBS at once on two cores: their waits on the disk, the
# package registry and Docker overlap), then the tests, then newman; last, the time of every stage and test module.
# The images and the arm64 root first: on a fresh machine they take longest, and need only their own small venv.
TEST_PREREQUISITES := images arm64-root install lint typecheck scan sam-validate sam-build sam-build-arm64 \
	node_modules/.installed $(CLIENT_VENV)/.installed
TEST_JOBS ?= 4
test: export STAGES_FILE := $(CURDIR)/.stages.jsonl
test:
	@$(NEED_PYTHON)
	@rm -f $(STAGES_FILE)
	@$(MAKE) --jobs=$(TEST_JOBS) --output-sync=target --no-print-directory $(TEST_PREREQUISITES) \
		&& $(call timed,pytest) $(PY) -m pytest $(PYTEST_PARALLEL) --durations=10 --cov --cov-report=term \
			--cov-fail-under=90 --stages-file=$(STAGES_FILE) \
		&& $(MAKE) postman; \
	status=$$?; echo; echo "make test: time per stage (infra/commands/stages.py)"; $(STAGES) report; exit $$status

# Two sam builds at once would share .aws-sam/build.toml, their cached build's record.
sam-build-arm64: | $(if $(filter sam-build,$(MAKECMDGOALS)),sam-build)

# The inner loop: lint, types and the in-process unit tests (no servers), in well under a minute.
unit: install lint typecheck
	$(PY) -m pytest tests/unit

# The integration tests alone: the moto server and redis-server they start themselves.
integration: install
	$(PY) -m pytest $(PYTEST_PARALLEL) tests/integration

# Node tools pinned in package-lock.json: newman, and Swagger UI's assets for the offline screenshots.
node_modules/.installed: package.json package-lock.json
	$(call timed,npm ci) npm ci --no-audit --no-fund
	touch $@

# newman runs the Postman collection against a make dev it starts and stops.
postman: install node_modules/.installed
	$(call timed,newman) $(PY) -m infra.commands.postman

# The smoke flow (a throwaway user's life, cleaned up after) and the Postman collection's read-only requests that need
# no user, against any API: make smoke URL=https://.../Prod/ (the deployed stage's ApiUrl) or URL=http://127.0.0.1:8000.
smoke: install node_modules/.installed
	@test -n "$(URL)" || { echo "make smoke: URL=... is needed (the API's base URL)" >&2; exit 2; }
	$(PY) -m infra.commands.smoke $(URL)

# The Python client a user would generate from the API's own document (URL/openapi.json, by openapi-python-client),
# run through a throwaway user's main flow, every answer parsed into its model (infra/commands/client_check.py):
# make client-check URL=https://.../Prod/ or URL=http://127.0.0.1:8000.
client-check: install $(CLIENT_VENV)/.installed
	@test -n "$(URL)" || { echo "make client-check: URL=... is needed (the API's base URL)" >&2; exit 2; }
	$(PY) -m infra.commands.client_check $(URL)

# The cold-start benchmark imports the handler in a venv holding only the deployed (runtime) dependencies.
.venv-runtime/.installed: requirements.txt layers/dependencies/requirements.txt
	$(NEED_PYTHON)
	$(PYTHON) -m venv .venv-runtime
	.venv-runtime/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

bench: install .venv-runtime/.import-roots sam-build
	$(PY) bench/cold_start.py
	$(PY) bench/warm.py
	$(PY) bench/tracing_cost.py
	$(PY) bench/cost_model.py
	$(PY) bench/idempotency_cost.py
	$(PY) bench/local_stack.py
	$(PY) bench/list_cost.py
	$(PY) bench/account_deletion.py
	$(PY) bench/redis_cost.py
	$(PY) bench/redis_failover.py
	$(PY) bench/redis_memory.py
	$(PY) bench/audit_throughput.py
	$(PY) bench/partition_heat.py
	$(PY) bench/github_cache.py
	$(PY) bench/login_timing.py
	$(PY) bench/sam_local.py

# docs/*.png: headless Chromium (Debian's chromium and chromium-driver, installed here if missing) photographs
# the Streamlit front end and Swagger UI served by FRONTEND=1 make dev.
screenshots: install node_modules/.installed
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || apt-get install -y -q chromium chromium-driver
	$(PY) -m infra.commands.screenshots

# Run a function's handler on one sample event in-process, as `sam local invoke` would: make invoke EVENT=events/....json
invoke: install
	$(PY) -m infra.commands.invoke $(EVENT)

# The deployed stack the next three act on (samconfig.toml's stack_name unless told).
STACK ?= watchlist-api

# Build, then `sam deploy` with samconfig.toml (the first time GUIDED=1 asks for the parameters and saves them there),
# then the API's URL from the stack's outputs. Prerequisites: docs/deployment.md.
# ARCHITECTURE=arm64 deploys the arm64 build, with the parameter that matches it (and samconfig.toml's others).
ARCHITECTURE ?= x86_64
ARM64_DEPLOY = --template-file .aws-sam/build-arm64/template.yaml \
	--parameter-overrides "StageName=Prod LogLevel=INFO Architecture=arm64"
deploy: $(if $(filter arm64,$(ARCHITECTURE)),sam-build-arm64,sam-build)
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam deploy --stack-name $(STACK) $(if $(GUIDED),--guided) \
		$(if $(filter arm64,$(ARCHITECTURE)),$(ARM64_DEPLOY))
	@$(PY) -m infra.aws.stack url $(STACK)
	@echo "smoke test it: make smoke URL=$$($(PY) -m infra.aws.stack url $(STACK))"

# The first admin (ADMIN_EMAIL, ADMIN_PASSWORD) of the deployed STACK, with its functions' settings read from the
# stack's outputs; LOCAL=1: of whatever DYNAMODB_ENDPOINT_URL and SQS_ENDPOINT_URL point at instead.
admin: install
	$(PY) -m infra.aws.bootstrap admin $(if $(LOCAL),,--stack $(STACK))

# `sam delete` of STACK (it asks first; YES=1 does not), then what is left: the retained tables, and log groups.
destroy: $(SAM_VENV)/.installed install
	$(PY) -m infra.aws.stack destroy $(STACK) $(if $(YES),--yes)

# Once after deploying the sharded keys (docs/SCALING.md, "Migrating an existing deployment"); safe to run again.
migrate-keys: install
	$(PY) -m infra.aws.migrate_keys

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CLIENT_VENV) $(SCAN_VENV) $(CONTAINERS_VENV) .venv-runtime .aws-sam .pytest_cache .mypy_cache .ruff_cache .coverage node_modules
