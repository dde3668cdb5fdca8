"""`Setup`: everything besides the architecture that changes a network's statistics.

It is the cache key (with the architecture), what a job passes to its child process
(as JSON), and what every result names, so that a figure always says what it was
computed on.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import torch

from ssnr_core.proxies import batches
from ssnr_core.proxies.saliency import REGISTRY, get
from ssnr_core.spaces import REGISTRY as SPACES

# The manual knob: bump when a code change alters any stored statistic, so old rows stop
# matching. "2": the saliency engine changed.
CODE_VERSION = "2"
MAX_SEED = 2**63 - 1  # SQLite's INTEGER: the bound of every seed (flags, JSON, the app's URL)
INITS = ("slot", "fresh")  # module initialisation protocols (`Setup.init`)
DTYPES = ("float32", "float64")


def check_seed(seed: object, what: str = "seed") -> int:
    """`seed` as a seed (an integer in 0..MAX_SEED, not a bool); ValueError otherwise."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        shown = f"{seed:,}" if isinstance(seed, int) and not isinstance(seed, bool) else repr(seed)
        raise ValueError(f"{what} must be an integer in 0..{MAX_SEED:,}, got {shown[:80]}")
    return seed


def default_dtype(setup: Setup) -> str:
    """float32 where the batched engine runs (NB201 synflow: exact power-of-two rescaling,
    its rank agreement with float64 is tested), else the saliency's own (synflow float64,
    the reference precision, whose range float32 lacks where a network is not positively
    homogeneous, e.g. TNB101's tanh heads; the data-dependent ones float32)."""
    if setup.batched:
        return "float32"
    known = REGISTRY.get(setup.saliency)
    return str(known.dtype).removeprefix("torch.") if known else "float64"


def default_version() -> str:
    """What besides the setup's other fields decides the numbers: this code (`CODE_VERSION`)
    and the torch release that runs it (kernels and initialisers change between releases,
    and nobody remembers to bump a constant for that), e.g. "2+torch2.13.0". A local build
    tag ("+cpu", "+cu121") is left out: it changes where the numbers are computed, as
    `--device` does, not the code that computes them."""
    return f"{CODE_VERSION}+torch{torch.__version__.split('+')[0]}"


@dataclass(frozen=True)
class Setup:
    space: str
    task: str
    saliency: str
    seed: int = 0
    # a resolved `batches.resolve` key; "none" for data-free saliencies; "<input>@<protocol>"
    # for a per-network measure (`zero_cost`), so its protocol is part of the cache key
    batch: str = "synthetic"
    dtype: str = ""  # the network's dtype; default: see `default_dtype`
    version: str = ""  # default: `default_version()`; kept as given when read back
    init: str = "slot"  # "slot": modules seeded per (seed, slot), shared; "fresh": per (seed, arch)

    def __post_init__(self) -> None:
        known = REGISTRY.get(self.saliency)
        if known is not None and known.per_network:
            # "<input>@<protocol>": a data-free measure sees a seeded N(0, 1) batch
            source = self.batch.partition("@")[0] if known.needs_data else "synthetic"
            object.__setattr__(self, "batch", f"{source}@{known.protocol}")
        elif known is not None and not known.needs_data:
            object.__setattr__(self, "batch", "none")  # no batch can change these numbers
        if not self.version:
            object.__setattr__(self, "version", default_version())
        if not self.dtype:
            object.__setattr__(self, "dtype", default_dtype(self))

    @classmethod
    def resolved(
        cls,
        space: str,
        task: str,
        saliency: str,
        seed: int = 0,
        batch: str | None = "auto",
        data_dir: Path | None = None,
        dtype: str = "",
        init: str = "slot",
    ) -> Setup:
        """The setup a run uses, its batch made concrete by `batches.resolve` ("auto": the
        CIFAR-10 batch once fetched, else synthetic); what the CLI and the app build."""
        needs_data = get(saliency).needs_data  # ValueError for an unknown name
        batch = batches.resolve(batch, needs_data, data_dir)
        return cls(space, task, saliency, seed, batch, dtype, init=init)

    @property
    def batched(self) -> bool:
        """Whether `engine` scores this setup (many architectures per pass): NB201 synflow
        with shared slot-seeded modules (a fresh network per architecture is built alone)."""
        return self.space == "nb201" and self.saliency == "synflow" and self.init == "slot"

    @property
    def stored(self) -> Setup:
        """The setup whose cache rows hold this one's statistics: itself, or, for a measure
        that reads neither the classifier nor the labels (`Saliency.head_free`) on slot-seeded
        modules, the first task of its `Space.same_body` group: the body's weights and the
        inputs are the same there, so are the numbers (tested), computed and stored once
        (NB201 CIFAR-100 meco is CIFAR-10 meco)."""
        known, space = REGISTRY.get(self.saliency), SPACES.get(self.space)
        if known is None or not known.head_free or space is None or self.init != "slot":
            return self
        for group in space.same_body:
            if self.task in group and self.task != group[0]:
                return replace(self, task=group[0])
        return self

    def on(self, space: str, task: str) -> Setup:
        """This protocol (saliency, seed, batch, init) on another task; dtype and version
        back to their defaults there."""
        return Setup(space, task, self.saliency, self.seed, self.batch, init=self.init)

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
        return cls(**_checked(data))


def _checked(data: dict) -> dict:
    """The fields of a setup given as JSON (`score --setup`), checked with the same bounds
    as the flags before any of them reaches a network or the cache."""
    for name, value in data.items():
        if name != "seed" and not isinstance(value, str):
            raise ValueError(f"setup field {name!r} must be a string, got {value!r:.80}")
    check_seed(data.get("seed", 0), "setup field 'seed'")
    get(data["saliency"])  # ValueError naming the known ones
    if data.get("dtype", "") not in ("", *DTYPES):
        raise ValueError(
            f"setup field 'dtype' must be one of {', '.join(DTYPES)}, got {data['dtype']!r:.80}"
        )
    if data.get("init", "slot") not in INITS:
        raise ValueError(
            f"setup field 'init' must be one of {', '.join(INITS)}, got {data['init']!r:.80}"
        )
    return data
