# The commands CI runs (.ci/run calls `make test`) and the two a user needs: `make up`, `make test`.
SHELL := /bin/bash
VENV ?= .venv
PYTHON := $(VENV)/bin/python
STACK ?= dev
OUT ?= out/$(STACK)
# A file backend in this checkout: no Pulumi Cloud account; override to use another backend.
export PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state

.PHONY: venv venv-sslyze policy-venv node-deps pulumi-cli up test lint pytest render audit bench lock clean docker-up docker-down test-docker engine engine-path test-engine images backup restore

# Locks install exactly as written: hash-checked, nothing resolved on the day (--no-deps), by a
# pinned pip; `pip check` then fails loudly, naming the package, if a lock is incomplete.
INSTALL = $(1)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
	-r $(2) && $(1)/bin/python -m pip check --disable-pip-version-check

# A venv whose installer is the hash-pinned pip of requirements-pip.txt (kept: not an intermediate).
.PRECIOUS: %/.pip
%/.pip: requirements-pip.txt
	python3 -m venv $*
	$*/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
		-r requirements-pip.txt
	touch $@

# The runtime (what `pulumi up` needs) and, on top, the test tools; both hash-locked.
$(VENV)/.runtime: $(VENV)/.pip requirements.txt
	$(call INSTALL,$(VENV),requirements.txt)
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(call INSTALL,$(VENV),requirements-dev.txt)
	touch $@

venv: $(VENV)/.dev

# sslyze gets its own virtualenv: it pins cryptography<47, LiteLLM needs >=49.
SSLYZE_VENV ?= .venv-sslyze
$(SSLYZE_VENV)/.installed: $(SSLYZE_VENV)/.pip requirements-sslyze.txt
	$(call INSTALL,$(SSLYZE_VENV),requirements-sslyze.txt)
	touch $@

venv-sslyze: $(SSLYZE_VENV)/.installed

# The policy pack's own virtualenv: PulumiPolicy.yaml names it (virtualenv: .venv) and the CLI runs
# `policy/.venv/bin/python -m pulumi.policy` but never creates it. Same hash-pinned pip and lock rules.
POLICY_VENV := policy/.venv
$(POLICY_VENV)/.installed: $(POLICY_VENV)/.pip policy/requirements.txt
	$(call INSTALL,$(POLICY_VENV),policy/requirements.txt)
	touch $@

policy-venv: $(POLICY_VENV)/.installed

# Continue's own config parser and OpenAI client (npm, lock-pinned), to run the generated Continue
# config for real (tests/live/test_continue.py).
CONTINUE_DIR := tests/continue
$(CONTINUE_DIR)/node_modules/.package-lock.json: $(CONTINUE_DIR)/package-lock.json
	npm ci --prefix $(CONTINUE_DIR) --no-audit --no-fund --ignore-scripts --loglevel=error

# Renovate's own validator and extractor (npm, lock-pinned, with the Node 24 it needs), for
# tests/unit/test_renovate.py: renovate.json must find every image default and lock.
RENOVATE_DIR := tools/renovate
$(RENOVATE_DIR)/node_modules/.package-lock.json: $(RENOVATE_DIR)/package-lock.json
	npm ci --prefix $(RENOVATE_DIR) --no-audit --no-fund --ignore-scripts --loglevel=error

node-deps: $(CONTINUE_DIR)/node_modules/.package-lock.json $(RENOVATE_DIR)/node_modules/.package-lock.json

# `make up` needs the Pulumi CLI: say what is missing and where to get it, before anything runs.
pulumi-cli:
	@command -v pulumi >/dev/null 2>&1 || { \
	  echo "make up: the Pulumi CLI (\`pulumi\`) is not on PATH." >&2; \
	  echo "  Install it from https://www.pulumi.com/docs/iac/download-install/, or build it from Go modules" >&2; \
	  echo "  with 'make engine' and put it on PATH: export PATH=\"\$$(make -s engine-path):\$$PATH\"" >&2; \
	  exit 1; }

up: $(VENV)/.runtime pulumi-cli
	mkdir -p .pulumi-state
	pulumi stack select --create $(STACK)
	pulumi up --stack $(STACK)

test: lint pytest

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

# Tests run in a private network namespace holding only a loopback interface (tests/live/sandbox.py):
# the real nginx binds the rendered ports and Docker's DNS address there, and no traffic leaves.
pytest: venv venv-sslyze policy-venv node-deps
	$(PYTHON) -m tests.live.sandbox $(PYTEST_ARGS)

# Docker tier (root): Debian's docker.io started by hand (no systemd), stopped by its PID; docker-down
# also undoes what dockerd leaves behind (iptables rules, bridges, ip_forward).
docker-up:
	tests/docker/engine.sh install
	tests/docker/engine.sh up

docker-down:
	tests/docker/engine.sh down

# The rendered stack on that engine, stand-in images built offline. Runs outside the sandbox: the
# tests reach the stack through ports published on 127.0.0.1 in the host's network namespace.
test-docker: venv
	$(PYTHON) -m pytest tests/docker $(PYTEST_ARGS)

# Engine tier: the real Pulumi CLI (make engine) runs the project's program and a dynamic-provider
# program with a file backend in a temporary directory, and policy packs on it (policy/.venv); no
# provider plugin can be built here.
test-engine: venv policy-venv engine
	$(PYTHON) -m pytest tests/engine $(PYTEST_ARGS)

render: venv
	$(PYTHON) -m offline.render --stack $(STACK) --out $(OUT)

# The policy pack's rules over the offline render: one PASS/FAIL line per rule (exit 1 on a mandatory failure).
audit: venv
	$(PYTHON) -m policy.audit --stack $(STACK)

bench: venv
	$(PYTHON) benchmarks/render_speed.py
	$(PYTHON) benchmarks/ban_check.py
	$(PYTHON) -m tests.live.sandbox --script benchmarks/edge_latency.py
	$(PYTHON) -m tests.live.sandbox --script benchmarks/gateway_latency.py
	$(PYTHON) -m tests.live.sandbox --script benchmarks/pool_throughput.py

# Re-pin after editing requirements*.in (needs uv: pip install uv).
lock:
	uv pip compile --generate-hashes --python-version=3.11 requirements-pip.in --output-file=requirements-pip.txt
	uv pip compile --generate-hashes --python-version=3.11 requirements.in --output-file=requirements.txt
	uv pip compile --generate-hashes --python-version=3.11 requirements-dev.in --output-file=requirements-dev.txt
	uv pip compile --generate-hashes --python-version=3.11 requirements-sslyze.in --output-file=requirements-sslyze.txt

# The Pulumi CLI and Python language host, compiled from Go modules (no Pulumi download works here) into a cache
# outside the checkout keyed by version; a second run is a no-op. Use: export PATH="$$(make -s engine-path):$$PATH"
# (docs/ENGINE.md). The first build takes minutes on 2 cores; engine-path builds too if needed.
engine:
	@bin="$$(engine/build.sh)" && echo "Pulumi engine binaries in $$bin"

engine-path:
	@engine/build.sh

clean:
	rm -rf out .mypy_cache .ruff_cache .pytest_cache

# Per container of STACK: the image it pins and the one the Docker engine runs (DOCKER_HOST for a
# remote engine); exits 1 when a running container is off its pin.
images: $(VENV)/.runtime
	$(PYTHON) -m tools.images $(STACK)

# Backup and restore drill (docs/OPERATIONS.md): the stack's state with its secrets still encrypted,
# and its config file. The passphrase is not in it; a restore needs it and an empty backend.
BACKUP ?= backups/$(STACK)-$(shell date -u +%Y%m%dT%H%M%SZ)
backup: pulumi-cli
	tools/stack_backup.sh backup $(STACK) $(BACKUP)

restore: pulumi-cli
	@if [ "$(origin BACKUP)" = file ]; then \
	  echo "make restore: name the backup, e.g. make restore STACK=$(STACK) BACKUP=backups/$(STACK)-<time>" >&2; exit 2; fi
	tools/stack_backup.sh restore $(STACK) $(BACKUP)
