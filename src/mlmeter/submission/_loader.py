"""Read a submission tree, or a published results repository, into a ``Tree``.

Shapes recognised at ``root`` (see ``_layout``):

- ``{closed,open,network}/<org>/...``: a submission or an inference results repository,
  with ``training/<org>/...`` beside it when the tree holds training results;
- a published training results repository: organisation folders at the top, each with
  ``systems/`` and ``results/``;
- one training organisation folder (``systems/`` and ``results/`` at the root), as
  ``mlmeter train --output DIR`` writes it.

Nothing in the tree raises: what cannot be read becomes a ``load.*`` finding in
``Tree.problems``. Only a root that is not a folder is a usage error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlmeter.errors import UsageError
from mlmeter.submission import _layout as L
from mlmeter.submission._findings import Severity
from mlmeter.submission._load_training import load_training_org, org_submitter
from mlmeter.submission._loadutil import load_systems, problem, subdirs
from mlmeter.submission._model import DIVISIONS, SCENARIOS, InferenceEntry, Tree
from mlmeter.submission._parse import parse_accuracy, parse_detail, parse_summary
from mlmeter.submission._parse import submission_metric as metric_of

SCENARIO_DIRS = (*SCENARIOS, "Interactive")


def load_tree(root: Path) -> Tree:
    """Read every system, inference result and training result under ``root``."""
    root = Path(root)
    if not root.exists():
        raise UsageError(f"{root}: no such folder; give the root of a submission tree")
    if not root.is_dir():
        raise UsageError(f"{root}: not a folder; give a submission tree (or use open_tree)")
    tree = Tree(root=root.resolve())
    divisions = [tree.root / d for d in DIVISIONS if (tree.root / d).is_dir()]
    training = tree.root / L.TRAINING
    if divisions or training.is_dir():
        for division in divisions:
            for org in subdirs(division):
                load_inference_org(tree, division.name, org)
        for org in subdirs(training) if training.is_dir() else []:
            load_training_org(tree, org)
    elif _is_org(tree.root):
        load_training_org(tree, tree.root, org_submitter(tree.root))
    elif orgs := [d for d in subdirs(tree.root) if _is_org(d)]:
        for org in orgs:
            load_training_org(tree, org)
    else:
        problem(tree, tree.root, "load.unknown_layout", _UNKNOWN)
    return tree


_UNKNOWN = (
    "no closed/, open/, network/ or training/ folder and no organisation folder "
    "(systems/ and results/): not a submission tree or results repository"
)


def _is_org(path: Path) -> bool:
    return (path / "results").is_dir() or (path / "systems").is_dir()


def load_inference_org(tree: Tree, division: str, org: Path) -> None:
    """``<division>/<org>``: its systems and every ``results/<system>/<bench>/<scenario>``."""
    systems = load_systems(tree, org, division)
    for system in subdirs(org / "results"):
        if system.name not in systems:
            msg = f"results for system {system.name!r} but no systems/{system.name}.json"
            problem(tree, system, "load.no_system", msg)
        for bench in subdirs(system):
            for scen in subdirs(bench):
                if scen.name in SCENARIO_DIRS:
                    tree.inference.append(_entry(tree, division, org.name, scen))
                else:
                    msg = f"not a scenario folder ({', '.join(SCENARIO_DIRS)}); skipped"
                    problem(tree, scen, "load.unknown_scenario", msg, Severity.WARNING)


def _entry(tree: Tree, division: str, org: str, scen: Path) -> InferenceEntry:
    bench, system = scen.parent, scen.parent.parent
    run = scen / L.PERFORMANCE_RUN
    detail = _read(tree, run / L.DETAIL, parse_detail, "load.detail", {})
    summary = _read(tree, run / L.SUMMARY, parse_summary, "load.summary", {})
    acc_txt = scen / L.ACCURACY / L.ACCURACY_TXT
    accuracy = _read(tree, acc_txt, parse_accuracy, "load.accuracy", None, required=False)
    metric = metric_of(detail, bench.name, scen.name)
    return InferenceEntry(
        division=division,
        org=org,
        system=system.name,
        benchmark=bench.name,
        scenario=scen.name,
        path=scen,
        detail=detail,
        summary=summary,
        accuracy=accuracy,
        metric=metric.key,
        value=metric.value,
        unit=metric.unit,
        valid=detail.get("result_validity") == "VALID",
    )


def _read(
    tree: Tree, path: Path, parse: Any, code: str, empty: Any, *, required: bool = True
) -> Any:
    """``parse(path)``, or ``empty`` and a finding when the file is missing or broken."""
    if not path.is_file():
        if required:
            problem(tree, path, f"{code}_missing", f"missing {path.name}")
        return empty
    value, error = parse(path)
    if error:
        problem(tree, path, f"{code}_unreadable", error.replace(f"{path}: ", "", 1))
        return empty
    return value
