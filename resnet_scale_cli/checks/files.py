"""Check files: TOML settings (the keys of `run`/`sweep`/`phase` configs), a `name`, and a list of
`[[expect]]` tables whose types come from the `EXPECTATIONS` registry. Unknown keys and
malformed expectations are refused naming file, line and key."""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet_scale_cli.checks.blocks import INSPECT_KEYS
from resnet_scale_cli.checks.rates import RATE_COMMAND_KEYS, RATE_TYPES
from resnet_scale_cli.checks.spectrum import SPECTRUM_KEYS
from resnet_scale_cli.checks.expectations import EXPECTATIONS, QUANTITIES
from resnet_scale_cli.errors import SpecError, did_you_mean
from resnet_scale_cli.spec import RunSpec, _ALIASES

SETTING_KEYS = ({f.name for f in dataclasses.fields(RunSpec)} | set(_ALIASES) | {"depth", "beta", "name", "description", "expect"}
                | INSPECT_KEYS  # a check of a user's block (`block = ...`) takes the keys of `rscale inspect`
                | SPECTRUM_KEYS  # `command = "spectrum"`: the keys of `rscale spectrum`
                | frozenset().union(*RATE_COMMAND_KEYS.values()))  # `command = "adjoint"` / `"limit"` (checks.rates)


@dataclass
class Located:
    """A check file's text, to name the line of a key in error messages."""

    path: str
    text: str

    def line(self, key: str, block: int | None = None) -> int | None:
        lines = self.text.splitlines()
        start = 0
        if block is not None:
            seen = -1
            for i, line in enumerate(lines):
                if re.match(r"\s*\[\[\s*expect\s*\]\]", line):
                    seen += 1
                    if seen == block:
                        start = i
                        break
        pattern = re.compile(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for i in range(start + (block is not None), len(lines)):
            if block is not None and i > start and re.match(r"\s*\[", lines[i]):
                break
            if pattern.match(lines[i]):
                return i + 1
        return start + 1 if block is not None else None

    def error(self, message: str, key: str | None = None, block: int | None = None) -> SpecError:
        line = self.line(key, block) if key else None
        where = f"{self.path}:{line}" if line else self.path
        return SpecError(f"{where}: {message}")


@dataclass
class Expectation:
    index: int
    type: str
    name: str
    options: dict[str, Any]


@dataclass
class CheckFile:
    path: str
    name: str
    sweep: Any
    expectations: list[Expectation]
    source: Located = field(repr=False, default=None)


def _number(located: Located, exp: dict, key: str, index: int, required: bool = False) -> float | None:
    if key not in exp:
        if required:
            raise located.error(f"[[expect]] #{index + 1} needs {key!r}", "type", index)
        return None
    value = exp[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise located.error(f"{key!r} must be a number, got {value!r}", key, index)
    return float(value)


def load_check(path: str, text: str | None = None) -> CheckFile:
    """Parse and validate a check file; every error names the file, line and key."""
    from resnet_scale_cli.settings import build_sweep

    if text is None:
        try:
            text = Path(path).read_text() if path != "-" else __import__("sys").stdin.read()
        except OSError as exc:
            raise SpecError(f"{path}: cannot read: {exc.strerror or exc}") from None
    located = Located("<stdin>" if path == "-" else path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{located.path}: invalid TOML: {exc}") from None
    for key in data:
        if key not in SETTING_KEYS:
            raise located.error(f"unknown key {key!r}{did_you_mean(key, SETTING_KEYS)} (settings take the keys of "
                                "run/sweep/phase, plus name, description, [[expect]])", key)
    raw = data.pop("expect", None)
    name = str(data.pop("name", Path(located.path).stem))
    data.pop("description", None)
    if not isinstance(raw, list) or not raw or not all(isinstance(e, dict) for e in raw):
        raise located.error("needs at least one [[expect]] table")
    settings = {k: v for k, v in data.items()}
    try:
        if "command" in data and data["command"] in RATE_COMMAND_KEYS:
            from resnet_scale_cli.checks.rates import rate_sweep

            sweep = rate_sweep(settings)
        elif "command" in data:
            if data["command"] != "spectrum":
                raise SpecError(f"--command: a check file's command must be \"spectrum\", \"adjoint\" or \"limit\" "
                                f"(or absent), got {data['command']!r}")
            from resnet_scale_cli.checks.spectrum import spectrum_sweep

            sweep = spectrum_sweep(settings)
        elif "block" in data:
            from resnet_scale_cli.checks.blocks import block_sweep

            sweep = block_sweep(settings)
        else:
            sweep, outputs = build_sweep(None, settings, depths=str(data.get("depth", RunSpec().depth)),
                                         betas=str(data.get("beta", "0.5")))
    except SpecError as exc:
        text = str(exc)  # locate the key the error is about: a named unknown key, the block, or its --flag
        unknown, flag = re.search(r"unknown key '([\w-]+)'", text), re.search(r"--([a-z-]+)", text)
        key = (unknown.group(1) if unknown else "block" if re.match(r"(?i)block", text)
               else flag.group(1).replace("-", "_") if flag else None)
        if key and key not in data and key.replace("_", "-") in data:
            key = key.replace("_", "-")
        raise located.error(str(exc), key if key in data else "beta" if key == "betas" else None) from None
    expectations = [_expectation(located, exp, i, sweep) for i, exp in enumerate(raw)]
    return CheckFile(located.path, name, sweep, expectations, located)




@dataclass
class _Context:
    """What an expectation type's `check` needs: the file (for errors), the table and the sweep."""

    located: Located
    exp: dict
    index: int
    sweep: Any

    def error(self, message: str, key: str | None = None) -> SpecError:
        return self.located.error(message, key, self.index)

    def number(self, key: str, required: bool = False) -> float | None:
        return _number(self.located, self.exp, key, self.index, required)


def _expectation(located: Located, exp: dict, index: int, sweep) -> Expectation:
    """Parse one [[expect]] table: the common options here, the type's own in its class."""
    kind = exp.get("type")
    if not isinstance(kind, str) or kind not in EXPECTATIONS:
        raise located.error(f"[[expect]] #{index + 1}: 'type' must be one of {', '.join(EXPECTATIONS)}, got {kind!r}",
                            "type" if "type" in exp else None, index)
    etype = EXPECTATIONS[kind]
    ctx = _Context(located, exp, index, sweep)
    only = getattr(sweep, "expectation_types", None)  # adjoint/limit checks: rate expectations only
    if (only is not None) != (kind in RATE_TYPES) or (only is not None and kind not in only):
        raise ctx.error(f"[[expect]] #{index + 1}: type {kind!r} " + (
            f"does not apply to a check of command {sweep.command!r} (use {', '.join(only)})" if only is not None else
            "needs command = \"adjoint\" or \"limit\""), "type")
    if only is None and (getattr(sweep, "command", None) == "spectrum") != kind.startswith("spectrum_"):
        raise ctx.error(f"[[expect]] #{index + 1}: type {kind!r} " + ("does not apply to a spectrum check (use "
                        "spectrum_statistic or spectrum_critical_beta)" if not kind.startswith("spectrum_") else
                        "needs command = \"spectrum\""), "type")
    for key in exp:
        if key not in etype.keys:
            raise ctx.error(f"[[expect]] #{index + 1} ({kind}): unknown key {key!r}{did_you_mean(key, etype.keys)}; allowed: "
                            + ", ".join(sorted(etype.keys)), key)
    opts: dict[str, Any] = {}
    quantity = exp.get("quantity", "output")
    if quantity not in QUANTITIES:
        raise ctx.error(f"'quantity' must be output or gradient, got {quantity!r}", "quantity")
    opts["quantity"] = quantity
    if quantity == "gradient" and not sweep.base.gradients:
        raise ctx.error("a gradient expectation needs gradients = true", "quantity")
    opts["setting"] = _setting(ctx, sweep)
    for key in ("min", "max"):
        opts[key] = ctx.number(key)
    if etype.needs_bounds and opts["min"] is None and opts["max"] is None:
        raise ctx.error(f"[[expect]] #{index + 1} ({kind}) needs 'min' and/or 'max'", "type")
    if opts["min"] is not None and opts["max"] is not None and opts["min"] > opts["max"]:
        raise ctx.error("'min' is larger than 'max'", "min")
    if etype.has_beta:
        opts["beta"], opts["depth"] = _beta_and_depth(ctx, etype)
    if etype.needs_two_depths and len(sweep.depths) < 2:
        raise ctx.error(f"a {kind} expectation needs at least two depths", "type")
    etype.check(ctx, exp, opts)
    name = exp.get("name") or etype.default_name(opts)
    return Expectation(index, kind, str(name), opts)


def _setting(ctx: _Context, sweep) -> dict[str, float]:
    """The law setting an expectation is about (`hurst = …`, `lengthscale = …`: a law's sweep
    parameter), and its width (`width = …`) when several are swept."""
    from resnet_scale_cli.laws import law_parameters

    parameter = sweep.parameter
    setting: dict[str, float] = {}
    for key in law_parameters():
        if key in ctx.exp:
            value = ctx.number(key)
            if key != parameter or value not in sweep.params:
                raise ctx.error(f"{key} = {value:g} is not a law setting of this check", key)
            setting = {key: value}
    if not setting and parameter and len(sweep.params) > 1:
        raise ctx.error(f"[[expect]] #{ctx.index + 1}: say which {parameter} it is about (several are swept)", "type")
    if not setting and parameter:
        setting = {parameter: sweep.params[0]}
    widths = getattr(sweep, "width_grid", (sweep.base.width,))
    if "width" in ctx.exp:
        width = ctx.exp["width"]
        if isinstance(width, bool) or not isinstance(width, int) or width not in widths:
            raise ctx.error(f"width = {width!r} is not among the widths of this check {list(widths)}", "width")
        if len(widths) > 1:
            setting = {**setting, "width": width}
    elif len(widths) > 1:
        raise ctx.error(f"[[expect]] #{ctx.index + 1}: say which width it is about (several are swept)", "type")
    return setting


def _beta_and_depth(ctx: _Context, etype) -> tuple[float, int | None]:
    sweep, exp = ctx.sweep, ctx.exp
    beta = ctx.number("beta", required=etype.beta_required)
    beta = 0.5 if beta is None else beta
    if not any(abs(beta - b) < 1e-9 for b in sweep.base.betas):
        raise ctx.error(f"beta = {beta:g} is not in the β grid {list(sweep.base.betas)}", "beta" if "beta" in exp else "type")
    depth = exp.get("depth")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth not in sweep.depths):
        raise ctx.error(f"depth = {depth!r} is not in the depth grid {list(sweep.depths)}", "depth")
    if depth is None and etype.depth_required:
        if len(sweep.depths) > 1:
            raise ctx.error(f"[[expect]] #{ctx.index + 1} needs 'depth' (several depths are swept)", "type")
        depth = sweep.depths[0]
    return beta, depth


def evaluate(check: CheckFile, records: list[dict[str, Any]], critical: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Measured value, bounds, verdict and a message for every expectation."""
    return [{"name": e.name, "type": e.type, **e.options["setting"],
             **EXPECTATIONS[e.type].evaluate(records, critical, e.options,
                                             e.options["setting"].get("width", check.sweep.base.width))}
            for e in check.expectations]
