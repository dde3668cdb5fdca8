"""Studies: what the numbers say.

Correlations in scipy.stats' style (`correlation`), the evaluation of a sample against
its ground truth (`evaluation`), the cross-benchmark table (`reproduce`), params/FLOPs
baselines, NASLib's stored proxies, one network explained (`explain`), figure tables
(`figures`) and the pruning demo. The top floor of the core: may use every other
package; only the CLI and the app sit above it.
"""

from ssnr_core.studies.correlation import Summary
from ssnr_core.studies.evaluation import Evaluation, Study

__all__ = ["Evaluation", "Study", "Summary"]
