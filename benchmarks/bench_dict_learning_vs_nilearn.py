"""nimf's DictLearning against nilearn's, on the same generated studies.

Volume: a resting-state study in MNI space (default 5 subjects x 150 scans at
4 mm, 16 planted networks; one subject held out).  Surface: the same model on
fsaverage5 (default 3 subjects x 500 scans, 10 networks; one held out).  Both
estimators run in this process with their default parameters (the study's
mask, confounds and repetition time are given to both; each fit is timed
``--repeats`` times and the best time kept), and the script prints
for each: the time of the whole fit (masking included), nimf's share of time
spent masking and cleaning, the recovery of the planted maps (Hungarian-matched
mean |correlation|), the number of non-empty maps, and the explained variance
on the held-out subject (nilearn's score, on data cleaned the same way for both).

    python benchmarks/bench_dict_learning_vs_nilearn.py [--skip-surface]
"""

import argparse
import time
import warnings

import numpy as np
from _common import matched_correlation


def heldout_ev(components, data):
    """nilearn's global explained variance of ``data`` by ``components``."""
    from nimf.neuro._data import _explained_variance_total

    return _explained_variance_total(data, components)


def run(kind, study, n_components, maps, masker_for_scoring, fit_kwargs, repeats=1):
    from nilearn.decomposition import DictLearning as NilearnDictLearning

    from nimf.neuro import DictLearning

    train, test = study.func[:-1], study.func[-1:]
    conf_train, conf_test = study.confounds[:-1], study.confounds[-1:]
    # the same cleaned held-out data for both estimators
    test_data = masker_for_scoring.transform(test[0], confounds=conf_test[0])
    results = {}
    for name, make in [
        ("nilearn DictLearning", lambda: NilearnDictLearning(
            n_components=n_components, mask=study.mask_img, t_r=study.t_r, random_state=0,
            **fit_kwargs)),
        ("nimf DictLearning", lambda: DictLearning(
            n_components=n_components, mask=study.mask_img, t_r=study.t_r, random_state=0,
            **fit_kwargs)),
    ]:
        elapsed = np.inf
        try:
            for _ in range(repeats):
                est = make()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t0 = time.perf_counter()
                    est.fit(train, confounds=conf_train)
                    elapsed = min(elapsed, time.perf_counter() - t0)
        except ValueError as exc:
            # nilearn raises when every map comes out empty
            print(f"{name} failed: {exc}")
            results[name] = dict(time=np.nan, recovery=np.nan, nonempty=0, ev=np.nan,
                                 masking=np.nan)
            continue
        comps = np.asarray(est.components_, dtype=np.float64)
        results[name] = dict(
            time=elapsed, recovery=matched_correlation(comps, maps),
            nonempty=int(np.sum(np.abs(comps).max(axis=1) > 0)),
            ev=heldout_ev(comps, test_data),
            masking=getattr(est, "masking_time_", float("nan")))
    print(f"\n{kind}: {study.description}")
    print(f"{'method':<24}{'fit (s)':>9}{'masking (s)':>13}{'recovery':>10}{'non-empty':>11}"
          f"{'held-out EV':>13}")
    for name, r in results.items():
        masking = "" if np.isnan(r["masking"]) else f"{r['masking']:.2f}"
        print(f"{name:<24}{r['time']:>9.2f}{masking:>13}{r['recovery']:>10.3f}"
              f"{r['nonempty']:>8}/{n_components:<3}{r['ev']:>12.3f}")
    nl, nm = results["nilearn DictLearning"], results["nimf DictLearning"]
    speedup = nl["time"] / nm["time"]
    print(f"nimf is {speedup:.1f}x faster; masking and cleaning are "
          f"{nm['masking'] / nm['time']:.0%} of nimf's fit")
    for label, ok in [("at least 5x faster than nilearn", speedup >= 5),
                      ("recovery at least 0.9", nm["recovery"] >= 0.9),
                      ("held-out explained variance at least nilearn's", nm["ev"] >= nl["ev"])]:
        print(f"  [{'met' if ok else 'NOT met'}] {label}")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-subjects", type=int, default=5)
    parser.add_argument("--n-scans", type=int, default=150)
    parser.add_argument("--n-networks", type=int, default=16)
    parser.add_argument("--surface-subjects", type=int, default=3)
    parser.add_argument("--surface-scans", type=int, default=500)
    parser.add_argument("--surface-networks", type=int, default=10)
    parser.add_argument("--skip-surface", action="store_true")
    parser.add_argument("--repeats", type=int, default=3,
                        help="time each fit this many times and keep the best")
    args = parser.parse_args(argv)

    from nilearn.maskers import NiftiMasker, SurfaceMasker

    from nimf.datasets import make_rest_study, make_surface_rest_study
    from nimf.neuro import DictLearning

    study = make_rest_study(n_subjects=args.n_subjects, n_scans=args.n_scans,
                            n_networks=args.n_networks, random_state=0)
    # compile nimf's kernels once, outside the timings (cached on disk after)
    DictLearning(n_components=2, mask=study.mask_img, n_epochs=1).fit(study.func[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scorer = NiftiMasker(mask_img=study.mask_img, smoothing_fwhm=4, detrend=True,
                             standardize="zscore_sample", t_r=study.t_r).fit()
    run("volume", study, args.n_networks, study.maps, scorer, {}, args.repeats)

    if not args.skip_surface:
        surf = make_surface_rest_study(n_subjects=args.surface_subjects,
                                       n_scans=args.surface_scans,
                                       n_networks=args.surface_networks, random_state=0)
        mask = np.concatenate([np.asarray(surf.mask_img.data.parts[h]).ravel().astype(bool)
                               for h in ("left", "right")])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scorer = SurfaceMasker(mask_img=surf.mask_img, detrend=True,
                                   standardize="zscore_sample", t_r=surf.t_r).fit()
        run("surface", surf, args.surface_networks, surf.maps[:, mask], scorer,
            dict(smoothing_fwhm=None), args.repeats)


if __name__ == "__main__":
    main()
