"""The registry of gradient methods: how p_0 = (∂h_L/∂h_0)ᵀ p_L is obtained. Importing it does not
import torch; the cell (`experiments.cell`) runs the method it names."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GradientMethod:
    name: str
    summary: str
    exact: bool


GRAD_METHODS: dict[str, GradientMethod] = {
    "auto": GradientMethod("auto", "reverse, or tangent when --probes is given", True),
    "reverse": GradientMethod("reverse", "exact reverse pass (σ' stored, or recomputed from checkpoints)", True),
    "tangent": GradientMethod("tangent", "tangents pushed forward: d basis probes (exact) or --probes N (unbiased)", True),
    "autograd": GradientMethod("autograd", "plain PyTorch backpropagation (the cross-check; overflows like floats do)", True),
}
