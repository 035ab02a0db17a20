"""The `newsmon` command.

    newsmon run --input GLOB … --feed URL|FILE … --feeds-file FILE --output DIR [--window 1h]
                [any Beam option: --runner …]

Exit status: 0 on success (also when some inputs were rejected: they are in rejected/),
2 for bad usage or configuration (one line on stderr), 1 for a failed run, 3 when the run
ended but every source was rejected (no article at all: all feeds down, say).
"""

from __future__ import annotations

import logging
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, TextIO

USAGE = """usage: newsmon run --input GLOB … | --feed URL|FILE … | --feeds-file FILE … --output DIR
                   [--window 1h] [--max-bytes 10MB] [--fetch-timeout 20s] [--fetch-retries 2]
                   [--max-redirects 5] [--fetch-deadline 120s]
                   [Beam options, e.g. --runner=PortableRunner …]

Reads news articles and RSS/Atom feeds and writes the articles/ and rejected/ Parquet
tables under --output, one window_start=… folder per --window. See README.md."""

DEFAULT_BATCH_RUNNER = "FnApiRunner"  # plain DirectRunner tries to download Prism first
EXIT_ALL_FAILED = 3  # the run ended, but every source was rejected (all feeds down…): a signal for cron

logger = logging.getLogger("newsmon")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    command, args = argv[0], argv[1:]
    if command != "run":
        print(f"newsmon: error: unknown command {command!r} (the command is: run)", file=sys.stderr)
        return 2
    if "-h" in args or "--help" in args:
        print(USAGE)
        return 0
    return run(args, sys.stderr)


def run(args: list[str], out: TextIO) -> int:
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    from pipeline.assemble import create_pipeline
    from pipeline.options import NewsmonOptions, UsageError, check_beam_options, check_flags, check_output_writable

    try:
        args = check_flags(args)
        options = PipelineOptions(args)
        if options.view_as(StandardOptions).streaming:
            raise UsageError("--streaming: the streaming job is not built yet; run in batch (see README)")
        if not options.view_as(StandardOptions).runner:
            options.view_as(StandardOptions).runner = DEFAULT_BATCH_RUNNER
        check_beam_options(options)
        pipeline = create_pipeline(options)
        check_output_writable(options.view_as(NewsmonOptions).output)
    except UsageError as e:
        print(f"newsmon: error: {e}", file=sys.stderr)
        return 2
    try:
        result = pipeline.run()
        result.wait_until_finish()
    except Exception as e:  # a failed run: say what failed in one line, details at DEBUG level
        logger.debug("run failed", exc_info=True)
        print(f"newsmon: run failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", file=sys.stderr)
        return 1
    summary = RunSummary.from_metrics(result.metrics().query()["counters"])
    summary.print(out, options.view_as(NewsmonOptions).output)
    if summary.every_source_failed:
        print(f"newsmon: every source failed: no article read (exit {EXIT_ALL_FAILED})", file=sys.stderr)
        return EXIT_ALL_FAILED
    return 0


@dataclass
class RunSummary:
    """Per origin (each --input / --feed value): records read, articles and rejected rows written."""

    by_origin: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    events: dict[str, int] = field(default_factory=lambda: defaultdict(int))
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
            elif kind in ("read", "articles", "rejected"):
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
        return all(c["read"] == c["articles"] + c["rejected"] for c in self.by_origin.values())

    def print(self, out: TextIO, output: str) -> None:
        read, articles, rejected = self.total("read"), self.total("articles"), self.total("rejected")
        out.write(
            f"newsmon: read {read} records from {len(self.by_origin)} sources: "
            f"{articles} articles ({self.copies} copies of another), {rejected} rejected\n"
        )
        width = min(60, max([len(o) for o in self.by_origin] + [6]))
        out.write(f"  {'source':<{width}}  {'read':>7} {'articles':>8} {'rejected':>8}\n")
        for origin in sorted(self.by_origin):
            c = self.by_origin[origin]
            name = origin if len(origin) <= width else "…" + origin[-width + 1 :]
            out.write(f"  {name:<{width}}  {c['read']:>7} {c['articles']:>8} {c['rejected']:>8}\n")
        if self.reasons:
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.reasons.items(), key=lambda kv: -kv[1]))
            out.write(f"  rejected by reason: {reasons}\n")
        if self.events:
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.events.items()))
            out.write(f"  event rows (one per event version): {sum(self.events.values())} ({kinds})\n")
        out.write(f"  spaCy read {self.spacy_articles} articles (exact copies reuse their original's events)\n")
        if self.extract_failed:
            out.write(f"  WARNING: extraction failed on {self.extract_failed} articles (see the log)\n")
        if not self.balanced:
            out.write("  WARNING: read != articles + rejected for some source; please report this\n")
        written = {"articles": articles, "events": sum(self.events.values()), "rejected": rejected}
        tables = "  ".join(f"{output}/{table}" for table, rows in written.items() if rows)
        out.write(f"output: {tables or 'no rows, so no files'}\n")  # a table with no rows writes no files


if __name__ == "__main__":
    sys.exit(main())
