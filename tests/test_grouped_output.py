"""pipeline/grouped_output.py: the FnApiRunner's groupings handed out in chunks give the workers
the same elements, in the same order and split, as Beam's own partition."""

from __future__ import annotations

import pytest
from apache_beam.coders import coders
from apache_beam.coders.coder_impl import create_InputStream, create_OutputStream
from apache_beam.runners.portability.fn_api_runner import execution
from apache_beam.transforms import core
from apache_beam.transforms.window import FixedWindows, GlobalWindows, IntervalWindow
from apache_beam.utils.windowed_value import WindowedValue

import pipeline.grouped_output as grouped_output
from bench.pipeline import build_corpus
from transforms.keyed import packed

KEY_VALUE = coders.TupleCoder([coders.StrUtf8Coder(), coders.BytesCoder()])
GROUPED = coders.TupleCoder([coders.StrUtf8Coder(), coders.IterableCoder(coders.BytesCoder())])


def _filled(windowing: core.Windowing, window_coder: coders.Coder, rows: list[dict]) -> execution.GroupingBuffer:
    """A GroupingBuffer holding the rows packed, keyed by outlet, as a worker would send them
    (a few encoded chunks)."""
    pre = coders.WindowedValueCoder(KEY_VALUE, window_coder)
    buffer = execution.GroupingBuffer(pre, coders.WindowedValueCoder(GROUPED, window_coder), windowing)
    for start in range(0, len(rows), 50):
        out = create_OutputStream()
        for i, row in enumerate(rows[start : start + 50], start):
            window = IntervalWindow(0, 60) if i % 2 else IntervalWindow(60, 120)
            value = WindowedValue((row["outlet"], packed(row)), 0 if i % 2 else 60, [window])
            pre.get_impl().encode_to_stream(value, out, True)
        buffer.append(out.get())
    return buffer


def _elements(buffer: execution.GroupingBuffer, parts: list[list[bytes]]) -> list[list[tuple]]:
    """Each worker's part decoded, chunk by chunk (each chunk on its own, as an SDK worker does)."""
    coder = buffer._post_grouped_coder.get_impl()
    decoded = []
    for chunks in parts:
        elements = []
        for chunk in chunks:
            stream = create_InputStream(chunk)
            while stream.size() > 0:
                wv = coder.decode_from_stream(stream, True)
                elements.append((wv.value[0], list(wv.value[1]), wv.windows))
        decoded.append(elements)
    return decoded


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("windowed", [False, True])
def test_chunked_partition_gives_what_beams_gives(workers, windowed, monkeypatch):
    assert grouped_output.chunk_grouped_output()
    beams_partition = execution.GroupingBuffer.partition.beams_partition
    rows = build_corpus(400)
    if windowed:
        windowing, window_coder = core.Windowing(FixedWindows(60)), coders.IntervalWindowCoder()
    else:
        windowing, window_coder = core.Windowing(GlobalWindows()), coders.GlobalWindowCoder()
    monkeypatch.setattr(grouped_output, "CHUNK_BYTES", 64 << 10)  # a chunk of a few dozen rows

    theirs = _filled(windowing, window_coder, rows)
    ours = _filled(windowing, window_coder, rows)
    expected = _elements(theirs, beams_partition(theirs, workers))
    parts = ours.partition(workers)

    assert _elements(ours, parts) == expected
    assert sum(len(e) for e in expected) > workers
    assert max(len(chunks) for chunks in parts) > 1, "the grouping was not cut into chunks"
    assert ours.partition(workers) is parts  # partitioned once, as Beam's
    assert not ours._table  # the decoded input is gone
