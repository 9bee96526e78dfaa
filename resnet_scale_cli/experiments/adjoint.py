"""`rscale adjoint`: memory-free backpropagation against depth (Sander, Ablin, Peyré, §4).

For each depth N and each of `samples` draws (weights θ_n from the law, an input x_0 and a
target y, `batch` rows each, N(0, I_d) entries), the loss ℓ = ½ Σ_rows ‖x_N − y‖² is
backpropagated twice through the net (`resnet`: Euler, `heunnet`: Heun, step s = N^{-β}):
exactly, with the N + 1 states stored, and memory-free, with the states recovered backwards by
reverse Euler / reverse Heun (`dynamics.adjoint`). Per draw:

- `activation_error`      max_n ‖x̃_n − x_n‖ / ‖x_n‖ (norms over the batch's rows together);
- `gradient_error`        ‖∇̃_θ ℓ − ∇_θ ℓ‖ / ‖∇_θ ℓ‖ over every θ_n (V and W) together;
- `input_gradient_error`  ‖∇̃_x ℓ − ∇_x ℓ‖ / ‖∇_x ℓ‖ for the input x_0;
- `smoothness_delta`      Δ = max_n ‖θ_{n+1} − θ_n‖ (Frobenius, V and W together).

Memory (`experiments.memory`): the peak bytes each backward allocates beyond the weights and
the gradient buffers (held by both), for the whole batch of draws at once.

Fits (`summarize_adjoint`): error ∝ N^(−rate) with a bootstrap interval
(`analysis.rates.power_law_fit`), beside the rate of the paper's upper bound
(`analysis.theory.adjoint_bound_rate`), labelled as a bound.

This module imports neither torch nor numpy at import time (the command line reads the spec).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from resnet_scale_cli import fields as F

if TYPE_CHECKING:
    from resnet_scale_cli.resources import Need

ERRORS = ("activation_error", "gradient_error", "input_gradient_error")
QUANTITIES = ERRORS + ("smoothness_delta",)
#: a relative error below RESOLUTION · ε(dtype) is flagged: rounding alone leaves x̃_n about a few ε
#: away from x_n (measured: float32 recovery errors stop near 1e-7 ≈ ε while float64 goes on falling)
RESOLUTION = 100.0
_EPS = {"float32": 2.0**-23, "float64": 2.0**-52}
NON_SMOOTH = ("relu", "leaky_relu")


@dataclass(frozen=True)
@F.law_fields(exclude=("fbm_backend",))
class AdjointSpec(F.Spec):
    """What `rscale adjoint` measures; field names are the flags (`depths` is `--depth`)."""

    net: str = F.Setting(F.registry_choice("nets"), "resnet: Euler step, memory-free by reverse Euler; heunnet: Heun step "
                         "(eq. 8), by reverse Heun.", "resnet", panel=F.MODEL).field()
    law: str = F.LAW_NAME.field()
    model: str = F.MODEL_NAME.field()
    activation: str = F.ACTIVATION.field("tanh", help="σ (the bounds assume a smooth f).")
    depths: tuple[int, ...] = F.DEPTHS.field((16, 32, 64, 128, 256), help="Depths N: list 16,32,64 or range 16:256:5:log.")
    width: int = F.WIDTH.field(32)
    samples: int = F.SAMPLES.field(16, help="Draws (weights, input, target) per depth.")
    batch: int = F.Setting(F.Whole(1), "Inputs per draw (the loss sums over them).", 1).field()
    beta: float = F.BETA.field(help="Step s = N^-β (the paper: β = 1).")
    seed: int = F.SEED.field()
    device: str = F.DEVICE.field()
    dtype: str = F.DTYPE.field("float64", help="Precision (errors fall below float32's).")
    memory_gb: float = F.MEMORY_GB.field()

    def __post_init__(self) -> None:
        F.check_fields(self)

    @property
    def scheme(self) -> str:
        from resnet_scale_cli.dynamics.gradients import NETS

        return NETS[self.net].scheme


def cell_bytes(spec: AdjointSpec, depth: int) -> int:
    """The least memory of the cell at depth N (bytes; every draw runs at once): the weights
    and the two passes' gradient buffers, 3·m·K·D·d² numbers (m = 2 for V and W of the full
    model, else 1; K weight layers, D = samples); the N + 1 states the exact pass stores,
    (N + 1)·D·R·d (R = batch); STATE_COPIES rows of temporaries, D·R·d each; and the law's
    sampler (`resources.law_bytes`: the RBF kernel's (N + 1)² matrices)."""
    from resnet_scale_cli.dynamics import MODELS
    from resnet_scale_cli.dynamics.schemes import SCHEMES
    from resnet_scale_cli.resources import STATE_COPIES, itemsize, law_bytes

    m = len(MODELS[spec.model].weights)
    d, draws, rows = spec.width, spec.samples, spec.samples * spec.batch
    weights = 3 * m * SCHEMES[spec.scheme].weight_layers(depth) * draws * d * d
    return (weights + (depth + 1 + STATE_COPIES) * rows * d) * itemsize(spec.dtype) + law_bytes(spec.law, depth + 1)


def cell_need(spec: AdjointSpec, depth: int) -> "Need":
    """`cell_bytes` with its description (`resources.check_need`)."""
    from resnet_scale_cli.dynamics import MODELS
    from resnet_scale_cli.resources import Need, itemsize

    full = MODELS[spec.model].has_inner_weights
    return Need(cell_bytes(spec, depth), f"--depth {depth} --width {spec.width} --samples {spec.samples}: the cell",
                f"{'V and W' if full else 'V'} and both passes' gradients: 3·K·samples·d² numbers of "
                f"{itemsize(spec.dtype)} bytes, plus the N + 1 stored states",
                "--depth, --width, --samples or --batch" + (", or use --model simple" if full else ""))


def preflight(spec: AdjointSpec) -> None:
    """Refuse (`SpecError`) the first depth whose cell exceeds `--memory-gb` or the free memory."""
    from resnet_scale_cli.resources import available_bytes, check_need
    from resnet_scale_cli.spec import resolve_device

    device = str(resolve_device(spec.device))
    free = available_bytes(device)
    for depth in spec.depths:
        check_need(cell_need(spec, depth), memory_gb=spec.memory_gb, device=device, available=free)


def _stream_key(spec: AdjointSpec, depth: int) -> tuple[int, ...]:
    from resnet_scale_cli import seeding

    return (seeding.name_key("adjoint"), seeding.name_key(spec.law), spec.width, depth)


def measure_adjoint_cell(spec: AdjointSpec, depth: int, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """One depth N: per-draw errors of the memory-free backward, Δ, and the peak memory of both
    backward passes, as a JSON-ready record (no I/O)."""
    import numpy as np
    import torch

    from resnet_scale_cli import seeding
    from resnet_scale_cli.dynamics import ACTIVATIONS, MODELS, Network
    from resnet_scale_cli.dynamics import adjoint as A
    from resnet_scale_cli.dynamics.schemes import SCHEMES
    from resnet_scale_cli.experiments.memory import PeakMemory
    from resnet_scale_cli.laws.sampling import sample_weights
    from resnet_scale_cli.metrics import summarize
    from resnet_scale_cli.spec import resolve_device, torch_dtype

    start = time.perf_counter()
    device, dtype = resolve_device(spec.device), torch_dtype(spec.dtype)
    d, scheme = spec.width, spec.scheme
    layers = SCHEMES[scheme].weight_layers(depth)
    key = _stream_key(spec, depth)

    def gens(purpose: int) -> list[torch.Generator]:
        return [seeding.generator(spec.seed, key + (i, purpose), device) for i in range(spec.samples)]

    options = dict(spec.law_settings(), dtype=dtype, device=device)
    V = sample_weights(spec.law, layers, d, gens(seeding.WEIGHTS_V), layer_major=True, **options)
    W = (sample_weights(spec.law, layers, d, gens(seeding.WEIGHTS_W), layer_major=True, **options)
         if MODELS[spec.model].has_inner_weights else None)
    net = Network(V, W, spec.model, ACTIVATIONS[spec.activation], layer_major=True)

    def rows(purpose: int) -> torch.Tensor:
        return torch.stack([torch.randn((spec.batch, d), generator=g, dtype=dtype, device=device) for g in gens(purpose)])

    x0, target = rows(seeding.INPUTS), rows(seeding.READOUT)
    s = float(depth) ** (-spec.beta)
    exact_out, free_out = A.gradient_buffers(net), A.gradient_buffers(net)
    with torch.no_grad():
        with PeakMemory(device) as exact_memory:
            exact = A.exact_gradients(net, scheme, x0, target, s, out=exact_out)
        states = exact.states
        recovery = torch.zeros(spec.samples, dtype=torch.float64, device=device)

        def compare(n: int, x: torch.Tensor) -> None:
            error = _norm(x - states[n]) / _norm(states[n])
            torch.maximum(recovery, error, out=recovery)

        with PeakMemory(device) as free_memory:
            free = A.memory_free_gradients(net, scheme, x0, target, s, out=free_out, on_recovered=compare)
        values = {
            "activation_error": recovery,
            "gradient_error": _relative(free.grad_V, free.grad_W, exact.grad_V, exact.grad_W),
            "input_gradient_error": _norm(free.grad_input - exact.grad_input) / _norm(exact.grad_input),
            "smoothness_delta": A.smoothness(net).to(torch.float64),
        }
    if progress is not None:
        progress(depth)
    values = {q: [_finite(v) for v in values[q].cpu().tolist()] for q in QUANTITIES}

    return {
        "cell": {"depth": int(depth)},
        **{q: summarize(np.array([np.nan if v is None else v for v in values[q]], dtype=np.float64)) for q in QUANTITIES},
        "memory_bytes": {"exact": exact_memory.peak_bytes, "adjoint": free_memory.peak_bytes},
        "values": values,
        "info": {"device": str(device), "memory_method": exact_memory.method, "weight_layers": layers, "step": s,
                 "seconds": round(time.perf_counter() - start, 4)},
    }


def _norm(x):
    """Norm per draw over every axis but the first, in float64: (D, ...) → (D,)."""
    import torch

    return x.to(torch.float64).flatten(1).norm(dim=1)


def _relative(V, W, V_ref, W_ref):
    """‖(V, W) − (V_ref, W_ref)‖ / ‖(V_ref, W_ref)‖ per draw for layer-major (K, D, d, d) buffers."""
    import torch

    def sq(x):
        return x.to(torch.float64).pow(2).sum((0, 2, 3))

    diff, ref = sq(V - V_ref), sq(V_ref)
    if W is not None:
        diff, ref = diff + sq(W - W_ref), ref + sq(W_ref)
    return diff.sqrt() / ref.sqrt()


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _fit(spec: AdjointSpec, records: list[dict[str, Any]], quantity: str) -> dict[str, Any] | None:
    """Rate of `quantity` ∝ N^(−rate) with its bootstrap interval and pairwise rates, or None
    (fewer than two depths, or no positive value at a depth)."""
    from resnet_scale_cli.analysis.rates import decay_rate

    depths = [r["cell"]["depth"] for r in records]
    samples = [[v for v in r["values"][quantity] if v is not None] for r in records]
    return decay_rate(depths, samples, seed=spec.seed, key=f"adjoint-{quantity}")


def summarize_adjoint(spec: AdjointSpec, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The document's fields beyond `spec`, from the records alone: per-depth statistics and
    memory, the rate of each error (∝ N^(−rate)) beside the paper's bound, Δ's exponent, the
    growth of memory with N, and notes."""
    import numpy as np

    from resnet_scale_cli.analysis.theory import SMOOTHNESS_EXPONENT, adjoint_bound_basis, adjoint_bound_rate

    records = sorted(records, key=lambda r: r["cell"]["depth"])
    results = [{"depth": r["cell"]["depth"], **{q: r[q] for q in QUANTITIES}, "memory_bytes": r["memory_bytes"]}
               for r in records]
    bound = adjoint_bound_rate(spec.net, spec.law, spec.beta)
    basis = adjoint_bound_basis(spec.net, spec.law) if bound is not None else "the paper's bounds are for β = 1 (step 1/N)"
    notes: list[str] = []
    rates: dict[str, Any] = {}
    for q in ERRORS:
        fit = _fit(spec, records, q)
        entry = {"estimate": None, "interval": None, "bound": bound, "bound_basis": basis, "consistent_with_bound": None}
        if fit is not None:
            entry.update(fit)
            if bound is not None:
                entry["consistent_with_bound"] = bool(fit["interval"][1] >= bound)
        elif len(records) >= 2:
            zero = all(v == 0.0 for r in records for v in r["values"][q] if v is not None)
            notes.append(f"{q}: no rate — " + ("exactly zero at every depth" + (
                " (a linear f: the backward of x does not read the activations)" if spec.model == "linear" else "")
                if zero else "no positive finite value at some depth"))
        rates[q] = entry
    delta = _fit(spec, records, "smoothness_delta")
    theory_delta = SMOOTHNESS_EXPONENT.get(spec.law)
    rates["smoothness_delta"] = {**({"estimate": None, "interval": None} if delta is None else delta),
                                 "theory": None if theory_delta is None or math.isinf(theory_delta) else theory_delta,
                                 "meaning": "Δ ∝ N^(−estimate)"}
    if spec.law == "tied":
        rates["smoothness_delta"]["note"] = "Δ = 0: tied weights"
    memory = {}
    if len(records) >= 2:
        x = np.log([r["cell"]["depth"] for r in records])
        for kind in ("exact", "adjoint"):
            y = np.log([max(r["memory_bytes"][kind], 1) for r in records])
            memory[kind] = round(float(np.polyfit(x, y, 1)[0]), 4) + 0.0  # + 0.0: no -0.0
    eps = _EPS[spec.dtype]
    for q in ERRORS:
        low = [r["cell"]["depth"] for r in records if r[q] is not None and 0.0 < r[q]["median"] < RESOLUTION * eps]
        if low:
            notes.append(f"{q}: median near {spec.dtype} resolution (< {RESOLUTION * eps:.1e} = {RESOLUTION:g}·ε) at N = "
                         f"{', '.join(map(str, low))}; rounding may flatten the fit there"
                         + (" (use --dtype float64)" if spec.dtype == "float32" else ""))
    if spec.activation in NON_SMOOTH and spec.model != "linear":
        notes.append(f"--activation {spec.activation}: σ' jumps, while Props. 4 and 6 assume a Lipschitz ∂_x f; "
                     "the gradient bounds are not guaranteed")
    if spec.law == "rbf" and min(spec.depths) * spec.lengthscale < 2:
        notes.append(f"rbf: the smallest depth resolves the lengthscale poorly (N·ℓ = {min(spec.depths) * spec.lengthscale:g} "
                     "< 2); Δ = O(1/N) holds only past it")
    info = records[0]["info"] if records else {}
    return {
        "results": results,
        "rates": rates,
        "memory_exponent": memory,
        "info": {"device": info.get("device"), "memory_method": info.get("memory_method"),
                 "forward": _forward_formula(spec), "memory_free_method": _method(spec),
                 "loss": "½ Σ_rows ‖x_N − y‖², y ~ N(0, I_d)", "step": f"s = N^-{spec.beta:g}"},
        "notes": notes,
    }


def _forward_formula(spec: AdjointSpec) -> str:
    from resnet_scale_cli.dynamics.gradients import NETS

    return NETS[spec.net].formula


def _method(spec: AdjointSpec) -> str:
    from resnet_scale_cli.dynamics.gradients import NETS

    return NETS[spec.net].method


def run_adjoint(spec: AdjointSpec, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Every depth of `spec`, then the summary: `{"spec", "records", **summary}` (for Python
    users; the command runs the same cells through `api.run_experiment`)."""
    records = [measure_adjoint_cell(spec, depth, progress) for depth in spec.depths]
    return {"spec": spec.to_dict(), "records": records, **summarize_adjoint(spec, records)}
