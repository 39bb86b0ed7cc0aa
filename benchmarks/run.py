"""Speed and memory figures for regimen, each as a ratio measured in one run, printed beside its target.

    python benchmarks/run.py            # all four figures (the 1M-patient scaling run takes about a minute)
    python benchmarks/run.py --quick    # scaling at 10k / 100k only

1. start-up: cold 'regimen expand cenersen-arm3 --weight 70 --bsa 1.8 --age 45' in a new process, against
   'python -c "import pint"' (median of several runs each)                                       target <= 1.5x
2. cohort: 'regimen cohort cenersen-arm3 roster.csv -o out.csv' for 100,000 patients (a new process, wall time),
   against pandas alone reading that roster and writing a frame of the output's shape to CSV (a new process;
   the time to build that frame is not counted)                                                   target <= 2x
3. memory: peak RSS of that cohort run, against the output frame's size in memory (the output CSV read back by
   pandas with its default dtypes, memory_usage(deep=True))                                       target <= 3x
4. scaling: cohort wall time at 10k / 100k / 1M patients; linear = a fixed start-up plus a constant cost per
   patient, so the marginal cost per patient of 100k -> 1M is compared with that of 10k -> 100k    target ~1x

Rosters are synthetic and reproducible (seed 1): weight to 0.1 kg, BSA to 0.01 m², age in whole years, a start
date in 2026, as clinical records hold them. Timing is never asserted in the test suite.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable
BIN = Path(PY).parent / "regimen"
REGIMEN = [str(BIN)] if BIN.exists() else [PY, "-m", "regimen"]


def make_roster(n: int, path: Path) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    pd.DataFrame(
        {
            "patient_id": [f"P{i:07d}" for i in range(n)],
            "weight_kg": np.round(rng.normal(75, 15, n).clip(35, 200), 1),
            "bsa_m2": np.round(rng.normal(1.85, 0.2, n).clip(1.2, 2.8), 2),
            "age": rng.integers(18, 90, n),
            "start_date": (pd.Timestamp("2026-01-05") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")).strftime(
                "%Y-%m-%d"
            ),
        }
    ).to_csv(path, index=False)


def wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def peak_rss(cmd: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS in bytes) of ``cmd`` run in a fresh child of a fresh process."""
    probe = (
        "import resource, subprocess, sys, time, json; t = time.perf_counter(); "
        "subprocess.run(json.loads(sys.argv[1]), check=True, stdout=subprocess.DEVNULL, "
        "stderr=subprocess.DEVNULL); w = time.perf_counter() - t; "
        "print(w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)"
    )
    out = subprocess.run([PY, "-c", probe, json.dumps(cmd)], check=True, capture_output=True, text=True).stdout
    seconds, rss = out.split()
    return float(seconds), int(rss)


BASELINE = """
import sys, time
import pandas as pd
t0 = time.perf_counter()
roster = pd.read_csv(sys.argv[1])
t1 = time.perf_counter()
template = pd.read_csv(sys.argv[2], nrows=200)  # real output rows, tiled to the output's row count
rows = int(sys.argv[3])
frame = template.iloc[[i % len(template) for i in range(rows)]].reset_index(drop=True)
t2 = time.perf_counter()
frame.to_csv(sys.argv[4], index=False)
t3 = time.perf_counter()
print((t1 - t0) + (t3 - t2), t2 - t1)
"""


def start_up(repeats: int) -> tuple[float, float]:
    cmd = [*REGIMEN, "expand", "cenersen-arm3", "--weight", "70", "--bsa", "1.8", "--age", "45"]
    wall(cmd)  # warm the file cache (and pint's definition cache) once; every timed run is a new process
    ours = statistics.median(wall(cmd) for _ in range(repeats))
    pint = statistics.median(wall([PY, "-c", "import pint"]) for _ in range(repeats))
    return ours, pint


def cohort_run(n: int, folder: Path) -> dict[str, float]:
    roster = folder / f"roster-{n}.csv"
    out = folder / f"out-{n}.csv"
    make_roster(n, roster)
    seconds, rss = peak_rss([*REGIMEN, "cohort", "cenersen-arm3", str(roster), "-o", str(out), "--no-progress"])
    return {"n": n, "seconds": seconds, "rss": rss, "roster": str(roster), "out": str(out)}  # type: ignore[dict-item]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="scaling at 10k and 100k only")
    parser.add_argument("--repeats", type=int, default=7, help="start-up runs per command (median)")
    args = parser.parse_args()
    import pandas as pd

    rows: list[tuple[str, str, str, str]] = []
    ours, pint = start_up(args.repeats)
    rows.append(
        (
            "1 start-up: regimen expand / import pint",
            f"{ours * 1000:.0f} ms / {pint * 1000:.0f} ms",
            f"{ours / pint:.2f}x",
            "<= 1.5x",
        )
    )

    with tempfile.TemporaryDirectory(prefix="regimen-bench-") as tmp:
        folder = Path(tmp)
        sizes = [10_000, 100_000] + ([] if args.quick else [1_000_000])
        runs = {n: cohort_run(n, folder) for n in sizes}
        main_run = runs[100_000]
        out_rows = sum(1 for _ in open(main_run["out"], encoding="utf-8")) - 1
        base_out = folder / "baseline.csv"
        base = subprocess.run(
            [PY, "-c", BASELINE, str(main_run["roster"]), str(main_run["out"]), str(out_rows), str(base_out)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        base_io = float(base[0])
        rows.append(
            (
                "2 cohort 100k: regimen cohort / pandas read+write",
                f"{main_run['seconds']:.2f} s / {base_io:.2f} s",
                f"{main_run['seconds'] / base_io:.2f}x",
                "<= 2x",
            )
        )
        frame_bytes = int(pd.read_csv(main_run["out"]).memory_usage(deep=True).sum())
        rows.append(
            (
                "3 memory 100k: peak RSS / output frame in memory",
                f"{main_run['rss'] / 2**20:.0f} MiB / {frame_bytes / 2**20:.0f} MiB",
                f"{main_run['rss'] / frame_bytes:.2f}x",
                "<= 3x",
            )
        )
        for n in sizes:
            rows.append(
                (f"4 scaling {n:>9,} patients: wall time (incl. ~1 s start-up)", f"{runs[n]['seconds']:.2f} s", "", "")
            )
        # linear means a fixed start-up plus a constant cost per patient: compare the marginal costs
        marginal = [(a, b, (runs[b]["seconds"] - runs[a]["seconds"]) / (b - a)) for a, b in itertools.pairwise(sizes)]
        for a, b, cost in marginal:
            rows.append(
                (
                    f"4 scaling {a:,} -> {b:,}: marginal µs per patient, vs 10k -> 100k",
                    f"{cost * 1e6:.1f} µs",
                    f"{cost / marginal[0][2]:.2f}x",
                    "~1x (linear)",
                )
            )
        rows.append(("  output rows at 100k", f"{out_rows:,}", "", ""))

    width = [max(len(r[i]) for r in rows) for i in range(4)]
    head = ("figure", "measured", "ratio", "target")
    print("  ".join(h.ljust(w) for h, w in zip(head, width, strict=True)))
    print("  ".join("-" * w for w in width))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, width, strict=True)))
    print(f"\npython {sys.version.split()[0]}, pandas {pd.__version__}, command: {' '.join(REGIMEN)}")


if __name__ == "__main__":
    main()
