#!/usr/bin/env bash
# Mutation testing of rscale's core modules with mutmut 3 (configured in pyproject.toml).
# Not part of CI (hours on 2 cores for every module). Usage:
#   bash scripts/mutation.sh                               # every core module
#   bash scripts/mutation.sh "resnet_scale_cli.grids*"     # mutants whose names match
# Prints the score per module: killed / (killed + survived); timeouts count as killed,
# mutants no test reaches ("no tests") as survivors. Survivors are listed for docs/testing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import mutmut" 2>/dev/null || { echo "mutation.sh: pip install 'mutmut>=3.8,<4' first" >&2; exit 2; }
mutmut run --max-children "${MUTMUT_CHILDREN:-2}" "$@" >&2 || true
mutmut results --all true | python scripts/mutation_score.py
