"""newsmon's own pipeline options, their validation, and the sources they name."""

from __future__ import annotations

import argparse
import os
import re
from datetime import timedelta
from typing import Any

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import (
    DirectOptions,
    PipelineOptions,
    StandardOptions,
    _BeamArgumentParser,
)

from schemas import SourceSpec
from transforms.copies import PARTITIONS
from transforms.fetch import FetchConfig


class UsageError(Exception):
    """Bad flags or configuration: the CLI prints the message on one line and exits 2."""


class NewsmonOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("newsmon")
        group.add_argument(
            "--input",
            action="append",
            default=[],
            help="file, folder or glob of articles (.txt .md .json .jsonl .html) or feeds "
            "(.xml .rss .atom .rdf); repeatable",
        )
        group.add_argument("--feed", action="append", default=[], help="RSS/Atom feed URL or file; repeatable")
        group.add_argument(
            "--feeds-file",
            dest="feeds_file",
            action="append",
            default=[],
            help="file listing feeds: OPML, or .txt with one URL or path a line; repeatable",
        )
        group.add_argument("--output", help="output folder (any Beam filesystem path: local, gs://, s3://)")
        group.add_argument("--window", default="1h", help="Parquet window length, e.g. 30m, 1h, 1d (default 1h)")
        group.add_argument(
            "--max-bytes", dest="max_bytes", default="10MB", help="largest file or feed read (default 10MB)"
        )
        group.add_argument(
            "--fetch-timeout",
            dest="fetch_timeout",
            default="20s",
            help="HTTP timeout per connect and read (default 20s)",
        )
        group.add_argument(
            "--fetch-deadline",
            dest="fetch_deadline",
            default="120s",
            help="overall time for one feed fetch (retries and redirects included) or one file read; "
            "a slower source is rejected (fetch_failed / read_failed) (default 120s)",
        )
        group.add_argument(
            "--fetch-retries", dest="fetch_retries", default="2", help="retries on 5xx/network errors (default 2)"
        )
        group.add_argument("--max-redirects", dest="max_redirects", default="5", help="HTTP redirect cap (default 5)")
        group.add_argument(
            "--dedup-horizon",
            dest="dedup_horizon",
            default="72h",
            help="how far back a report can join a story; older story state expires (default 72h)",
        )
        group.add_argument(
            "--lsh-partitions",
            dest="lsh_partitions",
            default=None,
            help="keys the near-duplicate search spreads LSH buckets over; each holds every article's "
            "shingles (default: the local runner's workers, --direct_num_workers; 4 on other runners)",
        )
        group.add_argument(
            "--alerts",
            default=None,
            help="a rules file (YAML): which events alert, and where (webhook, stdout, python); see README",
        )
        group.add_argument(
            "--poll-interval",
            dest="poll_interval",
            default="5m",
            help="--streaming: how often feeds are polled and input folders listed (default 5m)",
        )
        group.add_argument(
            "--allowed-lateness",
            dest="allowed_lateness",
            default="48h",
            help="--streaming: how long after its window closed an article is still written (to new files "
            "of its window); later ones go to rejected/ as too_late (default 48h)",
        )
        group.add_argument(
            "--pubsub-subscription",
            dest="pubsub_subscription",
            default=None,
            help="--streaming on Dataflow: read JSON article objects from this Pub/Sub subscription "
            "(projects/P/subscriptions/S; needs apache-beam[gcp])",
        )
        group.add_argument(
            "--spacy-model",
            dest="spacy_model",
            default=None,
            help="an installed spaCy model (e.g. en_core_web_sm) whose NER runs after the gazetteers; "
            "default: rules on a blank English pipeline",
        )


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_SIZE = re.compile(r"^(\d+)\s*(b|kb|mb|gb|k|m|g)?$", re.IGNORECASE)
_SIZE_UNITS = {None: 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}


def parse_duration(value: str, flag: str) -> float:
    """'90s', '30m', '1h', '1d' (a bare number is seconds) -> seconds."""
    m = _DURATION.match(str(value).strip())
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"{flag} {value!r}: want a positive duration like 30m, 1h or 1d")
    return float(m.group(1)) * _DURATION_UNITS[m.group(2)]


def parse_size(value: str, flag: str) -> int:
    m = _SIZE.match(str(value).strip())
    if not m or int(m.group(1)) <= 0:
        raise UsageError(f"{flag} {value!r}: want a positive size like 500KB or 10MB")
    return int(m.group(1)) * _SIZE_UNITS[(m.group(2) or "").lower() or None]


def parse_count(value: str, flag: str) -> int:
    if not str(value).isdigit():
        raise UsageError(f"{flag} {value!r}: want a whole number")
    return int(value)


def fetch_config(opts: NewsmonOptions) -> FetchConfig:
    return FetchConfig(
        max_bytes=parse_size(opts.max_bytes, "--max-bytes"),
        timeout_s=parse_duration(opts.fetch_timeout, "--fetch-timeout"),
        retries=parse_count(opts.fetch_retries, "--fetch-retries"),
        max_redirects=parse_count(opts.max_redirects, "--max-redirects"),
        deadline_s=parse_duration(opts.fetch_deadline, "--fetch-deadline"),
    )


def dedup_horizon(opts: NewsmonOptions) -> timedelta:
    return timedelta(seconds=parse_duration(opts.dedup_horizon, "--dedup-horizon"))


# runners whose workers are this machine's, counted by --direct_num_workers (Prism: one SDK worker)
_LOCAL_RUNNERS = {None, "FnApiRunner", "DirectRunner", "BundleBasedDirectRunner", "SwitchingDirectRunner"}
_LOCAL_RUNNERS |= {"PrismRunner", "prism"}  # pipeline.runners' names for Prism


def lsh_partitions(opts: NewsmonOptions) -> int:
    """`--lsh-partitions`, or by default as many partitions as the local runner has workers.

    A partition of the near-duplicate search gets an article if any of its 32 bucket keys falls
    in it, so with a few partitions each holds nearly every article's shingle hashes: more
    partitions than workers buy no parallelism, and cost a copy of the shingles each (20,000
    bench articles on one worker: 4 partitions peaked at 1.36 GB in that stage, bench/RESULTS.md
    "Memory stage by stage"); in a stream each partition's kept members are read at every poll.
    On a remote runner the worker count is not known when the graph is built: 4."""
    if opts.lsh_partitions is None:
        if opts.view_as(StandardOptions).runner not in _LOCAL_RUNNERS:
            return PARTITIONS
        workers = opts.view_as(DirectOptions).direct_num_workers
        return max(1, workers if workers > 0 else os.cpu_count() or 1)  # 0: one per core, as Beam's
    count = parse_count(opts.lsh_partitions, "--lsh-partitions")
    if count < 1:
        raise UsageError(f"--lsh-partitions {opts.lsh_partitions!r}: want at least 1")
    return count


def poll_interval(opts: NewsmonOptions) -> float:
    return parse_duration(opts.poll_interval, "--poll-interval")


def allowed_lateness(opts: NewsmonOptions) -> float:
    return parse_duration(opts.allowed_lateness, "--allowed-lateness")


def window_seconds(opts: NewsmonOptions) -> int:
    seconds = parse_duration(opts.window, "--window")
    if seconds < 1 or seconds != int(seconds):
        raise UsageError(f"--window {opts.window!r}: want whole seconds, at least 1s")
    return int(seconds)


def check_spacy_model(opts: NewsmonOptions) -> None:
    """--spacy-model must name an installed package: say so before the workers start."""
    if opts.spacy_model:
        import spacy.util

        if not spacy.util.is_package(opts.spacy_model):
            raise UsageError(f"--spacy-model {opts.spacy_model}: not installed (see README, 'spaCy models')")


def output_path(opts: NewsmonOptions) -> str:
    if not opts.output:
        raise UsageError("--output is required (a folder for the Parquet tables)")
    return opts.output.rstrip("/") or "/"


def check_flags(argv: list[str]) -> list[str]:
    """Reject flags that neither newsmon nor any Beam options class defines (Beam itself only
    logs and drops them, so a typo like --ouput would otherwise pass unnoticed).

    Returns argv with `--flag -value` joined into `--flag=-value`, so `--window -1h` gets the
    flag's own message ("want a positive duration") instead of argparse's "expected one
    argument"; pass the returned list to PipelineOptions."""
    parser = _OneLineErrors(allow_abbrev=False)
    for cls in {str(c): c for c in PipelineOptions.__subclasses__()}.values():
        cls._add_argparse_args(parser)
    argv = _join_dash_values(argv, parser)
    _, unknown = parser.parse_known_args(argv)
    flags = [a for a in unknown if a.startswith("-")]
    if flags:
        raise UsageError(f"unknown flag {flags[0].split('=', 1)[0]} (see newsmon run --help)")
    if unknown:
        raise UsageError(f"unexpected argument {unknown[0]!r} (flags take the form --name=value)")
    return argv


def _join_dash_values(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    takes_value = {
        flag
        for action in parser._actions
        if isinstance(action, (argparse._StoreAction, argparse._AppendAction)) and action.nargs is None
        for flag in action.option_strings
    }
    known = set(parser._option_string_actions)
    joined: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        following = argv[i + 1] if i + 1 < len(argv) else None
        if arg in takes_value and following and following.startswith("-") and following.split("=")[0] not in known:
            joined.append(f"{arg}={following}")
            i += 2
            continue
        joined.append(arg)
        i += 1
    return joined


def check_beam_options(options: PipelineOptions) -> None:
    """The runner must exist and Beam's own option validation must pass, checked here (before
    any work) so that they are usage errors on one line, not a traceback from Pipeline()."""
    import logging

    from apache_beam.options.pipeline_options import StandardOptions
    from apache_beam.options.pipeline_options_validator import PipelineOptionsValidator
    from apache_beam.runners.runner import create_runner

    name = options.view_as(StandardOptions).runner
    logging.disable(logging.WARNING)  # Beam logs each problem as a warning before returning it
    try:
        try:
            runner = create_runner(name)
        except (ValueError, ImportError) as e:
            raise UsageError(f"--runner={name}: {_first_line(e, 300)}") from None
        errors = PipelineOptionsValidator(options, runner).validate()
    finally:
        logging.disable(logging.NOTSET)
    if errors:
        raise UsageError("Beam option validation: " + "; ".join(_first_line(e, 200) for e in errors))


def _first_line(e: object, limit: int) -> str:
    line = next((part.strip() for part in str(e).splitlines() if part.strip()), type(e).__name__)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def check_output_writable(output: str) -> None:
    """A local --output must be a folder newsmon can write, or one it can create: found out
    before the run (it used to be found by the last write, after all the work). Other Beam
    filesystems (gs://, s3://) are left to Beam, which needs credentials to check them."""
    import tempfile

    if "://" in output:
        return
    if os.path.exists(output) and not os.path.isdir(output):
        raise UsageError(f"--output {output}: is a file, not a folder")
    try:
        os.makedirs(output, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output, prefix=".newsmon-probe-"):
            pass
    except OSError as e:
        raise UsageError(f"--output {output}: not a folder newsmon can write ({e.strerror or e})") from None


class _OneLineErrors(_BeamArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print usage and exit
        raise UsageError(message)


# ----------------------------------------------------------------------------- sources


def is_url(value: str) -> bool:
    return value.lower().startswith(("http://", "https://"))


def sources_from_options(opts: NewsmonOptions) -> list[SourceSpec]:
    """What to read, checked before the pipeline starts: every glob must match a file."""
    sources = [_file_source(value, value, None, "--input") for value in opts.input]
    sources += [_feed_source(value, value) for value in opts.feed]
    for feeds_file in opts.feeds_file:
        sources += [_feed_source(feed, feed) for feed in read_feeds_file(feeds_file)]
    if not sources and not opts.pubsub_subscription:
        raise UsageError("nothing to read: give --input, --feed or --feeds-file")
    return sources


def _feed_source(value: str, origin: str) -> SourceSpec:
    if is_url(value):
        return SourceSpec("url", value, origin, "feed")
    return _file_source(value, origin, "feed", "--feed")


def _file_source(value: str, origin: str, fmt: str | None, flag: str) -> SourceSpec:
    pattern = FileSystems.join(value, "**") if _is_local_dir(value) else value
    if not any(m.metadata_list for m in FileSystems.match([pattern])):
        raise UsageError(f"{flag} {value}: matches no file")
    return SourceSpec("glob", pattern, origin, fmt)


def _is_local_dir(value: str) -> bool:
    return "://" not in value and os.path.isdir(value)


def read_feeds_file(path: str) -> list[str]:
    """Feed URLs or paths from an OPML file or a plain list (one a line, # comments).
    Relative paths are relative to the file that lists them.

    The list is configuration, checked before any work: an entry that is neither an http(s)
    URL nor a path that matches a file is a usage error naming the list file and the line (a
    typo there should be fixed, not logged as a rejection every hour). A URL that fails when
    fetched is a `fetch_failed` row, as for --feed."""
    try:
        with FileSystems.open(path) as f:
            data = f.read()
    except OSError as e:
        raise UsageError(f"--feeds-file {path}: cannot read it ({type(e).__name__})") from e
    if path.lower().endswith(".opml") or data.lstrip().startswith((b"<?xml", b"<opml")):
        entries = _opml_entries(path, data)
    else:
        lines = data.decode("utf-8", errors="replace").splitlines()
        entries = [(n, line.strip()) for n, line in enumerate(lines, 1) if line.strip() and line.strip()[0] != "#"]
    if not entries:
        raise UsageError(f"--feeds-file {path}: lists no feed")
    base = path.rsplit("/", 1)[0] if "/" in path else ""
    feeds = []
    for line, entry in entries:
        feed = entry if is_url(entry) or entry.startswith("/") or not base else FileSystems.join(base, entry)
        if not is_url(feed) and ("://" in feed.split("/", 1)[0] + "/" or not _matches_a_file(feed)):
            raise UsageError(
                f"--feeds-file {path} line {line}: {entry[:100]!r} is neither an http(s) URL nor an existing file"
            )
        feeds.append(feed)
    return feeds


def _matches_a_file(value: str) -> bool:
    try:
        return any(m.metadata_list for m in FileSystems.match([value]))
    except Exception:
        return False


def _opml_entries(path: str, data: bytes) -> list[tuple[int, str]]:
    """(line, xmlUrl) of every outline; lxml without entity expansion or network access."""
    import lxml.etree

    parser = lxml.etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = lxml.etree.fromstring(data, parser)
    except lxml.etree.XMLSyntaxError as e:
        raise UsageError(f"--feeds-file {path}: not valid OPML ({e})") from None
    return [(o.sourceline, o.get("xmlUrl").strip()) for o in root.iter("outline") if (o.get("xmlUrl") or "").strip()]
