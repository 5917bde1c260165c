"""The state of the online learner: what it carries, saves and shows as it goes.

:class:`State` holds the dictionary, the surrogate statistics and the counts in
the learner's internal feature order; the functions here turn the whole state
of an :class:`~nimf.decomposition.OnlineDictionaryLearning` into plain arrays and
JSON scalars and back (for ``save_model`` and for checkpoints, which also
record what identifies the parameters and the data), and :class:`Tracker` runs
the clock, the progress bar, the records of ``history_`` and the checkpoints of
one fit.  The algorithm itself is in :mod:`nimf.decomposition.online`.
"""

import hashlib
import math
import time

import numpy as np

from ..sources import FeatureBlocks, load_checkpoint, save_checkpoint

__all__ = ["State", "Tracker", "get_persistent_state", "set_persistent_state",
           "save_fit_checkpoint", "restore_fit_checkpoint", "fingerprint_params",
           "rows_from_few_chunks", "objective_value", "penalties", "jsonable_resolved",
           "RESUMABLE", "STATE_ARRAYS"]

# parameters that may change between a checkpoint and the fit resuming it (the
# start, dict_init, is replaced by the state of the checkpoint)
RESUMABLE = ("verbose", "callback", "checkpoint", "checkpoint_every", "resume",
             "max_time", "n_epochs", "history_every", "dict_init")


STATE_ARRAYS = ("D", "S", "B", "G", "norms", "feature_counts", "sample_counts", "beta_avg",
                "codes")


def penalties(alpha, l1_ratio, G):
    """Absolute l1 and l2 code penalties for a relative ``alpha``.

    The penalty is measured against the mean squared norm ``g`` of the
    components (``trace(G) / k``): ``l2 = alpha (1 - l1_ratio) g`` and
    ``l1 = alpha l1_ratio sqrt(g)``.  The code problem is then unchanged when the
    components are rescaled (codes rescale inversely), so one ``alpha`` suits
    any constraint, number of features or sparsity of the components.
    """
    g = float(np.trace(G)) / G.shape[0]
    g = max(g, 0.0)
    return alpha * l1_ratio * math.sqrt(g), alpha * (1.0 - l1_ratio) * g


class State:
    """Everything the learner carries from one step to the next.

    ``D`` and ``B`` hold the features in the learner's *internal order*:
    position ``j`` is feature ``feature_map[j]`` of the data (the identity when
    ``feature_map`` is None) and is read from storage column ``storage_cols[j]``
    (the same position when None).  Sampled blocks are contiguous in this order.
    """

    def __init__(self, D, dtype, feature_map=None, storage_cols=None):
        k, p = D.shape
        self.D = D
        self.S = np.zeros((k, k), dtype=dtype)
        # written now, not as pages of zeros the kernel maps on first touch:
        # faulting them in one by one doubled the cost of the first steps
        self.B = np.empty((k, p), dtype=dtype)
        self.B.fill(0)
        self.G = D @ D.T
        self.norms = np.empty(k, dtype=np.float64)
        self.feature_counts = np.zeros(p, dtype=np.int64)
        self.feature_map = feature_map
        self.storage_cols = storage_cols
        self.n_samples_seen = 0
        self.n_start = 0  # samples the start counts for (start_weight)
        # per-sample memory, grown on demand and only for the methods that use
        # it: visit counts and averaged D x ('average'), codes (warm starts of
        # the elastic-net solver)
        self.sample_counts = np.zeros(0, dtype=np.int64)
        self.beta_avg = np.zeros((0, k), dtype=dtype)
        self.codes = np.zeros((0, k), dtype=dtype)

    def ensure_samples(self, n, average, warm):
        """Grow the per-sample memory to hold ``n`` samples."""
        k = self.S.shape[0]
        for name, needed, shape in (("sample_counts", average, (n,)),
                                    ("beta_avg", average, (n, k)),
                                    ("codes", warm, (n, k))):
            old = getattr(self, name)
            if not needed or n <= old.shape[0]:
                continue
            new = np.zeros((max(n, int(1.5 * old.shape[0])),) + shape[1:], dtype=old.dtype)
            new[:old.shape[0]] = old
            setattr(self, name, new)

    def to_original(self, D):
        """Rows of ``D`` (internal order) with the features in the data's order."""
        if self.feature_map is None:
            return D.copy()
        out = np.empty_like(D)
        out[:, self.feature_map] = D
        return out

    def to_internal(self, X):
        """Columns of ``X`` (data order) in the internal order."""
        if self.feature_map is None:
            return np.ascontiguousarray(X)
        return np.ascontiguousarray(X[:, self.feature_map])


class Tracker:
    """Clock, progress bar, ``history_`` records and checkpoints of one fit."""

    def __init__(self, est, source, plan, params, V):
        self.est = est
        self.source = source
        self.plan = plan
        self.params = params
        self.V = V
        total = plan.n_batches * params["n_epochs"]
        self.every = params["history_every"] or max(1, total // 100)
        # a resumed fit continues the clock and the byte count of the checkpoint
        self.clock = time.perf_counter() - est._elapsed
        self.bytes_before = source.bytes_read - est._bytes_read
        self.samples_before = est._state.n_samples_seen
        self.start = time.perf_counter()
        self.eval_time = 0.0
        self.bar = None
        if params["verbose"] > 0:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=est._epoch * plan.n_batches + est._batch,
                            desc=type(est).__name__, unit="batch")

    def elapsed(self):
        return time.perf_counter() - self.clock

    def bytes_read(self):
        return int(self.source.bytes_read - self.bytes_before)

    def record(self):
        est = self.est
        t0 = time.perf_counter()
        objective = np.nan if self.V is None else est._objective_internal(self.V, self.params)
        self.eval_time += time.perf_counter() - t0
        h = est.history_
        h["time"].append(self.elapsed() - self.eval_time)
        h["n_samples"].append(int(est._state.n_samples_seen - est._state.n_start))
        h["epoch"].append(est._epoch + est._batch / self.plan.n_batches)
        h["bytes_read"].append(self.bytes_read())
        h["objective"].append(float(objective))

    def save(self):
        est = self.est
        est._elapsed = self.elapsed()
        est._bytes_read = self.bytes_read()
        path = self.params["checkpoint"]
        if path is not None:
            save_fit_checkpoint(est, path, self.source, self.params)

    def out_of_time(self):
        limit = self.params["max_time"]
        return "max_time" if limit is not None and self.elapsed() >= limit else None

    def advance(self):
        """The progress bar moves by one step, with the reading rates."""
        if self.bar is None:
            return
        est = self.est
        self.bar.update(1)
        seconds = time.perf_counter() - self.start
        if seconds > 0:
            rate = (est._state.n_samples_seen - self.samples_before) / seconds
            mbs = (self.source.bytes_read - self.bytes_before - est._bytes_read) / seconds
            self.bar.set_postfix_str(f"{rate:,.0f} samples/s, {mbs / 1e6:,.0f} MB/s",
                                     refresh=False)

    def after_step(self):
        """Progress, records and checkpoints after a step; True to stop (max_time)."""
        est = self.est
        self.advance()
        if est.n_steps_ % self.every == 0:
            self.record()
        if (self.params["checkpoint"] is not None
                and est.n_steps_ % self.params["checkpoint_every"] == 0):
            self.save()
        return self.out_of_time() is not None

    def close(self):
        if self.bar is not None:
            self.bar.close()


def jsonable_resolved(resolved):
    """The settled start of a partial_fit stream, without the start array itself."""
    if not resolved:
        return None
    out = dict(resolved)
    if not isinstance(out.get("dict_init"), str):
        out["dict_init"] = "array"
    return out


def rows_from_few_chunks(n, chunk, size, gen):
    """``size`` distinct random rows (sorted) from as few random row chunks as needed.

    On storage a row costs its whole chunk: drawing rows anywhere would read
    ``size`` chunks for ``size`` rows.  With chunks of one row this is a plain
    uniform draw.
    """
    n_chunks = -(-n // chunk)
    need = min(n_chunks, -(-size // chunk) + 1)
    while True:
        chunks = np.sort(gen.choice(n_chunks, size=need, replace=False))
        pool = np.concatenate([np.arange(c * chunk, min(n, (c + 1) * chunk)) for c in chunks])
        if pool.size >= size:
            break
        need = min(n_chunks, need + 1)
    return np.sort(gen.choice(pool, size=size, replace=False)).astype(np.int64)


def objective_value(X, codes, D, G, params):
    """Mean of ``1/2 ||x - D^T a||^2 + penalties`` over the rows of ``X``."""
    residual = X - codes @ D
    l1, l2 = penalties(params["alpha"], params["code_l1_ratio"], G)
    codes = codes.astype(np.float64)
    value = 0.5 * np.sum(residual.astype(np.float64) ** 2, axis=1)
    value += 0.5 * l2 * np.sum(codes ** 2, axis=1) + l1 * np.sum(np.abs(codes), axis=1)
    return float(np.mean(value))



def get_persistent_state(est):
    """Arrays and scalars needed to resume ``partial_fit`` (or ``fit``) exactly."""
    if not hasattr(est, "_state"):
        return {}, {}
    state = est._state
    arrays = {name: getattr(state, name) for name in STATE_ARRAYS}
    if state.feature_map is not None:
        arrays["feature_map"] = state.feature_map
    if state.storage_cols is not None:
        arrays["storage_cols"] = state.storage_cols
    blocks = est._blocks
    scalars = dict(n_samples_seen=int(state.n_samples_seen), n_start=int(state.n_start),
                   entropy=int(est._entropy),
                   n_steps=int(est.n_steps_), n_iter=int(est.n_iter_),
                   n_reinit=int(est.n_reinit_), epoch=int(getattr(est, "_epoch", 0)),
                   batch=int(getattr(est, "_batch", 0)),
                   elapsed=float(getattr(est, "_elapsed", 0.0)),
                   bytes_read=int(getattr(est, "_bytes_read", 0)),
                   block_size=int(blocks.block_size), reduction=float(est.reduction),
                   stop_reason=getattr(est, "stop_reason_", None),
                   resolved=jsonable_resolved(getattr(est, "_resolved", None)))
    return arrays, scalars


def set_persistent_state(est, arrays, scalars):
    state = State.__new__(State)
    for name in STATE_ARRAYS:
        setattr(state, name, np.array(arrays[name]))
    state.feature_map = (np.array(arrays["feature_map"], dtype=np.int64)
                         if "feature_map" in arrays else None)
    state.storage_cols = (np.array(arrays["storage_cols"], dtype=np.int64)
                          if "storage_cols" in arrays else None)
    state.n_samples_seen = int(scalars["n_samples_seen"])
    state.n_start = int(scalars.get("n_start", 0))
    est._state = state
    est._entropy = int(scalars["entropy"])
    est.n_steps_ = int(scalars["n_steps"])
    est.n_iter_ = int(scalars["n_iter"])
    est.n_reinit_ = int(scalars["n_reinit"])
    est._epoch = int(scalars.get("epoch", 0))
    est._batch = int(scalars.get("batch", 0))
    est._elapsed = float(scalars.get("elapsed", 0.0))
    est._bytes_read = int(scalars.get("bytes_read", 0))
    if scalars.get("resolved"):
        est._resolved = dict(scalars["resolved"])
    reason = scalars.get("stop_reason")
    est._finished = reason if reason in ("tol", "callback") else None
    if reason is not None:
        est.stop_reason_ = reason
    p = state.D.shape[1]
    est._blocks = FeatureBlocks(p, int(scalars["block_size"]),
                                 float(scalars["reduction"]))
    est._D_epoch_start = None
    if not hasattr(est, "history_"):
        est.history_ = dict(time=[], n_samples=[], epoch=[], bytes_read=[], objective=[])


def fingerprint_params(est):
    out = {}
    for key, value in est.get_params(deep=False).items():
        if key in RESUMABLE:
            continue
        if isinstance(value, np.ndarray):
            digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
            value = "sha256:" + digest
        elif key == "random_state" and not isinstance(value, (int, np.integer, type(None))):
            value = "instance"
        elif isinstance(value, np.generic):
            value = value.item()
        elif not isinstance(value, (int, float, str, bool, type(None))):
            value = repr(value)
        out[key] = value
    return out


def save_fit_checkpoint(est, path, source, params):
    arrays, scalars = get_persistent_state(est)
    if est._D_epoch_start is not None:
        arrays["D_epoch_start"] = est._D_epoch_start
    for key, values in est.history_.items():
        arrays[f"history__{key}"] = np.asarray(values, dtype=np.float64)
    meta = dict(estimator=type(est).__name__, params=fingerprint_params(est),
                data=source.fingerprint(), state=scalars)
    save_checkpoint(path, arrays, meta)


def restore_fit_checkpoint(est, path, source, params):
    arrays, meta = load_checkpoint(path)
    name = type(est).__name__
    if meta.get("estimator") != name:
        raise ValueError(f"checkpoint {path!r} was written by {meta.get('estimator')}, "
                         f"not by {name}")
    mine = fingerprint_params(est)
    theirs = meta.get("params", {})
    diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
    if diff:
        detail = ", ".join(f"{k}={theirs.get(k)!r} in the checkpoint but {mine.get(k)!r} "
                           "now" for k in diff[:3])
        raise ValueError(f"checkpoint {path!r} is of a fit with other parameters: {detail}; "
                         "use another checkpoint path or resume=False")
    data = source.fingerprint()
    if meta.get("data") != data:
        old = meta.get("data", {})
        raise ValueError(
            f"checkpoint {path!r} is of other data (shape {old.get('shape')}, dtype "
            f"{old.get('dtype')}) than X (shape {data['shape']}, dtype {data['dtype']}), "
            "or the data changed; use another checkpoint path or resume=False")
    set_persistent_state(est, arrays, meta["state"])
    est._D_epoch_start = (np.array(arrays["D_epoch_start"])
                           if "D_epoch_start" in arrays else None)
    est.history_ = {key[len("history__"):]: [float(v) for v in arrays[key]]
                     for key in arrays if key.startswith("history__")}
    for key in ("n_samples", "bytes_read"):
        est.history_[key] = [int(v) for v in est.history_.get(key, [])]
