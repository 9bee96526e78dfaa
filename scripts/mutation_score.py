"""Read `mutmut results --all true` on stdin; print the score per module and the survivors."""

from __future__ import annotations

import collections
import re
import sys

KILLED = {"killed", "timeout", "segfault"}
SURVIVED = {"survived", "no tests", "suspicious"}

counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
survivors: list[str] = []
for line in sys.stdin:
    found = re.match(r"\s*([\w.]+?)\.x[_ǁ]?\w*__mutmut_\d+:\s*(.+?)\s*$", line) or re.match(r"\s*([\w.]+?)\.\w+__mutmut_\d+:\s*(.+?)\s*$", line)
    if not found:
        continue
    module, status = found.group(1), found.group(2)
    counts[module][status] += 1
    if status in SURVIVED:
        survivors.append(line.strip())

print(f"{'module':45s} {'killed':>7s} {'survived':>9s} {'other':>6s} {'score':>7s}")
total_k = total_s = 0
for module in sorted(counts):
    c = counts[module]
    k = sum(c[s] for s in KILLED)
    s = sum(c[s] for s in SURVIVED)
    other = sum(c.values()) - k - s
    total_k, total_s = total_k + k, total_s + s
    score = f"{100 * k / (k + s):.1f} %" if k + s else "—"
    print(f"{module:45s} {k:7d} {s:9d} {other:6d} {score:>7s}")
if total_k + total_s:
    print(f"{'all':45s} {total_k:7d} {total_s:9d} {'':6s} {100 * total_k / (total_k + total_s):.1f} %")
print(f"\nsurvivors ({len(survivors)}):")
for line in survivors:
    print("  " + line)
