#!/usr/bin/env bash
# Regenerates every figure of docs/ with the commands the docs show (about 4 minutes on 2 cores).
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
tmp=$(mktemp -d)
rscale train --config sample_configs/train/rbf.toml --json -q > $tmp/rbf.json
rscale train --config sample_configs/train/iid.toml --plot $tmp/train_iid.png --json -q > $tmp/iid.json
cp $tmp/train_iid_weights.png $img/train_iid_weights.png
rscale train --config sample_configs/train/tied.toml --plot $img/train.png --compare $tmp/rbf.json --compare $tmp/iid.json -q > /dev/null
rm -r "$tmp"
rscale inspect examples/blocks.py:pre_ln_mlp --width 32 --depth 100,300,1000 --beta 0:1:11 --samples 32 --seed 0 \
  --plot $img/inspect_pre_ln_phase.png --plot-profiles $img/inspect_pre_ln_profiles.png -q > /dev/null
runs=$(mktemp -d)
for net in resnet heunnet; do for law in iid rbf; do
  rscale adjoint --config sample_configs/adjoint/heunnet_rbf.toml --net $net --law $law --json -q > "$runs/$net-$law.json"
done; done
python -c 'import json, sys; from resnet_scale_cli.report.figures_adjoint import plot_adjoint
plot_adjoint([json.load(open(f)) for f in sys.argv[2:]], sys.argv[1])' $img/adjoint.png \
  "$runs/resnet-iid.json" "$runs/resnet-rbf.json" "$runs/heunnet-iid.json" "$runs/heunnet-rbf.json"
for c in iid rbf tied fbm; do rscale limit --config sample_configs/limit/$c.toml --plot $img/limit_$c.png -q > /dev/null; done
echo "figures written to $img"
python docs/architecture_figure.py > /dev/null
