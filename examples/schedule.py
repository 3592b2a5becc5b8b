"""Chapter 3's problem: a learning-rate schedule, on nnfast's epochs.

    python examples/schedule.py          # 784-30-10 on MNIST, eta from 0.5, patience 2, at most 30 epochs

Halve eta each time the validation accuracy has not improved for ``patience``
epochs (the book's "no-improvement-in-n" rule), and stop once eta has fallen
to 1/128 of where it started, or after ``epochs``: the last line printed says
which ended the run. Each epoch is one call of ``train_epochs``, which
trains at full speed and yields the epoch's accuracy; the list is shuffled in
place as the book's ``SGD`` shuffles it, so the schedule learns what the
per-sample version (``nnfast.twins.exercises.ScheduledNetwork``) learns.
"""

from nnfast import network2


class ScheduledNetwork(network2.Network):
    """``SGD`` that halves eta when validation accuracy stalls; returns the accuracies and the etas used."""

    def SGD(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None,
            patience=10, floor_ratio=128):
        best, stale, floor = -1, 0, eta / floor_ratio
        accuracies, etas = [], []
        for j in range(epochs):
            for result in self.train_epochs(training_data, 1, mini_batch_size, eta, lmbda, evaluation_data,
                                            monitor_evaluation_accuracy=True):
                accuracies.append(result.evaluation_accuracy)
            etas.append(eta)
            print(f"Epoch {j}: {accuracies[-1]} / {len(evaluation_data)}, eta {eta:g}")
            if accuracies[-1] > best:
                best, stale = accuracies[-1], 0
            else:
                stale += 1
            if stale >= patience:
                eta, stale = eta / 2, 0
                if eta <= floor:
                    print(f"Stopped after epoch {j}: eta fell to {eta:g}, 1/{floor_ratio} of the {etas[0]:g} it "
                          f"started at (halved after every {patience} epochs without a better validation accuracy)")
                    break
        else:
            print(f"Trained the {epochs} epochs asked for; eta ended at {eta:g}")
        return accuracies, etas


if __name__ == "__main__":
    from nnfast import mnist_loader
    training_data, validation_data, _ = mnist_loader.load_data_wrapper()
    net = ScheduledNetwork([784, 30, 10])
    net.SGD(training_data, 30, 10, 0.5, lmbda=5.0, evaluation_data=validation_data, patience=2)
