"""Synthetic matrices with planted factors, for tests, examples and benchmarks."""

import numpy as np
from sklearn.utils import Bunch, check_random_state

from .._validation import check_float, check_int

__all__ = ["make_sparse_dictionary_data"]


def _generator(random_state):
    """A fast numpy Generator seeded from anything ``check_random_state`` takes."""
    rs = check_random_state(random_state)
    return np.random.default_rng(rs.randint(np.iinfo(np.int32).max))


def _sparse_atoms(rng, n_components, n_features, density, n_blobs, positive):
    """Atoms made of a few smooth bumps covering ``density`` of the features."""
    atoms = np.zeros((n_components, n_features))
    support = max(1, int(round(density * n_features)))
    for j in range(n_components):
        widths = rng.multinomial(support - n_blobs, np.ones(n_blobs) / n_blobs) + 1
        for width in widths:
            start = rng.integers(0, max(1, n_features - width + 1))
            bump = np.hanning(width + 2)[1:-1]
            amplitude = rng.uniform(0.5, 1.0)
            if not positive and rng.random() < 0.5:
                amplitude = -amplitude
            atoms[j, start:start + width] += amplitude * bump
    norms = np.linalg.norm(atoms, axis=1, keepdims=True)
    return atoms / norms


def make_sparse_dictionary_data(n_samples=1000, n_features=5000, n_components=10, *,
                                density=0.05, n_blobs=3, snr=1.0, n_test=None,
                                positive=True, dtype=np.float64, random_state=None):
    """Data generated from a planted sparse dictionary plus Gaussian noise.

    ``X = codes @ components + noise`` where each of the ``n_components``
    components (unit l2 norm) is made of ``n_blobs`` smooth bumps covering a
    fraction ``density`` of the features (like a brain map unrolled into a
    vector), codes are standard Gaussian, and the noise is white Gaussian with
    ``||codes @ components||^2 / ||noise||^2 = snr`` in expectation.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of training samples.
    n_features : int, default=5000
        Number of features.
    n_components : int, default=10
        Number of planted components.
    density : float, default=0.05
        Fraction of features in the support of each component, in (0, 1].
    n_blobs : int, default=3
        Number of bumps per component.
    snr : float, default=1.0
        Signal-to-noise ratio (of powers), > 0.
    n_test : int, default=None
        Number of held-out samples drawn from the same model (with their own
        codes and noise).  Defaults to ``n_samples // 4``.
    positive : bool, default=True
        Make the components non-negative; otherwise each bump gets a random
        sign.
    dtype : {np.float64, np.float32}, default=np.float64
        Dtype of ``X`` and ``X_test``.
    random_state : int, RandomState instance or None, default=None
        Determines the data.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` (n_samples, n_features), ``X_test`` (n_test, n_features),
        ``components`` (n_components, n_features), ``codes``, ``codes_test``,
        ``noise_std`` and ``signal`` (the noiseless training matrix is *not*
        stored: recompute it as ``codes @ components``).

    Examples
    --------
    >>> from nimf.datasets import make_sparse_dictionary_data
    >>> data = make_sparse_dictionary_data(200, 1000, 5, random_state=0)
    >>> data.X.shape, data.components.shape
    ((200, 1000), (5, 1000))
    """
    n_samples = check_int(n_samples, "n_samples", min_val=1)
    n_features = check_int(n_features, "n_features", min_val=1)
    n_components = check_int(n_components, "n_components", min_val=1)
    n_blobs = check_int(n_blobs, "n_blobs", min_val=1)
    density = check_float(density, "density", low=0.0, high=1.0, low_open=True)
    snr = check_float(snr, "snr", low=0.0, low_open=True)
    n_test = n_samples // 4 if n_test is None else check_int(n_test, "n_test", min_val=0)
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if int(round(density * n_features)) < n_blobs:
        raise ValueError(
            f"density * n_features must be >= n_blobs ({n_blobs}) so that every "
            f"bump has a feature, got {density} * {n_features}")
    rng = _generator(random_state)
    components = _sparse_atoms(rng, n_components, n_features, density, n_blobs, positive)
    # per-sample signal power is ||a^T D||^2 ~ n_components / n_features per feature
    signal_power = n_components / n_features
    noise_std = float(np.sqrt(signal_power / snr))

    def draw(n):
        codes = rng.standard_normal((n, n_components))
        X = (codes @ components).astype(dtype)
        X += rng.standard_normal((n, n_features), dtype=dtype) * dtype.type(noise_std)
        return X, codes

    X, codes = draw(n_samples)
    X_test, codes_test = draw(n_test)
    return Bunch(X=X, X_test=X_test, components=components.astype(dtype),
                 codes=codes, codes_test=codes_test, noise_std=noise_std)
