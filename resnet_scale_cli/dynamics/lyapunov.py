"""Log singular values of the input–output Jacobian J_L = ∂h_L/∂h_0, exact far past the float range.

Why not the tangent pass as it is: `--grad-method tangent` carries the d columns J_L e_i, each
row with its own power-of-two exponent. That keeps every column's *norm* exact, but not the small
directions: below the critical β all columns turn towards the top singular direction, and once
σ_max/σ_min passes 1/ε (≈ 10^16 in float64; β = 0.1, L = 4000 reaches 10^330) the information
about σ_min has cancelled out of the columns. So this module runs the same engine pass
(`recursion.forward`, tangents as extra rows) with the standard Lyapunov-spectrum technique on
top: **QR re-orthonormalization of the tangent basis** (the discrete QR / Benettin method).

- The tangent rows start as an orthonormal basis q_1..q_d; after a segment M of layers the engine
  returns the rows (M q_i)ᵀ 2^{−e_i} (its own exact per-row carrying). They are factored
  M Q diag(2^{−e}) = Q' R̂ in float64, the rows restart from Q', and R absorbs R̂ diag(2^e).
- J_L = Q · R with R upper triangular kept in graded form R = diag(2^F) U: F (float64) the base-2
  log-scales of R's rows and U with unit-norm rows. Absorbing a segment conjugates R̂ by the
  scales, R̂_ij 2^{g_j − g_i} (j ≥ i), so nothing ever forms 2^F: no overflow, no underflow.
- Segments adapt per β: the QR of a segment loses about `loss` bits (log2 of ‖column‖/|R̂_ii|,
  the conditioning of the segment's columns; it grows about linearly with the segment's length),
  so a β group's next segment is scaled to lose TARGET_BITS/2 (at most doubling, at least a
  quarter of the last one); a segment that lost more than TARGET_BITS is rerun a quarter as
  long (the rows are restored from before it), unless it is one layer. Far from explosion the segments grow
  to hundreds of layers (the QR costs next to nothing); near β = 0 they shrink to a layer.
- The singular values of J_L are those of R: one-sided Jacobi (Hestenes) on the rows of
  diag(2^F) U, each row a float64 mantissa with its own exponent. A rotation of rows a, b
  (F_a ≥ F_b) depends only on ρ = 2^{F_b − F_a} ∈ [0, 1] and the cosine of the mantissas,
  written so that ρ → 0 is the limiting Gram–Schmidt step (no division by ρ). One-sided Jacobi
  gets each singular value of B·D to a relative error of order ε·κ(B) whatever the scales D
  (Demmel & Veselić 1992); one zero-shift QR step in graded form (`precondition`) first makes
  the rows nearly orthogonal.

What is exact: every log singular value, to float64 rounding times the conditioning lost per
segment (≤ 2^TARGET_BITS·ε relative, accumulated over segments), at any L and β. The singular
values of J_L − I come from J_L formed in float64 where every log2 scale F is below
MAX_FORM_BITS; beyond that ‖J_L‖ > 2^MAX_FORM_BITS and σ_max(J_L − I) = σ_max(J_L)(1 + O(2^−60)),
the value reported then (the lower singular values of J_L − I are left NaN there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import torch

from resnet_scale_cli.dynamics.recursion import Network, forward

EPS64 = torch.finfo(torch.float64).eps
#: conditioning (in bits) a segment's QR may lose (segments aim at half of it): about 2^-36
#: relative accuracy per segment in float64
TARGET_BITS = 16.0
#: longest segment between two QR steps (layers)
MAX_SEGMENT = 256  # a power of two
#: largest inversion 2^{g_j − g_i} (j > i) of R's graded row order accepted when absorbing
#: a segment (never seen; such matrices are flagged)
MAX_INVERSION = 960.0
MAX_SWEEPS = 40
#: after preconditioning, matrices whose row scales span at most this many bits go to LAPACK's SVD
DIRECT_BITS = 12.0
#: J_L is formed in float64 (for J_L − I) when every log2 scale is below this
MAX_FORM_BITS = 60.0


@dataclass
class Spectrum:
    """log2 singular values of J_L and of J_L − I for every (draw, state) of a batch.

    log2_sigma (D, S, d) descending; log2_dev (D, S, d) descending (σ of J_L − I);
    bad (D, S) bool: overflowed or not trustworthy (NaN values there); segments (S,) the number
    of QR steps each state group took; loss_bits the largest conditioning lost in one QR."""

    log2_sigma: torch.Tensor
    log2_dev: torch.Tensor
    bad: torch.Tensor
    segments: list[int]
    loss_bits: float


# ----------------------------------------------------------------------------- graded R = diag(2^F) U
def identity_factor(n: int, d: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """R = I as (U, F): U (n, d, d) float64, F (n, d) float64."""
    U = torch.eye(d, dtype=torch.float64, device=device).expand(n, d, d).clone()
    return U, torch.zeros((n, d), dtype=torch.float64, device=device)


def absorb(U: torch.Tensor, F: torch.Tensor, rows: torch.Tensor, exps: torch.Tensor
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One segment M into R = diag(2^F) U, given the segment's tangent rows.

    rows (n, d, d): row i is (M q_i)ᵀ · 2^{−e_i} for the current basis q_1..q_d; exps (n, d) the
    e_i. Returns (Q', U, F, inverted, loss): the new basis as columns of Q' (n, d, d, float64),
    the new factor, a bool (n,) marking an inverted row order beyond 2^MAX_INVERSION, and the
    bits of conditioning the QR lost (n,): max_i log2(‖column i‖ / |R̂_ii|).
    """
    cols = rows.to(torch.float64).mT
    Q, Rh = torch.linalg.qr(cols)
    diag = Rh.diagonal(dim1=-2, dim2=-1).abs()
    loss = (torch.log2(torch.linalg.vector_norm(cols, dim=-2)) - torch.log2(diag)).amax(-1)
    g = exps.to(torch.float64) + F
    diff = g.unsqueeze(-2) - g.unsqueeze(-1)  # [i, j] = g_j − g_i
    upper = torch.ones(diff.shape[-2:], dtype=torch.bool, device=diff.device).triu()
    inverted = (diff.masked_fill(~upper, -math.inf) > MAX_INVERSION).flatten(1).any(-1)
    C = Rh * torch.exp2(diff.clamp(max=MAX_INVERSION)).masked_fill(~upper, 0.0)
    Un = C @ U
    norms = torch.linalg.vector_norm(Un, dim=-1)
    return Q, Un / norms.unsqueeze(-1), g + torch.log2(norms), inverted, loss


def precondition(U: torch.Tensor, F: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Same singular values, rows closer to orthogonal: one zero-shift QR step in graded form.

    Rows are sorted by F (descending; a row permutation keeps the singular values); then
    Uᵀ = Q_B R_B gives σ(diag(2^F) U) = σ(R_B diag(2^F)) = σ(diag(2^F) C) with
    C_ij = (R_B)_ij 2^{F_j − F_i} (j ≥ i): off-diagonal entries shrink by the grading.
    """
    order = F.argsort(dim=-1, descending=True)
    F = F.gather(-1, order)
    U = U.gather(-2, order.unsqueeze(-1).expand_as(U))
    _, Rb = torch.linalg.qr(U.mT)
    diff = F.unsqueeze(-2) - F.unsqueeze(-1)  # [i, j] = F_j − F_i, ≤ 0 above the diagonal
    C = Rb * torch.exp2(diff.clamp(max=0.0)).triu()
    norms = torch.linalg.vector_norm(C, dim=-1)
    return C / norms.unsqueeze(-1), F + torch.log2(norms)


@lru_cache(maxsize=32)
def _round_robin(d: int) -> list[tuple[list[int], list[int]]]:
    """Disjoint index pairs covering every pair once in d−1 (d even) or d (d odd) rounds."""
    n = d + (d % 2)
    players = list(range(n))
    rounds = []
    for _ in range(n - 1):
        pairs = [(players[i], players[n - 1 - i]) for i in range(n // 2)]
        pairs = [(p, q) for p, q in pairs if p < d and q < d]
        rounds.append(([p for p, _ in pairs], [q for _, q in pairs]))
        players = [players[0], players[-1]] + players[1:-1]
    return rounds


def log2_singular_values(U: torch.Tensor, F: torch.Tensor, *, tol: float | None = None,
                         max_sweeps: int = MAX_SWEEPS, direct_bits: float | None = None) -> tuple[torch.Tensor, int]:
    """log2 of the singular values of diag(2^F) U (n, d, d), descending, and the Jacobi sweeps used.

    After `precondition`, a matrix whose scales F span at most `direct_bits` (DIRECT_BITS) goes
    to LAPACK's SVD of diag(2^{F − max F}) U (relative error ≲ ε·2^direct_bits·κ(U), κ(U) ≈ 1
    after preconditioning); the others to one-sided Jacobi on the graded rows (module
    docstring). Matrices whose F or U is not finite give NaN.
    """
    n, d, _ = U.shape
    if d == 1:
        return F + torch.log2(U.abs().squeeze(-1)), 0
    U, F = precondition(U, F)
    bad = ~torch.isfinite(F).all(-1) | ~torch.isfinite(U).flatten(1).all(-1)
    U = torch.where(bad.view(-1, 1, 1), torch.eye(d, dtype=U.dtype, device=U.device), U)
    F = torch.where(bad.view(-1, 1), 0.0, F)
    top = F.amax(-1, keepdim=True)
    spread = top.squeeze(-1) - F.amin(-1)
    direct = spread <= (DIRECT_BITS if direct_bits is None else direct_bits)
    out = torch.log2(torch.linalg.svdvals(torch.exp2(F - top).unsqueeze(-1) * U)) + top
    sweeps = 0
    hard = (~direct).nonzero().squeeze(-1)
    if hard.numel():
        jac, sweeps = _jacobi(U[hard].clone(), F[hard].clone(), tol=4 * d * EPS64 if tol is None else tol,
                              max_sweeps=max_sweeps)
        out[hard] = jac
    return out.masked_fill(bad.unsqueeze(-1), math.nan), sweeps


def _jacobi(U: torch.Tensor, F: torch.Tensor, *, tol: float, max_sweeps: int) -> tuple[torch.Tensor, int]:
    """One-sided Jacobi (Hestenes) on the rows of diag(2^F) U, U (n, d, d) with unit rows:
    log2 singular values (n, d) descending, and the sweeps used."""
    d = U.shape[-1]
    rounds = [(torch.tensor(p, device=U.device), torch.tensor(q, device=U.device)) for p, q in _round_robin(d)]
    sweeps = 0
    for sweeps in range(1, max_sweeps + 1):
        worst = torch.zeros((), dtype=torch.float64, device=U.device)
        for p, q in rounds:
            up, uq, fp, fq = U[:, p], U[:, q], F[:, p], F[:, q]
            big = (fp >= fq).unsqueeze(-1)
            ua, ub = torch.where(big, up, uq), torch.where(big, uq, up)
            fa, fb = torch.maximum(fp, fq), torch.minimum(fp, fq)
            c = (ua * ub).sum(-1)
            active = c.abs() > tol
            worst = torch.maximum(worst, c.abs().amax())
            rho = torch.exp2(fb - fa)
            rz = (rho * rho - 1.0) / (2.0 * torch.where(active, c, 1.0))  # ρζ, ζ = (‖b‖² − ‖a‖²)/(2⟨a, b⟩)
            tau = torch.where(rz >= 0, 1.0, -1.0) / (rz.abs() + torch.sqrt(rho * rho + rz * rz))  # t/ρ
            tau = torch.where(active, tau, 0.0)
            cs = torch.rsqrt(1.0 + (tau * rho) ** 2)
            na = cs.unsqueeze(-1) * (ua - (tau * rho * rho).unsqueeze(-1) * ub)
            nb = cs.unsqueeze(-1) * (tau.unsqueeze(-1) * ua + ub)
            la, lb = torch.linalg.vector_norm(na, dim=-1), torch.linalg.vector_norm(nb, dim=-1)
            na, nb = na / la.unsqueeze(-1), nb / lb.unsqueeze(-1)
            fa, fb = fa + torch.log2(la), fb + torch.log2(lb)
            U[:, p] = torch.where(big, na, nb)
            U[:, q] = torch.where(big, nb, na)
            big = big.squeeze(-1)
            F[:, p] = torch.where(big, fa, fb)
            F[:, q] = torch.where(big, fb, fa)
        if worst.item() <= tol:
            break
    return F.sort(dim=-1, descending=True).values, sweeps


def _deviation(Q: torch.Tensor, U: torch.Tensor, F: torch.Tensor, log2_sigma: torch.Tensor) -> torch.Tensor:
    """log2 singular values of J_L − I, J_L = Q diag(2^F) U: formed in float64 where every
    scale is below 2^MAX_FORM_BITS; elsewhere the top one is σ_max(J_L) (equal to float64
    rounding) and the others are NaN (J_L − I is J_L to within 2^-MAX_FORM_BITS of its norm,
    its lower singular values are not resolved)."""
    n, d, _ = U.shape
    fits = torch.isfinite(F).all(-1) & (F.amax(-1) < MAX_FORM_BITS)
    safe_F = torch.where(fits.unsqueeze(-1), F, 0.0)
    J = Q @ (torch.exp2(safe_F).unsqueeze(-1) * U)
    dev = torch.log2(torch.linalg.svdvals(J - torch.eye(d, dtype=J.dtype, device=J.device)))
    far = torch.full_like(dev, math.nan)
    far[:, 0] = log2_sigma[:, 0]
    return torch.where(fits.unsqueeze(-1), dev, far)


# ----------------------------------------------------------------------------- the pass
def _pow2(n: int) -> int:
    """The largest power of two ≤ n (n ≥ 1)."""
    return 1 << (int(n).bit_length() - 1)


def _next_due(k: int, segment: int, fixed: int | None) -> int:
    """The end of the next segment: adaptive segments (powers of two) end on multiples of their
    length, so the groups' boundaries coincide and the engine runs few separate passes."""
    return k + segment if fixed else (k // segment + 1) * segment


def jacobian_spectrum(net: Network, h0: torch.Tensor, scales: torch.Tensor, *, target_bits: float = TARGET_BITS,
                      max_segment: int = MAX_SEGMENT, fixed_segment: int | None = None,
                      progress: Callable[[int], None] | None = None) -> Spectrum:
    """log2 singular values of J_L = ∂h_L/∂h_0 for every draw and state.

    net: a batch of D draws; h0 (D, S, d) the inputs, one state per β (`scales` (S,) = L^{−β}).
    Runs `recursion.forward` segment by segment with the d tangent rows of each state, then
    re-orthonormalizes them (see the module docstring). `fixed_segment` fixes every segment's
    length (tests); otherwise segments adapt per state group within [1, max_segment].
    """
    D, S, d = h0.shape
    depth = net.depth
    device = h0.device
    dtype = h0.dtype
    eye = torch.eye(d, dtype=dtype, device=device)
    x = torch.cat([h0, eye.expand(D, S, d, d).reshape(D, S * d, d)], dim=1).contiguous()
    exps = torch.zeros((D, S * (d + 1)), dtype=torch.int64, device=device)
    row_scales = torch.cat([scales, scales.repeat_interleave(d)])
    U, F = identity_factor(D * S, d, device)
    U, F = U.view(D, S, d, d), F.view(D, S, d)
    Q = eye.to(torch.float64).expand(D, S, d, d).clone()
    bad = torch.zeros((D, S), dtype=torch.bool, device=device)
    segment = [fixed_segment or 1] * S
    due = list(segment)
    counts = [0] * S
    worst_loss = 0.0
    k = 0
    while k < depth:
        stop = min(min(due), depth)
        rerun = fixed_segment is None  # forward() works on a copy: x, exps still hold the segment's start
        fwd = forward(net, x, row_scales, S, start=k, stop=stop, exps0=exps)
        groups = [g for g in range(S) if due[g] <= stop or stop == depth]
        idx = torch.tensor(groups, device=device)
        n = len(groups)
        rows = fwd.x[:, S:].view(D, S, d, d)[:, idx].reshape(D * n, d, d)  # all due groups in one QR call
        e = fwd.exps[:, S:].view(D, S, d)[:, idx].reshape(D * n, d)
        finite = torch.isfinite(rows).flatten(1).all(-1)
        rows = torch.where(finite.view(-1, 1, 1), rows, eye)
        q, u, f, inverted, loss = absorb(U[:, idx].reshape(D * n, d, d), F[:, idx].reshape(D * n, d), rows, e)
        # an exactly singular segment (a zero column: σ_min = 0, log2 = −∞) loses NaN bits: its state is bad
        lost = loss.masked_fill(~finite | loss.isnan(), 0.0).view(D, n).amax(0).tolist()  # per group
        retry = False
        for g, loss_g in zip(groups, lost):
            if rerun and loss_g > target_bits and stop - k > 1:  # too long: shorten and rerun
                segment[g] = _pow2(max(1, (stop - k) // 4))
                due[g] = _next_due(k, segment[g], None)
                retry = True
        if retry:
            continue
        x, exps = fwd.x, fwd.exps
        if progress is not None:
            progress(stop - k)
        k = stop
        bad[:, idx] |= (~finite | inverted | ~torch.isfinite(f).all(-1)).view(D, n)
        Q[:, idx], U[:, idx], F[:, idx] = q.view(D, n, d, d), u.view(D, n, d, d), f.view(D, n, d)
        x[:, S:].view(D, S, d, d)[:, idx] = q.mT.to(dtype).view(D, n, d, d)
        exps[:, S:].view(D, S, d)[:, idx] = 0
        worst_loss = max([worst_loss, *lost])
        for g, loss_g in zip(groups, lost):
            counts[g] += 1
            if fixed_segment is None:  # aim at target/2 bits (the loss grows about linearly with the length)
                aim = int(segment[g] * (target_bits / 2) / max(loss_g, 1e-3))
                segment[g] = _pow2(max(1, segment[g] // 4, min(aim, 2 * segment[g], max_segment)))
            due[g] = _next_due(k, segment[g], fixed_segment)
    if not net.state_homogeneous:  # σ' of an overflowed state is meaningless
        bad |= ~torch.isfinite(x[:, :S]).all(-1)
    U = torch.where(bad[..., None, None], torch.eye(d, dtype=U.dtype, device=device), U)  # a bad state's factor
    F = torch.where(bad[..., None], torch.zeros_like(F), F)  # may hold NaN (singular J): masked to NaN below
    log2_sigma, _ = log2_singular_values(U.reshape(D * S, d, d), F.reshape(D * S, d))
    log2_dev = _deviation(Q.reshape(D * S, d, d), U.reshape(D * S, d, d), F.reshape(D * S, d), log2_sigma)
    log2_sigma, log2_dev = log2_sigma.view(D, S, d), log2_dev.view(D, S, d)
    nan = torch.full_like(log2_sigma, math.nan)
    return Spectrum(torch.where(bad.unsqueeze(-1), nan, log2_sigma), torch.where(bad.unsqueeze(-1), nan, log2_dev),
                    bad, counts, worst_loss)
