"""Runs: where and how many architectures are scored, and where results are kept.

`Settings` (the one run-settings value, built at the edge), the SQLite `Cache`,
`scoring.score` (what the cache lacks, claimed and committed as it arrives) over a
`Backend`: the local process pool (`pool`) or Ray (`ray_backend`); the app's
background `jobs` and torch `threads`. May use proxies and everything below; knows
nothing of correlations or studies.
"""

from ssnr_core.runs.backend import Backend
from ssnr_core.runs.cache import Cache, CacheError
from ssnr_core.runs.settings import Settings

__all__ = ["Backend", "Cache", "CacheError", "Settings"]
