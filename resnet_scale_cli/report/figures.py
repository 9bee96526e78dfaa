"""matplotlib figures. Each `*_figure` function returns a `matplotlib.figure.Figure` (already
detached from pyplot: nothing accumulates, a notebook shows the returned one once); `save` writes
it at the resolution and size of the surrounding `figure_style` (the CLI's --dpi and --figsize).
The backend is Agg (files only); the format follows the extension."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from resnet_scale_cli.errors import SpecError
from resnet_scale_cli.settings import FIGURE_DPI
from resnet_scale_cli.outputs import output_file

FORMATS = (".png", ".pdf", ".svg")


def check_plot_path(path: str | Path, flag: str = "--plot") -> Path:
    """Refuse an extension we cannot write; create missing parent folders (exit 2 upstream when
    they cannot be)."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise SpecError(f"{flag}: {str(path)!r} must end in {', '.join(FORMATS)}")
    return output_file(path, flag)


def pyplot():
    """`matplotlib.pyplot` on the Agg backend (files only), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


_STYLE: ContextVar[dict[str, Any]] = ContextVar("rscale_figure_style", default={})


@contextmanager
def figure_style(dpi: int | None = None, figsize: tuple[float, float] | None = None) -> Iterator[None]:
    """Within the block, `save` writes figures at `dpi` dots per inch and `figsize` = (width,
    height) in inches, where given (None keeps each figure's own size and 120 dpi)."""
    token = _STYLE.set({"dpi": dpi, "figsize": figsize})
    try:
        yield
    finally:
        _STYLE.reset(token)


def new_figure(nrows: int = 1, ncols: int = 1, **kwargs: Any) -> tuple[Any, Any]:
    """`pyplot.subplots`, with the figure closed in pyplot at once (it stays drawable and
    savable; pyplot keeps no reference to it)."""
    plt = pyplot()
    fig, axes = plt.subplots(nrows, ncols, **kwargs)
    plt.close(fig)
    return fig, axes


def layout(fig: Any, **kwargs: Any) -> Any:
    """`fig.tight_layout(**kwargs)`, remembered so that `save` redoes it at another --figsize; the figure."""
    fig.tight_layout(**kwargs)
    fig._rscale_layout = kwargs
    return fig


def save(fig: Any, path: str | Path, flag: str = "--plot") -> Path:
    """Write `fig` to `path` (format from the extension) at the current `figure_style`; the path."""
    style, path = _STYLE.get(), Path(path)
    if style.get("figsize"):
        fig.set_size_inches(*style["figsize"])
        if getattr(fig, "_rscale_layout", None) is not None:
            with warnings.catch_warnings():  # a layout that no longer fits only warns: the figure is still written
                warnings.simplefilter("ignore")
                fig.tight_layout(**fig._rscale_layout)
    try:
        fig.savefig(path, dpi=style.get("dpi") or FIGURE_DPI, bbox_inches="tight")
    except OSError as exc:
        raise SpecError(f"{flag}: cannot write {str(path)!r}: {exc.strerror or exc}") from None
    return path



def sample_figure(panels: list[tuple[str, dict[str, Any]]], title: str, n_show: int = 3):
    """One row per law setting. Left: entry paths √d (V_k)_{ij} against layer k.
    Right: autocovariance per lag, empirical (±2 s.e.) against theory."""
    fig, axes = new_figure(len(panels), 2, figsize=(11, 3.6 * len(panels)), squeeze=False)
    for (label, stats), (left, right) in zip(panels, axes):
        paths = stats["paths"]
        layers = np.arange(1, paths.shape[1] + 1)
        for i in range(min(n_show, paths.shape[0])):
            left.plot(layers, paths[i], lw=0.8, label=f"entry {i + 1}")
        left.set_xlabel("layer k")
        left.set_ylabel(r"$\sqrt{d}\,(V_k)_{ij}$")
        left.set_title(f"{label}: entry paths across depth")
        left.legend(fontsize=7, loc="upper right")
        right.errorbar(stats["lags"], stats["empirical"], yerr=2 * stats["stderr"], fmt="o", ms=4, capsize=3,
                       label="empirical (±2 s.e.)")
        right.plot(stats["lags"], stats["theory"], "-", color="black", lw=1.2, label="theory")
        right.axhline(0.0, color="grey", lw=0.5)
        right.set_xlabel("lag (layers)")
        right.xaxis.get_major_locator().set_params(integer=True)
        right.set_ylabel("autocovariance")
        right.set_title(f"{label}: autocovariance across depth")
        right.legend(fontsize=7)
    fig.suptitle(title)
    layout(fig)
    return fig


def run_figure(betas: tuple[float, ...], values: dict[str, np.ndarray], title: str):
    """Distribution of log10 ratios over samples for each β: box (5–95 % whiskers) and points."""
    panels = [("output_log10", r"$\log_{10}\ \|h_L-h_0\|\,/\,\|h_0\|$"),
              ("gradient_log10", r"$\log_{10}\ \|p_0-p_L\|\,/\,\|p_L\|$")]
    panels = [p for p in panels if p[0] in values]
    fig, axes = new_figure(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
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
    return fig


def describe_law(spec: Any) -> str:
    """A short title for a law setting, e.g. 'fbm (H = 0.7)'."""
    from resnet_scale_cli.laws import LAWS

    return LAWS[spec.law].label(spec.law_settings())


def run_title(spec: Any) -> str:
    return f"{describe_law(spec)}, {spec.model} model, {spec.activation}, L = {spec.depth}, d = {spec.width}"


def sample_title(result: Any) -> str:
    base, stats = result.settings[0][1], result.settings[0][2]
    return f"L = {base.depth}, d = {base.width}, {stats['paths'].shape[0]} entry paths per law setting"


def grid_title(sweep: Any) -> str:
    law = describe_law(sweep.base) if not sweep.parameter or len(sweep.params) == 1 else sweep.base.law
    widths = getattr(sweep, "width_grid", (sweep.base.width,))
    width = f"d = {widths[0]}" if len(widths) == 1 else f"d ∈ {{{', '.join(str(w) for w in widths)}}}"
    return f"{law}, {sweep.base.model} model, {sweep.base.activation}, {width}, {sweep.base.samples} samples"


# ----------------------------------------------------------------------------- sweeps and phases
QUANTITY_LABELS = {
    "output_log10": r"$\log_{10}\ \|h_L-h_0\|\,/\,\|h_0\|$",
    "gradient_log10": r"$\log_{10}\ \|p_0-p_L\|\,/\,\|p_L\|$",
}
REGIME_COLORS = {"identity": "tab:blue", "stable": "tab:green", "explosion": "tab:red", "undetermined": "tab:gray"}
BASIS_LABELS = {"theorem": "theorem", "first-order": "first-order argument", "comparison": "built-in models, a comparison"}
CLIP = 4.0


def _setting_label(cell: dict[str, Any]) -> str:
    from resnet_scale_cli.laws import setting_label

    label = setting_label(cell) or cell["law"]
    return label + (f", d = {cell['width']}" if "width" in cell else "")


def _edges(centers: np.ndarray, log: bool = False) -> np.ndarray:
    """Cell edges around grid centers (geometric midpoints when log)."""
    c = np.log10(centers) if log else np.asarray(centers, dtype=float)
    if c.size == 1:
        e = np.array([c[0] - 0.5, c[0] + 0.5])
    else:
        mid = (c[1:] + c[:-1]) / 2
        e = np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])
    return 10**e if log else e


def _settings(records: list[dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for r in records:
        label = _setting_label(r["cell"])
        if label not in seen:
            seen.append(label)
    return seen


def depth_scale(depths: Any) -> str:
    """"linear" when the depths are evenly spaced (a grid like 10:1000:10, the paper's Figure 1),
    else "log" (100,300,1000 or 10:1000:12:log): the axis on which the grid's points spread evenly.
    Compares the spread of the steps in L and in log L."""
    d = np.unique(np.asarray(depths, dtype=float))
    if d.size < 3 or d[0] <= 0:
        return "log"
    steps, log_steps = np.diff(d), np.diff(np.log(d))
    return "linear" if steps.std() / steps.mean() < log_steps.std() / log_steps.mean() else "log"


def depth_axis(ax: Any, depths: Any) -> None:
    """Put a depth axis on the scale where `depths` spread evenly (`depth_scale`)."""
    if depth_scale(depths) == "log":
        ax.set_xscale("log")
        shown = sorted(set(int(v) for v in depths))
        if len(shown) <= 8:  # few depths: a tick at each, written in full
            ax.set_xticks(shown, [str(v) for v in shown])
            ax.minorticks_off()
    else:
        ax.set_xlim(left=0)


def depth_curves_figure(records: list[dict[str, Any]], title: str):
    """Median log10 ratio against L with 5–95 % bands, one panel per β, one curve per law
    setting and width d; output solid, gradient dashed. The depth axis is linear for an evenly
    spaced grid and logarithmic otherwise (`depth_scale`)."""
    plt = pyplot()
    betas = records[0]["betas"]
    n = len(betas)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig, axes = new_figure(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    all_depths = sorted({r["cell"]["depth"] for r in records})
    settings = _settings(records)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    quantities = [q for q in ("output_log10", "gradient_log10") if q in records[0]["values"]]
    for j, beta in enumerate(betas):
        ax = axes[j // cols][j % cols]
        for s, label in enumerate(settings):
            group = sorted((r for r in records if _setting_label(r["cell"]) == label), key=lambda r: r["cell"]["depth"])
            depths = [r["cell"]["depth"] for r in group]
            for q, style in zip(quantities, ("-", "--")):
                stats = [r["results"][j][q] for r in group]
                med = [st["median"] if st else np.nan for st in stats]
                lo = [st["q05"] if st else np.nan for st in stats]
                hi = [st["q95"] if st else np.nan for st in stats]
                color = colors[(2 * s + (q == "gradient_log10")) % len(colors)] if len(settings) > 1 else colors[q == "gradient_log10"]
                name = ("output" if q == "output_log10" else "gradient") + (f", {label}" if len(settings) > 1 else "")
                ax.plot(depths, med, style, marker="o", ms=3, color=color, label=name)
                ax.fill_between(depths, lo, hi, color=color, alpha=0.15)
        depth_axis(ax, all_depths)
        ax.axhline(0.0, color="grey", lw=0.6)
        ax.set_title(f"β = {beta:g}")
        ax.set_xlabel("depth L")
        ax.set_ylabel("median log10 ratio (5–95 %)")
        if j == 0:
            ax.legend(fontsize=7)
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].axis("off")
    solid = ", ".join(f"{style}: {QUANTITY_LABELS[q]}" for q, style in zip(quantities, ("solid", "dashed")))
    fig.suptitle(f"{title}\n{solid}")
    layout(fig)
    return fig


def histogram_figure(record: dict[str, Any], beta_index: int, title: str):
    """Distribution over samples of both ratios at one (L, β), like Figure 2 of the paper."""
    quantities = [q for q in ("output_log10", "gradient_log10") if q in record["values"]]
    fig, axes = new_figure(1, len(quantities), figsize=(5.2 * len(quantities), 3.8), squeeze=False)
    for ax, q in zip(axes[0], quantities):
        data = np.array([v for v in record["values"][q][beta_index] if v is not None], dtype=float)
        ax.hist(10.0**data, bins=max(10, min(40, data.size // 4)), color="tab:blue", alpha=0.8)
        ax.set_xlabel(QUANTITY_LABELS[q].replace(r"\log_{10}\ ", ""))
        ax.set_ylabel("samples")
    beta = record["betas"][beta_index]
    fig.suptitle(f"{title}: L = {record['cell']['depth']}, β = {beta:g}, {len(record['values'][quantities[0]][beta_index])} samples")
    layout(fig)
    return fig


def _heatmap(ax, fig, x, y, z, ylog, ylabel, thresholds: bool = False):
    """A clipped β × (L, H, ℓ or d) heatmap; with `thresholds`, the ±1 contours of the single-depth
    regime reading are drawn."""
    import matplotlib.colors as mcolors

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    mesh = ax.pcolormesh(_edges(x), _edges(y, ylog), np.clip(z, -CLIP, CLIP),
                         cmap="RdBu_r", norm=mcolors.TwoSlopeNorm(vmin=-CLIP, vcenter=0.0, vmax=CLIP), shading="flat")
    if thresholds and x.size > 1 and y.size > 1:
        finite = np.where(np.isfinite(z), z, 2 * CLIP)
        ax.contour(x, y, finite, levels=[-1.0, 1.0], colors=["tab:cyan", "tab:red"], linewidths=1.0, linestyles=":")
    if ylog:
        ax.set_yscale("log")
        ax.set_yticks(list(y), [f"{v:g}" for v in y])
        ax.minorticks_off()
    ax.set_xlabel("β")
    ax.set_ylabel(ylabel)
    bar = fig.colorbar(mesh, ax=ax, extend="both")
    return bar


def _info(entry: dict[str, Any], q: str) -> dict[str, Any]:
    return entry if q == "output_log10" else entry.get("gradient", entry)


def _reference_lines(ax, info: dict[str, Any]) -> None:
    """The reference critical β (where one holds, labelled with its basis) and the first-order
    prediction at these (L, d) (where one applies) as vertical lines."""
    value, basis, pred = info.get("theory_reference"), info.get("theory_basis") or {}, info.get("prediction")
    if value is not None:
        ax.axvline(value, color="gold", lw=1.6, ls="--",
                   label=f"theory {value:g} ({BASIS_LABELS.get(basis.get('kind'), basis.get('kind', ''))})")
    if pred:
        star = pred["crossover_depth"]
        ax.axvline(pred["critical_beta"], color="darkorange", lw=1.4, ls=":",
                   label=f"first-order prediction {pred['critical_beta']:.3f} at these (L, d)"
                   + (f"; L* ≈ {star:.2g}" if star is not None else ""))


def _pairwise_points(ax, info: dict[str, Any], y_of, label: bool = True) -> bool:
    """Faint points: the crossing of each pair of consecutive depths, with its interval (drawn
    when there are two pairs or more; the legend entry only when `label`). True if any drawn."""
    if len(info.get("pairwise") or []) < 2:
        return False
    pairs = [p for p in info["pairwise"] if p["critical_beta"] is not None]
    for k, p in enumerate(pairs):
        c, (lo, hi) = p["critical_beta"], p["interval"]
        xerr = [[c - lo if lo is not None else 0.0], [hi - c if hi is not None else 0.0]]
        ax.errorbar([c], [y_of(p)], xerr=xerr, fmt="D", ms=3.5, color="black", alpha=0.3, lw=0.8, capsize=2,
                    label="crossing per pair of consecutive depths" if label and k == 0 else None)
    return bool(pairs)


def _shared_legend(fig: Any, axes: Any, extra: list[Any] = (), title: str | None = None, bottom: float = 0.0) -> None:
    """One legend for all panels, below them (outside every axes: it hides no cell or marker);
    entries with equal labels are drawn once."""
    seen: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    for handle in extra:
        seen.setdefault(handle.get_label(), handle)
    ncol = min(4, max(1, len(seen)))
    fig.legend(list(seen.values()), list(seen), loc="lower center", ncol=ncol, fontsize=7, title=title,
               title_fontsize=7, bbox_to_anchor=(0.5, bottom), frameon=False)


def phase_depth_figure(records: list[dict[str, Any]], entry: dict[str, Any], title: str):
    """β × L heatmaps of the median log10 ratios, regimes marked above, critical β drawn with
    the crossing of each pair of depths (faint) and the reference with its basis; at a single
    depth the regimes come from the ±1 thresholds (labelled "single depth"). Each panel's title
    gives its critical β; one legend below the panels."""
    records = sorted(records, key=lambda r: r["cell"]["depth"])
    betas = np.array(records[0]["betas"])
    depths = np.array([r["cell"]["depth"] for r in records])
    quantities = [q for q in ("output_log10", "gradient_log10") if q in records[0]["values"]]
    threshold = entry.get("regime_basis") == "threshold"
    from matplotlib.lines import Line2D
    from matplotlib.transforms import blended_transform_factory

    height = 5.2 if depths.size > 1 else 3.6
    room = 0.7  # inches below the panels for the legend
    fig, axes = new_figure(1, len(quantities), figsize=(6.4 * len(quantities), height + room), squeeze=False)
    for ax, q in zip(axes[0], quantities):
        info = _info(entry, q)
        z = np.array([[r["results"][j][q]["median"] if r["results"][j][q] else np.inf for j in range(len(betas))] for r in records])
        bar = _heatmap(ax, fig, betas, depths, z, True, "depth L")
        crit, (lo, hi) = info["critical_beta"], info["interval"]
        name = "output ratio" if q == "output_log10" else "gradient ratio"
        found = f": critical β ≈ {crit:.3f}" if crit is not None else ": no critical β in the grid"
        ax.set_title(name + (f" (single depth L = {depths[0]})" if threshold else found), pad=18)
        bar.set_label(QUANTITY_LABELS[q] + f" (median, clipped at ±{CLIP:g})")
        if lo is not None or hi is not None:
            ax.axvspan(lo if lo is not None else betas[0], hi if hi is not None else betas[-1], color="black", alpha=0.15,
                       label="critical β: 95 % interval")
        if crit is not None:
            ax.axvline(crit, color="black", lw=1.6, label="critical β (trend over all depths)")
        _pairwise_points(ax, info, lambda p: float(np.sqrt(p["depths"][0] * p["depths"][1])))
        _reference_lines(ax, info)
        # regimes (trend, or the single-depth thresholds): a row of squares above the heatmap
        top = blended_transform_factory(ax.transData, ax.transAxes)
        marks = [(reg["beta"], REGIME_COLORS.get(reg["regime"], "tab:gray")) for reg in info["regimes"] if reg["regime"]]
        if marks:
            ax.scatter([b for b, _ in marks], [1.03] * len(marks), c=[c for _, c in marks], marker="s", s=28,
                       transform=top, clip_on=False)
    shown = {reg["regime"] for q in quantities for reg in _info(entry, q)["regimes"] if reg["regime"]}
    squares = [Line2D([], [], marker="s", ls="", color=c, label=f"regime above: {n}") for n, c in REGIME_COLORS.items()
               if n in shown or n != "undetermined"]
    basis = "single depth: median log10 ratio < −1, > +1" if threshold else "the trend over L"
    _shared_legend(fig, axes[0], squares, title=f"regime squares above the panels: from {basis}")
    fig.suptitle(title)
    layout(fig, rect=(0, room / (height + room), 1, 1))
    return fig


def _fine_references(entries: list[dict[str, Any]], parameter: str, q: str, base: Any) -> tuple[np.ndarray, np.ndarray, str]:
    """The reference critical β on a fine grid of H or ℓ (NaN where none holds) and its basis."""
    from resnet_scale_cli.analysis.theory import reference

    params = np.array(sorted({e[parameter] for e in entries}), dtype=float)
    fine = np.linspace(params.min(), params.max(), 200) if params.size > 1 else params
    quantity = "output" if q == "output_log10" else "gradient"
    refs = [reference(base.law, quantity, model=base.model, activation=base.activation,
                      **(base.law_settings() | {parameter: v})) for v in fine]
    values = np.array([np.nan if r.value is None else r.value for r in refs])
    kinds = sorted({BASIS_LABELS.get(r.basis, r.basis) for r in refs if r.value is not None})
    return fine, values, ", ".join(kinds)


def phase_param_figure(records: list[dict[str, Any]], entries: list[dict[str, Any]], parameter: str, title: str,
                       base: Any):
    """β × H (or ℓ, or d) heatmaps at the largest depth (and largest width) with one critical-β
    curve per width d, the crossing of each pair of depths (faint), the reference with its basis
    and the first-order prediction where one applies (dotted, one per d)."""
    plt = pyplot()
    largest = max(r["cell"]["depth"] for r in records)
    widths = sorted({e.get("width") for e in entries})
    shown_width = widths[-1]
    if parameter == "width":  # one law setting: a row per width
        top = sorted((r for r in records if r["cell"]["depth"] == largest), key=lambda r: r["cell"]["width"])
    else:  # a row per H (or ℓ), at the largest width
        top = sorted((r for r in records if r["cell"]["depth"] == largest
                      and r["cell"].get("width", shown_width) == shown_width), key=lambda r: r["cell"][parameter])
    betas = np.array(top[0]["betas"])
    params = np.array([r["cell"].get(parameter, shown_width) for r in top])
    quantities = [q for q in ("output_log10", "gradient_log10") if q in top[0]["values"]]
    threshold = entries[0].get("regime_basis") == "threshold"
    from resnet_scale_cli.laws import parameter_symbol

    symbol = "width d" if parameter == "width" else parameter_symbol(parameter)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    curves = [None] if parameter == "width" else widths
    fig, axes = new_figure(1, len(quantities), figsize=(6.4 * len(quantities), 5.2), squeeze=False)
    for ax, q in zip(axes[0], quantities):
        z = np.array([[r["results"][j][q]["median"] if r["results"][j][q] else np.inf for j in range(len(betas))] for r in top])
        bar = _heatmap(ax, fig, betas, params, z, parameter in ("lengthscale", "width"), symbol, thresholds=threshold)
        ax.set_title(("output ratio" if q == "output_log10" else "gradient ratio")
                     + (f" (single depth L = {largest})" if threshold else ""))
        at = f" at L = {largest}" + (f", d = {shown_width}" if parameter != "width" and len(widths) > 1 else "")
        bar.set_label(QUANTITY_LABELS[q] + f"{at} (median, clipped at ±{CLIP:g})")
        labelled = False
        for c_i, width in enumerate(curves):
            group = sorted((e for e in entries if width is None or e.get("width") == width),
                           key=lambda e: e.get(parameter, e.get("width")))
            color = "black" if len(curves) == 1 else colors[c_i % len(colors)]
            crit, lo, hi, ys, pred_x, pred_y = [], [], [], [], [], []
            for e in group:
                info, y = _info(e, q), e.get(parameter, e.get("width"))
                if info.get("prediction"):
                    pred_x.append(info["prediction"]["critical_beta"])
                    pred_y.append(y)
                labelled = _pairwise_points(ax, info, lambda p, y=y: y, label=not labelled) or labelled
                if info["critical_beta"] is None:
                    continue
                c = info["critical_beta"]
                ys.append(y)
                crit.append(c)
                lo.append(c - (info["interval"][0] if info["interval"][0] is not None else betas[0]))
                hi.append((info["interval"][1] if info["interval"][1] is not None else betas[-1]) - c)
            suffix = "" if width is None or len(curves) == 1 else f", d = {width}"
            if crit:
                ax.errorbar(crit, ys, xerr=[lo, hi], fmt="o-", color=color, ms=3, lw=1, capsize=2,
                            label=f"critical β (95 % interval){suffix}")
            if pred_x:
                ax.plot(pred_x, pred_y, ":", marker=".", color="darkorange" if len(curves) == 1 else color, lw=1.4,
                        label=f"first-order prediction at these (L, d){suffix}")
        if parameter == "width":
            _reference_lines(ax, {k: v for k, v in _info(entries[0], q).items() if k != "prediction"})
        else:
            fine, values, kinds = _fine_references(entries, parameter, q, base)
            if np.isfinite(values).any():
                ax.plot(values, fine, "--", color="gold", lw=1.8, label=f"theory reference ({kinds})")
        step = betas[1] - betas[0] if betas.size > 1 else 0.1
        ax.set_xlim(betas[0] - 0.5 * step, betas[-1] + 0.5 * step)
        ax.legend(fontsize=7, loc="lower right")
    depths = sorted({r["cell"]["depth"] for r in records})
    basis = ("; single depth: regimes from the ±1 contours (dotted)" if threshold else
             f"; critical β from the trend over L ∈ {{{', '.join(str(d) for d in depths)}}}")
    fig.suptitle(title + basis)
    layout(fig)
    return fig


def describe_law_cell(cell: dict[str, Any], base: Any) -> str:
    """Title of a single cell, e.g. 'fbm (H = 0.7), full model'."""
    from resnet_scale_cli.laws import setting_label

    label = setting_label(cell)
    law = f"{cell['law']} ({label})" if label else f"{cell['law']} ({base.dist})"
    return f"{law}, {base.model} model, {base.activation}, d = {cell.get('width', base.width)}"


class GridFigures:
    """The figures of `sweep`/`phase`, planned (and their paths checked) before the grid runs."""

    def __init__(self, command: str, sweep: Any, plot: Path | None, hist: Path | None, hist_depth: int | None,
                 hist_beta: float | None) -> None:
        self.command, self.sweep, self.plot, self.hist = command, sweep, plot, hist
        self.hist_depth, self.hist_beta = hist_depth, hist_beta

    @classmethod
    def plan(cls, command: str, sweep: Any, outputs: dict[str, Any]) -> "GridFigures":
        plot = check_plot_path(outputs["plot"]) if outputs.get("plot") else None
        hist = check_plot_path(outputs["plot_hist"], "--plot-hist") if outputs.get("plot_hist") else None
        hist_depth = outputs.get("hist_depth")
        if hist_depth is not None and hist_depth not in sweep.depths:
            raise SpecError(f"--hist-depth {hist_depth} is not among the swept depths {list(sweep.depths)}")
        return cls(command, sweep, plot, hist, hist_depth, outputs.get("hist_beta"))

    def draw(self, study: Any) -> list[Path]:
        """Draw and save the planned figures of a measured grid; the paths written."""
        from resnet_scale_cli.report.documents import histogram_record, nearest_beta

        written = []
        if self.plot:
            written.append(save(grid_figure(self.command, self.sweep, study.records, study.document["critical"]),
                                self.plot))
        if self.hist:
            record = histogram_record(study.records, self.hist_depth, self.hist_beta)
            j = nearest_beta(record, self.hist_beta)
            figure = histogram_figure(record, j, describe_law_cell(record["cell"], self.sweep.base))
            written.append(save(figure, self.hist, "--plot-hist"))
        return written


def grid_figure(command: str, sweep: Any, records: list[dict[str, Any]], entries: list[dict[str, Any]]):
    """The --plot figure of `sweep` (curves against L) or `phase` (β × L heatmap for one law
    setting; β × H, ℓ or d with critical-β curves for several)."""
    title = grid_title(sweep)
    if command == "sweep":
        return depth_curves_figure(records, title)
    if len(sweep.settings()) > 1 and entries:
        return phase_param_figure(records, entries, sweep.parameter, title, sweep.base)
    if getattr(sweep, "width_axis", False) and entries:
        return phase_param_figure(records, entries, "width", title, sweep.base)
    if entries:
        return phase_depth_figure(list(records), entries[0], title)
    raise SpecError("--plot of a phase diagram needs measured cells")
