"""A generated neurons x time x trials tensor with planted cell assemblies."""

import numpy as np
from sklearn.utils import Bunch

from .._validation import check_float, check_int
from .synthetic import _generator

__all__ = ["make_neural_tensor"]

_TRIAL_KINDS = ("condition", "learning", "condition", "fading")


def _trial_factor(kind, rank_index, condition, n_conditions, rng):
    n_trials = condition.size
    trials = np.arange(n_trials) / max(n_trials - 1, 1)
    if kind == "condition":
        preferred = (rank_index // 2) % n_conditions
        factor = np.where(condition == preferred, 1.0, 0.1)
        return factor * rng.uniform(0.85, 1.15, n_trials), f"condition {preferred}"
    if kind == "learning":
        midpoint = rng.uniform(0.3, 0.6)
        return 1.0 / (1.0 + np.exp(-(trials - midpoint) / 0.08)), "learning (rises)"
    return np.exp(-trials / rng.uniform(0.25, 0.45)), "fading"


def make_neural_tensor(n_neurons=80, n_time=50, n_trials=120, n_components=4, *,
                       n_conditions=2, assembly_fraction=0.25, max_rate=6.0, baseline=0.0,
                       random_state=None):
    """Spike counts of a neurons x time x trials experiment with a planted CP structure.

    Each component is a cell assembly: a random subset of neurons
    (``assembly_fraction`` of them, exponential weights) firing with a
    temporal profile within each trial (a bump at its own latency and width)
    and a trial factor that depends on the trial's condition (active on the
    trials of one condition), on learning (rising along the session) or on
    fatigue (fading).  The kinds cycle: condition, learning, condition,
    fading.  The rates are the sum of the components (plus ``baseline``) and
    the counts are Poisson draws: the Poisson-like noise of spike counts, with
    variance equal to the rate.  Tensor component analysis (Williams et al.
    2018) of ``data`` recovers the planted factors.

    Parameters
    ----------
    n_neurons, n_time, n_trials : int, default=80, 50, 120
        Shape of the tensor.
    n_components : int, default=4
        Number of planted components (rank).
    n_conditions : int, default=2
        Number of trial conditions; trials are assigned to them at random in
        equal numbers.
    assembly_fraction : float in (0, 1], default=0.25
        Fraction of neurons in each assembly.
    max_rate : float, default=6.0
        Expected count, per time bin, at the peak of the strongest component.
    baseline : float, default=0.0
        Rate added everywhere; it is one more (constant) rank-one component.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    data : Bunch
        - ``data``: ndarray of shape (n_neurons, n_time, n_trials), the
          counts (float64).
        - ``rates``: the expected counts, same shape.
        - ``factors``: list of the planted neuron (n_neurons, R), time
          (n_time, R) and trial (n_trials, R) factors, unit-norm columns.
        - ``weights``: ndarray of shape (R,), so that
          ``rates = baseline + sum_r weights[r] a_r o b_r o c_r``.
        - ``condition``: ndarray of shape (n_trials,), the condition of each
          trial.
        - ``time``: ndarray of shape (n_time,), time in the trial (0 to 1).
        - ``component_kinds``: list of str, the kind of each trial factor.

    References
    ----------
    Williams, A. H. et al. (2018). Unsupervised discovery of demixed,
    low-dimensional neural dynamics across multiple timescales through tensor
    component analysis. Neuron 98(6).

    Examples
    --------
    >>> from nimf.datasets import make_neural_tensor
    >>> exp = make_neural_tensor(n_neurons=30, n_time=20, n_trials=40, random_state=0)
    >>> exp.data.shape, len(exp.factors), exp.condition.shape
    ((30, 20, 40), 3, (40,))
    """
    n_neurons = check_int(n_neurons, "n_neurons", min_val=1)
    n_time = check_int(n_time, "n_time", min_val=2)
    n_trials = check_int(n_trials, "n_trials", min_val=2)
    n_components = check_int(n_components, "n_components", min_val=1)
    n_conditions = check_int(n_conditions, "n_conditions", min_val=1, max_val=n_trials)
    assembly_fraction = check_float(assembly_fraction, "assembly_fraction", low=0.0, high=1.0,
                                    low_open=True)
    max_rate = check_float(max_rate, "max_rate", low=0.0, low_open=True)
    baseline = check_float(baseline, "baseline", low=0.0)
    rng = _generator(random_state)

    condition = rng.permutation(np.arange(n_trials) % n_conditions)
    time = np.linspace(0.0, 1.0, n_time)
    size = max(1, int(round(assembly_fraction * n_neurons)))
    neurons = np.zeros((n_neurons, n_components))
    temporal = np.zeros((n_time, n_components))
    trial_factors = np.zeros((n_trials, n_components))
    kinds = []
    latencies = (np.arange(n_components) + 0.5) / n_components
    for r in range(n_components):
        members = rng.choice(n_neurons, size, replace=False)
        neurons[members, r] = rng.exponential(size=size) + 0.2
        latency = np.clip(latencies[r] + rng.uniform(-0.05, 0.05), 0.05, 0.95)
        width = rng.uniform(0.06, 0.15)
        temporal[:, r] = np.exp(-0.5 * ((time - latency) / width) ** 2)
        factor, kind = _trial_factor(_TRIAL_KINDS[r % len(_TRIAL_KINDS)], r, condition,
                                     n_conditions, rng)
        trial_factors[:, r] = factor
        kinds.append(kind)
    factors = [neurons, temporal, trial_factors]
    norms = [np.linalg.norm(F, axis=0) for F in factors]
    factors = [F / n for F, n in zip(factors, norms)]
    # scale each component so its peak rate is between half and all of max_rate
    peaks = np.prod([F.max(axis=0) for F in factors], axis=0)
    weights = max_rate * rng.uniform(0.5, 1.0, n_components) / peaks
    weights[np.argmax(weights * peaks)] = max_rate / peaks[np.argmax(weights * peaks)]
    rates = baseline + np.einsum("r,ir,jr,kr->ijk", weights, *factors)
    data = rng.poisson(rates).astype(np.float64)
    return Bunch(data=data, rates=rates, factors=factors, weights=weights, condition=condition,
                 time=time, component_kinds=kinds)
