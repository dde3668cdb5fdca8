"""SSNR Explorer's core: does a zero-cost NAS proxy track accuracy?

Floors, each importing only from those below it:
`data` < `spaces` < `benchmarks` < `proxies` < `runs` < `studies` < `cli`.
The public nouns are named here; see docs/ARCHITECTURE.md for the map.
"""

from ssnr_core.proxies.models import ModelScore, score_model
from ssnr_core.proxies.setup import Setup
from ssnr_core.runs.cache import Cache
from ssnr_core.runs.scoring import score
from ssnr_core.runs.settings import Settings
from ssnr_core.spaces import Space, get_space
from ssnr_core.studies.evaluation import Evaluation, Study, evaluate

__all__ = [
    "Cache",
    "Evaluation",
    "ModelScore",
    "Settings",
    "Setup",
    "Space",
    "Study",
    "evaluate",
    "get_space",
    "score",
    "score_model",
]
