"""Mutation report: how many small bugs put into a core module the fast tests catch.

For each chosen module, mutmut (3.x) rewrites the module into many mutants
(an operator flipped, a constant changed, a call argument dropped...), and
runs, for each mutant, only the tests that call the mutated function (it
learns which ones in a first traced run). A mutant is *killed* when a test
fails; it *survives* when every test still passes: a bug users could meet
that the suite would not notice, or a change that is not a bug at all
(an equivalent mutant; README lists the known ones).

Each module runs in its own scratch copy of the project (never in the work
tree, which other people may be editing), against only the test files listed
for it below, one module at a time, and is stopped after `--budget` seconds
whatever happens: mutants not run by then are counted as "not run".

    pip install -e ".[test,mutation]"
    python benchmarks/mutation.py                        # every module below
    python benchmarks/mutation.py masking sync --budget 600 --jobs 2

Prints, per module: mutants, killed (a timeout counts as killed: the mutant
hung the code), survived, not run, and the share killed out of those run;
then each survivor as file:line and the change. Exit 1 when a module run
to the end kills less than `--goal` percent.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# module -> (source files mutated, the fast test files that cover them)
MODULES: dict[str, tuple[list[str], list[str]]] = {
    "masking": (["tts_tui/core/masking.py"],
                ["tests/unit/test_masking.py", "tests/unit/test_har.py", "tests/unit/test_export.py"]),
    "templates": (["tts_tui/core/templates.py", "tts_tui/core/template_engine.py"],
                  ["tests/unit/test_templates.py", "tests/unit/test_request_checks.py"]),
    "scriban": (["tts_tui/core/scriban.py"], ["tests/unit/test_templates.py"]),
    "config_writer": (["tts_tui/core/config_writer.py"],
                      ["tests/unit/test_config_writer.py", "tests/unit/test_config.py", "tests/unit/test_sync.py"]),
    "sync": (["tts_tui/core/sync.py"], ["tests/unit/test_sync.py", "tests/unit/test_saves.py"]),
    "speech": (["tts_tui/core/speech.py"],
               ["tests/unit/test_speech.py", "tests/unit/test_answer.py", "tests/unit/test_client.py"]),
    "pick": (["tts_tui/core/answer/pick.py"], ["tests/unit/test_answer.py"]),
    "media_type": (["tts_tui/core/answer/media_type.py"], ["tests/unit/test_answer.py"]),
    "events": (["tts_tui/core/answer/events.py"], ["tests/unit/test_events.py", "tests/unit/test_answer.py"]),
}
STATUSES = ("killed", "survived", "timeout", "no tests", "skipped", "suspicious", "segfault",
            "not checked", "check was interrupted by user", "caught by type check")
_RESULT = re.compile(r"^\s*(?P<name>\S+__mutmut_\d+): (?P<status>.+?)\s*$")
_HUNK = re.compile(r"^@@ -(?P<line>\d+)")

# A pytest plugin for the scratch copy: tests that run the CLI in a
# subprocess are left out, as mutmut cannot see which functions a child
# process calls (its tracing run fails in the child).
PLUGIN = '''
def pytest_collection_modifyitems(config, items):
    keep = [item for item in items if "cli" not in getattr(item, "fixturenames", ())]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep
'''


@dataclass
class Report:
    module: str
    counts: dict[str, int] = field(default_factory=dict)
    survivors: list[str] = field(default_factory=list)
    stopped: bool = False
    seconds: float = 0.0
    error: str = ""

    @property
    def killed(self) -> int:
        return self.counts.get("killed", 0) + self.counts.get("timeout", 0)

    @property
    def run(self) -> int:
        """Mutants with a verdict; "no tests" (no selected test calls the
        function) counts as not killed."""
        return self.killed + sum(self.counts.get(s, 0) for s in ("survived", "suspicious", "no tests"))

    @property
    def share(self) -> float | None:
        return 100.0 * self.killed / self.run if self.run else None


def scratch_copy(into: Path, sources: list[str], tests: list[str], extra_pytest: list[str]) -> None:
    """The project as mutmut needs it: the package, the tests, and a
    pyproject whose [tool.mutmut] names this module and its tests only."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "mutants")
    shutil.copytree(ROOT / "tts_tui", into / "tts_tui", ignore=ignore)
    shutil.copytree(ROOT / "tests", into / "tests", ignore=ignore)
    (into / "tests" / "mutation_plugin.py").write_text(PLUGIN, encoding="utf-8")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    args = ["-p", "no:cacheprovider", "-p", "tests.mutation_plugin", "-q", "-x", "--no-header", *extra_pytest]
    pyproject += (
        "\n[tool.mutmut]\n"
        'source_paths = ["tts_tui"]\n'
        f"only_mutate = {sources!r}\n"
        f"pytest_add_cli_args = {args!r}\n"
        f"pytest_add_cli_args_test_selection = {tests!r}\n"
        "use_git_change_detection = false\n"
    ).replace("'", '"')
    (into / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    # made now: a folder on PYTHONPATH that is missing when Python starts is never searched
    (into / "mutants").mkdir()


def mutmut(workdir: Path, *args: str, timeout: float | None = None) -> tuple[str, bool]:
    """Run `mutmut ARGS` in `workdir` in its own process group; (output,
    stopped by the timeout). A stopped run keeps the results it saved."""
    env = {**os.environ, "PYTHONPATH": str(workdir / "mutants"), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("CI", None)  # a skip inside a mutant run is not a CI failure
    proc = subprocess.Popen([sys.executable, "-m", "mutmut", *args], cwd=workdir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return out, False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        return out, True


def function_lines(path: Path) -> dict[str, int]:
    """The line of each function's `def`, keyed as mutmut names them
    (`x_name`, `xǁClassǁname`)."""
    lines: dict[str, int] = {}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines[f"x_{node.name}"] = node.lineno
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines[f"x\u01c1{node.name}\u01c1{item.name}"] = item.lineno
    return lines


def survivor_line(workdir: Path, name: str, status: str) -> str:
    """`file:line  name`, then the lines the mutant removed and added, from
    `mutmut show`'s diff (whose line numbers count from the function's def)."""
    out, _ = mutmut(workdir, "show", name, timeout=120)
    path, line, removed, added = "?", None, [], []
    old = 0  # the line, counted from the def, of the diff line being read
    for text in out.splitlines():
        if text.startswith(("--- ", "+++ ")):
            path = text[4:].strip().removeprefix("a/").removeprefix("b/")
        elif hunk := _HUNK.match(text):
            old = int(hunk["line"])
        elif text.startswith("-"):
            line = line or old
            removed.append(text[1:].strip())
            old += 1
        elif text.startswith("+"):
            line = line or old
            added.append(text[1:].strip())
        else:
            old += 1
    function = name.rsplit(".", 1)[-1].partition("__mutmut_")[0]
    source = workdir / path
    if line is not None and source.exists():
        line += function_lines(source).get(function, 1) - 1
    return (f"{path}:{line or '?'}  {name.rsplit('.', 1)[-1]} ({status})\n"
            f"      - {' | '.join(removed)}\n      + {' | '.join(added)}")


def run_module(module: str, budget: float, jobs: int, keep: Path | None) -> Report:
    sources, tests = MODULES[module]
    report = Report(module)
    missing = [t for t in tests if not (ROOT / t).exists()]
    tests = [t for t in tests if t not in missing]
    workdir = Path(tempfile.mkdtemp(prefix=f"mutation-{module}-")) if keep is None else keep / module
    if keep is not None:
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
    try:
        scratch_copy(workdir, sources, tests, [])
        started = time.monotonic()
        out, report.stopped = mutmut(workdir, "run", "--max-children", str(jobs), timeout=budget)
        report.seconds = time.monotonic() - started
        results, _ = mutmut(workdir, "results", "--all", "true", timeout=120)
        for line in results.splitlines():
            match = _RESULT.match(line)
            if match:
                status = match["status"]
                report.counts[status] = report.counts.get(status, 0) + 1
                if status in ("survived", "suspicious", "no tests"):
                    report.survivors.append(survivor_line(workdir, match["name"], status))
        if not report.counts or not report.run:
            report.error = (out.strip().splitlines() or ["mutmut printed nothing"])[-1]
        if missing:
            report.error += f" test files not found (skipped): {', '.join(missing)}"
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return report


def print_report(report: Report) -> None:
    total = sum(report.counts.values())
    not_run = total - report.run
    share = "n/a" if report.share is None else f"{report.share:.1f}%"
    stopped = " (stopped by --budget)" if report.stopped else ""
    print(f"{report.module:14} {total:5} mutants  {report.killed:5} killed  "
          f"{report.run - report.killed:4} survived  {not_run:4} not run  "
          f"killed {share:>6}  in {report.seconds:.0f} s{stopped}", flush=True)
    if report.error:
        print(f"    note: {report.error}")
    for line in report.survivors:
        print(f"    {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=f"default: all of {', '.join(MODULES)}")
    parser.add_argument("--budget", type=float, default=900, help="seconds per module (default 900)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--goal", type=float, default=90.0, help="percent killed a module must reach")
    parser.add_argument("--keep", type=Path, help="keep each module's scratch copy under this folder")
    args = parser.parse_args()
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    below = []
    for module in args.modules or list(MODULES):
        report = run_module(module, args.budget, args.jobs, args.keep)
        print_report(report)
        if not report.stopped and (report.share is None or report.share < args.goal):
            below.append(module)
    if below:
        print(f"below {args.goal:.0f}% killed: {', '.join(below)}")
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
