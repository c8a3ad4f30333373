"""One training run as data: what a launcher hands to each of its worker processes."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlmeter.training._harness import RunOutcome
from mlmeter.training._spec import SubmissionInfo
from mlmeter.training._workload import TrainOptions

JOB_FORMAT = 1


@dataclass(frozen=True)
class Job:
    """A run of ``workload`` with ``opts``, logging to ``log`` (rank 0 of node 0)."""

    workload: str
    opts: TrainOptions
    log: Path
    info: SubmissionInfo = field(default_factory=SubmissionInfo)
    time_limit_s: float | None = None
    outcome: Path | None = None  # where rank 0 writes its RunOutcome as JSON
    comm_timeout_s: float = 120.0

    def to_json(self) -> str:
        """The job as JSON (paths as strings)."""
        opts = dataclasses.asdict(self.opts)
        opts["data_dir"] = None if self.opts.data_dir is None else str(self.opts.data_dir)
        return json.dumps(
            {
                "format": JOB_FORMAT,
                "workload": self.workload,
                "opts": opts,
                "log": str(self.log),
                "info": dataclasses.asdict(self.info),
                "time_limit_s": self.time_limit_s,
                "outcome": None if self.outcome is None else str(self.outcome),
                "comm_timeout_s": self.comm_timeout_s,
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> Job:
        """The job written by ``to_json``."""
        raw: dict[str, Any] = json.loads(text)
        if raw.get("format") != JOB_FORMAT:
            raise ValueError(f"job format {raw.get('format')!r} is not {JOB_FORMAT}")
        opts = dict(raw["opts"])
        opts["data_dir"] = None if opts.get("data_dir") is None else Path(opts["data_dir"])
        return cls(
            workload=raw["workload"],
            opts=TrainOptions(**opts),
            log=Path(raw["log"]),
            info=SubmissionInfo(**raw["info"]),
            time_limit_s=raw["time_limit_s"],
            outcome=None if raw["outcome"] is None else Path(raw["outcome"]),
            comm_timeout_s=float(raw["comm_timeout_s"]),
        )


def outcome_to_json(outcome: RunOutcome) -> str:
    """A ``RunOutcome`` as JSON."""
    return json.dumps(dataclasses.asdict(outcome), indent=1)


def outcome_from_json(text: str) -> RunOutcome:
    """The ``RunOutcome`` written by ``outcome_to_json``."""
    raw = json.loads(text)
    raw["evals"] = tuple(tuple(e) for e in raw.get("evals", ()))
    return RunOutcome(**raw)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
