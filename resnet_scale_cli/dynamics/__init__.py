"""The residual recursion h_{k+1} = h_k + L^{-β} f(h_k, θ_{k+1}), batched, with tangents and an
exact reverse pass (`recursion`); the residual maps f with their pullbacks (`models`); the Euler
and Heun schemes with their reverse steps (`schemes`, run by `adjoint`); registries of
activations, models and gradient methods. Importing this package does not import torch: the
recursion is loaded on first use."""

from __future__ import annotations

from resnet_scale_cli.dynamics.activations import ACTIVATIONS, LEAKY_SLOPE, Activation
from resnet_scale_cli.dynamics.gradients import GRAD_METHODS
from resnet_scale_cli.dynamics.models import MODELS
from resnet_scale_cli.lazy import lazy_attributes

_LAZY = {name: "resnet_scale_cli.dynamics.recursion" for name in (
    "Forward", "Network", "RENORM_EVERY", "autograd_gradient", "backward", "forward", "forward_direct")}

__all__ = ["ACTIVATIONS", "GRAD_METHODS", "LEAKY_SLOPE", "MODELS", "Activation", *_LAZY]

__getattr__ = lazy_attributes(__name__, _LAZY)
