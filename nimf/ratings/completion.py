"""Matrix completion of ratings: a biased low-rank model fitted by ALS, the masked
online learner or SGD.

All three solvers minimise one objective over the observed ratings ``Omega``::

    sum_{(u, i) in Omega} (x_ui - mu - b_u - c_i - p_u . q_i) ** 2
        + sum_u n_u ** gamma (alpha |p_u|^2 + alpha_bias b_u^2)
        + sum_i n_i ** gamma (alpha |q_i|^2 + alpha_bias c_i^2)

with ``mu`` the mean training rating, ``b_u``/``c_i`` the user/item biases,
``p_u``/``q_i`` the user/item factors (``n_components`` of them), ``n_u``/``n_i`` the
numbers of training ratings of user ``u`` and item ``i`` and ``gamma`` the
``count_exponent``: 1 counts the penalty once per rating (Funk's and Koren's SGD,
the weighted-lambda ALS of Zhou et al., 2008), 0.5 lets the penalty grow as the
square root of the ratings, so that users and items with many ratings are shrunk
less per rating than those with few.  The compiled
inner loops live in :mod:`nimf._kernels.ratings`; how the default
``n_components="auto"`` chooses the rank and the penalties, in
:mod:`nimf.ratings._selection`.
"""

import numbers
import time

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from threadpoolctl import threadpool_limits

from .._kernels import ratings as _k
from . import _selection
from .._validation import (NonFiniteResultError, available_memory, check_bool, check_float,
                           check_int, check_magnitude, check_option)

__all__ = ["MatrixCompletion"]

# per-solver defaults, chosen on the benchmark (benchmarks/bench_ratings_vs_surprise.py)
_DEFAULT_EPOCHS = {"als": 10, "somf": 3, "sgd": 30}
_SGD_ALPHA = 0.03
# stratified SGD: users and items in this many blocks each (fixed, so results do not
# depend on the number of threads)
_SGD_STRATA = 16
_SOMF_SWEEPS = 2


def _rng(random_state):
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2 ** 31))
    if random_state is None or (isinstance(random_state, numbers.Integral)
                                and not isinstance(random_state, bool)):
        return np.random.default_rng(random_state)
    raise ValueError(f"random_state must be None, an int, a numpy RandomState or "
                     f"Generator, got {random_state!r}")


def _is_auto(value):
    return isinstance(value, str) and value == "auto"


def _as_1d(values, name):
    values = np.asarray(values)
    if values.ndim == 0:
        values = values.reshape(1)
    if values.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got an array of shape "
                         f"{values.shape}")
    return values


class MatrixCompletion(BaseEstimator):
    """Predict ratings with a biased low-rank model of the users x items matrix.

    The predicted rating of item ``i`` by user ``u`` is
    ``mu + b_u + c_i + p_u . q_i``: the global mean of the training ratings, a user
    bias, an item bias and the dot product of ``n_components`` user and item
    factors, all regularised (see the module docstring for the objective).

    By default (``n_components="auto"``) the model chooses its own complexity: a
    tenth of the training ratings, drawn at random, is held out, and a few candidate
    models are fitted on the rest, each stopped early at the epoch of its lowest RMSE
    on the held-out tenth:

    1. the biases-only model, its bias penalty ``alpha_bias`` searched by factors of
       2 from the density rule of ``alpha="auto"``;
    2. 10 components, the factor penalty ``alpha`` searched by factors of 2 from the
       density rule (up while the held-out RMSE improves, else down; two steps at
       most), then by factors of sqrt(2) on both sides of the best;
    3. 30 components at that penalty, tried only if 10 already beat the biases.

    The low-rank candidates start from the truncated SVD of the residuals of the best
    biases-only model (user factors ``U sqrt(s)``, item factors ``V sqrt(s)``) rather
    than from small random factors, and (for ``solver="somf"`` or ``"als"``) are
    fitted by ALS, whose exact alternating solves converge from that start in a few
    sweeps and to a lower held-out error.

    The low-rank model is kept only if its held-out squared errors are lower than the
    biases-only model's by more than one standard error of their paired difference and
    by at least 0.1% of the biases' mean squared error; otherwise the model shrinks to
    the biases alone (``n_components_ == 0``), so on data without low-rank structure it
    predicts as well as the biases-only model instead of fitting noise. The chosen
    settings are then refitted on all training ratings, starting from the chosen
    candidate's factors and biases, for at most four passes.

    Every candidate penalises users and items by the square root of their numbers of
    ratings (``count_exponent=0.5``; see the module docstring): on the benchmark's
    generated regimes (three seeds each) it lowers the held-out RMSE against a penalty
    per rating by 0.004-0.006 on MovieLens-like data, by 0.010-0.012 with MovieLens-100k's
    tails (many items with few ratings) and by up to 0.01 with few ratings per user, and
    is lower or at most 0.0007 higher on the rest.

    The choice is recorded in ``n_components_``, ``alpha_``, ``alpha_bias_``,
    ``count_exponent_`` and ``selection_``, and a seed fixes it. The refit uses the
    candidate's solver (ALS when ``solver="somf"``). The search costs about eight short
    fits (benchmarks/bench_ratings_defaults.py). An int ``n_components`` fits that rank
    with the given (or density-rule) ``alpha`` and no search, as before.

    Parameters
    ----------
    n_components : "auto" or int, default="auto"
        Number of factors; 0 fits the biases-only baseline; "auto" chooses the rank
        and the penalties on held-out training ratings (see above). With "auto", a
        given ``alpha`` (or ``alpha_bias``) is kept and only the rest is searched, a
        given ``n_epochs`` caps the epochs of every candidate, and biases-only
        candidates (and a biases-only choice) are fitted by ALS whatever the solver.
    solver : {"somf", "als", "sgd"}, default="somf"
        - "somf": the masked online learner of Mensch et al. (2016, 2017): each
          step takes ``batch_size`` users, computes their codes on the items they
          rated (their mask), folds them into per-item running statistics weighted
          by how often each item was seen, and updates the rated items only. A pass
          costs about two ALS sweeps, but three passes reach a held-out RMSE as low
          as ALS's after ten sweeps at 100k ratings and lower at 1M and 10M, in half
          the time there (``benchmarks/bench_ratings_vs_surprise.py``).
          It keeps a ``(k + 1) x (k + 1)`` statistic per item (``n_items * (k + 1) ** 2``
          floats: 0.4 GB for Netflix's 17770 items and 50 components).
        - "als": alternating least squares, every user's (then item's) factors and
          bias solved exactly given the other side, rows in parallel (weighted-lambda
          ALS, Zhou et al., 2008).
        - "sgd": stochastic gradient descent (Funk / Koren's biased SVD, the
          algorithm of Surprise's SVD) with the step ``learning_rate / (1 + lr_decay *
          epoch)``, stratified to run in parallel (DSGD, Gemulla et al., 2011): users
          and items fall in 16 random blocks each, and each epoch visits the 16
          strata of blocks that share no user or item in turn, the blocks of a
          stratum in parallel, every rating once, in a new random order each epoch.
    alpha : float or "auto", default="auto"
        Ridge penalty of the factors, per rating when ``count_exponent`` is 1 (the
        penalty of a user or item is ``alpha * n_ratings ** count_exponent``). With
        ``n_components="auto"``, "auto" searches it (see above). The best value
        shrinks as the data get denser; with an int ``n_components``, "auto" uses
        ``0.9 / (r_user * r_item) ** 0.25`` for "somf" and "als", ``r_user`` and
        ``r_item`` being the mean number of training ratings per user and per item
        (0.11 at MovieLens-100k density, 0.07 at 1M, 0.053 at 10M: on the
        benchmark's data of those sizes the best of the values tried each time), and
        0.03 for "sgd", whose finite number of epochs already regularises; both are
        for a ``count_exponent`` of 1, and are multiplied by ``(r_user * r_item) **
        ((1 - count_exponent) / 2)`` for another (the same penalty for a user or item
        of typical size: 0.9 for "somf" and "als" at 0.5). Tune it on held-out
        ratings for your data (``fit(..., validation=...)`` records the validation
        RMSE per epoch).
    alpha_bias : float or None, default=None
        Ridge penalty of the biases (as ``alpha``); None uses ``alpha``.
    count_exponent : float in [0, 1] or "auto", default="auto"
        How the penalty of a user or an item grows with its number of training
        ratings ``n``: as ``n ** count_exponent`` (see the module docstring). 1
        penalises per rating, 0 penalises every user and item alike. "auto" is 0.5
        with ``n_components="auto"`` and 1 with an int ``n_components`` (the value
        the density rule of ``alpha`` and the solvers' benchmarks were set for).
    n_epochs : int or None, default=None
        Passes over the data: ALS sweeps, online passes over the users, or SGD
        epochs. None picks the solver's default (ALS 10, SOMF 3, SGD 30).
    batch_size : int or "auto", default="auto"
        Users per step of "somf"; "auto" takes a tenth of the users (at least 100),
        so a pass is about ten steps.
    forget_exponent : float, default=0.9
        "somf": the weight of an item's new codes is ``n_new / n_seen **
        forget_exponent``, in (0.5, 1]; 1 keeps exact running means, smaller forgets
        the codes computed with older item factors faster.
    learning_rate : float, default=0.01
        "sgd": initial step size.
    lr_decay : float, default=0.05
        "sgd": the step of epoch ``e`` (from 0) is ``learning_rate / (1 + lr_decay
        * e)``.
    init_scale : float, default=0.1
        Standard deviation of the random initial factors.
    fit_bias : bool, default=True
        Fit the user and item biases (False keeps them at 0; the global mean is
        always used).
    clip : bool, default=True
        Clip predictions to the range of the training ratings.
    user_col, item_col, rating_col : str, default="user", "item", "rating"
        Column names when ratings are given as a DataFrame.
    duplicates : {"error", "mean", "last"}, default="error"
        Several ratings of one (user, item) pair: raise (saying how many), keep
        their mean, or keep the last one.
    n_jobs : int or None, default=None
        Threads of the parallel loops (ALS row solves, predictions); None uses
        numba's default (all cores).
    random_state : int, RandomState, Generator or None, default=None
        Seeds the initial factors and the order of users (SOMF) or ratings (SGD).
    verbose : bool, default=False
        Show a progress bar over the epochs.
    callback : callable or None, default=None
        Called after every epoch as ``callback(model, info)``, ``info`` being the
        epoch's entry of ``history_`` (``epoch``, ``train_rmse``, ``time`` and,
        when ``fit`` got ``validation``, ``validation_rmse``); the model's
        attributes hold the current fit, so ``model.predict`` works. Returning
        True stops the fit.

    Attributes
    ----------
    n_components_ : int
        Number of factors fitted (``n_components``, or the rank chosen by "auto").
    alpha_ : float
        The penalty used (``alpha``, its "auto" value, or the one chosen).
    alpha_bias_ : float
        The bias penalty used.
    count_exponent_ : float
        The ``count_exponent`` used.
    selection_ : dict or None
        With ``n_components="auto"``, the record of the choice: ``candidates`` (one
        dict per candidate: ``n_components``, ``alpha``, ``alpha_bias``, ``n_epochs``
        (its best epoch) and ``validation_rmse``), ``biases_only`` and ``low_rank``
        (the best of each kind), ``mse_gain`` and ``mse_gain_standard_error`` (the
        mean paired difference of their held-out squared errors, and its standard
        error), ``chosen`` (with the ``solver`` of the refit) and
        ``validation_ratings``. None when ``n_components`` is an int.
    global_mean_ : float
    user_bias_ : ndarray of shape (n_users,)
    item_bias_ : ndarray of shape (n_items,)
    user_factors_ : ndarray of shape (n_users, n_components)
    item_factors_ : ndarray of shape (n_items, n_components)
    user_ids_, item_ids_ : ndarray
        The id of each row of the user and item arrays.
    rating_scale_ : (float, float)
        Smallest and largest training rating.
    n_ratings_ : int
    n_epochs_ : int
        Epochs run.
    history_ : list of dict
        One entry per epoch (see ``callback``).

    Examples
    --------
    >>> from nimf.datasets import make_ratings
    >>> from nimf.ratings import MatrixCompletion
    >>> data = make_ratings(200, 100, 5000, n_factors=3, random_state=0)
    >>> model = MatrixCompletion(random_state=0).fit(data.ratings)
    >>> model.n_components_ in (0, 10, 30)
    True
    >>> model.predict([0, 1], [3, 4]).shape
    (2,)
    >>> bool(model.predict("a user never seen", 3) == model.global_mean_ + model.item_bias_[3])
    True
    """

    def __init__(self, n_components="auto", *, solver="somf", alpha="auto", alpha_bias=None,
                 count_exponent="auto", n_epochs=None, batch_size="auto", forget_exponent=0.9,
                 learning_rate=0.01, lr_decay=0.05, init_scale=0.1, fit_bias=True, clip=True,
                 user_col="user", item_col="item", rating_col="rating", duplicates="error",
                 n_jobs=None, random_state=None, verbose=False, callback=None):
        self.n_components = n_components
        self.solver = solver
        self.alpha = alpha
        self.alpha_bias = alpha_bias
        self.count_exponent = count_exponent
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.forget_exponent = forget_exponent
        self.learning_rate = learning_rate
        self.lr_decay = lr_decay
        self.init_scale = init_scale
        self.fit_bias = fit_bias
        self.clip = clip
        self.user_col = user_col
        self.item_col = item_col
        self.rating_col = rating_col
        self.duplicates = duplicates
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback

    # ------------------------------------------------------------------ input
    _fitted_marker = "item_factors_"

    # ----------------------------------------------------------- persistence
    def _get_persistent_state(self):
        """Ids, rating scale, history and the training pattern, for ``save_model``."""
        arrays = {"seen_indptr": self._seen.indptr, "seen_indices": self._seen.indices,
                  "seen_data": self._seen.data}
        scalars = {"rating_scale": list(self.rating_scale_), "history": self.history_,
                   "n_items": int(self._seen.shape[1]),
                   "selection": getattr(self, "selection_", None)}
        for which in ("user", "item"):
            ids = getattr(self, f"{which}_ids_")
            if ids.dtype.hasobject:
                kinds = {type(v) for v in ids}
                if all(issubclass(t, str) for t in kinds):
                    arrays[f"{which}_ids"] = ids.astype(str)
                    scalars[f"{which}_ids_kind"] = "str"
                elif all(issubclass(t, numbers.Integral) for t in kinds):
                    arrays[f"{which}_ids"] = ids.astype(np.int64)
                    scalars[f"{which}_ids_kind"] = "int"
                else:
                    raise ValueError(
                        f"save_model stores {which} ids that are all strings or all "
                        f"integers, got ids of types {sorted(t.__name__ for t in kinds)}")
            else:
                arrays[f"{which}_ids"] = ids
                scalars[f"{which}_ids_kind"] = "array"
        return arrays, scalars

    def _set_persistent_state(self, arrays, scalars):
        for which in ("user", "item"):
            ids = np.asarray(arrays[f"{which}_ids"])
            if scalars[f"{which}_ids_kind"] == "str":
                ids = ids.astype(object)
            setattr(self, f"{which}_ids_", ids)
        self._user_index = self._item_index = None
        self.rating_scale_ = tuple(float(v) for v in scalars["rating_scale"])
        self.history_ = list(scalars["history"])
        self.selection_ = scalars.get("selection")
        self._seen = sp.csr_matrix(
            (arrays["seen_data"], arrays["seen_indices"], arrays["seen_indptr"]),
            shape=(self.user_ids_.size, int(scalars["n_items"])))

    # ------------------------------------------------------------------ input
    def _check_params(self):
        if not _is_auto(self.n_components):
            try:
                check_int(self.n_components, "n_components", min_val=0)
            except ValueError as exc:
                raise ValueError(str(exc).replace("must be", 'must be "auto" or', 1)) from None
        check_option(self.solver, "solver", ("als", "somf", "sgd"))
        if not (isinstance(self.alpha, str) and self.alpha == "auto"):
            check_float(self.alpha, "alpha", low=0.0)
        if self.alpha_bias is not None:
            check_float(self.alpha_bias, "alpha_bias", low=0.0)
        if not _is_auto(self.count_exponent):
            try:
                check_float(self.count_exponent, "count_exponent", low=0.0, high=1.0)
            except ValueError as exc:
                raise ValueError(str(exc).replace("must be", 'must be "auto" or', 1)) from None
        check_int(self.n_epochs, "n_epochs", min_val=1, allow_none=True)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            check_int(self.batch_size, "batch_size", min_val=1)
        check_float(self.forget_exponent, "forget_exponent", low=0.5, high=1.0,
                    low_open=True)
        check_float(self.learning_rate, "learning_rate", low=0.0, low_open=True)
        check_float(self.lr_decay, "lr_decay", low=0.0)
        check_float(self.init_scale, "init_scale", low=0.0)
        check_bool(self.fit_bias, "fit_bias")
        check_bool(self.clip, "clip")
        check_option(self.duplicates, "duplicates", ("error", "mean", "last"))
        check_int(self.n_jobs, "n_jobs", min_val=1, allow_none=True)
        if self.callback is not None and not callable(self.callback):
            raise ValueError(f"callback must be callable or None, got {self.callback!r}")

    def _frame(self, ratings, name, need_rating=True):
        """A DataFrame with the user, item (and rating) columns from any accepted input."""
        import pandas as pd

        cols = [self.user_col, self.item_col] + ([self.rating_col] if need_rating else [])
        if isinstance(ratings, pd.DataFrame):
            missing = [c for c in cols if c not in ratings.columns]
            if missing:
                raise ValueError(
                    f"{name} must have the columns {cols} (set user_col, item_col, "
                    f"rating_col to use others), missing {missing}; got "
                    f"{list(ratings.columns)}")
            frame = ratings[cols]
        elif isinstance(ratings, (tuple, list)) and len(ratings) == len(cols) and all(
                np.ndim(r) == 1 for r in ratings):
            lengths = {len(r) for r in ratings}
            if len(lengths) != 1:
                raise ValueError(f"the {len(cols)} arrays of {name} must have one length, "
                                 f"got lengths {[len(r) for r in ratings]}")
            frame = pd.DataFrame(dict(zip(cols, ratings)))
        else:
            what = ("a DataFrame with columns " + str(cols) + ", a tuple of "
                    f"{len(cols)} 1-D arrays or an array of shape (n, {len(cols)})")
            arr = None
            if not sp.issparse(ratings) and ratings is not None and not isinstance(
                    ratings, (str, bytes, dict, set)):
                try:
                    arr = np.asarray(ratings)
                except (ValueError, TypeError):  # ragged sequences
                    raise ValueError(f"{name} must be {what}, got a ragged "
                                     f"{type(ratings).__name__} of {len(ratings)} "
                                     "items of different lengths") from None
            if arr is None or arr.ndim != 2 or arr.shape[1] != len(cols):
                given = (f"an array of shape {arr.shape}" if arr is not None and arr.ndim
                         else f"{type(ratings).__name__} {ratings!r:.40}")
                raise (ValueError if arr is not None and arr.ndim else TypeError)(
                    f"{name} must be {what}, got {given}")
            frame = pd.DataFrame({c: arr[:, j] for j, c in enumerate(cols)})
            if need_rating and not pd.api.types.is_numeric_dtype(frame[self.rating_col]):
                try:
                    frame[self.rating_col] = pd.to_numeric(frame[self.rating_col])
                except (ValueError, TypeError) as exc:
                    raise ValueError(f"the ratings (last column) of {name} must be "
                                     f"numbers: {exc}") from None
        if len(frame) == 0:
            raise ValueError(f"{name} must hold at least one rating, got none")
        if need_rating:
            values = frame[self.rating_col]
            if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
                example = values.iloc[0]
                raise ValueError(f"column {self.rating_col!r} of {name} (the ratings) must "
                                 f"hold numbers, got dtype {values.dtype} (values like "
                                 f"{example!r:.30})")
            values = values.to_numpy(dtype=np.float64)
            bad = int((~np.isfinite(values)).sum())
            if bad:
                raise ValueError(f"column {self.rating_col!r} of {name} (the ratings) must "
                                 f"be finite, got {bad} NaN or infinite values")
        for c in cols[:2]:
            n_missing = int(frame[c].isna().sum())
            if n_missing:
                raise ValueError(f"expected an id in every row of column {c!r} of {name}, "
                                 f"got {n_missing} missing")
        return frame

    def _training_matrix(self, ratings):
        """CSR users x items of the training ratings, and the ids of rows/columns."""
        from .io import combine_duplicates, ratings_matrix

        if sp.issparse(ratings):
            coo = sp.coo_matrix(ratings)
            n_rows, n_cols = coo.shape
            if n_rows == 0 or n_cols == 0 or coo.nnz == 0:
                raise ValueError(f"ratings must hold at least one rating, got a sparse "
                                 f"matrix of shape {coo.shape} with {coo.nnz} stored entries")
            values = coo.data.astype(np.float64)
            if not np.isfinite(values).all():
                raise ValueError(f"expected finite ratings, got "
                                 f"{int((~np.isfinite(values)).sum())} NaN or infinite "
                                 f"stored entries in the sparse matrix")
            # stored entries are ratings (explicit zeros too); a non-canonical matrix
            # may repeat a (row, column) pair, which a CSR conversion would sum
            pair = coo.row.astype(np.int64) * n_cols + coo.col
            unique, values = combine_duplicates(pair, values, self.duplicates,
                                                "(row, column) of the sparse matrix",
                                                "entries")
            if unique.size == pair.size:
                unique = pair
            rows, cols = np.divmod(unique, n_cols)
            X = sp.csr_matrix((values, (rows, cols)), shape=(n_rows, n_cols))
            X.sort_indices()
            return X, np.arange(n_rows), np.arange(n_cols)
        frame = self._frame(ratings, "ratings")
        X, user_ids, item_ids = ratings_matrix(frame, self.user_col, self.item_col,
                                               self.rating_col, duplicates=self.duplicates)
        X.sort_indices()
        return X, user_ids, item_ids

    def _index(self, ids, which):
        """Row positions of ``ids`` in the training ids; -1 for unseen ids."""
        import pandas as pd

        index = self._user_index if which == "user" else self._item_index
        if index is None:
            known = self.user_ids_ if which == "user" else self.item_ids_
            index = pd.Index(known)
            if which == "user":
                self._user_index = index
            else:
                self._item_index = index
        try:
            return index.get_indexer(ids).astype(np.int64)
        except (TypeError, pd.errors.InvalidIndexError):
            # mixed types the index cannot compare: look up one by one
            return np.array([index.get_loc(i) if i in index else -1 for i in ids],
                            dtype=np.int64)

    # ------------------------------------------------------------------- fit
    def fit(self, ratings, y=None, *, validation=None):
        """Fit the model to training ratings.

        Parameters
        ----------
        ratings : DataFrame, tuple of arrays, array of shape (n, 3) or sparse matrix
            One rating per row (user id, item id, rating), or a users x items sparse
            matrix whose stored entries are the ratings (ids are then the row and
            column positions; rows or columns without ratings are kept and get
            zero factors and biases).
        y : None
            Ignored.
        validation : same forms as ``ratings`` (not sparse), optional
            Held-out ratings whose RMSE is recorded in ``history_`` after every
            epoch (and passed to ``callback``).

        Returns
        -------
        self
        """
        self._check_params()
        X, user_ids, item_ids = self._training_matrix(ratings)
        # squares of the ratings must not overflow (they enter every solver's sums)
        check_magnitude(X.data, "ratings")
        val = None
        if validation is not None:
            val = self._frame(validation, "validation")
        # a fit that fails (diverges) leaves the model as it was
        saved = dict(vars(self))
        try:
            settings = selection = None
            if _is_auto(self.n_components):
                settings, selection = _selection.select(self, X,
                                                        _rng(self.random_state))
            self._fit_matrix(X, user_ids, item_ids, val, settings)
            self.selection_ = selection
        except BaseException:
            vars(self).clear()
            vars(self).update(saved)
            raise
        return self

    def _check_diverged(self, info):
        """Raise when an epoch left non-finite factors or errors, saying what to do."""
        arrays = (self.user_factors_, self.item_factors_, self.user_bias_, self.item_bias_)
        if np.isfinite(info["train_rmse"]) and all(np.isfinite(a).all() for a in arrays):
            return
        if self.solver == "sgd":
            hint = (f"lower learning_rate (got {self.learning_rate!r}; the default is "
                    "0.01) or scale the ratings")
        else:
            hint = "scale the ratings (e.g. to a range like 1 to 5) or increase alpha"
        raise NonFiniteResultError(
            f"MatrixCompletion (solver={self.solver!r}) diverged at epoch {info['epoch']}: "
            f"the factors or the training RMSE became NaN or infinite; {hint}")

    def _fit_matrix(self, X, user_ids, item_ids, val, settings=None):
        """Fit on the CSR matrix ``X``; ``settings`` = (n_components, alpha, alpha_bias,
        n_epochs, solver, initial (P, Q, b_u, b_i) or None) overrides the parameters (the
        choice of ``n_components="auto"``)."""
        import numba

        solver = self.solver if settings is None else settings[4]
        if settings is None:
            k = int(self.n_components)
            alpha = self._alpha(X)
            alpha_bias = alpha if self.alpha_bias is None else float(self.alpha_bias)
            n_epochs = self.n_epochs or _DEFAULT_EPOCHS[solver]
        else:
            k, alpha, alpha_bias, n_epochs = settings[:4]
            k, alpha, alpha_bias, n_epochs = int(k), float(alpha), float(alpha_bias), int(n_epochs)
        self.n_components_ = k
        self.alpha_ = alpha
        self.alpha_bias_ = alpha_bias
        gamma = self._count_exponent()
        self.count_exponent_ = gamma
        rng = _rng(self.random_state)
        n_users, n_items = X.shape
        fit_bias = bool(self.fit_bias)

        self.user_ids_ = user_ids
        self.item_ids_ = item_ids
        self._user_index = self._item_index = None
        self.n_ratings_ = int(X.nnz)
        self.global_mean_ = float(X.data.mean())
        self.rating_scale_ = (float(X.data.min()), float(X.data.max()))
        self._seen = X  # users' rated items, for recommend(exclude_seen=True)
        mu = self.global_mean_
        P = rng.normal(0.0, self.init_scale, (n_users, k))
        Q = rng.normal(0.0, self.init_scale, (n_items, k))
        bu = np.zeros(n_users)
        bi = np.zeros(n_items)
        if settings is not None and settings[5] is not None:
            # warm start (n_components="auto"): the chosen candidate's factors and biases
            P, Q, bu, bi = (a.copy() for a in settings[5])
        self.user_factors_, self.item_factors_ = P, Q
        self.user_bias_, self.item_bias_ = bu, bi

        Xt = X.T.tocsr()
        Xt.sort_indices()
        # the penalty weight of each user and item (n ** gamma) for the row solves, and
        # the share of it each rating carries (n ** (gamma - 1)) for the per-rating
        # updates; n ** 1.0 == n exactly, so gamma = 1 is the per-rating penalty
        n_user = np.diff(X.indptr).astype(np.float64)
        n_item = np.diff(Xt.indptr).astype(np.float64)
        user_weight, item_weight = n_user ** gamma, n_item ** gamma
        user_share = np.where(n_user > 0, user_weight / np.maximum(n_user, 1.0), 1.0)
        item_share = np.where(n_item > 0, item_weight / np.maximum(n_item, 1.0), 1.0)
        all_users = np.arange(n_users)
        all_items = np.arange(n_items)
        batch_size = self._batch_size(n_users)
        # coordinates of the ratings: SGD's visiting list and the training RMSE
        coo = X.tocoo()
        coo_u, coo_i = coo.row.astype(np.int64), coo.col.astype(np.int64)
        if solver == "sgd":
            # strata of the stratified SGD: random user and item blocks
            n_strata = _SGD_STRATA
            user_block = rng.permutation(n_users) % n_strata
            item_block = rng.permutation(n_items) % n_strata
            ub = user_block[coo_u]
            group = ((item_block[coo_i] - ub) % n_strata) * n_strata + ub
        if solver == "somf":
            need = n_items * (k + 1) ** 2 * 8
            if need > 0.5 * available_memory():
                raise ValueError(
                    f"solver='somf' keeps a ({k + 1} x {k + 1}) statistic per item: "
                    f"{n_items} items x {k} components need {need / 2 ** 30:.1f} GiB, more "
                    f"than half of the {available_memory() / 2 ** 30:.1f} GiB free; use "
                    f"solver='als' (memory linear in n_components) or fewer components")
            A = np.zeros((n_items, k + 1, k + 1))
            scale = np.ones(n_items)
            B = np.zeros((n_items, k + 1))
            counts = np.zeros(n_items)
        val_u = val_i = val_r = None
        if val is not None:
            val_u = self._index(val[self.user_col], "user")
            val_i = self._index(val[self.item_col], "item")
            val_r = val[self.rating_col].to_numpy(dtype=np.float64)
        low, high = self._clip_bounds()

        self.history_ = []
        self.n_epochs_ = 0
        threads = numba.get_num_threads()
        if self.n_jobs is not None:
            numba.set_num_threads(min(int(self.n_jobs), numba.config.NUMBA_NUM_THREADS))
        start = time.perf_counter()
        bar = None
        if self.verbose:
            from tqdm.auto import tqdm
            bar = tqdm(total=n_epochs, desc=f"MatrixCompletion ({solver})", unit="epoch")
        try:
            with threadpool_limits(limits=1, user_api="blas"):
                for epoch in range(n_epochs):
                    if solver == "als":
                        _k.als_rows(all_users, X.indptr, X.indices, X.data, mu, bi, Q,
                                    alpha, alpha_bias, user_weight, P, bu, fit_bias)
                        _k.als_rows(all_items, Xt.indptr, Xt.indices, Xt.data, mu, bu, P,
                                    alpha, alpha_bias, item_weight, Q, bi, fit_bias)
                    elif solver == "somf":
                        order = rng.permutation(n_users)
                        for s in range(0, n_users, batch_size):
                            batch = order[s:s + batch_size]
                            # codes on each user's mask, then the items they rated
                            _k.als_rows(batch, X.indptr, X.indices, X.data, mu, bi, Q,
                                        alpha, alpha_bias, user_weight, P, bu, fit_bias)
                            _k.masked_item_step(
                                batch, X.indptr, X.indices, X.data, mu, P, bu, Q, bi, A,
                                scale, B, counts, alpha, alpha_bias, item_share,
                                float(self.forget_exponent), fit_bias, _SOMF_SWEEPS)
                        # the codes met during the pass used older item factors
                        _k.als_rows(all_users, X.indptr, X.indices, X.data, mu, bi, Q,
                                    alpha, alpha_bias, user_weight, P, bu, fit_bias)
                    else:
                        order, starts = _k.group_order(rng.permutation(X.nnz), group,
                                                       n_strata * n_strata)
                        lr = float(self.learning_rate) / (1.0 + self.lr_decay * epoch)
                        _k.sgd_strata_epoch(coo_u, coo_i, X.data, order, starts, n_strata,
                                            mu, P, Q, bu, bi, lr, lr, alpha, alpha_bias,
                                            user_share, item_share, fit_bias)
                    self.n_epochs_ = epoch + 1
                    info = {"epoch": epoch + 1, "time": time.perf_counter() - start}
                    info["train_rmse"] = self._rmse_known(coo_u, coo_i, X, low, high)
                    self._check_diverged(info)
                    if val is not None:
                        info["validation_rmse"] = self._rmse_indexed(val_u, val_i, val_r,
                                                                     low, high)
                    self.history_.append(info)
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix({key: f"{v:.4f}" for key, v in info.items()
                                         if key.endswith("rmse")})
                    if self.callback is not None and self.callback(self, info) is True:
                        break
        finally:
            if bar is not None:
                bar.close()
            numba.set_num_threads(threads)

    def _alpha(self, X):
        if not (isinstance(self.alpha, str) and self.alpha == "auto"):
            return float(self.alpha)
        users = np.count_nonzero(np.diff(X.indptr))
        items = np.count_nonzero(np.bincount(X.indices, minlength=X.shape[1]))
        per_user, per_item = X.nnz / max(users, 1), X.nnz / max(items, 1)
        # the rule is set for a penalty per rating; for another count exponent, the same
        # penalty for a user or item of typical size (sqrt(per_user * per_item) ratings)
        typical = (per_user * per_item) ** ((1.0 - self._count_exponent()) / 2.0)
        if self.solver == "sgd":
            return _SGD_ALPHA * typical
        return 0.9 / (per_user * per_item) ** 0.25 * typical

    def _count_exponent(self):
        """The count exponent: 0.5 when the rank is searched, else 1 (for "auto")."""
        if _is_auto(self.count_exponent):
            return 0.5 if _is_auto(self.n_components) else 1.0
        return float(self.count_exponent)

    def _batch_size(self, n_users):
        if self.batch_size == "auto":
            # about 10 steps a pass, at least 100 users a step
            return max(100, -(-n_users // 10))
        return int(self.batch_size)

    def _clip_bounds(self):
        if self.clip:
            return self.rating_scale_
        return -np.inf, np.inf

    def _rmse_known(self, rows, cols, X, low, high):
        sse = _k.squared_errors(rows, cols, X.data, self.global_mean_, self.user_factors_,
                                self.item_factors_, self.user_bias_, self.item_bias_,
                                low, high)
        return float(np.sqrt(sse / X.nnz))

    def _rmse_indexed(self, u, i, r, low, high):
        pred = np.empty(r.size)
        _k.predict_pairs(u, i, self.global_mean_, self.user_factors_, self.item_factors_,
                         self.user_bias_, self.item_bias_, low, high, pred)
        return float(np.sqrt(np.mean((pred - r) ** 2)))

    # ----------------------------------------------------------- prediction
    def _check_fitted(self):
        if not hasattr(self, "item_factors_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit "
                             f"first")

    def predict(self, users, items=None):
        """Predicted ratings of (user, item) pairs.

        Parameters
        ----------
        users : id, array of ids, or DataFrame
            User ids; or a DataFrame with ``user_col`` and ``item_col`` columns (then
            ``items`` is None).
        items : id or array of ids
            Item ids, paired with ``users`` (one of them may be a single id).

        Returns
        -------
        pred : ndarray of shape (n_pairs,), or float for a single pair
            Ids never seen in training contribute no bias and no factors: an unseen
            user gets ``mu + c_i``, an unseen item ``mu + b_u``, both unseen ``mu``.
            Clipped to ``rating_scale_`` when ``clip`` is True.
        """
        import pandas as pd

        self._check_fitted()
        scalar = False
        if items is None:
            if not isinstance(users, pd.DataFrame):
                raise ValueError("predict takes (users, items) or a DataFrame with the "
                                 f"columns {[self.user_col, self.item_col]}, got one "
                                 f"argument of type {type(users).__name__}")
            frame = self._frame(users, "users", need_rating=False)
            users, items = frame[self.user_col].to_numpy(), frame[self.item_col].to_numpy()
        else:
            scalar = np.ndim(users) == 0 and np.ndim(items) == 0
            users = _as_1d(users, "users")
            items = _as_1d(items, "items")
            if users.size != items.size:
                if users.size == 1:
                    users = np.repeat(users, items.size)
                elif items.size == 1:
                    items = np.repeat(items, users.size)
                else:
                    raise ValueError(f"users and items must have one length (or one of "
                                     f"them a single id), got {users.size} and "
                                     f"{items.size}")
        u = self._index(users, "user")
        i = self._index(items, "item")
        low, high = self._clip_bounds()
        pred = np.empty(u.size)
        _k.predict_pairs(u, i, self.global_mean_, self.user_factors_, self.item_factors_,
                         self.user_bias_, self.item_bias_, low, high, pred)
        return float(pred[0]) if scalar else pred

    def rmse(self, ratings):
        """Root mean squared error of the predictions of ``ratings`` (any form
        ``fit`` takes, but sparse); unseen users and items are predicted as in
        ``predict``."""
        self._check_fitted()
        frame = self._frame(ratings, "ratings")
        u = self._index(frame[self.user_col], "user")
        i = self._index(frame[self.item_col], "item")
        r = frame[self.rating_col].to_numpy(dtype=np.float64)
        low, high = self._clip_bounds()
        return self._rmse_indexed(u, i, r, low, high)

    def score(self, ratings, y=None):
        """Minus the RMSE of ``ratings`` (higher is better, as scikit-learn expects)."""
        return -self.rmse(ratings)

    def recommend(self, user, n=10, exclude_seen=True, items=None):
        """The ``n`` items with the highest predicted rating for ``user``.

        Parameters
        ----------
        user : id or list/array of ids
            A user id; one never seen in training gets the items with the highest
            ``mu + c_i`` (the best-rated items after shrinkage). Several ids give
            every user's list in one long table (scored in blocks with BLAS).
        n : int, default=10
        exclude_seen : bool, default=True
            Leave out the items the user rated in training.
        items : array of ids or None
            Candidate items (default: every training item); unseen ids are dropped.

        Returns
        -------
        DataFrame with columns ``item`` and ``score`` (the predicted rating, not
        clipped), best first; for several users, columns ``user``, ``rank`` (from 1),
        ``item`` and ``score``, each user's items best first. A user with fewer than
        ``n`` candidates left gets fewer rows.
        """
        import pandas as pd

        self._check_fitted()
        n = check_int(n, "n", min_val=1)
        exclude_seen = check_bool(exclude_seen, "exclude_seen")
        single = np.ndim(user) == 0
        users = np.array([user], dtype=object) if single else _as_1d(user, "user")
        rows = self._index(users, "user")
        if items is None:
            cand = np.arange(self.item_ids_.size)
        else:
            cand = self._index(_as_1d(items, "items"), "item")
            cand = np.unique(cand[cand >= 0])
        base = self.global_mean_ + self.item_bias_[cand]
        Qc = self.item_factors_[cand]
        position = np.full(self.item_ids_.size, -1)  # item -> its column among cand
        position[cand] = np.arange(cand.size)
        out_user, out_rank, out_item, out_score = [], [], [], []
        block = max(1, 2 ** 22 // max(cand.size, 1))  # about 32 MB of scores at a time
        for lo in range(0, rows.size, block):
            r = rows[lo:lo + block]
            known = r >= 0
            scores = np.broadcast_to(base, (r.size, cand.size)).copy()
            if known.any():
                rk = r[known]
                scores[known] += (self.user_bias_[rk][:, None]
                                  + self.user_factors_[rk] @ Qc.T)
                if exclude_seen:
                    # mark each known user's rated candidates
                    for j, u in zip(np.flatnonzero(known), rk):
                        seen = position[self._seen.indices[self._seen.indptr[u]:
                                                           self._seen.indptr[u + 1]]]
                        scores[j, seen[seen >= 0]] = -np.inf
            for j in range(r.size):
                valid = np.isfinite(scores[j])
                m = min(n, int(valid.sum()))
                if m == 0:
                    continue
                row = scores[j]
                top = (np.argpartition(-row, m - 1)[:m] if m < row.size
                       else np.arange(row.size))
                top = top[np.argsort(-row[top], kind="stable")][:m]
                out_user.append(np.repeat(users[lo + j], m))
                out_rank.append(np.arange(1, m + 1))
                out_item.append(cand[top])
                out_score.append(row[top])
        cat = (lambda parts, dtype=None: np.concatenate(parts) if parts
               else np.empty(0, dtype=dtype))
        item_pos = cat(out_item, np.int64)
        frame = pd.DataFrame({"user": cat(out_user, object), "rank": cat(out_rank, np.int64),
                              "item": self.item_ids_[item_pos],
                              "score": cat(out_score, np.float64)})
        if single:
            return frame[["item", "score"]].reset_index(drop=True)
        return frame
