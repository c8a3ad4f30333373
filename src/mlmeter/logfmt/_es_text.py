"""The official early-stopping texts of the summary, built from numbers.

Each function returns bullets for ``EarlyStoppingReport.lines`` (without the leading
``" * "``). Wrapped bullets keep the official line breaks, each followed by one space.
"""

from __future__ import annotations

from mlmeter.logfmt._numfmt import fmt_percent_label


def es_run_successful() -> tuple[str, ...]:
    """Server: enough under-latency queries were processed."""
    return ("Run successful.",)


def es_run_unsuccessful(queries: int, more_needed: int) -> tuple[str, ...]:
    """Server: ``more_needed`` further under-latency queries would make the run pass."""
    return (
        "Run unsuccessful.",
        f"Processed {queries} queries.",
        f"Would need to run at least {more_needed} more queries,\n"
        " with the run being successful if every additional\n"
        " query were under latency.",
    )


def es_too_few_queries(queries: int, needed: int) -> tuple[str, ...]:
    """SingleStream/MultiStream: fewer queries than early stopping needs (not met)."""
    return (
        f"Only processed {queries} queries.",
        f"Need to process at least {needed} queries for early stopping.",
    )


def es_estimate(
    needed: int, queries: int, discarded: int, percentile: float, estimate_ns: int
) -> tuple[str, ...]:
    """SingleStream/MultiStream: the percentile estimate after discarding outliers."""
    return (
        f"Processed at least {needed} queries ({queries}).",
        f"Would discard {discarded} highest latency queries.",
        es_estimate_line(percentile, estimate_ns),
    )


def es_estimate_line(percentile: float, estimate_ns: int) -> str:
    """One "Early stopping NN.Nth percentile estimate: X" bullet (SS adds one at p99)."""
    label = fmt_percent_label(percentile, 1)
    return f"Early stopping {label}th percentile estimate: {estimate_ns}"


def es_not_enough_for(percentile: float, needed: int) -> str:
    """SingleStream: too few queries for the extra p99 estimate (the run may still pass)."""
    label = fmt_percent_label(percentile, 1)
    return (
        f"Not enough queries processed for {label}th percentile\n"
        " early stopping estimate (would need to process at\n"
        f" least {needed} total queries)."
    )
