"""Command line: a thin click layer over the library's stages (:mod:`recommender.pipeline`):
it parses options, calls ``observe`` then ``propose`` or ``check``, and prints.

Exit codes (DESIGN §2): 0 success; 1 verification failed; 2 bad usage or unreadable input.
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .version import __version__

if TYPE_CHECKING:
    from .results import Observation, VerifyRun

#: No stage does linear algebra: one OpenBLAS thread spares starting its thread pool at
#: ``import numpy`` (50 ms of every run on 2 cores). A value already set wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

#: Inputs larger than this get a progress bar on stderr.
PROGRESS_THRESHOLD = 16 * 1024 * 1024


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@contextlib.contextmanager
def _progress(inputs: tuple[str, ...], label: str, force: bool | None) -> Iterator:
    """A byte-based progress bar on stderr for long inputs (or when asked). With standard
    input (``-``) among them only when asked: its size is unknown, so the bar counts the
    bytes read instead."""
    from .ingest import input_size

    stdin = "-" in inputs
    try:
        total = input_size(inputs)
    except Exception:  # the real error is reported by the reader, with the file named
        total = 0
    show = force if force is not None else total >= PROGRESS_THRESHOLD and not stdin
    if not show or (total == 0 and not stdin):
        yield None
        return
    if stdin:
        unknown = (b for b in ())  # no length: the bar shows the bytes read so far
        with click.progressbar(
            unknown, label=f"{label} (bytes)", file=sys.stderr, show_pos=True
        ) as bar:
            yield bar.update
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _duration(text: str, option: str = "--min-age"):
    """'90s', '30m', '6h', '2d', '1w' -> timedelta; a usage error (naming ``option``)
    otherwise."""
    from datetime import timedelta

    text = text.strip().lower()
    if len(text) < 2 or text[-1] not in _UNITS or not text[:-1].isdigit():
        raise click.BadParameter(
            f"{text!r} is not a duration like 30m, 6h or 2d", param_hint=option
        )
    return timedelta(seconds=int(text[:-1]) * _UNITS[text[-1]])


def _window_options(command):
    """--min-window and --require-saturation, checked (a bad duration is exit 2) and kept in
    the context for :func:`_refuse_short_window`, which judges the window once the proposal
    is proven (docs/window.md)."""

    def keep(ctx: click.Context, param: click.Parameter, value):
        if param.name == "min_window" and value is not None:
            value = (value, _duration(value, "--min-window"))
        ctx.meta[f"window.{param.name}"] = value
        return value

    command = click.option(
        "--require-saturation",
        is_flag=True,
        expose_value=False,
        callback=keep,
        help="Exit 1 and write nothing unless the window is saturated: no new connection in "
        "its last quarter (at least 1 h) and under 1% estimated chance that the next "
        "connection is new (SUMMARY.md's first line says which; see docs/window.md).",
    )(command)
    return click.option(
        "--min-window",
        default=None,
        metavar="DURATION",
        expose_value=False,
        callback=keep,
        help="Exit 1 and write nothing when the flows span less than this (first to last "
        "record of the connections), e.g. 6h, 2d, 1w: a weekly job needs a week.",
    )(command)


def _read_errors():
    from .ingest import InputError
    from .netpol.model import PolicyError

    return (InputError, PolicyError, OSError)


def _engine_options(command):
    """``--engine`` and ``--scheduler`` (ingest, recommend, verify)."""
    command = click.option(
        "--scheduler",
        "scheduler",
        default=None,
        metavar="ADDRESS",
        help="Dask scheduler of --engine dask (default: $DASK_SCHEDULER_ADDRESS, else a "
        "local cluster of one process per CPU).",
    )(command)
    return click.option(
        "--engine",
        "engine",
        type=click.Choice(["local", "dask"]),
        default="local",
        show_default=True,
        help="Where reading and connection aggregation run: this machine, or Dask tasks "
        "(pip install 'netpol-recommender[dask]'; docs/scale.md). Same output either way.",
    )(command)


def _engine(engine: str, scheduler: str | None):
    """The Dask engine when chosen (None: the local one)."""
    if engine == "local":
        if scheduler is not None:
            raise click.UsageError("--scheduler needs --engine dask")
        return None
    from .ingest.dask_engine import DaskEngine

    return DaskEngine(scheduler)


def _vpc_fields_option(command):
    """The ``--vpc-fields`` option (ingest, recommend, verify)."""
    return click.option(
        "--vpc-fields",
        "vpc_fields",
        default=None,
        metavar="FIELDS",
        help="AWS VPC Flow Logs in a custom format without a header line (CloudWatch Logs "
        "messages, Kinesis or Firehose payloads, text exported from a log group): the flow "
        "log's LogFormat field list, e.g. 'version interface-id srcaddr dstaddr srcport "
        "dstport protocol packets bytes start end action log-status', or its AWS form "
        "'${version} ${srcaddr} ...'. A header line in a file still wins.",
    )(command)


def _vpc_fields(text: str | None) -> tuple[str, ...] | None:
    """``--vpc-fields`` as field names; bad usage (exit 2, one line) when it is none."""
    if text is None:
        return None
    from .ingest.aws_vpc import parse_log_format

    try:
        return parse_log_format(text)
    except ValueError as exc:
        _fail(f"--vpc-fields: {exc}")
    return None


#: One kubectl call that yields every object ``--inventory`` reads.
INVENTORY_KUBECTL = (
    "kubectl get pods,namespaces,nodes,services,endpointslices,replicasets,jobs -A -o json"
)

_INVENTORY_HELP = (
    "kubectl JSON (the command is below), repeatable: full pod labels, named container "
    "ports, the pods that were quiet during the window, and the nodes and Service backends "
    "that bare addresses belong to."
)

#: The INPUT and --inventory paragraphs of every command's help; one line per format of
#: ``recommender.ingest.FORMATS`` (tests/test_cli.py checks they agree). ``\b`` keeps
#: click from re-wrapping the lists.
_INPUT_HELP = f"""\
\b
INPUT is any mix of files, directories and .gz files, in these formats
(detected per file; --format NAME overrides):
  hubble: Cilium Hubble, `hubble observe -o json` lines or exporter files
  calico-ee: Calico Enterprise / Cloud flow logs, Elasticsearch exports
  calico-goldmane: Calico OSS Goldmane and Whisker flows
  aws-vpc: AWS VPC Flow Logs (S3 files, CloudWatch, Kinesis, Firehose)
  antrea: Antrea Flow Aggregator / Theia records
  ig-legacy: Inspektor Gadget `trace network` events
  ig-trace-tcp: Inspektor Gadget `trace_tcp` events
  generic: CSV or Parquet with the documented columns
  parquet: Parquet written by `netpol-recommender ingest`

\b
JSON may be one object per line, pretty-printed (`-o jsonpretty`, `jq .`)
or objects back to back. `-` reads standard input once, as it arrives:
  hubble observe -o json --last 10000 | netpol-recommender recommend - -o out

\b
An INPUT may also be an fsspec URL: s3://bucket/flows/, gs://..., file://...
(a prefix or glob reads every file under it; docs/scale.md).

\b
--inventory reads the output of (one snapshot or several):
  {INVENTORY_KUBECTL}
"""


def _with_input_help(text: str | None) -> str:
    """A command's docstring plus the INPUT and --inventory paragraphs; dedented first,
    since click dedents the whole help at once and an appended unindented paragraph would
    stop it."""
    return inspect.cleandoc(text or "") + "\n\n" + _INPUT_HELP


class _Guarded(click.Group):
    """Unexpected errors end in one line, not a traceback (NETPOL_DEBUG=1 shows it)."""

    def __call__(self, *args, **kwargs):
        """The process entry (the console script, ``python -m recommender.cli``; click's test
        runner calls ``main.main`` instead): one command, then the process ends. The cyclic
        GC stays off throughout, as the stages with large heaps already keep it
        (:mod:`recommender.gc_pause`), and the heap is frozen at the end, so the full
        collection at interpreter exit skips it: the process's memory goes back to the
        system at exit either way, and atexit handlers still run. Together 0.1 s of CPU of a
        100-record ``recommend`` (most of it that last collection), 0.6 s at 600 workloads,
        with the same peak memory."""
        gc.disable()
        try:
            return super().__call__(*args, **kwargs)
        finally:
            gc.freeze()

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:  # a bug in the tool, never a user error: say so
            if os.environ.get("NETPOL_DEBUG"):
                raise
            _fail(
                f"internal error: {type(exc).__name__}: {exc} "
                "(please report it; NETPOL_DEBUG=1 shows the traceback)"
            )


@click.group(
    cls=_Guarded,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="netpol-recommender")
def main() -> None:
    """Turn observed Kubernetes flow logs into minimal, least-privilege NetworkPolicies,
    each proposal proven against the flows it came from.

    \b
    Typical use:
      netpol-recommender recommend flows/ -o proposal/
      netpol-recommender ingest flows/*.json.gz -o flows.parquet
      netpol-recommender verify --policies proposal/policies flows.parquet
    """


@main.command(short_help="Normalize flow logs into one Parquet table.")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Parquet file to write (atomically); with --engine dask, a dataset directory. "
    "May be an fsspec URL (s3://bucket/flows.parquet; docs/scale.md).",
)
@click.option(
    "--inventory",
    "inventory",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="kubectl JSON (the command is below), repeatable: bare IPs become pods, nodes "
    "or the backends of a Service before the flows are written.",
)
@click.option("--format", "fmt", default=None, help="Input format, instead of auto-detection.")
@_vpc_fields_option
@click.option("--progress/--no-progress", default=None, help="Force the progress bar on or off.")
@_engine_options
def ingest(
    inputs: tuple[str, ...],
    output: str,
    inventory: tuple[str, ...],
    fmt: str | None,
    vpc_fields: str | None,
    progress: bool | None,
    engine: str,
    scheduler: str | None,
) -> None:
    """Normalize flow logs into one Parquet table (the schema in recommender/schema.py).

    Prints how many records were read, normalized, rejected and filtered, by reason.
    """
    from .pipeline import normalize

    fields = _vpc_fields(vpc_fields)
    try:
        with _progress(inputs, "ingest", progress) as update:
            run = normalize(
                inputs,
                output,
                format=fmt,
                inventory=inventory,
                vpc_fields=fields,
                progress=update,
                engine=_engine(engine, scheduler),
            )
    except _read_errors() as exc:
        _fail(str(exc))
    _print_counts(run.counts)
    if run.enrichment is not None:
        for outcome, n in sorted(run.enrichment.to_dict()["endpoints"].items()):
            click.echo(f"  inventory {n:>8}  {outcome}", err=True)
        for outcome, n in sorted(run.enrichment.orientation.items()):
            click.echo(f"  oriented  {n:>8}  {outcome}", err=True)
    click.echo(f"wrote {run.rows} flow records to {output}")


ingest.help = _with_input_help(ingest.help)


def _print_counts(counts) -> None:
    click.echo(
        f"records: read {counts.read}, normalized {counts.normalized}, "
        f"rejected {counts.rejected_total}, filtered {counts.filtered_total}",
        err=True,
    )
    for reason, n in sorted(counts.rejected.items()):
        click.echo(f"  rejected  {n:>8}  {reason}", err=True)
    for reason, n in sorted(counts.filtered.items()):
        click.echo(f"  filtered  {n:>8}  {reason}", err=True)
    for example in counts.examples[:5]:
        click.echo(f"  e.g. {example}", err=True)


@main.command(short_help="Propose NetworkPolicies proven against the flows.")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory for policies/, SUMMARY.md and report.json.",
)
@click.option(
    "--namespace",
    "namespaces",
    multiple=True,
    metavar="NS",
    help="Propose policies only for this namespace (repeatable). Default: every "
    "namespace with observed pods except system namespaces (kube-system, kube-public, "
    "kube-node-lease, calico-system, tigera-operator, cilium*, ...), which only a "
    "--namespace naming them opts in.",
)
@click.option(
    "--inventory",
    "inventory",
    multiple=True,
    type=click.Path(dir_okay=False),
    help=_INVENTORY_HELP,
)
@click.option(
    "--generalize",
    type=click.Choice(["exact", "role"]),
    default="exact",
    show_default=True,
    help="exact: workloads share a policy only when that allows nothing new; role: "
    "workloads with similar traffic may share one, within --breadth-budget.",
)
@click.option(
    "--breadth-budget",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="With --generalize role: how many unobserved (source, destination, port) "
    "pairs the merges may allow in total.",
)
@click.option(
    "--named-ports",
    is_flag=True,
    help="Write a port by its container port name when every destination pod names "
    "it alike (needs --inventory).",
)
@click.option(
    "--cidr-budget",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Aggregate external addresses into CIDRs admitting at most N unobserved "
    "addresses each (default: exact /32 and /128).",
)
@click.option(
    "--min-flows",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Leave out connections seen fewer times (listed in SUMMARY.md as left out).",
)
@click.option(
    "--min-age",
    default=None,
    metavar="DURATION",
    help="Leave out connections observed over a shorter span than this, e.g. 30m, "
    "6h, 2d (listed in SUMMARY.md as left out).",
)
@click.option(
    "--allow-node-sources",
    is_flag=True,
    help="Admit the node addresses observed as sources (exact ipBlocks): traffic that a "
    "LoadBalancer or NodePort SNATs on another node arrives from that node's address and "
    "is otherwise at risk. A pod's own node (kubelet probes) needs no rule.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Exit 1 and write nothing when any observed traffic is at risk (denied by the "
    "proposal outside the coverage figure: replies, unknown orientation, ICMP, peers "
    "NetworkPolicy cannot state, other nodes, ...).",
)
@_window_options
@click.option(
    "--output-kind",
    type=click.Choice(["networkpolicy", "calico-staged", "calico", "cilium"]),
    default="networkpolicy",
    show_default=True,
    help="What the policy files are: networkpolicy (networking.k8s.io/v1); calico-staged "
    "(the same as Calico StagedKubernetesNetworkPolicies, to watch before enforcing); calico "
    "(projectcalico.org/v3 NetworkPolicies, tier default; --staged: StagedNetworkPolicies); "
    "cilium (CiliumNetworkPolicies, FQDN egress by default). Every kind is re-read by its "
    "own reader and replayed before anything is written.",
)
@click.option(
    "--staged",
    is_flag=True,
    help="With --output-kind calico: StagedNetworkPolicies (stagedAction: Set), which enforce "
    "nothing until promoted; SUMMARY.md gives the one-line promote step.",
)
@click.option(
    "--baseline",
    type=click.Choice(["cluster-network-policy", "baseline-admin-network-policy"]),
    default=None,
    help="One cluster-scoped default-deny with DNS instead of a default-deny per namespace: "
    "a ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha2, tier Baseline) or a "
    "BaselineAdminNetworkPolicy (v1alpha1), for clusters that run that API.",
)
@click.option(
    "--external",
    type=click.Choice(["fqdn", "cidr"]),
    default=None,
    help="Egress to external destinations the logs name: by DNS name (toFQDNs, with the DNS "
    "proxy rule; default for cilium, which alone can state it) or by address (default for "
    "the other kinds; SUMMARY.md lists the names behind each address).",
)
@click.option(
    "--existing",
    "existing_paths",
    multiple=True,
    type=click.Path(exists=True),
    help="Policies already in place (file or directory, repeatable): propose only what "
    "they lack; the proof runs over both. Hand-written objects are never changed.",
)
@click.option(
    "--write-into",
    "write_into_dir",
    default=None,
    type=click.Path(exists=True, file_okay=False),
    metavar="DIR",
    help="Also write the proposal into this policy repository, following its layout: a "
    "changed managed object back into its own file, new objects into new files named "
    "alike; hand-written files are never touched, nothing is deleted. DIR is read as "
    "--existing too.",
)
@click.option("--format", "fmt", default=None, help="Input format, instead of auto-detection.")
@_vpc_fields_option
@click.option("--progress/--no-progress", default=None, help="Force the progress bar on or off.")
@_engine_options
def recommend(
    inputs: tuple[str, ...],
    output: str,
    namespaces: tuple[str, ...],
    inventory: tuple[str, ...],
    generalize: str,
    breadth_budget: int,
    named_ports: bool,
    cidr_budget: int | None,
    min_flows: int,
    min_age: str | None,
    allow_node_sources: bool,
    strict: bool,
    output_kind: str,
    staged: bool,
    baseline: str | None,
    external: str | None,
    existing_paths: tuple[str, ...],
    write_into_dir: str | None,
    fmt: str | None,
    vpc_fields: str | None,
    progress: bool | None,
    engine: str,
    scheduler: str | None,
) -> None:
    """Propose NetworkPolicies from observed flows, verify them, and write them.

    \b
    Every observed connection is replayed through an independent NetworkPolicy
    evaluator: if any would be denied, nothing is written and the command exits 1.
    In another --output-kind (Calico, Cilium, a cluster --baseline) the files are
    re-read by that kind's own reader and replayed the same way before writing.

    \b
    The first lines say how much observed traffic is at risk: traffic the coverage
    figure does not judge (replies, records of unknown direction, ICMP, peers
    NetworkPolicy cannot state, node sources from other nodes, ...) that the
    proposal would deny; --strict refuses any. Then coverage and breadth (what
    the proposal allows that was never observed).

    \b
    System namespaces (kube-system, the CNI's) get no policy unless named with
    --namespace.
    """
    from .options import SynthesisOptions
    from .pipeline import observe, propose

    out_kind = _output_kind(output_kind, staged, baseline, external)
    options = SynthesisOptions(
        external=out_kind.external,
        generalize=generalize,
        breadth_budget=breadth_budget,
        named_ports=named_ports,
        cidr_budget=cidr_budget,
        min_flows=min_flows,
        min_age=_duration(min_age) if min_age else None,
        allow_node_sources=allow_node_sources,
    )
    fields = _vpc_fields(vpc_fields)
    existing_paths = _with_repo(existing_paths, write_into_dir)
    try:
        with _progress(inputs, "reading", progress) as update:
            observation = observe(
                inputs,
                format=fmt,
                inventory=inventory,
                vpc_fields=fields,
                progress=update,
                engine=_engine(engine, scheduler),
            )
        existing = _load_existing(existing_paths)
        rec = propose(observation, options, namespaces=namespaces or None, existing=existing)
    except _read_errors() as exc:
        _fail(str(exc))
    _print_recommendation(rec, with_inventory=bool(inventory))
    _refuse_unless_proven(rec, strict)
    _refuse_short_window(rec.window)
    _write(rec, out_kind, existing, observation, output, write_into_dir)


def _load_existing(paths: tuple[str, ...]):
    """The --existing policies, read (None without any: only then does the module load)."""
    if not paths:
        return None
    from .existing import load_existing

    return load_existing(paths)


def _write(rec, out_kind, existing, observation: Observation, output: str, repo: str | None):
    """The files in their kind, proven by their round trip, written into the repository
    (--write-into), the tightening of the existing policies, then the output directory."""
    from .generate.kinds import render_files
    from .proposal import write_proposal

    files = render_files(rec, out_kind)
    rendered = None if out_kind.is_default else _prove_rendered(rec, files, existing, out_kind)
    written = _write_into(rec, repo, files)
    tightened = None if existing is None else _tighten_existing(existing, observation, output)
    write_proposal(
        rec,
        output,
        output=out_kind,
        files=files,
        rendered=rendered,
        written_into=written,
        tightening=tightened,
    )
    _print_written(Path(output), existing is not None and not rec.policies, written, repo)


def _output_kind(kind: str, staged: bool, baseline: str | None, external: str | None):
    """The output options, checked before anything is read (exit 2 on a combination that
    cannot be written); --external defaults to fqdn for cilium, cidr otherwise."""
    from .generate.kinds import OutputKind, OutputKindError

    try:
        return OutputKind(
            kind, staged, baseline, external or ("fqdn" if kind == "cilium" else "cidr")
        )
    except OutputKindError as exc:
        _fail(str(exc))


def _print_written(out: Path, nothing: bool, written: list[str] | None, repo: str | None) -> None:
    """Where the proposal went (or that there was nothing to propose)."""
    if nothing:
        click.echo(f"nothing to propose (summary: {out / 'SUMMARY.md'})")
        return
    if written is not None:
        click.echo(f"{len(written)} file(s) written into {repo} (see git diff there)")
    click.echo(
        f"proposal written to {out / 'policies'} "
        f"(summary: {out / 'SUMMARY.md'}, report: {out / 'report.json'}, "
        f"picture: {out / 'graph.svg'})"
    )


def _with_repo(existing_paths: tuple[str, ...], repo: str | None) -> tuple[str, ...]:
    """The --existing paths, with the --write-into repository read too: the fit must know
    every object there, or a new name could land on a hand-written one."""
    if repo is None or any(Path(p).resolve() == Path(repo).resolve() for p in existing_paths):
        return existing_paths
    return (*existing_paths, repo)


def _tighten_existing(existing, observation: Observation, out: str) -> int:
    """With --existing: the proven tightening proposals of the existing policies, written to
    OUT/tighten/ for review, never applied (as ``verify --tighten`` writes them); returns
    how many, for the changes table of SUMMARY.md."""
    from .pipeline import check

    try:
        run = check(existing.policies, observation, notes=existing.notes)
    except _read_errors() as exc:
        _fail(str(exc))
    return _write_tightening(run, observation, out)


def _prove_rendered(rec, files, existing, out_kind):
    """The files as written, re-read by their kind's reader and replayed (the round trip):
    one line of figures; exit 1, nothing written, when they deny what the proposal allows."""
    from .pipeline import check_rendered
    from .report import rendered_report

    try:
        run = check_rendered(rec, files, existing.policies if existing is not None else ())
    except _read_errors() as exc:
        _fail(f"the {out_kind.kind} files do not read back: {exc}", 1)
    doc = rendered_report(rec, out_kind, run)
    breadth = "not measured" if doc["breadth"] is None else f"{doc['breadth']}"
    click.echo(
        f"{out_kind.kind} files re-read and replayed: coverage {run.coverage * 100:.2f}% "
        f"({run.covered}/{run.judged} connections), breadth {breadth}"
        + ("" if doc["same_as_proposal"] else "; differs: " + "; ".join(doc["differences"]))
    )
    if run.covered < rec.covered or len(run.unjudged):
        for row in run.denied.head(20).itertuples(index=False):
            click.echo(f"  denied: {row.reasons}", err=True)
        _fail(
            f"verification failed: the {out_kind.kind} files deny observed connections the "
            "proposal allows; nothing was written",
            1,
        )
    return run


def _write_into(rec, repo: str | None, files) -> list[str] | None:
    """The files --write-into wrote into the repository (None without it)."""
    if repo is None:
        return None
    from .write_into import WriteIntoError, write_into

    try:
        return write_into(rec, repo, files)
    except WriteIntoError as exc:
        _fail(f"--write-into {repo}: {exc}")
    return None


def _print_recommendation(rec, *, with_inventory: bool) -> None:
    """At risk first, then the record counts, the one-line figures, hints and warnings."""
    at_risk = rec.at_risk
    for line in at_risk.lines() if at_risk is not None else ():
        click.echo(line, err=True)
    _print_counts(rec.counts)
    public = rec.public_rules
    click.echo(
        f"coverage {rec.coverage * 100:.2f}% ({rec.covered}/{rec.judged} connections), "
        f"at risk {at_risk.connections if at_risk is not None else 0}, "
        f"breadth in-cluster {rec.breadth.in_cluster}, external {rec.breadth.external_addresses}"
        + (f" ({public} rule{'s' if public != 1 else ''} open to the internet)" if public else "")
        + f", {len(rec.policies)} policies",
        err=True,
    )
    bare = rec.observation.unresolved_connections
    if bare and not with_inventory:
        click.echo(
            f"hint: {bare} connections have an end known only by its address; "
            f"--inventory ({INVENTORY_KUBECTL}) turns addresses into pods and nodes",
            err=True,
        )
    if rec.judged == 0 and rec.counts.normalized:
        click.echo(
            "warning: no connection could be built from these records; "
            "see the reasons above and in SUMMARY.md",
            err=True,
        )
        for reason, n in sorted(rec.excluded.items()):
            click.echo(f"  not a rule {n:>8}  {reason}", err=True)


def _refuse_unless_proven(rec, strict: bool) -> None:
    """Exit 1 before anything is written: an observed connection denied, or (--strict)
    anything at risk."""
    if rec.covered < rec.judged:
        for row in rec.denied.head(20).itertuples(index=False):
            click.echo(f"  denied: {row.reasons}", err=True)
        _fail(
            "verification failed: the proposal would deny observed connections; "
            "nothing was written",
            1,
        )
    if strict and rec.at_risk is not None and rec.at_risk.total:
        _fail(
            f"--strict: {rec.at_risk.connections} observed connection(s) at risk (see above); "
            "nothing was written",
            1,
        )


def _refuse_short_window(window) -> None:
    """Exit 1 before anything is written: the window shorter than --min-window, or
    (--require-saturation) not saturated (the options as :func:`_window_options` kept them)."""
    from .window import duration_text

    meta = click.get_current_context().meta
    asked, shortest = meta.get("window.min_window") or (None, None)
    if shortest is not None and window.span < shortest:
        _fail(
            f"--min-window {asked}: the flows span only "
            f"{duration_text(window.span)}; observe longer; nothing was written",
            1,
        )
    if meta.get("window.require_saturation") and not window.saturated:
        _fail(f"--require-saturation: {window.verdict}; nothing was written", 1)


recommend.help = _with_input_help(recommend.help)


@main.command(short_help="Replay flows against existing policies: what would break?")
@click.option(
    "--policies",
    "policies_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="Directory of NetworkPolicy YAML (searched recursively; multi-document "
    "files and List objects are read; Calico StagedKubernetesNetworkPolicies are judged "
    "as if promoted; other kinds ignored with a note).",
)
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("--format", "fmt", default=None, help="Input format, instead of auto-detection.")
@_vpc_fields_option
@click.option(
    "--inventory",
    "inventory",
    multiple=True,
    type=click.Path(dir_okay=False),
    help=_INVENTORY_HELP,
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
@click.option(
    "--strict",
    is_flag=True,
    help="Also exit 1 when observed traffic is at risk: denied by the policies outside the "
    "coverage figure (replies, unknown orientation, ICMP, other nodes, ...).",
)
@click.option(
    "--tighten",
    "tighten_dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Write a tighter replacement for each policy with unused or unbounded rules to "
    "DIR/tighten/<ns>/<name>.yaml, with DIR/tighten/proof.json (never applied).",
)
@click.option(
    "--graph",
    "graph_file",
    default=None,
    type=click.Path(dir_okay=False),
    help="Write a picture (SVG) of the observed traffic to FILE: workloads by namespace, "
    "edges the policies allow, deny (red) or cannot judge (dotted), at-risk traffic (dashed).",
)
@_engine_options
def verify(
    policies_dir: str,
    inputs: tuple[str, ...],
    inventory: tuple[str, ...],
    fmt: str | None,
    vpc_fields: str | None,
    as_json: bool,
    strict: bool,
    tighten_dir: str | None,
    engine: str,
    scheduler: str | None,
    graph_file: str | None = None,
) -> None:
    """Replay observed flows against a directory of policies: what breaks if we enforce it?

    Prints the observed connections that would be denied, grouped by (source,
    destination, port): internet and other address sources collapse into one line with
    their count and covering CIDRs; each group counts pod pairs and flows and says what the
    isolating policies do admit. Then the rules no breadth figure can bound (no from/to,
    0.0.0.0/0, namespaceSelector {}, no egress isolation), policies that select no known
    pod, and coverage, breadth and the node/kubelet sources exempted.

    The first lines say how much observed traffic is at risk: traffic the coverage figure
    does not judge (replies, records of unknown direction, ICMP, node sources from other
    nodes, peers NetworkPolicy cannot state, ...) that the policies would deny.

    Exit 0: nothing observed is denied; 1: something would be denied (run it in CI on a
    policy pull request), or with --strict anything is at risk; 2: bad usage, unreadable
    input, a malformed policy or an --inventory that is not kubectl output.

    --tighten DIR writes, for each policy with rules that carried nothing or admit a whole
    kind of peer, a replacement (unused rules dropped, unbounded peers replaced by the peers
    observed through them), proven to deny no observed connection; stderr lists them.
    """
    import json

    from .pipeline import check, observe
    from .policy_files import load_policies
    from .validate import printable
    from .verify_report import headline_lines, report_lines

    try:
        policies, notes = load_policies(policies_dir)
        observation = observe(
            inputs,
            format=fmt,
            inventory=inventory,
            vpc_fields=_vpc_fields(vpc_fields),
            engine=_engine(engine, scheduler),
        )
        run = check(policies, observation, notes=notes)
    except _read_errors() as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(run.to_dict(), indent=2, sort_keys=True))
    else:
        for line in headline_lines(run):
            click.echo(line)
        for note in run.notes:
            click.echo(f"note: {printable(note)}", err=True)
        _print_counts(run.counts)
        for line in report_lines(run):
            click.echo(line)
    if tighten_dir is not None:
        _write_tightening(run, observation, tighten_dir)
    if graph_file is not None:
        _write_graph(run, graph_file)
    sys.exit(0 if run.passed and not (strict and run.at_risk_records) else 1)


verify.help = _with_input_help(verify.help)


def _write_graph(run: VerifyRun, path: str) -> None:
    """``verify --graph FILE``: the replay's picture, written atomically; one stderr line."""
    from .proposal import write_atomic

    write_atomic(Path(path), run.graph_svg())
    click.echo(f"graph written to {path}", err=True)


def _write_tightening(run: VerifyRun, observation: Observation, out: str) -> int:
    """``verify --tighten``: the replacements and their proof, one stderr line each;
    returns how many replacements were written."""
    from .tighten import tighten, write_tightening
    from .validate import printable
    from .verify_report.words import plural

    result = tighten(run, observation)
    write_tightening(result, out)
    for t in result.proposals:
        changes = [f"dropped {', '.join(t.dropped)}"] if t.dropped else []
        changes += [f"narrowed {', '.join(t.narrowed)}"] if t.narrowed else []
        click.echo(
            printable(
                f"tighten: {Path(out) / t.path}: {'; '.join(changes)}; "
                f"breadth {t.breadth_before} -> {t.breadth_after}"
            ),
            err=True,
        )
    click.echo(
        f"tighten: {plural(len(result.proposals), 'replacement')}; proof: {result.broken} of "
        f"{result.allowed_before} allowed observed connections denied "
        f"({Path(out) / 'tighten' / 'proof.json'})",
        err=True,
    )
    return len(result.proposals)


#: ``explain`` exit codes by verdict (bad usage or unreadable input: 2, as everywhere).
EXPLAIN_EXIT = {"ALLOWED": 0, "DENIED": 1, "UNJUDGED": 3}


@main.command(short_help="Why one connection is allowed or denied, rule by rule.")
@click.argument("src", metavar="SRC")
@click.argument("dst", metavar="DST")
@click.argument("port", metavar="PORT[/PROTO]")
@click.option(
    "--policies",
    "policies_dir",
    required=True,
    type=click.Path(exists=True),
    help="Directory (or file) of policy YAML of any kind verify reads: NetworkPolicy, "
    "Cilium, Calico (with its Tiers), AdminNetworkPolicy, BaselineAdminNetworkPolicy, "
    "ClusterNetworkPolicy.",
)
@click.option(
    "--inventory",
    "inventory",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="kubectl JSON, repeatable: every pod with its full labels and container ports, "
    f"and the namespaces' labels. Made by: {INVENTORY_KUBECTL}",
)
@click.option(
    "--flows",
    "flows",
    multiple=True,
    metavar="INPUT",
    help="Flow logs (any format recommend reads), repeatable: the pods and labels they "
    "show. With --inventory, the inventory's labels and ports win.",
)
@click.option(
    "--dns-name",
    "names",
    multiple=True,
    metavar="NAME",
    help="A DNS name the address DST was reached by, repeatable: what Cilium toFQDNs and "
    "AdminNetworkPolicy domainNames peers are judged on.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
def explain(
    src: str,
    dst: str,
    port: str,
    policies_dir: str,
    inventory: tuple[str, ...],
    flows: tuple[str, ...],
    names: tuple[str, ...],
    as_json: bool,
) -> None:
    """Explain why SRC may or may not open a connection to DST on PORT[/PROTO], under the
    policies of --policies: the verdict first, then the source's egress and the
    destination's ingress, each policy that selects the pod (tier, order) and each of its
    rules, with whether its peer and port match and why not, and what decided.

    \b
    SRC, DST  namespace/pod, namespace/workload (every pod of it), or an
              IPv4/IPv6 address (a known pod's address is that pod)
    PORT      1-65535, or a container port name of the destination pod;
              /TCP (the default), /UDP or /SCTP, in any case

    Pod labels come from --inventory and/or --flows (one of them is needed). Pod pairs
    whose explanations read the same are explained once.

    \b
    Example:
      netpol-recommender recommend flows/ -o proposal
      netpol-recommender explain shop/frontend data/postgres 5432 \\
          --policies proposal/policies --flows flows/

    \b
    Exit status: 0 ALLOWED (every pod pair); 1 DENIED (some pair is denied);
    3 UNJUDGED (none denied, but a rule the evaluator cannot judge, e.g. L7,
    decides some pair); 2 bad usage, an unknown name, unreadable input or a
    malformed policy. 0 and 1 mean what they mean for verify.
    """
    import json

    from .explain import explain_connection
    from .explain_endpoints import ExplainError, parse_port
    from .explain_pods import known_pods
    from .explain_text import explanation_lines
    from .netpol.evaluator import Evaluator
    from .netpol.read import compile_objects
    from .policy_files import load_policies
    from .validate import printable

    try:
        query = parse_port(port)
        objects, notes = load_policies(policies_dir)
        compiled, read_notes = compile_objects(objects)
        pods = known_pods(inventory, flows)
        result = explain_connection(Evaluator(compiled), pods, src, dst, query, names=names)
    except (ExplainError, *_read_errors()) as exc:
        _fail(printable(str(exc)))
    for note in [*notes, *read_notes]:
        click.echo(f"note: {printable(note)}", err=True)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    else:
        click.echo("\n".join(explanation_lines(result)))
    sys.exit(EXPLAIN_EXIT[result.verdict])


if __name__ == "__main__":  # pragma: no cover
    main()
