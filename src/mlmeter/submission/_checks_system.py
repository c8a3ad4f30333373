"""Checks of system descriptions, divisions and the network division's rules, and that a
closed or network system submits every scenario its category requires."""

from __future__ import annotations

from collections.abc import Iterator

from mlmeter.submission import _layout as L
from mlmeter.submission._checks_common import CLOSED_LIKE, Context, entry_label, error, perf_dir
from mlmeter.submission._findings import Finding
from mlmeter.submission._model import SystemDesc

SYSTEM_TYPES = ("datacenter", "edge", "datacenter,edge", "edge,datacenter")
TRAINING_DIVISIONS = ("closed", "open")


def check_systems(ctx: Context) -> Iterator[Finding]:
    """Required fields, division, submitter, system type and ``is_network`` of each system."""
    for (division, org, _name), desc in sorted(ctx.tree.systems.items()):
        where = ctx.rel(desc.path)
        training = division == L.TRAINING
        need = ctx.round.training_system_fields if training else ctx.round.system_fields
        missing = [f for f in need if f not in desc.fields]
        if missing:
            msg = f"missing required field(s): {', '.join(missing)}"
            yield error("system.missing_field", where, msg)
        yield from _division(where, desc, division, training)
        if "submitter" in desc.fields and str(desc.get("submitter")) != org:
            msg = f"submitter is {desc.get('submitter')!r}, but the folder is {org!r}"
            yield error("system.submitter_mismatch", where, msg)
        if not training:
            yield from _inference_system(where, desc, division)


def _division(where: str, desc: SystemDesc, division: str, training: bool) -> Iterator[Finding]:
    said = desc.get("division", None)
    if said is None:
        return  # reported as a missing field
    if training and said not in TRAINING_DIVISIONS:
        msg = f"division is {said!r}: a training system is closed or open"
        yield error("system.division_mismatch", where, msg)
    elif not training and said != division:
        msg = f"division is {said!r}, but the system is under {division}/"
        yield error("system.division_mismatch", where, msg)


def _inference_system(where: str, desc: SystemDesc, division: str) -> Iterator[Finding]:
    kind = str(desc.get("system_type", "")).replace(" ", "")
    if "system_type" in desc.fields and kind not in SYSTEM_TYPES:
        msg = f"system_type is {kind!r}: use datacenter, edge or datacenter,edge"
        yield error("system.bad_type", where, msg)
    is_network = desc.get("is_network", False) is True
    if division == "network" and not is_network:
        msg = "a network-division system must have is_network: true"
        yield error("network.not_network_system", where, msg)
    if division != "network" and is_network:
        msg = f"is_network is true, but the system is under {division}/ (use network/)"
        yield error("network.wrong_division", where, msg)


def check_network_runs(ctx: Context) -> Iterator[Finding]:
    """Network-division runs must have a SUT name with ``Network SUT`` in it."""
    for entry in ctx.tree.inference:
        sut = str(entry.detail.get("sut_name", ""))
        if entry.division == "network" and entry.detail and "Network SUT" not in sut:
            msg = f"{entry_label(entry)}: sut_name {sut!r} lacks 'Network SUT'"
            yield error("network.sut_name", perf_dir(ctx, entry), msg)


def check_scenarios(ctx: Context) -> Iterator[Finding]:
    """A closed or network system submits every scenario its category needs per benchmark."""
    present: dict[tuple[str, str, str, str], set[str]] = {}
    for e in ctx.tree.inference:
        if e.division in CLOSED_LIKE:
            present.setdefault((e.division, e.org, e.system, e.benchmark), set()).add(e.scenario)
    for (division, org, system, benchmark), got in sorted(present.items()):
        bench = ctx.round.benchmark(benchmark)
        desc = ctx.tree.system(division, org, system)
        if bench is None or desc is None:
            continue  # reported elsewhere
        need = bench.required_scenarios(str(desc.get("system_type", "")))
        missing = [s for s in need if s not in got]
        if missing:
            where = f"{division}/{org}/results/{system}/{benchmark}"
            msg = (f"{benchmark} on a {desc.get('system_type')} system needs "
                   f"{', '.join(need)}; missing {', '.join(missing)}")  # fmt: skip
            yield error("results.missing_scenario", where, msg)
