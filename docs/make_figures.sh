#!/usr/bin/env bash
# Regenerates every figure of docs/ with the commands the docs show (about 3 minutes on 2 cores,
# and about 3 more of CPU for the four `rscale limit` figures).
set -euo pipefail
cd "$(dirname "$0")/.."
img=docs/img
rscale run --law iid --depth 1000 --beta 0:1:5 --samples 64 --plot $img/run_iid.png -q > /dev/null
rscale sample --law fbm --hurst 0.2 --depth 1000 --plot $img/sample_fbm_h02.png -q > /dev/null
rscale sample --config sample_configs/fig6_fbm_paths.toml --plot $img/fig6_fbm_paths.png -q > /dev/null
rscale sweep --config sample_configs/fig1_iid_curves.toml --plot $img/fig1_iid_curves.png -q > /dev/null
rscale sweep --config sample_configs/fig2_histogram.toml --plot-hist $img/fig2_histogram.png -q > /dev/null
rscale phase --law iid --plot $img/phase_iid.png -q > /dev/null
rscale phase --hurst 0.7 --plot $img/phase_fbm_h07.png -q > /dev/null
rscale phase --law rbf --plot $img/phase_rbf.png -q > /dev/null
rscale phase --config sample_configs/fig7_phase_heatmap.toml --plot $img/fig7_phase_heatmap.png -q > /dev/null
for c in iid rbf tied fbm; do rscale limit --config sample_configs/limit/$c.toml --plot $img/limit_$c.png -q > /dev/null; done
echo "figures written to $img"
