"""The floor under issue 13's targets: what this machine costs before our code does anything.

    python benchmarks/floor.py [--data DIR] [--gb 0.4] [--repeat 3] [--peer]

Issue 13 asks for start-up under 0.5 s (point 1) and for a whole ``recommend`` at least 4x
faster than hubble-audit2policy on a one-namespace capture of about 400 MB (point 4). Two
floors bound what any program on the mandated stack can reach on this machine:

* **Start-up**: a fresh interpreter that only imports what every run needs (``pandas``, with
  numpy and pyarrow; ``click``; ``msgspec``), best wall seconds of ``--repeat``.
* **Decoding**: CPU seconds to decode every line of the capture and do nothing else:
  ``json.loads`` (the standard library, what the peer calls per line); ``msgspec`` into the
  fast parser's own typed record (``fast_hubble.RECORD``, what ours decodes before its work);
  ``msgspec`` into a record of the two addresses only (every other byte skipped: the least a
  validating JSON decoder called from Python does); and pyarrow's C++ JSON reader with an
  explicit schema of the fields the parser reads, on every CPU. The least of them spread over
  the CPUs, plus the start-up floor, is the least a whole process can take.

``--peer`` runs hubble-audit2policy (benchmark-only: ``pip install hubble-audit2policy``) and
our ``recommend`` on the same records, best of ``--repeat``, and prints the ratio each floor
would allow beside the 4x target. The capture is benchmarks/scale.py's (``--gb 0.4``, kept in
``--data``). Figures, not assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (ROOT, HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from scale import big_inputs, peer_command, single_file, whole_peer, whole_process  # noqa: E402
from startup import AS_THE_CLI  # noqa: E402

#: What every ``recommend`` run imports from outside the standard library.
MANDATED = "import pandas, click, msgspec"
#: Issue 13's targets: point 1's start-up, point 4's factor over the peer.
STARTUP_TARGET = 0.5
PEER_FACTOR = 4.0


def import_seconds(code: str, repeat: int) -> float:
    """Best wall seconds of a fresh interpreter running ``code`` as the CLI's process runs
    (benchmarks/startup.py's ``AS_THE_CLI``), bytecode cached."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    command = [sys.executable, "-c", AS_THE_CLI.format(code)]
    subprocess.run(command, check=True, env=env)  # writes any missing bytecode; not measured
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, env=env)
        best = min(best, time.perf_counter() - start)
    return best


def lines(files: list[Path]) -> Iterator[bytes]:
    """Every non-blank line of the capture's files."""
    for path in files:
        with open(path, "rb") as f:
            for line in f:
                if line.strip():
                    yield line


def decode_seconds(files: list[Path], decode: Callable[[bytes], object]) -> tuple[float, int]:
    """CPU seconds ``decode`` takes over every line (reading them is not counted), and lines."""
    cpu, count = 0.0, 0
    for path in files:
        chunk = list(lines([path]))
        start = time.process_time()
        for line in chunk:
            decode(line)
        cpu += time.process_time() - start
        count += len(chunk)
    return cpu, count


class Addresses(msgspec.Struct):
    """A line's two addresses: every other byte is skipped."""

    source: str | None = None
    destination: str | None = None


class AddressFlow(msgspec.Struct):
    IP: Addresses | None = None


class AddressLine(msgspec.Struct):
    flow: AddressFlow | None = None


def msgspec_decoders() -> dict[str, Callable[[bytes], object]]:
    """The two ``msgspec`` decoders: the parser's own record, and the addresses alone."""
    from recommender.ingest.fast_hubble import RECORD

    return {
        "msgspec, fast_hubble.RECORD": msgspec.json.Decoder(RECORD).decode,
        "msgspec, addresses only": msgspec.json.Decoder(AddressLine).decode,
    }


def arrow_seconds(files: list[Path]) -> tuple[float, float]:
    """pyarrow's multi-threaded JSON reader over the files: (wall, CPU seconds)."""
    import pyarrow as pa
    import pyarrow.json as pj

    side = pa.struct(
        [
            ("namespace", pa.string()),
            ("pod_name", pa.string()),
            ("labels", pa.list_(pa.string())),
            ("identity", pa.int64()),
            ("workloads", pa.list_(pa.struct([("name", pa.string()), ("kind", pa.string())]))),
        ]
    )
    ports = pa.struct([("source_port", pa.int64()), ("destination_port", pa.int64())])
    flow = pa.struct(
        [
            ("time", pa.string()),
            ("verdict", pa.string()),
            ("IP", pa.struct([("source", pa.string()), ("destination", pa.string())])),
            ("l4", pa.struct([("TCP", ports), ("UDP", ports)])),
            ("source", side),
            ("destination", side),
            ("Type", pa.string()),
            ("node_name", pa.string()),
            ("traffic_direction", pa.string()),
            ("is_reply", pa.bool_()),
            ("trace_observation_point", pa.string()),
        ]
    )
    options = pj.ParseOptions(
        explicit_schema=pa.schema([("flow", flow)]), unexpected_field_behavior="ignore"
    )
    wall, cpu = time.perf_counter(), time.process_time()
    for path in files:
        pj.read_json(path, parse_options=options)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="keep the generated capture here (re-used when present)")
    parser.add_argument("--gb", type=float, default=0.4, help="size of the capture in GB")
    parser.add_argument("--repeat", type=int, default=3, help="runs per whole-process figure")
    parser.add_argument("--peer", action="store_true", help="run the peer and ours too")
    args = parser.parse_args()
    cpus = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(args.data) if args.data else Path(scratch)
        [(_, folder)] = big_inputs([args.gb], data)
        files = sorted(p for p in folder.iterdir() if p.is_file())
        size = sum(p.stat().st_size for p in files)
        print(f"{cpus} CPUs, load average {os.getloadavg()[0]:.2f}; capture: {folder}")
        startup = import_seconds(MANDATED, args.repeat)
        print(f"start-up floor ({MANDATED}): {startup:.3f} s (target {STARTUP_TARGET} s)")
        print(
            f"  python alone: {import_seconds('pass', args.repeat):.3f} s,"
            f" import pandas: {import_seconds('import pandas', args.repeat):.3f} s"
        )
        floors = {"json.loads (stdlib)": decode_seconds(files, json.loads)[0]}
        count = 0
        for name, decode in msgspec_decoders().items():
            floors[name], count = decode_seconds(files, decode)
        wall, cpu = arrow_seconds(files)
        floors["pyarrow.json, explicit schema"] = cpu
        print(f"decoding {count:,} lines, {size / 1e6:,.0f} MB (CPU seconds; / {cpus} CPUs):")
        for name, seconds in floors.items():
            print(
                f"  {name:<32} {seconds:7.2f} s  {seconds / count * 1e6:6.2f} us/line"
                f"  {size / seconds / 1e6:6.0f} MB/s per CPU"
            )
        print(f"  (pyarrow.json wall: {wall:.2f} s)")
        least = startup + min(floors.values()) / cpus
        print(f"least whole process: {least:.2f} s (start-up floor + fastest decode / CPUs)")
        if args.peer and peer_command():
            peer, _ = whole_peer(single_file(folder), Path(scratch) / "peer", args.repeat)
            ours, _ = whole_process(folder, Path(scratch) / "ours", args.repeat)
            print(
                f"peer {peer:.2f} s, ours {ours:.2f} s: {peer / ours:.2f}x;"
                f" {PEER_FACTOR:g}x needs {peer / PEER_FACTOR:.2f} s;"
                f" the floor allows at most {peer / least:.2f}x"
            )
        elif args.peer:
            print("hubble-audit2policy is not installed: no peer figures")


if __name__ == "__main__":
    main()
