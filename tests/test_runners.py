"""The batch runner's configuration (pipeline/runners.py): the in-process worker's state cache;
the batch graph's stages, which the FnApiRunner can split across workers."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.portability import common_urns
from apache_beam.portability.api import beam_runner_api_pb2
from apache_beam.runners.portability.fn_api_runner import worker_handlers
from helpers import newsmon, read_table

from bench.pipeline import build_corpus
from pipeline.assemble import create_pipeline
from pipeline.runners import choose_runner

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "articles"


@pytest.fixture
def cache_size():
    before = worker_handlers.STATE_CACHE_SIZE_MB
    yield
    worker_handlers.STATE_CACHE_SIZE_MB = before


@pytest.mark.parametrize(("flags", "expected"), [([], 0), (["--max_cache_memory_usage_mb=100"], 100)])
def test_batch_worker_state_cache_follows_beams_option(cache_size, flags, expected):
    """The in-process FnApiRunner worker gets the cache size Beam's SDK workers take from
    --max_cache_memory_usage_mb (no cache by default), not its hard-coded 100 MB."""
    options = PipelineOptions(["--output", "/tmp/unused", *flags])
    choose_runner(options)
    assert options.get_all_options()["runner"] == "FnApiRunner"
    assert worker_handlers.STATE_CACHE_SIZE_MB == expected


def test_the_batch_job_holds_no_keyed_state_so_every_stage_runs_on_every_worker(tmp_path):
    """The FnApiRunner runs a stage that holds keyed state or timers whole on one worker,
    whatever --direct_num_workers says (bench/RESULTS.md, "Where the time goes"). The batch job, alerts
    included, uses GroupByKeys instead: no ParDo of its graph declares state or timers. The
    streaming job's keyed steps do (checked too, so that this test sees them when they are there)."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "destinations:\n  console: {type: stdout}\n"
        "rules:\n  - name: all\n    when: {event_type: air_attack}\n    notify: [console]\n"
    )

    def stateful_steps(*flags: str) -> list[str]:
        options = PipelineOptions(["--output", str(tmp_path / "out"), "--alerts", str(rules), *flags])
        proto = create_pipeline(options).to_runner_api()
        found = []
        for transform in proto.components.transforms.values():
            if transform.spec.urn == common_urns.primitives.PAR_DO.urn:
                payload = beam_runner_api_pb2.ParDoPayload.FromString(transform.spec.payload)
                if payload.state_specs or payload.timer_family_specs:
                    found.append(transform.unique_name)
        return found

    assert stateful_steps("--input", str(SAMPLES)) == []
    streaming = stateful_steps("--input", str(SAMPLES), "--streaming", "--runner", "DirectRunner")
    assert any("AlertsPerEvent" in name for name in streaming)
    assert any("MatchStories" in name for name in streaming)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], 1),  # the FnApiRunner's one worker
        (["--direct_num_workers=2", "--direct_running_mode=multi_processing"], 2),
        (["--streaming"], 1),  # Prism: one SDK worker
        (["--runner=DataflowRunner"], 4),  # its workers are not known when the graph is built
        (["--direct_num_workers=2", "--lsh-partitions", "8"], 8),  # the user's choice stands
    ],
)
def test_near_duplicate_partitions_default_to_the_local_workers(flags, expected):
    """Each LSH partition holds nearly every article's shingles, so by default there are as many
    as the local runner has workers (bench/RESULTS.md, "Memory stage by stage"); 4 on a remote runner."""
    from pipeline.options import NewsmonOptions, lsh_partitions

    options = PipelineOptions(["--input", str(SAMPLES), "--output", "/tmp/unused", *flags])
    if "--runner=DataflowRunner" not in flags:
        choose_runner(options)
    assert lsh_partitions(options.view_as(NewsmonOptions)) == expected


def test_the_same_rows_whatever_the_order_of_the_records_and_the_workers(tmp_path):
    """The bench's corpus (built from the samples: exact and edited copies, many reports of a
    night) in its own order in one file on one worker, and shuffled across three files on two
    workers: the same events and the same articles (but for where each record was read). A
    two-worker run once wrote other event versions when its records were spread across the
    workers (bench/RESULTS.md, "Where the time goes")."""
    articles = build_corpus(400)
    mixed = random.Random(3).sample(articles, len(articles))
    (tmp_path / "ordered").mkdir()
    (tmp_path / "shuffled").mkdir()
    (tmp_path / "ordered" / "all.jsonl").write_text("".join(json.dumps(a) + "\n" for a in articles))
    for i in range(3):
        (tmp_path / "shuffled" / f"part-{i}.jsonl").write_text("".join(json.dumps(a) + "\n" for a in mixed[i::3]))
    one = newsmon("run", "--input", str(tmp_path / "ordered"), "--output", str(tmp_path / "one"))
    two = newsmon(
        "run",
        "--input",
        str(tmp_path / "shuffled"),
        "--output",
        str(tmp_path / "two"),
        "--direct_num_workers=2",
        "--direct_running_mode=multi_processing",
    )
    assert one.returncode == 0, one.stderr[-2000:]
    assert two.returncode == 0, two.stderr[-2000:]

    def rows(out: Path, table: str, where_read: set[str]) -> list[str]:
        found = [{k: v for k, v in r.items() if k not in where_read} for r in read_table(out, table)]
        return sorted(json.dumps(r, sort_keys=True, default=str) for r in found)

    events = rows(tmp_path / "one", "events", set())
    assert len(events) > 20
    assert events == rows(tmp_path / "two", "events", set())
    read_at = {"ingested_at", "source", "locator", "origin"}
    assert rows(tmp_path / "one", "articles", read_at) == rows(tmp_path / "two", "articles", read_at)
