"""Read `mutmut results --all true` on stdin; print a fixed-seed random sample of mutant names,
at most N per module (every mutant of a module with N or fewer), one per line.

The sample is drawn from all mutants of a module whatever their status, so the share killed in
it estimates the module's score without bias (scripts/mutation_score.py gives its interval)."""

from __future__ import annotations

import argparse
import collections
import random
import re
import sys

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--per-module", type=int, required=True, help="N: most mutants sampled per module")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

by_module: dict[str, list[str]] = collections.defaultdict(list)
for line in sys.stdin:
    found = re.match(r"\s*(([\w.]+?)\.x[_ǁ]?\w*__mutmut_\d+):", line)
    if found:
        by_module[found.group(2)].append(found.group(1))
rng = random.Random(args.seed)
for module in sorted(by_module):
    names = sorted(by_module[module])
    for name in (names if len(names) <= args.per_module else sorted(rng.sample(names, args.per_module))):
        print(name)
