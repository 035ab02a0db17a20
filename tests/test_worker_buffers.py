"""pipeline.worker_buffers: a finished stage's output buffer is freed, not kept while later
stages run (measured with glibc's own count of the bytes malloc has handed out)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import tempfile
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.worker.bundle_processor import DataOutputOperation

from pipeline.runners import batch_runner, choose_runner
from pipeline.worker_buffers import PLUGIN, release_output_buffers

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="counts glibc's malloc"
)

MIB = 1 << 20


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()
    ]


def malloc_in_use() -> int:
    """Bytes malloc has handed out and not had back: in its heaps, and mapped apart."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return info.uordblks + info.hblkhd


SEEN: list[int] = []


def _measure(kv: tuple[int, list[bytes]]) -> int:
    SEEN.append(malloc_in_use())
    return sum(map(len, kv[1]))


def in_use_in_the_next_stage() -> int:
    """One stage outputs 48 MB (a 16 MiB buffer at least); the stage after the GroupByKey
    notes what malloc has handed out while it runs, on the FnApiRunner's in-process worker."""
    SEEN.clear()
    with beam.Pipeline(runner="FnApiRunner", options=PipelineOptions(["--direct_num_workers=1"])) as p:
        (
            p
            | beam.Create(range(48))
            | "OneMegabyteEach" >> beam.Map(lambda i: (i % 4, bytes([i]) * MIB))
            | beam.GroupByKey()
            | "Measure" >> beam.Map(_measure)
        )
    return min(SEEN)


def test_a_finished_stage_no_longer_holds_its_output_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    assert release_output_buffers()
    released = in_use_in_the_next_stage()
    monkeypatch.setattr(DataOutputOperation, "finish", DataOutputOperation.finish.beams_finish)
    kept = in_use_in_the_next_stage()
    # Beam's own finish keeps the first stage's buffer (16 MiB or more) while the next runs
    assert kept - released >= 12 * MIB, (kept / MIB, released / MIB)


def test_every_runner_gets_the_module_as_a_worker_plugin_once() -> None:
    options = PipelineOptions(["--beam_plugins=some.plugin"])
    choose_runner(options)
    choose_runner(options)
    assert options.get_all_options()["beam_plugins"] == ["some.plugin", PLUGIN]
    assert release_output_buffers()  # applied in this process too, and idempotent
    assert DataOutputOperation.finish.releases_output_stream


def test_multi_processing_workers_import_the_plugin_too() -> None:
    """The FnApiRunner's multi-processing workers are other Python processes: they get the
    release only by importing `--beam_plugins`, which they read from the options the runner
    hands them (runners.batch_runner). Each worker notes in a file what it found."""
    options = PipelineOptions(["--direct_num_workers=2", "--direct_running_mode=multi_processing"])
    choose_runner(options)
    with tempfile.TemporaryDirectory() as tmp:

        def note(_: int) -> None:  # defined here: pickled whole, the test module is not importable there
            released = getattr(DataOutputOperation.finish, "releases_output_stream", False)
            Path(tmp, str(os.getpid())).write_text(str(released))

        with beam.Pipeline(runner=batch_runner(options), options=options) as p:
            p | beam.Create(range(8)) | beam.Map(note)
        found = {int(f.name): f.read_text() for f in Path(tmp).iterdir()}
    assert found and os.getpid() not in found, found  # it ran in worker processes
    assert set(found.values()) == {"True"}, found
