"""Image NMF (``nimf.neuro.NMF``): new defaults against the old ones and DictLearning.

On the generated resting-state study of ``bench_dict_learning_vs_nilearn.py``
(default 5 subjects x 150 scans at 4 mm, 16 planted networks; the last subject
held out), the script fits, with the study's mask, confounds and repetition
time:

- ``nimf.neuro.NMF`` with its defaults (start from the positive parts of
  spatial ICA maps, maps kept at unit root-mean-square under the l1 penalty);
- ``nimf.neuro.NMF`` with the old defaults passed explicitly
  (``init='nndsvda', alpha_H=0.01, tol=1e-4, normalize_maps=False``);
- ``nimf.neuro.DictLearning`` with its defaults, for reference.

For each it prints the best fit time over ``--repeats`` fits (masking and
cleaning included), the number of solver iterations, the recovery of the
planted maps (Hungarian-matched mean |correlation|), the fraction of zero
voxels in the maps and the explained variance of the held-out subject
(``score``), then ratios against the old defaults and against DictLearning.

scikit-learn's NMF does not apply: it needs non-negative data, and the masked,
cleaned scans (detrended, z-scored per voxel, as every nimf image estimator
uses by default) are centred, with about half of their entries negative.
Only a semi-NMF (free time courses) factorizes them; scikit-learn has none.

    python benchmarks/bench_image_nmf.py [--repeats 3]
"""

import argparse
import time
import warnings

import numpy as np
from _common import matched_correlation

OLD_DEFAULTS = dict(init="nndsvda", alpha_H=0.01, tol=1e-4, normalize_maps=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-subjects", type=int, default=5)
    parser.add_argument("--n-scans", type=int, default=150)
    parser.add_argument("--n-networks", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3,
                        help="time each fit this many times and keep the best")
    args = parser.parse_args(argv)

    from nimf.datasets import make_rest_study
    from nimf.neuro import NMF, DictLearning

    study = make_rest_study(n_subjects=args.n_subjects, n_scans=args.n_scans,
                            n_networks=args.n_networks, random_state=0)
    train, test = study.func[:-1], study.func[-1:]
    conf_train, conf_test = study.confounds[:-1], study.confounds[-1:]
    k = args.n_networks
    common = dict(n_components=k, mask=study.mask_img, t_r=study.t_r, random_state=0)
    # compile nimf's kernels once, outside the timings (cached on disk after)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        NMF(n_components=2, mask=study.mask_img, max_iter=10).fit(study.func[0])
        NMF(n_components=2, mask=study.mask_img, max_iter=10, **OLD_DEFAULTS).fit(study.func[0])
        DictLearning(n_components=2, mask=study.mask_img, n_epochs=1).fit(study.func[0])

    methods = [
        ("NMF (new defaults)", lambda: NMF(**common)),
        ("NMF (old defaults)", lambda: NMF(**common, **OLD_DEFAULTS)),
        ("DictLearning", lambda: DictLearning(**common)),
    ]
    results = {}
    for name, make in methods:
        best = np.inf
        for _ in range(args.repeats):
            est = make()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                est.fit(train, confounds=conf_train)
                best = min(best, time.perf_counter() - t0)
        comps = np.asarray(est.components_, dtype=np.float64)
        results[name] = dict(
            time=best, n_iter=est.n_iter_, recovery=matched_correlation(comps, study.maps),
            zeros=float(np.mean(comps == 0)),
            ev=float(est.score(test, confounds=conf_test)))

    print(f"\n{study.description} (last subject held out)")
    print("scikit-learn NMF: not applicable (needs non-negative data; the cleaned scans "
          "are centred)")
    print(f"{'method':<22}{'fit (s)':>9}{'iters':>7}{'recovery':>10}{'zeros':>8}"
          f"{'held-out EV':>13}")
    for name, r in results.items():
        print(f"{name:<22}{r['time']:>9.2f}{r['n_iter']:>7}{r['recovery']:>10.3f}"
              f"{r['zeros']:>8.2f}{r['ev']:>13.3f}")
    new, old, dl = (results[name] for name, _ in methods)
    print(f"new / old NMF: fit time x{new['time'] / old['time']:.2f}, recovery "
          f"x{new['recovery'] / old['recovery']:.2f}, held-out EV x{new['ev'] / old['ev']:.2f}")
    print(f"new NMF / DictLearning: fit time x{new['time'] / dl['time']:.2f}, recovery "
          f"x{new['recovery'] / dl['recovery']:.2f}, held-out EV x{new['ev'] / dl['ev']:.2f}")
    for label, ok in [("recovery at least 0.85", new["recovery"] >= 0.85),
                      ("recovery at least 0.9", new["recovery"] >= 0.9),
                      ("fit not slower than the old defaults", new["time"] <= old["time"])]:
        print(f"  [{'met' if ok else 'NOT met'}] {label}")
    return results


if __name__ == "__main__":
    main()
