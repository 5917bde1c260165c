"""nimf's subsampled online dictionary learner against scikit-learn's.

Both run in this one process on the same planted-sparse-dictionary data:

- ``--case small`` (default before issue 12): 4000 samples x 20000 features,
  20 components, SNR 1, float64;
- ``--case wide``: 2000 training and 200 held-out samples x 235,375 features
  (the width of the 2 mm MNI brain mask), 40 components, SNR 1, float32: far
  fewer samples than features, as resting-state fMRI;
- ``--case both`` runs the two.

Fits: scikit-learn ``MiniBatchDictionaryLearning(batch_size=50, max_iter=1)``;
nimf ``OnlineDictionaryLearning(dict_l1_ratio=0.5)`` with its default parameters
otherwise, at reduction 12 and at reduction 1.  For each fit it prints the time,
the held-out residual (relative residual of the least-squares fit of held-out
samples on the learned components, against the same quantity for the planted
components: the best possible), the recovery of the planted components
(Hungarian-matched mean best |cosine|) and the sparsity of the components; then
the speed ratios and whether the targets of the issues are met.  Timings are the
best of ``--repeats`` runs.

    python benchmarks/bench_online_vs_sklearn.py --case both [--repeats 3]
"""

import argparse

import numpy as np
from sklearn.decomposition import MiniBatchDictionaryLearning

from _common import heldout_residual, recovery, timed
from nimf.datasets import make_sparse_dictionary_data
from nimf.decomposition import OnlineDictionaryLearning

CASES = {
    "small": dict(n_samples=4000, n_features=20000, n_components=20, n_test=None,
                  dtype="float64"),
    "wide": dict(n_samples=2000, n_features=235375, n_components=40, n_test=200,
                 dtype="float32"),
}


def run_case(name, spec, repeats, seed, snr):
    k = spec["n_components"]
    data = make_sparse_dictionary_data(spec["n_samples"], spec["n_features"], k, snr=snr,
                                       n_test=spec["n_test"], random_state=seed,
                                       dtype=np.dtype(spec["dtype"]))
    X, X_test = data.X, data.X_test
    print(f"== {name}: {X.shape[0]} x {X.shape[1]} ({X.dtype}), {k} planted sparse "
          f"components, SNR {snr:g}, {X_test.shape[0]} held-out samples")
    best = heldout_residual(data.components, X_test)
    print(f"best possible held-out residual (planted components): {best:.4f}\n")

    # compile nimf's kernels once, outside the timings (cached on disk after)
    OnlineDictionaryLearning(2, reduction=2, n_epochs=1).fit(X[:20, :50])

    runs = {
        "sklearn MiniBatchDictionaryLearning": lambda: MiniBatchDictionaryLearning(
            k, batch_size=50, max_iter=1, random_state=seed),
        "nimf reduction 12": lambda: OnlineDictionaryLearning(
            k, dict_l1_ratio=0.5, reduction=12, random_state=seed),
        "nimf reduction 1": lambda: OnlineDictionaryLearning(
            k, dict_l1_ratio=0.5, reduction=1, random_state=seed),
    }
    results = {}
    header = f"{'method':<38}{'time (s)':>10}{'residual':>10}{'gap':>8}{'recovery':>10}{'zeros':>8}"
    print(header)
    print("-" * len(header))
    for label, make in runs.items():
        elapsed, est = timed(make, X, repeats)
        res = heldout_residual(est.components_, X_test)
        rec = recovery(est.components_, data.components)
        zeros = float(np.mean(est.components_ == 0))
        results[label] = dict(time=elapsed, residual=res, recovery=rec)
        print(f"{label:<38}{elapsed:>10.2f}{res:>10.4f}{res - best:>8.4f}{rec:>10.3f}{zeros:>8.0%}")

    sk = results["sklearn MiniBatchDictionaryLearning"]
    r12 = results["nimf reduction 12"]
    r1 = results["nimf reduction 1"]
    speedup_sk = sk["time"] / r12["time"]
    speedup_red = r1["time"] / r12["time"]
    print()
    print(f"nimf reduction 12 vs scikit-learn: {speedup_sk:.1f}x faster")
    print(f"nimf reduction 12 vs reduction 1:  {speedup_red:.1f}x faster")
    if name == "small":
        checks = [
            ("reduction 12 at least 10x faster than scikit-learn", speedup_sk >= 10),
            ("held-out residual within 0.06 of the best possible", r12["residual"] - best <= 0.06),
            ("planted components recovered (>= 0.8)", r12["recovery"] >= 0.8),
            ("reduction 12 at least 7x faster than reduction 1", speedup_red >= 7),
        ]
    else:
        checks = [
            ("held-out residual within +0.01 of scikit-learn's",
             r12["residual"] <= sk["residual"] + 0.01),
            ("planted components recovered (>= 0.9)", r12["recovery"] >= 0.9),
            ("in at most 1/10 of scikit-learn's time", speedup_sk >= 10),
        ]
    for label, ok in checks:
        print(f"  [{'met' if ok else 'NOT met'}] {label}")
    print()
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="small", choices=["small", "wide", "both"])
    parser.add_argument("--snr", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    cases = ["small", "wide"] if args.case == "both" else [args.case]
    return {name: run_case(name, CASES[name], args.repeats, args.seed, args.snr)
            for name in cases}


if __name__ == "__main__":
    main()
