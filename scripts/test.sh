#!/usr/bin/env bash
# The project's test command (README's second command; .ci/run runs exactly this).
# Installs the package with its dev tools, starts a throwaway PostgreSQL server so the
# storage tests run on PostgreSQL as well as SQLite, then lint, types, layers, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step says how long it took, so a slow run shows where its minutes went.
timed() {
  local name=$1 t0=$SECONDS
  shift
  "$@"
  echo "[test.sh] $name: $((SECONDS - t0)) s"
}

# The checkout's own code comes first on the path for every step and every process a test
# starts, whichever checkout the installed (editable) package points at.
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

# pip resolves and rebuilds the editable package even when nothing changed (45 s on a loaded
# 2-core machine); skip it when every pin of constraints.txt is installed at its version.
pinned_installed() {
  python3 - <<'PY'
import sys
from importlib import metadata
from pathlib import Path

wanted = [line.partition("==")[::2] for line in Path("constraints.txt").read_text().splitlines()
          if line and not line.startswith("#")]
try:
    missing = [name for name, version in wanted if metadata.version(name) != version]
    metadata.version("extractor")
except metadata.PackageNotFoundError as exc:
    missing = [str(exc)]
sys.exit(1 if missing else 0)
PY
}

install() {
  if pinned_installed; then
    echo "every pin of constraints.txt is installed"
    return 0
  fi
  python3 -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev,ray]" 2>&1 \
    | grep -v "Running pip as the 'root'" || true
}
timed install install

stop_postgres() {
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PGDATA"
}

start_postgres() {
  if [ -n "${EXTRACTOR_TEST_POSTGRES_URL:-}" ]; then return 0; fi
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$pgbin" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing PostgreSQL (Debian package)…"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  fi
  if [ -z "$pgbin" ]; then
    echo "PostgreSQL is not available: storage tests run on SQLite only" >&2
    [ "${CI:-}" = "true" ] && return 1 || return 0
  fi
  PGDATA=$(mktemp -d /tmp/extractor-pg.XXXXXX)
  PG_AS=()
  if [ "$(id -u)" = 0 ]; then chown postgres "$PGDATA"; PG_AS=(runuser -u postgres --); fi
  local port
  port=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
  "${PG_AS[@]}" "$pgbin/initdb" -D "$PGDATA/data" -U postgres --auth=trust -E UTF8 >/dev/null
  "${PG_AS[@]}" "$pgbin/pg_ctl" -D "$PGDATA/data" -l "$PGDATA/log" -w \
    -o "-p $port -k $PGDATA -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  PG_BIN=$pgbin
  trap 'stop_postgres' EXIT
  export EXTRACTOR_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$port/postgres"
  echo "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}
timed postgres start_postgres
timed browser bash scripts/install_browser.sh

timed ruff ruff check .
# mypy's incremental cache lives outside the checkout, so a fresh clone on a machine that
# ran this before re-checks only what changed (mypy compares file hashes; a stale entry is
# never trusted). A fresh machine checks everything, as before.
export MYPY_CACHE_DIR=${MYPY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/extractor/mypy}
timed mypy mypy
timed lint-imports lint-imports
# No test asserts elapsed time (speeds live in bench/); the slowest tests are listed so a
# run on a busy machine shows where its minutes went. pytest-xdist runs one worker per core
# (EXTRACTOR_TEST_WORKERS=N sets how many, 0 runs in one process), whole modules per worker
# so a module's server or browser starts once; tests/conftest.py gives each worker a
# PostgreSQL database of its own.
timed pytest python3 -m pytest -q -p no:benchmark -n "${EXTRACTOR_TEST_WORKERS:-auto}" --dist loadscope \
  --durations=10 "$@"
