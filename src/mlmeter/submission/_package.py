"""``mlmeter submission package``: build an MLPerf-layout tree from run and train folders.

The tree is built in a hidden sibling folder and renamed into place at the end, so a
failed packaging leaves nothing half-written; ``mlmeter_submission.json`` (written last)
lists every source folder and every written file with its sha256. Sources are only read.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlmeter._version import __version__
from mlmeter.errors import UsageError
from mlmeter.logfmt import atomic_write_bytes, atomic_write_text
from mlmeter.logfmt._digest import sha256_file
from mlmeter.submission import _documents as D
from mlmeter.submission import _layout as L
from mlmeter.submission import _package_power as P
from mlmeter.submission._accuracy_txt import (
    accuracy_txt,
    sha256_bytes,
    truncate_accuracy_log,
)
from mlmeter.submission._model import DIVISIONS
from mlmeter.submission._sources import InferenceRun, Source, TrainingRun, load_source

DEFAULT_ROUND = "dev"


@dataclass(frozen=True)
class Packaged:
    """One packaged result: where it came from and where it went."""

    kind: str  # "inference" or "training"
    benchmark: str
    scenario: str  # "" for training
    mode: str  # performance, accuracy, TEST01..., or "training"
    source: Path
    dest: Path  # the folder in the tree
    valid: bool | None  # the run's verdict; None where there is none (accuracy, training)

    def line(self, root: Path) -> str:
        """One line for the CLI: what, from where, to where."""
        what = " ".join(p for p in (self.benchmark, self.scenario, self.mode) if p)
        verdict = {True: "VALID", False: "INVALID", None: ""}[self.valid]
        tail = f" [{verdict}]" if verdict else ""
        return f"{what}: {self.source} -> {self.dest.relative_to(root).as_posix()}{tail}"


@dataclass(frozen=True)
class PackageResult:
    """The packaged tree."""

    root: Path
    manifest: Path
    items: tuple[Packaged, ...]


class _Tree:
    """The staging folder: writes files and remembers each one's sha256."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, str] = {}

    def write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
        self.files[path.relative_to(self.root).as_posix()] = sha256_bytes(data)

    def text(self, path: Path, text: str) -> None:
        self.write(path, text.encode("utf-8"))

    def copy(self, src: Path, dest_dir: Path, name: str = "") -> None:
        self.write(dest_dir / (name or src.name), src.read_bytes())


def package(
    sources: Sequence[Path],
    out: Path,
    *,
    org: str,
    division: str,
    system: str,
    round_name: str | None = None,
    force: bool = False,
) -> PackageResult:
    """Package ``sources`` (run and train folders) into the submission tree ``out``."""
    _check_names(org, division, system)
    if not sources:
        raise UsageError(
            "no RUN_DIR given: pass folders written by `mlmeter run` or `mlmeter train`"
        )
    loaded = [load_source(Path(p).resolve()) for p in sources]
    _check_slots(loaded)
    out = out.resolve()
    _check_out(out, loaded, force=force)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    done = False
    try:
        tree = _Tree(stage)
        items = _write_all(tree, loaded, org=org, division=division, system=system)
        head = {
            "round": round_name or DEFAULT_ROUND,
            "org": org,
            "division": division,
            "system": system,
            "created_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "mlmeter_version": __version__,
        }
        sources_doc = [D.source_entry(s, _source_files(s)) for s in loaded]
        doc = D.manifest(head, sources_doc, tree.files)
        atomic_write_text(stage / L.MANIFEST, D.dumps(doc))
        _swap_in(stage, out)
        done = True
    finally:
        if not done:
            shutil.rmtree(stage, ignore_errors=True)
    moved = tuple(_rebase(i, stage, out) for i in items)
    return PackageResult(out, out / L.MANIFEST, moved)


def _check_names(org: str, division: str, system: str) -> None:
    if division not in DIVISIONS:
        raise UsageError(f"--division {division!r}: use one of {', '.join(DIVISIONS)}")
    for flag, value in (("--org", org), ("--system", system)):
        if not value or value in (".", "..") or "/" in value or "\\" in value:
            raise UsageError(f"{flag} {value!r}: give a plain folder name (no '/')")


def _check_slots(loaded: list[Source]) -> None:
    """Refuse two runs for one benchmark, scenario and mode (or one training benchmark)."""
    seen: dict[tuple[str, ...], Path] = {}
    for src in loaded:
        key = src.slot if isinstance(src, InferenceRun) else ("training", src.benchmark)
        if key in seen:
            what = " ".join(k for k in key if k)
            raise UsageError(
                f"{seen[key]} and {src.path} are both {what}: pass one run per benchmark, "
                "scenario and mode"
            )
        seen[key] = src.path


def _check_out(out: Path, loaded: list[Source], *, force: bool) -> None:
    for src in loaded:
        if out == src.path or src.path in out.parents or out in src.path.parents:
            raise UsageError(f"-o {out}: the tree and {src.path} overlap; pick another -o folder")
    if out.exists() and not out.is_dir():
        raise UsageError(f"-o {out}: exists and is not a folder; pick another -o folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise UsageError(f"-o {out}: exists and is not empty; pick a new folder or add --force")
        if not (out / L.MANIFEST).is_file():
            raise UsageError(
                f"-o {out}: --force replaces only a tree mlmeter packaged (no {L.MANIFEST}); "
                "pick a new folder"
            )
    out.parent.mkdir(parents=True, exist_ok=True)


def _swap_in(stage: Path, out: Path) -> None:
    """Rename the finished tree into place, replacing an old one (``--force``)."""
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        stage.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        stage.rename(out)


def _rebase(item: Packaged, stage: Path, out: Path) -> Packaged:
    dest = out / item.dest.relative_to(stage)
    return Packaged(
        item.kind, item.benchmark, item.scenario, item.mode, item.source, dest, item.valid
    )


def _source_files(src: Source) -> dict[str, str]:
    """The sha256 of every file of a source folder that went into the tree."""
    files = (*src.logs, src.system_json) if isinstance(src, TrainingRun) else _run_files(src)
    return {p.relative_to(src.path).as_posix(): sha256_file(p) for p in files}


def _run_files(run: InferenceRun) -> tuple[Path, ...]:
    names = [L.SUMMARY, L.DETAIL, "results.json", "system.json", *P.source_names(run.path)]
    if run.mode == "accuracy" or run.audit == "TEST01":
        names += [L.ACCURACY_LOG, L.ACCURACY_TXT]
    return tuple(run.path / n for n in names if (run.path / n).is_file())


def _write_all(
    tree: _Tree, loaded: list[Source], *, org: str, division: str, system: str
) -> list[Packaged]:
    runs = [s for s in loaded if isinstance(s, InferenceRun)]
    items: list[Packaged] = []
    if runs:
        top = L.org_dir(tree.root, division, org)
        tree.text(
            L.system_file(top, system), D.dumps(D.inference_system(runs, org, division, system))
        )
        tree.text(top / "code" / L.README, D.code_readme())
        items += [_write_run(tree, top, system, r) for r in runs]
        for bench, scen in sorted({(r.benchmark, r.scenario) for r in runs}):
            _write_scenario_docs(
                tree, top, system, [r for r in runs if r.slot[:2] == (bench, scen)]
            )
    for src in loaded:
        if isinstance(src, TrainingRun):
            items.append(_write_training(tree, src, org=org, division=division, system=system))
    return items


def _write_run(tree: _Tree, top: Path, system: str, run: InferenceRun) -> Packaged:
    if run.audit:
        dest = L.compliance_dir(top, system, run.benchmark, run.scenario, run.audit)
        tree.copy(run.path / L.SUMMARY, dest / L.PERFORMANCE_RUN)
        tree.copy(run.path / L.DETAIL, dest / L.PERFORMANCE_RUN)
        if run.audit in ("TEST01", "TEST06") and (run.path / L.ACCURACY_LOG).is_file():
            tree.copy(run.path / L.ACCURACY_LOG, dest / L.ACCURACY)
        return Packaged(
            "inference", run.benchmark, run.scenario, run.audit, run.path, dest, run.valid
        )
    scen = L.scenario_dir(top, system, run.benchmark, run.scenario)
    dest = scen / (L.PERFORMANCE_RUN if run.mode == "performance" else L.ACCURACY)
    tree.copy(run.path / L.SUMMARY, dest)
    tree.copy(run.path / L.DETAIL, dest)
    if run.mode == "performance":
        P.copy_inference_power(tree.copy, run.path, scen / "performance")
    if run.mode == "accuracy":
        _write_accuracy(tree, run, dest)
    return Packaged("inference", run.benchmark, run.scenario, run.mode, run.path, dest, run.valid)


def _write_accuracy(tree: _Tree, run: InferenceRun, dest: Path) -> None:
    """The accuracy log truncated as officially, and accuracy.txt with the full log's hash."""
    full = (run.path / L.ACCURACY_LOG).read_bytes()
    stored = (run.path / L.ACCURACY_TXT).read_text(encoding="utf-8")
    text = accuracy_txt(stored, sha256_bytes(full), where=str(run.path / L.ACCURACY_TXT))
    tree.write(dest / L.ACCURACY_LOG, truncate_accuracy_log(full))
    tree.text(dest / L.ACCURACY_TXT, text)


def _write_scenario_docs(tree: _Tree, top: Path, system: str, runs: list[InferenceRun]) -> None:
    """measurements.json, user.conf and README.md of one benchmark and scenario."""
    main = [r for r in runs if not r.audit]
    if not main:
        return
    ref = next((r for r in main if r.mode == "performance"), main[0])
    scen = L.scenario_dir(top, system, ref.benchmark, ref.scenario)
    tree.text(scen / L.MEASUREMENTS, D.dumps(D.measurements(ref)))
    tree.text(scen / L.USER_CONF, D.user_conf(ref))
    tree.text(scen / L.README, D.scenario_readme(main))


def _write_training(
    tree: _Tree, src: TrainingRun, *, org: str, division: str, system: str
) -> Packaged:
    D.check_training(src, org=org, division=division)
    top = L.training_org(tree.root, org)
    dest = L.training_bench_dir(top, system, src.benchmark)
    for i, log in enumerate(src.logs):
        tree.copy(log, dest, f"result_{i}.txt")
        P.copy_training_power(tree.copy, log, dest / "power" / f"result_{i}")
    tree.text(L.system_file(top, system), D.dumps(D.training_system(src, org, system)))
    impl = top / "benchmarks" / src.benchmark / "implementations" / "mlmeter"
    tree.text(impl / L.README, D.training_readme(src))
    return Packaged("training", src.benchmark, "", "training", src.path, dest, None)
