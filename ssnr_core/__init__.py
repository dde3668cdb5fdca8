"""SSNR Explorer's core: does a zero-cost NAS proxy track accuracy?

Floors, each importing only from those below it:
`data` < `spaces` < `benchmarks` < `proxies` < `runs` < `studies` < `cli`.
The public nouns are named here; see docs/ARCHITECTURE.md for the map. They are
imported when first used, so that `python -m ssnr_core` can handle a Ctrl-C while
torch is still loading (one line, not a traceback).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ssnr_core.proxies.models import ModelScore, score_model
    from ssnr_core.proxies.setup import Setup
    from ssnr_core.runs.cache import Cache
    from ssnr_core.runs.scoring import score
    from ssnr_core.runs.settings import Settings
    from ssnr_core.spaces import Space, get_space
    from ssnr_core.studies.evaluation import Evaluation, Study, evaluate

_PUBLIC = {
    "Cache": "ssnr_core.runs.cache",
    "Evaluation": "ssnr_core.studies.evaluation",
    "ModelScore": "ssnr_core.proxies.models",
    "Settings": "ssnr_core.runs.settings",
    "Setup": "ssnr_core.proxies.setup",
    "Space": "ssnr_core.spaces",
    "Study": "ssnr_core.studies.evaluation",
    "evaluate": "ssnr_core.studies.evaluation",
    "get_space": "ssnr_core.spaces",
    "score": "ssnr_core.runs.scoring",
    "score_model": "ssnr_core.proxies.models",
}
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


def __getattr__(name: str) -> object:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'ssnr_core' has no attribute {name!r}")
