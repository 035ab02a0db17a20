"""The batch runner's configuration (pipeline/runners.py): the in-process worker's state cache."""

from __future__ import annotations

import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner import worker_handlers

from pipeline.runners import choose_runner


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
