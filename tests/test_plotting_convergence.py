"""The convergence figure (held-out objective against time) of online learners."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nimf.datasets import make_sparse_dictionary_data  # noqa: E402
from nimf.decomposition import OnlineDictionaryLearning  # noqa: E402
from nimf.plotting import plot_convergence  # noqa: E402


@pytest.fixture(scope="module")
def fits():
    data = make_sparse_dictionary_data(n_samples=400, n_features=600, n_components=4,
                                       random_state=0)
    return [OnlineDictionaryLearning(4, dict_l1_ratio=0.5, reduction=r, n_epochs=3,
                                     random_state=0).fit(data.X, validation=data.X_test)
            for r in (1, 4)]


def test_one_curve_per_fit_with_the_recorded_values(fits):
    fig, ax = plt.subplots()
    plot_convergence(fits, ax=ax, relative=False, x="n_samples")
    lines = ax.get_lines()
    assert len(lines) == 2
    for line, est in zip(lines, fits):
        np.testing.assert_array_equal(line.get_xdata(), est.history_["n_samples"])
        np.testing.assert_allclose(line.get_ydata(), est.history_["objective"])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["reduction 1",
                                                                   "reduction 4"]
    assert ax.get_xlabel() == "samples processed"
    plt.close(fig)


def test_relative_gaps_on_log_axes(fits):
    fig, ax = plt.subplots()
    plot_convergence(fits, ax=ax, labels=["full", "subsampled"])
    assert ax.get_yscale() == "log"
    best = min(min(est.history_["objective"]) for est in fits)
    ys = ax.get_lines()[0].get_ydata()
    gaps = (np.asarray(fits[0].history_["objective"]) - best) / best
    np.testing.assert_allclose(ys[gaps > 0], gaps[gaps > 0])
    assert np.all(ys > 0)
    assert ax.get_xlabel() == "time (s)"
    plt.close(fig)


def test_bad_input(fits):
    with pytest.raises(ValueError, match="x must be one of"):
        plot_convergence(fits, x="steps")
    with pytest.raises(ValueError, match="one entry per fit"):
        plot_convergence(fits, labels=["a"])
    no_validation = OnlineDictionaryLearning(2, n_epochs=1).fit(np.random.rand(30, 10))
    with pytest.raises(ValueError, match="fit with validation data"):
        plot_convergence([no_validation])
    with pytest.raises(ValueError, match="history_"):
        plot_convergence([object()])
    plt.close("all")
