"""create_pipeline(options): assembles the stages of DESIGN's data flow, nothing else."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.options import (
    NewsmonOptions,
    check_spacy_model,
    dedup_horizon,
    fetch_config,
    lsh_partitions,
    output_path,
    sources_from_options,
    window_seconds,
)
from transforms.copies import MarkCopies
from transforms.extract import ExtractEvents
from transforms.merge import MergeEvents
from transforms.normalize import NormalizeArticles
from transforms.read import ReadArticles
from transforms.stories import AssignStories
from transforms.write import WriteTable


def create_pipeline(options: PipelineOptions) -> beam.Pipeline:
    """The batch pipeline: files / feeds -> articles/, events/ and rejected/ Parquet tables.

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

    p = beam.Pipeline(options=options)
    read = p | "ReadArticles" >> ReadArticles(sources, fetch)
    normalized = read["articles"] | "NormalizeArticles" >> NormalizeArticles()
    marked = normalized["articles"] | "MarkCopies" >> MarkCopies(partitions)
    mentions = marked["articles"] | "ExtractEvents" >> ExtractEvents(opts.spacy_model)
    merged = mentions | "MergeEvents" >> MergeEvents()
    stories = {"articles": marked["articles"], "reports": merged["reports"]}
    articles = stories | "AssignStories" >> AssignStories(horizon)
    # Next stage, in DESIGN's order: AlertOnEvents.

    rejected = (read["rejected"], normalized["rejected"], marked["rejected"]) | "AllRejected" >> beam.Flatten()
    articles | "WriteArticles" >> WriteTable("articles", output, window)
    merged["events"] | "WriteEvents" >> WriteTable("events", output, window)
    rejected | "WriteRejected" >> WriteTable("rejected", output, window)
    return p
