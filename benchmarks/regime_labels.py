"""False-label rate of the regime reading over seeds: i.i.d. weights, where theory fixes every label.

    python benchmarks/regime_labels.py                     # d = 16 with 8 draws and d = 40 with 32 draws, 20 seeds
    python benchmarks/regime_labels.py --sizes 16x8 --seeds 5

Per seed: `rscale phase --law iid --depth 100,300,1000 --beta 0.25,0.5,1 --width d --samples n
--seed s` (one input per draw, full ReLU model, output and gradient ratios), read by
`analysis.analyze`. Theory (Marion et al., i.i.d. sub-Gaussian weights) says β = 1/4 explodes,
β = 1/2 is critical and β = 1 tends to the identity, for both ratios; so the counts need no
labelling function of their own: a label "explosion" or "identity" at β = 1/2 is a false label,
any label but "explosion" at β = 1/4 (and but "identity" at β = 1) a lost one. For comparison the
previous point reading (slope > 0.05 explosion, < −0.05 identity, else stable) is applied to the
same slopes. Prints a table per size, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEPTHS = (100, 300, 1000)
BETAS = (0.25, 0.5, 1.0)
THEORY = {0.25: "explosion", 0.5: "stable", 1.0: "identity"}
POINT_TAU = 0.05


def point_label(slope: float | None) -> str:
    """The point reading the interval rule replaced: the slope alone against ±0.05."""
    if slope is None or slope > POINT_TAU:
        return "explosion"
    return "identity" if slope < -POINT_TAU else "stable"


def label_counts(width: int, draws: int, seeds: range, *, gradients: bool = True) -> dict[str, Any]:
    """Counts of each label per ratio and β over the seeds (interval reading and point reading),
    and the seeds whose β = 1/2 label is explosion or identity."""
    from resnet_scale_cli.analysis import analyze
    from resnet_scale_cli.spec import RunSpec
    from resnet_scale_cli.sweep.grid import SweepSpec
    from resnet_scale_cli.experiments.registry import run_sweep

    counts: dict[str, dict[str, Counter]] = {}
    false_seeds: dict[str, list[int]] = {}
    for seed in seeds:
        base = RunSpec(law="iid", width=width, samples=draws, betas=BETAS, gradients=gradients, seed=seed, device="cpu")
        (entry,) = analyze(run_sweep(SweepSpec(base, DEPTHS, ())), seed=seed)
        readings = {"output": entry} | ({"gradient": entry["gradient"]} if gradients else {})
        for ratio, info in readings.items():
            for reg in info["regimes"]:
                for reading, label in (("interval", reg["regime"]), ("point", point_label(reg["slope"]))):
                    key = f"{ratio} {reading}"
                    counts.setdefault(key, {}).setdefault(f"{reg['beta']:g}", Counter())[label] += 1
                    if reading == "interval" and reg["beta"] == 0.5 and label in ("explosion", "identity"):
                        false_seeds.setdefault(ratio, []).append(seed)
    return {"width": width, "draws": draws, "seeds": len(seeds), "depths": list(DEPTHS),
            "counts": {k: {b: dict(c) for b, c in v.items()} for k, v in counts.items()},
            "false_at_critical": false_seeds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="16x8,40x32", help="width x draws, comma separated")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--no-gradients", action="store_true")
    args = parser.parse_args()
    results = []
    for size in args.sizes.split(","):
        width, draws = (int(v) for v in size.split("x"))
        got = label_counts(width, draws, range(args.seeds), gradients=not args.no_gradients)
        results.append(got)
        print(f"d = {width}, {draws} draws, {args.seeds} seeds, L = {DEPTHS}")
        for key, per_beta in got["counts"].items():
            cells = "; ".join(f"β = {b}: " + ", ".join(f"{n} {lab}" for lab, n in sorted(c.items()))
                              for b, c in per_beta.items())
            print(f"  {key:18s} {cells}")
        print(f"  seeds with explosion/identity at β = 1/2 (interval reading): {got['false_at_critical']}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
