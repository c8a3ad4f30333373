#!/usr/bin/env bash
# The main job: a real MLPerf LoadGen benchmark with a report.
# Server scenario (Poisson arrivals) against a 4-worker SUT with 2 ms service time,
# official seeds; writes the official logs and results.json under results/ and prints a table.
source "$(dirname "$0")/_venv.sh" "dev"
mlmeter run fixed --scenario Server --service-ms 2 --workers 4 \
  --set min_duration=10000 --output results/demo-server "$@"
