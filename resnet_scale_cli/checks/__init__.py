"""`rscale check`: check files (`files`), expectation types as a registry (`expectations`),
statistical baselines (`baseline`), JUnit XML (`junit`) and `run_checks` (`runner`)."""

from resnet_scale_cli.checks.expectations import EXPECTATIONS, ExpectationType
from resnet_scale_cli.checks.files import CheckFile, evaluate, load_check
from resnet_scale_cli.checks.runner import CheckRun, load_checks, run_checks

__all__ = ["EXPECTATIONS", "CheckFile", "CheckRun", "ExpectationType", "evaluate", "load_check", "load_checks",
           "run_checks"]
