"""Hand a grouping's output to the FnApiRunner's workers in chunks, freeing its input as it goes.

The FnApiRunner (the batch runner) groups a GroupByKey's input in its own process, in a
GroupingBuffer (apache_beam/runners/portability/fn_api_runner/execution.py, Beam 2.77). When
the stage that reads the grouping runs, `GroupingBuffer.partition` encodes every key with its
values into one OutputStream per worker (a C buffer that doubles as it fills), copies each
into one bytes object, and only then clears the decoded input. The worker is then sent that
one bytes object, which the data channel copies again into its own buffer and into a message.
So at that moment a grouping's input is held decoded, encoded in a buffer up to twice its
size, and copied again: partitioning a 100 MB grouping for one worker took 95 to 197 MB
above what the process held before, and 22 MB in chunks (bench/RESULTS.md, "Writes, alerts and
groupings hold less at once").

`chunk_grouped_output` makes `partition` encode key by key, drop each key's decoded values
once encoded, and cut each worker's part into chunks of about CHUNK_BYTES, each a whole number
of elements (the SDK worker decodes each chunk it receives on its own). The elements, their
order and their split over the workers are Beam's; only the memory held at once changes.
Applied by newsmon in its own process, where the FnApiRunner runs (pipeline/runners.py).
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

CHUNK_BYTES = 4 << 20


def chunk_grouped_output() -> bool:
    """Patch the FnApiRunner's GroupingBuffer.partition as the module docstring says.
    Idempotent; returns whether it applies (False on a Beam whose GroupingBuffer differs from
    the one this was written against, where nothing changes)."""
    from apache_beam.runners.portability.fn_api_runner import execution

    buffer = execution.GroupingBuffer
    if getattr(buffer.partition, "chunks_grouped_output", False):
        return True
    # the attributes Beam's partition reads, which _encode_in_chunks reads too
    needed = {"_table", "_windowing", "_key_coder", "_post_grouped_coder", "_grouped_output"}
    if not needed <= set(buffer.partition.__code__.co_names):
        logger.debug("Beam's GroupingBuffer is not the one expected: its partition is left as it is")
        return False
    beams_partition = buffer.partition

    def partition_in_chunks(self: Any, n: int) -> list[list[bytes]]:
        if not self._grouped_output:
            self._grouped_output = _encode_in_chunks(self, n)
        return self._grouped_output

    partition_in_chunks.chunks_grouped_output = True  # type: ignore[attr-defined]
    partition_in_chunks.beams_partition = beams_partition  # type: ignore[attr-defined]
    partition_in_chunks.__doc__ = beams_partition.__doc__
    buffer.partition = partition_in_chunks
    return True


def _encode_in_chunks(grouping: Any, n: int) -> list[list[bytes]]:
    """What Beam's partition encodes (execution.GroupingBuffer.partition), key by key in the
    same order and over the same workers (the i-th key to worker i % n), in chunks."""
    from apache_beam.coders.coder_impl import create_OutputStream
    from apache_beam.transforms import trigger
    from apache_beam.transforms.window import GlobalWindow, GlobalWindows
    from apache_beam.utils import windowed_value

    if grouping._windowing.is_default():
        in_global_window = GlobalWindows.windowed_value(
            None,
            timestamp=GlobalWindow().max_timestamp(),
            pane_info=windowed_value.PaneInfo(
                is_first=True,
                is_last=True,
                timing=windowed_value.PaneInfoTiming.ON_TIME,
                index=0,
                nonspeculative_index=0,
            ),
        ).with_value

        def windowed_key_values(key: Any, values: list[Any]) -> list[Any]:
            return [in_global_window((key, values))]
    else:
        windowed_key_values = trigger.create_trigger_driver(grouping._windowing, True).process_entire_key
    coder = grouping._post_grouped_coder.get_impl()
    key_coder = grouping._key_coder.get_impl()
    table = grouping._table
    parts: list[list[bytes]] = [[] for _ in range(n)]
    streams = [create_OutputStream() for _ in range(n)]
    for idx, encoded_key in enumerate(list(table)):
        values = table.pop(encoded_key)  # its decoded values go as soon as they are encoded
        stream = streams[idx % n]
        for element in windowed_key_values(key_coder.decode(encoded_key), values):
            coder.encode_to_stream(element, stream, True)
        del values
        if stream.size() >= CHUNK_BYTES:
            parts[idx % n].append(stream.get())
            streams[idx % n] = create_OutputStream()
    for part, stream in zip(parts, streams, strict=True):
        if stream.size() or not part:
            part.append(stream.get())
    table.clear()
    return parts
