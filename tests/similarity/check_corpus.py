"""Check that a corpus written by make_corpus.py is what its labels say (no detector involved).

    python tests/similarity/check_corpus.py OUT

Every label is checked against the files: a resaved copy has other bytes and the same weights, a
renamed one other layer names and the same weights, a noised or fine-tuned one close but not
equal weights, a partial one equal weights in some layers only; textbook users match
known/textbook; every q6 file computes Keras's LSTM step; every answers.md has its eight sections.
It also prints how much honest students share, so a reader can see the negatives are fair.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import sys
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))


def _weights(path: Path):
    import keras

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = keras.models.load_model(path)
    return model, model.get_weights()


def _same(a, b) -> bool:
    import numpy as np

    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))


def _relative_gap(a, b) -> float:
    import numpy as np

    flat_a = np.concatenate([x.ravel() for x in a])
    flat_b = np.concatenate([y.ravel() for y in b])
    return float(np.linalg.norm(flat_a - flat_b) / np.linalg.norm(flat_a))


def check_model_pair(out: Path, pair: dict) -> str:
    task = pair["task"]
    path_a = out / "class" / pair["a"] / f"{task}.keras"
    path_b = out / "class" / pair["b"] / f"{task}.keras"
    model_a, wa = _weights(path_a)
    model_b, wb = _weights(path_b)
    kind = pair["kind"]
    assert path_a.read_bytes() != path_b.read_bytes(), f"{pair}: identical bytes"
    if kind in ("resaved", "renamed", "common_source") and pair.get("via") is None:
        assert _same(wa, wb), f"{pair}: weights differ"
        names_a = [layer.name for layer in model_a.layers]
        names_b = [layer.name for layer in model_b.layers]
        assert (names_a != names_b) == (kind == "renamed"), f"{pair}: layer names {names_a} vs {names_b}"
        return "weights equal"
    if kind == "common_source":
        gap = _relative_gap(wa, wb)
        assert 0 < gap < 0.2, f"{pair}: gap {gap}"
        return f"relative distance {gap:.3g}"
    if kind in ("noised", "finetuned"):
        gap = _relative_gap(wa, wb)
        assert 0 < gap < 0.2, f"{pair}: gap {gap}"
        return f"relative distance {gap:.3g}"
    if kind == "partial":
        same = [_same(la.get_weights(), lb.get_weights()) for la, lb in zip(model_a.layers, model_b.layers)
                if la.get_weights()]
        assert any(same) and not all(same), f"{pair}: layers equal {same}"
        return f"layers with weights equal: {same}"
    raise AssertionError(f"unknown kind {kind}")


def check_q6(path: Path) -> None:
    import numpy as np

    from reference_models import lstm_cell

    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # our own generated files
    rng = np.random.default_rng(0)
    for units, features, batch in ((3, 2, 1), (5, 4, 3)):
        args = (rng.normal(size=(batch, features)), rng.normal(size=(batch, units)), rng.normal(size=(batch, units)),
                rng.normal(size=(features, 4 * units)), rng.normal(size=(units, 4 * units)), rng.normal(size=4 * units))
        for want, got in zip(lstm_cell.lstm_step(*args), namespace["lstm_step"](*args)):
            assert np.allclose(want, got), f"{path}: wrong LSTM step"


def _sentences(text: str) -> set[str]:
    return {s.strip().lower() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 6}


def check_corpus(out: Path) -> None:
    from grader.prose.answers import parse_answers

    labels = json.loads((out / "labels.json").read_text())
    students = labels["students"]
    for pair in labels["pairs"]:
        if pair["artifact"] == "model":
            print(f"{pair['kind']:>16} {pair['a']}->{pair['b']} {pair['task']}: {check_model_pair(out, pair)}")
    book = out / "known" / "textbook"
    for entry in labels["public_source"]:
        folder = out / "class" / entry["student"]
        if entry["artifact"] == "model":
            assert _same(_weights(folder / f"{entry['task']}.keras")[1],
                         _weights(book / f"{entry['task']}.keras")[1]), entry
        elif entry["artifact"] == "q6":
            assert (folder / "q6_lstm_cell.py").read_text() == (book / "q6_lstm_cell.py").read_text(), entry
        else:
            mine = parse_answers((folder / "answers.md").read_text()).answers[entry["task"]]
            assert mine == parse_answers((book / "answers.md").read_text()).answers[entry["task"]], entry
    print(f"public_source: {len(labels['public_source'])} entries match known/textbook")

    answers = {}
    for sid in students:
        folder = out / "class" / sid
        check_q6(folder / "q6_lstm_cell.py")
        parsed = parse_answers((folder / "answers.md").read_text())
        assert not parsed.messages and all(parsed.answers.values()), f"{sid}: {parsed.messages}"
        answers[sid] = parsed.answers
    check_q6(book / "q6_lstm_cell.py")
    print(f"q6 and answers.md: all {len(students)} students correct and complete")

    copied = {(p["a"], p["b"], p["task"]) for p in labels["pairs"] if p["artifact"] == "prose"}
    copied |= {(b, a, t) for a, b, t in copied}
    worst, share_counts = 0.0, []
    for a, b in itertools.combinations(students, 2):
        for question in answers[a]:
            if (a, b, question) in copied:
                continue
            sa, sb = _sentences(answers[a][question]), _sentences(answers[b][question])
            share = len(sa & sb) / max(1, min(len(sa), len(sb)))
            share_counts.append(share)
            worst = max(worst, share)
    identical_q6 = sum((out / "class" / a / "q6_lstm_cell.py").read_text() == (out / "class" / b / "q6_lstm_cell.py").read_text()
                       for a, b in itertools.combinations(students, 2))
    print(f"uncopied answer pairs: max share of identical sentences {worst:.2f}, "
          f"mean {sum(share_counts) / len(share_counts):.3f}; identical q6 files between students: {identical_q6}")


if __name__ == "__main__":
    check_corpus(Path(sys.argv[1]))
