"""`tts-tui bench`: the same text sent N times, C at a time, and its latency table.

The shared speech pipeline: nothing here plays audio or draws anything. The
counted requests go on blocking sockets, one thread per connection
(`bench_engine.BlockingWire`: LeanClient's bytes, parser, clock and errors,
without an event loop in between), so the client's own work stays out of the
latency it reports; what LeanClient would not send itself (https, a proxy, a
redirect...) goes through `LeanClient` and its HttpClient on asyncio, as the
warm-up does when the engine cannot send it. With no one taking frames, a WAV or PCM answer is
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

from tts_tui.core.bench_engine import BlockingWire, Fallback, keep_freed_memory, run_to_end
from tts_tui.core.exchange import Exchange
from tts_tui.core.lean_client import LeanClient
from tts_tui.core.model import Service
from tts_tui.core.speech import SpeechResult, prepare, speak
from tts_tui.core.stats import Summary

if TYPE_CHECKING:
    from tts_tui.core.client import HttpClient

METRICS = ("connect_ms", "ttfb_ms", "ttfa_ms", "total_ms", "audio_s", "rtf")
BENCH_TEXT = "The quick brown fox jumps over the lazy dog."
PROGRESS_EVERY = 0.05  # seconds between progress reports while threads run


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
    it finished (the threads only append rows). Without `keep_bodies`,
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

    def blocking_one(engine: BlockingWire, index: int) -> BenchRow:
        return row_of(index, run_to_end(speak(service, text, client=engine, request=request)))  # type: ignore[arg-type]

    try:
        if wire.plan(request) is None:  # https, a proxy...: LeanClient would hand it all to `client`
            await _run(report, one, n, warmup, on_result)
        else:
            await _run_threads(report, one, blocking_one, wire, n, warmup, on_result)
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


async def _run_threads(report: BenchReport, one: Callable[[int], Any],
                       blocking_one: Callable[[BlockingWire, int], BenchRow], wire: LeanClient, n: int,
                       warmup: bool, on_result: Callable[[BenchRow], None] | None) -> None:
    """The counted requests on `concurrency` threads, each with its own
    BlockingWire. A thread only appends its rows to a list: this task hands
    them to `on_result` every PROGRESS_EVERY seconds, so reporting costs the
    threads nothing per request. The first request the engine cannot send
    (a redirect, a connection it cannot open...) stops every thread after its
    current request; that request and all not yet started go the async path
    (`one`), in the same timed window."""
    keep_freed_memory()
    engines = [BlockingWire(wire) for _ in range(report.concurrency)]
    loop = asyncio.get_running_loop()
    indices = iter(range(n))
    rows: list[BenchRow] = []
    left_over: list[int] = []  # indices the engine gave back, for the async path
    failures: list[BaseException] = []
    state = {"stop": False, "running": report.concurrency}
    all_done: asyncio.Future[None] = loop.create_future()
    take = threading.Lock()

    def work(engine: BlockingWire) -> None:
        try:
            while not state["stop"]:
                with take:
                    index = next(indices, None)
                if index is None:
                    return
                try:
                    rows.append(blocking_one(engine, index))
                except Fallback:
                    left_over.append(index)
                    state["stop"] = True
        except BaseException as exc:  # a bug, not a fault: raised again by the task
            failures.append(exc)
            state["stop"] = True
        finally:
            with take:
                state["running"] -= 1
                last = state["running"] == 0
            if last:
                loop.call_soon_threadsafe(all_done.set_result, None)

    if warmup:
        try:
            report.warmup = await asyncio.to_thread(blocking_one, engines[0], -1)
        except Fallback:  # e.g. a redirect: the whole run goes the async path
            report.engine_sent += engines[0].sent
            engines[0].close()
            report.warmup = await one(-1)
            await _run(report, one, n, False, on_result)
            return
    seen = 0

    def report_new() -> None:
        nonlocal seen
        while seen < len(rows):
            seen += 1
            if on_result is not None:
                on_result(rows[seen - 1])

    started, cpu_started = time.perf_counter(), time.process_time()
    threads = [threading.Thread(target=work, args=(engine,), name=f"bench-{i}", daemon=True)
               for i, engine in enumerate(engines)]
    try:
        for thread in threads:
            thread.start()
        while not all_done.done():
            await asyncio.wait([all_done], timeout=PROGRESS_EVERY)
            report_new()
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]
        if left_over:
            await _run_async(report.concurrency, one, itertools.chain(left_over, indices), rows, on_result)
            report_new()
    except BaseException:
        state["stop"] = True
        for engine in engines:  # wakes a thread blocked in a read
            engine.close()
        for thread in threads:
            thread.join()
        raise
    finally:
        report.wall_s = time.perf_counter() - started
        report.cpu_s = time.process_time() - cpu_started
        report.rows = rows
        for engine in engines:
            engine.close()
            report.engine_sent += engine.sent
