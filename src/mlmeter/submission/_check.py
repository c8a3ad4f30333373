"""``check_tree``: run every check family on a submission tree (or archive) -> ``Findings``.

The round's rules come from ``round`` (``--round``: a shipped round's name or a ``.toml``
path), else from the tree's ``mlmeter_submission.json``, else the latest official round.
An archive is unpacked safely first; an unsafe one is an ``archive.*`` finding. A check
that raises becomes a ``check.crashed`` error naming it, after the findings it already
returned, and the other checks still run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlmeter.errors import SettingsError, UsageError
from mlmeter.rules import Round, latest_official, load_round
from mlmeter.submission import _layout as L
from mlmeter.submission._archive import UnsafeArchive, open_tree
from mlmeter.submission._checks_accuracy import check_accuracy
from mlmeter.submission._checks_common import Check, Context, error, note
from mlmeter.submission._checks_files import check_files, check_links, check_manifest
from mlmeter.submission._checks_perf import check_perf
from mlmeter.submission._checks_power import check_power
from mlmeter.submission._checks_summary import check_summary
from mlmeter.submission._checks_system import check_network_runs, check_scenarios, check_systems
from mlmeter.submission._checks_training import check_training
from mlmeter.submission._findings import Finding, Findings
from mlmeter.submission._loader import load_tree

CHECKS: tuple[tuple[str, Check], ...] = (
    ("files", check_files),
    ("manifest", check_manifest),
    ("links", check_links),
    ("perf", check_perf),
    ("summary", check_summary),
    ("accuracy", check_accuracy),
    ("systems", check_systems),
    ("network", check_network_runs),
    ("scenarios", check_scenarios),
    ("training", check_training),
    ("power", check_power),
)


def check_tree(path: Path, round: str | None = None) -> Findings:
    """Every finding about the tree (or archive) at ``path`` under the round's rules."""
    findings = Findings()
    try:
        with open_tree(Path(path)) as root:
            findings.extend(check_root(root, round))
    except UnsafeArchive as exc:
        findings.add(exc.as_finding())
    return findings


def check_root(root: Path, round_name: str | None = None) -> list[Finding]:
    """The findings of a tree already on disk."""
    manifest, out = _manifest(root)
    rules, said = _round(manifest, round_name)
    out += said
    tree = load_tree(root)
    out += tree.problems
    ctx = Context(tree, rules, manifest)
    for name, check in CHECKS:
        out += run_check(name, check, ctx)
    return out


def run_check(name: str, check: Check, ctx: Context) -> list[Finding]:
    """The findings of one check; an exception becomes a ``check.crashed`` error."""
    found: list[Finding] = []
    try:
        for finding in check(ctx):
            found.append(finding)
    except Exception as exc:  # a bug or a hostile file must not hide the rest
        why = " ".join(f"{type(exc).__name__}: {exc}".split())
        found.append(error("check.crashed", "", f"the {name} check crashed ({why})"))
    return found


def _manifest(root: Path) -> tuple[dict[str, Any] | None, list[Finding]]:
    path = root / L.MANIFEST
    if not path.is_file():
        return None, []
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        why = " ".join(str(exc).split())
        return None, [error("manifest.unreadable", L.MANIFEST, f"cannot read it: {why}")]
    if not isinstance(doc, dict):
        return None, [error("manifest.format", L.MANIFEST, "not a JSON object")]
    return doc, []


def _round(manifest: dict[str, Any] | None, explicit: str | None) -> tuple[Round, list[Finding]]:
    """The rules to apply, and notes saying which (a bad ``--round`` is a usage error)."""
    said = manifest.get("round") if manifest else None
    if explicit is not None:
        rules = load_round(explicit)
        return rules, [_which(rules, "--round")]
    if isinstance(said, str) and said:
        try:
            rules = load_round(said)
        except (UsageError, SettingsError) as exc:
            latest = load_round(latest_official())
            msg = f"the manifest's round {said!r} cannot be used ({exc}); used {latest.name}"
            return latest, [error("rules.unknown_round", L.MANIFEST, msg)]
        return rules, [_which(rules, L.MANIFEST)]
    rules = load_round(latest_official())
    return rules, [_which(rules, "the latest official round")]


def _which(rules: Round, source: str) -> Finding:
    tail = "" if rules.official else " (not an official round: not for submission)"
    return note("rules.round", "", f"checked against round {rules.name} (from {source}){tail}")
