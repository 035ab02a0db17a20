"""The README's examples, run as a new user would run them.

Every fenced block that follows a `<!-- docs-test -->` line runs as written (sh with bash,
python with this interpreter, sql with DuckDB) in a folder that holds `out/` (a copy of a run on
the bundled samples, as `make run` makes it), `samples/` and `.venv` (the venv the tests run
in, with `newsmon`). The block after `<!-- docs-test: make-run-output … -->` is the
transcript of `make run`, compared line by line with that run's summary.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import duckdb
import pytest
from helpers import ROOT

README = ROOT / "README.md"
BLOCK = re.compile(r"^<!-- docs-test(?P<kind>:[^>]*)? -->\n```(?P<lang>\w*)\n(?P<body>.*?)^```$", re.M | re.S)


def marked_blocks() -> list[tuple[str, str, str]]:
    """(kind, language, body) of every marked block, in README order."""
    text = README.read_text()
    blocks = [(m["kind"] or "", m["lang"], m["body"]) for m in BLOCK.finditer(text)]
    assert len(blocks) == len(re.findall(r"^<!-- docs-test", text, re.M)), "a marker is not right before a fenced block"
    return blocks


RUNNABLE = [(lang, body) for kind, lang, body in marked_blocks() if not kind]


def test_the_readme_marks_its_examples():
    langs = [lang for lang, _ in RUNNABLE]
    assert {"sh", "python", "sql"} <= set(langs), langs
    assert all(lang in ("sh", "python", "sql") for lang in langs), langs
    assert any(kind.startswith(": make-run-output") for kind, _, _ in marked_blocks())


@pytest.fixture
def user_folder(samples_output, tmp_path, monkeypatch):
    out, _ = samples_output
    shutil.copytree(out, tmp_path / "out")  # the examples may write there (report.html)
    (tmp_path / "samples").symlink_to(ROOT / "samples")
    (tmp_path / ".venv").symlink_to(sys.prefix)  # the venv itself: its python finds its packages
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("lang", "body"), RUNNABLE, ids=[f"{i}-{lang}" for i, (lang, _) in enumerate(RUNNABLE)])
def test_readme_example_runs(user_folder, lang, body):
    if lang == "sql":
        rows = duckdb.connect().sql(body).fetchall()
        assert rows
        return
    command = ["bash", "-euo", "pipefail", "-c", body] if lang == "sh" else [sys.executable, "-c", body]
    done = subprocess.run(command, cwd=user_folder, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{body}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    if "newsmon report out --html out/report.html" in body:
        assert "newsmon report: out" in done.stdout and (user_folder / "out" / "report.html").stat().st_size > 10_000
    if "duckdb.sql(" in body:
        assert "air_attack" not in done.stderr and "126" in done.stdout


def words(line: str) -> list[str]:
    return line.split()


def test_readme_make_run_transcript_is_what_the_samples_run_prints(samples_output):
    out, stderr = samples_output
    transcript = next(body for kind, _, body in marked_blocks() if kind.startswith(": make-run-output"))
    expected = [line for line in transcript.splitlines() if not line.startswith(("$ ", ".venv/bin/newsmon run"))]
    actual = stderr.replace(f"{ROOT}/", "").replace(str(out), "out").splitlines()
    actual = [line for line in actual if not line.startswith(("INFO", "WARNING"))]
    assert [words(line) for line in actual] == [words(line) for line in expected]
