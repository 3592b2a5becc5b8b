"""Classification figures for ``nnfast eval``: accuracy, confusion matrix, per-class precision/recall/F1."""

import numpy as np


def classification_report(labels, predicted, classes=None):
    """A JSON-able dict of the figures for integer ``labels`` and ``predicted`` (both (n,)).

    ``classes`` names each class (default: the digits 0-9); its length is the number of classes.
    """
    classes = [str(d) for d in range(10)] if classes is None else [str(c) for c in classes]
    n_classes = len(classes)
    labels = np.asarray(labels, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)  # rows: true class, columns: predicted
    np.add.at(confusion, (labels, predicted), 1)
    per_class = []
    for d in range(n_classes):
        tp = int(confusion[d, d])
        predicted_d = int(confusion[:, d].sum())
        actual_d = int(confusion[d].sum())
        precision = tp / predicted_d if predicted_d else 0.0
        recall = tp / actual_d if actual_d else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append({"digit": d, "class": classes[d], "precision": precision, "recall": recall, "f1": f1,
                          "support": actual_d})
    correct = int(np.trace(confusion))
    return {"correct": correct, "total": int(len(labels)),
            "accuracy": correct / len(labels) if len(labels) else 0.0, "classes": classes,
            "confusion": confusion.tolist(), "per_digit": per_class}


def format_report(report, title):
    classes = report.get("classes") or [str(d) for d in range(len(report["confusion"]))]
    width = max(6, max(len(c) for c in classes) + 2)
    lines = [title, f"Accuracy: {report['correct']} / {report['total']} ({100 * report['accuracy']:.2f}%)", ""]
    if len(classes) <= 30:  # wider matrices do not fit a terminal; --json has them whole
        lines += ["Confusion matrix (rows: true class, columns: predicted):",
                  " " * width + "".join(f"{c:>{width}}" for c in classes)]
        for c, row in zip(classes, report["confusion"]):
            lines.append(f"{c:>{width}}" + "".join(f"{v:>{width}}" for v in row))
        lines.append("")
    else:
        lines += [f"({len(classes)} classes: the confusion matrix is in --json)", ""]
    lines.append(f"{'class':>{width}}  precision  recall     F1  support")
    for r in report["per_digit"]:
        lines.append(f"{r['class']:>{width}}  {r['precision']:9.4f}  {r['recall']:6.4f}  {r['f1']:5.4f}  "
                     f"{r['support']:7}")
    return "\n".join(lines)
