"""Figures of `rscale train`, from its JSON document (`--json`, `<out>/summary.json`,
`run_training`); matplotlib is imported inside the functions.

Each `*_figure` function returns a matplotlib Figure; `plot_training` saves all three.

- `smoothness_figure`: max_{k,t} ‖θ_{k+1}(t) − θ_k(t)‖ against L, log-log, one curve per
  document (initialization), with the L^{-1} reference labelled by its basis — the
  implicit-regularization paper's smoothness figure.
- `weights_figure`: a few weight entries against k/L at snapshot steps from before to after
  training — the paper's weights-across-depth figure.
- `loss_figure`: train and test loss and max_k ‖Δθ_k(t)‖ against the training step.
- `limit_figure` (runs with `--limit-reference`, written as <stem>_limit): the distances of the
  trained nets to the trained reference against L, with their fitted rates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.report.figures import layout, new_figure, pyplot, save


def _label(doc: dict[str, Any]) -> str:
    """'HeunNet, fbm (H = 0.7): slope 1.02 [0.95, 1.10]': the net, the law and the fitted exponent."""
    from resnet_scale_cli.laws import law_entry

    spec = doc["spec"]
    law = "i.i.d." if spec["law"] == "iid" else law_entry(spec["law"]).label(spec, "name")
    if spec.get("net", "resnet") == "heunnet":
        law = f"HeunNet, {law}"
    exp = doc.get("exponent") or {}
    if exp.get("estimate") is None:
        return law
    lo, hi = exp["interval"]
    return f"{law}: slope {exp['estimate']:.2f} [{lo:.2f}, {hi:.2f}]"


def _short_basis(basis: str) -> str:
    """'theorem (Marion, Wu, …; …)' → 'theorem, Marion, Wu, Sander & Biau 2024'."""
    head, _, rest = basis.partition("(")
    source = rest.split(";")[0].split(",  ")[0].rstrip(")")
    source = source.split(", implicit")[0].split(", Prop")[0]
    return f"{head.strip()}, {source.strip()}" if source else head.strip()


def smoothness_figure(documents: dict[str, Any] | Sequence[dict[str, Any]], *, title: str | None = None):
    """max_{k,t} ‖Δθ‖ (median over seeds, 5–95 % band) against L for each document, log-log,
    with the L^{-1} reference where a document states it (labelled by its basis)."""
    docs = [documents] if isinstance(documents, dict) else list(documents)
    fig, ax = new_figure(figsize=(5.2, 3.8))
    reference = None
    for doc in docs:
        rows = [r for r in doc["results"] if r["max_weight_increment"] is not None]
        if not rows:
            continue
        L = np.array([r["depth"] for r in rows], dtype=float)
        med = np.array([r["max_weight_increment"]["median"] for r in rows])
        lo = np.array([r["max_weight_increment"]["q05"] for r in rows])
        hi = np.array([r["max_weight_increment"]["q95"] for r in rows])
        line, = ax.loglog(L, med, "o-", lw=1.8, label=_label(doc))
        ax.fill_between(L, lo, hi, color=line.get_color(), alpha=0.15, lw=0)
        exp = doc.get("exponent") or {}
        if reference is None and exp.get("theory") is not None and exp.get("basis"):
            reference = (L, med[0] * (L / L[0]) ** exp["theory"], exp["theory"], exp["basis"])
    if reference is not None:
        L, ref, slope, basis = reference
        ax.loglog(L, ref, "k--", lw=1.0, label=f"L^{slope:g} reference ({_short_basis(basis)})")
    ax.set_xlabel("depth L")
    depths = sorted({r["depth"] for doc in docs for r in doc["results"]})
    if depths:
        from matplotlib.ticker import NullFormatter, ScalarFormatter

        ax.set_xticks(depths)
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel(r"$\max_{k,t}\,\|\theta_{k+1}(t)-\theta_k(t)\|_F$")
    ax.set_title(title or "Smoothness of the trained weights across depth", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return layout(fig)


def _row(document: dict[str, Any], depth: int | None) -> dict[str, Any]:
    """The `results[]` entry at `depth` (the largest depth by default)."""
    rows = document["results"]
    if depth is None:
        return max(rows, key=lambda r: r["depth"])
    for row in rows:
        if row["depth"] == depth:
            return row
    raise ValueError(f"no result at depth {depth}; depths: {[r['depth'] for r in rows]}")


def weights_figure(document: dict[str, Any], *, depth: int | None = None, tensor: str = "V",
                   title: str | None = None):
    """Entries (i, j) of V_k (or W_k) of the first seed against k/L, one panel per entry, one
    curve per snapshot step (from before training, light, to after, dark)."""
    plt = pyplot()
    cell = _row(document, depth)
    snaps = cell["snapshots"]
    if tensor not in snaps:
        raise ValueError(f"no snapshots of {tensor} (model without it?)")
    x = np.array(snaps["k_over_L"])
    entries = snaps["entries"]
    cols = min(2, len(entries))
    rows = (len(entries) + cols - 1) // cols
    fig, axes = new_figure(rows, cols, figsize=(3.4 * cols, 2.4 * rows), squeeze=False)
    cmap = plt.get_cmap("viridis")
    steps = snaps["steps"]
    for e, (i, j) in enumerate(entries):
        ax = axes[e // cols][e % cols]
        for s, step in enumerate(steps):
            y = np.array([np.nan if v is None else v for v in snaps[tensor][s][e]])
            ax.plot(x, y, color=cmap(s / max(1, len(steps) - 1)), lw=1.2, label=f"t = {step}")
        ax.set_title(f"({tensor}_k)[{i},{j}]", fontsize=9)
        ax.set_xlabel("k / L")
        ax.grid(True, alpha=0.3)
    for e in range(len(entries), rows * cols):
        axes[e // cols][e % cols].axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, title="step", title_fontsize=7)
    fig.suptitle(title or f"Weights across depth before and after training (L = {cell['depth']})", fontsize=10)
    return layout(fig)


def _median_rows(rows: list[list[float | None]]) -> np.ndarray:
    out = []
    for row in rows:
        v = np.array([np.nan if x is None else x for x in row], dtype=float)
        out.append(np.nanmedian(v) if np.isfinite(v).any() else np.nan)
    return np.array(out)


def loss_figure(document: dict[str, Any], *, title: str | None = None):
    """Median over seeds of the train (solid) and test (dashed) loss, and of max_k ‖Δθ_k(t)‖,
    against the step (t + 1 on a log axis), one colour per depth."""
    plt = pyplot()
    cells = document["results"]
    fig, (ax_loss, ax_inc) = new_figure(1, 2, figsize=(9.0, 3.6))
    cmap = plt.get_cmap("plasma")
    for c, cell in enumerate(sorted(cells, key=lambda r: r["depth"])):
        h = cell["history"]
        t = np.array(h["steps"], dtype=float) + 1.0
        color = cmap(c / max(1, len(cells)))
        L = cell["depth"]
        ax_loss.loglog(t, _median_rows(h["train_loss"]), "-", color=color, label=f"L = {L}")
        ax_loss.loglog(t, _median_rows(h["test_loss"]), "--", color=color, lw=0.9)
        inc = _median_rows(h["max_increment"]["overall"])
        ax_inc.loglog(t[inc > 0], inc[inc > 0], "-", color=color, label=f"L = {L}")
    ax_loss.set_xlabel("step + 1")
    ax_loss.set_ylabel(f"loss ({cells[0]['info']['loss']}); test dashed")
    ax_inc.set_xlabel("step + 1")
    from matplotlib.ticker import NullFormatter

    for ax in (ax_loss, ax_inc):
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax_inc.set_ylabel(r"$\max_k\,\|\theta_{k+1}(t)-\theta_k(t)\|_F$")
    for ax in (ax_loss, ax_inc):
        ax.grid(True, which="both", alpha=0.3)
    ax_loss.legend(fontsize=7)
    fig.suptitle(title or "Training curves (median over seeds)", fontsize=10)
    return layout(fig)


def limit_figure(documents: dict[str, Any] | Sequence[dict[str, Any]], *, title: str | None = None):
    """The distances of `--limit-reference` runs to their trained reference against L, log-log (median
    over networks, 5–95 % band): weights (left) and hidden states (right), one curve per document,
    each labelled with its fitted rate, with the dashed line of that fit (slope −rate)."""
    docs = [d for d in ([documents] if isinstance(documents, dict) else list(documents)) if d.get("limit")]
    if not docs:
        raise ValueError("no document with a `limit` block (run with --limit-reference)")
    fig, axes = new_figure(1, 2, figsize=(9.0, 3.6))
    labels = {"weights": r"$\max_k\,\|\theta^L_k(T)-\theta^{ref}(k/L,T)\|_F$",
              "states": r"$\max_{k,x}\,\|h^L_k-h^{ref}(k/L)\|/\|h_0\|$"}
    depths: set[int] = set()
    for ax, quantity in zip(axes, ("weights", "states")):
        for doc in docs:
            rows = [r for r in doc["limit"]["results"] if r.get(quantity) and r[quantity]["median"] > 0]
            if not rows:
                continue
            L = np.array([r["depth"] for r in rows], dtype=float)
            depths.update(int(x) for x in L)
            med = np.array([r[quantity]["median"] for r in rows])
            lo = np.array([r[quantity]["q05"] for r in rows])
            hi = np.array([r[quantity]["q95"] for r in rows])
            fit = doc["limit"]["rates"].get(quantity)
            name = _label({**doc, "exponent": None})
            if fit is not None:
                name += f": rate {fit['estimate']:.2f} [{fit['interval'][0]:.2f}, {fit['interval'][1]:.2f}]"
            line, = ax.loglog(L, med, "o-", lw=1.8, label=name)
            ax.fill_between(L, lo, hi, color=line.get_color(), alpha=0.15, lw=0)
            if fit is not None:  # the fitted power law through the medians' geometric mean
                c = np.mean(np.log10(med) + fit["estimate"] * np.log10(L))
                ax.loglog(L, 10 ** (c - fit["estimate"] * np.log10(L)), "--", color=line.get_color(), lw=1.0)
        ax.set_xlabel("depth L")
        ax.set_ylabel(labels[quantity])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    if depths:
        from matplotlib.ticker import NullFormatter, ScalarFormatter

        for ax in axes:
            ax.set_xticks(sorted(depths))
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
    ref = docs[0]["limit"]["reference_depth"]
    fig.suptitle(title or f"Distance of the trained ResNet to the trained reference (depth {ref}); dashed: fitted rates",
                 fontsize=10)
    return layout(fig)


def read_documents(paths: Sequence[str | Path], flag: str = "--compare") -> list[dict[str, Any]]:
    """Documents of other `rscale train` runs (their `--json` output or `<out>/summary.json`),
    refused with a `SpecError` naming `flag` when missing or not a train document."""
    import json

    documents = []
    for path in paths:
        try:
            document = json.loads(Path(path).read_text())
        except OSError as exc:
            raise SpecError(f"{flag}: cannot read {str(path)!r}: {exc.strerror or exc}") from None
        except json.JSONDecodeError:
            raise SpecError(f"{flag}: {str(path)!r} is not JSON") from None
        if not isinstance(document, dict) or document.get("command") != "train" or "results" not in document:
            raise SpecError(f"{flag}: {str(path)!r} is not the document of an `rscale train` run")
        documents.append(document)
    return documents


def figure_paths(path: str | Path) -> dict[str, Path]:
    """The three files `--plot <stem>.<ext>` writes: <stem>_smoothness, <stem>_weights, <stem>_loss."""
    path = Path(path)
    return {name: path.with_name(f"{path.stem}_{name}{path.suffix}") for name in ("smoothness", "weights", "loss", "limit")}


def plot_training(document: dict[str, Any], path: str | Path, *, others: Sequence[dict[str, Any]] = ()) -> list[Path]:
    """All three figures of one document (plus `others`, e.g. runs with other initializations,
    on the smoothness plot), at the paths of `figure_paths(path)`."""
    paths = figure_paths(path)
    return [
        save(smoothness_figure([document, *others]), paths["smoothness"]),
        save(weights_figure(document), paths["weights"]),
        save(loss_figure(document), paths["loss"]),
    ] + ([save(limit_figure([document, *others]), paths["limit"])] if document.get("limit") else [])
