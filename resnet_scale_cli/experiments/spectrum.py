"""`rscale spectrum`: the singular values of the input–output Jacobian J_L = ∂h_L/∂h_0 across depth
and β, not one direction of it.

The gradient ratio looks at J_L along one vector. Here, per weight draw (its own input h_0, one
per draw), every singular value σ_1 ≥ … ≥ σ_d of J_L, in log2 and exact far past the float range
(`dynamics.lyapunov`: the engine's tangent pass with QR re-orthonormalization of the d tangents),
and those of J_L − I. Per (law setting, width, depth, β) the record holds, per sample (log10):

| quantity | per sample |
|---|---|
| log10_sigma_max, log10_sigma_min | log10 σ_1, log10 σ_d |
| log10_condition | log10 σ_1/σ_d |
| mean_log10_sigma | (1/d) Σ_i log10 σ_i = log10 |det J_L| / d |
| log10_rms_gain | ½ log10(‖J_L‖_F²/d): the root mean square of ‖J_L v‖ over unit v |
| log10_deviation | log10 σ_max(J_L − I) |
| log10_rms_deviation | ½ log10(‖J_L − I‖_F²/d) |
| lyapunov_top | (1/L) ln σ_1: the finite-depth top Lyapunov exponent estimate, per layer |

Exact reference (a theorem-grade identity, docs/science.md): for i.i.d. symmetric weights of
entry variance 1/d, independent across layers, and the linear model or the full model with a
piecewise-linear σ of slopes (a, b): for every unit v, at every d and L,
E‖J_L v‖² = (1 + c L^{−2β})^L with c = 1 (linear, identity σ), 1/2 (ReLU), (1 + a²)/2 (leaky);
so E ‖J_L‖_F²/d is the same and E ‖J_L − I‖_F²/d = (1 + c L^{−2β})^L − 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from resnet_scale_cli import fields as F
from resnet_scale_cli.errors import SpecError

if TYPE_CHECKING:
    import torch

    from resnet_scale_cli.resources import Need

#: per-sample quantities of a record's "values" (log10 unless named otherwise)
QUANTITIES = ("log10_sigma_max", "log10_sigma_min", "log10_condition", "mean_log10_sigma", "log10_rms_gain",
              "log10_deviation", "log10_rms_deviation", "lyapunov_top")
#: bins of the per-(cell, β) histogram of every sample's log10 σ_i
HIST_BINS = 40
LOG10_2 = math.log10(2.0)
LN_2 = math.log(2.0)


@dataclass(frozen=True)
@F.law_fields(order=("dist", "hurst"), exclude=("fbm_backend",), grid=True)
class SpectrumSpec(F.Spec):
    """Settings of `rscale spectrum`: a law (and a grid of its parameter), a model, grids of depths,
    β and widths, weight draws per cell (one input h_0 each), and the β of the histogram
    (None: the critical β read from σ_max(J_L − I), else 0.5)."""

    law: str = F.LAW_NAME.field()
    model: str = F.MODEL_NAME.field()
    activation: str = F.ACTIVATION.field()
    depths: tuple[int, ...] = F.DEPTHS.field()
    betas: tuple[float, ...] = F.BETAS.field()
    width: tuple[int, ...] = F.WIDTH.field(grid=True)
    samples: int = F.SAMPLES.field(32)
    seed: int = F.SEED.field()
    device: str = F.DEVICE.field()
    dtype: str = F.DTYPE.field("float64")
    memory_gb: float = F.MEMORY_GB.field()
    hist_beta: float | None = F.Setting(F.Real(0.0), "β of the histogram (nearest grid value).", panel=F.OUTPUT,
                                        none="the critical β of σ_max(J_L − I)").field()

    def __post_init__(self) -> None:
        F.check_fields(self)
        object.__setattr__(self, "depths", tuple(sorted(self.depths)))
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))

    @property
    def parameter(self) -> str | None:
        from resnet_scale_cli.laws import law_parameter

        return law_parameter(self.law)

    def settings(self) -> list[dict[str, Any]]:
        """One mapping per law setting: {"law", and its parameter's value when it has one}."""
        if self.parameter is None:
            return [{"law": self.law}]
        return [{"law": self.law, self.parameter: float(v)} for v in getattr(self, self.parameter)]

    def cell_law_settings(self, cell: dict[str, Any]) -> dict[str, Any]:
        """The law settings of one cell: a grid parameter at the cell's value, else its first."""
        return {k: float(cell.get(k, v[0])) if isinstance(v, tuple) else v for k, v in self.law_settings().items()}


# ----------------------------------------------------------------------------- cells
def spectrum_cells(spec: SpectrumSpec) -> list[dict[str, Any]]:
    """Every cell in grid order (law setting, width, depth), keyed like `sweep`'s cells: the width
    appears only when several are swept. A cell whose one draw does not fit `--memory-gb` or the
    free memory is refused first (`preflight`)."""
    several = len(spec.width) > 1
    cells = [{**setting, **({"width": w} if several else {}), "depth": int(L)}
             for setting in spec.settings() for w in spec.width for L in spec.depths]
    preflight(spec, cells)
    return cells


def _cell_width(spec: SpectrumSpec, cell: dict[str, Any]) -> int:
    return int(cell.get("width", spec.width[0]))


#: float64 d × d matrices per state in the QR step: Q and U kept, the tangent columns, Q', R̂ and C·U
QR_MATRICES = 6


def draw_bytes(spec: SpectrumSpec, depth: int, width: int) -> int:
    """The least memory of one draw at depth L, width d, with S = len(β) states (bytes):
    its weights m·L·d² (m = 2 for V and W of the full model, else 1) in the spec's dtype; the
    S·(d + 1) rows of d (states and their d tangents) of the engine pass, STATE_COPIES times;
    and QR_MATRICES float64 d × d matrices per state for the QR re-orthonormalization."""
    from resnet_scale_cli.dynamics import MODELS
    from resnet_scale_cli.resources import STATE_COPIES, itemsize, law_bytes

    size, states = itemsize(spec.dtype), len(spec.betas)
    weights = len(MODELS[spec.model].weights) * depth * width * width * size
    rows = STATE_COPIES * states * (width + 1) * width * size
    return weights + rows + QR_MATRICES * states * width * width * 8 + law_bytes(spec.law, depth)


def draw_need(spec: SpectrumSpec, cell: dict[str, Any]) -> "Need":
    """`draw_bytes` of a cell with its description (`resources.check_need`)."""
    from resnet_scale_cli.resources import Need, itemsize

    from resnet_scale_cli.dynamics import MODELS

    d, full = _cell_width(spec, cell), MODELS[spec.model].has_inner_weights
    return Need(draw_bytes(spec, cell["depth"], d), f"--depth {cell['depth']} --width {d}: one weight draw",
                f"{'V and W' if full else 'V'}: L·d² numbers of {itemsize(spec.dtype)} bytes each, the "
                f"{len(spec.betas)}·(d + 1) tangent rows and {QR_MATRICES}·{len(spec.betas)} float64 d×d QR matrices",
                "--depth or --width" + (", or use --model simple" if full else ""))


def preflight(spec: SpectrumSpec, cells: list[dict[str, Any]]) -> None:
    """Refuse (`SpecError`) the first cell whose one draw exceeds `--memory-gb` or the free memory."""
    from resnet_scale_cli.resources import available_bytes, check_need

    device = str(spec.torch_device())
    free = available_bytes(device)
    for cell in cells:
        check_need(draw_need(spec, cell), memory_gb=spec.memory_gb, device=device, available=free)


def draws_per_chunk(spec: SpectrumSpec, cell: dict[str, Any]) -> int:
    """Draws run together: as many as fit half of the memory budget (the bound of
    `experiments.cell`), at least one."""
    per_draw = draw_bytes(spec, cell["depth"], _cell_width(spec, cell))
    return max(1, min(spec.samples, int(spec.memory_gb * 2**29 // per_draw)))


def cell_cost(spec: SpectrumSpec, cell: dict[str, Any]) -> int:
    """Units of progress (layers, once per chunk of draws) one cell reports."""
    return cell["depth"] * math.ceil(spec.samples / draws_per_chunk(spec, cell))


def _stats(values) -> dict[str, float] | None:
    from resnet_scale_cli.metrics import summarize

    return summarize(values)


def _nan_to_none(rows) -> list:
    import numpy as np

    return [[None if not np.isfinite(v) else float(v) for v in row] for row in rows]


def measure_spectrum_cell(spec: SpectrumSpec, cell: dict[str, Any] | int,
                          progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """One cell (law setting, width, depth), every β: per-sample spectra of J_L as a JSON-ready
    record {"cell", "betas", "inputs_per_draw", "results" (statistics per β), "values" (per-sample,
    (β, samples)), "histograms" (per β), "info"}. Draws use the streams of `experiments.cell`
    (same weights and h_0 as `rscale run` at the same seed, law, width and depth)."""
    import numpy as np
    import torch

    from resnet_scale_cli import seeding
    from resnet_scale_cli.dynamics import ACTIVATIONS, MODELS
    from resnet_scale_cli.dynamics.lyapunov import jacobian_spectrum
    from resnet_scale_cli.dynamics.recursion import Network
    from resnet_scale_cli.laws.sampling import sample_weights

    if isinstance(cell, int):
        cell = {**spec.settings()[0], "depth": cell}
    depth, d = int(cell["depth"]), _cell_width(spec, cell)
    device, dtype = spec.torch_device(), spec.torch_dtype()
    key = (seeding.name_key(spec.law), d, depth)
    law_settings = spec.cell_law_settings(cell)
    betas = spec.betas
    scales = torch.tensor([depth ** (-b) for b in betas], dtype=torch.float64, device=device)
    chunk = draws_per_chunk(spec, cell)
    sig, dev, bad, segments, loss = [], [], [], None, 0.0
    with torch.no_grad():
        for first in range(0, spec.samples, chunk):
            draws = range(first, min(first + chunk, spec.samples))

            def gens(purpose: int) -> list[torch.Generator]:
                return [seeding.generator(spec.seed, key + (i, purpose), device) for i in draws]

            def weights(purpose: int) -> torch.Tensor:
                return sample_weights(spec.law, depth, d, gens(purpose), layer_major=True, dtype=dtype, device=device,
                                      **law_settings)

            net = Network(weights(seeding.WEIGHTS_V), weights(seeding.WEIGHTS_W) if MODELS[spec.model].has_inner_weights else None,
                          spec.model, ACTIVATIONS[spec.activation], layer_major=True)
            h0 = torch.stack([torch.randn((1, d), generator=g, dtype=dtype, device=device)
                              for g in gens(seeding.INPUTS)])
            out = jacobian_spectrum(net, h0.expand(-1, len(betas), -1).contiguous(), scales, progress=progress)
            sig.append(out.log2_sigma.cpu().numpy())
            dev.append(out.log2_dev.cpu().numpy())
            bad.append(out.bad.cpu().numpy())
            segments = out.segments if segments is None else [max(a, b) for a, b in zip(segments, out.segments)]
            loss = max(loss, out.loss_bits)
    # (β, samples, d) in log10
    sigma = np.concatenate(sig, axis=0).transpose(1, 0, 2) * LOG10_2
    deviation = np.concatenate(dev, axis=0).transpose(1, 0, 2) * LOG10_2
    overflowed = np.concatenate(bad, axis=0).T
    values = per_sample_values(sigma, deviation, depth)
    results, histograms = [], []
    for j, beta in enumerate(betas):
        row: dict[str, Any] = {"beta": float(beta), "depth": depth, "samples": spec.samples,
                               "overflowed": int(overflowed[j].sum())}
        for q in QUANTITIES:
            row[q] = _stats(values[q][j])
        results.append(row)
        histograms.append({"beta": float(beta), **histogram(sigma[j])})
    return {
        "cell": dict(cell),
        "betas": [float(b) for b in betas],
        "inputs_per_draw": 1,
        "results": results,
        "values": {q: _nan_to_none(v) for q, v in values.items()},
        "histograms": histograms,
        "info": {"device": str(device), "dtype": spec.dtype, "draws_per_chunk": chunk,
                 "qr_steps": segments, "max_conditioning_lost_bits": round(loss, 3)},
    }


def per_sample_values(log10_sigma, log10_dev, depth: int) -> dict[str, Any]:
    """The per-sample quantities (module table) from log10 singular values (β, samples, d),
    descending, of J_L and of J_L − I."""
    import numpy as np

    def log10_rms(x):  # ½ log10 (Σ 10^{2x} / d), stable
        top = np.max(x, axis=-1, keepdims=True)
        with np.errstate(invalid="ignore"):
            return (top[..., 0] + 0.5 * np.log10(np.mean(10.0 ** (2 * (x - top)), axis=-1)))

    with np.errstate(invalid="ignore"):
        formed = np.isfinite(log10_dev).all(-1)  # else ‖J_L − I‖_F = ‖J_L‖_F to float64 (J_L too large to form)
        dev_rms = np.where(formed, log10_rms(log10_dev), log10_rms(log10_sigma))
        return {
            "log10_sigma_max": log10_sigma[..., 0],
            "log10_sigma_min": log10_sigma[..., -1],
            "log10_condition": log10_sigma[..., 0] - log10_sigma[..., -1],
            "mean_log10_sigma": log10_sigma.mean(-1),
            "log10_rms_gain": log10_rms(log10_sigma),
            "log10_deviation": log10_dev[..., 0],
            "log10_rms_deviation": dev_rms,
            "lyapunov_top": log10_sigma[..., 0] / LOG10_2 * LN_2 / depth,
        }


def histogram(log10_sigma) -> dict[str, Any]:
    """{"edges", "counts"} of every sample's log10 σ_i (finite ones), HIST_BINS bins."""
    import numpy as np

    x = np.asarray(log10_sigma, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        return {"edges": [], "counts": []}
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(x, bins=HIST_BINS, range=(lo, hi))
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


# ----------------------------------------------------------------------------- summary
def exact_reference(spec: SpectrumSpec) -> dict[str, Any]:
    """The exact second moment of J_L along a unit vector, where it holds, with its basis."""
    from resnet_scale_cli.analysis.theory import exact_identity_factor, exact_identity_refusal

    factor = exact_identity_factor(spec.law, spec.model, spec.activation, dist=spec.dist)
    return {
        "statement": "E‖J_L v‖² = (1 + c L^{-2β})^L for every unit v (so E‖J_L‖_F²/d too), and "
                     "E‖(J_L − I) v‖² = (1 + c L^{-2β})^L − 1",
        "basis": "exact identity: i.i.d. symmetric entries of variance 1/d independent across layers; linear model or "
                 "full model with piecewise-linear σ (c = (a² + b²)/2 for slopes a, b): derivation in docs/science.md",
        "factor": factor,
        "holds": factor is not None,
        "why_not": exact_identity_refusal(spec.law, spec.model, spec.activation, dist=spec.dist),
    }


def _exact_comparison(factor: float | None, depth: int, beta: float, row_values: dict[str, list]) -> dict[str, Any] | None:
    """Monte Carlo E‖J_L‖_F²/d and E‖J_L − I‖_F²/d beside the exact values, all in log10 (mean,
    s.e. where reliable, z), so that the explosion regime never overflows."""
    from resnet_scale_cli.analysis.theory import log10_exact_mean_square, mean_square, moment_entry

    if factor is None:
        return None
    out: dict[str, Any] = {"factor": factor}
    for name, q, minus_one in (("gain", "log10_rms_gain", False), ("deviation", "log10_rms_deviation", True)):
        exact = log10_exact_mean_square(factor, depth, beta, minus_one=minus_one)
        out[name] = moment_entry(exact, mean_square(row_values[q], 1))
    return out


def _setting_of(cell: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in cell.items() if k != "depth"}


def _slope(depths: list[int], medians: list[float | None]) -> float | None:
    import numpy as np

    pts = [(math.log10(L), m) for L, m in zip(depths, medians) if m is not None]
    if len(pts) < 2:
        return None
    x, y = np.array(pts).T
    xc = x - x.mean()
    return float((xc * (y - y.mean())).sum() / (xc**2).sum())


def summarize_spectrum(spec: SpectrumSpec, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The document's fields beyond `spec`, from the records alone: `cells` (one per setting,
    depth and β), `critical` (regimes and the critical β read from the depth trend of the
    deviation log10 σ_max(J_L − I), as `phase` reads the output ratio: it grows with L below
    the critical β and falls like L^{1/2−β} above it, so its labels run explosion → stable →
    identity in β, whereas log σ_max tends to 0, not −∞, as J_L → I; the same reading of log10
    σ_max under `sigma_max`, of log10 σ_max/σ_min under `condition`, and `deviation` repeating
    the entry's own), `lyapunov` (trend in L of the top exponent estimate), `histograms`, `theory`."""
    from resnet_scale_cli.analysis.regimes import analyze_setting

    theory = exact_reference(spec)
    factor = theory["factor"]
    cells = []
    for r in records:
        for j, res in enumerate(r["results"]):
            row_values = {q: v[j] for q, v in r["values"].items()}
            cells.append({**r["cell"], **res,
                          "exact_mean_square": _exact_comparison(factor, r["cell"]["depth"], res["beta"], row_values)})
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(repr(sorted(_setting_of(r["cell"]).items())), []).append(r)
    critical, lyapunov, histograms = [], [], []
    for group in groups.values():
        group = sorted(group, key=lambda r: r["cell"]["depth"])
        setting = _setting_of(group[0]["cell"])
        entry = {**setting, "width": _cell_width(spec, group[0]["cell"]), "depths": [r["cell"]["depth"] for r in group],
                 "quantity": "log10_deviation"}
        entry.update(analyze_setting(group, "log10_deviation", seed=spec.seed))
        entry["deviation"] = {"quantity": "log10_deviation", **{k: v for k, v in entry.items() if k in _READING}}
        for name, q in (("sigma_max", "log10_sigma_max"), ("condition", "log10_condition")):
            entry[name] = {"quantity": q, **analyze_setting(group, q, seed=spec.seed)}
        entry.update(_theory_reference(spec, entry))
        critical.append(entry)
        depths = entry["depths"]
        lyapunov.append({**setting, "depths": depths, "per_beta": [
            {"beta": beta, "median": [(r["results"][j]["lyapunov_top"] or {}).get("median") for r in group],
             "slope_vs_log10_depth": _slope(depths, [(r["results"][j]["lyapunov_top"] or {}).get("median")
                                                     for r in group])}
            for j, beta in enumerate(group[0]["betas"])]})
        histograms.append(_histogram_entry(spec, group, entry))
    return {"cells": cells, "critical": critical, "lyapunov": lyapunov, "histograms": histograms, "theory": theory,
            "info": {k: records[0]["info"][k] for k in ("device", "dtype")} if records else {}}


#: the keys of one reading (`analysis.regimes.analyze_setting`)
_READING = ("critical_beta", "interval", "bound", "regimes", "regime_basis", "pairwise")


def _theory_reference(spec: SpectrumSpec, entry: dict[str, Any]) -> dict[str, Any]:
    """The reference critical β of the deviation σ_max(J_L − I), labelled by its basis."""
    from resnet_scale_cli.analysis.theory import reference

    if exact_reference(spec)["holds"]:
        return {"theory_reference": 0.5, "theory_basis": {
            "kind": "first-order",
            "statement": "E‖(J_L − I) v‖² = (1 + c L^{-2β})^L − 1 exactly (i.i.d. weights): it grows with L below "
                         "β = 1/2, tends to e^c − 1 at 1/2 and falls like c L^{1−2β} above; σ_max(J_L − I) ≥ "
                         "‖(J_L − I) v‖, and its trend is read as that of one direction (not a theorem about σ_max)",
            "source": "exact identity, docs/science.md"}}
    ref = reference(spec.law, "gradient", model=spec.model, activation=spec.activation,
                    width=entry["width"], depths=entry["depths"], **spec.cell_law_settings(entry))
    basis = ref.basis_dict()
    basis["statement"] = (f"the gradient ratio's reference (‖p_0 − p_L‖/‖p_L‖ = ‖(J_L − I)ᵀ p_L‖/‖p_L‖, one direction "
                          f"of J_L − I): {basis['statement']}")
    return {"theory_reference": ref.value, "theory_basis": basis}


def _histogram_entry(spec: SpectrumSpec, group: list[dict[str, Any]], entry: dict[str, Any]) -> dict[str, Any]:
    """Histogram of log10 σ_i at the largest depth and the β nearest --hist-beta, else the
    critical β read from σ_max(J_L − I), else 0.5."""
    record = group[-1]
    target = spec.hist_beta if spec.hist_beta is not None else entry.get("critical_beta")
    basis = "--hist-beta" if spec.hist_beta is not None else "critical β" if target is not None else "β = 0.5"
    target = 0.5 if target is None else target
    j = min(range(len(record["betas"])), key=lambda i: abs(record["betas"][i] - target))
    return {**_setting_of(record["cell"]), "depth": record["cell"]["depth"], "beta": record["betas"][j],
            "chosen_by": basis, **{k: v for k, v in record["histograms"][j].items() if k != "beta"}}


def run_spectrum(spec: SpectrumSpec, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Measure every cell and summarize: the document of `rscale spectrum --json` (without
    `versions`; `api.run_experiment(api.SPECTRUM, spec)` adds them and handles --out/--resume)."""
    records = [measure_spectrum_cell(spec, cell, progress) for cell in spectrum_cells(spec)]
    return {"command": "spectrum", "spec": spec.to_dict(), **summarize_spectrum(spec, records)}
