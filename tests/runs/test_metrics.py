"""nnfast.runs.metrics against a direct count over the pairs."""

import numpy as np

from nnfast.runs.metrics import classification_report, format_report


def test_report_matches_direct_counts():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 500)
    predicted = np.where(rng.random(500) < 0.7, labels, rng.integers(0, 10, 500))
    r = classification_report(labels, predicted)
    assert r["correct"] == int(np.sum(labels == predicted)) and r["total"] == 500
    for d in range(10):
        tp = np.sum((labels == d) & (predicted == d))
        precision = tp / max(np.sum(predicted == d), 1)
        recall = tp / max(np.sum(labels == d), 1)
        row = r["per_digit"][d]
        assert row["precision"] == precision and row["recall"] == recall
        assert row["support"] == np.sum(labels == d)
        assert r["confusion"][d][(d + 1) % 10] == np.sum((labels == d) & (predicted == (d + 1) % 10))
    assert "Accuracy: " + str(r["correct"]) + " / 500" in format_report(r, "t")


def test_a_digit_never_predicted_has_zero_precision_not_an_error():
    r = classification_report([1, 1, 2], [1, 1, 1])
    assert r["per_digit"][2] == {"digit": 2, "class": "2", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_named_classes_label_the_matrix_and_rows():
    r = classification_report([0, 1, 2, 2], [0, 2, 2, 2], classes=["cat", "dog", "emu"])
    assert r["classes"] == ["cat", "dog", "emu"] and len(r["confusion"]) == 3
    assert r["confusion"][1] == [0, 0, 1]
    text = format_report(r, "t")
    assert "   emu" in text.splitlines()[4] and any(line.strip().startswith("dog") for line in text.splitlines())
