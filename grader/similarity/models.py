"""Do two trained models share an origin? Evidence from their weights alone.

A model is compared as a bag of weight tensors (:class:`ModelPrint`), each known by its
shape, the SHA-256 of its float32 values and a sample of them taken at positions fixed by
its size (the sandboxed reader, ``grader.sandbox.header_ops.weight_samples``). Names,
order and file metadata play no part, so a re-saved file, renamed layers or reordered
groups change nothing.

- **Same weights**: every tensor of one has an identical twin in the other.
- **Same origin**: the same architecture, and kernels (tensors of rank >= 2) holding at
  least three quarters of the kernel weights are correlated with their counterparts far
  above what two independent trainings reach (a small, zero-initialised tensor such as a
  GRU's 2-row bias moves further under fine-tuning, so it may fall short on its own).
  Independent initialisations are uncorrelated, and training moves weights too little to
  make them correlated, so honest pairs sit near 0 (measured by ``bench/bench_similarity.py``
  on honest pairs of the labelled corpus); a copy fine-tuned for a few epochs, or with
  noise added, stays near 1.
- **Partial copy**: some kernels identical or as correlated, not all.

Rank-1 tensors (biases, normalisation scales, LSTM forget-gate biases initialised to 1)
are alike in every model that has them, so they count toward "same weights" only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

SAME_ORIGIN = 0.9      # kernel correlation above which two tensors share an origin
MIN_SAMPLE = 16        # fewer sampled values than this say nothing about correlation
MOST = 0.75            # share of the kernel weights that must share an origin for "same origin"


@dataclass(frozen=True)
class TensorPrint:
    shape: tuple[int, ...]
    sha256: str | None               # None: too large to digest
    sample: tuple[float, ...]

    @property
    def is_kernel(self) -> bool:
        """A weight matrix whose values say something about where it came from: rank >= 2 and not
        constant (a zero-initialised bias of shape (2, 96) is identical in every untrained model)."""
        return len(self.shape) >= 2 and len(self.sample) >= MIN_SAMPLE and min(self.sample) != max(self.sample)


@dataclass(frozen=True)
class ModelPrint:
    """One model file's weights, as the sandbox's reader described them."""

    tensors: tuple[TensorPrint, ...]
    cut: bool = False                # the file had more tensors than were read

    @classmethod
    def from_reply(cls, reply: Mapping[str, Any]) -> ModelPrint:
        return cls(tuple(TensorPrint(tuple(t["shape"]), t["sha256"], tuple(t["sample"])) for t in reply["tensors"]),
                   bool(reply["cut"]))

    @property
    def kernels(self) -> tuple[TensorPrint, ...]:
        return tuple(t for t in self.tensors if t.is_kernel)

    def digests(self) -> tuple[str, ...]:
        """The sorted tensor digests: equal for two files holding the same weights, names aside."""
        return tuple(sorted(t.sha256 or f"large:{t.shape}" for t in self.tensors))


@dataclass(frozen=True)
class ModelMatch:
    """What two models' weights have in common."""

    kind: str | None                 # "same weights", "same origin", "partial copy", or None
    kernels: int                     # kernels compared (those of the smaller model)
    identical: int                   # kernels with an identical twin
    correlated: int                  # kernels (identical ones included) correlated >= SAME_ORIGIN
    correlations: tuple[float, ...]  # the best correlation of each kernel, in the smaller model's order
    share: float = 0.0               # the share of the kernel weights (by count) in correlated kernels

    @property
    def strength(self) -> float:
        """0..1, for ranking: the share of the weights that are copied."""
        return 1.0 if self.kind == "same weights" else self.share


def correlation(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Pearson correlation of two samples of one shape (0 when either is constant)."""
    x, y = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    if x.size != y.size or x.size < MIN_SAMPLE:
        return 0.0
    x, y = x - x.mean(), y - y.mean()
    scale = math.sqrt(float(x @ x) * float(y @ y))
    return float(x @ y) / scale if scale > 0 else 0.0


def compare_models(a: ModelPrint, b: ModelPrint) -> ModelMatch:
    """How much of ``a`` and ``b`` is one model: see the module docstring for the three kinds."""
    if a.tensors and a.digests() == b.digests() and all(t.sha256 for t in a.tensors):
        kernels = len(a.kernels)
        return ModelMatch("same weights", kernels, kernels, kernels, (1.0,) * kernels, 1.0)
    small, large = (a, b) if len(a.kernels) <= len(b.kernels) else (b, a)
    pool = list(large.kernels)
    best: list[float] = []
    identical = 0
    for kernel in small.kernels:
        # Its counterpart: among the other model's unused kernels of the same shape, the most correlated.
        candidates = [(i, other) for i, other in enumerate(pool) if other is not None and other.shape == kernel.shape]
        if not candidates:
            best.append(0.0)
            continue
        scored = [(1.0 if kernel.sha256 and kernel.sha256 == other.sha256 else correlation(kernel.sample, other.sample), i)
                  for i, other in candidates]
        value, index = max(scored)
        if kernel.sha256 and kernel.sha256 == pool[index].sha256:
            identical += 1
        pool[index] = None
        best.append(value)
    correlated = sum(1 for value in best if value >= SAME_ORIGIN)
    sizes = [math.prod(kernel.shape) for kernel in small.kernels]
    share = sum(size for size, value in zip(sizes, best) if value >= SAME_ORIGIN) / sum(sizes) if sizes else 0.0
    same_shapes = sorted(t.shape for t in a.kernels) == sorted(t.shape for t in b.kernels)
    if best and share >= MOST and same_shapes:
        kind = "same origin"
    elif correlated:
        kind = "partial copy"
    else:
        kind = None
    return ModelMatch(kind, len(best), identical, correlated, tuple(round(v, 4) for v in best), round(share, 4))
