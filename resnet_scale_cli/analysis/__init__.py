"""Reading measurements: regimes and the critical β from depth trends (`regimes`), power-law
rates against depth with bootstrap intervals (`rates`), and every reference with its basis
(`theory`)."""

from resnet_scale_cli.analysis.rates import power_law_fit
from resnet_scale_cli.analysis.regimes import LEVEL, N_BOOTSTRAP, TAU, analyze, analyze_setting, regime_of

__all__ = ["LEVEL", "N_BOOTSTRAP", "TAU", "analyze", "analyze_setting", "power_law_fit", "regime_of"]
