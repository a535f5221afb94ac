# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Debian packages the test suite drives for real (systemd-analyze verifies the unit; the installer,
# SSH and Ansible tests run sshd, ssh and systemctl --root; the browser tests drive Debian's Chromium
# through Playwright, which never downloads a browser of its own; openssl makes the HTTPS tests' and
# the installer's self-signed certificates; the MQTT tests and `deskpi bench mqtt` run Debian's Mosquitto).
SYSTEM_TOOLS := systemd-analyze:systemd sshd:openssh-server ssh:openssh-client chromium:chromium openssl:openssl \
                mosquitto:mosquitto

.PHONY: demo test check bench system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Installs missing tools when it can (root with apt-get); the tests themselves
# fail under CI=true when a tool is still missing, and skip otherwise.
system-deps:
	@missing=""; for pair in $(SYSTEM_TOOLS); do \
	  tool=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$tool >/dev/null 2>&1 || [ -x /usr/sbin/$$tool ] || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "note: missing$$missing (not root, not installing; those tests skip unless CI=true)"; \
	  fi; \
	fi

# The demo signs in as "demo" with PIN 1234 (made on first run; the simulator only listens on 127.0.0.1).
demo: $(STAMP)
	@$(BIN)/deskpi --data-dir demo-data user list --json | grep -q '"name"' || \
	  (echo 1234 | $(BIN)/deskpi --data-dir demo-data user add demo --admin --stature-cm 175 --pin-stdin >/dev/null && \
	   echo "demo user created: sign in as demo, PIN 1234")
	$(BIN)/deskpi sim --data-dir demo-data

# Lint and type-check first: a minute of ruff and mypy saves a suite run on a broken tree.
check: $(STAMP)
	$(BIN)/ruff check deskpi tests
	$(BIN)/mypy

test: $(STAMP) system-deps check
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/deskpi bench control --json
	$(BIN)/deskpi bench control --json --clock real
	$(BIN)/deskpi bench faults --json
	$(BIN)/deskpi bench latency --json

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
