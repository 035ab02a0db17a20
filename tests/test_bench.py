"""bench/pipeline.py's two sides, as the bench runs them: the batch job and the plain loop of
newsmon's own functions write the same rows and alerts (no timing is looked at here)."""

from __future__ import annotations

from pathlib import Path

from bench.pipeline import RULES, measure, write_corpus


def test_the_loop_and_the_batch_job_write_the_same_output(tmp_path: Path) -> None:
    inputs, rules = tmp_path / "in", tmp_path / "rules.yaml"
    write_corpus(150, inputs)
    rules.write_text(RULES)
    ours = measure("newsmon", inputs, rules, 1, tmp_path)["output"]
    theirs = measure("loop", inputs, rules, 1, tmp_path)["output"]
    assert ours == theirs
    assert ours["articles"]["rows"] == 150
    assert ours["events"]["rows"] > 0 and ours["alerts"]["rows"] > 0
