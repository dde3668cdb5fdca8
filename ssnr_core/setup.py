"""`Setup`: everything besides the architecture that changes a network's statistics.

It is the cache key (with the architecture), what a job passes to its child process
(as JSON), and what every result names, so that a figure always says what it was
computed on.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

# Bump when a code change alters any stored statistic: old rows stop matching.
CODE_VERSION = "1"


@dataclass(frozen=True)
class Setup:
    space: str
    task: str
    saliency: str
    seed: int = 0
    batch: str = "synthetic"  # a resolved `batches.resolve` key; "none" for data-free saliencies
    dtype: str = ""  # the network's dtype; by default the saliency's (synflow: float64)
    version: str = CODE_VERSION
    init: str = "slot"  # "slot": modules seeded per (seed, slot), shared; "fresh": per (seed, arch)

    def __post_init__(self) -> None:
        from ssnr_core.saliency import REGISTRY  # torch only when a key is made

        known = REGISTRY.get(self.saliency)
        if known is not None and not known.needs_data:
            object.__setattr__(self, "batch", "none")  # no batch can change these numbers
        if not self.dtype:
            dtype = str(known.dtype).removeprefix("torch.") if known else "float64"
            object.__setattr__(self, "dtype", dtype)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Setup:
        """The inverse of `to_json`; ValueError for anything else."""
        try:
            data = json.loads(text)
        except ValueError:
            raise ValueError(f"not a setup (JSON object expected): {text[:80]!r}") from None
        names = {f.name for f in fields(cls)}
        if (
            not isinstance(data, dict)
            or not set(data) <= names
            or not {"space", "task", "saliency"} <= set(data)
        ):
            raise ValueError(f"a setup has fields {', '.join(sorted(names))}; got {text[:80]!r}")
        return cls(**data)
