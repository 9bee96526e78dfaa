"""One module per kind of measurement: spec → result record, no I/O and no printing.

- `protocol`: what every grid command is (`Experiment`: cells, measure, summarize, cost) and
  `measure`, which runs one; `registry`: the experiments by command name (`EXPERIMENTS`), with
  `run_sweep` and `progress_total` for the built-in grid;
- `cell`: the output and gradient ratios of one (law setting, L) for every β (`run`, `sweep`, `phase`);
- `sample`: the weights of a law against its theory (`sample`);
- `training` (`training_spec`, `training_engine`, `training_passes`): trained ResNets against depth (`train`);
- `inspect_block` (`inspect_spec`, `inspect_block_stack`): a user's residual block (`inspect`);
- `adjoint`: memory-free backpropagation (reverse Euler / Heun) against depth (`adjoint`), with
  `memory`, the peak-memory meter;
- `limit`: the distance to the continuous-depth limit against L (`limit`);
- `spectrum`: the singular values of ∂h_L/∂h_0 (`spectrum`).
"""
