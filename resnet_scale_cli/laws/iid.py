"""i.i.d. across depth: entries Gaussian N(0, 1), Rademacher ±1 or uniform on [−√3, √3]."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.values import LAW as LAW_PANEL, Choice, Setting
from resnet_scale_cli.laws.base import DISTS, Law, into
from resnet_scale_cli.laws.references import PAPER, QUANTITY_TEXT, Limit, Reference

if TYPE_CHECKING:
    import numpy as np


def sampler(depth: int, settings: dict[str, Any], dtype, device):
    import torch

    dist = settings["dist"]
    if dist not in DISTS:
        raise SpecError(f"--dist: unknown value {dist!r}; choose from {', '.join(DISTS)}")

    def draw(n_paths: int, gen, out=None) -> "torch.Tensor":
        shape = (depth, n_paths)
        if dist == "gaussian":
            return into(out, torch.randn(shape, generator=gen, dtype=dtype, device=device))
        if dist == "rademacher":
            bits = torch.randint(0, 2, shape, generator=gen, device=device)
            return into(out, (2 * bits - 1).to(dtype))
        u = torch.rand(shape, generator=gen, dtype=dtype, device=device)
        return into(out, (2.0 * u - 1.0) * math.sqrt(3.0))

    return draw


def autocorrelation(lags: np.ndarray, depth: int, settings: dict[str, Any]) -> np.ndarray:
    """δ_{k,0}: independent across depth."""
    import numpy as np

    return (lags == 0).astype(np.float64)


def references(quantity: str, model: str, activation: str, settings: dict[str, Any], predict) -> Reference:
    """Critical β = 1/2: a theorem for the full ReLU model (Marion et al.), else the first-order
    argument (independent increments add up like L^{1/2−β})."""
    what = QUANTITY_TEXT[quantity]
    if model == "full" and activation == "relu":
        return Reference(0.5, "theorem", f"theorem for the {what}: → 0 in probability for β > 1/2, → ∞ for "
                         "β < 1/2, bounded at β = 1/2; i.i.d. symmetric sub-Gaussian entries, full model "
                         "V σ(W h) with ReLU", PAPER)
    return Reference(0.5, "first-order", f"first-order scaling argument for the {what}: increments independent "
                     "across depth add up like L^{1/2−β}, the product of layers like exp(c L^{1−2β}); the "
                     f"theorem is stated for the full ReLU model, not for {model} with {activation}")


#: the neural SDE at β = 1/2; E‖H_{k/L} − h_k‖ ≤ C/√L (Marion et al., an upper bound), and 1/2 is
#: also the order reached: the strong order of Euler–Maruyama for non-commutative noise
SDE = Limit("sde", 0.5, "β = 1/2 (the neural SDE)", "dH = dB σ(H), B a d×d Brownian motion with entry variance t/d",
            "Euler–Maruyama with V_k = √L (B_{k/L} − B_{(k−1)/L})",
            "Euler–Maruyama on a grid r·L finer, driven by the same B refined by Brownian bridges", 0.5, (0.5, 0.5),
            "theorem (upper bound C/√L, Marion et al.; strong order 1/2 of Euler–Maruyama)", ("simple", "linear"))


def limit(settings: dict[str, Any]) -> Limit | str:
    """The neural SDE, for Gaussian entries (the increments of a Brownian path to refine)."""
    if settings["dist"] != "gaussian":
        return (f"--dist {settings['dist']}: a pathwise comparison needs Gaussian weights (increments of a Brownian "
                "path to refine); other i.i.d. entries reach the same SDE only in law")
    return SDE


#: the setting this law adds to a spec
DIST = Setting(Choice(DISTS), "iid entry law.", "gaussian", panel=LAW_PANEL, name="dist")

LAW = Law("iid", "i.i.d. across depth (gaussian | rademacher | uniform)", ("dist",), sampler, autocorrelation,
          parameters=(DIST,), references=references, limit=limit, smoothness=0.0, independent=True)
