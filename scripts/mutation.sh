#!/usr/bin/env bash
# Mutation testing of rscale's core modules with mutmut 3 (configured in pyproject.toml).
# Not part of CI (hours on 2 cores for every mutant). Usage:
#   bash scripts/mutation.sh                               # every mutant of every core module
#   bash scripts/mutation.sh --sample 80 [--seed 0]        # a fixed-seed random sample of at most
#                                                          # 80 mutants per module (all of smaller ones)
#   bash scripts/mutation.sh "resnet_scale_cli.grids*"     # mutants whose names match
# Prints the score per module: killed / (killed + survived) over the mutants checked, with a 95 %
# interval where a module was sampled; timeouts count as killed, mutants no test reaches
# ("no tests") as survivors. Survivors are listed for docs/development/ (testing.md and the
# mutation_survivors_*.md tables). MUTMUT_CHILDREN sets the number of parallel mutants (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import mutmut" 2>/dev/null || { echo "mutation.sh: pip install 'mutmut>=3.8,<4' first" >&2; exit 2; }
children="${MUTMUT_CHILDREN:-2}"
sample="" seed=0 patterns=()
while [ $# -gt 0 ]; do
    case "$1" in
        --sample) sample="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        *) patterns+=("$1"); shift ;;
    esac
done
if [ -n "$sample" ]; then
    [ -d mutants ] || python scripts/mutation_generate.py "$children" >&2
    mapfile -t names < <(mutmut results --all true | python scripts/mutation_sample.py --per-module "$sample" --seed "$seed")
    echo "mutation.sh: ${#names[@]} mutants sampled (at most $sample per module, seed $seed)" >&2
    patterns=("${names[@]}")
fi
mutmut run --max-children "$children" "${patterns[@]}" >&2 || true
mutmut results --all true | python scripts/mutation_score.py
