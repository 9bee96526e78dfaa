"""The machinery of `rscale train`: data sets, the batched ResNet with its exact backward pass,
and the optimizers. Public names are re-exported by `resnet_scale_cli.experiments.training`.

Model (row form: one row per example, S independent networks on the batch axis)::

    h_0 = A x,    h_{k+1} = h_k + L^{-β} f(h_k, θ_{k+1}),    F(x) = B h_L

with f = V σ(W h) (``full``; V_k ∈ R^{d×m}, W_k ∈ R^{m×d}, m the hidden width),
f = V σ(h) (``simple``) or f = V h (``linear``). Weights are stored layer-major: V (L, S, d, m),
W (L, S, m, d), so that each layer is one batched matrix product over the S networks.

The backward pass is written out (and checked against torch.autograd in the tests): with
p_k = ∂ℓ/∂h_k (rows), z_k = W_k h_k, a_k = σ(z_k) and s = L^{-β},

    e_k = s (p_{k+1} V_k) ⊙ σ'(z_k),     p_k = p_{k+1} + e_k W_k,
    ∂ℓ/∂V_k = s p_{k+1}ᵀ a_k,             ∂ℓ/∂W_k = e_kᵀ h_k,

and the two weight gradients are formed for all k at once after the layer loop (two batched
products over L·S), so the loop does three small products per layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from resnet_scale_cli.dynamics import MODELS, Activation

TASKS = ("regression", "classification")

#: Adam's constants (Kingma & Ba defaults)
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


# --------------------------------------------------------------------------- data
@dataclass
class Dataset:
    """Train/test split. Regression targets are (n, q) floats; classification labels (n,) int64."""

    name: str
    task: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_outputs: int
    description: str

    @property
    def n_inputs(self) -> int:
        return self.x_train.shape[1]

    def to(self, device: torch.device, dtype: torch.dtype) -> "Dataset":
        def move(y: torch.Tensor) -> torch.Tensor:
            return y.to(device) if y.dtype == torch.int64 else y.to(device=device, dtype=dtype)

        return Dataset(self.name, self.task, self.x_train.to(device=device, dtype=dtype), move(self.y_train),
                       self.x_test.to(device=device, dtype=dtype), move(self.y_test), self.n_outputs, self.description)


TEACHER_HIDDEN = 32


def synthetic_dataset(n_train: int, n_test: int, input_dim: int, output_dim: int, noise: float,
                      teacher_gen: torch.Generator, data_gen: torch.Generator) -> Dataset:
    """x ~ N(0, I_p); y = U tanh(T x) / √m_t + noise·ε with a random teacher (T entries N(0, 1/p),
    U entries N(0, 1), m_t = 32 hidden units), drawn on the CPU in float64 from its own stream."""
    f64 = torch.float64
    T = torch.randn((TEACHER_HIDDEN, input_dim), generator=teacher_gen, dtype=f64) / math.sqrt(input_dim)
    U = torch.randn((output_dim, TEACHER_HIDDEN), generator=teacher_gen, dtype=f64)
    x = torch.randn((n_train + n_test, input_dim), generator=data_gen, dtype=f64)
    y = torch.tanh(x @ T.T) @ U.T / math.sqrt(TEACHER_HIDDEN)
    if noise > 0:
        y = y + noise * torch.randn(y.shape, generator=data_gen, dtype=f64)
    return Dataset("synthetic", "regression", x[:n_train], y[:n_train], x[n_train:], y[n_train:], output_dim,
                   f"teacher y = U tanh(T x)/sqrt({TEACHER_HIDDEN}) + {noise}·noise, x ~ N(0, I_{input_dim})")


def digits_dataset(n_train: int, n_test: int, data_gen: torch.Generator) -> Dataset:
    """scikit-learn's bundled 8×8 digits (1797 images, 64 pixels, 10 classes; no download),
    shuffled by the data stream, features standardized with the training split's statistics."""
    from sklearn.datasets import load_digits

    x_all, y_all = load_digits(return_X_y=True)
    x_all = torch.as_tensor(x_all, dtype=torch.float64)
    y_all = torch.as_tensor(y_all, dtype=torch.int64)
    order = torch.randperm(x_all.shape[0], generator=data_gen)
    train, test = order[:n_train], order[n_train:n_train + n_test]
    mean = x_all[train].mean(0)
    std = x_all[train].std(0, correction=1 if n_train > 1 else 0)  # one example: 0, no NaN, no warning
    std = torch.where(std > 0, std, torch.ones_like(std))  # constant border pixels stay 0
    x_all = (x_all - mean) / std
    return Dataset("digits", "classification", x_all[train], y_all[train], x_all[test], y_all[test], 10,
                   "scikit-learn load_digits (8x8 images, 10 classes), standardized pixels")


# --------------------------------------------------------------------------- losses
def loss_and_grad(task: str, F: torch.Tensor, y: torch.Tensor, with_grad: bool = True):
    """Per-network loss (S,) and ∂loss/∂F (S, n, q).

    regression: mean squared error over examples and outputs, (1/(n q)) Σ (F − y)²;
    classification: mean cross-entropy of softmax(F). `y` broadcasts against F's batch axes.
    """
    n = F.shape[1]
    if task == "regression":
        r = F - y
        loss = r.square().mean(dim=(1, 2))
        return loss, (r * (2.0 / (n * F.shape[2])) if with_grad else None)
    labels = y.expand(F.shape[0], n) if y.dim() == 1 else y
    lse = torch.logsumexp(F, dim=-1)
    picked = F.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    loss = (lse - picked).mean(dim=1)
    if not with_grad:
        return loss, None
    g = torch.softmax(F, dim=-1)
    g.scatter_add_(-1, labels.unsqueeze(-1), -torch.ones_like(picked).unsqueeze(-1))
    return loss, g / n


def test_metric(task: str, F: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(S,): R² = 1 − Σ(F − y)²/Σ(y − ȳ)² for regression, accuracy for classification."""
    if task == "regression":
        sst = (y - y.mean(dim=0)).square().sum()
        return 1.0 - (F - y).square().sum(dim=(1, 2)) / sst
    return (F.argmax(dim=-1) == y).to(F.dtype).mean(dim=1)


METRIC_NAMES = {"regression": "r2", "classification": "accuracy"}
LOSS_NAMES = {"regression": "mean squared error", "classification": "cross-entropy"}


# --------------------------------------------------------------------------- passes
class Workspace:
    """Buffers of one training pass at a fixed batch shape, allocated once per cell:
    h_0..h_L and p_0..p_L (L+1, S, n, d), z_k, σ(z_k) and e_k (L, S, n, m): about
    5·L·S·n·max(d, m) numbers. Each layer's slice is contiguous, so the layer loop writes its
    products straight into them (`out=`), and the weight gradients are two batched products."""

    def __init__(self, depth: int, samples: int, n: int, d: int, m: int, model: str, dtype, device) -> None:
        opts = dict(dtype=dtype, device=device)
        self.f = f = MODELS[model]
        self.H = torch.empty((depth + 1, samples, n, d), **opts)
        self.P = torch.empty((depth + 1, samples, n, d), **opts)
        self.E = torch.empty((depth, samples, n, m), **opts)
        self.Z = torch.empty((depth, samples, n, m), **opts) if f.has_inner_weights else self.H[:-1]
        self.A = torch.empty((depth, samples, n, m), **opts) if f.nonlinear else self.H[:-1]
        self.Hs, self.Ps, self.Es = self.H.unbind(0), self.P.unbind(0), self.E.unbind(0)
        self.Zs, self.As = self.Z.unbind(0), self.A.unbind(0)


def forward_store(ws: Workspace, sV: torch.Tensor, W: torch.Tensor | None, act: Activation,
                  h0: torch.Tensor) -> torch.Tensor:
    """h_L (S, n, d) from h_0, keeping every h_k, z_k and σ(z_k) in the workspace.
    `sV` = L^{-β} V (the residual scale folded into V)."""
    f, Hs, Zs, As = ws.f, ws.Hs, ws.Zs, ws.As
    sVt = sV.mT.unbind(0)
    Wt = W.mT.unbind(0) if f.has_inner_weights else None
    Hs[0].copy_(h0)
    for k in range(len(sVt)):
        h = Hs[k]
        z = f.inner(h, Wt[k] if Wt is not None else None, out=Zs[k])
        torch.baddbmm(h, f.activate(act, z, out=As[k]), sVt[k], out=Hs[k + 1])
    return Hs[-1]


def backward_store(ws: Workspace, sV: torch.Tensor, W: torch.Tensor | None, act: Activation, p_last: torch.Tensor,
                   scale: float) -> tuple[torch.Tensor, torch.Tensor | None]:
    """∂ℓ/∂V (L, S, d, m) and ∂ℓ/∂W (L, S, m, d) (None unless ``full``) from p_L = ∂ℓ/∂h_L,
    after `forward_store` on the same workspace."""
    f, Ps, Es, Zs, As = ws.f, ws.Ps, ws.Es, ws.Zs, ws.As
    sVl = sV.unbind(0)
    Wl = W.unbind(0) if f.has_inner_weights else None
    Ps[-1].copy_(p_last)
    for k in reversed(range(len(sVl))):
        p = Ps[k + 1]
        e = torch.bmm(p, sVl[k], out=Es[k])  # L^{-β} p_{k+1} V_k
        if f.nonlinear:
            act.backward_(e, Zs[k], As[k])
        f.add_pullback(p, e, Wl[k] if Wl is not None else None, out=Ps[k])
    grad_V = torch.matmul(ws.P[1:].mT, ws.A).mul_(scale)
    grad_W = torch.matmul(ws.E.mT, ws.H[:-1]) if f.has_inner_weights else None
    return grad_V, grad_W


def backward_adjoint(sV: torch.Tensor, W: torch.Tensor | None, model: str, act: Activation, h_last: torch.Tensor,
                     p_last: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Memory-free gradients (Sander et al., "Do ResNets discretize neural ODEs?", eqs. 6-7):
    the same backward as `backward_store`, but h_k is recovered from h_{k+1} by reverse Euler,
    h̃_k = h̃_{k+1} − L^{-β} f(h̃_{k+1}, θ_k), starting from h̃_L = h_L, instead of being stored.
    O(1) activations are held (no Workspace); the gradients differ from exact backpropagation by
    reverse Euler's error (measured O(1/L) at β = 1 for tied and smooth weights; `rscale train`
    records it at step 0 as ``adjoint_gradient_error``)."""
    f = MODELS[model]
    sVl = sV.unbind(0)
    Wl = W.unbind(0) if f.has_inner_weights else None
    grad_V = torch.empty_like(sV)
    grad_W = torch.empty_like(W) if f.has_inner_weights else None
    h, p = h_last, p_last
    for k in reversed(range(len(sVl))):
        Wk = Wl[k] if Wl is not None else None
        Wk_T = Wk.mT if Wk is not None else None
        h = torch.baddbmm(h, f.fed(act, h, Wk_T), sVl[k].mT, alpha=-1.0)  # reverse Euler: h̃_k
        z = f.inner(h, Wk_T)
        e = torch.bmm(p, sVl[k])
        if f.nonlinear:
            e = e * act.deriv(z)
        torch.matmul(p.mT, f.activate(act, z), out=grad_V[k]).mul_(scale)
        if Wk is not None:
            torch.matmul(e.mT, h, out=grad_W[k])
        p = f.add_pullback(p, e, Wk)
    return grad_V, grad_W


def relative_gradient_error(approx: Sequence[torch.Tensor | None], exact: Sequence[torch.Tensor | None]) -> torch.Tensor:
    """(S,): ‖g̃ − g‖ / ‖g‖ per network, over all trained tensors (layer-major (L, S, ·, ·)) together."""
    num = sum((a - e).square().sum(dim=(0, 2, 3)) for a, e in zip(approx, exact) if e is not None)
    den = sum(e.square().sum(dim=(0, 2, 3)) for e in exact if e is not None)
    return (num / den).sqrt()


def forward_eval(sV: torch.Tensor, W: torch.Tensor | None, model: str, act: Activation, h0: torch.Tensor) -> torch.Tensor:
    """h_L without storing anything (evaluation)."""
    return euler_states(sV, W, model, act, h0)[-1]


def euler_states(sV: torch.Tensor, W: torch.Tensor | None, model: str, act: Activation, h0: torch.Tensor,
                 every: int | None = None) -> list[torch.Tensor]:
    """h_{k+1} = h_k + f(h_k, θ_k) with `sV` = L^{-β} V: [h_L], or with `every`, h_0, h_every,
    h_2·every, …, h_L (nothing else stored)."""
    f = MODELS[model]
    sVt = sV.mT.unbind(0)
    Wt = W.mT.unbind(0) if f.has_inner_weights else None
    out, h = [h0], h0
    for k in range(len(sVt)):
        h = torch.baddbmm(h, f.fed(act, h, Wt[k] if Wt is not None else None), sVt[k])
        if every is not None and (k + 1) % every == 0:
            out.append(h)
    return out if every is not None else [h]


def autograd_gradients(V: torch.Tensor, W: torch.Tensor | None, model: str, act: Activation, h0: torch.Tensor,
                       B: torch.Tensor, y: torch.Tensor, task: str, scale: float):
    """The same gradients by plain torch.autograd through a per-layer loop (the cross-check)."""
    with torch.enable_grad():
        Vr = V.detach().clone().requires_grad_(True)
        Wr = W.detach().clone().requires_grad_(True) if W is not None else None
        h = h0
        f = MODELS[model]
        for k in range(V.shape[0]):
            a = f.activate(act, h @ Wr[k].mT if f.has_inner_weights else h)
            h = h + scale * a @ Vr[k].mT
        loss, _ = loss_and_grad(task, h @ B.mT, y, with_grad=False)
        grads = torch.autograd.grad(loss.sum(), [Vr] + ([Wr] if Wr is not None else []))
    return grads[0], (grads[1] if W is not None else None)


# --------------------------------------------------------------------------- optimizers
def depth_lr_factor(depth: int, beta: float, scaling: str) -> float:
    """c_L with θ_k ← θ_k − η c_L ∂ℓ/∂θ_k: L^{2β−1} (= L at β = 1, gradient flow in rescaled
    time dθ_k/dt = −L ∂ℓ/∂θ_k) for ``depth``, 1 for ``none``."""
    return float(depth) ** (2.0 * beta - 1.0) if scaling == "depth" else 1.0


class Optimizer:
    """Updates a list of layer-major tensors (L, S, ·, ·) in place; networks whose `alive` flag is
    False are left untouched. State is a dict of tensors (for checkpoints)."""

    def __init__(self, name: str, lr: float, params: Sequence[torch.Tensor]) -> None:
        self.name = name
        self.lr = lr
        self.steps = torch.zeros((), dtype=torch.int64)
        if name == "adam":
            self.m = [torch.zeros_like(p) for p in params]
            self.v = [torch.zeros_like(p) for p in params]

    def step(self, params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor], alive: torch.Tensor) -> None:
        mask = alive.view(1, -1, 1, 1)
        self.steps += 1
        if self.name == "adam":
            b1, b2 = ADAM_BETAS
            t = int(self.steps)
            c1, c2 = 1.0 - b1**t, 1.0 - b2**t
            for p, g, m, v in zip(params, grads, self.m, self.v):
                g = torch.where(mask, g, 0.0)
                m.mul_(b1).add_(g, alpha=1.0 - b1)
                v.mul_(b2).addcmul_(g, g, value=1.0 - b2)
                update = (m / c1) / ((v / c2).sqrt_().add_(ADAM_EPS))
                p.sub_(torch.where(mask, update, 0.0), alpha=self.lr)
            return
        for p, g in zip(params, grads):
            p.sub_(torch.where(mask, g, 0.0), alpha=self.lr)

    def state(self) -> dict[str, torch.Tensor]:
        out = {"steps": self.steps.clone()}
        if self.name == "adam":
            out.update({f"m{i}": m for i, m in enumerate(self.m)})
            out.update({f"v{i}": v for i, v in enumerate(self.v)})
        return out

    def load(self, state: dict[str, torch.Tensor]) -> None:
        self.steps = state["steps"].clone()
        if self.name == "adam":
            for i in range(len(self.m)):
                self.m[i].copy_(state[f"m{i}"])
                self.v[i].copy_(state[f"v{i}"])


def max_increments(V: torch.Tensor, W: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """max over k of ‖θ_{k+1} − θ_k‖_F per network (S,): for θ = (V, W) together, V and W.

    The joint norm is that of the concatenated increment, √(‖ΔV_k‖² + ‖ΔW_k‖²), maximized over k
    (a true maximum, not a sum over layers)."""
    dv = (V[1:] - V[:-1]).square().sum(dim=(-2, -1))  # (L-1, S)
    if W is None:
        top = dv.amax(0).sqrt()
        return top, top, None
    dw = (W[1:] - W[:-1]).square().sum(dim=(-2, -1))
    return (dv + dw).amax(0).sqrt(), dv.amax(0).sqrt(), dw.amax(0).sqrt()
