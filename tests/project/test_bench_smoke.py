"""``make bench`` end to end on tiny inputs: it runs, prints its table, writes its document.

No timing is asserted (the machine is shared and noisy); the benchmark's numbers are in
docs/PERFORMANCE.md. What is checked is that every variant ran and succeeded, the verdict lines
are there, and the generated data stayed in the work folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO


def test_bench_runs_on_tiny_exports(tmp_path: Path) -> None:
    work, doc = tmp_path / "bench", tmp_path / "PERFORMANCE.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ROSTER_"))}
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "run.py"),
            "--rows",
            "1500,3000",
            "--repeat",
            "1",
            "--districts",
            "3",
            "--work",
            str(work),
            "--doc",
            str(doc),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
        check=False,  # the assertion below shows stderr's tail
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert " ! " not in result.stderr, result.stderr[-2000:]  # no variant failed
    out = result.stdout
    for variant in ("floor", "check and sort", "roster run", "roster run --previous", "naive"):
        assert f"3,000  {variant}" in out, out
    assert "3 district files parse in under 4 s beyond importing Airflow (every DAG file in dags/)" in out
    assert "cost linear in rows" in out
    assert "xlsx vs csv, 3,000 students:" in out and "same values: True" in out, out
    text = doc.read_text(encoding="utf-8")
    for section in (
        "## Targets",
        "## Results",
        "## Machine",
        "## Where the time goes",
        "### The validation engine",
        "## Parsing the DAG folder",
    ):
        assert section in text
    assert "| 3,000 | roster run |" in text
    assert sorted(p.suffix for p in (work / "data").glob("export_*")) == [".csv", ".csv"]
    # The document can be written again from the run's saved numbers, without measuring anything.
    again = tmp_path / "again.md"
    rewritten = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--report-only", "--work", str(work), "--doc", str(again)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,  # the assertion below shows stderr's tail
    )
    assert rewritten.returncode == 0, rewritten.stderr[-2000:]
    assert again.read_text(encoding="utf-8") == text
