"""Classification figures for ``nnfast eval``: accuracy, confusion matrix, per-digit precision/recall/F1."""

import numpy as np


def classification_report(labels, predicted, n_classes=10):
    """A JSON-able dict of the figures for integer ``labels`` and ``predicted`` (both (n,))."""
    labels = np.asarray(labels, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)  # rows: true digit, columns: predicted
    np.add.at(confusion, (labels, predicted), 1)
    per_digit = []
    for d in range(n_classes):
        tp = int(confusion[d, d])
        predicted_d = int(confusion[:, d].sum())
        actual_d = int(confusion[d].sum())
        precision = tp / predicted_d if predicted_d else 0.0
        recall = tp / actual_d if actual_d else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_digit.append({"digit": d, "precision": precision, "recall": recall, "f1": f1, "support": actual_d})
    correct = int(np.trace(confusion))
    return {"correct": correct, "total": int(len(labels)),
            "accuracy": correct / len(labels) if len(labels) else 0.0,
            "confusion": confusion.tolist(), "per_digit": per_digit}


def format_report(report, title):
    lines = [title, f"Accuracy: {report['correct']} / {report['total']} ({100 * report['accuracy']:.2f}%)", "",
             "Confusion matrix (rows: true digit, columns: predicted):",
             "      " + "".join(f"{d:>6}" for d in range(10))]
    for d, row in enumerate(report["confusion"]):
        lines.append(f"{d:>6}" + "".join(f"{v:>6}" for v in row))
    lines += ["", "digit  precision  recall     F1  support"]
    for r in report["per_digit"]:
        lines.append(f"{r['digit']:>5}  {r['precision']:9.4f}  {r['recall']:6.4f}  {r['f1']:5.4f}  {r['support']:7}")
    return "\n".join(lines)
