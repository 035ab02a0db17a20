"""create_pipeline(options): assembles the stages of DESIGN's data flow, nothing else."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.transforms.window import FixedWindows, GlobalWindows

from pipeline.options import (
    NewsmonOptions,
    allowed_lateness,
    check_spacy_model,
    dedup_horizon,
    fetch_config,
    lsh_partitions,
    output_path,
    poll_interval,
    sources_from_options,
    window_seconds,
)
from transforms.copies import MarkCopies
from transforms.extract import ExtractEvents
from transforms.merge import MergeEvents
from transforms.normalize import NormalizeArticles
from transforms.read import ReadArticles
from transforms.stories import AssignStories
from transforms.stream import EventTime, PollSources, ReadPubSub, SkipKnown, known_articles
from transforms.write import WriteTable


def create_pipeline(options: PipelineOptions) -> beam.Pipeline:
    """The pipeline: files / feeds -> articles/, events/ and rejected/ Parquet tables; with
    --streaming the sources are polled and the same stages run on event-time windows.

    Raises UsageError when the options name nothing to read or are malformed.
    """
    opts = options.view_as(NewsmonOptions)
    output = output_path(opts)
    sources = sources_from_options(opts)
    fetch = fetch_config(opts)
    window = window_seconds(opts)
    horizon = dedup_horizon(opts)
    partitions = lsh_partitions(opts)
    check_spacy_model(opts)

    streaming = options.view_as(StandardOptions).streaming
    lateness = allowed_lateness(opts) if streaming else 0.0
    interval = poll_interval(opts)

    p = beam.Pipeline(options=options)
    if not streaming:
        read = p | "ReadArticles" >> ReadArticles(sources, fetch)
    elif opts.pubsub_subscription:
        read = p | "ReadPubSub" >> ReadPubSub(opts.pubsub_subscription)
    else:
        read = p | "PollSources" >> PollSources(sources, fetch, interval, horizon.total_seconds())
    normalized = read["articles"] | "NormalizeArticles" >> NormalizeArticles()
    articles_in, late = normalized["articles"], []
    if streaming:  # what OUT holds is not read again; articles at their event time, in windows
        fresh = articles_in | "SkipKnown" >> SkipKnown(known_articles(output))
        timed = fresh | "EventTime" >> EventTime(window, lateness)
        articles_in, late = timed["articles"] | "PollWindows" >> arrival_windows(interval), [timed["rejected"]]
    marked = articles_in | "MarkCopies" >> MarkCopies(partitions, horizon)
    mentions = marked["articles"] | "ExtractEvents" >> ExtractEvents(opts.spacy_model)
    merged = mentions | "MergeEvents" >> MergeEvents(horizon)
    stories = {"articles": marked["articles"], "reports": merged["reports"]}
    articles = stories | "AssignStories" >> AssignStories(horizon)
    # Next stage, in DESIGN's order: AlertOnEvents.

    rejected = [read["rejected"], normalized["rejected"], marked["rejected"], *late]
    # one windowing for the Flatten (in a stream MarkCopies' rejections are in poll windows,
    # the others global; Prism panics on a Flatten of both); WriteTable windows them again
    rejected = [r | f"Unwindowed{i}" >> beam.WindowInto(GlobalWindows()) for i, r in enumerate(rejected)]
    rejected = rejected | "AllRejected" >> beam.Flatten()
    articles | "WriteArticles" >> WriteTable("articles", output, window, lateness, streaming)
    merged["events"] | "WriteEvents" >> WriteTable("events", output, window, lateness, streaming)
    rejected | "WriteRejected" >> WriteTable("rejected", output, window, lateness, streaming)
    return p


def arrival_windows(poll_interval_s: float) -> beam.WindowInto:
    """The windows the stages' joins run in, in a stream: one per poll, by arrival time, so an
    article's parts (row, copy marks, events, story) meet in one pane that fires as soon as the
    watermark passes the poll. The Parquet windows (--window) are WriteTable's, by event time."""
    return beam.WindowInto(FixedWindows(max(1, round(poll_interval_s))))
