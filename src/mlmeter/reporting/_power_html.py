"""The HTML page's power section: the numbers, then throughput and power over time drawn on
one time axis (seconds since the test start), side by side."""

from __future__ import annotations

from mlmeter.reporting._model import RunPlots
from mlmeter.reporting._plots import Series, esc, lines_svg
from mlmeter.reporting._power import PowerInfo, power_text

_X_LABEL = "time since test start (s)"


def power_section(name: str, power: PowerInfo | None, plots: RunPlots | None) -> str:
    """``<h3>Power</h3>``: verdict and numbers, problems, and the aligned plots."""
    if power is None:
        return ""
    css = power.verdict
    parts = [f'<h3>Power</h3><p><span class="{css}">{esc(power_text(power))}</span></p>']
    if power.problems:
        items = "".join(f"<li class='unmet'>{esc(p)}</li>" for p in power.problems)
        parts.append(f"<ul>{items}</ul>")
    parts.append(_figures(name, power, plots))
    return "".join(parts)


def _figures(name: str, power: PowerInfo, plots: RunPlots | None) -> str:
    s = power.series
    if not s.x:
        return '<p class="note">No power samples inside the run window to plot.</p>'
    rate = None if plots is None or not plots.throughput.x else plots.throughput
    end = max(s.x[-1], rate.x[-1] if rate is not None else 0.0)
    x_range = (0.0, end) if end > 0 else None
    watts = lines_svg(
        [Series("power (W)", s.x, s.y)],
        title=f"{name}: power over time",
        x_label=_X_LABEL,
        y_label="W",
        x_range=x_range,
    )
    figures = [_figure("Power over time", watts)]
    if rate is not None:
        svg = lines_svg(
            [Series("completed samples/s", rate.x, rate.y, step=True)],
            title=f"{name}: throughput over time (the power plot's time axis)",
            x_label=_X_LABEL,
            y_label="completed samples/s",
            x_range=x_range,
        )
        figures.insert(0, _figure("Throughput over time", svg))
    return f'<div class="plots">{"".join(figures)}</div>'


def _figure(caption: str, svg: str) -> str:
    return f'<figure class="plot-box"><figcaption>{esc(caption)}</figcaption>{svg}</figure>'
