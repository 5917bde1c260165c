"""How ``MatrixCompletion(n_components="auto")`` chooses its rank and penalties.

An inner validation split of the training ratings (a tenth of them, at random) scores a
few candidate models, each fitted on the other nine tenths with early stopping over
epochs (a candidate stops at the first epoch that does not lower its held-out RMSE, or
lowers it by less than ``_MIN_GAIN`` of it: such tails do not change which candidate
wins, and cost a quarter of the search):

1. the biases-only model, its bias penalty searched on a log2 line from the density
   rule of ``alpha="auto"`` (up while the held-out RMSE improves, else down);
2. the low-rank model at ``_SMALL_RANK`` components, its factor penalty searched on a
   log2 line from the density rule of ``alpha="auto"`` (up while it improves, else
   down) and then refined by half steps on both sides of the best, then ``_MAX_RANK``
   components at the best penalty, only if the small rank already beats the biases
   (as in 3.) by at least 1% of their mean squared error.  Every low-rank candidate
   starts from the truncated SVD of the residuals of the best biases-only candidate
   (the "SVD start": item factors ``V sqrt(s)``, user factors ``U sqrt(s)``, biases
   kept), so that its alternating solves begin near the low-rank part of the data
   instead of near zero; they then converge in a few sweeps, to a lower held-out
   error than from a small random start (which the penalty holds near zero for
   several sweeps);
3. the best low-rank model is kept only if it beats the biases-only model on the
   validation ratings by more than one standard error of the paired difference of
   squared errors, and by at least ``_MIN_MSE_GAIN`` of the biases' mean squared error
   (a heavily penalised low-rank model, its factors near zero, predicts almost as the
   biases do and can beat them by a hair, consistently enough to pass the first test:
   such a gain is not worth a model); otherwise the biases-only model is chosen.

The caller refits the chosen settings on all training ratings, starting from the
chosen candidate's factors and biases at its best epoch, for ``_WARM_EPOCHS`` passes
(or fewer, if the candidate was best sooner).  Biases-only models are fitted by ALS
whatever the solver (the same objective; its exact alternating solves converge in a
few passes), and so are the low-rank candidates and the refit of solver "somf": from
the SVD start, exact alternating solves need fewer passes than the online learner,
whose running statistics start empty.  Every candidate uses the same seed, so they
differ only in their settings, and the seed comes from the estimator's ``random_state``.
"""

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, svds
from threadpoolctl import threadpool_limits

from .._kernels import ratings as _k
from .._validation import NonFiniteResultError

VALIDATION_FRACTION = 0.1
_MAX_RANK = 30
_SMALL_RANK = 10
# epochs at most per candidate (early stopping usually ends sooner), and the number of
# epochs without a better validation RMSE that stops a candidate
_MAX_EPOCHS = {"als": 10, "somf": 4, "sgd": 30}
_PATIENCE = 1
# an epoch that lowers the validation RMSE by less than this share of it ends a candidate
_MIN_GAIN = 5e-4
# passes of the refit on all training ratings, which starts from the chosen candidate
# (a state fitted on nine tenths of them, stopped before its last small gains)
_WARM_EPOCHS = 4
# bias penalties: the density rule's value times 2 ** j, j in [-_BIAS_STEPS, _BIAS_STEPS]
_BIAS_STEPS = 4
# the larger rank is tried when the small rank's gain in held-out mean squared error
# over the biases is at least this share of the biases' mean squared error
_LARGER_RANK_GAIN = 0.01
# factor penalties: the density rule's value times 2 ** j, j in [-_ALPHA_STEPS, _ALPHA_STEPS]
_ALPHA_STEPS = 2
# the low-rank model must lower the biases' held-out mean squared error by this share
_MIN_MSE_GAIN = 1e-3
# candidates on fewer training ratings than this run on one thread (unless n_jobs is set)
_SERIAL_BELOW = 1_000_000


def inner_split(X, rng, fraction=VALIDATION_FRACTION):
    """The training matrix without a random ``fraction`` of its ratings, and those
    ratings as (rows, columns, values)."""
    rows = np.repeat(np.arange(X.shape[0], dtype=np.int64), np.diff(X.indptr))
    cols = X.indices.astype(np.int64)
    held = rng.random(X.nnz) < fraction
    if not held.any() or held.all():
        return None
    keep = ~held
    train = sp.csr_matrix((X.data[keep], (rows[keep], cols[keep])), shape=X.shape)
    train.sort_indices()
    return train, (rows[held], cols[held], X.data[held].astype(np.float64))


def solver_for(solver, n_components):
    """The biases alone are fitted by ALS whatever the solver (same objective, and its
    exact alternating solves need the fewest passes); so are the low-rank models of
    "somf", which start from the SVD start (its running statistics would start empty)."""
    return "als" if n_components == 0 or solver == "somf" else solver


def svd_start(train, state, rank, rng):
    """The SVD start of the low-rank candidates: the biases of ``state`` (a biases-only
    candidate's (user factors, item factors, user biases, item biases)) and the user
    and item factors ``U sqrt(s)`` and ``V sqrt(s)`` of the rank-``rank`` truncated SVD
    of their residuals on the ratings of ``train`` (zero elsewhere); None if the SVD
    fails."""
    n_users, n_items = train.shape
    user_bias, item_bias = state[2], state[3]
    rows = np.repeat(np.arange(n_users), np.diff(train.indptr))
    mu = float(train.data.mean())
    residual = sp.csr_matrix(
        (train.data - mu - user_bias[rows] - item_bias[train.indices], train.indices,
         train.indptr), shape=train.shape)
    rank = min(rank, min(train.shape) - 1)
    if rank < 1:
        return None
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            # thin products: more BLAS threads only contend (as in the fits)
            u, s, vt = _truncated_svd(residual, rank, rng)
    except (ArpackError, ArpackNoConvergence, np.linalg.LinAlgError):
        return None
    order = np.argsort(-s)
    root = np.sqrt(np.maximum(s[order], 0.0))
    user_factors = np.ascontiguousarray(u[:, order] * root)
    item_factors = np.ascontiguousarray(vt[order].T * root)
    if not (np.isfinite(user_factors).all() and np.isfinite(item_factors).all()):
        return None
    return user_factors, item_factors, user_bias.copy(), item_bias.copy()


def _truncated_svd(residual, rank, rng):
    """The ``rank`` leading singular triplets of the sparse ``residual``."""
    if min(residual.shape) <= 3 * rank + 10:
        # ARPACK needs rank < min(shape) - 1 and is slower than LAPACK on tiny matrices
        u, s, vt = np.linalg.svd(residual.toarray(), full_matrices=False)
        return u[:, :rank], s[:rank], vt[:rank]
    # a starting vector from the seed: ARPACK's own is drawn from a global state
    return svds(residual, k=rank, v0=rng.uniform(-1.0, 1.0, min(residual.shape)))


def _fit_candidate(estimator, train, val, k, alpha, alpha_bias, max_epochs, seed,
                   start=None):
    """Fit one candidate on ``train`` with early stopping on ``val``, from ``start``
    ((user factors, item factors, user biases, item biases) of at least ``k``
    components, or None for the random start); its record, and the squared
    validation errors and (user factors, item factors, user biases, item biases) of
    its best epoch."""
    rows, cols, values = val
    best = {"rmse": np.inf, "epoch": 0, "errors": None, "state": None}

    def stop(model, info):
        pred = np.empty(values.size)
        low, high = model._clip_bounds()
        _k.predict_pairs(rows, cols, model.global_mean_, model.user_factors_,
                         model.item_factors_, model.user_bias_, model.item_bias_, low, high,
                         pred)
        errors = (pred - values) ** 2
        rmse = float(np.sqrt(errors.mean()))
        gain = best["rmse"] - rmse
        if rmse < best["rmse"]:
            best.update(rmse=rmse, epoch=info["epoch"], errors=errors, state=tuple(
                a.copy() for a in (model.user_factors_, model.item_factors_,
                                   model.user_bias_, model.item_bias_)))
        # stop when worse for _PATIENCE epochs, or when an epoch gains too little to
        # change the choice between candidates
        return (info["epoch"] - best["epoch"] >= _PATIENCE
                or 0.0 <= gain < _MIN_GAIN * rmse)

    params = estimator.get_params(deep=False)
    params.update(n_components=k, alpha=alpha, alpha_bias=alpha_bias,
                  count_exponent=estimator._count_exponent(),
                  n_epochs=_MAX_EPOCHS[solver_for(estimator.solver, k)] if max_epochs is None
                  else max_epochs, solver=solver_for(estimator.solver, k),
                  random_state=seed, verbose=False, callback=stop)
    if estimator.n_jobs is None and train.nnz < _SERIAL_BELOW:
        # many short parallel loops on little data: starting threads costs more than
        # they save, the more so on a busy machine
        params["n_jobs"] = 1
    model = type(estimator)(**params)
    settings = None
    if start is not None:
        start = (start[0][:, :k], start[1][:, :k], start[2], start[3])
        settings = (k, alpha, alpha_bias, params["n_epochs"], params["solver"], start)
    try:
        model._fit_matrix(train, np.arange(train.shape[0]), np.arange(train.shape[1]), None,
                          settings)
    except NonFiniteResultError:
        best.update(rmse=np.inf, epoch=0, errors=None, state=None)
    record = {"n_components": int(k), "alpha": float(alpha), "alpha_bias": float(alpha_bias),
              "n_epochs": int(best["epoch"]), "validation_rmse": float(best["rmse"])}
    return record, best["errors"], best["state"]


def select(estimator, X, rng):
    """Choose the settings of ``estimator`` on the training matrix ``X``.

    Returns ``(n_components, alpha, alpha_bias, n_epochs, solver, init)`` for the refit
    (``init``: the chosen candidate's (user factors, item factors, user biases, item
    biases), or None) and the record of the search (``selection_``).
    """
    solver = estimator.solver
    fallback_epochs = estimator.n_epochs or {"als": 10, "somf": 3, "sgd": 30}[solver]
    rule = estimator._alpha(X) if _is_auto(estimator.alpha) else None
    split = inner_split(X, rng)
    alpha_given = not _is_auto(estimator.alpha)
    if split is None:
        # too few ratings to hold any out: the biases alone, as penalised as the rule says
        alpha = float(estimator.alpha) if alpha_given else rule
        alpha_bias = alpha if estimator.alpha_bias is None else float(estimator.alpha_bias)
        return (0, alpha, alpha_bias, fallback_epochs, solver_for(solver, 0), None), {
            "method": "too few ratings for a validation split: biases only",
            "validation_ratings": 0, "candidates": []}
    train, val = split
    seed = int(rng.integers(2 ** 31 - 1))
    max_epochs = estimator.n_epochs  # None: per solver
    base = rule if rule is not None else float(estimator.alpha)
    candidates = []

    states = []

    start = [None]

    def run(k, alpha, alpha_bias):
        record, errors, state = _fit_candidate(estimator, train, val, k, alpha, alpha_bias,
                                               max_epochs, seed, start[0] if k else None)
        candidates.append(record)
        states.append(state)
        return record, errors

    # 1. biases only: the bias penalty on a log2 line from the rule (biases are cheap)
    if estimator.alpha_bias is not None or alpha_given:
        fixed = estimator.alpha_bias if estimator.alpha_bias is not None else estimator.alpha
        bias_best, bias_errors = run(0, base, float(fixed))
    else:
        bias_fits = {}

        def bias_at(step):
            if step not in bias_fits:
                bias_fits[step] = run(0, base, base * 2.0 ** step)
            return bias_fits[step]

        bias_step = _line_search(lambda step: bias_at(step)[0]["validation_rmse"],
                                 _BIAS_STEPS)
        bias_best, bias_errors = bias_at(bias_step)
    alpha_bias = bias_best["alpha_bias"]

    # 2. the factor penalty at a small rank (cheap), then the largest rank at that penalty
    max_rank = max(1, min(_MAX_RANK, min(X.shape) - 1))
    small_rank = min(_SMALL_RANK, max_rank)
    bias_state = states[next(j for j, c in enumerate(candidates) if c is bias_best)]
    if bias_state is not None:
        start[0] = svd_start(train, bias_state, max_rank, rng)
    tried = {}

    def at(step, k=small_rank):
        if (k, step) not in tried:
            tried[(k, step)] = run(k, base * 2.0 ** step, alpha_bias)
        return tried[(k, step)]

    best_step = 0
    if not alpha_given:
        score = lambda step: at(step)[0]["validation_rmse"]  # noqa: E731
        best_step = _line_search(score, _ALPHA_STEPS)
        # half steps on both sides of the best: the held-out error is steep in alpha
        # (above a threshold the penalty zeroes the factors)
        for half in (best_step - 0.5, best_step + 0.5):
            if abs(half) < _ALPHA_STEPS and score(half) < score(best_step):
                best_step = half
    low_best, low_errors = at(best_step)
    # more components only where the small rank's terms matter: they beat the biases
    # and explain a share of their held-out squared error
    better, gain, _ = _beats(bias_errors, low_errors)
    if (max_rank > small_rank and better
            and gain > _LARGER_RANK_GAIN * float(bias_errors.mean())):
        record, errors = at(best_step, max_rank)
        if record["validation_rmse"] < low_best["validation_rmse"]:
            low_best, low_errors = record, errors

    # 3. the low-rank terms only if they beat the biases by more than a standard error
    better, gain, standard_error = _beats(bias_errors, low_errors)
    better = better and gain >= _MIN_MSE_GAIN * float(bias_errors.mean())
    chosen = low_best if better else bias_best
    # the refit on all training ratings starts from the chosen candidate's best epoch
    init = states[next(j for j, c in enumerate(candidates) if c is chosen)]
    epochs = max(1, chosen["n_epochs"])
    if init is not None:
        epochs = min(epochs, _WARM_EPOCHS)
    settings = (chosen["n_components"], chosen["alpha"], chosen["alpha_bias"], epochs,
                solver_for(solver, chosen["n_components"]), init)
    selection = {
        "method": "inner validation split with early stopping",
        "validation_ratings": int(val[2].size),
        "candidates": candidates,
        "biases_only": dict(bias_best), "low_rank": dict(low_best),
        "mse_gain": gain, "mse_gain_standard_error": standard_error,
        "chosen": dict(chosen, solver=settings[4]),
    }
    return settings, selection


def _line_search(score, max_steps):
    """The step in ``[-max_steps, max_steps]`` reached from 0 by moving up while
    ``score`` (lower is better) improves, or else down while it improves."""
    direction = 1 if score(1) < score(0) else -1
    best = 1 if direction == 1 else 0
    while abs(best) < max_steps:
        nxt = best + direction
        if not score(nxt) < score(best):
            break
        best = nxt
    return best


def _beats(base_errors, errors):
    """Whether squared ``errors`` are lower than ``base_errors`` on the same ratings by
    more than one standard error of the mean paired difference; that mean and error."""
    if errors is None or base_errors is None or base_errors.size < 2:
        return False, 0.0, float("inf")
    diff = base_errors - errors
    gain = float(diff.mean())
    standard_error = float(diff.std(ddof=1) / np.sqrt(diff.size))
    return gain > standard_error, gain, standard_error


def _is_auto(value):
    return isinstance(value, str) and value == "auto"
