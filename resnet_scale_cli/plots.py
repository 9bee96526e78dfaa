"""matplotlib figures. The backend is Agg (files only); the format follows the extension."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from resnet_scale_cli.errors import SpecError

FORMATS = (".png", ".pdf", ".svg")


def check_plot_path(path: str | Path, flag: str = "--plot") -> Path:
    """Refuse an extension we cannot write or a folder that does not exist (exit 2 upstream)."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise SpecError(f"{flag}: {str(path)!r} must end in {', '.join(FORMATS)}")
    if not path.parent.exists() or not path.parent.is_dir():
        raise SpecError(f"{flag}: folder {str(path.parent)!r} does not exist")
    return path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    try:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    except OSError as exc:
        raise SpecError(f"--plot: cannot write {str(path)!r}: {exc.strerror or exc}") from None
    finally:
        _pyplot().close(fig)


def plot_sample(path: Path, paths: np.ndarray, lags: np.ndarray, empirical: np.ndarray, stderr: np.ndarray,
                theory: np.ndarray, title: str, n_show: int = 5) -> None:
    """Left: a few entry paths √d (V_k)_{ij} against layer k. Right: autocovariance per lag."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    depth = paths.shape[1]
    layers = np.arange(1, depth + 1)
    for i in range(min(n_show, paths.shape[0])):
        left.plot(layers, paths[i], lw=0.8, label=f"entry {i + 1}")
    left.set_xlabel("layer k")
    left.set_ylabel(r"$\sqrt{d}\,(V_k)_{ij}$")
    left.set_title("entry paths across depth")
    left.legend(fontsize=8, loc="upper right")
    right.errorbar(lags, empirical, yerr=2 * stderr, fmt="o", ms=4, capsize=3, label="empirical (±2 s.e.)")
    right.plot(lags, theory, "-", color="black", lw=1.2, label="theory")
    right.axhline(0.0, color="grey", lw=0.5)
    right.set_xlabel("lag (layers)")
    right.set_ylabel("autocovariance")
    right.set_title("autocovariance across depth")
    right.legend(fontsize=8)
    fig.suptitle(title)
    _save(fig, path)


def plot_run_distributions(path: Path, betas: tuple[float, ...], values: dict[str, np.ndarray], title: str) -> None:
    """Distribution of log10 ratios over samples for each β: box (5–95 % whiskers) and points."""
    plt = _pyplot()
    panels = [("output_log10", r"$\log_{10}\ \|h_L-h_0\|\,/\,\|h_0\|$"),
              ("gradient_log10", r"$\log_{10}\ \|p_0-p_L\|\,/\,\|p_L\|$")]
    panels = [p for p in panels if p[0] in values]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    rng = np.random.default_rng(0)  # jitter of the points only
    positions = np.arange(len(betas))
    for ax, (key, label) in zip(axes[0], panels):
        data = [row[np.isfinite(row)] for row in values[key]]
        ax.boxplot(data, positions=positions, whis=(5, 95), widths=0.5, showfliers=False)
        for x, row in zip(positions, data):
            ax.scatter(x + rng.uniform(-0.15, 0.15, row.size), row, s=8, alpha=0.5, color="tab:blue")
        ax.axhline(0.0, color="grey", lw=0.6, ls="--")
        ax.set_xticks(positions, [f"{b:g}" for b in betas])
        ax.set_xlabel("β")
        ax.set_ylabel(label)
    fig.suptitle(title + " (box: quartiles, whiskers: 5–95 %)")
    _save(fig, path)


def describe_law(spec: Any) -> str:
    """A short title for a law setting, e.g. 'fbm (H = 0.7)'."""
    if spec.law == "fbm":
        return f"fbm (H = {spec.hurst:g})"
    if spec.law == "rbf":
        return f"rbf (ℓ = {spec.lengthscale:g})"
    return f"iid ({spec.dist})"
