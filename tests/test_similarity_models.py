"""Model weight comparison (grader.similarity.models) on synthetic fingerprints: no TensorFlow, no files."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from grader.similarity.models import ModelPrint, TensorPrint, compare_models, correlation


def _tensor(values: np.ndarray) -> TensorPrint:
    flat = values.astype("float32").reshape(-1)
    sample = flat if flat.size <= 256 else flat[np.linspace(0, flat.size - 1, 256).astype("int64")]
    return TensorPrint(values.shape, hashlib.sha256(flat.tobytes()).hexdigest(), tuple(float(v) for v in sample))


def _model(rng: np.random.Generator, shapes=((32, 96), (1, 96), (32, 7), (96,), (7,))) -> list[np.ndarray]:
    return [rng.normal(0, 0.2, shape) if len(shape) > 1 else np.zeros(shape) for shape in shapes]


def _print(arrays) -> ModelPrint:
    return ModelPrint(tuple(_tensor(a) for a in arrays))


def test_same_weights_whatever_the_order_of_the_tensors():
    arrays = _model(np.random.default_rng(0))
    match = compare_models(_print(arrays), _print(list(reversed(arrays))))
    assert match.kind == "same weights" and match.strength == 1.0


def test_independent_initialisations_share_nothing_even_with_equal_biases():
    for seed in range(20):
        a, b = _model(np.random.default_rng(seed)), _model(np.random.default_rng(seed + 100))
        match = compare_models(_print(a), _print(b))
        assert match.kind is None, (seed, match)
        assert max(abs(c) for c in match.correlations) < 0.5


@pytest.mark.parametrize("drift", [0.002, 0.02, 0.08])   # of weights with std 0.2
def test_a_copy_that_drifted_keeps_its_origin(drift):
    rng = np.random.default_rng(1)
    a = _model(rng)
    b = [x + rng.normal(0, drift, x.shape) for x in a]    # noise, or a few epochs of fine-tuning
    match = compare_models(_print(a), _print(b))
    assert match.kind == "same origin" and match.share >= 0.75


def test_some_layers_copied_is_a_partial_copy():
    rng = np.random.default_rng(2)
    a, own = _model(rng), _model(rng)
    b = [own[0], a[1], a[2], own[3], own[4]]      # the input and output kernels copied, the recurrent one own
    match = compare_models(_print(a), _print(b))
    assert match.kind == "partial copy" and match.identical == 2
    # Copying the kernel that holds most of the weights is copying the model.
    assert compare_models(_print(a), _print([a[0], *own[1:]])).kind == "same origin"


def test_another_architecture_is_never_same_origin():
    rng = np.random.default_rng(3)
    a = _model(rng)
    b = a[:1] + _model(rng, shapes=((1, 96), (32, 5), (5,)))
    assert compare_models(_print(a), _print(b)).kind == "partial copy"


def test_correlation_is_zero_for_constant_or_mismatched_samples():
    assert correlation((1.0,) * 32, tuple(float(i) for i in range(32))) == 0.0
    assert correlation((1.0, 2.0), (1.0, 2.0)) == 0.0          # too few values to say anything
    assert correlation(tuple(range(32)), tuple(range(16))) == 0.0


def test_an_empty_model_matches_nothing():
    assert compare_models(ModelPrint(()), ModelPrint(())).kind is None


def test_linked_groups_are_the_connected_components():
    from grader.core.groups import linked_groups

    assert linked_groups([("a", "b"), ("c", "d"), ("b", "e"), ("d", "c")]) == [["a", "b", "e"], ["c", "d"]]
    assert linked_groups([]) == []
