#!/usr/bin/env bash
# The main job: MLPerf inference benchmarks with real models on bundled real data, on the CPU.
# Every registered workload (image classification, object detection, language, recommendation,
# speech) runs in accuracy mode and in performance mode (Offline, SingleStream) with short
# settings; then one self-contained HTML report is written. Prints where the report is.
source "$(dirname "$0")/_venv.sh" "workloads"
mlmeter suite --output results/suite "$@"
