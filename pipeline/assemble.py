"""create_pipeline(options): assembles the stages of DESIGN's data flow, nothing else."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.options import (
    NewsmonOptions,
    UsageError,
    check_spacy_model,
    dedup_horizon,
    fetch_config,
    lsh_partitions,
    output_path,
    sources_from_options,
    window_seconds,
)
from transforms.alerts import AlertOnEvents, alert_history
from transforms.copies import MarkCopies
from transforms.extract import ExtractEvents
from transforms.merge import MergeEvents
from transforms.normalize import NormalizeArticles
from transforms.read import ReadArticles
from transforms.rules import RulesError, load_rules
from transforms.state import After, NotInOut, PriorArticles, PriorEvents, ReadState, RejectedInOut, StorySeeds
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
    try:
        rules = load_rules(opts.alerts) if opts.alerts else None  # checked before any work
    except RulesError as e:
        raise UsageError(str(e)) from e

    p = beam.Pipeline(options=options)
    state = p | "ReadState" >> ReadState(output, horizon)  # what OUT already holds: the run continues it
    read = p | "ReadArticles" >> ReadArticles(sources, fetch)
    normalized = read["articles"] | "NormalizeArticles" >> NormalizeArticles()
    # What OUT holds, read only where this run meets it again (this run's keys as side inputs)
    prior_articles = state["article_files"] | "ArticlesInOut" >> PriorArticles(normalized["articles"])
    marked = normalized["articles"] | "MarkCopies" >> MarkCopies(partitions, prior=prior_articles)
    mentions = marked["articles"] | "ExtractEvents" >> ExtractEvents(opts.spacy_model)
    prior_events = state["event_files"] | "EventsInOut" >> PriorEvents(mentions)
    merged = mentions | "MergeEvents" >> MergeEvents(prior=prior_events["events"])
    in_out = {"article_files": state["article_files"], "event_stories": prior_events["stories"]}
    seeds = {**in_out, "reports": merged["reports"]} | "StoriesInOut" >> StorySeeds()
    stories = {"articles": marked["articles"], "reports": merged["reports"], "seeds": seeds}
    articles = stories | "AssignStories" >> AssignStories(horizon)
    events = merged["events"]
    if rules is not None:  # alerts first: an event version is in OUT only once its alerts are recorded
        history = alert_history(output)
        alerts = {"events": events, "continued": merged["continued"]} | "AlertOnEvents" >> AlertOnEvents(
            rules, output, window, history
        )
        events = events | "AfterAlerts" >> After(alerts)

    rejected = (read["rejected"], normalized["rejected"], marked["rejected"]) | "AllRejected" >> beam.Flatten()
    # Written in this order, each after the one before has finished: alerts (as they are sent),
    # events, then articles. A run killed half-way leaves articles that are not in OUT yet,
    # which the next run reads again; their events and alerts it finds in OUT (transforms/state.py).
    events_written = events | "WriteEvents" >> WriteTable("events", output, window)
    articles | "AfterEvents" >> After(events_written) | "WriteArticles" >> WriteTable("articles", output, window)
    rejected_in_out = state["rejected_files"] | "RejectedInOut" >> RejectedInOut(rejected)
    new_rejected = {"rows": rejected, "in_out": rejected_in_out} | "RejectedNotInOut" >> NotInOut("rejected_id")
    new_rejected | "WriteRejected" >> WriteTable("rejected", output, window)
    return p
