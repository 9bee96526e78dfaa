"""Check files with `command = "adjoint"`, `"limit"` or `"train"`: the depth grid of `rscale adjoint`
(errors of memory-free backprop ∝ N^(−rate)), `rscale limit` (distance to the continuous-depth
limit ∝ L^(−rate)) or `rscale train --limit-reference` (distance of the trained nets to the trained
reference ∝ L^(−rate): rates `limit_weights`, `limit_states`, theory 1 for tied/rbf), guarded in CI by
`rate` expectations on the fitted rates:

    command = "adjoint"            # or "limit"; the other keys are those of that command's --config
    net = "heunnet"
    law = "rbf"
    depth = [16, 32, 64, 128]
    [[expect]]
    type = "rate"
    rate = "activation_error"      # adjoint: activation_error, gradient_error, input_gradient_error,
                                   #          smoothness_delta; limit: distance_max, distance_final
    reference = "bound"            # adjoint: the paper's bound rate must lie at or below the interval's top
    min = 1.5                      # and/or bounds on the estimate

A bound (adjoint; Sander et al., Props. 4–6) is met when the interval's upper end reaches it: a
measured rate may beat a bound. A theory rate (limit; strong orders of the schemes) is met when
it lies inside the interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resnet_scale_cli.checks.experiment_grid import ExperimentGrid
from resnet_scale_cli.experiments.registry import EXPERIMENTS
from resnet_scale_cli.laws import LAWS

#: keys the two commands' check files may hold beyond those of run/sweep/phase (their specs'
#: fields; listed so that parsing a check file does not import torch — a test keeps them in step)
#: the law parameters those specs take: every registered law's but the fGn sampler's choice
_LAW_KEYS = frozenset(s.name for law in LAWS.values() for s in law.parameters) - {"fbm_backend"}
RATE_COMMAND_KEYS = {
    "adjoint": _LAW_KEYS | {"activation", "batch", "beta", "depths", "device", "dtype", "law", "memory_gb", "model",
                            "net", "samples", "seed", "width"},
    "limit": _LAW_KEYS | {"activation", "beta", "depths", "device", "dtype", "law", "memory_gb", "model", "refinement",
                          "samples", "seed", "width"},
    "train": _LAW_KEYS | {"activation", "backprop", "batch_size", "beta", "data", "data_seed", "depth_seeds", "depths",
                          "device", "dtype", "hidden", "input_dim", "law", "limit_reference", "lr", "lr_scaling",
                          "memory_gb", "model", "n_examples", "n_test", "net", "noise", "optimizer", "output_dim",
                          "samples", "seed", "steps", "track_points", "v_init", "width"},
}
#: the fits each command's document reports: adjoint under `rates`, limit at the top level
RATES = {"adjoint": ("activation_error", "gradient_error", "input_gradient_error", "smoothness_delta"),
         "limit": ("distance_max", "distance_final"),
         "train": ("limit_weights", "limit_states")}  # train: the `limit` block of --limit-reference
RATE_TYPES = ("rate",)


@dataclass(frozen=True)
class RateSweep(ExperimentGrid):
    """An `AdjointSpec` or `LimitSpec` (`base`) as the grid of a check file. Its `critical` is
    the list of the document's rate fits, one entry per quantity (`{"quantity", "estimate",
    "interval", "bound" | "theory", …}`)."""

    base: Any
    command: str
    expectation_types: tuple[str, ...] = RATE_TYPES
    parameter: str | None = None
    params: tuple[float, ...] = ()

    @property
    def depths(self) -> tuple[int, ...]:
        return tuple(self.base.depths)

    @property
    def width_grid(self) -> tuple[int, ...]:
        return (self.base.width,)

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.command, **self.base.to_dict()}

    def critical(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        summary = EXPERIMENTS[self.command].summarize(self.base, records)
        if self.command == "train":
            summary = {"rates": {f"limit_{q}": fit for q, fit in summary["limit"]["rates"].items()}}
        fits = summary["rates"] if self.command in ("adjoint", "train") else {q: summary[k] for q, k in
                                                                     (("distance_max", "rate"), ("distance_final", "rate_final"))}
        return [{**(fits.get(q) or {"estimate": None, "interval": None}), "quantity": q} for q in RATES[self.command]]


def rate_sweep(settings: dict[str, Any]) -> RateSweep:
    """The grid of a check file's settings with `command = "adjoint"` or `"limit"` (keys as in that
    command's `--config`)."""
    from resnet_scale_cli.settings import build_experiment_spec

    command = settings.pop("command")
    if command == "adjoint":
        from resnet_scale_cli.experiments.adjoint import AdjointSpec as Spec
    elif command == "train":
        from resnet_scale_cli.errors import SpecError
        from resnet_scale_cli.experiments.training_spec import TrainSpec as Spec

        if settings.get("limit_reference", settings.get("limit-reference")) is None:
            raise SpecError("--limit-reference: a check of command \"train\" checks the rates of the trained limit; "
                            "set limit_reference")
    else:
        from resnet_scale_cli.experiments.limit import LimitSpec as Spec
    spec, _ = build_experiment_spec(Spec, None, settings, aliases={"depth": "depths"}, outputs=())
    return RateSweep(spec, command)
