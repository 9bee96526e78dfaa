"""Delta carrying (h_k − h_0 kept apart from h_0, `dynamics.recursion`): its cost and what it buys,
measured side by side in one run.

    python benchmarks/precision.py          # best of 5 per variant, interleaved

Cost: the float32 forward pass with d exact tangent probes (full ReLU model, d = 40, L = 1000,
33 β, 8 draws: the tangent pass of `rscale run --grad-method tangent`) with and without
`carry_delta`. Accuracy: log10 ‖h_L − h_0‖/‖h_0‖ at β = 2.5, L = 10⁴ (linear model, 8 draws) in
float32 with and without it, against float64 with delta carrying on the same weights. The last
line printed is one JSON object with the figures.
"""

from __future__ import annotations

import json
import math
import time

import torch

from resnet_scale_cli.dynamics import ACTIVATIONS, Network, forward

REPEATS = 5


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cost() -> dict[str, float]:
    gen = torch.Generator().manual_seed(0)
    L, D, d, n = 1000, 8, 40, 33
    V = torch.randn((L, D, d, d), generator=gen) / math.sqrt(d)
    W = torch.randn((L, D, d, d), generator=gen) / math.sqrt(d)
    net = Network(V, W, "full", ACTIVATIONS["relu"], layer_major=True)
    h0 = torch.randn((D, n, d), generator=gen)
    x0 = torch.cat([h0, torch.eye(d).expand(D, n, d, d).reshape(D, n * d, d)], 1)
    scales = torch.tensor([L ** -(j / 32) for j in range(n)], dtype=torch.float64).repeat_interleave(d + 1)
    scales = torch.cat([scales[:: d + 1], scales.reshape(n, d + 1)[:, 1:].reshape(-1)])
    times: dict[bool, list[float]] = {False: [], True: []}
    forward(net, x0, scales, n)  # warm-up
    for _ in range(REPEATS):
        for carry in (False, True):
            times[carry].append(_timed(lambda: forward(net, x0, scales, n, carry_delta=carry)))
    plain, delta = min(times[False]), min(times[True])
    return {"tangent_forward_plain_s": plain, "tangent_forward_delta_s": delta, "cost_ratio": delta / plain}


def accuracy() -> dict[str, float]:
    gen = torch.Generator().manual_seed(1)
    L, D, d, beta = 10_000, 8, 40, 2.5
    V = torch.randn((L, D, d, d), generator=gen, dtype=torch.float64) / math.sqrt(d)
    h0 = torch.randn((D, 1, d), generator=gen, dtype=torch.float64)
    scales = torch.tensor([L ** -beta], dtype=torch.float64)

    def log_ratio(dtype, carry) -> torch.Tensor:
        net = Network(V.to(dtype), None, "linear", ACTIVATIONS["identity"], layer_major=True)
        x = h0.to(dtype)
        f = forward(net, x, scales, 1, carry_delta=carry)
        diff = f.delta if carry else f.x * torch.exp2(f.exps.to(dtype)).unsqueeze(-1) - x
        e = f.exps.double() if carry else torch.zeros(D, 1, dtype=torch.float64)
        return (torch.log10(torch.linalg.vector_norm(diff.double(), dim=-1)) + e * math.log10(2)
                - torch.log10(torch.linalg.vector_norm(h0, dim=-1)))[:, 0]

    ref = log_ratio(torch.float64, True)
    with_delta, plain = log_ratio(torch.float32, True), log_ratio(torch.float32, False)
    def worst(x: torch.Tensor) -> float | None:  # None: some h_L − h_0 came out exactly 0 (every increment lost)
        err = float((x - ref).abs().max())
        return err if math.isfinite(err) else None

    return {"reference_median_log10": float(ref.median()), "float32_delta_max_error_log10": worst(with_delta),
            "float32_plain_max_error_log10": worst(plain)}


def main() -> None:
    torch.set_num_threads(max(1, torch.get_num_threads()))
    figures = {**cost(), **accuracy()}
    print(f"tangent forward, float32 (L = 1000, d = 40, 33 β × 8 draws): plain {figures['tangent_forward_plain_s']:.3f} s, "
          f"delta carrying {figures['tangent_forward_delta_s']:.3f} s, ratio {figures['cost_ratio']:.3f}")
    def text(err: float | None) -> str:
        return "h_L − h_0 = 0 (every increment lost)" if err is None else f"{err:.2e}"

    print(f"log10 ratio at β = 2.5, L = 10⁴ (median {figures['reference_median_log10']:.3f}): max error float32 with "
          f"delta carrying {text(figures['float32_delta_max_error_log10'])}, plain float32 "
          f"{text(figures['float32_plain_max_error_log10'])}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
