"""The book's chapter 1 baselines: guessing by average darkness, and an SVM (scikit-learn, optional).

Both read the book's raw arrays (``mnist_loader.load_data()``): trained on
the 50,000 training images, scored on the 10,000 test images, exactly as
the book's ``mnist_average_darkness.py`` and ``mnist_svm.py`` do.
"""

import numpy as np


class BaselineUnavailable(RuntimeError):
    """A baseline's optional library is missing; the message says how to install it."""


def darkness(training, test):
    """Correct guesses on ``test`` by average darkness: each image's pixel sum is compared with the
    mean pixel sum of each digit over ``training`` and the nearest digit is the guess.

    ``training`` and ``test`` are ``(X (n, 784), labels (n,))`` as ``load_data()`` gives them.
    """
    X, y = training
    sums = X.sum(axis=1, dtype=np.float64)
    digits = np.unique(y)
    averages = np.array([sums[y == d].mean() for d in digits])
    test_sums = test[0].sum(axis=1, dtype=np.float64)
    # argmin takes the first of equal distances, as the book's min over its dict of digits 0..9 does
    guesses = digits[np.argmin(np.abs(test_sums[:, None] - averages[None, :]), axis=1)]
    return int(np.count_nonzero(guesses == test[1]))


def svm(training, test, gamma="auto"):
    """Correct predictions on ``test`` of scikit-learn's ``SVC(gamma=gamma)`` trained on ``training``.

    ``gamma='auto'`` (1 / 784) was scikit-learn's default when the book got
    94.35%; since scikit-learn 0.22 the default is ``'scale'``. Takes tens of
    minutes on the full set (libsvm uses one core).
    """
    try:
        from sklearn import svm as sk_svm
    except ImportError:
        raise BaselineUnavailable("the SVM baseline needs scikit-learn: pip install 'nnfast[baselines]' "
                                  "(or pip install scikit-learn)") from None
    clf = sk_svm.SVC(gamma=gamma)
    clf.fit(training[0], training[1])
    return int(np.count_nonzero(clf.predict(test[0]) == test[1]))
