"""One-step schemes on a fixed grid of N steps of size s, each with its reverse step and its
vector-Jacobian product (Sander, Ablin, Peyré, "Do ResNets discretize neural ODEs?"), f the
net's residual map (`dynamics.models`, through `Network.residual` and `Network.vjp`):

- `Euler` (eq. 1), N weight layers: x_{n+1} = x_n + s f(x_n, θ_n);
  reverse Euler (eq. 6): x̃_n = x̃_{n+1} − s f(x̃_{n+1}, θ_n).
- `Heun` (eq. 8), N + 1 weight layers θ_0..θ_N: y_n = x_n + s f(x_n, θ_n),
  x_{n+1} = x_n + (s/2)(f(x_n, θ_n) + f(y_n, θ_{n+1}));
  reverse Heun (eq. 9): ỹ_n = x̃_{n+1} − s f(x̃_{n+1}, θ_{n+1}),
  x̃_n = x̃_{n+1} − (s/2)(f(x̃_{n+1}, θ_{n+1}) + f(ỹ_n, θ_n)).

The base class owns the loops: the forward pass (states stored or not), the exact backward at
stored states and the memory-free backward at states recovered by the reverse step. Importing
it does not import torch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import torch

    from resnet_scale_cli.dynamics.activations import Activation
    from resnet_scale_cli.dynamics.layers import Network
    from resnet_scale_cli.dynamics.models import Model

GradBuffers = tuple["torch.Tensor", "torch.Tensor | None"]


class Scheme:
    """A fixed-grid one-step scheme: `_step_func` x_n → x_{n+1}, `reverse_step` x̃_{n+1} → x̃_n,
    `step_vjp` a_{n+1} → a_n = (∂x_{n+1}/∂x_n)ᵀ a_{n+1}. `order` is its order of convergence,
    `extra_layers` the weight layers beyond one per step, `end_weight` the weight w_0 = w_N of
    the end layers in the quadrature the step applies to θ (∂ℓ/∂θ_n ≈ s w_n δℓ/δθ(n/N))."""

    name: str
    order: int
    extra_layers: int
    end_weight: float

    def weight_layers(self, depth: int) -> int:
        """K weight layers of a net of depth N: N + `extra_layers`."""
        return depth + self.extra_layers

    def layer_times(self, depth: int) -> list[float]:
        """The time in [0, 1] of each weight layer: (j + 1 − `extra_layers`)/N, j = 0..K−1 (Euler's
        θ_k at the end k/N of its step, k = 1..N; Heun's θ_n at n/N, n = 0..N)."""
        return [(j + 1 - self.extra_layers) / depth for j in range(self.weight_layers(depth))]

    def depth(self, net: "Network") -> int:
        """N steps of a net of K weight layers."""
        return net.depth - self.extra_layers

    def _step_func(self, net: "Network", x: "torch.Tensor", n: int, s: float) -> "torch.Tensor":
        raise NotImplementedError

    def reverse_step(self, net: "Network", x_next: "torch.Tensor", n: int, s: float) -> "torch.Tensor":
        raise NotImplementedError

    def step_vjp(self, net: "Network", x: "torch.Tensor", n: int, s: float, a_next: "torch.Tensor",
                 grad_V: "torch.Tensor", grad_W: "torch.Tensor | None") -> "torch.Tensor":
        raise NotImplementedError

    def forward(self, net: "Network", x0: "torch.Tensor", s: float, *,
                store: bool = False) -> tuple["torch.Tensor", "torch.Tensor | None"]:
        """x_N, and the states x_0..x_N as one (N + 1, D, R, d) tensor when `store`."""
        import torch

        depth = self.depth(net)
        states = torch.empty((depth + 1, *x0.shape), dtype=x0.dtype, device=x0.device) if store else None
        x = x0
        if store:
            states[0] = x0
        for n in range(depth):
            x = self._step_func(net, x, n, s)
            if store:
                states[n + 1] = x
        return x, states

    def backward_exact(self, net: "Network", states: "torch.Tensor", a_last: "torch.Tensor", s: float,
                       grads: GradBuffers) -> "torch.Tensor":
        """∂ℓ/∂x_0 from any cotangent a_N = ∂ℓ/∂x_N by a_n = (∂x_{n+1}/∂x_n)ᵀ a_{n+1} at the stored
        inputs x_n = states[n], adding the weight gradients into `grads` = (∂ℓ/∂V, ∂ℓ/∂W)."""
        a = a_last
        del a_last
        for n in reversed(range(self.depth(net))):
            a = self.step_vjp(net, states[n], n, s, a, *grads)
        return a

    def backward_memory_free(self, net: "Network", x_last: "torch.Tensor", a_last: "torch.Tensor", s: float,
                             grads: GradBuffers,
                             on_recovered: Callable[[int, "torch.Tensor"], None] | None = None) -> "torch.Tensor":
        """`backward_exact` at the states x̃_n recovered by the reverse step from x̃_N = x_N (O(1)
        states held); `on_recovered(n, x̃_n)` sees each state."""
        a, x = a_last, x_last
        del a_last  # held no longer than the first step needs it (one state fewer at the peak)
        for n in reversed(range(self.depth(net))):
            x = self.reverse_step(net, x, n, s)
            if on_recovered is not None:
                on_recovered(n, x)
            a = self.step_vjp(net, x, n, s, a, *grads)
        return a


class Euler(Scheme):
    """x_{n+1} = x_n + s f(x_n, θ_n). Step backward (eqs. 3, 7): a_n = a + J_f(x_n, θ_n)ᵀ (s a),
    ∇θ_n += ∂_θ f(x_n, θ_n)ᵀ (s a)."""

    name, order, extra_layers, end_weight = "euler", 1, 0, 1.0

    def _step_func(self, net, x, n, s):
        return x + s * net.residual(x, n)

    def reverse_step(self, net, x_next, n, s):
        return x_next - s * net.residual(x_next, n)

    def step_vjp(self, net, x, n, s, a_next, grad_V, grad_W):
        return a_next + net.vjp(x, n, s * a_next, grad_V, grad_W)

    @staticmethod
    def step_(f: "Model", act: "Activation", x: "torch.Tensor", A: "torch.Tensor", W: "torch.Tensor | None") -> None:
        """x ← x + s f(x, θ) in place with s folded into the step matrix A = s V (rows x (D, 1, d),
        A and W (D, d, d)): a step of the limit integrator, whose A changes from step to step."""
        import torch

        fed = f.fed(act, x, W.mT if W is not None else None)
        if fed is x:  # f = A x (linear, or σ the identity): x is not both input and output of one product
            x.add_(torch.bmm(x, A.mT))
        else:
            x.baddbmm_(fed, A.mT)


class Heun(Scheme):
    """y_n = x_n + s u, x_{n+1} = x_n + (s/2)(u + v), u = f(x_n, θ_n), v = f(y_n, θ_{n+1}) (the
    trapezoid rule in θ: end weights 1/2). Step backward: b = J_f(y_n, θ_{n+1})ᵀ (s/2) a,
    c = (s/2) a + s b, a_n = a + b + J_f(x_n, θ_n)ᵀ c; θ_{n+1} gets ∂_θ vᵀ (s/2) a, θ_n gets ∂_θ uᵀ c."""

    name, order, extra_layers, end_weight = "heun", 2, 1, 0.5

    def _step_func(self, net, x, n, s):
        u = net.residual(x, n)
        y = x + s * u
        return x + (0.5 * s) * (u + net.residual(y, n + 1))

    def reverse_step(self, net, x_next, n, s):
        g = net.residual(x_next, n + 1)
        y = x_next - s * g
        return x_next - (0.5 * s) * (g + net.residual(y, n))

    def step_vjp(self, net, x, n, s, a_next, grad_V, grad_W):
        y = x + s * net.residual(x, n)
        b = net.vjp(y, n + 1, (0.5 * s) * a_next, grad_V, grad_W)
        c = (0.5 * s) * a_next + s * b
        return a_next + b + net.vjp(x, n, c, grad_V, grad_W)


SCHEMES: dict[str, Scheme] = {"euler": Euler(), "heun": Heun()}


def net_scheme(net: str) -> Scheme:
    """The scheme of a net of `rscale adjoint`/`rscale train` (``resnet``: Euler, ``heunnet``: Heun)."""
    from resnet_scale_cli.dynamics.gradients import NETS

    return SCHEMES[NETS[net].scheme]
