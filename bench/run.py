"""``make bench``: the nightly transform against the floor and the naive peer, and DAG parsing.

    python bench/run.py [--rows 100000,1000000,5000000] [--repeat 3] [--doc docs/PERFORMANCE.md]
    python bench/run.py --only parse [--districts 1000] [--repeat 3] [--parse-against CHECKOUT]

For each size it generates a synthetic export (and the night before, for the nightly diff) under
``var/bench/`` (gitignored; regenerated only when ``devtools/sample.py`` changes), then runs, each as a
whole process and interleaved so that the machine's noise hits every variant alike:

* ``floor``: the same file read and written pipe-delimited by pyarrow alone (``bench/floor.py``);
* ``check and sort``: the night's reader and rules, one sorted ``Table.take``, pyarrow's writer, nothing
  else (``bench/check_sort.py``): what checking and sorting alone cost the plain pyarrow way;
* ``roster run``: the nightly transform as ``roster run`` (the CLI's command);
* ``roster run --previous``: the same with the nightly diff against last night's delivered file;
* ``xlsx``: the same students as an Excel workbook, read by the night's reader, against the CSV
  (``bench/xlsx.py``; ``--xlsx-rows``, at most the largest size);
* ``naive``: pandas ``read_csv(dtype=str)`` + a straightforward pandera model + ``to_csv`` (``bench/naive.py``).

It reports the median wall time of ``--repeat`` runs, the ratio to the floor, the peak memory of
the process (``ru_maxrss``) and rows per second; where the time goes (``bench/stages.py``); the
cost of pandera's ``validate`` over the bare rule kernels (``bench/engines.py``); and how
long the DAG folder takes to parse with 1,000 district files (``--districts``), every DAG file in
``dags/`` through Airflow's ``DagBag`` as the dag-processor parses them, against importing Airflow
alone (``--only parse`` measures just that, ``--parse-against`` also another checkout's code). The
table is printed and, with the machine it ran on, written to ``docs/PERFORMANCE.md``.

Child processes share a bytecode cache under ``var/bench/pycache``, as an installed image has
compiled ``.pyc`` files: without it (``PYTHONDONTWRITEBYTECODE`` in this venv) every process would
recompile pandas and Airflow from source, and the fixed cost would measure the compiler.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import itertools
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DISTRICT = "sample_isd"
DAY = dt.date(2026, 11, 20)
TARGET_RATIO = 2.5
TARGET_PEAK_MB = 3 * 1024
VARIANTS = ("floor", "check and sort", "roster run", "roster run --previous", "naive")


@dataclass
class Run:
    seconds: float
    peak_mb: float
    exit_code: int
    user: float = 0.0
    system: float = 0.0


@dataclass
class Cell:
    runs: list[Run] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def peak_mb(self) -> float:
        return max(r.peak_mb for r in self.runs)

    @property
    def user(self) -> float:
        return statistics.median(r.user for r in self.runs)

    @property
    def system(self) -> float:
        return statistics.median(r.system for r in self.runs)


#: Test tools the development venv installs and the image does not (requirements-dev.txt only). pandera
#: imports hypothesis for its data-synthesis strategies whenever it is installed, so the measured
#: processes are shown a stand-in that refuses to import, as on a deployed worker.
DEV_ONLY = ("hypothesis",)


def _image_only(work: Path) -> Path:
    """A folder of stand-ins for ``DEV_ONLY``: each raises ImportError, as the image's missing package does."""
    folder = work / "image-only"
    folder.mkdir(parents=True, exist_ok=True)
    for name in DEV_ONLY:
        (folder / f"{name}.py").write_text(
            f'raise ImportError("{name} is a test tool; the image does not install it")\n'
        )
    return folder


def child_env(work: Path) -> dict[str, str]:
    """The measured processes' environment: the repository's code, the image's packages."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("ROSTER_INCLUDE_DIR", None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    env["PYTHONPATH"] = os.pathsep.join([str(_image_only(work)), str(REPO / "plugins"), str(REPO)])
    return env


def measure(command: list[str], env: dict[str, str], stdout=subprocess.DEVNULL) -> Run:
    """Wall time and peak resident memory of one whole process (``wait4``'s own rusage)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=stdout, stderr=subprocess.PIPE, cwd=REPO)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode("utf-8", "replace") if process.stderr else ""
    if process.returncode not in (0,):
        print(f"  ! {' '.join(command[:4])}... exited {process.returncode}: {stderr.strip()[:300]}", file=sys.stderr)
    return Run(
        seconds=seconds,
        peak_mb=usage.ru_maxrss / 1024,
        exit_code=process.returncode,
        user=usage.ru_utime,
        system=usage.ru_stime,
    )


def generator_stamp() -> str:
    return hashlib.sha256((REPO / "devtools" / "sample.py").read_bytes()).hexdigest()[:10]


def prepare(rows: int, work: Path, env: dict[str, str], python: str, roster: str) -> dict[str, Path]:
    """The export of tonight, and last night's delivered roster file (from last night's export)."""
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    stamp = generator_stamp()
    tonight = data / f"export_{rows}_{stamp}.csv"
    before = data / f"previous_{rows}_{stamp}.csv"
    delivered_dir = data / f"delivered_{rows}_{stamp}"
    delivered = delivered_dir / f"{DISTRICT}_roster_{(DAY - dt.timedelta(days=1)):%Y%m%d}.txt"
    for stale in data.iterdir():
        if stale.name.split("_")[-1].split(".")[0] != stamp and f"_{rows}_" in stale.name:
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    sample = [python, "-m", "devtools.sample", "--large", "--rows", str(rows), "--date", DAY.isoformat()]
    if not tonight.exists():
        print(f"  generating {tonight.name}", flush=True)
        subprocess.run([*sample, str(tonight)], env=env, check=True, cwd=REPO)
    if not before.exists():
        print(f"  generating {before.name}", flush=True)
        subprocess.run([*sample, "--previous", str(before)], env=env, check=True, cwd=REPO)
    if not delivered.exists():
        print(f"  delivering last night's roster ({before.name})", flush=True)
        subprocess.run(
            [
                roster,
                "run",
                "--district",
                DISTRICT,
                "--input",
                str(before),
                "--out",
                str(delivered_dir),
                "--date",
                (DAY - dt.timedelta(days=1)).isoformat(),
                "--include-dir",
                str(REPO / "include"),
            ],
            env=env,
            check=True,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
        )
    return {"tonight": tonight, "delivered": delivered}


def roster_run_args(files: dict[str, Path], out: Path) -> list[str]:
    """``roster run``'s arguments for tonight's export, into ``out``."""
    return [
        "run",
        "--district",
        DISTRICT,
        "--input",
        str(files["tonight"]),
        "--out",
        str(out),
        "--date",
        DAY.isoformat(),
        "--include-dir",
        str(REPO / "include"),
    ]


def commands(variant: str, files: dict[str, Path], out: Path, python: str, roster: str) -> list[str]:
    run = [roster, *roster_run_args(files, out)]
    if variant == "floor":
        return [python, str(REPO / "bench" / "floor.py"), str(files["tonight"]), str(out / "floor.txt")]
    if variant == "check and sort":
        return [python, str(REPO / "bench" / "check_sort.py"), str(files["tonight"]), str(out / "check_sort.txt")]
    if variant == "roster run":
        return run
    if variant == "roster run --previous":
        return [*run, "--previous", str(files["delivered"])]
    if variant == "naive":
        return [
            python,
            str(REPO / "bench" / "naive.py"),
            str(files["tonight"]),
            str(out / "naive.txt"),
            "--date",
            DAY.isoformat(),
        ]
    raise ValueError(variant)


def stages(files: dict[str, Path], out: Path, python: str, env: dict[str, str], previous: bool) -> dict:
    args = roster_run_args(files, out)
    if previous:
        args += ["--previous", str(files["delivered"])]
    result = subprocess.run(
        [python, str(REPO / "bench" / "stages.py"), "--", *args],
        env=env,
        check=True,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


# Parsing -------------------------------------------------------------------------------------------

#: Seconds beyond importing Airflow within which ``PARSE_DISTRICTS`` district files must parse (issue 17).
PARSE_TARGET = 4.0
PARSE_DISTRICTS = 1_000
#: What the parse measure does, as the dag-processor does for each file of the DAG folder: Airflow's
#: ``DagBag`` imports the file (``dags/roster_districts.py``, ``roster_go_live.py``, ``roster_watchdog.py``),
#: then validates each DAG, checks it for cycles and applies the cluster policies. Given a folder (the
#: DAG folder, or an empty one for the baseline) or one file (a task run's parse). The baseline imports
#: the same Airflow modules the DAG files import and fills a ``DagBag`` from an empty folder, so the
#: difference is the DAG files' own work.
AIRFLOW_MODULES = (
    "import airflow.sdk, pendulum\n"
    "from airflow.dag_processing.dagbag import DagBag\n"
    "from airflow.providers.standard.operators.hitl import ApprovalOperator\n"
    "from airflow.providers.standard.operators.python import BranchPythonOperator, PythonOperator, ShortCircuitOperator\n"
    "from airflow.sdk import DAG, Asset, BaseNotifier, BaseSensorOperator, CronTriggerTimetable, Param, TriggerRule\n"
)
#: The dag-processor's manager freezes what it imported (``gc.freeze()``) before it forks a process for
#: each file, so the collector never walks Airflow's own objects while a file parses, and that process
#: ends with ``os._exit`` (no interpreter teardown): the same here. It then serializes the DAGs for the
#: scheduler, which ``SPLIT`` times apart (not part of the parse target).
PARSE = (
    "import gc, os, sys\n" + AIRFLOW_MODULES + "gc.freeze()\n"
    "bag = DagBag(sys.argv[1])\n"
    "assert not bag.import_errors, bag.import_errors\n"
    "heavy = [m for m in ('pandas', 'pandera', 'pyarrow') if m in sys.modules]\n"
    "assert not heavy, heavy\n"
    "broken = [d for d, dag in bag.dags.items() if 'config-error' in dag.tags]\n"
    "assert not broken, broken[:3]\n"
    "print(len(bag.dags), sum(len(d.tasks) for d in bag.dags.values()), flush=True)\n"
    "os._exit(0)\n"
)
SPLIT = (
    "import gc, time, sys\n"
    "t0 = time.perf_counter()\n" + AIRFLOW_MODULES + "gc.freeze()\n"
    "t1 = time.perf_counter()\n"
    "from roster.airflow import nightly as f\n"
    "from roster.airflow.go_live import build_go_live_dag\n"
    "from roster.airflow.watchdog import build_watchdog_dag\n"
    "from roster.config import district_files, include_root, load_district\n"
    "root = include_root()\n"
    "t2 = time.perf_counter()\n"
    "gc.disable()\n"
    "districts = [load_district(p) for p in district_files(root)]\n"
    "t3 = time.perf_counter()\n"
    "cache = f.ParseCache()\n"
    "for d in districts: f.check_district(root, d, cache)\n"
    "t4 = time.perf_counter()\n"
    "dags = [f.build_dag(d, root) for d in districts]\n"
    "gc.enable()\n"
    "t5 = time.perf_counter()\n"
    "dags += [build_go_live_dag(root), build_watchdog_dag(root)]\n"
    "t6 = time.perf_counter()\n"
    "for dag in dags: dag.validate(); dag.check_cycle()\n"
    "t7 = time.perf_counter()\n"
    "from airflow.serialization.serialized_objects import DagSerialization\n"
    "t7 = time.perf_counter()\n"
    "for dag in dags: DagSerialization.to_dict(dag)\n"
    "t8 = time.perf_counter()\n"
    "import json; print(json.dumps({'airflow imports': t1 - t0, 'roster imports': t2 - t1, 'district files (yaml, pydantic)': t3 - t2,"
    " 'cross-match tables and layouts': t4 - t3, 'DAG objects (Airflow operators)': t5 - t4,"
    " 'go-live and watchdog DAGs': t6 - t5, 'DagBag checks (validate, cycles)': t7 - t6,"
    " 'after the parse: serializing the DAGs for the scheduler (not counted)': t8 - t7, 'dags': len(dags)}))\n"
)


def parse_include(work: Path, count: int) -> Path:
    """A temporary include root with ``count`` copies of the sample district (new ids), and nothing else."""
    include = work / f"include_{count}"
    if include.exists():
        shutil.rmtree(include)
    shutil.copytree(REPO / "include", include, ignore=shutil.ignore_patterns("inbound"))
    for old in (include / "districts").glob("*.yaml"):
        old.unlink()
    template = (REPO / "include" / "districts" / f"{DISTRICT}.yaml").read_text(encoding="utf-8")
    for i in range(count):
        district_id = f"district_{i:04d}"
        (include / "districts" / f"{district_id}.yaml").write_text(
            template.replace(f"district_id: {DISTRICT}", f"district_id: {district_id}"), encoding="utf-8"
        )
    return include


def code_env(env: dict[str, str], checkout: Path) -> dict[str, str]:
    """``env`` running the code of ``checkout`` (this repository, or another checkout to compare with)."""
    paths = env["PYTHONPATH"].split(os.pathsep)
    return dict(env, PYTHONPATH=os.pathsep.join([paths[0], str(checkout / "plugins"), str(checkout)]))


def parsing(work: Path, env: dict[str, str], python: str, count: int, repeat: int, against: Path | None = None) -> dict:
    """Seconds to import Airflow alone vs to fill a ``DagBag`` from ``dags/`` with ``count`` districts.

    Each measurement is a fresh process; the baseline and the parse (and, with ``against``, the parse of
    another checkout's ``dags/`` and code on the same include root) are interleaved, ``repeat`` times.
    """
    include = parse_include(work, count)
    home = Path(tempfile.mkdtemp(prefix="roster-bench-airflow-"))
    empty = home / "no-dags"
    empty.mkdir()
    env = dict(
        env,
        ROSTER_INCLUDE_DIR=str(include),
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
    )
    runs: dict[str, list[Run]] = {"baseline": [], "parse": []}
    commands = {
        "baseline": ([python, "-c", PARSE, str(empty)], env),
        "parse": ([python, "-c", PARSE, str(REPO / "dags")], env),
    }
    if against is not None:
        runs["against"] = []
        commands["against"] = ([python, "-c", PARSE, str(against / "dags")], code_env(env, against))
    for command, child in commands.values():  # warm the bytecode cache
        measure(command, child)
    shuffle = random.Random(17)
    for repetition in range(repeat):
        order = list(commands)
        shuffle.shuffle(order)
        for name in order:
            command, child = commands[name]
            run = measure(command, child)
            if run.exit_code != 0:
                raise SystemExit(f"the {name} parse failed (exit {run.exit_code})")
            runs[name].append(run)
            print(f"  [{repetition + 1}/{repeat}] {name:<8} {run.seconds:6.2f} s (cpu {run.user + run.system:.2f} s)")
    split = json.loads(
        subprocess.run([python, "-c", SPLIT], env=env, capture_output=True, text=True, check=True, cwd=REPO)
        .stdout.strip()
        .splitlines()[-1]
    )
    one = measure(
        [python, "-c", PARSE, str(REPO / "dags" / "roster_districts.py")],
        dict(env, _AIRFLOW_PARSING_CONTEXT_DAG_ID="roster_district_0000"),
    ).seconds
    shutil.rmtree(home, ignore_errors=True)

    def wall(name: str) -> float:
        return statistics.median(r.seconds for r in runs[name])

    def cpu(name: str) -> float:
        return statistics.median(r.user + r.system for r in runs[name])

    result = {
        "districts": count,
        "dag_files": sorted(p.name for p in (REPO / "dags").glob("*.py")),
        "import_airflow": wall("baseline"),
        "parse": wall("parse"),
        "beyond_airflow": wall("parse") - wall("baseline"),
        "cpu_beyond_airflow": cpu("parse") - cpu("baseline"),
        "one_dag_task_run": one,
        "split": split,
        "load": os.getloadavg(),
    }
    if against is not None:
        result["against"] = {
            "checkout": str(against),
            "parse": wall("against"),
            "beyond_airflow": wall("against") - wall("baseline"),
            "cpu_beyond_airflow": cpu("against") - cpu("baseline"),
        }
    return result


def parse_lines(parse: dict) -> list[str]:
    """The parse measure as printed: per district, beyond Airflow, and against the other checkout."""
    n = parse["districts"]
    lines = [
        (
            f"parsing dags/ ({', '.join(parse['dag_files'])}) with {n:,} districts: Airflow alone "
            f"{parse['import_airflow']:.2f} s, parse {parse['parse']:.2f} s, beyond Airflow "
            f"{parse['beyond_airflow']:.2f} s ({parse['beyond_airflow'] / n * 1000:.2f} ms per district; "
            f"CPU {parse['cpu_beyond_airflow']:.2f} s)"
        )
    ]
    other = parse.get("against")
    if other:
        lines.append(
            f"  {other['checkout']}: parse {other['parse']:.2f} s, beyond Airflow {other['beyond_airflow']:.2f} s "
            f"({other['beyond_airflow'] / n * 1000:.2f} ms per district; CPU {other['cpu_beyond_airflow']:.2f} s); "
            f"this checkout is {other['beyond_airflow'] / parse['beyond_airflow']:.2f}x faster beyond Airflow "
            f"({other['cpu_beyond_airflow'] / parse['cpu_beyond_airflow']:.2f}x in CPU time)"
        )
    lines.append(
        "  split: " + json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in parse["split"].items()})
    )
    return lines


def parse_verdict(parse: dict) -> tuple[str, bool, str]:
    per_district = parse["beyond_airflow"] / parse["districts"] * 1000
    label = (
        f"{parse['districts']:,} district files parse in under {PARSE_TARGET:g} s beyond importing Airflow "
        "(every DAG file in dags/)"
    )
    detail = (
        f"{parse['beyond_airflow']:.2f} s, {per_district:.2f} ms per district "
        f"(Airflow alone {parse['import_airflow']:.2f} s, parse {parse['parse']:.2f} s)"
    )
    return label, parse["beyond_airflow"] < PARSE_TARGET, detail


# Machine and report --------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    from importlib import metadata

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or "unknown"
    memory = "unknown"
    try:
        kb = int(
            next(
                line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
            ).split()[1]
        )
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass
    versions = {}
    for package in ("pyarrow", "pandas", "pandera", "numpy", "apache-airflow", "pydantic", "PyYAML"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "-"
    return {
        "cores (nproc)": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()),
        "CPU": cpu,
        "memory": memory,
        "OS": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        **versions,
        "Arrow memory pool": f"{_pool_of('import pyarrow')} (floor, naive); {_pool_of('import roster.fast.arrow')} (roster run)",
        "development-only packages hidden from the measured processes": ", ".join(DEV_ONLY),
    }


def _pool_of(statement: str) -> str:
    """The Arrow memory pool a process uses after ``statement``."""
    code = f"{statement}; import pyarrow; print(pyarrow.default_memory_pool().backend_name)"
    env = child_env(REPO / "var" / "bench")
    return (
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
        ).stdout.strip()
        or "unknown"
    )


def table(results: dict[int, dict[str, Cell]]) -> list[list[str]]:
    rows = [["rows", "variant", "seconds (median)", "× floor", "peak memory", "rows/s", "CPU user / kernel s"]]
    for n, cells in results.items():
        floor = cells["floor"].seconds
        for variant in VARIANTS:
            if variant not in cells:
                continue
            cell = cells[variant]
            rows.append(
                [
                    f"{n:,}",
                    variant,
                    f"{cell.seconds:.2f}",
                    f"{cell.seconds / floor:.2f}",
                    f"{cell.peak_mb:,.0f} MB",
                    f"{n / cell.seconds:,.0f}",
                    f"{cell.user:.1f} / {cell.system:.1f}",
                ]
            )
    return rows


def plain(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.rjust(w) if i != 1 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    )


def verdicts(results: dict[int, dict[str, Cell]], parse: dict | None) -> list[tuple[str, bool | None, str]]:
    out = []
    for n in (1_000_000, 5_000_000):
        if n not in results:
            out.append((f"{n:,} rows within {TARGET_RATIO}× the floor", None, "not measured in this run"))
            continue
        cells = results[n]
        for variant in ("roster run", "roster run --previous"):
            ratio = cells[variant].seconds / cells["floor"].seconds
            out.append(
                (f"{n:,} rows, `{variant}` within {TARGET_RATIO}× the floor", ratio <= TARGET_RATIO, f"{ratio:.2f}×")
            )
    if 5_000_000 in results:
        for variant in ("roster run", "roster run --previous"):
            peak = results[5_000_000][variant].peak_mb
            out.append(
                (f"5,000,000 rows, `{variant}` peak memory under 3 GB", peak < TARGET_PEAK_MB, f"{peak:,.0f} MB")
            )
    sizes = sorted(results)
    if len(sizes) >= 2:
        for variant in ("roster run", "roster run --previous"):
            seconds = [results[n][variant].seconds for n in sizes]
            floors = [results[n]["floor"].seconds for n in sizes]
            marginal = [(seconds[i + 1] - seconds[i]) / (sizes[i + 1] - sizes[i]) * 1e6 for i in range(len(sizes) - 1)]
            floor_marginal = (floors[-1] - floors[-2]) / (sizes[-1] - sizes[-2]) * 1e6
            per_million = [s / n * 1e6 for s, n in zip(seconds, sizes, strict=True)]
            # Linear (or better): the cost of a million more rows does not grow with the size.
            linear = (len(marginal) == 1 and per_million[-1] <= per_million[-2] * 1.1) or (
                len(marginal) > 1 and marginal[-1] <= marginal[-2] * 1.25
            )
            out.append(
                (
                    f"`{variant}` cost linear in rows",
                    linear,
                    "marginal cost per million rows: "
                    + ", ".join(
                        f"{a:,}→{b:,}: {m:.2f} s" for (a, b), m in zip(itertools.pairwise(sizes), marginal, strict=True)
                    )
                    + f" (the floor's last: {floor_marginal:.2f} s)",
                )
            )
    for n, cells in results.items():
        if "naive" in cells:
            for variant in ("roster run", "roster run --previous"):
                faster = cells["naive"].seconds / cells[variant].seconds
                out.append((f"{n:,} rows, `{variant}` beats the naive peer", faster > 1, f"{faster:.1f}× faster"))
    if parse:
        out.append(parse_verdict(parse))
    return out


def timed_runs(
    files: dict[int, dict[str, Path]],
    variants: list[str],
    out: Path,
    python: str,
    roster: str,
    env: dict[str, str],
    repeat: int,
) -> dict[int, dict[str, Cell]]:
    """Every variant at every size, ``repeat`` times in a shuffled order, after one warm-up run each."""
    sizes = list(files)
    print("warming up (bytecode and page cache)", flush=True)
    for variant in variants:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        measure(commands(variant, files[min(sizes)], out, python, roster), env)

    results: dict[int, dict[str, Cell]] = {n: {v: Cell() for v in variants} for n in sizes}
    shuffle = random.Random(8)
    for repetition in range(repeat):
        for n in sizes:
            order = list(variants)
            shuffle.shuffle(order)
            for variant in order:
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir(parents=True)
                run = measure(commands(variant, files[n], out, python, roster), env)
                results[n][variant].runs.append(run)
                print(
                    f"  [{repetition + 1}/{repeat}] {n:>9,} {variant:<22} {run.seconds:7.2f} s {run.peak_mb:8,.0f} MB"
                    f"  (cpu {run.user:.1f} user, {run.system:.1f} kernel)",
                    flush=True,
                )
    shutil.rmtree(out, ignore_errors=True)
    return results


def stage_breakdown(
    files: dict[int, dict[str, Path]], out: Path, python: str, env: dict[str, str], repeat: int
) -> dict[tuple[int, bool], dict]:
    """Where the time goes: the median of each stage, per size, without and with ``--previous``."""
    print("where the time goes", flush=True)
    breakdown = {}
    for n, night_files in files.items():
        for previous in (False, True):
            runs = []
            for _ in range(repeat):
                out.mkdir(parents=True, exist_ok=True)
                runs.append(stages(night_files, out, python, env, previous))
                shutil.rmtree(out, ignore_errors=True)
            names = list(dict.fromkeys(name for run in runs for name in run["stages"]))
            breakdown[(n, previous)] = {
                "total": statistics.median(run["total"] for run in runs),
                "stages": {name: statistics.median(run["stages"].get(name, 0.0) for run in runs) for name in names},
            }
    return breakdown


def engine_costs(files: dict[int, dict[str, Path]], python: str, env: dict[str, str], repeat: int) -> dict[int, dict]:
    """pandera's cost over the bare kernels, per size (bench/engines.py in its own process)."""
    print("pandera's cost over the kernels", flush=True)
    engines = {}
    for n, night_files in files.items():
        result = subprocess.run(
            [python, str(REPO / "bench" / "engines.py"), str(night_files["tonight"]), "--repeat", str(repeat)],
            env=env,
            check=True,
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        engines[n] = json.loads(result.stdout.strip().splitlines()[-1])
        print(
            f"  {n:>9,} kernels alone {engines[n]['kernels']:.2f} s, pandera validate {engines[n]['pandera']:.2f} s",
            flush=True,
        )
    return engines


def xlsx_versus_csv(rows: int, work: Path, env: dict[str, str], python: str, repeat: int) -> str | None:
    """``bench/xlsx.py``'s line: the same students read as CSV and as a workbook (None: skipped)."""
    if not rows:
        return None
    print(f"reading {rows} students as CSV and as a workbook", flush=True)
    command = [python, str(REPO / "bench" / "xlsx.py"), "--rows", str(rows), "--repeat", str(repeat)]
    done = subprocess.run([*command, "--work", str(work)], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=os.environ.get("BENCH_ROWS", "100000,1000000,5000000"))
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", "3")))
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench")
    parser.add_argument("--doc", type=Path, default=REPO / "docs" / "PERFORMANCE.md", help="'-' to write no document")
    parser.add_argument(
        "--districts",
        type=int,
        default=int(os.environ.get("BENCH_DISTRICTS", str(PARSE_DISTRICTS))),
        help=f"district files for the parsing benchmark (default {PARSE_DISTRICTS:,} or $BENCH_DISTRICTS; 0: skip)",
    )
    parser.add_argument(
        "--only",
        choices=["parse"],
        help="measure only this part (parse: the DAG folder against importing Airflow; prints, writes no document)",
    )
    parser.add_argument(
        "--parse-against",
        type=Path,
        metavar="CHECKOUT",
        help="also parse another checkout's dags/ and code (e.g. a `git worktree` of the commit before), interleaved",
    )
    parser.add_argument(
        "--xlsx-rows", type=int, default=50_000, help="students for the Excel reader vs the CSV reader (0: skip)"
    )
    parser.add_argument("--no-naive", action="store_true", help="skip the naive peer (slow at millions of rows)")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="measure nothing: write the document again from the last run's results.json",
    )
    return parser.parse_args()


def main() -> None:
    args = arguments()
    if args.report_only:
        rewrite(args.work / "results.json", args.doc)
        return
    if args.only == "parse":
        only_parse(args)
        return
    sizes = [int(s.replace("_", "")) for s in str(args.rows).split(",") if s.strip()]
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    env = child_env(work)
    python = sys.executable
    roster = str(Path(sys.executable).with_name("roster"))
    info = machine()
    load_before = os.getloadavg()
    started = time.time()

    print("preparing data", flush=True)
    files = {n: prepare(n, work, env, python, roster) for n in sizes}
    variants = [v for v in VARIANTS if not (v == "naive" and args.no_naive)]
    results = timed_runs(files, variants, work / "out", python, roster, env, args.repeat)
    breakdown = stage_breakdown(files, work / "out", python, env, args.repeat)
    engines = engine_costs(files, python, env, args.repeat)

    parse = None
    if args.districts:
        print(f"parsing {args.districts} district files", flush=True)
        parse = parsing(work, env, python, args.districts, args.repeat, args.parse_against)

    xlsx = xlsx_versus_csv(min(args.xlsx_rows, max(sizes)), work, env, python, args.repeat)

    rows = table(results)
    print()
    print(plain(rows))
    checks = verdicts(results, parse)
    print()
    for label, ok, detail in checks:
        mark = "n/a" if ok is None else ("MET" if ok else "NOT MET")
        print(f"{mark:>8}  {label}: {detail}")
    if parse:
        print()
        print("\n".join(parse_lines(parse)))
    if xlsx:
        print(f"\n{xlsx}")
    (work / "results.json").write_text(
        json.dumps(
            {
                "rows": rows,
                "checks": checks,
                "parse": parse,
                "xlsx": xlsx,
                "machine": info,
                "engines": engines,
                "stages": {f"{n}{' --previous' if p else ''}": b for (n, p), b in breakdown.items()},
                "repeat": args.repeat,
                "sizes": sizes,
                "load": [load_before, os.getloadavg()],
                "minutes": (time.time() - started) / 60,
            },
            indent=1,
            default=str,
        ),
        encoding="utf-8",
    )
    if str(args.doc) != "-":
        rewrite(work / "results.json", args.doc)


def only_parse(args: argparse.Namespace) -> None:
    """``--only parse``: the parsing measure alone, printed and saved as ``parse.json`` in the work folder."""
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    print(f"parsing {args.districts:,} district files", flush=True)
    parse = parsing(work, child_env(work), sys.executable, args.districts, args.repeat, args.parse_against)
    parse["load_before"] = load_before
    label, ok, detail = parse_verdict(parse)
    print()
    print("\n".join(parse_lines(parse)))
    print(f"{'MET' if ok else 'NOT MET':>8}  {label}: {detail}")
    print(f"load average {load_before[0]:.2f} before, {parse['load'][0]:.2f} after")
    (work / "parse.json").write_text(json.dumps(parse, indent=1), encoding="utf-8")


def rewrite(results: Path, doc: Path) -> None:
    """docs/PERFORMANCE.md from a run's ``results.json`` (the numbers of that run, nothing new measured)."""
    from report import write_document

    saved = json.loads(results.read_text(encoding="utf-8"))
    breakdown = {}
    for key, value in saved["stages"].items():
        n, _, flag = key.partition(" ")
        breakdown[(int(n), bool(flag))] = value
    write_document(
        doc,
        info=saved["machine"],
        rows=saved["rows"],
        checks=saved["checks"],
        breakdown=breakdown,
        parse=saved["parse"],
        repeat=saved["repeat"],
        engines={int(n): e for n, e in saved["engines"].items()},
        load=saved["load"],
        minutes=saved["minutes"],
        sizes=saved["sizes"],
    )
    print(f"\nwrote {doc}")


if __name__ == "__main__":
    sys.path[:0] = [str(Path(__file__).resolve().parent), str(REPO)]
    main()
