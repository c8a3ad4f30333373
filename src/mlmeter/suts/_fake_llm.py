"""The fake token server: exact, seeded token timing and injectable faults (a test double).

``FakeTokenSource`` plugs into ``openai_app``. Request number ``k`` (1, 2, ... in arrival
order) draws everything from its own ``random.Random`` seeded with ``(seed, k)``, so a
request's delays, length and faults do not depend on what else is in flight.

Timing: token ``i`` (0-based) is produced at ``start + ttft + tpot_1 + ... + tpot_i`` on
``time.monotonic()`` (``start``: the request was parsed); each wait aims at that absolute
time, so errors never accumulate, and a helper thread wakes the loop within ~0.1 ms of it
(the loop's own timers wait whole milliseconds). A chunk is sent when its last token is
produced, so with ``tokens_per_chunk=k`` the first chunk arrives at ``ttft + (k-1) tpot``
and the last one at ``ttft + (n-1) tpot`` whatever ``k``. An answer shorter than
``max_tokens`` (``output_tokens=N`` or ``A-B``) ends with finish reason ``stop``, as if it
met end-of-sequence, unless the request asks ``ignore_eos``: then it runs to ``max_tokens``.

Options (``parse_options(["KEY=VALUE", ...])``, from ``mlmeter serve fake-llm --set``)::

    model=fake-llm            the model id it reports
    seed=0                    seeds every draw
    ttft_ms=50                time to first token: the value, or the mean
    ttft_dist=fixed           fixed | uniform | exponential | normal
    ttft_jitter_ms=0          uniform: half-width; normal: standard deviation (clipped at 0)
    tpot_ms=10, tpot_dist=fixed, tpot_jitter_ms=0    the same for each later token
    output_tokens=max         max: max_tokens; N: N tokens then stop; A-B: uniform in [A, B]
    default_max_tokens=16     max_tokens when a request gives none
    tokens_per_chunk=1        tokens per streamed chunk
    token_text=tok{i}␠        each token's text; {i} is its number (1-based)
    fault=KIND:RATE | KIND:every=N    inject a fault (repeatable; or comma-separated)
    slow_start_ms=1000        slow_start: extra time to first token
    cut_after=1               cut: tokens sent before the connection is closed
    malformed_after=1         malformed: tokens sent before the bad chunk
    max_streams=0             at most N answers stream at once (0: no limit); the others
                              queue, and their time to first token starts with their slot

Fault kinds: ``slow_start``, ``http500`` (status 500, no stream), ``cut`` (connection closed
mid-stream: no finish chunk, no ``[DONE]``), ``malformed`` (one ``data:`` line of invalid
JSON, then the stream goes on). ``RATE`` in [0, 1] is a probability per request;
``every=N`` hits requests N, 2N, ...
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mlmeter.errors import UsageError
from mlmeter.suts._openai_server import (
    Generation,
    GenerationRequest,
    Piece,
    ServerFault,
    WireFault,
)

DISTRIBUTIONS = ("fixed", "uniform", "exponential", "normal")
FAULTS = ("slow_start", "http500", "cut", "malformed")


@dataclass(frozen=True)
class Delay:
    """A delay distribution in milliseconds."""

    dist: str = "fixed"
    ms: float = 0.0  # the value (fixed) or the mean
    jitter_ms: float = 0.0  # uniform: half-width; normal: standard deviation

    def draw(self, rng: random.Random) -> float:
        """One delay in seconds (never negative)."""
        if self.dist == "fixed":
            ms = self.ms
        elif self.dist == "uniform":
            ms = rng.uniform(self.ms - self.jitter_ms, self.ms + self.jitter_ms)
        elif self.dist == "exponential":
            ms = rng.expovariate(1.0 / self.ms) if self.ms > 0 else 0.0
        else:
            ms = rng.gauss(self.ms, self.jitter_ms)
        return max(ms, 0.0) / 1000.0


@dataclass(frozen=True)
class FaultRule:
    """Inject ``kind`` with probability ``rate``, or into every ``every``-th request."""

    kind: str
    rate: float = 0.0
    every: int = 0

    def hits(self, index: int, rng: random.Random) -> bool:
        """Whether request ``index`` (1-based) gets this fault (draws once either way)."""
        draw = rng.random()
        return index % self.every == 0 if self.every else draw < self.rate


@dataclass(frozen=True)
class FakeLLMOptions:
    """Everything the fake token server does; see the module docstring."""

    model: str = "fake-llm"
    seed: int = 0
    ttft: Delay = Delay("fixed", 50.0)
    tpot: Delay = Delay("fixed", 10.0)
    output_tokens: tuple[int, int] | None = None  # None: max_tokens
    default_max_tokens: int = 16
    tokens_per_chunk: int = 1
    token_text: str = "tok{i} "
    faults: tuple[FaultRule, ...] = ()
    slow_start_ms: float = 1000.0
    cut_after: int = 1
    malformed_after: int = 1
    max_streams: int = 0  # answers streaming at once; 0: no limit


@dataclass
class _Plan:
    """One request's draws."""

    n_tokens: int
    finish_reason: str
    ttft: float
    faults: set[str] = field(default_factory=set)


class FakeTokenSource:
    """A ``TokenSource`` that streams ``tok1 tok2 ...`` on an exact, seeded schedule."""

    def __init__(self, options: FakeLLMOptions | None = None) -> None:
        self.options = options or FakeLLMOptions()
        self._index = itertools.count(1)
        self._waker: _Waker | None = None
        self._slots: asyncio.Semaphore | None = None

    @property
    def model(self) -> str:
        """The model id."""
        return self.options.model

    def ready(self) -> tuple[bool, str]:
        """Always ready."""
        return True, "ready"

    async def open(self, request: GenerationRequest) -> Generation:
        """Plan the request; raise ``ServerFault`` for an injected HTTP 500."""
        start = time.monotonic()
        index = next(self._index)
        rng = random.Random(self.options.seed * 1_000_003 + index)
        plan = self._plan(request, rng, index)
        if "http500" in plan.faults:
            raise ServerFault(500, "injected fault: http500")
        loop = asyncio.get_running_loop()
        if self._waker is None or self._waker.loop is not loop:
            self._waker = _Waker(loop)
            self._slots = asyncio.Semaphore(self.options.max_streams or 1)
        pieces = self._pieces(plan, start, rng, self._waker)
        if self.options.max_streams and self._slots is not None:
            pieces = _in_slot(self._slots, plan, rng, self._waker, self._pieces)
        return Generation(_prompt_tokens(request), pieces, plan.finish_reason)

    def _plan(self, request: GenerationRequest, rng: random.Random, index: int) -> _Plan:
        o = self.options
        faults = {rule.kind for rule in o.faults if rule.hits(index, rng)}
        limit = request.max_tokens or o.default_max_tokens
        wanted = limit if o.output_tokens is None else rng.randint(*o.output_tokens)
        if request.ignore_eos or wanted >= limit:
            n_tokens, reason = limit, "length"
        else:
            n_tokens, reason = wanted, "stop"
        ttft = o.ttft.draw(rng) + (o.slow_start_ms / 1000 if "slow_start" in faults else 0.0)
        return _Plan(n_tokens, reason, ttft, faults)

    async def _pieces(
        self, plan: _Plan, start: float, rng: random.Random, waker: _Waker
    ) -> AsyncGenerator[Piece | WireFault, None]:
        o = self.options
        due = start + plan.ttft
        sent = 0
        if "malformed" in plan.faults and o.malformed_after == 0:
            yield WireFault.MALFORMED
        while sent < plan.n_tokens:
            if "cut" in plan.faults and sent >= o.cut_after:
                yield WireFault.CUT
                return
            count = min(o.tokens_per_chunk, plan.n_tokens - sent)
            for _ in range(count - (sent == 0)):
                due += o.tpot.draw(rng)
            await waker.sleep_until(due)
            text = "".join(o.token_text.format(i=sent + j + 1) for j in range(count))
            yield Piece(text, count)
            sent += count
            if "malformed" in plan.faults and sent - count < o.malformed_after <= sent:
                yield WireFault.MALFORMED
        if "cut" in plan.faults:
            yield WireFault.CUT


async def _in_slot(
    slots: asyncio.Semaphore,
    plan: _Plan,
    rng: random.Random,
    waker: _Waker,
    pieces: Callable[[_Plan, float, random.Random, _Waker], AsyncIterator[Piece | WireFault]],
) -> AsyncGenerator[Piece | WireFault, None]:
    """The answer's pieces once a slot is free; its clock starts when the slot is taken."""
    async with slots:
        async for piece in pieces(plan, time.monotonic(), rng, waker):
            yield piece


class _Waker:
    """Wakes coroutines at ``time.monotonic()`` deadlines within ~0.1 ms.

    The event loop's own timers are late by 0.5 ms on average (epoll and libuv wait in whole
    milliseconds, and uvloop's clock counts whole milliseconds), which is 5 % of a 10 ms
    token. So one helper thread sleeps until the earliest deadline and resolves every
    due future in one ``call_soon_threadsafe``; it exits after a second with nothing to do.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._running = False

    async def sleep_until(self, due: float) -> None:
        """Return at ``due`` (a ``time.monotonic()`` value), at once if it has passed."""
        if due <= time.monotonic():
            return
        future = self.loop.create_future()
        with self._cond:
            heapq.heappush(self._heap, (due, next(self._order), future))
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="fake-llm-waker", daemon=True).start()
            elif self._heap[0][2] is future:
                self._cond.notify()
        await future

    def _run(self) -> None:
        with self._cond:
            while self._heap or self._cond.wait(1.0):
                wait = self._heap[0][0] - time.monotonic() if self._heap else 1.0
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                self._fire()
            self._running = False

    def _fire(self) -> None:
        now = time.monotonic()
        due = []
        while self._heap and self._heap[0][0] <= now:
            due.append(heapq.heappop(self._heap)[2])
        try:
            self.loop.call_soon_threadsafe(_wake, due)
        except RuntimeError:  # the loop has closed: nobody waits any more
            self._heap.clear()


def _wake(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)


def _prompt_tokens(request: GenerationRequest) -> int:
    """Whitespace-separated words of the prompt (or of every message), or its token ids."""
    if request.chat:
        return sum(len(content.split()) for _, content in request.messages)
    if isinstance(request.prompt, tuple):
        return len(request.prompt)
    return len(request.prompt.split())


# ---- options ----------------------------------------------------------------------------------

_NUMBERS = {
    "ttft_ms": ("ttft", "ms"),
    "ttft_jitter_ms": ("ttft", "jitter_ms"),
    "tpot_ms": ("tpot", "ms"),
    "tpot_jitter_ms": ("tpot", "jitter_ms"),
}
_DISTS = {"ttft_dist": "ttft", "tpot_dist": "tpot"}
_INTS = (
    "seed", "default_max_tokens", "tokens_per_chunk", "cut_after", "malformed_after", "max_streams",
)  # fmt: skip
KEYS = (
    "model", "seed", "ttft_ms", "ttft_dist", "ttft_jitter_ms", "tpot_ms", "tpot_dist",
    "tpot_jitter_ms", "output_tokens", "default_max_tokens", "tokens_per_chunk", "token_text",
    "fault", "slow_start_ms", "cut_after", "malformed_after", "max_streams",
)  # fmt: skip


def parse_options(items: Sequence[str]) -> FakeLLMOptions:
    """Options from ``KEY=VALUE`` strings (later ones win; ``fault`` accumulates)."""
    options = FakeLLMOptions()
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep:
            raise UsageError(f"fake-llm option {item!r} is not KEY=VALUE (e.g. --set ttft_ms=50)")
        if key not in KEYS:
            raise UsageError(f"unknown fake-llm option {key!r}; known: {', '.join(KEYS)}")
        options = _apply(options, key, value.strip())
    return options


def _apply(options: FakeLLMOptions, key: str, value: str) -> FakeLLMOptions:
    if key in _NUMBERS:
        name, attr = _NUMBERS[key]
        delay = replace(getattr(options, name), **{attr: _number(key, value)})
        return replace(options, **{name: delay})
    if key in _DISTS:
        if value not in DISTRIBUTIONS:
            raise UsageError(
                f"fake-llm option {key}={value}: use one of {', '.join(DISTRIBUTIONS)}"
            )
        name = _DISTS[key]
        return replace(options, **{name: replace(getattr(options, name), dist=value)})
    if key in _INTS:
        low = 1 if key in ("default_max_tokens", "tokens_per_chunk") else 0
        ints: dict[str, Any] = {key: _integer(key, value, low)}
        return replace(options, **ints)
    if key == "slow_start_ms":
        return replace(options, slow_start_ms=_number(key, value))
    if key == "output_tokens":
        return replace(options, output_tokens=_output_tokens(value))
    if key == "fault":
        rules = tuple(_fault(part.strip()) for part in value.split(",") if part.strip())
        return replace(options, faults=options.faults + rules)
    if key == "token_text":
        _check_template(value)
    text: dict[str, Any] = {key: value}
    return replace(options, **text)


def _number(key: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0 or number == float("inf"):
        raise UsageError(f"fake-llm option {key}={value}: give a number of milliseconds >= 0")
    return number


def _integer(key: str, value: str, low: int) -> int:
    if not value.isdigit() or int(value) < low:
        raise UsageError(f"fake-llm option {key}={value}: give an integer >= {low}")
    return int(value)


def _output_tokens(value: str) -> tuple[int, int] | None:
    if value == "max":
        return None
    low, _, high = value.partition("-")
    bounds = (_integer("output_tokens", low, 1), _integer("output_tokens", high or low, 1))
    if bounds[0] > bounds[1]:
        raise UsageError(f"fake-llm option output_tokens={value}: use max, N or A-B with A <= B")
    return bounds


def _fault(spec: str) -> FaultRule:
    kind, _, how = spec.partition(":")
    fix = "use KIND:RATE or KIND:every=N, e.g. fault=http500:0.1 or fault=cut:every=10"
    if kind not in FAULTS:
        raise UsageError(f"unknown fault {kind!r} (known: {', '.join(FAULTS)}): {fix}")
    if how.startswith("every="):
        return FaultRule(kind, every=_integer("fault", how[6:], 1))
    try:
        rate = float(how)
    except ValueError:
        rate = -1.0
    if not 0.0 <= rate <= 1.0:
        raise UsageError(f"fault {spec!r}: {fix} (RATE between 0 and 1)")
    return FaultRule(kind, rate=rate)


def _check_template(value: str) -> None:
    try:
        value.format(i=1)
    except (KeyError, IndexError, ValueError):
        raise UsageError(f"fake-llm option token_text={value}: only {{i}} may be used") from None
