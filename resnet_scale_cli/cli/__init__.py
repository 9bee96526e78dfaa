"""The `rscale` command line: thin commands that parse flags into specs, call one library
function (`resnet_scale_cli.api`), and render its result. One module per command; shared
option definitions in `options`, the app and exit codes in `app`. Nothing else in the package
imports this one."""

from resnet_scale_cli.cli.app import app, main
from resnet_scale_cli.cli import adjoint, check, grid, inspect, limit, run, sample, spectrum, train  # noqa: F401,E402  (register the commands)

__all__ = ["app", "main"]
