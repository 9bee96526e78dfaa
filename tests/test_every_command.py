"""Every command survives every valid input: property-based tests over valid command lines that
include the corners — β = 0 and β ≥ 2, L from 1 to large, width 1, every law (iid with each
entry law, rbf, fbm with H near 0 and near 1, tied), every model, activation, dtype, --net and
--backprop. Whatever the input, the output contract holds:

- exit 0 or 2 (`check` may also exit 1, a failed expectation), never 3;
- on exit 0 stderr is empty (stdout is not a terminal), and with `--json` stdout is exactly one
  JSON document that a strict parser accepts (no NaN, no Infinity) with every number finite;
- on exit 2 stdout is empty and stderr is exactly one line starting `rscale: error:`.

The commands run in process (`resnet_scale_cli.cli.app.main`) at tiny sizes. Derandomized, so CI
sees the same command lines every run; the fast tier draws a handful per command plus the named
corners, the slow tier a larger sweep and a few very deep networks at width 1–2."""

from __future__ import annotations

from typing import Any, Callable, Iterable

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from helpers import MLP, assert_one_line_error, check_toml, finite_json

_COMMON = dict(derandomize=True, deadline=None, database=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                      HealthCheck.data_too_large, HealthCheck.filter_too_much])
FAST = settings(max_examples=3, **_COMMON)
SLOW = settings(max_examples=60, **_COMMON)


# ----------------------------------------------------------------------------- the contract
def assert_contract(cli: Callable[..., tuple[int, str, str]], argv: list[str], allowed=(0, 2)) -> None:
    """Run `rscale ARGV` in process and assert the output contract."""
    code, out, err = cli(*argv)
    shown = "rscale " + " ".join(argv)
    assert code in allowed, f"{shown}\nexit {code}\nstderr: {err}"
    if code == 2:
        assert_one_line_error(code, out, err, "")
        return
    assert err == "", f"{shown}\nexit {code} with stderr: {err!r}"
    if "--json" in argv:
        try:
            finite_json(out)
        except (ValueError, AssertionError) as exc:
            raise AssertionError(f"{shown}\nnot one strict JSON document of finite numbers: {exc}\n{out[:1000]}") \
                from None


# ----------------------------------------------------------------------------- pieces of command lines
def _num(x: float) -> str:
    return f"{x:g}"


LAWS = ["iid", "rbf", "fbm", "tied"]
DISTS = ["gaussian", "rademacher", "uniform"]
MODELS = ["full", "simple", "linear"]
ACTIVATIONS = ["relu", "leaky_relu", "tanh", "gelu", "identity"]
DTYPES = ["float32", "float64"]
#: H near 0 and near 1, and in between
HURSTS = st.one_of(st.sampled_from([0.001, 0.01, 0.05, 0.5, 0.95, 0.99, 0.999]),
                   st.floats(0.01, 0.99).map(lambda x: round(x, 3)))
LENGTHSCALES = st.one_of(st.sampled_from([0.01, 0.05, 0.1, 1.0, 10.0]), st.floats(0.01, 10).map(lambda x: round(x, 3)))
#: β = 0, β ≥ 2, and in between
BETAS = st.one_of(st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 10.0]), st.floats(0, 10).map(lambda x: round(x, 3)))
WIDTHS = st.integers(1, 4)
SEEDS = st.one_of(st.just(0), st.integers(0, 2**31 - 1))
#: RBF's Cholesky factor of the L × L kernel grows as L² in memory and L³ in time: its depths stay small
RBF_DEPTH = 400
#: the PyPI fbm sampler (a reference) draws one path at a time, in O(L²) near H = 1: its depths stay small
FBM_PACKAGE_DEPTH = 128


@st.composite
def law_flags(draw, lists: bool = False, backend: bool = False) -> tuple[str, list[str]]:
    """A law and its parameter flags; `lists`: --hurst/--lengthscale take a list (sweep, sample, spectrum)."""
    law = draw(st.sampled_from(LAWS))
    flags = ["--law", law]
    if law == "iid":
        flags += ["--dist", draw(st.sampled_from(DISTS))]
    elif law == "rbf":
        values = draw(st.lists(LENGTHSCALES, min_size=1, max_size=2 if lists else 1, unique=True))
        flags += ["--lengthscale", ",".join(map(_num, values))]
    elif law == "fbm":
        values = draw(st.lists(HURSTS, min_size=1, max_size=2 if lists else 1, unique=True))
        flags += ["--hurst", ",".join(map(_num, values))]
        if backend:
            flags += ["--fbm-backend", draw(st.sampled_from(["torch", "torch", "fbm"]))]
    return law, flags


def _depth(draw, flags: list[str], lmax: int, lmin: int = 1) -> int:
    """A depth in [lmin, lmax], the ends included; smaller for the laws whose sampler is quadratic in L."""
    top = lmax
    if "rbf" in flags:
        top = min(top, RBF_DEPTH)
    if "--fbm-backend" in flags and flags[flags.index("--fbm-backend") + 1] == "fbm":
        top = min(top, FBM_PACKAGE_DEPTH)
    top = max(top, lmin)
    return draw(st.one_of(st.sampled_from(sorted({lmin, max(lmin, 2), top})), st.integers(lmin, top)))


def _depths(draw, flags: list[str], lmax: int, lmin: int = 1, min_size: int = 1, max_size: int = 3) -> str:
    values = draw(st.lists(st.just(None), min_size=min_size, max_size=max_size))
    chosen: set[int] = set()
    for _ in values:
        chosen.add(_depth(draw, flags, lmax, lmin))
    while len(chosen) < min_size:
        chosen.add(max(chosen) + 1 if chosen else lmin)
    return ",".join(map(str, sorted(chosen)))


def _betas(draw, max_size: int = 3) -> str:
    return ",".join(map(_num, sorted(set(draw(st.lists(BETAS, min_size=1, max_size=max_size))))))


def _output(draw) -> list[str]:
    return ["--json"] if draw(st.booleans()) or draw(st.booleans()) else []


@st.composite
def gradient_flags(draw) -> list[str]:
    """--no-gradients, exact (reverse, autograd), or tangent probes."""
    choice = draw(st.sampled_from(["default", "none", "reverse", "autograd", "tangent", "probes"]))
    if choice == "none":
        return ["--no-gradients"]
    if choice in ("reverse", "autograd", "tangent"):
        return ["--grad-method", choice]
    if choice == "probes":
        return ["--probes", str(draw(st.integers(1, 3))), "--grad-method", draw(st.sampled_from(["auto", "tangent"]))]
    return []


def _samples_and_draws(draw, most: int = 3) -> list[str]:
    samples = draw(st.integers(1, most))
    flags = ["--samples", str(samples)]
    if draw(st.booleans()):
        flags += ["--draws", str(draw(st.sampled_from([d for d in range(1, samples + 1) if samples % d == 0])))]
    return flags


@st.composite
def run_argv(draw, lmax: int) -> list[str]:
    law, flags = draw(law_flags(backend=True))
    return ["run", *flags, "--model", draw(st.sampled_from(MODELS)), "--activation", draw(st.sampled_from(ACTIVATIONS)),
            "--depth", str(_depth(draw, flags, lmax)), "--width", str(draw(WIDTHS)), "--beta", _betas(draw),
            *_samples_and_draws(draw), *draw(gradient_flags()), "--seed", str(draw(SEEDS)),
            "--dtype", draw(st.sampled_from(DTYPES)), "--device", "cpu", *_output(draw)]


@st.composite
def grid_argv(draw, command: str, lmax: int) -> list[str]:
    """sweep and phase: lists of depths, widths and β (and of H or ℓ)."""
    law, flags = draw(law_flags(lists=True, backend=True))
    widths = sorted(set(draw(st.lists(WIDTHS, min_size=1, max_size=2))))
    return [command, *flags, "--model", draw(st.sampled_from(MODELS)),
            "--activation", draw(st.sampled_from(ACTIVATIONS)), "--depth", _depths(draw, flags, lmax),
            "--width", ",".join(map(str, widths)), "--beta", _betas(draw), *_samples_and_draws(draw),
            *draw(gradient_flags()), "--seed", str(draw(SEEDS)), "--dtype", draw(st.sampled_from(DTYPES)),
            "--device", "cpu", *_output(draw)]


@st.composite
def sample_argv(draw, lmax: int) -> list[str]:
    law, flags = draw(law_flags(lists=True, backend=True))
    depth = _depth(draw, flags, lmax)
    extra = ["--draws", str(draw(st.integers(1, 2)))] if draw(st.booleans()) else []
    if draw(st.booleans()):
        extra += ["--lags", str(draw(st.integers(0, depth + 2)))]
    return ["sample", *flags, "--depth", str(depth), "--width", str(draw(WIDTHS)), *extra,
            "--seed", str(draw(SEEDS)), "--dtype", draw(st.sampled_from(DTYPES)), "--device", "cpu", *_output(draw)]


@st.composite
def spectrum_argv(draw, lmax: int) -> list[str]:
    law, flags = draw(law_flags(lists=True))
    widths = sorted(set(draw(st.lists(WIDTHS, min_size=1, max_size=2))))
    extra = ["--hist-beta", _num(draw(BETAS))] if draw(st.booleans()) else []
    return ["spectrum", *flags, "--model", draw(st.sampled_from(MODELS)),
            "--activation", draw(st.sampled_from(ACTIVATIONS)), "--depth", _depths(draw, flags, lmax),
            "--width", ",".join(map(str, widths)), "--beta", _betas(draw), "--samples", str(draw(st.integers(1, 3))),
            *extra, "--seed", str(draw(SEEDS)), "--dtype", draw(st.sampled_from(DTYPES)), "--device", "cpu",
            *_output(draw)]


@st.composite
def limit_argv(draw, lmax: int) -> list[str]:
    law, flags = draw(law_flags())
    if law == "iid":  # a pathwise limit needs Gaussian increments: other entry laws are refused (exit 2)
        flags[-1] = draw(st.sampled_from(["gaussian", "gaussian", "gaussian", "rademacher"]))
    models = ["simple", "linear"] + (["full"] if law in ("rbf", "tied") else [])
    extra = ["--beta", _num(draw(BETAS))] if draw(st.booleans()) else []
    return ["limit", *flags, "--model", draw(st.sampled_from(models)),
            "--activation", draw(st.sampled_from(ACTIVATIONS)), "--depth", _depths(draw, flags, lmax, 2, 2, 3),
            "--width", str(draw(WIDTHS)), *extra, "--refinement", str(2 * draw(st.integers(1, 3))),
            "--samples", str(draw(st.integers(2, 3))), "--seed", str(draw(SEEDS)),
            "--dtype", draw(st.sampled_from(DTYPES)), "--device", "cpu", *_output(draw)]


@st.composite
def adjoint_argv(draw, lmax: int) -> list[str]:
    law, flags = draw(law_flags())
    return ["adjoint", *flags, "--net", draw(st.sampled_from(["resnet", "heunnet"])),
            "--model", draw(st.sampled_from(MODELS)), "--activation", draw(st.sampled_from(ACTIVATIONS)),
            "--depth", _depths(draw, flags, lmax), "--width", str(draw(WIDTHS)),
            "--samples", str(draw(st.integers(1, 3))), "--batch", str(draw(st.integers(1, 2))),
            "--beta", _num(draw(BETAS)), "--seed", str(draw(SEEDS)), "--dtype", draw(st.sampled_from(DTYPES)),
            "--device", "cpu", *_output(draw)]


@st.composite
def train_argv(draw, lmax: int) -> list[str]:
    law, flags = draw(law_flags())
    data = draw(st.sampled_from(["synthetic", "synthetic", "digits"]))
    optimizer = draw(st.sampled_from(["gd", "sgd", "adam"]))
    n_examples = draw(st.integers(1, 6))
    extra = []
    if data == "synthetic":
        extra += ["--input-dim", str(draw(st.integers(1, 3))), "--output-dim", str(draw(st.integers(1, 2))),
                  "--noise", _num(draw(st.sampled_from([0.0, 0.1, 1.0])))]
    if optimizer != "gd" and draw(st.booleans()):
        extra += ["--batch-size", str(draw(st.integers(1, n_examples)))]
    if draw(st.booleans()):
        extra += ["--hidden", str(draw(st.integers(1, 4)))]
    return ["train", *flags, "--net", draw(st.sampled_from(["resnet", "heunnet"])),
            "--backprop", draw(st.sampled_from(["exact", "adjoint"])), "--model", draw(st.sampled_from(MODELS)),
            "--activation", draw(st.sampled_from(ACTIVATIONS)), "--depth", _depths(draw, flags, lmax, 2),
            "--width", str(draw(WIDTHS)), "--beta", _num(draw(BETAS)), "--samples", str(draw(st.integers(1, 2))),
            "--v-init", draw(st.sampled_from(["law", "zero"])), "--data", data, "--n-examples", str(n_examples),
            "--n-test", str(draw(st.integers(1, 6))), "--optimizer", optimizer,
            "--lr", _num(draw(st.sampled_from([1e-3, 0.05, 1.0, 10.0]))),
            "--lr-scaling", draw(st.sampled_from(["depth", "none"])), "--steps", str(draw(st.integers(1, 3))),
            "--track-points", str(draw(st.integers(2, 4))), "--depth-seeds", draw(st.sampled_from(["common", "independent"])),
            *extra, "--seed", str(draw(SEEDS)), "--dtype", draw(st.sampled_from(DTYPES)), "--device", "cpu",
            *_output(draw)]


@st.composite
def inspect_argv(draw, lmax: int) -> list[str]:
    law, flags = draw(law_flags())
    extra = [] if draw(st.booleans()) else ["--no-gradients"]
    if draw(st.booleans()):
        extra += ["--profile-points", str(draw(st.integers(1, 64)))]
    return ["inspect", MLP, *flags, "--init", draw(st.sampled_from(["module", "moments"])),
            "--homogeneous", draw(st.sampled_from(["auto", "yes", "no"])),
            "--batching", draw(st.sampled_from(["auto", "vmap", "loop"])), "--depth", _depths(draw, flags, lmax),
            "--width", str(draw(WIDTHS)), "--beta", _betas(draw), *_samples_and_draws(draw), *extra,
            "--seed", str(draw(SEEDS)), "--dtype", draw(st.sampled_from(DTYPES)), "--device", "cpu", *_output(draw)]


@st.composite
def check_file(draw, lmax: int) -> str:
    """A small check file of `run`/`sweep`/`phase` settings whose expectations hold whatever the
    measurement (wide bounds), so that exit 1 is rare and exit 3 is a bug."""
    law = draw(st.sampled_from(LAWS))
    keys: dict[str, Any] = {"name": "generated", "law": law}
    if law == "iid":
        keys["dist"] = draw(st.sampled_from(DISTS))
    elif law == "rbf":
        keys["lengthscale"] = draw(LENGTHSCALES)
    elif law == "fbm":
        keys["hurst"] = draw(HURSTS)
    depths = sorted({_depth(draw, [law], lmax) for _ in range(draw(st.integers(1, 2)))})
    betas = sorted(set(draw(st.lists(BETAS, min_size=1, max_size=3))))
    samples = draw(st.integers(2, 3))
    keys |= {"model": draw(st.sampled_from(MODELS)), "activation": draw(st.sampled_from(ACTIVATIONS)),
             "width": draw(WIDTHS), "depth": depths, "beta": betas, "samples": samples, "seed": draw(SEEDS),
             "dtype": draw(st.sampled_from(DTYPES)), "device": "cpu"}
    beta = draw(st.sampled_from(betas))
    expectations = [{"type": "statistic", "stat": "output_log10.q95", "beta": beta, "depth": depths[-1],
                     "min": -1e300, "max": 1e300}]
    if draw(st.booleans()):
        expectations.append({"type": "statistic", "stat": "gradient_log10.median", "beta": beta, "depth": depths[0],
                             "max": 1e300})
    if law == "iid" and keys["model"] in ("full", "linear") and draw(st.booleans()):
        expectations.append({"type": "exact_identity", "level": 0.999})
    if len(depths) >= 2 and draw(st.booleans()):
        expectations.append({"type": "critical_beta", "min": -1e300, "max": 1e300})
    return check_toml(keys, *expectations)


def _check_argv(tmp_path_factory, text: str, json_out: bool) -> list[str]:
    path = tmp_path_factory.mktemp("check") / "generated.toml"
    path.write_text(text)
    return ["check", str(path), "--device", "cpu", *(["--json"] if json_out else [])]


# ----------------------------------------------------------------------------- fast tier
#: the depths of the fast tier: each command line runs in a few tens of milliseconds
L_FAST = 64
#: the depths of the slow tier: the largest that still runs well under a second at width ≤ 4
L_SLOW = {"run": 3000, "sweep": 2000, "phase": 2000, "sample": 5000, "spectrum": 1000, "limit": 300,
          "adjoint": 500, "train": 64, "inspect": 500, "check": 2000}


#: each command's command lines in the fast tier, and the corners every run tries by name
FAST_CASES = {
    "run": (run_argv(L_FAST), [
        ["run", "--law", "iid", "--beta", "0", "--depth", "2000", "--width", "4", "--samples", "2", "--device", "cpu",
         "--json"],
        ["run", "--law", "tied", "--model", "linear", "--activation", "identity", "--beta", "0,2", "--depth", "1",
         "--width", "1", "--samples", "1", "--device", "cpu", "--json"]]),
    "sweep": (grid_argv("sweep", L_FAST), [
        ["sweep", "--law", "iid", "--beta", "0,0.5", "--depth", "1,2000", "--width", "1", "--samples", "2",
         "--device", "cpu", "--json"]]),
    "phase": (grid_argv("phase", L_FAST), [
        ["phase", "--law", "iid", "--beta", "0,0.1,2", "--depth", "10,2000", "--width", "1", "--samples", "2",
         "--device", "cpu", "--json"]]),
    "sample": (sample_argv(L_FAST), [
        ["sample", "--hurst", "0.001,0.999", "--depth", "1", "--width", "1", "--device", "cpu", "--json"]]),
    "spectrum": (spectrum_argv(L_FAST), [
        ["spectrum", "--law", "iid", "--model", "linear", "--beta", "0,2", "--depth", "1,1200", "--width", "1",
         "--samples", "2", "--device", "cpu", "--json"]]),
    "limit": (limit_argv(L_FAST), []),
    "adjoint": (adjoint_argv(L_FAST), [
        ["adjoint", "--law", "fbm", "--hurst", "0.01", "--net", "heunnet", "--beta", "0", "--depth", "1,2",
         "--width", "1", "--samples", "1", "--device", "cpu", "--json"]]),
    "train": (train_argv(16), [
        ["train", "--law", "iid", "--beta", "3", "--lr", "10", "--depth", "2,16", "--width", "1", "--samples", "1",
         "--steps", "3", "--n-examples", "2", "--n-test", "2", "--device", "cpu", "--json"]]),
    "inspect": (inspect_argv(L_FAST), [
        ["inspect", MLP, "--beta", "0,2", "--depth", "1,300", "--width", "1", "--samples", "2", "--device", "cpu",
         "--json"]]),
}


def _contract_holds(cli, strategy, config: settings, examples: Iterable[list[str]] = ()) -> None:
    """The contract for every command line `strategy` draws under `config`, and for `examples`."""
    def holds(argv):
        assert_contract(cli, argv)

    test = given(strategy)(holds)
    for argv in examples:
        test = example(argv)(test)
    config(test)()


@pytest.mark.parametrize("command", FAST_CASES)
def test_every_command_keeps_the_contract(cli, command):
    strategy, examples = FAST_CASES[command]
    _contract_holds(cli, strategy, FAST, examples)


@FAST
@given(check_file(L_FAST), st.booleans())
def test_check(cli, tmp_path_factory, text, json_out):
    assert_contract(cli, _check_argv(tmp_path_factory, text, json_out), allowed=(0, 1, 2))


# ----------------------------------------------------------------------------- slow tier: a larger sweep
SLOW_CASES = {"run": run_argv(L_SLOW["run"]), "sweep": grid_argv("sweep", L_SLOW["sweep"]),
              "phase": grid_argv("phase", L_SLOW["phase"]), "sample": sample_argv(L_SLOW["sample"]),
              "spectrum": spectrum_argv(L_SLOW["spectrum"]), "limit": limit_argv(L_SLOW["limit"]),
              "adjoint": adjoint_argv(L_SLOW["adjoint"]), "train": train_argv(L_SLOW["train"]),
              "inspect": inspect_argv(L_SLOW["inspect"])}


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(SLOW_CASES))
def test_every_command_over_many_valid_inputs(cli, command):
    _contract_holds(cli, SLOW_CASES[command], SLOW)


@pytest.mark.slow
@SLOW
@given(check_file(L_SLOW["check"]), st.booleans())
def test_check_over_many_generated_files(cli, tmp_path_factory, text, json_out):
    assert_contract(cli, _check_argv(tmp_path_factory, text, json_out), allowed=(0, 1, 2))


# ----------------------------------------------------------------------------- slow tier: very deep, width 1–2
DEEP = [
    ["run", "--law", "iid", "--beta", "0,0.5,2", "--depth", "100000", "--width", "1", "--samples", "2"],
    ["run", "--law", "fbm", "--hurst", "0.99", "--model", "linear", "--beta", "0,2", "--depth", "100000",
     "--width", "2", "--samples", "2"],
    ["sample", "--law", "fbm", "--hurst", "0.01", "--depth", "1000000", "--width", "1"],
    ["phase", "--law", "tied", "--beta", "0,1,3", "--depth", "1,30000", "--width", "1", "--samples", "2"],
    ["spectrum", "--law", "iid", "--beta", "0,2", "--depth", "30000", "--width", "2", "--samples", "2"],
    ["adjoint", "--law", "iid", "--net", "heunnet", "--beta", "0", "--depth", "2,1000", "--width", "1", "--samples", "1"],
    ["inspect", MLP, "--beta", "0,2", "--depth", "3000", "--width", "1", "--samples", "2"],
    ["train", "--law", "iid", "--beta", "2", "--depth", "2,2000", "--width", "1", "--samples", "1", "--steps", "2",
     "--n-examples", "2", "--n-test", "2"],
    ["limit", "--law", "iid", "--depth", "2,3000", "--width", "1", "--samples", "2"],
]


@pytest.mark.slow
@pytest.mark.parametrize("argv", DEEP, ids=lambda a: f"{a[0]}-L{a[a.index('--depth') + 1]}-{a[a.index('--law') + 1] if '--law' in a else 'iid'}")
def test_very_deep_networks_at_width_one_or_two(cli, argv):
    assert_contract(cli, [*argv, "--device", "cpu", "--json"])
