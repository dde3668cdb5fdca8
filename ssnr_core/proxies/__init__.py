"""Proxies: one network in, per-layer statistics out.

`Setup` (the cache key and provenance of every number), the saliency registry
(`saliency`), the data batch a saliency sees (`batches`), building and scoring one
network (`network`; NB201 synflow many at a time through `engine`) and the
aggregations of per-layer statistics (`aggregation`). May know spaces, benchmarks and
data; knows nothing of caches, processes or studies.
"""

from ssnr_core.proxies.saliency import Saliency
from ssnr_core.proxies.setup import Setup

__all__ = ["Saliency", "Setup"]
