#!/usr/bin/env bash
# Runs every check: ruff (lint + format), mypy --strict on src/, and the whole pytest suite.
# Does its own set-up on a fresh machine (creates .venv and installs mlmeter[dev,official]).
source "$(dirname "$0")/_venv.sh" "dev,official"
ruff check src tests benchmarks examples
ruff format --check src tests benchmarks examples
mypy
pytest "$@"
