"""Figures of CP models."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nimf.assessment import error_curve, stability  # noqa: E402
from nimf.plotting import plot_error_curve, plot_stability, plot_tensor_factors  # noqa: E402
from nimf.tensor import CPDecomposition  # noqa: E402


def test_plot_tensor_factors_draws_a_row_per_component(rng, no_open_figures):
    X = np.einsum("ir,jr,kr->ijk", rng.rand(12, 2), rng.rand(10, 2), rng.rand(16, 2))
    model = CPDecomposition(2, nonnegative=True, random_state=0).fit(X)
    labels = np.array(["left", "right"] * 8)
    fig, axes = plot_tensor_factors(model, labels=labels)
    assert axes.shape == (2, 3)
    assert len(axes[0, 0].patches) == 12  # one bar per neuron
    assert len(axes[1, 1].lines[0].get_xdata()) == 10  # the time course
    assert len(axes[0, 2].collections) == 2  # trials, one colour per label
    assert [t.get_text() for t in axes[0, 2].get_legend().get_texts()] == ["left", "right"]
    assert "w=" in axes[0, 0].get_ylabel()
    # one y-range per mode
    assert axes[0, 1].get_ylim() == axes[1, 1].get_ylim()
    plt.close(fig)
    with pytest.raises(ValueError, match=r"labels must have shape \(16,\)"):
        plot_tensor_factors(model, labels=labels[:5])
    with pytest.raises(ValueError, match="kinds must give one of"):
        plot_tensor_factors(model.factors_, kinds=("bar", "pie", "line"))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_assessment_plots_take_tensor_results(rng, no_open_figures):
    X = np.einsum("ir,jr,kr->ijk", rng.rand(10, 2), rng.rand(9, 2), rng.rand(8, 2))
    estimator = CPDecomposition(init="random", max_iter=50, tol=1e-4)
    curve = error_curve(estimator, X, [1, 2, 3], n_seeds=2, random_state=0)
    stab = stability(estimator, X, [1, 2, 3], n_seeds=2, random_state=0)
    fig, (left, right) = plt.subplots(1, 2)
    plot_error_curve(curve, ax=left)
    assert any("unfolding" in t.get_text() for t in left.get_legend().get_texts())
    plot_stability(stab, ax=right)
    plt.close(fig)
