"""One module per kind of measurement: spec → result record, no I/O and no printing.

- `cell`: the output and gradient ratios of one (law setting, L) for every β (`run`, `sweep`, `phase`);
- `sample`: the weights of a law against its theory (`sample`);
- `adjoint`: memory-free backpropagation (reverse Euler / Heun) against depth (`adjoint`), with
  `memory`, the peak-memory meter.
"""
