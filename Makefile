# The README's commands: `make up` and `make test` bootstrap .venv on a fresh machine, then run.
# The interpreter .venv is made from (`make PY=... bootstrap` to choose). By default the distribution's
# /usr/bin/python3 when it is 3.11 or newer and can make a venv: Debian's is linked statically and built
# with PGO and LTO, and runs the data plane's Python ~20% faster than a default pyenv build (shared
# libpython, no PGO), which comes first on PATH on many machines (bench/proxy_python.py, DEVELOPMENT.md).
# Else python3 on PATH.
PY ?= $(shell /usr/bin/python3 -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && echo /usr/bin/python3 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test check lint typecheck layers bootstrap clean

# Instances run in a bubblewrap sandbox when `bwrap` is installed (zeroserve/runtime/isolation.py): as
# root with apt-get, the first bootstrap installs Debian's bubblewrap; otherwise it says what is missing.
# Images (zeroserve/images) are resolved and pulled with skopeo and unpacked with umoci, installed alike.
# `zeroserve build` / `--source` build with buildah and `up --serve-registry` runs docker-registry, alike.
# The dashboard's test drives Debian's chromium with Playwright (its own browser download is never used), alike.
$(STAMP): pyproject.toml
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; } \
		|| echo "note: bubblewrap (bwrap) is not installed: instances will run without their sandbox"
	@{ command -v skopeo && command -v umoci; } >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& apt-get update -qq && apt-get install -y -qq skopeo umoci >/dev/null; } \
		|| echo "note: skopeo and umoci are not installed: services with an image: will not run"
	@{ command -v buildah && command -v docker-registry; } >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& apt-get update -qq && apt-get install -y -qq buildah docker-registry >/dev/null; } \
		|| echo "note: buildah and docker-registry are not installed: no zeroserve build, no up --serve-registry"
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
		|| echo "note: chromium is not installed: the dashboard's browser test is skipped"
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

bootstrap: $(STAMP)

# `make up` also serves a registry for `zeroserve build` / `--source` to push to (127.0.0.1:5000, blobs
# in the data dir) when docker-registry is installed; `make up REGISTRY=` leaves it out.
REGISTRY = $(if $(shell command -v docker-registry 2>/dev/null),--serve-registry)

up: $(STAMP)
	$(BIN)/zeroserve up $(REGISTRY) $(ARGS)

test: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check zeroserve tests bench
	$(BIN)/ruff format --check zeroserve tests bench

typecheck: $(STAMP)
	$(BIN)/mypy zeroserve tests bench

layers: $(STAMP)
	$(BIN)/lint-imports

check: lint typecheck layers test

clean:
	rm -rf $(VENV)
