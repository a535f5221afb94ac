# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Debian packages the test suite drives for real (systemd-analyze verifies the unit; the installer,
# SSH and Ansible tests run sshd, ssh and systemctl --root; the browser tests drive Debian's Chromium
# through Playwright, which never downloads a browser of its own; openssl makes the HTTPS tests' and
# the installer's self-signed certificates; prometheus scrapes a sim and promtool checks contrib/prometheus;
# the MQTT tests and `deskpi bench mqtt` run Debian's Mosquitto).
SYSTEM_TOOLS := systemd-analyze:systemd sshd:openssh-server ssh:openssh-client chromium:chromium openssl:openssl \
                prometheus:prometheus promtool:prometheus npm:npm mosquitto:mosquitto
# axe-core, the accessibility checker the browser tests run in every page, comes from npm.
AXE := $(VENV)/node/node_modules/axe-core/axe.min.js
# The demo's address, and the person it signs in as (made on its first run).
DEMO_PORT ?= 8080
DEMO_URL  := http://127.0.0.1:$(DEMO_PORT)/

.PHONY: demo test check bench system-deps axe clean

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV)
	@echo "installing deskpi and its tools into $(VENV) (a minute or two the first time)..."
	@$(BIN)/pip install -qq --disable-pip-version-check --upgrade pip
	@$(BIN)/pip install -qq --disable-pip-version-check -e '.[dev]'
	@# As pip does for an installed desk: the CLI then starts without compiling (PYTHONDONTWRITEBYTECODE or not).
	@$(BIN)/python -m compileall -q deskpi >/dev/null
	@touch $(STAMP)

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

# Under CI=true a missing npm or a failed download fails here (the accessibility tests would fail
# without axe-core); elsewhere they say so and those tests skip.
axe: system-deps
	@if [ ! -f $(AXE) ]; then \
	  case "$$CI" in 1|true|yes) strict=1;; *) strict=0;; esac; \
	  if ! command -v npm >/dev/null 2>&1; then \
	    echo "npm is missing (apt-get install npm): the accessibility tests need axe-core"; [ $$strict = 0 ]; \
	  elif ! npm install --prefix $(VENV)/node --no-audit --no-fund --silent axe-core@4; then \
	    echo "could not install axe-core from npm: the accessibility tests need it"; [ $$strict = 0 ]; \
	  fi; \
	fi

# The demo signs in as "demo" with PIN 1234 (made on first run; the simulator only listens on 127.0.0.1).
demo: $(STAMP)
	@$(BIN)/deskpi --data-dir demo-data user list --json 2>/dev/null | grep -q '"name"' || \
	  echo 1234 | $(BIN)/deskpi --data-dir demo-data user add demo --admin --stature-cm 175 --pin-stdin >/dev/null
	@echo ""
	@echo "  deskpi demo: a simulated desk driven by the real motion stack"
	@echo "    open      $(DEMO_URL)"
	@echo "    sign in   demo, PIN 1234"
	@echo "    reminder  tap \"Remind me now\" on the page's virtual keypad, or in another terminal:"
	@echo "              curl -X POST -H \"Authorization: Bearer \$$($(BIN)/deskpi --data-dir demo-data token create demo)\" $(DEMO_URL)api/v1/sim/next-reminder"
	@echo "    stop      Ctrl-C (the desk's data stays in demo-data/)"
	@echo ""
	@$(BIN)/deskpi sim --data-dir demo-data --port $(DEMO_PORT)

# Lint and type-check first: a minute of ruff and mypy saves a suite run on a broken tree.
check: $(STAMP)
	$(BIN)/ruff check deskpi tests
	$(BIN)/mypy

test: $(STAMP) system-deps axe check
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/deskpi bench control --json
	$(BIN)/deskpi bench control --json --clock real
	$(BIN)/deskpi bench faults --json
	$(BIN)/deskpi bench latency --json

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
