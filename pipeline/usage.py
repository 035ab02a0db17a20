"""`newsmon --help`, `newsmon run --help` and `newsmon --version`, generated from the code.

The run help is built from NewsmonOptions' own argparse definitions and the tables come from
`schemas.TABLES`, so a new flag or table shows up in --help without anyone editing a string.
"""

from __future__ import annotations

import argparse

TOP = """usage: newsmon run --input GLOB … | --feed URL|FILE … | --feeds-file FILE … --output DIR [options]
       newsmon report OUT [--html FILE] [--groundtruth CSV] [--windows N] [--events N]
       newsmon --version

commands:
  run      read articles and feeds, write the {tables} tables under --output
  report   summarize an output folder in the terminal, and as an HTML page with --html

`newsmon run --help` and `newsmon report --help` list every option. See README.md."""


# What a value looks like, for the help text; a new option without an entry shows VALUE.
_METAVARS = {
    "input": "GLOB",
    "feed": "URL|FILE",
    "feeds_file": "FILE",
    "output": "DIR",
    "window": "DURATION",
    "max_bytes": "SIZE",
    "fetch_timeout": "DURATION",
    "fetch_retries": "N",
    "max_redirects": "N",
    "dedup_horizon": "DURATION",
    "lsh_partitions": "N",
    "spacy_model": "NAME",
}


def version() -> str:
    """The installed distribution's version (setup.py), e.g. 'newsmon 0.1.0'."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return f"newsmon {dist_version('newsmon')}"
    except PackageNotFoundError:  # run from a source tree without `pip install -e .`
        return "newsmon (not installed: version unknown)"


def _tables() -> str:
    from schemas import TABLES

    names = [f"{name}/" for name in TABLES]
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]


def top_help() -> str:
    return TOP.format(tables=_tables())


def run_help() -> str:
    """Every newsmon option of `run`, from NewsmonOptions, with Beam's options summarized."""
    from pipeline.options import NewsmonOptions

    parser = argparse.ArgumentParser(
        prog="newsmon run",
        usage="newsmon run --input GLOB … | --feed URL|FILE … | --feeds-file FILE … --output DIR [options]",
        description=f"Reads news articles and RSS/Atom feeds and writes the {_tables()} Parquet tables under "
        "--output, one window_start=… folder per --window; the run summary goes to stderr. "
        "Exit status: 0 (also when records were rejected: they are in rejected/), 2 for bad usage, 1 for a "
        "failed run.",
        epilog="Every other flag goes to Beam's PipelineOptions, e.g. --runner=PortableRunner "
        "--job_endpoint=embed --environment_type=LOOPBACK, or --runner=DataflowRunner --project … "
        "(default runner: FnApiRunner). A flag neither newsmon nor Beam knows is an error. See README.md.",
        add_help=False,
        formatter_class=lambda prog: argparse.HelpFormatter(prog, max_help_position=30, width=100),
    )
    NewsmonOptions._add_argparse_args(parser)
    for action in parser._actions:  # argparse would show --fetch-timeout FETCH_TIMEOUT
        if action.option_strings and action.metavar is None:
            action.metavar = _METAVARS.get(action.dest, "VALUE")
    parser.add_argument_group("help").add_argument("-h", "--help", action="store_true", help="show this help")
    return parser.format_help().rstrip()
