#!/usr/bin/env bash
# The project's test command (README's second command; .ci/run runs exactly this).
# Installs the package with its dev tools, starts a throwaway PostgreSQL server so the
# storage tests run on PostgreSQL as well as SQLite, then lint, types, layers, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev,ray]" 2>&1 | grep -v "Running pip as the 'root'" || true

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
start_postgres
bash scripts/install_browser.sh

ruff check .
mypy
lint-imports
# No test asserts elapsed time (speeds live in bench/); the slowest tests are listed so a
# run on a busy machine shows where its minutes went.
python3 -m pytest -q --durations=10 "$@"
