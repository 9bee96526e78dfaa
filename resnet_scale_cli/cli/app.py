"""The Typer app and the entry point: exit codes and one-line errors.

Exit codes: 0 ok, 1 a check failed, 2 bad usage or input (one line on stderr), 3 internal error.
Nothing here imports torch or matplotlib: `--help`, `--version` and usage errors stay fast.
"""

from __future__ import annotations

import os
import sys
import warnings
from contextlib import contextmanager
from typing import Annotated, Iterator

import typer

try:  # typer >= 0.22 vendors its own click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_exceptions

from resnet_scale_cli.errors import SpecError

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

class _Group(typer.core.TyperGroup):
    """The root group: typer's own options (`--help` everywhere; `--install-completion` and
    `--show-completion` at the root) show as rscale's flags do, with no value (`<bool>`), and a
    command's `--help` sits in its Output panel."""

    def get_params(self, ctx: typer.Context) -> list:
        params = super().get_params(ctx)
        for param in params:
            _as_flag(param)
        return params

    def get_command(self, ctx: typer.Context, name: str):
        command = super().get_command(ctx, name)
        if command is not None:
            _as_flag(command.get_help_option(ctx), panel="Output")
            for param in command.params:
                if isinstance(param, typer.core.TyperArgument):  # FILE..., BLOCK: the name is the metavar
                    param.display_type_rich = _no_type
        return command


def _no_type(ctx: typer.Context) -> None:
    """No `<str>` / `<list[str]>` type column beside an argument's name."""
    return None


def _as_flag(option, panel: str | None = None) -> None:
    """A flag option (None: nothing) shows no value; `panel` is its help panel unless it has one."""
    if option is None or not getattr(option, "is_flag", False):
        return
    if option.metavar is None:
        option.metavar = ""
    if panel is not None and getattr(option, "rich_help_panel", None) is None:
        option.rich_help_panel = panel


app = typer.Typer(
    cls=_Group,
    name="rscale",
    help="Depth-scaling stability of deep residual networks h_{k+1} = h_k + L^-β f(h_k, θ_{k+1}).",
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    no_args_is_help=True,
)


def _version(value: bool) -> None:
    if value:
        from resnet_scale_cli import __version__

        typer.echo(f"rscale {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """rscale: will a ResNet of depth L with residual scaling L^-β explode, collapse to the identity, or stay stable?"""


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"rscale: error: {message}\n")
    sys.stderr.flush()
    return code


@contextmanager
def quiet_warnings() -> Iterator[None]:
    """Nothing on stderr but rscale's own lines: Python, numpy and torch warnings are ignored in
    this process, and the processes it starts (Dask workers) get `PYTHONWARNINGS=ignore`; torch's
    C++ log (read when torch loads) keeps to errors (`TORCH_CPP_LOG_LEVEL=ERROR`).

    Left as they are when RSCALE_DEBUG is set (the debugging path shows them) or when a filter
    already turns warnings into errors (`-W error`, the test suite): those callers want them."""
    if os.environ.get("RSCALE_DEBUG") or any(f[0] == "error" for f in warnings.filters):
        yield
        return
    quiet = {"PYTHONWARNINGS": "ignore", "TORCH_CPP_LOG_LEVEL": os.environ.get("TORCH_CPP_LOG_LEVEL", "ERROR")}
    before = {name: os.environ.get(name) for name in quiet}
    os.environ.update(quiet)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: every usage or input error becomes one line and exit 2;
    warnings never print (`quiet_warnings`)."""
    with quiet_warnings():
        code = _main(argv)
    raise SystemExit(code)


def _main(argv: list[str] | None) -> int:
    import resnet_scale_cli.cli  # noqa: F401  (registers the commands)

    try:
        code = app(args=argv, prog_name="rscale", standalone_mode=False)
    except click_exceptions.ClickException as exc:  # usage errors: unknown option, bad type, ...
        message = exc.format_message().replace("\n", " ").strip()
        code = _fail(message, EXIT_USAGE) if message else EXIT_OK  # bare `rscale` printed its help
    except SpecError as exc:
        code = _fail(str(exc), EXIT_USAGE)
    except (KeyboardInterrupt, typer.Abort):
        code = _fail("interrupted", EXIT_INTERRUPTED)
    except BrokenPipeError:
        code = EXIT_OK
    except Exception as exc:  # an internal error: one line unless RSCALE_DEBUG asks for the traceback
        if os.environ.get("RSCALE_DEBUG"):
            raise
        code = _fail(f"internal error: {type(exc).__name__}: {exc} (set RSCALE_DEBUG=1 for the traceback)", EXIT_INTERNAL)
    return code if isinstance(code, int) else EXIT_OK
