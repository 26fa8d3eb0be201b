"""The issue-15 mutation campaign: N mutants (default 1000) of the small ONNX / TFLite seeds and the
MLPerf Tiny int8 models through `mcuforge compile`, every accepted library built with ASan + UBSan
and run on extreme inputs against the golden model. Prints the count per outcome class, per seed
format and in total, and every mutant in a bad class (internal, broken, sanitizer, mismatch,
leftover, hang).

    MCUFORGE_MLPERF_TINY=/path/to/mlperf-tiny python benchmarks/fuzz.py -n 1000
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "compiler"))


def main():
    from fuzz.harness import BAD, run_campaign
    from fuzz.seeds import mlperf_seeds, small_seeds
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=1000, help="number of mutants")
    ap.add_argument("--seed", type=int, default=15, help="random seed of the campaign")
    ap.add_argument("--no-build", action="store_true", help="compile only (no sanitized host build)")
    ap.add_argument("--build-every", type=int, default=1, help="build every k-th accepted library")
    ap.add_argument("--only", choices=["onnx", "tflite"], help="one format only")
    args = ap.parse_args()
    seeds = small_seeds() + mlperf_seeds()
    if args.only:
        seeds = [s for s in seeds if s.suffix == "." + args.only]
    print(f"seeds: {', '.join(s.name for s in seeds)}", flush=True)
    t0 = time.time()
    per_format: dict[str, Counter] = {}
    total = Counter()
    bad = []
    with tempfile.TemporaryDirectory(prefix="mcf_fuzz_") as tmp:
        # one campaign per format keeps the counts apart; mutants are spread round robin over seeds
        for fmt in (".onnx", ".tflite"):
            group = [s for s in seeds if s.suffix == fmt]
            if not group:
                continue
            n = round(args.n * len(group) / len(seeds))
            camp = run_campaign(group, n, Path(tmp) / fmt[1:], seed=args.seed, build=not args.no_build,
                                build_every=args.build_every,
                                log=lambda m: print("  BAD " + m, flush=True))
            per_format[fmt] = camp.counts
            total.update(camp.counts)
            bad += camp.bad
        leftovers = [p.name for p in Path(tmp).rglob(".*") if p.is_dir() and p.name != "objcache"]
    classes = ["refused", "accepted"] + list(BAD)
    print(f"\n{'format':<8}" + "".join(f"{c:>11}" for c in classes) + f"{'total':>8}")
    for fmt, counts in per_format.items():
        print(f"{fmt[1:]:<8}" + "".join(f"{counts[c]:>11}" for c in classes) + f"{sum(counts.values()):>8}")
    print(f"{'all':<8}" + "".join(f"{total[c]:>11}" for c in classes) + f"{sum(total.values()):>8}")
    print(f"\n{sum(total.values())} mutants in {time.time() - t0:.0f} s; bad: {len(bad)}; "
          f"stray hidden folders: {len(leftovers)}")


if __name__ == "__main__":
    main()
