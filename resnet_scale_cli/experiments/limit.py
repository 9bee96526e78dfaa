"""`rscale limit`: how far a ResNet of depth L is from its continuous-depth limit, driven by the
same random weights, and at what rate in L the distance closes.

At its critical scaling the ResNet h_{k+1} = h_k + L^{-β} f(h_k, θ_{k+1}) is a one-step scheme of a
differential equation on t ∈ [0, 1] (SCIENCE.md §4):

| law, β | limit | the ResNet is | reference H | theory rate r (distance ~ L^-r) |
|---|---|---|---|---|
| iid Gaussian, β = 1/2, simple/linear | SDE dH = dB σ(H), B a d×d Brownian motion, entry variance t/d | Euler–Maruyama, V_k = √L (B_{k/L} − B_{(k−1)/L}) | Euler–Maruyama on a grid r·L finer, the same B refined by Brownian bridges | 1/2 (theorem: an upper bound, Marion et al.; the order is sharp for this non-commutative noise) |
| rbf, β = 1, every model | ODE dH/dt = f(H, θ(t)), θ the GP path | Euler (θ taken at the step's right end) | Euler on a grid r·L finer, θ at the fine times drawn from the GP conditioned on the coarse values (`laws.rbf_bridge`) | 1 (theorem: an upper bound, Marion et al.; Sander et al. Prop. 1) |
| tied, β = 1, every model | autonomous ODE dH/dt = f(H, θ) | Euler | Euler on a grid r·L finer | 1 (Euler's first order, a theorem) |
| fbm, H > 1/2, β = H, simple/linear | Young equation dH = dB^H σ(H), entry variance t^{2H}/d | Euler, V_k = L^H (B^H_{k/L} − B^H_{(k−1)/L}) | Euler on a grid r·L finer; B^H sampled exactly on the fine grid and summed to the coarse one | 2H − 1 as L → ∞; between 2H − 1 and 1 at moderate L (see `limit_rate_reference`) |

Refused (no pathwise limit theorem): any other β for a law; the `full` model with i.i.d. or fBm
weights (a fresh W_k at every layer averages out: at most a limit in law); non-Gaussian i.i.d.
entries (they converge to the SDE only in law, so no path to refine); fBm with H < 1/2 (Euler
does not converge for rough drivers).

Measured per draw, at depth L: max_k ‖h_k − H(k/L)‖ / ‖h_0‖, ‖h_L − H(1)‖ / ‖h_0‖, and the
reference's own change when its refinement doubles, max_k ‖H_{r/2}(k/L) − H_r(k/L)‖ / ‖h_0‖ —
for a first-order reference (ODE) and for strong order 1/2 with orthogonal error increments (SDE)
this change estimates the reference's own error. For rbf weights the fine path's own
approximation (its window and the coarse values' jitter, `BridgePlan.path_error`) is counted
too: the reference is converged only when the distance is ≥ 10× both. Everything is batched over
draws (rows); only layers are looped over, and the fine path is produced block by block, so
memory does not grow with r. The Brownian-bridge noise is drawn in float32 (its rounding is far
below anything measured), the GP refinement in float64, and the dynamics run in `--dtype`
(float64 by default: over r·L steps float32 rounding reaches the size of an O(1/L) distance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from resnet_scale_cli import fields as F
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.laws import law_entry
from resnet_scale_cli.laws.references import Limit
from resnet_scale_cli.threads import one_thread_below

if TYPE_CHECKING:
    import torch

#: stream purpose of the Brownian-bridge noise of a draw (after seeding's five purposes)
REFINEMENT_NOISE = 5
#: coarse layers refined per draw of noise: fixes how a draw's stream is consumed (results never
#: depend on memory settings or on how many draws run together)
BLOCK = 8
#: the reference is called converged when the distance is this many times its change
CONVERGED_RATIO = 10.0
QUANTITIES = ("distance_max", "distance_final", "reference_change", "reference_change_final")

@dataclass(frozen=True)
@F.law_fields(order=("dist", "hurst"), exclude=("fbm_backend",))
class LimitSpec(F.Spec):
    """Settings of `rscale limit`: a law, a model, β (default: the law's critical β), depths, and
    the reference's refinement factor r (even, ≥ 2: the reference runs r·L steps, and r/2·L for
    its own convergence check)."""

    law: str = F.LAW_NAME.field()
    model: str = F.MODEL_NAME.field("simple", help="Residual f: simple V σ(h), linear V h, full V σ(W h) (rbf and tied "
                                    "only).")
    activation: str = F.ACTIVATION.field()
    beta: float | None = F.BETA.field(None, help="β: a limit exists only at the law's critical β.",
                                      none="1/2 iid, H fbm, 1 rbf and tied")
    depths: tuple[int, ...] = F.DEPTHS.field(check=F.Whole(2))
    width: int = F.WIDTH.field()
    samples: int = F.SAMPLES.field(32, check=F.Whole(2), help="Weight draws, each with its own input h_0.")
    refinement: int = F.Setting(F.Whole(2), "The reference runs r·L steps (r even, ≥ 2; its own check r/2·L).", 16,
                                ("--refinement", "-r"), F.GRID).field()
    seed: int = F.SEED.field()
    device: str = F.DEVICE.field()
    dtype: str = F.DTYPE.field("float64", help="Precision of the dynamics (float32 rounding over r·L steps reaches an "
                               "O(1/L) distance).")
    memory_gb: float = F.MEMORY_GB.field()

    def __post_init__(self) -> None:
        F.check_fields(self)
        if len(self.depths) < 2:
            raise SpecError(f"--depth: a rate needs at least two depths, got {list(self.depths)}")
        if self.refinement % 2:
            raise SpecError(f"--refinement must be even (the reference's check runs r/2·L steps), got {self.refinement}")
        limit = law_limit(self)
        object.__setattr__(self, "beta", float(limit.critical_beta if self.beta is None else self.beta))
        object.__setattr__(self, "depths", tuple(sorted(self.depths)))

    @property
    def limit(self) -> Limit:
        """The law's continuous-depth limit at these settings (its kind: sde, young or ode)."""
        return law_limit(self)

    @property
    def kind(self) -> str:
        """sde, young or ode (fBm with H = 1/2 is Brownian motion: sde)."""
        return self.limit.kind


def law_limit(spec: LimitSpec) -> Limit:
    """The limit the spec's law declares (`Law.limit_of`), or a `SpecError`: the law has none (at
    these settings), the model has no pathwise limit, or β is not the law's critical β."""
    limit = law_entry(spec.law).limit_of(spec.law_params())
    if limit.models is not None and spec.model not in limit.models:
        raise SpecError(f"--model {spec.model} with --law {spec.law}: no pathwise limit (a fresh random W_k at every "
                        "layer averages out; the ResNet converges at most in law); use --model "
                        + " or ".join(limit.models))
    if spec.beta is not None and abs(spec.beta - limit.critical_beta) > 1e-9:
        raise SpecError(f"--beta {spec.beta:g}: --law {spec.law} has a continuous-depth limit only at {limit.where}; "
                        "above it the ResNet tends to the identity, below it there is no limit")
    return limit


# ----------------------------------------------------------------------------- the fine paths
def bridge_refine(increments: "torch.Tensor", noise: "torch.Tensor", std: float, *,
                  out: "torch.Tensor | None" = None) -> "torch.Tensor":
    """Refine Brownian increments by Brownian bridges: given X (a path's increment over a coarse
    step) and i.i.d. N(0, 1) `noise` Z_1..Z_r (axis 1 of `noise`), the r sub-increments
    X/r + s (Z_j − Z̄), s = `std` the standard deviation of a sub-increment, have exactly the
    law of the path's sub-increments given X (mean X/r, covariance s²(δ_ij − 1/r)) and sum to X.

    increments (n, ...), noise (n, r, ...) → (n, r, ...) in the dtype of `increments` (written
    into `out` when given).
    """
    import torch

    r = noise.shape[1]
    fine = torch.mul(noise, std, out=out) if out is not None else noise.to(increments.dtype) * std
    fine.sub_(fine.mean(dim=1, keepdim=True) - increments.unsqueeze(1) / r)
    return fine


class _Drive:
    """The coarse and fine driving terms of one chunk of draws, block by block.

    `block(k0, k1)` returns, for coarse steps k0..k1−1 (draws first, possibly as views):
    coarse (D, n, d, d) the ResNet's step matrices L^{-β} V_{k+1}; fine (D, n, r, d, d) and half
    (D, n, r/2, d, d) those of the reference and of its r/2 check; and (coarse, fine, half) of W
    (full model, value-driven laws only) or None. A step is h ← h + A σ(W h) (full), A σ(h)
    (simple), A h (linear). The fine blocks live in buffers reused from block to block.

    rbf: the fine values are drawn from the GP conditioned on the coarse ones (`rbf_bridge`), with
    each draw's prior noise and nugget drawn up front from its refinement stream (V's, then W's),
    so a draw's fine path depends only on the seed and the cell.
    """

    def __init__(self, spec: LimitSpec, depth: int, draws: range, device, dtype) -> None:
        import torch

        from resnet_scale_cli import seeding
        from resnet_scale_cli.dynamics import MODELS
        from resnet_scale_cli.laws import sample_paths, sample_weights

        self.spec, self.depth, self.r = spec, depth, spec.refinement
        self.device, self.dtype = device, dtype
        d, law = spec.width, spec.law
        key = (seeding.name_key(law), d, depth)  # the cell key of `rscale run`: the same coarse weights
        self.gens = {p: [seeding.generator(spec.seed, key + (i, p), device) for i in draws]
                     for p in (seeding.WEIGHTS_V, seeding.WEIGHTS_W, REFINEMENT_NOISE)}
        self.n_draws = len(draws)
        self.fine_path = None
        self.V = self.W = None
        self.plan = None
        self.noise: dict[str, tuple["torch.Tensor", "torch.Tensor"]] = {}
        self._buffers: dict[str, "torch.Tensor"] = {}
        options = dict(spec.law_settings(), dtype=dtype, device=device)
        if law == "fbm":  # exact fGn on the fine grid (unit variance), float32, (D, rL, d²)
            self.fine_path = sample_paths("fbm", depth * self.r, d * d, self.gens[seeding.WEIGHTS_V],
                                          hurst=spec.hurst, dtype=torch.float32, device=device)
        else:
            self.V = sample_weights(law, depth, d, self.gens[seeding.WEIGHTS_V], layer_major=True, **options)
            if MODELS[spec.model].has_inner_weights:
                self.W = sample_weights(law, depth, d, self.gens[seeding.WEIGHTS_W], layer_major=True, **options)
        if law == "rbf":
            from resnet_scale_cli.laws.rbf_bridge import bridge_plan, draw_noise

            self.plan = bridge_plan(depth, self.r, float(spec.lengthscale), BLOCK)
            names = ("V", "W") if self.W is not None else ("V",)
            for name in names:
                z = torch.empty((self.plan.n_noise, self.n_draws, d * d), dtype=torch.float64, device=device)
                xi = torch.empty((depth, self.n_draws, d * d), dtype=torch.float64, device=device)
                self.noise[name] = (z, xi)
            for i, g in enumerate(self.gens[REFINEMENT_NOISE]):
                for name in names:
                    z_i, xi_i = draw_noise(self.plan, d * d, g, scale=1.0 / math.sqrt(d), device=device)
                    self.noise[name][0][:, i] = z_i
                    self.noise[name][1][:, i] = xi_i
            self.noise = {name: (z.view(z.shape[0], -1), xi.view(depth, -1)) for name, (z, xi) in self.noise.items()}

    def _buffer(self, name: str, shape: tuple[int, ...], dtype=None) -> "torch.Tensor":
        """A contiguous buffer of `shape`, reused while the shape stays (every block but the last)."""
        import torch

        buf = self._buffers.get(name)
        if buf is None or buf.shape != shape:
            buf = self._buffers[name] = torch.empty(shape, dtype=dtype or self.dtype, device=self.device)
        return buf

    def block(self, k0: int, k1: int):
        import torch

        spec, L, r, d, D = self.spec, self.depth, self.r, self.spec.width, self.n_draws
        n, scale = k1 - k0, L ** (-spec.beta)
        if spec.law in ("iid", "fbm"):
            fine = self._buffer("fine", (D, n, r, d, d))
            half = self._buffer("half", (D, n, r // 2, d, d))
            if spec.law == "fbm":  # fine increments (rL)^{-H} fGn / √d; the coarse ones are their sums
                raw = self.fine_path[:, k0 * r:k1 * r].view(D, n, r, d, d)
                torch.mul(raw, (L * r) ** (-spec.hurst) / math.sqrt(d), out=fine)
                torch.add(fine[:, :, 0::2], fine[:, :, 1::2], out=half)
                return half.sum(2), fine, half, None
            coarse = self.V[k0:k1].transpose(0, 1) * scale  # Brownian-bridge refinement of the ResNet's own increments
            noise = self._buffer("noise", (D, n, r, d, d), torch.float32)
            for i, g in enumerate(self.gens[REFINEMENT_NOISE]):
                torch.randn((n, r, d, d), generator=g, dtype=torch.float32, device=self.device, out=noise[i])
            layer_major = (1, 2, 0, 3, 4)
            bridge_refine(coarse.transpose(0, 1), noise.permute(layer_major), 1.0 / math.sqrt(d * L * r),
                          out=fine.permute(layer_major))
            torch.add(fine[:, :, 0::2], fine[:, :, 1::2], out=half)
            return coarse, fine, half, None
        coarse = self.V[k0:k1].transpose(0, 1) * scale
        coarse_W = self.W[k0:k1].transpose(0, 1) if self.W is not None else None
        if spec.law == "tied":  # constant across depth: expanded views, no copies
            fine, half = ((coarse.unsqueeze(2) / m).expand(D, n, m, d, d) for m in (r, r // 2))
            if coarse_W is None:
                return coarse, fine, half, None
            return coarse, fine, half, (coarse_W, *(coarse_W.unsqueeze(2).expand(D, n, m, d, d) for m in (r, r // 2)))
        # rbf: θ at the fine times from the GP conditioned on the coarse values; steps of 1/(rL)
        from resnet_scale_cli.laws.rbf_bridge import block_operator

        op = block_operator(self.plan, k0, k1)
        fine = self._refine(op, self.V, "V", k0, k1)  # θ itself, layer-major (n, r, D, d, d)
        draw_major = (2, 0, 1, 3, 4)
        half = torch.mul(fine[:, 1::2], 2 * scale / r, out=self._buffer("half", (n, r // 2, D, d, d)))
        fine.mul_(scale / r)
        if coarse_W is None:
            return coarse, fine.permute(draw_major), half.permute(draw_major), None
        fine_W = self._refine(op, self.W, "W", k0, k1).permute(draw_major)
        return coarse, fine.permute(draw_major), half.permute(draw_major), (coarse_W, fine_W, fine_W[:, :, 1::2])

    def _refine(self, op, weights, name: str, k0: int, k1: int):
        """θ at the fine times (k + j/r)/L of steps k0..k1−1, j = 1..r, for every draw and entry at
        once: the conditional draws (one float64 product) and, at j = r, the coarse values
        themselves. Layer-major (n, r, D, d, d) in `--dtype`, a reused buffer."""
        import torch

        from resnet_scale_cli.laws.rbf_bridge import refine_block

        n, r = k1 - k0, self.r
        coarse = weights.view(weights.shape[0], -1)  # (L, D·d²)
        out = self._buffer(name, (n, r, *weights.shape[1:]))
        flat = out.view(n, r, -1)
        values = refine_block(op, coarse, *self.noise[name],
                              out=self._buffer("refined", (n * (r - 1), coarse.shape[1]), torch.float64))
        flat[:, :r - 1] = values.view(n, r - 1, -1)
        flat[:, r - 1] = coarse[k0:k1]
        return out


#: per-layer products below this many multiply-adds run on one CPU thread
SMALL_PRODUCT = 2**20


def solve(drive: _Drive, h0: "torch.Tensor", model: str, activation: str, *, record: bool = False,
          progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run the ResNet, the reference (r·L steps) and its check (r/2·L steps) side by side from
    h0 (D, d). Returns per-draw tensors (D,) `distance_max`, `distance_final`,
    `reference_change`, `reference_change_final` (absolute, not yet divided by ‖h_0‖), and with
    `record` the trajectories at the coarse times k/L, each (L + 1, D, d): `resnet`,
    `reference`, `half`."""
    import torch

    from resnet_scale_cli.dynamics import ACTIVATIONS, MODELS
    from resnet_scale_cli.dynamics.schemes import Euler

    f, act, step_ = MODELS[model], ACTIVATIONS[activation], Euler.step_
    L, r = drive.depth, drive.r
    h, H, Hh = (h0.unsqueeze(1).clone() for _ in range(3))
    zeros = torch.zeros(h0.shape[0], dtype=h0.dtype, device=h0.device)
    dist_max, change_max = zeros.clone(), zeros.clone()
    paths = {"resnet": [h0.clone()], "reference": [h0.clone()], "half": [h0.clone()]} if record else None
    for k0 in range(0, L, BLOCK):
        k1 = min(k0 + BLOCK, L)
        coarse, fine, half, weights_W = drive.block(k0, k1)
        cW, fW, hW = weights_W if weights_W is not None else (None, None, None)
        with one_thread_below(h0.device, h0.shape[0] * h0.shape[1] ** 2, SMALL_PRODUCT):
            for i in range(k1 - k0):
                step_(f, act, h, coarse[:, i], cW[:, i] if cW is not None else None)
                for j in range(r):
                    step_(f, act, H, fine[:, i, j], fW[:, i, j] if fW is not None else None)
                for j in range(r // 2):
                    step_(f, act, Hh, half[:, i, j], hW[:, i, j] if hW is not None else None)
                dist = torch.linalg.vector_norm(h - H, dim=(1, 2))
                change = torch.linalg.vector_norm(Hh - H, dim=(1, 2))
                dist_max = torch.maximum(dist_max, dist)
                change_max = torch.maximum(change_max, change)
                if record:
                    for name, x in (("resnet", h), ("reference", H), ("half", Hh)):
                        paths[name].append(x[:, 0].clone())
        if progress is not None:
            progress(k1 - k0)
    out = {"distance_max": dist_max, "distance_final": dist, "reference_change": change_max,
           "reference_change_final": change}
    if record:
        out.update({name: torch.stack(xs) for name, xs in paths.items()})
    return out


# ----------------------------------------------------------------------------- the measurement
def _itemsize(dtype: str) -> int:
    return {"float32": 4, "float64": 8}[dtype]


def draw_bytes(spec: LimitSpec, depth: int) -> int:
    """Memory one draw needs: its coarse weights (V, and W for the full model) or, for fBm, its
    fine path (float32), plus one block of fine step matrices (fine, half and noise); for rbf
    also the refinement's prior noise and nugget (float64) and its float64 block."""
    from resnet_scale_cli.dynamics import MODELS
    from resnet_scale_cli.resources import law_bytes

    size, d2, r = _itemsize(spec.dtype), spec.width**2, spec.refinement
    matrices = len(MODELS[spec.model].weights)
    weights = depth * d2 * 4 * r if spec.law == "fbm" else depth * d2 * size * matrices
    block = BLOCK * r * d2 * (2 * size + 4) * matrices
    if spec.law == "rbf":
        n_noise = math.ceil(1.0 / spec.lengthscale + 13) * 4 + 2  # the prior's grid (rbf_bridge, δ = ℓ/4)
        weights += (n_noise + depth) * d2 * 8 * matrices
        block += (BLOCK * r + 2 * 64 + BLOCK) * d2 * 8  # the float64 product and its window of coarse values
    return weights + block + law_bytes(spec.law, depth)


def draws_per_chunk(spec: LimitSpec, depth: int) -> int:
    """Draws run together: as many as fit half of --memory-gb (at least one)."""
    return max(1, min(spec.samples, int(spec.memory_gb * 2**29 // draw_bytes(spec, depth))))


def cell_cost(spec: LimitSpec, depth: int) -> int:
    """Units of progress (coarse layers, once per chunk of draws) one depth reports."""
    return depth * math.ceil(spec.samples / draws_per_chunk(spec, depth))


def measure_limit_cell(spec: LimitSpec, depth: int, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """One depth: per-draw distances between the ResNet and its limit's reference, as a
    JSON-ready record `{"cell": {"depth"}, <quantity>: {median, q05, q95, mean}, "values": {…},
    "info": {…}}` (distances relative to ‖h_0‖)."""
    import numpy as np
    import torch

    from resnet_scale_cli import seeding
    from resnet_scale_cli.metrics import summarize

    device, dtype = spec.torch_device(), spec.torch_dtype()
    d, key = spec.width, (seeding.name_key(spec.law), spec.width, depth)
    chunk = draws_per_chunk(spec, depth)
    parts: dict[str, list[np.ndarray]] = {q: [] for q in QUANTITIES}
    with torch.no_grad():
        for first in range(0, spec.samples, chunk):
            draws = range(first, min(first + chunk, spec.samples))
            h0 = torch.stack([torch.randn(d, generator=seeding.generator(spec.seed, key + (i, seeding.INPUTS), device),
                                          dtype=dtype, device=device) for i in draws])
            drive = _Drive(spec, depth, draws, device, dtype)
            out = solve(drive, h0, spec.model, spec.activation, progress=progress)
            norm0 = torch.linalg.vector_norm(h0, dim=-1)
            for q in QUANTITIES:
                parts[q].append((out[q] / norm0).to(torch.float64).cpu().numpy())
            del drive
    values = {q: np.concatenate(v) for q, v in parts.items()}
    record: dict[str, Any] = {"cell": {"depth": int(depth)}}
    record.update({q: summarize(values[q]) for q in QUANTITIES})
    record["values"] = {q: [float(x) if np.isfinite(x) else None for x in v] for q, v in values.items()}
    info: dict[str, Any] = {"device": str(device), "draws_per_chunk": chunk}
    if spec.law == "rbf":
        info.update(path_diagnostic(spec, depth))
    record["info"] = info
    return record


def summarize_limit(spec: LimitSpec, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The document's fields beyond `spec`, from the records alone: `limit` (what is compared),
    `results` (one entry per depth), `rate` and `rate_final` (power-law fits of the distances
    against L with bootstrap intervals and per-pair slopes, beside the theory), `reference`
    (did the reference converge), `info`."""
    from resnet_scale_cli.analysis.rates import decay_rate
    from resnet_scale_cli.analysis.theory import limit_rate_reference

    records = sorted(records, key=lambda r: r["cell"]["depth"])
    depths = [r["cell"]["depth"] for r in records]
    results = []
    for r in records:
        ratio = _ratio(r["distance_max"], r["reference_change"])
        extra = {k: r["info"][k] for k in PATH_FIELDS if k in r["info"]}
        results.append({"depth": r["cell"]["depth"], **{q: r[q] for q in QUANTITIES}, "reference_ratio": ratio, **extra})
    theory = limit_rate_reference(spec.law, **spec.law_settings())

    def rate(quantity: str) -> dict[str, Any] | None:
        samples = [[v for v in r["values"][quantity] if v is not None] for r in records]
        fit = decay_rate(depths, samples, seed=spec.seed, key=f"limit-{quantity}")
        return None if fit is None else {**fit, "quantity": quantity, **theory}

    ratios = [x["reference_ratio"] for x in results if x["reference_ratio"] is not None]
    r = spec.refinement
    expected = math.sqrt(r - 1) if spec.kind == "sde" else r - 1 if spec.kind == "ode" else None
    limit = spec.limit
    equation = limit.equation.replace("σ(H)", "H") if spec.model == "linear" else limit.equation
    discretized = bool(ratios) and min(ratios) >= CONVERGED_RATIO
    verdict: dict[str, Any] = {"ratio_min": min(ratios) if ratios else None, "threshold": CONVERGED_RATIO,
                               "converged": discretized, "expected_ratio": expected}
    if spec.law == "rbf":
        margins = [x["distance_max"]["median"] / x["path_error"] for x in results
                   if x.get("distance_max") and x.get("path_error")]
        path_ok = all(m >= CONVERGED_RATIO for m in margins)
        verdict.update({"discretization_converged": discretized, "path_converged": path_ok,
                        "path_ratio_min": min(margins) if margins else None, "converged": discretized and path_ok})
    verdict["advice"] = _advice(spec, verdict)
    return {
        "limit": {"kind": limit.kind, "equation": equation, "resnet_scheme": limit.scheme,
                  "reference": limit.reference},
        "results": results,
        "rate": rate("distance_max"),
        "rate_final": rate("distance_final"),
        "reference": verdict,
        "info": {"device": records[0]["info"]["device"] if records else None},
    }


#: per-depth fields of the rbf reference's path (`path_diagnostic`), copied into `results[]`
PATH_FIELDS = ("path_error", "window_error", "window", "exact_conditioning", "jitter")


def path_diagnostic(spec: LimitSpec, depth: int) -> dict[str, Any]:
    """How far the rbf reference's fine path is from an exact conditional path of the jitter-free
    GP (relative to the GP's standard deviation, per fine value): `window_error` (the windowed
    conditioning, a Wasserstein-2 bound; 0 when every coarse value is used), `jitter` ε (the
    coarse values carry a white nugget of variance ε, at one fine time in r), and `path_error` =
    window_error + √ε/r. To first order the reference moves by at most about path_error·‖h_0‖."""
    from resnet_scale_cli.laws.rbf_bridge import bridge_plan

    plan = bridge_plan(depth, spec.refinement, float(spec.lengthscale), BLOCK)
    return {"path_error": plan.path_error, "window_error": plan.window_error, "window": plan.window,
            "exact_conditioning": plan.exact, "jitter": plan.jitter}


def _advice(spec: LimitSpec, verdict: dict[str, Any]) -> str | None:
    """What can make a reference that did not converge converge (None when it did)."""
    if verdict["converged"] or verdict["ratio_min"] is None:
        return None
    notes = []
    if verdict["ratio_min"] < CONVERGED_RATIO:
        if spec.kind == "sde":
            notes.append("for the SDE the ratio is ≈ √(r − 1) whatever L, so the rate is unaffected; "
                         "--refinement 128 gives ≈ 11")
        else:
            notes.append("raise --refinement (the reference's own Euler error falls like 1/r)")
    if verdict.get("path_converged") is False:
        notes.append("the smallest distances are within 10× of the reference path's own error (the GP window and "
                     "the weights' jitter, `path_error`), which --refinement does not lower: read the rate from "
                     "depths whose distance is ≥ 10× path_error")
    return "; ".join(notes)


def _ratio(distance: dict[str, float] | None, change: dict[str, float] | None) -> float | None:
    """median distance / median reference change (None when either is missing or zero)."""
    if not distance or not change or change["median"] <= 0:
        return None
    return distance["median"] / change["median"]


def run_limit(spec: LimitSpec, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Measure every depth of `spec` and summarize: the document's fields beyond `spec`, plus
    `records` (for Python users; the command goes through `api.run_experiment`)."""
    records = [measure_limit_cell(spec, depth, progress) for depth in spec.depths]
    return {**summarize_limit(spec, records), "records": records}
