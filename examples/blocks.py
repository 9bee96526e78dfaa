"""Residual blocks for `rscale inspect`: each factory returns an `nn.Module` computing the
residual branch f(h); rscale adds the skip connection and the scale, h_{k+1} = h_k + L^-β f(h_k).

    rscale inspect examples/blocks.py:mlp --width 32 --depth 100,300,1000 --beta 0.25,0.5,1
    rscale inspect examples/blocks.py:pre_ln_mlp --width 32 ...
    rscale inspect examples/blocks.py:basic_block --width 8 --input-shape 8,8,8 ...
    rscale inspect examples/blocks.py:gpt2_mlp --width 32 ...        # takes layer= and depth=

A factory is called as factory(width=d), or factory(width=d, layer=k, depth=L) when its
signature accepts those keywords (k = 0..L-1). The block gets a batch (rows, *input_shape) and
returns the same shape.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class MLPBlock(nn.Module):
    """f(h) = V σ(W h), no bias, V and W of shape (d, d) with entries N(0, 1/d): the built-in
    `full` model (res-3) of rscale, with ReLU (h W^T has the law of W h for i.i.d. entries).

    `rscale_moments` declares the initialization's mean and standard deviation, so that under a
    law (`--law rbf|fbm|tied`, or `--init moments`) rscale uses them exactly instead of
    estimating them; with V first and W second, the law paths are then the built-in engine's
    own V and W draws (same streams), and at one seed `rscale inspect` gives the numbers of
    `rscale run/sweep/phase --model full` to rounding."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.V = nn.Parameter(torch.empty(width, width).normal_(std=width**-0.5))
        self.W = nn.Parameter(torch.empty(width, width).normal_(std=width**-0.5))
        self.rscale_moments = {"V": (0.0, width**-0.5), "W": (0.0, width**-0.5)}

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.relu(h @ self.W.T) @ self.V.T


def mlp(width: int) -> nn.Module:
    """The built-in `full` model as a block: V relu(W h), weights N(0, 1/d)."""
    return MLPBlock(width)


class PreLNMLP(nn.Module):
    """The MLP sub-block of a pre-LayerNorm transformer: f(h) = W_2 GELU(W_1 LN(h) + b_1) + b_2,
    hidden width 4d, PyTorch's default initialization (U(±1/√fan_in) weights and biases)."""

    def __init__(self, width: int, expansion: int = 4) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, expansion * width)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(expansion * width, width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(self.norm(h))))


def pre_ln_mlp(width: int) -> nn.Module:
    """Pre-LN transformer MLP block (LayerNorm on the branch input)."""
    return PreLNMLP(width)


def gpt2_mlp(width: int, layer: int, depth: int) -> nn.Module:
    """The pre-LN MLP block with GPT-2's depth-dependent initialization: N(0, 0.02²) weights,
    zero biases, and the output projection scaled by 1/√(2 · depth) (GPT-2 counts two residual
    branches per layer). Takes layer= and depth=, so rscale builds each layer for its depth."""
    block = PreLNMLP(width)
    for linear in (block.fc1, block.fc2):
        nn.init.normal_(linear.weight, std=0.02)
        nn.init.zeros_(linear.bias)
    with torch.no_grad():
        block.fc2.weight.mul_(1.0 / math.sqrt(2 * depth))
    return block


class BasicBranch(nn.Module):
    """The residual branch of ResNet's BasicBlock without normalization: conv3x3 → ReLU →
    conv3x3, `width` channels, no bias, torchvision's He initialization (normal, fan_out)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        for conv in (self.conv1, self.conv2):
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.relu(self.conv1(h)))


def basic_block(width: int) -> nn.Module:
    """Conv BasicBlock branch without batch norm; inputs (width, H, W), e.g. --input-shape 8,8,8."""
    return BasicBranch(width)
