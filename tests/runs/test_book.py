"""The book's baselines and `nnfast book`: runs, records and the results files."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from nnfast.runs import baselines, book
from nnfast.cli import main


def book_darkness(training, test):
    """A transcription of the book's mnist_average_darkness.py: dicts, loops and min over distances."""
    from collections import defaultdict
    digit_counts, darknesses = defaultdict(int), defaultdict(float)
    for image, digit in zip(training[0], training[1]):
        digit_counts[digit] += 1
        darknesses[digit] += sum(image)
    avgs = {d: darknesses[d] / n for d, n in digit_counts.items()}
    correct = 0
    for image, digit in zip(test[0], test[1]):
        darkness = sum(image)
        distances = {k: abs(v - darkness) for k, v in avgs.items()}
        correct += int(min(distances, key=distances.get) == digit)
    return correct


def test_darkness_equals_the_books_loop():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 600)
    X = (rng.random((600, 20)) * (0.3 + labels[:, None] / 12)).astype(np.float32)
    training, test = (X[:500], labels[:500]), (X[500:], labels[500:])
    assert baselines.darkness(training, test) == book_darkness(training, test)
    assert 10 < baselines.darkness(training, test) < 100  # better than chance, far from perfect


def test_svm_without_scikit_learn_says_how_to_install_it(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(baselines.BaselineUnavailable, match="nnfast\\[baselines\\]"):
        baselines.svm((np.zeros((2, 3)), np.array([0, 1])), (np.zeros((1, 3)), np.array([0])))
    result = CliRunner().invoke(main, ["baseline", "svm"])
    assert result.exit_code == 1 and "pip install" in result.output and "Traceback" not in result.output


def test_book_lists_its_runs():
    out = CliRunner().invoke(main, ["book"]).output
    for run in book.RUNS:
        assert run.name in out and f"{run.book:.2f}%" in out


@pytest.mark.network
def test_book_run_records_and_merges_results(mnist_home, tmp_path):
    from nnfast import mnist_loader
    result = CliRunner().invoke(main, ["book", "ch1-darkness", "--results", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.splitlines()[0])
    training, _, test = mnist_loader.load_data()
    assert record["nnfast"] == round(100 * baselines.darkness(training, test) / 10000, 2)
    assert record["difference"] == pytest.approx(record["nnfast"] - 22.25, abs=0.01)
    saved = json.loads((tmp_path / "book.json").read_text())
    saved["runs"].append({**saved["runs"][0], "name": "ch1-30", "nnfast": 95.0, "book": 95.42, "difference": -0.42})
    (tmp_path / "book.json").write_text(json.dumps(saved))
    CliRunner().invoke(main, ["book", "ch1-darkness", "--results", str(tmp_path)])
    names = [r["name"] for r in json.loads((tmp_path / "book.json").read_text())["runs"]]
    assert names == ["ch1-30", "ch1-darkness"]  # merged, in the book's order, nothing lost
    assert "| ch1-darkness |" in (tmp_path / "book.md").read_text()


def test_distribution_records_read_well():
    record = {"name": "ch1-100", "what": "w", "measured_on": "m", "book": 96.59, "nnfast": 80.0,
              "difference": -16.59, "seconds": 10, "seeds": [1, 2, 3], "per_seed": [70.0, 80.0, 90.0],
              "mean": 80.0, "sd": 10.0, "chapter3_init": {"per_seed": [97.0, 97.1, 97.2], "mean": 97.1, "sd": 0.1},
              "reference_twin": {"seeds": [1], "epochs": 10, "per_seed": [75.1]}}
    text = book.markdown([record])
    assert "70.00, 80.00, 90.00 (mean 80.00 ± 10.00" in text and "97.10 ± 0.10" in text and "75.10" in text


@pytest.mark.network
def test_a_run_does_not_depend_on_the_runs_before_it(mnist_home, monkeypatch):
    """SGD shuffles the list it is given, as the book's does: each run must start from the loader's order."""
    from nnfast import mnist_loader
    monkeypatch.setitem(book.BY_NAME, "tiny", book.BookRun("tiny", 1, "w", 95.0, "m", book._chapter1(5, epochs=1)))
    data = (*mnist_loader.load_data_wrapper(), None)
    first = book.run("tiny", seed=3, data=data)
    again = book.run("tiny", seed=3, data=data)
    assert first["nnfast"] == again["nnfast"]
    two = book.run("tiny", seed=3, data=data, seeds=2)
    assert two["per_seed"][0] == first["nnfast"] and len(two["per_seed"]) == 2


@pytest.mark.network
def test_a_users_book_run_goes_to_their_data_folder_not_the_checkouts_tables(mnist_home, tmp_path, monkeypatch):
    checkout = tmp_path / "checkout"
    (checkout / "benchmarks" / "results").mkdir(parents=True)
    tracked = checkout / "benchmarks" / "results" / "book.json"
    tracked.write_text('{"runs": []}')
    monkeypatch.chdir(checkout)
    result = CliRunner().invoke(main, ["book", "ch1-darkness"])
    assert result.exit_code == 0, result.output
    folder = mnist_home / "book-results"
    assert f"Results go to {folder}" in result.output and (folder / "book.json").exists()
    assert tracked.read_text() == '{"runs": []}'


def test_the_ensemble_votes_its_members_final_predictions(tmp_path, monkeypatch):
    from collections import Counter

    from mnist_fixtures import small_digits, write_idx_folder
    from nnfast import network3
    write_idx_folder(tmp_path / "d", small_digits(300, 40))
    runner = book._ensemble("shallow", 1, 0.1, members=3)
    for threads in ("2", "1"):  # as parallel processes, and one after another: the same votes
        monkeypatch.setenv("NNFAST_THREADS", threads)
        record = runner((None, None, None, str(tmp_path / "d")), 4)
        assert [m["seed"] for m in record["members"]] == [4, 5, 6] and record["workers"] == int(threads)
        results = [book._ensemble_member("shallow", 1, 0.1, 0.0, False, str(tmp_path / "d"), s) for s in (4, 5, 6)]
        labels = results[0][2]
        votes = [Counter(p).most_common(1)[0][0] for p in zip(*[r[1] for r in results])]
        assert record["percent"] == pytest.approx(100 * np.mean(np.array(votes) == labels))
        assert [m["percent"] for m in record["members"]] == [r[0]["percent"] for r in results]
    assert "ch6-ensemble" in book.BY_NAME and book.BY_NAME["ch6-ensemble"].book == 99.67
