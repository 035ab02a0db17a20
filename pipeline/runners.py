"""Which runner a job runs on, and where the streaming runner's binary comes from.

Batch runs on the FnApiRunner unless the user names a runner. A streaming run (`--streaming`)
runs on PrismRunner, Beam's own local runner, unless the user names another (DataflowRunner,
FlinkRunner, …). Prism is a Go binary that Beam downloads from GitHub at run time; offline it
cannot, so `make prism` builds it from the Go module of the pinned Beam version into
`.tools/bin/prism` and newsmon passes that path as `--prism_location` (a local path is used as
it is: nothing is downloaded). With neither that binary nor the download, the run exits 2
before any work, saying how to get it.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
from pathlib import Path
from typing import Any

from apache_beam.options.pipeline_options import (
    PipelineOptions,
    PortableOptions,
    PrismRunnerOptions,
    SetupOptions,
    StandardOptions,
)

from pipeline.options import UsageError

logger = logging.getLogger(__name__)

DEFAULT_BATCH_RUNNER = "FnApiRunner"  # plain DirectRunner tries to download Prism first
STREAMING_RUNNER = "PrismRunner"
PRISM_ENV = "NEWSMON_PRISM"  # an explicit path to a Prism binary, like --prism_location
HOW_TO_GET_PRISM = "build it with `make prism` (needs Go) or pass --prism_location=PATH"
_PRISM_NAMES = ("PrismRunner", "prism")
_DOWNLOAD_CHECK_TIMEOUT_S = 5.0
_BEAM_JOB_SERVER_TIMEOUT_S = 300  # PortableOptions' default
STREAM_JOB_SERVER_TIMEOUT_S = 10 * 365 * 24 * 3600  # ten years: longer than any stream is watched


def choose_runner(options: PipelineOptions) -> None:
    """Set the runner (and Prism's location) on `options`; raise UsageError when a streaming run
    would need Prism and no binary can be had."""
    standard = options.view_as(StandardOptions)
    release_worker_buffers(options)
    if not standard.streaming:
        standard.runner = standard.runner or DEFAULT_BATCH_RUNNER
        size_state_cache(options)
        return
    runner = standard.runner or STREAMING_RUNNER
    if runner in ("DirectRunner", "BundleBasedDirectRunner", "FnApiRunner"):
        # DirectRunner hands streaming jobs to Prism, or falls back silently to the old
        # BundleBasedDirectRunner when the download fails; FnApiRunner runs no unbounded source.
        raise UsageError(f"--runner={runner} does not run this streaming job; use PrismRunner (the default)")
    standard.runner = runner
    if runner not in _PRISM_NAMES:
        return  # Dataflow, Flink, …: their own way of running
    keep_watching(options)
    prism = options.view_as(PrismRunnerOptions)
    if prism.prism_location:
        if "://" not in prism.prism_location and not os.path.isfile(prism.prism_location):
            raise UsageError(f"--prism_location {prism.prism_location}: no such file; {HOW_TO_GET_PRISM}")
        return
    local = find_prism()
    if local:
        prism.prism_location = local
        return
    if not _download_reachable():
        raise UsageError(f"--streaming needs Prism, Beam's local runner, and cannot download it: {HOW_TO_GET_PRISM}")


def batch_runner(options: PipelineOptions) -> Any:
    """The FnApiRunner for a job whose runner is "FnApiRunner", made as Beam's DirectRunner makes
    it: with the job's options in its provision info, which is what it hands its
    multi-processing workers (as PIPELINE_OPTIONS). Made from its name alone it hands them
    none, and they would not import `--beam_plugins`. Its groupings are handed to the workers
    in chunks (pipeline/grouped_output.py). None for any other runner: Beam makes it from
    `--runner`."""
    if options.view_as(StandardOptions).runner != DEFAULT_BATCH_RUNNER:
        return None
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    from pipeline.grouped_output import chunk_grouped_output

    chunk_grouped_output()
    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    info = beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)
    return fn_runner.FnApiRunner(provision_info=fn_runner.ExtendedProvisionInfo(info))


def release_worker_buffers(options: PipelineOptions) -> None:
    """Free each finished bundle's output buffer (pipeline/worker_buffers.py): in this process,
    where the FnApiRunner's in-process worker and Prism's LOOPBACK workers run, and in every
    other Python SDK worker, which imports the module named in `--beam_plugins` at start."""
    from pipeline import worker_buffers

    setup = options.view_as(SetupOptions)
    if worker_buffers.PLUGIN not in (setup.beam_plugins or []):
        setup.beam_plugins = [*(setup.beam_plugins or []), worker_buffers.PLUGIN]


def keep_watching(options: PipelineOptions) -> None:
    """A stream on Prism runs as long as newsmon watches it: Beam's portable runner reads the
    job's state and messages with a gRPC deadline of `--job_server_timeout` (default 300 s),
    after which `wait_until_finish` fails and the CLI ends, taking Prism down — a stream
    stopped after five minutes (measured: the last poll 300 s after the start). Unless the
    user set another value, the deadline is made longer than any run."""
    portable = options.view_as(PortableOptions)
    if portable.job_server_timeout == _BEAM_JOB_SERVER_TIMEOUT_S:
        portable.job_server_timeout = STREAM_JOB_SERVER_TIMEOUT_S


def size_state_cache(options: PipelineOptions) -> None:
    """Give the FnApiRunner's in-process worker the state cache that Beam's option
    `--max_cache_memory_usage_mb` gives every other SDK worker (multi_processing workers, a
    worker pool): 0 MB by default, i.e. no cache.

    The in-process worker (one worker, direct_running_mode=in_memory) ignores that option and
    always caches 100 MB (worker_handlers.STATE_CACHE_SIZE_MB). The cache weighs every value it
    holds with `objsize`, a Python walk of the whole object graph, each time the value is
    loaded or changed: a keyed state bag is re-weighed in full on every commit, and a side
    input on every lookup. On bench/pipeline.py's corpus that walk was about a third of a
    one-worker run (AlertOnEvents' state holds whole event rows; MatchStories' per-event bags;
    ExtractEvents' copies): 3,000 articles took 158 s under py-spy with the cache, 60 s without,
    with the same output (bench/RESULTS.md, "Where the time goes"). Pass `--max_cache_memory_usage_mb=100`
    to get Beam's former behaviour back."""
    from apache_beam.options.pipeline_options import WorkerOptions
    from apache_beam.runners.portability.fn_api_runner import worker_handlers

    worker_handlers.STATE_CACHE_SIZE_MB = options.view_as(WorkerOptions).max_cache_memory_usage_mb or 0


def find_prism() -> str | None:
    """A local Prism binary: $NEWSMON_PRISM, `.tools/bin/prism` of this checkout or of the
    working folder, `prism` on PATH, or the binary Beam itself cached in an earlier run."""
    candidates = [os.environ.get(PRISM_ENV, "")]
    candidates += [str(Path(__file__).resolve().parents[1] / ".tools/bin/prism"), ".tools/bin/prism"]
    candidates += [shutil.which("prism") or ""]
    candidates += [str(_beam_cached_binary())]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return os.path.abspath(path)
    return None


def _beam_cached_binary() -> Path:
    """Where Beam leaves the binary it downloaded (prism_runner.PrismJobServer.BIN_CACHE)."""
    import apache_beam

    system, machine = platform.system().lower(), platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    name = f"apache_beam-v{apache_beam.__version__}-prism-{system}-{arch}"
    return Path.home() / ".apache_beam/cache/prism/bin" / name


def _download_reachable() -> bool:
    """Whether Beam could download its Prism release (a HEAD request, a few seconds at most)."""
    import apache_beam
    import requests
    from apache_beam.runners.portability.prism_runner import PrismJobServer

    version = "v" + apache_beam.__version__
    url = PrismJobServer._construct_download_url(version, version, platform.system(), platform.machine())
    try:
        response = requests.head(url, timeout=_DOWNLOAD_CHECK_TIMEOUT_S, allow_redirects=True)
    except requests.RequestException as e:
        logger.debug("Prism download %s not reachable: %s", url, e)
        return False
    return response.status_code == 200
