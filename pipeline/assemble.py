"""create_pipeline(options): assembles the stages of DESIGN's data flow, nothing else."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.transforms.window import FixedWindows, GlobalWindows

from pipeline.options import (
    NewsmonOptions,
    UsageError,
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
from pipeline.runners import batch_runner
from transforms.alerts import AlertOnEvents, alert_history
from transforms.copies import MarkCopies
from transforms.extract import ExtractEvents
from transforms.merge import MergeEvents
from transforms.normalize import NormalizeArticles
from transforms.read import ReadArticles
from transforms.resume import SeedState, read_seeds
from transforms.rules import RulesError, load_rules
from transforms.state import After, NotInOut, PriorArticles, PriorEvents, ReadState, RejectedInOut, StorySeeds
from transforms.stories import AssignStories
from transforms.stream import EventTime, PollSources, ReadPubSub, SkipKnown, known_articles
from transforms.write import AfterWritten, WriteNow, WriteTable


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
    try:
        rules = load_rules(opts.alerts) if opts.alerts else None  # checked before any work
    except RulesError as e:
        raise UsageError(str(e)) from e

    streaming = options.view_as(StandardOptions).streaming
    lateness = allowed_lateness(opts) if streaming else 0.0
    interval = poll_interval(opts)

    p = beam.Pipeline(runner=batch_runner(options), options=options)
    if streaming:  # OUT's last horizon, read now, seeds the stages' keyed state (transforms/resume.py)
        seeded = p | "StateFromOut" >> SeedState(read_seeds(output, horizon), lambda: arrival_windows(interval))
    if not streaming:
        read = p | "ReadArticles" >> ReadArticles(sources, fetch)
    elif opts.pubsub_subscription:
        read = p | "ReadPubSub" >> ReadPubSub(opts.pubsub_subscription)
    else:
        read = p | "PollSources" >> PollSources(sources, fetch, interval, horizon.total_seconds())
    normalized = read["articles"] | "NormalizeArticles" >> NormalizeArticles()
    if streaming:  # OUT's articles are skipped, not re-read; articles at their event time, in windows
        fresh = normalized["articles"] | "SkipKnown" >> SkipKnown(known_articles(output))
        timed = fresh | "EventTime" >> EventTime(window, lateness)
        articles_in, late = timed["articles"] | "PollWindows" >> arrival_windows(interval), [timed["rejected"]]
        marked = articles_in | "MarkCopies" >> MarkCopies(partitions, prior=seeded["versions"], horizon=horizon)
        mentions = marked["articles"] | "ExtractEvents" >> ExtractEvents(opts.spacy_model)
        merged = mentions | "MergeEvents" >> MergeEvents(prior=seeded["events"], horizon=horizon)
        stories = {"articles": marked["articles"], "reports": merged["reports"], "seeds": seeded["stories"]}
    else:  # what OUT already holds (transforms/state.py): the run continues it
        state = p | "ReadState" >> ReadState(output, horizon)
        # read only where this run meets it again (this run's keys as side inputs)
        prior_articles = state["article_files"] | "ArticlesInOut" >> PriorArticles(normalized["articles"])
        marked = normalized["articles"] | "MarkCopies" >> MarkCopies(partitions, prior=prior_articles, horizon=horizon)
        mentions = marked["articles"] | "ExtractEvents" >> ExtractEvents(opts.spacy_model)
        prior_events = state["event_files"] | "EventsInOut" >> PriorEvents(mentions)
        merged = mentions | "MergeEvents" >> MergeEvents(prior=prior_events["events"], horizon=horizon)
        in_out = {"article_files": state["article_files"], "event_stories": prior_events["stories"]}
        seeds = {**in_out, "reports": merged["reports"]} | "StoriesInOut" >> StorySeeds()
        stories = {"articles": marked["articles"], "reports": merged["reports"], "seeds": seeds}
        late = []
    articles = stories | "AssignStories" >> AssignStories(horizon)
    events = merged["events"]
    if rules is not None:  # alerts first: an event version is in OUT only once its alerts are recorded
        history = alert_history(output)
        alerts = {"events": events, "continued": merged["continued"]} | "AlertOnEvents" >> AlertOnEvents(
            rules, output, window, history, horizon
        )
        # a stream passes each version on once its alerts are recorded; batch waits for them all
        events = alerts["events"] if streaming else events | "AfterAlerts" >> After(alerts)

    rejected = [read["rejected"], normalized["rejected"], marked["rejected"], *late]
    # one windowing for the Flatten (in a stream MarkCopies' rejections are in poll windows,
    # the others global; Prism panics on a Flatten of both); WriteTable windows them again
    rejected = [r | f"Unwindowed{i}" >> beam.WindowInto(GlobalWindows()) for i, r in enumerate(rejected)]
    rejected = rejected | "AllRejected" >> beam.Flatten()
    if streaming:  # event versions written as they come (after their alerts), then their articles
        events_written = events | "WriteEvents" >> WriteNow("events", output, window, progress=True)
        articles = {"articles": articles, "events": events_written} | "AfterEvents" >> AfterWritten()
        articles | "WriteArticles" >> WriteTable("articles", output, window, lateness, streaming)
        rejected | "WriteRejected" >> WriteTable("rejected", output, window, lateness, streaming)
        return p
    # Written in this order, each after the one before has finished: alerts (as they are sent),
    # events, then articles. A run killed half-way leaves articles that are not in OUT yet,
    # which the next run reads again; their events and alerts it finds in OUT (transforms/state.py).
    events_written = events | "WriteEvents" >> WriteTable("events", output, window)
    articles | "AfterEvents" >> After(events_written) | "WriteArticles" >> WriteTable("articles", output, window)
    rejected_in_out = state["rejected_files"] | "RejectedInOut" >> RejectedInOut(rejected)
    new_rejected = {"rows": rejected, "in_out": rejected_in_out} | "RejectedNotInOut" >> NotInOut("rejected_id")
    new_rejected | "WriteRejected" >> WriteTable("rejected", output, window)
    return p


def arrival_windows(poll_interval_s: float) -> beam.WindowInto:
    """The windows the stages' joins run in, in a stream: one per poll, by arrival time, so an
    article's parts (row, copy marks, events, story) meet in one pane that fires as soon as the
    watermark passes the poll. The Parquet windows (--window) are WriteTable's, by event time."""
    return beam.WindowInto(FixedWindows(max(1, round(poll_interval_s))))
