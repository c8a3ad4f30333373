#!/usr/bin/env bash
# Runs every check: ruff (lint + format), mypy --strict on src/, and the whole pytest suite.
# Does its own set-up on a fresh machine (creates .venv, installs mlmeter[dev,official,workloads,net]).
source "$(dirname "$0")/_venv.sh" "dev,official,workloads,net"
# system tools some tests use (a headless browser for the report and the dashboard, a speech
# synthesiser, a PostgreSQL server for the results store, fio for the storage benchmark):
# installed when we may (root with apt); otherwise those tests skip with a reason
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=""
  command -v chromium >/dev/null || missing="$missing chromium"
  command -v espeak-ng >/dev/null || missing="$missing espeak-ng"
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
  command -v fio >/dev/null || missing="$missing fio"
  if [ -n "$missing" ]; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq $missing >/dev/null || echo "warning: could not install$missing"
  fi
fi
ruff check src tests benchmarks examples
ruff format --check src tests benchmarks examples
mypy
pytest "$@"
