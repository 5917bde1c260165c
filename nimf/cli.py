"""The ``nimf`` command line.

``nimf demo`` (or ``nimf demo fmri``)
    nimf's main job on built-in data: generates a synthetic resting-state study
    (planted networks in MNI space), extracts the networks with
    :class:`nimf.neuro.DictLearning`, and writes the maps
    (``components.nii.gz``), a contour figure, one image per map, an HTML
    report and the component browser; prints the fit time and the total wall
    time.  ``nimf demo matrix`` runs the array learner on a matrix with planted
    sparse components instead, ``nimf demo ratings`` completes generated
    MovieLens-like ratings.
``nimf decompose IMGS... --n-components K [--mask M] --out DIR``
    the same on your own 4D images, or on surface data on fsaverage5 (GIFTI files
    paired by ``hemi-L`` / ``hemi-R`` in their names; maps written per hemisphere),
    or on a study masked by ``nimf mask``; also writes each subject's time
    courses (``<entities>_desc-timecourses_timeseries.tsv``, BIDS style) and
    ``summary.json`` (parameters, inputs with their sha256, versions, timings,
    explained variance).
``nimf mask IMGS... --out STUDY.zarr [--mask M] [--append] [--scheduler ADDRESS]``
    masks and cleans 4D (or surface) images once into a study on disk (a zarr
    store, :func:`nimf.neuro.mask_study`) that the learners stream; ``--append``
    adds images to an existing study with its stored options; ``--scheduler``
    masks the subjects on the workers of a running dask cluster.
``nimf recommend RATINGS --out DIR``
    matrix completion of a ratings file (MovieLens ``u.data``, ``ratings.dat``,
    ``ratings.csv`` or any CSV): held-out RMSE against the biases-only model, the
    model (``model.npz``) and every user's top items (``recommendations.csv``).

``nimf COMMAND --help`` shows every option with its default; ``nimf --version``
prints the version.

Nothing is written when the inputs are invalid, and a failed run leaves no
partial output: a result is written to a new folder next to ``--out`` and
swapped in when complete, so a previous result at ``--out`` stays whole until
then (and is kept if the run fails).  A folder at ``--out`` holding files that
are not a nimf result is refused unless ``--overwrite``.
"""

import argparse
import contextlib
import os
import sys
import time

import numpy as np


def _recovery(found, truth):
    """Mean matched |cosine| and, for each true component, the index of its match."""
    from nimf.assessment import match_components

    match = match_components(truth, found, metric="cosine")
    return float(match.score), match.permutation


def _matrix_demo(args):
    n_components = args.n_components or 20
    from nimf.datasets import make_sparse_dictionary_data
    from nimf.decomposition import OnlineDictionaryLearning

    print(f"Generating {args.n_samples} samples x {args.n_features} features with "
          f"{n_components} planted sparse components (SNR {args.snr:g})...")
    data = make_sparse_dictionary_data(args.n_samples, args.n_features, n_components,
                                       snr=args.snr, random_state=args.seed,
                                       dtype=np.float32)
    # compile the kernels on a tiny problem first so timings measure the work
    OnlineDictionaryLearning(2, reduction=2, n_epochs=1).fit(data.X[:20, :40])
    results = []
    for reduction in sorted({1.0, float(args.reduction)}):
        est = OnlineDictionaryLearning(n_components, dict_l1_ratio=0.5,
                                       reduction=reduction, random_state=args.seed,
                                       verbose=args.verbose)
        t0 = time.perf_counter()
        est.fit(data.X)
        elapsed = time.perf_counter() - t0
        rec, _ = _recovery(est.components_, data.components)
        score = est.score(data.X_test)
        results.append((reduction, elapsed, rec, score, est))
        print(f"  reduction {reduction:>4g}: {elapsed:6.2f} s, recovery of the planted "
              f"components {rec:.3f}, held-out explained energy {score:.3f}, "
              f"{np.mean(est.components_ == 0):.0%} zeros")
    if len(results) == 2:
        print(f"Subsampling made the fit {results[0][1] / results[1][1]:.1f}x faster.")
    if args.out is not None:
        os.makedirs(args.out, exist_ok=True)
        est = results[-1][4]
        _, order = _recovery(est.components_, data.components)
        np.save(os.path.join(args.out, "components.npy"), est.components_[order])
        np.save(os.path.join(args.out, "true_components.npy"), data.components)
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        k = n_components
        fig, axes = plt.subplots(k, 1, figsize=(8, 0.8 * k + 1), sharex=True, squeeze=False)
        for j, ax in enumerate(axes[:, 0]):
            t = data.components[j] / np.abs(data.components[j]).max()
            c = est.components_[order[j]]
            c = c / max(np.abs(c).max(), 1e-300)
            c = c * np.sign(np.dot(c, t) or 1.0)
            ax.plot(t, color="0.6", lw=1, label="planted")
            ax.plot(c, color="C0", lw=1, label="learned")
            ax.set_yticks([])
        axes[0, 0].legend(loc="upper right", fontsize="small")
        axes[-1, 0].set_xlabel("feature")
        fig.suptitle("nimf demo: planted vs learned components")
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, "components.png"), dpi=100)
        plt.close(fig)
        print(f"Wrote components.npy, true_components.npy and components.png to {args.out}")
    return 0


def _matched_correlation(found, truth):
    """Hungarian-matched mean |correlation| between maps."""
    from nimf.assessment import match_components

    return float(match_components(truth, found, metric="correlation").score)


# the file that marks a folder as a nimf result (which a new run may replace)
_RESULT_MARK = ".nimf-result.json"


class _StagedOutput:
    """Write a result into a new folder beside ``out``, swapped in when complete.

    The previous result at ``out`` stays whole until the new one is complete, and
    is untouched when the run fails.  A folder at ``out`` holding files that are
    not a nimf result (no ``.nimf-result.json``) is refused before any work,
    unless ``overwrite``.
    """

    def __init__(self, out, overwrite=False, command="nimf"):
        self.out = os.path.abspath(out)
        self.command = command
        if os.path.exists(self.out) and not os.path.isdir(self.out):
            raise ValueError(f"--out must be a directory, got the file {out!r}")
        parent = os.path.dirname(self.out) or "."
        if not os.path.isdir(parent):
            raise ValueError(f"--out: the parent folder {parent!r} does not exist")
        if os.path.isdir(self.out) and not overwrite:
            entries = sorted(os.listdir(self.out))
            if entries and _RESULT_MARK not in entries:
                shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
                raise ValueError(
                    f"--out {out!r} holds files that are not a nimf result ({shown}); give "
                    "a new or empty folder, or --overwrite to replace the folder")
        self.tmp = None

    def __enter__(self):
        import tempfile

        self.tmp = tempfile.mkdtemp(prefix=".nimf-new-", dir=os.path.dirname(self.out))
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        import json
        import shutil
        import tempfile

        try:
            if exc_type is None:
                with open(os.path.join(self.tmp, _RESULT_MARK), "w", encoding="utf-8") as f:
                    json.dump({"command": self.command,
                               "files": sorted(os.listdir(self.tmp))}, f)
                if not os.path.exists(self.out):
                    os.rename(self.tmp, self.out)
                else:
                    # two renames: the old result is whole until the new one is in
                    # place, and is put back if the second rename fails
                    old = tempfile.mkdtemp(prefix=".nimf-old-", dir=os.path.dirname(self.out))
                    os.rmdir(old)
                    os.rename(self.out, old)
                    try:
                        os.rename(self.tmp, self.out)
                    except BaseException:
                        os.rename(old, self.out)
                        raise
                    shutil.rmtree(old, ignore_errors=True)
        finally:
            if os.path.isdir(self.tmp):
                shutil.rmtree(self.tmp, ignore_errors=True)
        return False


def _rank(text):
    """``--n-components`` of ``recommend``: 'auto' or an int."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or an int, got {text!r}") from None


def _check_args(args, constraints):
    """Check command-line values before any work, naming their flags."""
    for key, constraint in constraints.items():
        value = getattr(args, key, None)
        setattr(args, key, constraint(value, "--" + key.replace("_", "-")))


def _completion_constraints():
    from nimf._validation import AnyOf, Int, Options, Real

    return {"n_components": AnyOf(Options("auto"), Int(0),
                                  description="'auto' or an int >= 0"),
            "n_epochs": Int(1, none=True), "n": Int(1),
            "test_size": Real(0.0, 1.0, closed="left")}


def _write_outputs(folder, estimator, summary, title, parameters=None, inputs=None):
    """Maps, contour figure, one image per map, the HTML report and the standalone
    component browser (browser.html: every map pre-rendered, a slider, no kernel),
    linked from the report."""
    import matplotlib

    matplotlib.use("Agg")
    from nimf.plotting import plot_components_contours, save_component_images, write_html_report
    from nimf.widgets import ComponentBrowser

    maps = estimator.components_img_
    if hasattr(maps, "to_filename"):
        maps.to_filename(os.path.join(folder, "components.nii.gz"))
    else:  # a SurfaceImage: one GIFTI file per hemisphere
        for hemi in ("L", "R"):
            maps.data.to_filename(os.path.join(folder, f"components_hemi-{hemi}.func.gii"))
    contour = os.path.join(folder, "contours.png")
    plot_components_contours(estimator.components_img_, title=title, output_file=contour)
    pngs = save_component_images(estimator.components_img_, folder)
    ComponentBrowser(estimator, dpi=100).save_html(os.path.join(folder, "browser.html"),
                                                  title=title)
    write_html_report(folder, title=title, summary=summary, parameters=parameters,
                      inputs=inputs, links={"component browser": "browser.html"},
                      explained_variance=estimator.explained_variance_, contour_png=contour,
                      component_pngs=pngs)


def _fmri_demo(args):
    from nimf.datasets import make_rest_study
    from nimf.neuro import DictLearning

    staging = _StagedOutput(args.out, args.overwrite, "demo")
    stages = {}
    t0 = time.perf_counter()
    print(f"Generating a resting-state study: {args.n_subjects} subjects x {args.n_scans} "
          f"scans at {args.resolution:g} mm, {args.n_networks} planted networks...")
    study = make_rest_study(n_subjects=args.n_subjects, n_scans=args.n_scans,
                            n_networks=args.n_networks, resolution=args.resolution,
                            random_state=args.seed)
    n_components = args.n_components or args.n_networks
    train, test = study.func[:-1], study.func[-1:]
    conf_train, conf_test = study.confounds[:-1], study.confounds[-1:]
    dl = DictLearning(n_components=n_components, mask=study.mask_img, t_r=study.t_r,
                      random_state=args.seed, n_jobs=args.n_jobs, verbose=args.verbose)
    stages["generating"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    # the first call compiles nimf's kernels (cached on disk afterwards)
    DictLearning(n_components=2, mask=study.mask_img, n_epochs=1).fit(study.func[0])
    stages["compiling"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    dl.fit(train, confounds=conf_train)
    elapsed = stages["fitting"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    recovery = _matched_correlation(dl.components_, study.maps)
    explained = dl.score(train, confounds=conf_train)
    heldout = dl.score(test, confounds=conf_test)
    stages["scoring"] = time.perf_counter() - t0
    print(f"  fitted {n_components} maps on {len(train)} subjects in {elapsed:.2f} s "
          f"({dl.masking_time_:.2f} s masking and cleaning)")
    print(f"  recovery of the planted networks: {recovery:.3f} (matched |correlation|)")
    print(f"  explained variance (all maps): {_percent(explained)} of the training "
          f"subjects, {_percent(heldout)} of the held-out subject")
    summary = {
        "estimator": "nimf.neuro.DictLearning",
        "data": study.description,
        "subjects used for fitting": len(train),
        "components": n_components,
        "voxels in mask": dl.masker_.n_elements_,
        "fit time (s)": round(elapsed, 2),
        "masking and cleaning (s)": round(dl.masking_time_, 2),
        "recovery of planted networks": round(recovery, 3),
        "explained variance (all maps)": _percent(explained),
        "explained variance (all maps), held-out subject": _percent(heldout),
    }
    parameters = {key: getattr(args, key) for key in (
        "n_subjects", "n_scans", "n_networks", "resolution", "n_jobs", "seed")}
    parameters["n_components"] = n_components
    t0 = time.perf_counter()
    with staging as folder:
        _write_outputs(folder, dl, summary, "nimf demo: resting-state networks",
                       parameters=parameters)
    stages["figures, report and browser"] = time.perf_counter() - t0
    total = time.perf_counter() - args.start_time
    print(f"Wrote components.nii.gz, contours.png, {n_components} component images, "
          f"report.html and browser.html to {staging.out}")
    print(f"Total wall time {total:.1f} s; fitting took {elapsed:.1f} s of it ("
          + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in stages.items()
                      if name != "fitting") + ")")
    return 0


def _load_ratings(path, fmt, user_col, item_col, rating_col, sep):
    """A ratings DataFrame (columns user, item, rating) from a file of any known format."""
    from nimf.ratings import (load_movielens_100k, load_movielens_csv, load_movielens_dat,
                              load_ratings_csv)
    from nimf.ratings.io import _first_line

    if not os.path.isfile(path):
        raise ValueError(f"no ratings file at {path!r}")
    if fmt == "auto":
        name = os.path.basename(path).lower()
        if name == "u.data" or name.endswith(".data"):
            fmt = "movielens-100k"
        elif name.endswith(".dat"):
            fmt = "movielens-dat"
        else:
            header = _first_line(path).strip()
            fmt = "movielens-csv" if header.startswith("userId,movieId,rating") else "csv"
    if fmt == "movielens-100k":
        return load_movielens_100k(path)
    if fmt == "movielens-dat":
        return load_movielens_dat(path)
    if fmt == "movielens-csv":
        return load_movielens_csv(path)
    return load_ratings_csv(path, user_col, item_col, rating_col, sep=sep)


def _complete(ratings, args, out, description):
    """Held-out RMSE, then the model on every rating and each user's top items."""
    from nimf import save_model
    from nimf.ratings import MatrixCompletion, train_test_split_ratings

    _check_args(args, _completion_constraints())
    staging = _StagedOutput(out, args.overwrite, "recommend")
    params = dict(n_components=args.n_components, solver=args.solver,
                  n_epochs=args.n_epochs, duplicates=args.duplicates,
                  random_state=args.seed, verbose=bool(args.verbose))
    model = MatrixCompletion(**params)
    model._check_params()  # bad parameters fail before any work
    n_users, n_items = ratings["user"].nunique(), ratings["item"].nunique()
    print(f"{description}: {len(ratings)} ratings, {n_users} users, {n_items} items")
    summary = {"data": description, "ratings": len(ratings), "users": n_users,
               "items": n_items, "n_components": args.n_components, "solver": args.solver}
    # the first fit in a process loads (or compiles) the kernels: keep it out of the timings
    MatrixCompletion(2, solver=args.solver, n_epochs=1).fit(
        ([0, 0, 1, 1], [0, 1, 0, 1], [1.0, 2.0, 3.0, 4.0]))
    if args.test_size > 0:
        train, test = train_test_split_ratings(ratings, args.test_size, random_state=args.seed)
        if len(test) == 0:
            raise ValueError(
                f"--test-size {args.test_size:g} held out no rating: every user keeps at least "
                f"one rating for training, and these {n_users} users have "
                f"{len(ratings) / max(n_users, 1):.1f} ratings each on average; give more "
                "ratings per user, a larger --test-size, or --test-size 0 to skip the "
                "held-out RMSE")
        t0 = time.perf_counter()
        model.fit(train)
        elapsed = time.perf_counter() - t0
        rmse = model.rmse(test)
        base = MatrixCompletion(0, duplicates=args.duplicates).fit(train).rmse(test)
        print(f"  held-out RMSE ({len(test)} ratings): {rmse:.4f} (biases only {base:.4f}); "
              f"fit in {elapsed:.2f} s")
        summary.update({"held-out ratings": len(test), "held-out RMSE": round(rmse, 4),
                        "held-out RMSE, biases only": round(base, 4),
                        "fit time on the training ratings (s)": round(elapsed, 3)})
    t0 = time.perf_counter()
    model = MatrixCompletion(**params).fit(ratings)
    summary["fit time on all ratings (s)"] = round(time.perf_counter() - t0, 3)
    summary["n_components fitted"] = int(model.n_components_)
    if model.selection_ is not None:
        print(f"  the default chose {model.n_components_} components "
              f"(0: the biases alone), alpha {model.alpha_:.3g}")
    table = model.recommend(model.user_ids_, n=args.n)
    with staging as folder:
        save_model(model, os.path.join(folder, "model.npz"))
        table.to_csv(os.path.join(folder, "recommendations.csv"), index=False)
        with open(os.path.join(folder, "summary.json"), "w", encoding="utf-8") as f:
            import json
            json.dump(summary, f, indent=2)
    print(f"Wrote model.npz, recommendations.csv (top {args.n} unrated items of each of "
          f"{model.user_ids_.size} users) and summary.json to {staging.out}")
    return 0


def _ratings_demo(args):
    from nimf.datasets import make_ratings

    if args.n_components is None:
        args.n_components = "auto"
    data = make_ratings(943, 1682, 100_000, n_factors=20, noise=0.8, random_state=args.seed)
    return _complete(data.ratings, args, args.out,
                     "generated MovieLens-100k-like ratings (planted rank 20)")


def _recommend(args):
    ratings = _load_ratings(args.ratings, args.format, args.user_col, args.item_col,
                            args.rating_col, args.sep)
    return _complete(ratings, args, args.out, os.path.basename(args.ratings))


_GIFTI = (".gii", ".gii.gz")


def _surface_images(paths, mesh_name):
    """One SurfaceImage per subject from GIFTI files paired by 'hemi-L' / 'hemi-R',
    and each subject's two files (left, right)."""
    from nilearn.datasets import load_fsaverage
    from nilearn.surface import SurfaceImage, load_surf_data

    if mesh_name != "fsaverage5":
        raise ValueError(f"--mesh: nimf reads surface data on 'fsaverage5' (the mesh nilearn "
                         f"ships), got {mesh_name!r}")
    lefts, rights = [], {}
    for path in paths:
        name = os.path.basename(path)
        if "hemi-L" in name:
            lefts.append(path)
        elif "hemi-R" in name:
            rights[os.path.join(os.path.dirname(path), name.replace("hemi-R", "hemi-L"))] = path
        else:
            raise ValueError(f"surface images must name their hemisphere with 'hemi-L' or "
                             f"'hemi-R' (BIDS), got {path!r}")
    unpaired = [p for p in lefts if p not in rights] + [
        r for l_, r in rights.items() if l_ not in lefts]
    if unpaired:
        raise ValueError(f"each 'hemi-L' file needs its 'hemi-R' file (same name otherwise), "
                         f"got {len(unpaired)} unpaired: {unpaired[:3]}")
    mesh = load_fsaverage(mesh_name)["pial"]
    imgs = []
    pairs = [[left, rights[left]] for left in lefts]
    for left in lefts:
        data = {}
        for hemi, path in (("left", left), ("right", rights[left])):
            n_vertices = mesh.parts[hemi].n_vertices
            try:
                values = np.asarray(load_surf_data(path))
            except (ValueError, OSError) as exc:
                raise ValueError(f"could not read {path!r} as surface data: {exc}") from None
            # a time series may come as (scans, vertices): vertices go first
            if values.ndim == 2 and values.shape[0] != n_vertices and \
                    values.shape[1] == n_vertices:
                values = values.T
            if values.shape[0] != n_vertices:
                raise ValueError(f"{path!r} holds data of shape {values.shape}; expected "
                                 f"{n_vertices} vertices ({mesh_name} {hemi} hemisphere)")
            data[hemi] = values
        imgs.append(SurfaceImage(mesh=mesh, data=data))
    return imgs, pairs


def _command_images(args):
    """The images of a command: volume files, or surface files paired by hemisphere.

    Returns the images, for each file given whether it is a surface file, and
    for each image (subject) the files it was read from.
    """
    from nimf.neuro._base import _expand_imgs

    imgs = []
    for pattern in args.imgs:
        imgs.extend(_expand_imgs(pattern))
    surface = [str(p).endswith(_GIFTI) for p in imgs]
    if any(surface) and not all(surface):
        raise ValueError("give either volume images or surface (.gii) images, not both")
    if all(surface):
        if args.mask is not None:
            raise ValueError("--mask is for volume images; surface data use every vertex")
        imgs, files = _surface_images([str(p) for p in imgs], args.mesh)
    else:
        files = [[p] if isinstance(p, (str, os.PathLike)) else [] for p in imgs]
    return imgs, surface, files


# ---------------------------------------------------------------------------
# what a decomposition writes beside its maps: time courses and summary.json
# ---------------------------------------------------------------------------
# the one explained-variance figure of a decomposition, printed, reported and
# recorded the same way everywhere (DictLearning.score, as nilearn's score)
EXPLAINED_VARIANCE_DEFINITION = (
    "1 - ||X - fit||^2 / ||X||^2 over the masked and cleaned data X of the images the maps "
    "were learned from, each scan regressed on all the maps together with an intercept "
    "(DictLearning.score, as nilearn)")
PER_MAP_VARIANCE_DEFINITION = (
    "for each map alone: 1 - var(X - projection of X on the map) / var(X) "
    "(DictLearning.explained_variance_); maps overlap, so these do not add up to the total")

_IMAGE_EXTENSIONS = (".nii.gz", ".nii", ".func.gii.gz", ".func.gii", ".gii.gz", ".gii",
                     ".zarr")


def _percent(fraction):
    """An explained variance as it is printed everywhere: '35.0%'."""
    return f"{100 * float(fraction):.1f}%"


def _sha256(path):
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_record(path):
    """Path, size and sha256 of an input file."""
    path = os.path.abspath(os.fspath(path))
    return {"path": path, "bytes": os.path.getsize(path), "sha256": _sha256(path)}


def _versions():
    """Versions of the software a result was computed with."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from nimf import __version__

    versions = {"nimf": __version__}
    for dist in ("nilearn", "numpy", "scikit-learn", "scipy", "numba", "nibabel"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:  # pragma: no cover - all are dependencies
            versions[dist] = None
    versions["python"] = platform.python_version()
    versions["platform"] = platform.platform()
    return versions


def _time_course_stem(name):
    """The BIDS entities of an input file's name: 'sub-01_task-rest_bold.nii.gz' ->
    'sub-01_task-rest'.

    The suffix (``_bold``), the extension and the ``desc`` and ``hemi``
    entities are dropped (a subject's two hemispheres give one table).  A name
    without BIDS entities is kept whole, without its extension.
    """
    name = os.path.basename(os.fspath(name).rstrip("/\\"))
    lower = name.lower()
    for ext in _IMAGE_EXTENSIONS:
        if lower.endswith(ext):
            name = name[:-len(ext)]
            break
    else:
        name = os.path.splitext(name)[0]
    parts = name.split("_")
    entities = [p for p in parts if "-" in p and not p.startswith(("desc-", "hemi-"))]
    if entities:
        return "_".join(entities)
    return name or "image"


def _time_course_names(sources):
    """One file name per subject, in the BIDS style:
    ``<entities>_desc-timecourses_timeseries.tsv``; names that would clash get
    the subject's position (``_idx-3``)."""
    stems = [_time_course_stem(s) for s in sources]
    clashes = {s for s in stems if stems.count(s) > 1}
    return [f"{stem}{f'_idx-{i + 1}' if stem in clashes else ''}_desc-timecourses_timeseries.tsv"
            for i, (stem, _) in enumerate(zip(stems, sources))]


def _write_time_courses(folder, names, time_courses):
    """One TSV per subject: a header ``component_000 ...``, one row per scan."""
    written = []
    for name, values in zip(names, time_courses):
        values = np.asarray(values)
        header = "\t".join(f"component_{k:03d}" for k in range(values.shape[1]))
        # enough digits for the values to read back exactly in their float type
        fmt = "%.9g" if values.dtype == np.float32 else "%.17g"
        np.savetxt(os.path.join(folder, name), values, delimiter="\t", header=header,
                   comments="", fmt=fmt)
        written.append({"file": name, "scans": int(values.shape[0]),
                        "components": int(values.shape[1])})
    return written


def _json_value(value):
    """A JSON-able version of a parameter value."""
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return repr(value)


def _decompose_parameters(args):
    """The options of ``nimf decompose`` as given or defaulted."""
    keys = ("n_components", "alpha", "n_epochs", "reduction", "mask", "confounds", "t_r",
            "smoothing_fwhm", "mesh", "n_jobs", "seed", "checkpoint", "resume", "max_time")
    return {key: _json_value(getattr(args, key)) for key in keys}


def _finish_decomposition(args, staging, dl, *, fit_data, confounds, sources, inputs, summary,
                          timings, what, detail=""):
    """Time courses, explained variance, maps, figures, report, browser and summary.json."""
    import json

    t0 = time.perf_counter()
    time_courses = dl.transform(fit_data, confounds=confounds)
    timings["time courses (transform)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    total = float(dl.score(fit_data, confounds=confounds))
    timings["explained variance (score)"] = time.perf_counter() - t0
    fit_time = timings["fit (masking, cleaning and learning)"]
    print(f"Fitted {args.n_components} maps on {what} in {fit_time:.2f} s{detail}; together "
          f"they explain {_percent(total)} of the variance")
    names = _time_course_names(sources)
    summary = dict(summary, **{"explained variance (all maps)": _percent(total)})
    parameters = _decompose_parameters(args)
    with staging as folder:
        tables = _write_time_courses(folder, names, time_courses)
        t0 = time.perf_counter()
        _write_outputs(folder, dl, summary, "nimf decompose", parameters=parameters,
                       inputs=inputs["files"])
        timings["figures, report and browser"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - args.start_time
        record = {
            "command": "nimf decompose",
            "argv": list(getattr(args, "argv", [])),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "parameters": parameters,
            "estimator": {"class": "nimf.neuro.DictLearning",
                          "params": _json_value(dl.get_params()),
                          "n_iter": _json_value(getattr(dl, "n_iter_", None)),
                          "stop_reason": _json_value(getattr(dl, "stop_reason_", None))},
            "inputs": inputs,
            "data": {k: _json_value(v) for k, v in summary.items()
                     if k not in ("estimator", "explained variance (all maps)")},
            "explained_variance": {
                "total": total, "definition": EXPLAINED_VARIANCE_DEFINITION,
                "per_component": [float(v) for v in dl.explained_variance_],
                "per_component_definition": PER_MAP_VARIANCE_DEFINITION},
            "time_courses": [dict(t, input=s) for t, s in zip(tables, sources)],
            "timings_s": {k: round(float(v), 3) for k, v in timings.items()},
            "versions": _versions(),
        }
        with open(os.path.join(folder, "summary.json"), "w", encoding="utf-8") as f:
            json.dump(record, f, indent=2)
            f.write("\n")
    maps = ("components_hemi-L.func.gii, components_hemi-R.func.gii"
            if dl._kind == "surface" else "components.nii.gz")
    print(f"Wrote {maps}, {len(names)} time-course tables (*_desc-timecourses_timeseries.tsv), "
          f"summary.json, contours.png, component images, report.html and browser.html to "
          f"{staging.out} (total {timings['total']:.1f} s)")
    return 0


def _decompose_study(args, path):
    """``nimf decompose study.zarr``: the maps of a study masked on disk."""
    from nimf.neuro import DictLearning, MaskedStudy

    if args.confounds:
        raise ValueError("--confounds is for images: a masked study's confounds were "
                         "regressed out when it was masked (nimf mask --confounds)")
    if args.mask is not None:
        raise ValueError("--mask is for images: a masked study is used with its own mask")
    staging = _StagedOutput(args.out, args.overwrite, "decompose")
    study = MaskedStudy.open(path)
    # a study records the sha256 of each subject's stored rows
    inputs = {"study": os.path.abspath(study.path),
              "files": [{"path": sub["source"] or sub["name"], "sha256": sub["sha256"],
                         "what": "stored rows of the subject"} for sub in study.subjects]}
    dl = DictLearning(n_components=args.n_components, t_r=args.t_r,
                      smoothing_fwhm=args.smoothing_fwhm, alpha=args.alpha,
                      n_epochs=args.n_epochs, reduction=args.reduction,
                      random_state=args.seed, verbose=args.verbose,
                      checkpoint=args.checkpoint, resume=args.resume, max_time=args.max_time)
    print(f"Learning {args.n_components} maps from {study!r}")
    timings = {}
    t0 = time.perf_counter()
    dl.fit(study)
    timings["fit (masking, cleaning and learning)"] = time.perf_counter() - t0
    read = dl.history_["bytes_read"][-1] if dl.history_["bytes_read"] else 0
    print(f"  {dl.n_iter_} epochs, stopped by {dl.stop_reason_}; the learner read "
          f"{read / 1e9:.2f} GB of {study.nbytes / 1e9:.2f} GB")
    summary = {
        "estimator": "nimf.neuro.DictLearning",
        "masked study": study.path,
        "subjects": len(study.subjects),
        "scans": study.n_scans,
        ("vertices" if study.kind == "surface" else "voxels in mask"): study.n_voxels,
        "components": args.n_components,
        "fit time (s)": round(timings["fit (masking, cleaning and learning)"], 2),
        "epochs": dl.n_iter_,
    }
    return _finish_decomposition(
        args, staging, dl, fit_data=study, confounds=None,
        sources=[sub["name"] for sub in study.subjects], inputs=inputs, summary=summary,
        timings=timings, what=f"{study.n_scans} scans of {len(study.subjects)} subjects")


def _decompose_constraints():
    from nimf._validation import Int, Real

    return {"n_components": Int(1), "alpha": Real(0.0), "n_epochs": Int(1),
            "reduction": Real(1.0), "t_r": Real(0.0, closed="neither", none=True),
            "smoothing_fwhm": Real(0.0, none=True),
            "max_time": Real(0.0, closed="neither", none=True)}


def _decompose(args):
    from nimf.neuro import DictLearning
    from nimf.neuro._base import _check_study
    from nimf.neuro.study import _is_study

    _check_args(args, _decompose_constraints())
    if len(args.imgs) == 1 and os.path.isdir(args.imgs[0]) and _is_study(args.imgs[0]):
        return _decompose_study(args, args.imgs[0])
    staging = _StagedOutput(args.out, args.overwrite, "decompose")
    timings = {}
    t0 = time.perf_counter()
    imgs, surface, files = _command_images(args)
    smoothing = args.smoothing_fwhm
    if all(surface):
        smoothing = None  # smoothing on the mesh is not done by nilearn's surface masker
    confounds = None
    if args.confounds:
        if len(args.confounds) != len(imgs):
            what = "subject (hemisphere pair)" if all(surface) else "image"
            raise ValueError(f"--confounds needs one file per {what}: {len(imgs)}, "
                             f"got {len(args.confounds)} files")
        confounds = []
        for path in args.confounds:
            try:
                confounds.append(np.loadtxt(path, ndmin=2, delimiter="," if
                                            path.endswith(".csv") else None))
            except (ValueError, OSError) as exc:
                raise ValueError(f"--confounds: could not read {path!r} as a table of "
                                 f"numbers (one row per scan): {exc}") from None
    # validate the images (existence, 4D, one grid) before any work
    _check_study(imgs, confounds, None)
    inputs = {"files": [dict(_file_record(path), what="image") for subject in files
                        for path in subject]}
    if args.mask is not None:
        from nimf.neuro._checks import load_header_img

        # a missing, unreadable or folder mask is named as the mask before it is hashed
        load_header_img(args.mask, "mask")
        inputs["files"].append(dict(_file_record(args.mask), what="mask"))
    for path in args.confounds or ():
        inputs["files"].append(dict(_file_record(path), what="confounds"))
    timings["reading and checking the inputs"] = time.perf_counter() - t0
    dl = DictLearning(n_components=args.n_components, mask=args.mask, t_r=args.t_r,
                      smoothing_fwhm=smoothing, alpha=args.alpha,
                      n_epochs=args.n_epochs, reduction=args.reduction,
                      random_state=args.seed, n_jobs=args.n_jobs, verbose=args.verbose,
                      checkpoint=args.checkpoint, resume=args.resume, max_time=args.max_time)
    t0 = time.perf_counter()
    dl.fit(imgs, confounds=confounds)
    timings["fit (masking, cleaning and learning)"] = time.perf_counter() - t0
    timings["masking and cleaning (part of the fit)"] = dl.masking_time_
    summary = {
        "estimator": "nimf.neuro.DictLearning",
        "images": len(imgs),
        "components": args.n_components,
        ("vertices" if all(surface) else "voxels in mask"): dl.masker_.n_elements_,
        "fit time (s)": round(timings["fit (masking, cleaning and learning)"], 2),
        "masking and cleaning (s)": round(dl.masking_time_, 2),
    }
    # each subject is named after its first file (the left hemisphere of a pair)
    sources = [subject[0] if subject else f"image-{i + 1}" for i, subject in enumerate(files)]
    return _finish_decomposition(
        args, staging, dl, fit_data=imgs, confounds=confounds, sources=sources, inputs=inputs,
        summary=summary, timings=timings,
        what=f"{len(imgs)} images", detail=f" ({dl.masking_time_:.2f} s masking and cleaning)")


_MASK_OPTIONS = {"mask": "--mask", "smoothing_fwhm": "--smoothing-fwhm",
                 "standardize": "--standardize", "detrend": "--detrend/--no-detrend",
                 "low_pass": "--low-pass", "high_pass": "--high-pass", "t_r": "--t-r",
                 "dtype": "--dtype"}


def _expand_paths(patterns, what):
    """Paths from file names and glob patterns, each pattern sorted."""
    import glob

    paths = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = sorted(glob.glob(os.path.expanduser(pattern)))
            if not matches:
                raise ValueError(f"{what}: no file matches the pattern {pattern!r}")
            paths.extend(matches)
        else:
            paths.append(pattern)
    return paths


def _dask_client(address):
    """A client of the dask scheduler at ``address`` (``nimf mask --scheduler``), or False."""
    if address is None:
        return False
    try:
        from distributed import Client
    except ImportError:
        raise ValueError("--scheduler needs dask.distributed: pip install 'nimf[dask]'") \
            from None
    try:
        return Client(address)  # waits distributed.comm.timeouts.connect (30 s)
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"--scheduler: no dask scheduler answers at {address!r} ({exc})") \
            from None


def _mask(args):
    import shutil

    from nimf.neuro import MaskedStudy, mask_study
    from nimf.neuro.study import _is_study

    out = os.path.abspath(args.out)
    if args.append:
        given = [flag for key, flag in _MASK_OPTIONS.items() if getattr(args, key) is not None]
        if given:
            raise ValueError(f"--append masks the images with the options stored in the study; "
                             f"drop {', '.join(given)}")
        if args.overwrite:
            raise ValueError("--append adds to the study at --out, --overwrite replaces it: "
                             "give one")
        study = MaskedStudy.open(out)  # refuses a path that is not a study, before any work
    elif not args.overwrite and _is_study(out):
        raise ValueError(f"--out {args.out!r} already holds a nimf masked study; give --append "
                         f"to add these subjects to it, or --overwrite to replace it")
    imgs, surface, _ = _command_images(args)
    confounds = None
    if args.confounds:
        confounds = _expand_paths(args.confounds, "--confounds")
        if len(confounds) != len(imgs):
            what = "subject (hemisphere pair)" if all(surface) else "image"
            raise ValueError(f"--confounds needs one file per {what}: {len(imgs)}, "
                             f"got {len(confounds)} files")
        for path in confounds:
            if not os.path.isfile(path):
                raise ValueError(f"--confounds: file not found: {path!r}")
    before = None
    if os.path.isfile(os.path.join(out, "zarr.json")):
        with open(os.path.join(out, "zarr.json"), "rb") as f:
            before = f.read()
    client = _dask_client(args.scheduler)
    t0 = time.perf_counter()
    try:
        if args.append:
            n_before = study.n_scans
            n_subjects = len(study.subjects)
            study.append(imgs, confounds=confounds, n_jobs=args.n_jobs, verbose=args.verbose,
                         client=client)
        else:
            n_before, n_subjects = 0, 0
            options = dict(
                mask=args.mask, t_r=args.t_r, low_pass=args.low_pass,
                high_pass=args.high_pass, dtype=args.dtype,
                # as nimf decompose: no smoothing of surface data
                smoothing_fwhm=(None if all(surface) else
                                4.0 if args.smoothing_fwhm is None else args.smoothing_fwhm),
                standardize=("zscore_sample" if args.standardize is None else
                             False if args.standardize == "none" else args.standardize),
                detrend=True if args.detrend is None else args.detrend)
            study = mask_study(imgs, out, confounds=confounds, random_state=args.seed,
                               n_jobs=args.n_jobs, overwrite=args.overwrite,
                               verbose=args.verbose, client=client, **options)
    except BaseException as exc:
        # a new study (or one that replaced another) is removed; a study that
        # was appended to keeps the subjects it committed (its notes say so)
        if args.append:
            for note in getattr(exc, "__notes__", ()):
                # the command's own way to add the remaining subjects
                print(note.replace("MaskedStudy.open(path).append(...)",
                                   "nimf mask --append"), file=sys.stderr)
        elif os.path.isdir(out):
            after = None
            with contextlib.suppress(OSError):
                with open(os.path.join(out, "zarr.json"), "rb") as f:
                    after = f.read()
            if after != before:
                shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        if client is not False:
            client.close()
    elapsed = time.perf_counter() - t0
    added = study.n_scans - n_before
    what = "vertices" if study.kind == "surface" else "voxels"
    print(f"{'Added' if args.append else 'Masked'} {len(study.subjects) - n_subjects} "
          f"subjects ({added} scans) in {elapsed:.2f} s: {added / max(elapsed, 1e-9):.1f} "
          f"scans/s")
    print(f"Study {out}: {len(study.subjects)} subjects, {study.n_scans} scans x "
          f"{study.n_voxels} {what}, {study.nbytes_stored / 1e6:.1f} MB on disk "
          f"({study.nbytes / 1e6:.1f} MB uncompressed {study.dtype.name}), chunks "
          f"{study.chunks[0]} scans x {study.chunks[1]} {what}")
    return 0


class _HelpFormatter(argparse.HelpFormatter):
    """Help that shows every option's default.

    As :class:`argparse.ArgumentDefaultsHelpFormatter`, but a default of
    ``None`` or of an on/off flag is not printed as "(default: None)" or
    "(default: False)": the help text of such an option says what happens
    when it is not given ("default: ...").
    """

    def _get_help_string(self, action):
        text = action.help or ""
        if "%(default)" in text or "default:" in text or "(default" in text:
            return text
        if (not action.option_strings or action.default is None
                or action.default is False or action.default is argparse.SUPPRESS):
            return text
        return text + " (default: %(default)s)"


def _add_common(parser, *, out_default=None, out_help="output directory", overwrite=True):
    """--out, --overwrite, --seed and --verbose, as every command has them."""
    if out_default is None:
        parser.add_argument("--out", required=True, metavar="DIR", help=out_help)
    else:
        parser.add_argument("--out", default=out_default, metavar="DIR", help=out_help)
    if overwrite:
        parser.add_argument("--overwrite", action="store_true",
                            help="replace --out even if it holds files that are not a nimf "
                                 "result")
    parser.add_argument("--seed", type=int, default=0, help="random seed (a seed fixes the "
                                                            "result)")
    parser.add_argument("--verbose", type=int, default=0, metavar="LEVEL",
                        help="amount of progress messages (0: none)")


def _subparser(sub, name, help, description=None, **kwargs):
    return sub.add_parser(name, help=help, description=description or help[0].upper() + help[1:]
                          + ".", formatter_class=_HelpFormatter, **kwargs)


# ``nimf demo`` with no demo name (or with the flags of the first versions) runs
# the fMRI demo: ``nimf demo --out X`` is ``nimf demo fmri --out X``
_DEMOS = ("fmri", "matrix", "ratings")
_LEGACY_DEMO_FLAGS = {"--matrix": "matrix", "--ratings": "ratings"}


def _route_demo(argv):
    """``argv`` with the demo named: plain ``nimf demo`` is the fMRI demo."""
    if not argv or argv[0] != "demo":
        return argv
    rest = argv[1:]
    if rest and (rest[0] in _DEMOS or rest[0] in ("-h", "--help")):
        return argv
    legacy = sorted({_LEGACY_DEMO_FLAGS[a] for a in rest if a in _LEGACY_DEMO_FLAGS})
    if len(legacy) > 1:
        raise ValueError("--matrix and --ratings are two different demos: give one "
                         "('nimf demo matrix' or 'nimf demo ratings')")
    name = legacy[0] if legacy else "fmri"
    return ["demo", name] + [a for a in rest if a not in _LEGACY_DEMO_FLAGS]


def build_parser():
    """The parser of the ``nimf`` command (also renders the command-line reference).

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    from nimf import __version__

    parser = argparse.ArgumentParser(
        prog="nimf", formatter_class=_HelpFormatter,
        description="Fast matrix factorization for neuroimaging and ratings: brain networks "
                    "from resting-state images, and recommendations from ratings.",
        epilog="Run 'nimf COMMAND --help' for the options of a command, e.g. 'nimf decompose "
               "--help'.")
    parser.add_argument("--version", action="version", version=f"nimf {__version__}",
                        help="print the version of nimf and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    # ------------------------------------------------------------------ demo
    demo = _subparser(
        sub, "demo", "run nimf on built-in data (three demos)",
        description="Run nimf on built-in data. 'nimf demo' alone (or 'nimf demo fmri') "
                    "extracts networks from a generated resting-state study; 'nimf demo "
                    "matrix' runs the array learner on a matrix with planted components; "
                    "'nimf demo ratings' completes generated ratings. Run 'nimf demo DEMO "
                    "--help' for the options of one demo.")
    demos = demo.add_subparsers(dest="demo", metavar="DEMO", title="demos")

    fmri = _subparser(
        demos, "fmri", "extract networks from a generated resting-state study (the default)",
        description="Generate a resting-state study (planted networks in MNI space), extract "
                    "the networks with nimf.neuro.DictLearning, and write the maps "
                    "(components.nii.gz), a contour figure, one image per map, report.html "
                    "and browser.html. Prints the fit time and the total wall time.")
    _add_common(fmri, out_default="nimf_demo_output")
    group = fmri.add_argument_group("generated study")
    group.add_argument("--n-subjects", type=int, default=5,
                       help="subjects generated (the last one is held out)")
    group.add_argument("--n-scans", type=int, default=150, help="scans per subject")
    group.add_argument("--n-networks", type=int, default=16, help="planted networks")
    group.add_argument("--resolution", type=float, default=4.0, metavar="MM",
                       help="voxel size, in mm")
    group = fmri.add_argument_group("decomposition")
    group.add_argument("--n-components", type=int, default=None,
                       help="maps to extract (default: the number of planted networks)")
    group.add_argument("--n-jobs", type=int, default=1,
                       help="subjects masked and cleaned in parallel")
    fmri.set_defaults(func=_fmri_demo)

    matrix = _subparser(
        demos, "matrix", "learn planted sparse components of a matrix (array learner)",
        description="Generate a matrix with planted sparse components, fit "
                    "nimf.decomposition.OnlineDictionaryLearning with and without "
                    "subsampling, and print how well each recovers the components and how "
                    "long it takes; write components.npy, true_components.npy and "
                    "components.png.")
    _add_common(matrix, out_default="nimf_demo_output", overwrite=False)
    matrix.add_argument("--n-samples", type=int, default=4000, help="rows of the matrix")
    matrix.add_argument("--n-features", type=int, default=20000, help="columns of the matrix")
    matrix.add_argument("--n-components", type=int, default=20, help="planted components "
                                                                     "(and components learned)")
    matrix.add_argument("--snr", type=float, default=1.0,
                        help="signal-to-noise ratio of the generated matrix")
    matrix.add_argument("--reduction", type=float, default=12.0,
                        help="subsampling ratio of the features, compared with 1 (none)")
    matrix.set_defaults(func=_matrix_demo)

    ratings = _subparser(
        demos, "ratings", "complete generated MovieLens-like ratings and recommend",
        description="Generate MovieLens-100k-like ratings (943 users, 1682 items, 100,000 "
                    "ratings), report the held-out RMSE against the biases-only model and "
                    "write model.npz, recommendations.csv and summary.json.")
    _add_common(ratings, out_default="nimf_demo_output")
    ratings.add_argument("--n-components", type=_rank, default="auto",
                         help="rank of the model, or 'auto': chosen with the penalties on an "
                              "inner validation split, down to the biases alone")
    _completion_options(ratings)
    ratings.set_defaults(func=_ratings_demo)
    # 'nimf demo' with no demo name is routed to 'nimf demo fmri' by main()
    demo.set_defaults(func=_fmri_demo)

    # ------------------------------------------------------------------ decompose
    dec = _subparser(
        sub, "decompose", "extract networks from your 4D images, or from a study masked on "
                          "disk by 'nimf mask'",
        description="Extract networks with nimf.neuro.DictLearning from 4D images (NIfTI), "
                    "from surface time series on fsaverage5 (GIFTI files paired by 'hemi-L' / "
                    "'hemi-R' in their names) or from a study masked by 'nimf mask'. Writes "
                    "the maps, each subject's time courses (sub-XX_desc-timecourses_"
                    "timeseries.tsv, one column per map), summary.json (parameters, inputs "
                    "with their sha256, versions, timings, explained variance), contours.png, "
                    "one image per map, report.html and browser.html.")
    dec.add_argument("imgs", nargs="+", metavar="IMGS",
                     help="4D images (paths or glob patterns), or one masked study "
                          "(study.zarr)")
    dec.add_argument("--n-components", type=int, required=True, help="maps to extract")
    _add_common(dec)
    group = dec.add_argument_group("masking and cleaning (images)")
    group.add_argument("--mask", default=None, metavar="IMG",
                       help="mask image (default: computed from the images)")
    group.add_argument("--confounds", nargs="*", default=None, metavar="FILE",
                       help="one confounds file (CSV, or whitespace-separated) per image, in "
                            "the order of the images (default: none)")
    group.add_argument("--t-r", type=float, default=None, metavar="SECONDS",
                       help="repetition time, in seconds (default: none; needed by filters)")
    group.add_argument("--smoothing-fwhm", type=float, default=4.0, metavar="MM",
                       help="smoothing kernel FWHM, in mm (volume images)")
    group.add_argument("--mesh", default="fsaverage5",
                       help="mesh of surface (.gii) images, paired by 'hemi-L'/'hemi-R'")
    group.add_argument("--n-jobs", type=int, default=1,
                       help="images masked and cleaned in parallel")
    group = dec.add_argument_group("learning")
    group.add_argument("--alpha", type=float, default=10.0,
                       help="sparsity penalty of the time courses (larger: sparser maps)")
    group.add_argument("--n-epochs", type=int, default=10, help="passes over the data")
    group.add_argument("--reduction", type=float, default=12.0,
                       help="subsampling ratio: each step reads 1/reduction of the voxels")
    group.add_argument("--checkpoint", default=None, metavar="FILE",
                       help="file where the learner's state is saved as it goes (.npz; "
                            "default: none)")
    group.add_argument("--resume", action="store_true",
                       help="continue the fit saved in --checkpoint (after a crash or "
                            "--max-time)")
    group.add_argument("--max-time", type=float, default=None, metavar="SECONDS",
                       help="stop learning after this many seconds, with usable maps "
                            "(default: no limit)")
    dec.set_defaults(func=_decompose)

    # ------------------------------------------------------------------ mask
    msk = _subparser(
        sub, "mask", "mask and clean 4D images once into a study on disk (zarr)",
        description="Mask, smooth and clean each image once, as nimf's estimators do, into "
        "a zarr store that the learners stream (nimf.neuro.mask_study). A run that "
        "fails leaves no new study behind; one that is killed leaves the subjects "
        "committed so far: add the others with --append.")
    msk.add_argument("imgs", nargs="+", metavar="IMGS",
                     help="4D images (paths or glob patterns), or surface (.gii) files "
                     "paired by 'hemi-L'/'hemi-R'")
    msk.add_argument("--out", required=True, metavar="STUDY",
                     help="the study folder (e.g. study.zarr)")
    msk.add_argument("--append", action="store_true",
                     help="add the images to the study at --out, with its stored options")
    msk.add_argument("--overwrite", action="store_true",
                     help="replace what exists at --out (a study, a zarr store or a file)")
    msk.add_argument("--seed", type=int, default=0, help="seed of the stored voxel order")
    msk.add_argument("--verbose", type=int, default=0, metavar="LEVEL",
                     help="amount of progress messages (0: none)")
    group = msk.add_argument_group(
        "masking and cleaning", "Options stored in the study; with --append the stored ones "
        "are used and these cannot be given.")
    group.add_argument("--mask", default=None, metavar="IMG",
                       help="mask image (default: computed from the images)")
    group.add_argument("--confounds", nargs="*", default=None, metavar="FILE",
                       help="one confounds file (CSV or TSV, header allowed) per image, in the "
                       "order of the images (glob patterns accepted; default: none)")
    group.add_argument("--smoothing-fwhm", type=float, default=None, metavar="MM",
                       help="smoothing kernel FWHM, in mm (default: 4; volume images)")
    group.add_argument("--standardize", choices=["zscore_sample", "psc", "none"], default=None,
                       help="standardization of each time series (default: zscore_sample)")
    group.add_argument("--detrend", action=argparse.BooleanOptionalAction, default=None,
                       help="remove linear trends (default: yes)")
    group.add_argument("--low-pass", type=float, default=None, metavar="HZ",
                       help="low-pass cut-off, in Hz (default: none; needs --t-r)")
    group.add_argument("--high-pass", type=float, default=None, metavar="HZ",
                       help="high-pass cut-off, in Hz (default: none; needs --t-r)")
    group.add_argument("--t-r", type=float, default=None, metavar="SECONDS",
                       help="repetition time, in seconds (default: none)")
    group.add_argument("--dtype", choices=["float32", "float64"], default=None,
                       help="stored float type (default: float32)")
    group.add_argument("--mesh", default="fsaverage5",
                       help="mesh of surface (.gii) images, paired by 'hemi-L'/'hemi-R'")
    group = msk.add_argument_group("compute")
    group.add_argument("--n-jobs", type=int, default=1, help="images masked in parallel")
    group.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="mask on the workers of the dask cluster whose scheduler is at "
                       "ADDRESS (e.g. tcp://10.0.0.1:8786); --out, the images and the "
                       "confounds must be on a file system the workers share (default: "
                       "mask in this process)")
    msk.set_defaults(func=_mask)

    # ------------------------------------------------------------------ recommend
    rec = _subparser(
        sub, "recommend", "complete a ratings file and recommend items",
        description="Matrix completion of a ratings file (MovieLens u.data, ratings.dat, "
                    "ratings.csv or any CSV): the held-out RMSE against the biases-only "
                    "model, then the model fitted on every rating (model.npz), every user's "
                    "top items (recommendations.csv) and summary.json.")
    rec.add_argument("ratings", help="u.data, ratings.dat, ratings.csv or any CSV file")
    _add_common(rec)
    group = rec.add_argument_group("reading the file")
    group.add_argument("--format", default="auto",
                       choices=["auto", "movielens-100k", "movielens-dat", "movielens-csv",
                                "csv"],
                       help="file format ('auto': from the file name and header)")
    group.add_argument("--user-col", default="user", help="user id column (csv)")
    group.add_argument("--item-col", default="item", help="item id column (csv)")
    group.add_argument("--rating-col", default="rating", help="rating column (csv)")
    group.add_argument("--sep", default=",", help="field separator (csv)")
    group = rec.add_argument_group("model")
    group.add_argument("--n-components", type=_rank, default="auto",
                       help="rank of the model, or 'auto': chosen with the penalties on an "
                            "inner validation split, down to the biases alone (as "
                            "MatrixCompletion)")
    _completion_options(group)
    rec.set_defaults(func=_recommend)
    return parser


def _completion_options(parser):
    parser.add_argument("--solver", default="somf", choices=["somf", "als", "sgd"],
                        help="matrix completion solver")
    parser.add_argument("--n-epochs", type=int, default=None,
                        help="passes over the ratings (default: the solver's own)")
    parser.add_argument("--n", type=int, default=10, help="items recommended per user")
    parser.add_argument("--test-size", type=float, default=0.2,
                        help="fraction of each user's ratings held out to report the RMSE "
                             "(0: skip)")
    parser.add_argument("--duplicates", default="error", choices=["error", "mean", "last"],
                        help="what to do with repeated (user, item) ratings: refuse them, "
                             "average them or keep the last")


def _dimension_error():
    try:
        from nilearn.exceptions import DimensionError
    except ImportError:  # pragma: no cover
        return ValueError
    return DimensionError


def _process_age():
    """Seconds since this process started (Linux), or 0 where that is not known.

    The total wall time of a command run from the shell then includes the
    start of Python and the imports, as a user's stopwatch does.
    """
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            # the fields after the command name; the start time is field 22
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        return max(0.0, uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


def main(argv=None):
    """Run the ``nimf`` command.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    code : int
        0 on success, 2 on invalid input (the message is printed on standard
        error) or when no command is given (the help is printed once).
    """
    # run from the shell, the wall time counts from the start of the process
    start = time.perf_counter() - (_process_age() if argv is None else 0.0)
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv:
        parser.print_help()
        return 2
    try:
        argv = _route_demo(argv)
    except ValueError as exc:
        print(f"nimf demo: error: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    args.start_time, args.argv = start, argv
    name = args.command + (f" {args.demo}" if args.command == "demo" else "")
    try:
        return args.func(args)
    except (ValueError, OSError, _dimension_error()) as exc:
        print(f"nimf {name}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
