"""Sentence embeddings for the semantic signal: WordLlama, whose weights and tokenizer ship in its wheel.

The model is loaded once per process, from the installed package only
(``disable_download=True``): grading never reaches the network. Vectors are
L2-normalised, so a dot product is a cosine similarity.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from grader.core.errors import GraderError

if TYPE_CHECKING:
    import numpy as np

# The 256-dimension WordLlama (l2_supercat): the one whose weights are inside the wheel.
MODEL_DIM = 256


class EmbeddingUnavailable(GraderError, RuntimeError):
    """The embedding model is not installed; the message names the package to install."""


@functools.lru_cache(maxsize=1)
def _model():
    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise EmbeddingUnavailable("the prose scorer's embedding model is missing: pip install wordllama") from exc
    # The wheel keeps its files beside the module, laid out as the model's cache.
    return WordLlama.load(dim=MODEL_DIM, cache_dir=Path(wordllama.__file__).parent, disable_download=True)


def embed(texts: list[str]) -> "np.ndarray":
    """One unit-length row per text (``len(texts) x MODEL_DIM``, float32)."""
    import numpy as np

    if not texts:
        return np.zeros((0, MODEL_DIM), dtype=np.float32)
    return _model().embed(texts, norm=True)
