"""Real runs shared by the reporting tests: made once per session with the CLI.

- ``server``: Server, INVALID (too few queries for early stopping), with ``--trace``;
- ``single``: SingleStream, VALID, with ``--trace``;
- ``offline``: Offline, without a trace, plus a hand-written ``accuracy.txt`` (PASS).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlmeter.cli.main import main

ACCURACY_TXT = """mAP = 0.3752
reference = 0.375
target = 0.99 x reference = 0.37125
samples = 24
result = PASS
iou_threshold = 0.5
hash=0123abcd
"""


def _run(outdir: Path, scenario: str, *extra: str) -> Path:
    argv = ["run", "fixed", "--service-ms", "1", "--workers", "2", "--scenario", scenario]
    argv += ["--set", "min_duration=300", "--quiet", "--output", str(outdir), *extra]
    code = main(argv)
    assert (outdir / "results.json").is_file(), f"mlmeter {' '.join(argv)} exited {code}"
    return outdir


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("runs")
    server = _run(base / "server", "Server", "--set", "server_target_qps=500", "--trace")
    single = _run(base / "single", "SingleStream", "--trace")
    offline = _run(base / "offline", "Offline")
    (offline / "accuracy.txt").write_text(ACCURACY_TXT, encoding="utf-8")
    return {"server": server, "single": single, "offline": offline}
