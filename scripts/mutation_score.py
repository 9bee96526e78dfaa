"""Read `mutmut results --all true` on stdin; print the score per module and the survivors.

Score = killed / (killed + survived) over the mutants checked (timeouts and segfaults count as
killed, "no tests" and "suspicious" as survived). Where only a sample of a module's mutants was
checked (`scripts/mutation.sh --sample N`) the score is an estimate: the table gives its 95 %
Wilson interval, and the overall estimate weights each module by its number of mutants."""

from __future__ import annotations

import argparse
import collections
import math
import re
import sys

KILLED = {"killed", "timeout", "segfault"}
SURVIVED = {"survived", "no tests", "suspicious"}


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial proportion k/n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--only", help="a file of mutant names (one per line, the sample): score only those")
args = parser.parse_args()
only = set(open(args.only).read().split()) if args.only else None
totals: collections.Counter = collections.Counter()  # mutants per module, sampled or not

counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
survivors: list[str] = []
for line in sys.stdin:
    found = re.match(r"\s*(([\w.]+?)\.x[_ǁ]?\w*__mutmut_\d+):\s*(.+?)\s*$", line) or re.match(r"\s*(([\w.]+?)\.\w+__mutmut_\d+):\s*(.+?)\s*$", line)
    if not found:
        continue
    name, module, status = found.group(1), found.group(2), found.group(3)
    totals[module] += 1
    if only is not None and name not in only:
        continue
    counts[module][status] += 1
    if status in SURVIVED:
        survivors.append(line.strip())

print(f"{'module':42s} {'mutants':>7s} {'checked':>7s} {'killed':>6s} {'survived':>8s} {'score':>7s}  95 % interval")
weighted = total_n = total_k = total_s = 0.0
for module in sorted(counts):
    c = counts[module]
    k = sum(c[s] for s in KILLED)
    s = sum(c[s] for s in SURVIVED)
    n = totals[module]
    if k + s == 0:
        print(f"{module:42s} {n:7d} {0:7d} {'':6s} {'':8s} {'—':>7s}")
        continue
    lo, hi = wilson(k, k + s)
    interval = "exact (all checked)" if k + s == n else "not all of the sample checked" if c["not checked"] else f"[{100 * lo:.1f}, {100 * hi:.1f}] %"
    print(f"{module:42s} {n:7d} {k + s:7d} {k:6d} {s:8d} {100 * k / (k + s):6.1f} %  {interval}")
    weighted += n * k / (k + s)
    total_n, total_k, total_s = total_n + n, total_k + k, total_s + s
if total_n:
    print(f"{'all (weighted by mutants per module)':42s} {int(total_n):7d} {int(total_k + total_s):7d} "
          f"{int(total_k):6d} {int(total_s):8d} {100 * weighted / total_n:6.1f} %")
print(f"\nsurvivors ({len(survivors)}):")
for line in survivors:
    print("  " + line)
