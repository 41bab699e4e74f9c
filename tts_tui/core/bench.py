"""`tts-tui bench`: the same text sent N times, C at a time, and its latency table.

The shared speech pipeline: nothing here plays audio or draws anything. The
counted requests go out from one thread of their own, as tasks of a
`SocketLoop` over C connections (`bench_wire.LoopWire`: LeanClient's bytes,
parser, clock and errors, without asyncio in between), and each next request
is written before the previous answer is decoded and filed, so the client's
own work stays out of the latency it reports and out of the gaps between
requests; what LeanClient would not send itself (https, a proxy, a
redirect...) goes through `LeanClient` and its HttpClient on asyncio, as the
warm-up does when the wire cannot send it. With no one taking frames, a WAV or PCM answer is
only counted, not converted: `ttfa_ms` is the time to its first whole frame,
`audio_s` its exact length. Other formats decode as they stream, so their
`ttfa_ms` is the time to the first decoded samples. Per request, the client's
work does not grow with the number of chunks the server sends.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tts_tui.core.blocking_wire import Fallback, keep_freed_memory
from tts_tui.core.bench_wire import LoopWire
from tts_tui.core.socket_loop import SocketLoop
from tts_tui.core.exchange import Exchange
from tts_tui.core.lean_client import LeanClient
from tts_tui.core.model import Service
from tts_tui.core.speech import SpeechResult, prepare, speak
from tts_tui.core.stats import Summary

if TYPE_CHECKING:
    from tts_tui.core.client import HttpClient

METRICS = ("connect_ms", "ttfb_ms", "ttfa_ms", "total_ms", "audio_s", "rtf")
BENCH_TEXT = "The quick brown fox jumps over the lazy dog."
PROGRESS_EVERY = 0.05  # seconds between progress reports while the loop runs


@dataclass
class BenchRow:
    """One counted request: `n` is its index (0-based, in the order it was started)."""

    n: int
    exchange: Exchange
    exchanges: list[Exchange] = field(default_factory=list)  # with an audio URL fetch, if any

    @property
    def ok(self) -> bool:
        return self.exchange.error is None

    def metrics(self) -> dict[str, Any]:
        """`Exchange.metrics()` plus `"n"`: one `--json` line."""
        return {"n": self.n, **self.exchange.metrics()}


@dataclass
class BenchReport:
    """Every counted request (ordered by `n`), the warm-up, the wall time, and
    the client's own CPU time (user + system, every thread of this process)
    over the same window: what the measuring cost the machine it measured."""

    service: str
    concurrency: int
    rows: list[BenchRow] = field(default_factory=list)
    warmup: BenchRow | None = None
    wall_s: float = 0.0
    cpu_s: float = 0.0
    engine_sent: int = 0  # requests written by the blocking engine (the others went the async path)

    @property
    def cpu_ms_per_request(self) -> float | None:
        return self.cpu_s * 1000 / self.count if self.count else None

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def errors(self) -> int:
        return sum(not row.ok for row in self.rows)

    def error_counts(self) -> list[tuple[str, int]]:
        """Distinct error messages with how often each came, most frequent first."""
        counts = Counter(row.exchange.error for row in self.rows if row.exchange.error is not None)
        return counts.most_common()

    def summary(self, metric: str) -> Summary:
        """min/p50/p95/max of `metric` over the successful requests."""
        values = []
        for row in self.rows:
            value = getattr(row.exchange, metric)
            if row.ok and value is not None:
                values.append(float(value))
        return Summary.of(values)

    def table(self) -> dict[str, Summary]:
        """One Summary per metric in METRICS, in that order."""
        return {metric: self.summary(metric) for metric in METRICS}

    def exchanges(self) -> list[Exchange]:
        """Every counted exchange in request order (audio URL fetches included), for HAR."""
        return [ex for row in self.rows for ex in (row.exchanges or [row.exchange])]

    def summary_dict(self) -> dict[str, Any]:
        """The table as numbers: the final `--json` line (`"summary": true`)."""
        def r(v: float | None, metric: str) -> float | None:
            if v is None:
                return None
            return round(v, 4 if metric == "rtf" else 3 if metric == "audio_s" else 1)

        return {
            "summary": True,
            "service": self.service,
            "count": self.count,
            "errors": self.errors,
            "error_messages": [{"message": m, "count": c} for m, c in self.error_counts()],
            "concurrency": self.concurrency,
            "wall_s": round(self.wall_s, 3),
            "requests_per_s": round(self.count / self.wall_s, 2) if self.wall_s > 0 else None,
            "client_cpu_ms_per_request": None if self.count == 0 else round(self.cpu_ms_per_request or 0.0, 3),
            "metrics": {
                metric: {"n": s.n, "min": r(s.min, metric), "p50": r(s.p50, metric),
                         "p95": r(s.p95, metric), "max": r(s.max, metric)}
                for metric, s in self.table().items()
            },
        }


async def run_bench(
    service: Service,
    text: str,
    *,
    n: int,
    concurrency: int,
    client: HttpClient,
    warmup: bool = True,
    on_result: Callable[[BenchRow], None] | None = None,
    keep_bodies: bool = True,
) -> BenchReport:
    """Send `text` to `service` `n` times, at most `concurrency` at once, on one client.

    With `warmup`, one request goes first and is not counted (it opens the
    connection and wakes a lazy server). Template and config errors raise
    TtsError before anything is sent; network and audio faults never raise,
    they end up in the rows' errors. `on_result` runs in this task for each
    counted request, in completion order, at most PROGRESS_EVERY seconds after
    it finished (the loop's thread only appends rows). Without `keep_bodies`,
    the body of an exchange that succeeded is let go once its row is made
    (`body_dropped`; its metrics stay), so a long bench holds no audio.
    """
    if n < 1 or concurrency < 1:
        raise ValueError("n and concurrency must be at least 1")
    request = prepare(service, text)
    report = BenchReport(service.name, min(concurrency, n))
    wire = LeanClient(client)  # what it cannot send itself, `client` sends

    def row_of(index: int, result: SpeechResult) -> BenchRow:
        if not keep_bodies:
            for ex in result.exchanges:
                if ex.error is None and ex.body:
                    ex.body, ex.body_dropped = b"", True
        return BenchRow(index, result.exchange, result.exchanges)

    async def one(index: int) -> BenchRow:
        return row_of(index, await speak(service, text, client=wire, request=request))  # type: ignore[arg-type]

    async def looped_one(engine: LoopWire, index: int) -> BenchRow:
        return row_of(index, await speak(service, text, client=engine, request=request))  # type: ignore[arg-type]

    try:
        if wire.plan(request) is None:  # https, a proxy...: LeanClient would hand it all to `client`
            await _run(report, one, n, warmup, on_result)
        else:
            await _run_loop(report, one, looped_one, wire, n, warmup, on_result)
    finally:
        wire.close_connections()
    report.rows.sort(key=lambda row: row.n)
    return report


async def _run(report: BenchReport, one: Callable[[int], Any], n: int, warmup: bool,
               on_result: Callable[[BenchRow], None] | None) -> None:
    if warmup:
        report.warmup = await one(-1)
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        await _run_async(report.concurrency, one, iter(range(n)), report.rows, on_result)
    finally:
        report.wall_s = time.perf_counter() - started
        report.cpu_s = time.process_time() - cpu_started


async def _run_async(concurrency: int, one: Callable[[int], Any], indices: Iterator[int], rows: list[BenchRow],
                     on_result: Callable[[BenchRow], None] | None) -> None:
    """`one` for every index, `concurrency` tasks at a time, each row appended
    to `rows` and handed to `on_result` as it comes."""

    async def worker() -> None:
        # the iterator is shared: each worker takes the next index when free
        for index in indices:
            row = await one(index)
            rows.append(row)
            if on_result is not None:
                on_result(row)

    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def _run_loop(report: BenchReport, one: Callable[[int], Any],
                    looped_one: Callable[[LoopWire, int], Any], wire: LeanClient, n: int,
                    warmup: bool, on_result: Callable[[BenchRow], None] | None) -> None:
    """The counted requests as tasks of one SocketLoop, on a thread of its
    own, over `concurrency` connections (LoopWire). Twice as many tasks as
    connections: each task makes its request while it waits for a connection,
    and decodes and files its answer while the next request is out. The
    tasks only append rows: this task hands them to `on_result` every
    PROGRESS_EVERY seconds. The first request the wire cannot send (a
    redirect, a connection it cannot open...) stops the run after the
    requests in flight; that request and all not yet sent go the async path
    (`one`), in the same timed window."""
    keep_freed_memory()
    loop = SocketLoop()
    engine = LoopWire(wire, loop, report.concurrency)
    indices = iter(range(n))
    rows: list[BenchRow] = []
    left_over: list[int] = []  # indices the wire gave back, for the async path

    async def work() -> None:
        try:
            while not engine.stopped:
                index = next(indices, None)
                if index is None:
                    return
                try:
                    rows.append(await looped_one(engine, index))
                except Fallback:
                    left_over.append(index)
                    engine.stop()
        except BaseException:  # a bug, not a fault (or the loop closing): the others stop too
            engine.stop()
            raise

    seen = 0

    def report_new() -> None:
        nonlocal seen
        while seen < len(rows):
            seen += 1
            if on_result is not None:
                on_result(rows[seen - 1])

    async def warm_up() -> None:
        try:
            report.warmup = await looped_one(engine, -1)
        except Fallback:  # e.g. a redirect: the whole run goes the async path
            left_over.append(-1)

    started = cpu_started = None
    try:
        if warmup:
            loop.spawn(warm_up())
            await _drive(loop, None)
            if left_over:
                report.warmup = await one(-1)
                await _run(report, one, n, False, on_result)
                return
        for _ in range(min(n, 2 * report.concurrency)):
            loop.spawn(work())
        started, cpu_started = time.perf_counter(), time.process_time()
        await _drive(loop, report_new)
        if left_over:
            await _run_async(report.concurrency, one, itertools.chain(left_over, indices), rows, on_result)
            report_new()
    finally:
        if started is not None and cpu_started is not None:
            report.wall_s = time.perf_counter() - started
            report.cpu_s = time.process_time() - cpu_started
            report.rows = rows
        engine.close()
        loop.close()
        report.engine_sent += engine.sent


async def _drive(loop: SocketLoop, every: Callable[[], None] | None) -> None:
    """Run `loop` on a thread of its own until its tasks have ended, calling
    `every` every PROGRESS_EVERY seconds meanwhile and once at the end.
    Cancelled (Ctrl-C), or a task failed: every task is closed at its await
    and the thread has ended before this raises."""
    aio = asyncio.get_running_loop()
    done: asyncio.Future[None] = aio.create_future()

    def drive() -> None:
        try:
            loop.run()
        except BaseException as exc:  # the loop's own bug: raised again below
            loop.failures.append(exc)
        finally:
            aio.call_soon_threadsafe(done.set_result, None)

    thread = threading.Thread(target=drive, name="bench-loop", daemon=True)
    thread.start()
    try:
        while not done.done():
            await asyncio.wait([done], timeout=PROGRESS_EVERY)
            if every is not None:
                every()
    except BaseException:
        loop.stop()
        thread.join()
        raise
    thread.join()
    if loop.failures:
        raise loop.failures[0]
