"""`rscale train`: train deep ResNets and measure whether they stay discretizations of a neural ODE.

Model (SCIENCE.md §1, §5)::

    h_0 = A x,    h_{k+1} = h_k + L^{-β} f(h_k, θ_{k+1}),    F(x) = B h_L

with f = V σ(W h) (``full``, hidden width m), V σ(h) (``simple``) or V h (``linear``). Only the
residual weights θ_k = (V_k, W_k) are trained; the embedding A (entries N(0, 1/p)) and the
readout B (entries N(0, 1/d)) stay at their random initial values, as in the implicit-
regularization paper's analysis (the authors' scripts take A = B = I). θ(0) is drawn from a weight
law of `resnet_scale_cli.laws` (``tied``: one matrix for every layer; ``rbf``: smooth in k/L;
``fbm``; ``iid``), V and W from independent streams, or V(0) = 0 with ``v_init = "zero"`` (the
authors' scripts).

HeunNet (``net = "heunnet"``, Sander, Ablin & Peyré eq. 8; N = L the depth, s = N^{-β}):
N + 1 weight layers θ_0..θ_N, the law's path at the times n/N, n = 0..N (`law_lengthscale`), and

    y_n = h_n + s f(h_n, θ_n),    h_{n+1} = h_n + (s/2) (f(h_n, θ_n) + f(y_n, θ_{n+1})),

the same A, B and loss. Its passes are `dynamics.adjoint`'s (`training_passes`): exact (states
stored, y_n recomputed) or memory-free by reverse Heun (eq. 9). Under the depth-scaled step of
gd/sgd the end layers θ_0 and θ_N, which carry weight s/2 in Heun's trapezoid sum, take twice the
step (`training_passes.end_layer_lr_factor`).

Optimization. ``gd`` is full-batch gradient descent as the Euler discretization of gradient flow
in rescaled time, dθ_k/dt = −L ∂ℓ/∂θ_k (Marion, Wu, Sander & Biau; Sander, Ablin & Peyré): a step
is θ_k ← θ_k − η L ∂ℓ/∂θ_k, so η is the time step and η·steps the horizon T. Since ∂ℓ/∂θ_k is of
order L^{-β}, the general factor is L^{2β−1} (it keeps the change of F per unit time of order one;
= L at β = 1, the theorem's case); ``lr_scaling = "none"`` turns it off. ``sgd`` is the same step
on random minibatches; ``adam`` uses η as is (Adam is invariant to the gradient's scale).

Measured, at every step t: max_k ‖θ_{k+1}(t) − θ_k(t)‖_F (a true maximum over k, for V and W
together and for each), whose maximum over all steps is the cell's `max_weight_increment`;
at log-spaced steps: train and test loss, the test metric (R² or accuracy), ‖θ(t) − θ(0)‖_F,
and snapshots of a few weight entries against k/L. Over the depths, `summarize_training` fits
max_{k,t} ‖Δθ‖ ∝ L^{exponent} with a bootstrap interval over seeds, beside the theory (−1 for
tied and RBF initialization at β = 1 under its conditions, a first-order argument for the HeunNet;
none for i.i.d.).

Seeds: sample i at depth L draws its weights, A, B and minibatches from streams keyed by
(name_key("train"), name_key(law), width, L, i, purpose); the data and the teacher come from
`data_seed` and are shared by every cell, so all depths fit the same task.
"""

from __future__ import annotations

import io
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from resnet_scale_cli import seeding
from resnet_scale_cli.dynamics.schemes import net_scheme
from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.threads import one_thread_below
from resnet_scale_cli.experiments.training_engine import (
    LOSS_NAMES, METRIC_NAMES, Dataset, Optimizer, autograd_gradients, depth_lr_factor, digits_dataset, euler_states,
    loss_and_grad, max_increments, relative_gradient_error, synthetic_dataset, test_metric,
)
from resnet_scale_cli.experiments.training_passes import end_layer_lr_factor, make_passes, scale_end_layers
from resnet_scale_cli.experiments.training_spec import (  # noqa: F401  (re-exported)
    BACKPROPS, DATASETS, DEPTH_SEEDS, DIGITS_SIZE, LR_SCALINGS, NETS, OPTIMIZERS, SMOOTH_ACTIVATIONS, V_INITS, TrainSpec,
    _whole, validate,
)

COMMAND = "train"
#: a network whose loss is not finite or exceeds this factor times (1 + initial loss) is diverged
DIVERGENCE_FACTOR = 1e6
#: on the CPU, a cell whose per-layer product is below this many multiply-adds runs its layer loop
#: on one thread: the products are too small to share, and on a busy machine the threads only wait
#: (digits, n = 256, d = m = 64, 4 networks = 2^22: 4–5× slower on two threads than on one while
#: another process held a core)
SINGLE_THREAD_BELOW = 2**24
#: extra stream purpose (after seeding's WEIGHTS_V, WEIGHTS_W, INPUTS, READOUT, PROBES)
BATCHES = 5
SNAPSHOT_TIMES = 5
SNAPSHOT_ENTRIES = ((0, 0), (0, 1), (1, 0), (1, 1))
CHECKPOINT_FORMAT = 2

__all__ = [
    "TrainSpec", "measure_training_cell", "summarize_training", "run_training", "save_checkpoint",
    "load_checkpoint", "checkpoint_path", "training_theory", "pl_regime", "load_dataset", "tracked_steps",
    "progress_total", "autograd_gradients",
]


def cell_key(spec: TrainSpec, depth: int) -> tuple[int, ...]:
    """Stream coordinates of a cell; a sample's streams are key + (sample, purpose).

    ``common`` (default): (name_key("train"), name_key(law), d) at every depth — common random
    numbers: sample i has the same A, B and (tied) weights at every L, so the fit compares
    discretizations of one neural ODE (the authors reuse one W across depths too).
    ``independent``: (…, d, L), the sweep convention, draws independent across depths.
    """
    key = (seeding.name_key(COMMAND), seeding.name_key(spec.law), spec.width)
    return key + ((depth,) if spec.depth_seeds == "independent" else ())


def law_lengthscale(spec: TrainSpec, depth: int) -> float:
    """The RBF lengthscale handed to the sampler so that the weights are the law's path at the
    net's layer times.

    The sampler draws K layers at the times k/K, k = 1..K (spacing 1/K). A ResNet has K = N
    layers at k/N: ℓ as given. A HeunNet has K = N + 1 layers θ_0..θ_N at the times n/N,
    n = 0..N (spacing 1/N, the Heun grid, both ends included); the RBF kernel being stationary,
    the path at spacing 1/N with lengthscale ℓ has the law of the path at spacing 1/(N + 1) with
    ℓ·N/(N + 1), which is what is drawn. (Tied and i.i.d. weights do not depend on the times; fBm
    weights are N + 1 consecutive values of unit-variance fractional Gaussian noise.)
    """
    layers = net_scheme(spec.net).weight_layers(depth)
    return spec.lengthscale if layers == depth else spec.lengthscale * depth / layers


def layer_times(spec: TrainSpec, depth: int) -> list[float]:
    """The time in [0, 1] of each weight layer: k/N, k = 1..N (ResNet, θ_k acts on step k − 1 → k);
    n/N, n = 0..N (HeunNet)."""
    return net_scheme(spec.net).layer_times(depth)


# --------------------------------------------------------------------------- data
def load_dataset(spec: TrainSpec) -> Dataset:
    """The spec's data set on the CPU in float64 (shared by every cell and sample)."""
    root = (seeding.name_key(COMMAND), seeding.name_key(spec.data))
    data_gen = seeding.generator(spec.data_seed, root + (seeding.name_key("data"),), "cpu")
    if spec.data == "digits":
        return digits_dataset(spec.n_examples, spec.n_test, data_gen)
    teacher_gen = seeding.generator(spec.data_seed, root + (seeding.name_key("teacher"),), "cpu")
    return synthetic_dataset(spec.n_examples, spec.n_test, spec.input_dim, spec.output_dim, spec.noise,
                             teacher_gen, data_gen)


def tracked_steps(steps: int, points: int) -> list[int]:
    """0 and about `points` log-spaced steps in [1, steps] (always including `steps`)."""
    grid = np.unique(np.round(np.geomspace(1, steps, points)).astype(int)) if steps > 1 else np.array([1])
    return [0] + [int(t) for t in grid if 1 <= t <= steps]


def progress_total(spec: TrainSpec) -> int:
    """Units `run_training` reports through `progress`: training steps, over all depths."""
    return spec.steps * len(spec.depths)


# --------------------------------------------------------------------------- checkpoints
def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write `state` atomically: tensors as they are, everything else as one JSON document.

    The file is `torch.save` of a flat dict of tensors; the non-tensor entries (JSON-ready
    scalars, lists, dicts) travel as UTF-8 bytes in the tensor "__json__". Written to a
    temporary file in the same folder, flushed to disk and renamed over `path`.
    """
    path = Path(path)
    tensors = {k: v.detach().cpu() for k, v in state.items() if isinstance(v, torch.Tensor)}
    meta = {k: v for k, v in state.items() if not isinstance(v, torch.Tensor)}
    if "__json__" in state:
        raise ValueError("'__json__' is a reserved checkpoint key")
    tensors["__json__"] = torch.frombuffer(bytearray(json.dumps(meta).encode()), dtype=torch.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    with open(tmp, "wb") as handle:
        handle.write(buffer.getvalue())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint` (with `weights_only=True`)."""
    tensors = torch.load(Path(path), map_location="cpu", weights_only=True)
    meta = json.loads(bytes(tensors.pop("__json__").tolist()).decode())
    return {**tensors, **meta}


def checkpoint_path(directory: str | os.PathLike, depth: int) -> Path:
    return Path(directory) / f"train-L{depth}.pt"


def _fingerprint(spec: TrainSpec) -> dict[str, Any]:
    """Settings a checkpoint must agree with to be resumed (all but the depth grid, device and
    memory budget)."""
    out = spec.to_dict()
    for name in ("depths", "device", "memory_gb"):
        out.pop(name)
    return out


# --------------------------------------------------------------------------- one cell
def _floats(values: torch.Tensor | np.ndarray) -> list[float | None]:
    array = values.detach().cpu().to(torch.float64).numpy() if isinstance(values, torch.Tensor) else values
    return [float(v) if np.isfinite(v) else None for v in np.asarray(array, dtype=np.float64).ravel()]


def _summary(values: list[float | None]) -> dict[str, float] | None:
    from resnet_scale_cli.metrics import summarize

    return summarize(np.array([np.nan if v is None else v for v in values], dtype=np.float64))


class _CellRun:
    """The training of S networks at one depth, with everything a checkpoint must hold."""

    HISTORY = ("train_loss", "test_loss", "test_metric", "inc", "inc_V", "inc_W", "dist", "dist_V", "dist_W")

    def __init__(self, spec: TrainSpec, depth: int, data: Dataset) -> None:
        from resnet_scale_cli.dynamics import ACTIVATIONS, MODELS

        self.spec, self.depth = spec, depth
        self.device, self.dtype = spec.torch_device(), spec.torch_dtype()
        self.data = data.to(self.device, self.dtype)
        self.act = ACTIVATIONS[spec.activation]
        self.scale = float(depth) ** (-spec.beta)
        self.layers = net_scheme(spec.net).weight_layers(depth)
        self.lr_factor = depth_lr_factor(depth, spec.beta, spec.lr_scaling) if spec.optimizer != "adam" else 1.0
        self.end_factor = end_layer_lr_factor(spec.net, spec.optimizer, spec.lr_scaling)
        rows = spec.batch_size or spec.n_examples
        self.passes = make_passes(spec.net, spec.model, self.act, self.scale,
                                  (depth, spec.samples, rows, spec.width, spec.hidden_width), self.dtype, self.device)
        self.tracked = tracked_steps(spec.steps, spec.track_points)
        picks = np.unique(np.round(np.linspace(0, len(self.tracked) - 1, min(SNAPSHOT_TIMES, len(self.tracked)))))
        self.snapshot_steps = [self.tracked[int(i)] for i in picks]
        self.key = cell_key(spec, depth)
        self.full = MODELS[spec.model].has_inner_weights
        self.step = 0
        self.finished = False

    # ------------------------------------------------------------------ state
    def _gens(self, purpose: int, device) -> list[torch.Generator]:
        return [seeding.generator(self.spec.seed, self.key + (i, purpose), device) for i in range(self.spec.samples)]

    def _law_weights(self, purpose: int, rows: int, cols: int, fan_in: int) -> torch.Tensor:
        """(K, S, rows, cols) from the law, entries of variance 1/fan_in: a square (n × n) draw,
        n = max(rows, cols), sliced and rescaled (entries are independent paths across depth).
        K = `law_layers` positions: see `law_lengthscale` for the HeunNet's N + 1."""
        from resnet_scale_cli.laws import sample_weights

        spec, n = self.spec, max(rows, cols)
        fine = spec.reference_depth  # --limit-reference: one path on the reference's grid j/fine, sampled at k/L
        layers, ell = (fine, spec.lengthscale) if fine else (self.layers, law_lengthscale(spec, self.depth))
        w = sample_weights(spec.law, layers, n, self._gens(purpose, self.device), layer_major=True, dtype=self.dtype,
                           device=self.device, **(spec.law_settings() | {"lengthscale": ell}))
        if fine:
            stride = fine // self.depth
            w = w[stride - 1::stride]  # θ_k = θ(k/L), k = 1..L: fine layer stride·k
        w = w[:, :, :rows, :cols]
        if n != fan_in:
            w = w * math.sqrt(n / fan_in)
        return w.contiguous()

    def init_fresh(self) -> None:
        spec, S, d, m = self.spec, self.spec.samples, self.spec.width, self.spec.hidden_width
        p, q = self.data.n_inputs, self.data.n_outputs
        if spec.v_init == "zero":
            self.V = torch.zeros((self.layers, S, d, m), dtype=self.dtype, device=self.device)
        else:
            self.V = self._law_weights(seeding.WEIGHTS_V, d, m, m if spec.model == "full" else d)
        self.W = self._law_weights(seeding.WEIGHTS_W, m, d, d) if self.full else None
        self.A = torch.stack([torch.randn((d, p), generator=g, dtype=self.dtype, device=self.device)
                              for g in self._gens(seeding.INPUTS, self.device)]) / math.sqrt(p)
        self.B = torch.stack([torch.randn((q, d), generator=g, dtype=self.dtype, device=self.device)
                              for g in self._gens(seeding.READOUT, self.device)]) / math.sqrt(d)
        self.V0 = self.V.clone()
        self.W0 = self.W.clone() if self.full else None
        self.batch_gens = self._gens(BATCHES, "cpu") if spec.batch_size is not None else []
        self.opt = Optimizer(spec.optimizer, spec.lr * self.lr_factor, self.params())
        f64 = dict(dtype=torch.float64, device=self.device)
        self.alive = torch.ones(S, dtype=torch.bool, device=self.device)
        self.diverged_at = torch.full((S,), -1, dtype=torch.int64, device=self.device)
        self.loss0 = torch.full((S,), math.nan, **f64)
        self.grad_error0 = torch.full((S,), math.nan, **f64)  # the adjoint's relative gradient error at step 0
        self.run_max = torch.zeros((4, S), **f64)  # max over t of: max_k ‖Δθ_k‖, ‖ΔV_k‖, ‖ΔW_k‖, ‖Δ(θ_k − θ_k(0))‖
        self.history = {name: torch.full((len(self.tracked), S), math.nan, **f64) for name in self.HISTORY}
        n_entries = len(self._entries())
        self.snap_V = torch.full((len(self.snapshot_steps), n_entries, self.layers), math.nan, **f64)
        self.snap_W = torch.full_like(self.snap_V, math.nan) if self.full else None
        self.step, self.finished = 0, False

    def params(self) -> list[torch.Tensor]:
        return [self.V, self.W] if self.full else [self.V]

    def _entries(self) -> list[tuple[int, int]]:
        d, m = self.spec.width, self.spec.hidden_width
        return [(i, j) for i, j in SNAPSHOT_ENTRIES if i < d and j < m and i < m and j < d]

    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = {"V": self.V, "V0": self.V0, "A": self.A, "B": self.B, "alive": self.alive,
                               "diverged_at": self.diverged_at, "loss0": self.loss0, "run_max": self.run_max,
                               "snap_V": self.snap_V, "grad_error0": self.grad_error0}
        if self.full:
            out.update(W=self.W, W0=self.W0, snap_W=self.snap_W)
        out.update({f"history_{k}": v for k, v in self.history.items()})
        out.update({f"opt_{k}": v for k, v in self.opt.state().items()})
        if self.batch_gens:
            out["batch_rng"] = torch.stack([g.get_state() for g in self.batch_gens])
        out.update(format=CHECKPOINT_FORMAT, step=self.step, finished=self.finished, depth=self.depth,
                   spec=_fingerprint(self.spec))
        return out

    def load(self, state: dict[str, Any], path: Path) -> None:
        if state.get("format") != CHECKPOINT_FORMAT or state.get("depth") != self.depth:
            raise SpecError(f"--resume: {path} is not a train checkpoint for depth {self.depth}")
        theirs, ours = {"net": "resnet", **(state.get("spec") or {})}, _fingerprint(self.spec)  # written before --net
        if theirs != ours:
            differ = sorted(k for k in ours if theirs.get(k) != ours[k])
            raise SpecError(f"--resume: {path} was written with other settings ({', '.join(differ) or 'format'}); "
                            "use another --out folder")
        self.init_fresh()  # shapes, generators and optimizer, then overwrite with the saved values

        def put(name: str) -> torch.Tensor:
            return state[name].to(self.device)

        for name in ("V", "V0", "A", "B", "alive", "diverged_at", "loss0", "run_max", "snap_V"):
            setattr(self, name, put(name))
        if "grad_error0" in state:
            self.grad_error0 = put("grad_error0")
        if self.full:
            self.W, self.W0, self.snap_W = put("W"), put("W0"), put("snap_W")
        self.history = {k: put(f"history_{k}") for k in self.HISTORY}
        self.opt = Optimizer(self.spec.optimizer, self.spec.lr * self.lr_factor, self.params())
        self.opt.load({k[4:]: put(k) for k in state if k.startswith("opt_")})
        for g, s in zip(self.batch_gens, state.get("batch_rng", [])):
            g.set_state(s.clone())
        self.step, self.finished = int(state["step"]), bool(state["finished"])

    # ------------------------------------------------------------------ passes
    def _h0(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(x, self.A.mT)  # (S, n, d)

    def _outputs(self, h0: torch.Tensor) -> torch.Tensor:
        return torch.bmm(self.passes.evaluate(self.V, self.W, h0), self.B.mT)

    def _batch(self, h0_train: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.batch_gens:
            return h0_train, self.data.y_train
        b, n = self.spec.batch_size, self.spec.n_examples
        idx = torch.stack([torch.randperm(n, generator=g)[:b] for g in self.batch_gens]).to(self.device)
        rows = torch.arange(self.spec.samples, device=self.device).unsqueeze(1)
        return h0_train[rows, idx], self.data.y_train[idx]

    def _record(self, j: int, train_loss: torch.Tensor, incs) -> None:
        task = self.data.task
        F_test = self._outputs(self._h0(self.data.x_test))
        test_loss, _ = loss_and_grad(task, F_test, self.data.y_test, with_grad=False)
        dv = (self.V - self.V0).square().sum(dim=(0, 2, 3))
        dw = (self.W - self.W0).square().sum(dim=(0, 2, 3)) if self.full else torch.zeros_like(dv)
        values = {"train_loss": train_loss, "test_loss": test_loss, "test_metric": test_metric(task, F_test, self.data.y_test),
                  "inc": incs[0], "inc_V": incs[1], "inc_W": incs[2] if incs[2] is not None else torch.full_like(dv, math.nan),
                  "dist": (dv + dw).sqrt(), "dist_V": dv.sqrt(), "dist_W": dw.sqrt() if self.full else torch.full_like(dv, math.nan)}
        for name, v in values.items():
            self.history[name][j] = torch.where(self.alive, v.to(torch.float64), math.nan)
        if self.tracked[j] in self.snapshot_steps:
            s = self.snapshot_steps.index(self.tracked[j])
            for e, (i, jj) in enumerate(self._entries()):
                self.snap_V[s, e] = self.V[:, 0, i, jj].to(torch.float64)
                if self.full:
                    self.snap_W[s, e] = self.W[:, 0, i, jj].to(torch.float64)

    def run(self, progress: Callable[[int], None] | None, save: Callable[[], None] | None, every: int) -> None:
        spec, task = self.spec, self.data.task
        h0_train = self._h0(self.data.x_train)
        if self.finished:
            return
        t = self.step
        adjoint = spec.backprop == "adjoint"
        store = not adjoint or t == 0  # the adjoint stores the states for step 0's error check only
        while True:
            h0, y = self._batch(h0_train)
            last = t == spec.steps
            h = self.passes.forward(self.V, self.W, h0, store=store)
            loss, g_F = loss_and_grad(task, torch.bmm(h, self.B.mT), y, with_grad=not last)
            tracked = t in self.tracked
            if tracked or t == 0:
                full_loss = loss if not self.batch_gens else loss_and_grad(task, self._outputs(h0_train), self.data.y_train,
                                                                            with_grad=False)[0]
                if t == 0:
                    self.loss0 = full_loss.to(torch.float64)
            bad = ~torch.isfinite(loss) | (loss.to(torch.float64) > DIVERGENCE_FACTOR * (1.0 + self.loss0))
            self.diverged_at = torch.where(self.alive & bad, t, self.diverged_at)
            self.alive &= ~bad
            incs = max_increments(self.V, self.W)
            update = max_increments(self.V - self.V0, self.W - self.W0 if self.full else None)[0]
            joint = torch.stack([incs[0], incs[1], incs[2] if incs[2] is not None else torch.zeros_like(incs[0]), update])
            self.run_max = torch.where(self.alive, torch.maximum(self.run_max, joint.to(torch.float64)), self.run_max)
            if tracked:
                self._record(self.tracked.index(t), full_loss, incs)
            if last or not bool(self.alive.any()):
                break
            p_last = torch.bmm(g_F, self.B)
            if adjoint:
                grads = self.passes.adjoint(h, p_last)
                if store:  # step 0: the adjoint's relative error against exact backpropagation
                    exact = self.passes.exact(p_last)
                    self.grad_error0 = relative_gradient_error(grads, exact).to(torch.float64)
                    self.passes.release()
                    store = False
            else:
                grads = self.passes.exact(p_last)
            scale_end_layers(grads, self.end_factor)  # HeunNet under gd/sgd: trapezoid end weights
            self.opt.step(self.params(), [g for g in grads if g is not None], self.alive)
            t += 1
            self.step = t
            if save is not None and every and t % every == 0 and t < spec.steps:
                save()
            if progress is not None:
                progress(1)
        if progress is not None and spec.steps > t:
            progress(spec.steps - t)  # every network diverged: the remaining steps are skipped
        self.step, self.finished = t, True

    # ------------------------------------------------------------------ record
    def _trained(self) -> str:
        theta = "(V_k, W_k)" if self.full else "V_k"
        if self.spec.net == "heunnet":
            return f"residual weights θ_k = {theta}, k = 0..N (N + 1 layers of the HeunNet)"
        return f"residual weights θ_k = {theta}"

    def record(self, seconds: float, resumed_from: int | None) -> dict[str, Any]:
        spec, task = self.spec, self.data.task
        alive = self.alive.cpu().numpy()
        diverged_at = self.diverged_at.cpu().numpy()

        def final(name: str) -> list[float | None]:
            return [v if ok else None for v, ok in zip(_floats(self.history[name][-1]), alive)]

        run_max = [[v if ok else None for v, ok in zip(_floats(row), alive)] for row in self.run_max]
        values: dict[str, Any] = {
            "max_weight_increment": run_max[0],
            "max_weight_increment_V": run_max[1],
            "max_update_increment": run_max[3],
            "initial_weight_increment": _floats(self.history["inc"][0]),
            "initial_loss": _floats(self.loss0),
            "final_loss": final("train_loss"),
            "test_loss": final("test_loss"),
            "test_metric": final("test_metric"),
            "distance_from_init": final("dist"),
            "diverged_at": [int(s) if s >= 0 else None for s in diverged_at],
            "adjoint_gradient_error": (_floats(self.grad_error0) if spec.backprop == "adjoint" else None),
        }
        if self.full:
            values["max_weight_increment_W"] = run_max[2]
        history = {"steps": self.tracked}
        names = {"train_loss": "train_loss", "test_loss": "test_loss", "test_metric": "test_metric"}
        for out, name in names.items():
            history[out] = [_floats(row) for row in self.history[name]]
        for out, prefix in (("max_increment", "inc"), ("distance_from_init", "dist")):
            history[out] = {"overall": [_floats(r) for r in self.history[prefix]],
                            "V": [_floats(r) for r in self.history[f"{prefix}_V"]]}
            if self.full:
                history[out]["W"] = [_floats(r) for r in self.history[f"{prefix}_W"]]
        snapshots = {"steps": self.snapshot_steps, "sample": 0, "entries": [list(e) for e in self._entries()],
                     "k_over_L": layer_times(spec, self.depth),
                     "V": [[_floats(e) for e in s] for s in self.snap_V]}
        if self.full:
            snapshots["W"] = [[_floats(e) for e in s] for s in self.snap_W]
        n_diverged = int((~alive).sum())
        time_step = spec.lr * self.lr_factor / self.depth if spec.optimizer != "adam" else None
        return {
            "cell": {"depth": self.depth},
            "max_weight_increment": _summary(values["max_weight_increment"]),
            "final_loss": _summary(values["final_loss"]),
            "max_update_increment": _summary(values["max_update_increment"]),
            "test_metric": _summary(values["test_metric"]),
            "test_loss": _summary(values["test_loss"]),
            "initial_loss": _summary(values["initial_loss"]),
            "distance_from_init": _summary(values["distance_from_init"]),
            "diverged": n_diverged,
            "adjoint_gradient_error": (_summary(values["adjoint_gradient_error"])
                                       if spec.backprop == "adjoint" else None),
            "samples": spec.samples,
            "history": history,
            "snapshots": snapshots,
            "values": values,
            "info": {
                "device": str(self.device),
                "task": task,
                "loss": LOSS_NAMES[task],
                "test_metric": METRIC_NAMES[task],
                "data": self.data.description,
                "trained": self._trained(),
                "fixed": "embedding A (d × p, entries N(0, 1/p)) and readout B (q × d, entries N(0, 1/d))",
                "hidden_width": spec.hidden_width,
                "net": spec.net,
                "weight_layers": self.layers,
                "backprop": spec.backprop,
                "residual_scale": self.scale,
                "lr_factor": self.lr_factor,
                "lr_effective": spec.lr * self.lr_factor,
                "end_layer_lr_factor": self.end_factor,
                "rescaled_time_step": time_step,
                "time_horizon": time_step * spec.steps if time_step is not None else None,
                "steps_done": self.step,
                "resumed_from": resumed_from,
                "seconds": seconds,
            },
        }


def measure_training_cell(spec: TrainSpec, depth: int, *, progress: Callable[[int], None] | None = None,
                          checkpoint_dir: str | os.PathLike | None = None, checkpoint_every: int = 100,
                          data: Dataset | None = None) -> dict[str, Any]:
    """Train `spec.samples` networks of depth `depth` (one per seed, on the batch axis) and return
    the cell's JSON-ready record (see the module docstring and docs/training.md).

    With `checkpoint_dir`, the training state (weights, optimizer, minibatch RNG, running
    statistics) is written atomically every `checkpoint_every` steps and at the end to
    `checkpoint_dir/train-L<depth>.pt`; a run started again with the same folder resumes from it
    and ends bit-identical (on the same device) to an uninterrupted one. `progress(n)` is called
    with training steps done.
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 2:
        raise SpecError(f"--depth values must be whole numbers of at least 2, got {depth!r}")
    if checkpoint_dir is not None:
        _whole(checkpoint_every, "--checkpoint-every", 1)
    start = time.perf_counter()
    data = data if data is not None else load_dataset(spec)
    cell = _CellRun(spec, depth, data)
    with torch.no_grad(), _threads(cell):
        _train(cell, progress, checkpoint_dir, checkpoint_every)
        record = cell.record(time.perf_counter() - start, cell.resumed_from)
        if spec.limit_reference is not None:
            add_limit_distances(record, cell, reference_cell(spec, data, checkpoint_dir, checkpoint_every))
    return record


def _threads(cell: "_CellRun"):
    """One CPU thread for small layer products (see SINGLE_THREAD_BELOW), restored afterwards."""
    spec = cell.spec
    work = spec.samples * (spec.batch_size or spec.n_examples) * spec.width * spec.hidden_width
    return one_thread_below(cell.device, work, SINGLE_THREAD_BELOW)


def _train(cell: "_CellRun", progress, checkpoint_dir, checkpoint_every: int) -> None:
    """Train the cell, from its checkpoint in `checkpoint_dir` when there is one (`cell.resumed_from`
    is then the step it resumed from), checkpointing as it goes."""
    path = checkpoint_path(checkpoint_dir, cell.depth) if checkpoint_dir is not None else None
    cell.resumed_from = None
    if path is not None and path.exists():
        cell.load(load_checkpoint(path), path)
        cell.resumed_from = cell.step
        if progress is not None and cell.step:
            progress(cell.step)
    else:
        cell.init_fresh()
    save = (lambda: save_checkpoint(path, cell.state())) if path is not None else None
    cell.run(progress, save, checkpoint_every)
    if save is not None:
        save()


# --------------------------------------------------------------------------- the trained limit
#: the reference network of the last spec asked for, kept for the other depths of the same run
_REFERENCE: dict[str, Any] = {}


def reference_cell(spec: TrainSpec, data: Dataset, checkpoint_dir=None, checkpoint_every: int = 100) -> "_CellRun":
    """The trained reference of `--limit-reference R`: the same networks (A, B, the same path θ(s)
    sampled at j/(R·L_max)) trained at depth R·L_max. Trained once per process and settings (or read
    back from its finished checkpoint `train-L<R·L_max>.pt` under `checkpoint_dir`); its progress is
    not reported."""
    key = json.dumps({**spec.to_dict(), "depths": None, "memory_gb": None, "reference_depth": spec.reference_depth})
    if _REFERENCE.get("key") != key:
        _REFERENCE.clear()
        cell = _CellRun(spec, spec.reference_depth, data)
        with torch.no_grad(), _threads(cell):
            _train(cell, None, checkpoint_dir, checkpoint_every)
        _REFERENCE.update(key=key, cell=cell)
    return _REFERENCE["cell"]


def sampled_states(cell: "_CellRun", h0: torch.Tensor, every: int) -> torch.Tensor:
    """h_0, h_every, h_2·every, …, h_L of the cell's trained networks from h0 (S, n, d):
    (L/every + 1, S, n, d), h_{k+1} = h_k + L^{-β} f(h_k, θ_{k+1})."""
    return torch.stack(euler_states(cell.V * cell.scale, cell.W, cell.spec.model, cell.act, h0, every))


LIMIT_WEIGHTS = ("max over k of ‖θ^L_k(T) − θ^ref(k/L, T)‖_F (V and W together), the reference of depth R·L_max "
                 "trained from the same path θ(s)")
LIMIT_STATES = ("max over k = 0..L and over the training inputs of ‖h^L_k − h^ref(k/L)‖ / ‖h_0‖ after training")


def add_limit_distances(record: dict[str, Any], cell: "_CellRun", ref: "_CellRun") -> None:
    """Per network, the trained depth-L net's distance to the trained reference at the same s = k/L:
    `values.limit_weights` = max_k ‖θ^L_k − θ^ref_{s·k}‖_F (V, W together; s = R·L_max/L) and
    `values.limit_states` = max_{k, x} ‖h^L_k(x) − h^ref_{s·k}(x)‖ / ‖h_0(x)‖ on the training inputs;
    None where either network diverged. Also `values.limit_reference_final_loss`."""
    stride = ref.depth // cell.depth
    pick = slice(stride - 1, None, stride)
    gap = (cell.V - ref.V[pick]).to(torch.float64).square().sum(dim=(2, 3))
    if cell.full:
        gap = gap + (cell.W - ref.W[pick]).to(torch.float64).square().sum(dim=(2, 3))
    weights = gap.sqrt().amax(dim=0)  # (S,)
    h0 = cell._h0(cell.data.x_train)
    states = sampled_states(cell, h0, 1)
    ref_states = sampled_states(ref, h0, stride)  # ref and cell share A, so the same h_0
    norm = h0.to(torch.float64).norm(dim=-1).clamp_min(torch.finfo(torch.float64).tiny)  # (S, n)
    rel = (states - ref_states).to(torch.float64).norm(dim=-1) / norm  # (L + 1, S, n)
    states_max = rel.amax(dim=(0, 2))
    alive = (cell.alive & ref.alive).cpu().numpy()
    ref_loss = ref.history["train_loss"][-1]
    record["values"].update(
        limit_weights=[v if ok else None for v, ok in zip(_floats(weights), alive)],
        limit_states=[v if ok else None for v, ok in zip(_floats(states_max), alive)],
        limit_reference_final_loss=[v if ok else None for v, ok in zip(_floats(ref_loss), ref.alive.cpu().numpy())],
    )
    record["limit_weights"] = _summary(record["values"]["limit_weights"])
    record["limit_states"] = _summary(record["values"]["limit_states"])
    record["info"]["limit_reference_depth"] = ref.depth


# --------------------------------------------------------------------------- theory and summary
PAPER = "Marion, Wu, Sander & Biau 2024, implicit regularization of ResNets towards neural ODEs"
LINEAR_PAPER = "Sander, Ablin & Peyré 2022, Prop. 2, linear residuals"


def training_theory(spec: TrainSpec) -> dict[str, Any]:
    """The reference exponent of max_{k,t} ‖θ_{k+1}(t) − θ_k(t)‖ against L, with its basis, and
    the conditions it rests on (each True/False for this spec)."""
    conditions = {
        "initialization smooth in k/L or tied": spec.law in ("tied", "rbf"),
        "beta = 1": spec.beta == 1.0,
        "smooth activation (Lipschitz derivative)": spec.model == "linear" or spec.activation in SMOOTH_ACTIVATIONS,
        "gradient flow: full-batch gd with the depth-scaled learning rate": spec.optimizer == "gd" and spec.lr_scaling == "depth",
    }
    if spec.law == "iid":
        return {"value": None, "basis": None, "conditions": conditions,
                "note": "none stated for i.i.d. initialization: θ_{k+1}(0) − θ_k(0) is of order one, so the "
                        "exponent is expected near 0"}
    if spec.law == "fbm":
        return {"value": None, "basis": None, "conditions": conditions,
                "note": "none stated for fBm initialization: the weights are fractional Gaussian noise (unit-variance "
                        "increments of fBm, lag-one correlation 2^(2H−1) − 1 whatever L), so θ_{k+1}(0) − θ_k(0) is of "
                        "order one and the exponent is expected near 0"}
    failed = [name for name, ok in conditions.items() if not ok]
    if failed:
        note = "no theorem: " + "; ".join(f"not {name}" for name in failed)
        if spec.optimizer == "sgd" and failed == ["gradient flow: full-batch gd with the depth-scaled learning rate"] \
                and spec.lr_scaling == "depth":
            return {"value": -1.0, "basis": "first-order argument (each minibatch step's gradient is Lipschitz in k/L "
                                            "when the weights are; the theorem is for gradient flow)",
                    "conditions": conditions, "note": note}
        return {"value": None, "basis": None, "conditions": conditions, "note": note}
    if spec.net == "heunnet":
        basis = HEUN_BASIS
    elif spec.model == "full":
        basis = (f"theorem ({PAPER}; max_{{k,t}} ‖θ_{{k+1}}(t) − θ_k(t)‖ = O(1/L), residuals V σ(W h), "
                 "gradient flow in rescaled time; over a finite horizon T = η·steps, uniformly in time in the PL regime)")
    elif spec.model == "linear":
        basis = (f"theorem ({LINEAR_PAPER}; ‖θ_{{k+1}}(t) − θ_k(t)‖ = O(1/L) uniformly in t, under its Assumption 1: "
                 "small initial loss and bounded weights, not checked here)")
    else:
        basis = "first-order argument (the theorem is stated for V σ(W h) residuals; the same bound on consecutive gradients applies to V σ(h))"
    note = None
    if spec.law == "rbf" and min(spec.depths) * spec.lengthscale < RBF_RESOLVED:
        note = (f"asymptotic in L·ℓ: at the smallest depth L·ℓ = {min(spec.depths) * spec.lengthscale:g} < {RBF_RESOLVED:g}, "
                "so the RBF draw is not yet smooth on the layer grid (its increments are ∝ 1/(L ℓ) only for L ℓ ≫ 1) and "
                "the small depths pull the fitted exponent above −1: read the pairwise slopes, or use larger depths or ℓ")
    return {"value": -1.0, "basis": basis, "conditions": conditions, "note": note}


HEUN_BASIS = ("first-order argument (the theorems are for Euler ResNets; for the HeunNet, with the end layers' step "
              "doubled, the step of θ_n is the functional gradient of the neural ODE at n/N plus O(1/N), Lipschitz in n/N "
              "when the weights are, so the increments stay O(1/N) over a finite horizon)")

#: an RBF initialization is resolved by the layer grid when L·ℓ is at least this: the lag-one
#: increment √(2(1 − exp(−1/(2 L²ℓ²)))) is then within 3 % of its asymptote 1/(L ℓ)
RBF_RESOLVED = 2.0


def pl_regime(spec: TrainSpec) -> dict[str, Any]:
    """Whether the run is in the paper's Polyak–Łojasiewicz regime (linear overparameterization:
    hidden width m at least the number of training examples n), for the full model."""
    m, n = spec.hidden_width, spec.n_examples
    return {
        "pl": (m >= n) if spec.model == "full" else None,
        "hidden_width": m,
        "n_examples": n,
        "condition": "hidden width m ≥ number of training examples n (linear overparameterization; the PL "
                     "condition that makes the O(1/L) bound uniform in training time)",
        "note": None if spec.model == "full" else f"the PL result is stated for V σ(W h) residuals, not {spec.model}",
    }


def _fit(spec: TrainSpec, depths: list[int], samples: list[list[float | None]], key: str) -> dict[str, Any] | None:
    from resnet_scale_cli.analysis import power_law_fit

    usable = [(L, [v for v in s if v is not None and v > 0]) for L, s in zip(depths, samples)]
    usable = [(L, s) for L, s in usable if s]
    if len(usable) < 2:
        return None
    return power_law_fit([L for L, _ in usable], [s for _, s in usable], seed=spec.seed, key=key)


PAIRED_BOOTSTRAP = 400


def _paired_interval(spec: TrainSpec, depths: list[int], samples: list[list[float | None]],
                     level: float) -> list[float] | None:
    """Percentile-bootstrap interval of the slope that resamples seeds jointly across depths (the
    right resampling when sample i shares its draws across depths, ``depth_seeds = common``);
    seeds without a positive finite value at every depth are left out."""
    arr = np.array([[np.nan if v is None or not v > 0 else v for v in row] for row in samples], dtype=np.float64)
    keep = np.isfinite(arr).all(axis=0)
    if len(depths) < 2 or keep.sum() < 2:
        return None
    y = np.log10(arr[:, keep])  # (depths, seeds)
    x = np.log10(np.asarray(depths, dtype=np.float64))
    rng = np.random.default_rng(seeding.stream_seed(spec.seed, (seeding.name_key("train-exponent-paired"),)))
    pick = rng.integers(0, y.shape[1], (PAIRED_BOOTSTRAP, y.shape[1]))
    medians = np.median(y[:, pick], axis=-1)  # (depths, boot)
    xc = x - x.mean()
    slopes = (xc[:, None] * (medians - medians.mean(axis=0))).sum(axis=0) / (xc**2).sum()
    lo, hi = np.percentile(slopes, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return [float(lo), float(hi)]


UPDATE_QUANTITY = ("max over k and t of ‖(θ_{k+1}(t) − θ_{k+1}(0)) − (θ_k(t) − θ_k(0))‖_F: the smoothness in k of what "
                   "training changed (equal to the main quantity for tied initialization)")


def summarize_training(spec: TrainSpec, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The exponent of max_{k,t} ‖Δθ‖ against L (slope of log10 median on log10 L, bootstrap
    interval over seeds) beside the theory, per tensor too, and the PL regime. Uses only the
    records (which may come back from a JSON file).

    `interval` is `analysis.power_law_fit`'s (seeds resampled independently at each depth:
    exact for ``depth_seeds = independent``, conservative for ``common``); with common seeds,
    `paired_interval` resamples seeds jointly across depths (narrower: it also resolves
    finite-depth corrections to the exponent)."""
    records = sorted(records, key=lambda r: r["cell"]["depth"])
    depths = [r["cell"]["depth"] for r in records]
    samples = [r["values"]["max_weight_increment"] for r in records]
    fit = _fit(spec, depths, samples, "train-exponent")
    theory = training_theory(spec)
    per_tensor = {}
    for name in ("V", "W"):
        column = f"max_weight_increment_{name}"
        if records and column in records[0]["values"]:
            sub = _fit(spec, depths, [r["values"][column] for r in records], f"train-exponent-{name}")
            per_tensor[name] = {"estimate": sub["slope"], "interval": sub["interval"]} if sub else None
    changes = [r["values"].get("max_update_increment") for r in records]
    update_fit = _fit(spec, depths, changes, "train-exponent-update") if all(c is not None for c in changes) else None
    update = {"estimate": update_fit["slope"] if update_fit else None,
              "interval": update_fit["interval"] if update_fit else None,
              "pairwise": [p["slope"] for p in update_fit["pairwise"]] if update_fit else [],
              "quantity": UPDATE_QUANTITY}
    interval = fit["interval"] if fit else None
    inside = None
    if fit and theory["value"] is not None:
        inside = bool(interval[0] <= theory["value"] <= interval[1])
    exponent = {
        "estimate": fit["slope"] if fit else None,
        "interval": interval,
        "paired_interval": _paired_interval(spec, depths, samples, fit["level"])
        if fit and spec.depth_seeds == "common" else None,
        "depth_seeds": spec.depth_seeds,
        "theory": theory["value"],
        "basis": theory["basis"],
        "theory_in_interval": inside,
        "conditions": theory["conditions"],
        "note": theory["note"] if fit else "fewer than two depths with a finite, positive increment: no fit",
        "quantity": "max over k and t of ‖θ_{k+1}(t) − θ_k(t)‖_F (V and W together), median over seeds",
        "statistic": "median",
        "level": fit["level"] if fit else None,
        "depths": depths,
        "pairwise": fit["pairwise"] if fit else [],
        "per_tensor": per_tensor,
        "update": update,
    }
    metric = ({"test_metric": records[0]["info"]["test_metric"], "loss": records[0]["info"]["loss"]} if records else None)
    return {"results": [result_row(r) for r in records], "exponent": exponent, "regime": pl_regime(spec),
            "diverged": sum(r["diverged"] for r in records), "metric": metric, "limit": summarize_limit(spec, records)}


LIMIT_PAPER = (f"theorem ({PAPER}: over a finite horizon the trained ResNet's weights and states are within O(1/L) of "
               "the trained neural ODE's, for tied or smooth initialization, β = 1, σ with a Lipschitz derivative, "
               "gradient flow)")


def limit_theory(spec: TrainSpec) -> dict[str, Any]:
    """The reference rate of the distance to the trained limit against L: 1 for tied and rbf
    initialization under the theorem's conditions (β = 1 and gd are enforced by the flag), none for iid."""
    smooth = spec.model == "linear" or spec.activation in SMOOTH_ACTIVATIONS
    if spec.law == "iid":
        return {"theory": None, "basis": None,
                "note": "none for i.i.d. initialization: the sampled path has no limit θ(s) (contrast)"}
    if not smooth:
        return {"theory": None, "basis": None, "note": "no theorem: σ' is not Lipschitz"}
    return {"theory": 1.0, "basis": LIMIT_PAPER, "note": None}


def summarize_limit(spec: TrainSpec, records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The `limit` block of `--limit-reference R` (None without it), from the records alone: per depth the
    median and spread over networks of the two distances to the trained reference, and each distance's
    rate r (distance ∝ L^(−r): the negated slope of `analysis.power_law_fit`, bootstrap over networks
    resampled at each depth; `paired_interval` resamples networks jointly across depths, as every depth
    discretizes the same network's θ(s))."""
    if spec.limit_reference is None:
        return None
    from resnet_scale_cli.analysis.rates import decay_rate

    records = sorted(records, key=lambda r: r["cell"]["depth"])
    depths = [r["cell"]["depth"] for r in records]
    theory = limit_theory(spec)

    def rate(quantity: str) -> dict[str, Any] | None:
        samples = [[v for v in r["values"].get(f"limit_{quantity}") or [] if v is not None] for r in records]
        # None with fewer than two depths, or a depth with no positive distance (e.g. tied, no training)
        fit = decay_rate(depths, samples, seed=spec.seed, key=f"train-limit-{quantity}")
        if fit is None:
            return None
        lo, hi = fit["interval"]
        inside = None if theory["theory"] is None else bool(lo <= theory["theory"] <= hi)
        values = [r["values"].get(f"limit_{quantity}") or [] for r in records]
        paired = _paired_interval(spec, depths, values, fit["level"]) if len({len(v) for v in values}) == 1 else None
        return {**fit, "paired_interval": [-paired[1], -paired[0]] if paired else None, **theory,
                "theory_in_interval": inside}

    ref_loss = records[0]["values"].get("limit_reference_final_loss") if records else None
    return {
        "factor": spec.limit_reference,
        "reference_depth": spec.reference_depth,
        "initialization": {"tied": "one constant θ(s) = θ", "rbf": "one Gaussian-process path θ(s), the same at every depth",
                           "iid": "one i.i.d. path on the reference's grid, subsampled (contrast: no limit)"}[spec.law],
        "quantities": {"weights": LIMIT_WEIGHTS, "states": LIMIT_STATES},
        "results": [{"depth": L, "weights": r.get("limit_weights"), "states": r.get("limit_states"),
                     "values": {q: r["values"].get(f"limit_{q}") for q in ("weights", "states")}}
                    for L, r in zip(depths, records)],
        "reference": {"depth": spec.reference_depth, "final_loss": _summary(ref_loss) if ref_loss else None,
                      "diverged": sum(v is None for v in ref_loss) if ref_loss else None},
        "rates": {"weights": rate("weights"), "states": rate("states")},
    }


#: the contract's fields of a `results[]` entry, first; then the rest of the cell's record
RESULT_FIELDS = ("max_weight_increment", "final_loss", "test_metric", "diverged")


def result_row(record: dict[str, Any]) -> dict[str, Any]:
    """The per-depth entry of `results[]`: the contract's fields (`depth`, `max_weight_increment`,
    `final_loss`, `test_metric`, `diverged`), the steps at which networks diverged, then the rest
    of the cell's record (other statistics, per-seed `values`, `history`, `snapshots`, `info`)."""
    row = {"depth": record["cell"]["depth"], **{k: record[k] for k in RESULT_FIELDS},
           "diverged_at": [s for s in record["values"]["diverged_at"] if s is not None]}
    row.update((k, v) for k, v in record.items() if k not in row and k != "cell")
    return row


def run_training(spec: TrainSpec, *, progress: Callable[[int], None] | None = None,
                 checkpoint_dir: str | os.PathLike | None = None, checkpoint_every: int = 100) -> dict[str, Any]:
    """Every depth of the spec, then the summary: the JSON document of `rscale train` without
    `command` and `versions` (`spec`, `results[]`, `exponent`, `regime`, `diverged`, `metric`).
    `api.train` is the same with the store of `--out`, `--resume` and the document's envelope."""
    data = load_dataset(spec)
    records = [measure_training_cell(spec, depth, progress=progress, checkpoint_dir=checkpoint_dir,
                                     checkpoint_every=checkpoint_every, data=data) for depth in spec.depths]
    return {"spec": spec.to_dict(), **summarize_training(spec, records)}
