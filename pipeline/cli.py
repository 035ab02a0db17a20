"""The `newsmon` command.

    newsmon run --input GLOB … --feed URL|FILE … --feeds-file FILE --output DIR [--window 1h]
                [--alerts rules.yaml] [any Beam option: --runner …]
    newsmon report OUT [--html FILE] [--groundtruth CSV]      (pipeline/report.py)
    newsmon --version

`--help` texts are generated from the options (pipeline/usage.py).

Exit status: 0 on success (also when some inputs were rejected: they are in rejected/),
2 for bad usage or configuration (one line on stderr), 1 for a failed run, 3 when the run
ended but every source was rejected (no article at all: all feeds down, say).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, TextIO

DEFAULT_BATCH_RUNNER = "FnApiRunner"  # plain DirectRunner tries to download Prism first (pipeline.runners)
EXIT_ALL_FAILED = 3  # the run ended, but every source was rejected (all feeds down…): a signal for cron

logger = logging.getLogger("newsmon")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from pipeline import usage

    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage.top_help())
        return 0 if argv else 2
    if argv[0] in ("--version", "-V"):
        print(usage.version())
        return 0
    command, args = argv[0], argv[1:]
    if command == "report":
        from pipeline import report

        return report.main(args)
    if command != "run":
        print(f"newsmon: error: unknown command {command!r} (the commands are: run, report)", file=sys.stderr)
        return 2
    if "-h" in args or "--help" in args:
        print(usage.run_help())
        return 0
    return run(args, sys.stderr)


def run(args: list[str], out: TextIO) -> int:
    from pipeline.malloc import tune_malloc

    tune_malloc()  # before Beam's and gRPC's threads start
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    from pipeline.assemble import create_pipeline
    from pipeline.options import NewsmonOptions, UsageError, check_beam_options, check_flags, check_output_writable
    from pipeline.runners import choose_runner
    from transforms.state import run_lock

    try:
        args = check_flags(args)
        options = PipelineOptions(args)
        choose_runner(options)  # FnApiRunner for batch, Prism for --streaming, unless named
        check_beam_options(options)
    except UsageError as e:
        print(f"newsmon: error: {e}", file=sys.stderr)
        return 2
    if options.view_as(StandardOptions).streaming:
        try:
            pipeline = create_pipeline(options)
            check_output_writable(options.view_as(NewsmonOptions).output)
        except UsageError as e:
            print(f"newsmon: error: {e}", file=sys.stderr)
            return 2
        return run_stream(pipeline)
    from pipeline.progress import Progress

    output = options.view_as(NewsmonOptions).output
    with run_lock(output) if output else contextlib.nullcontext():  # one run at a time into one OUT
        try:
            pipeline = create_pipeline(options)  # reads what OUT holds: under the lock
            check_output_writable(output)
        except UsageError as e:
            print(f"newsmon: error: {e}", file=sys.stderr)
            return 2
        try:
            with Progress(sys.stderr):
                result = pipeline.run()
                result.wait_until_finish()
        except Exception as e:  # a failed run: say what failed in one line, details at DEBUG level
            logger.debug("run failed", exc_info=True)
            first = str(e).splitlines()[0] if str(e) else ""
            print(f"newsmon: run failed: {type(e).__name__}: {first}", file=sys.stderr)
            return 1
    summary = RunSummary.from_metrics(result.metrics().query()["counters"])
    summary.print(out, options.view_as(NewsmonOptions).output)
    if summary.every_source_failed:
        print(f"newsmon: every source failed: no article read (exit {EXIT_ALL_FAILED})", file=sys.stderr)
        return EXIT_ALL_FAILED
    return 0


def run_stream(pipeline: Any) -> int:
    """Run a streaming job until it is stopped: Ctrl-C (SIGINT) or SIGTERM cancels it cleanly
    (exit 0); what was written stays, and a restart continues it. A job that fails exits 1."""
    import signal

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    result = None
    try:
        result = pipeline.run()
        result.wait_until_finish()
    except KeyboardInterrupt:
        print("newsmon: stopping the stream (what was written stays; a restart continues it)", file=sys.stderr)
        try:
            if result is not None:
                result.cancel()
        except Exception:  # the runner may already be gone
            logger.debug("cancel failed", exc_info=True)
        return 0
    except Exception as e:
        logger.debug("run failed", exc_info=True)
        print(f"newsmon: run failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", file=sys.stderr)
        return 1
    return 0


@dataclass
class RunSummary:
    """Per origin (each --input / --feed value): records read, articles and rejected rows written."""

    by_origin: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    events: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    alerts: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # attempts by status
    copies: int = 0
    spacy_articles: int = 0
    extract_failed: int = 0

    @classmethod
    def from_metrics(cls, counters: list[Any]) -> RunSummary:
        from transforms.counters import NAMESPACE

        summary = cls()
        for c in counters:
            if c.key.metric.namespace != NAMESPACE:
                continue
            value = c.committed if c.committed is not None else c.attempted
            kind, _, name = c.key.metric.name.partition("|")
            if kind == "reason":
                summary.reasons[name] += value
            elif kind == "events":
                summary.events[name] += value
            elif kind == "copies":
                summary.copies += value
            elif kind == "extract_failed":
                summary.extract_failed += value
            elif kind == "spacy_articles":
                summary.spacy_articles += value
            elif kind == "alerts":
                summary.alerts[name] += value
            elif kind in ("read", "articles", "rejected", "known"):
                summary.by_origin[name][kind] += value
        return summary

    def total(self, kind: str) -> int:
        return sum(counts[kind] for counts in self.by_origin.values())

    @property
    def every_source_failed(self) -> bool:
        """Each source gave only rejected records (feeds unreachable, files unreadable…)."""
        return bool(self.by_origin) and all(c["read"] == c["rejected"] for c in self.by_origin.values())

    @property
    def balanced(self) -> bool:
        return all(c["read"] == c["articles"] + c["rejected"] + c["known"] for c in self.by_origin.values())

    def print(self, out: TextIO, output: str) -> None:
        from pipeline.report import plural

        read, articles, rejected = self.total("read"), self.total("articles"), self.total("rejected")
        out.write(
            f"newsmon: read {plural(read, 'record')} from {plural(len(self.by_origin), 'source')}: "
            f"{plural(articles, 'article')} ({plural(self.copies, 'copy')} of another), {rejected} rejected\n"
        )
        width = min(60, max([len(o) for o in self.by_origin] + [6]))
        out.write(f"  {'source':<{width}}  {'read':>7} {'articles':>8} {'rejected':>8}\n")
        for origin in sorted(self.by_origin):
            c = self.by_origin[origin]
            name = origin if len(origin) <= width else "…" + origin[-width + 1 :]
            out.write(f"  {name:<{width}}  {c['read']:>7} {c['articles']:>8} {c['rejected']:>8}\n")
        known = self.total("known")
        if known:  # the output is the state: records OUT already holds are counted, not written again
            out.write(f"  already in {output} (same id and text), not written again: {plural(known, 'article')}\n")
        if self.reasons:
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.reasons.items(), key=lambda kv: -kv[1]))
            out.write(f"  rejected by reason: {reasons}\n")
        if self.events:
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.events.items()))
            out.write(f"  event rows (one per event version): {sum(self.events.values())} ({kinds})\n")
        out.write(
            f"  spaCy read {plural(self.spacy_articles, 'article')} (exact copies reuse their original's events)\n"
        )
        if self.alerts:
            out.write(
                f"  alert attempts: {self.alerts.get('delivered', 0)} delivered, {self.alerts.get('failed', 0)} failed"
                f" (rows in {output}/alerts)\n"
            )
        if self.extract_failed:
            out.write(f"  WARNING: extraction failed on {plural(self.extract_failed, 'article')} (see the log)\n")
        if not self.balanced:
            out.write("  WARNING: read != articles + rejected + already in OUT for some source; please report this\n")
        written = {
            "articles": articles,
            "events": sum(self.events.values()),
            "rejected": rejected,
            "alerts": sum(self.alerts.values()),
        }
        tables = "  ".join(f"{output}/{table}" for table, rows in written.items() if rows)
        out.write(f"output: {tables or 'no rows, so no files'}\n")  # a table with no rows writes no files


if __name__ == "__main__":
    sys.exit(main())
