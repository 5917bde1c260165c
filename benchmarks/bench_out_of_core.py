"""Out of core: nimf's DictLearning on a study masked on disk, larger than memory.

Needs a masked study on disk at least twice the machine's memory, made by
``benchmarks/make_big_study.py`` (default ``/work/bigdata/study.zarr``: 160
subjects x 400 scans at 2 mm, 64,000 scans x 235,375 voxels, 60 GB of float32, 56
GB on disk; its planted maps in ``maps.npy`` beside it).  Each measurement runs
in a fresh process, so that its peak memory (``ru_maxrss``) and the bytes it
reads (``/proc/self/io``: ``rchar`` every byte read, ``read_bytes`` from the
disk itself) are its own; the page cache is dropped before the runs that must
read from the disk (when this process may: run as root).

Parts (``--parts``, all by default):

- ``masking``: the store's building rate (from its record) and masking alone
  into a store: two generated 2 mm subjects, ``mask_study(n_jobs=2)``, scans/s;
- ``epoch``: ``DictLearning(n_components=70, reduction=12, batch_size=200,
  n_epochs=1)`` fitted from the store (cold page cache): time of the fit and of
  the learning epoch, peak memory, bytes read (learner, whole process, disk),
  recovery of the planted maps; the same at reduction 1: the ratio of epoch times;
- ``memory``: a subset of the study that fits in memory (``--subset`` scans),
  the online learner fitted from memory (the scans read into an array, voxels in
  the store's order) and from the store with a warm page cache: ratio of steady
  throughputs;
- ``nilearn``: nilearn's DictLearning on the largest subset it handles here
  (images of ``--nilearn-subjects`` subjects generated in memory), with nimf's
  DictLearning on the same images, for the record;
- ``convergence``: held-out objective (a 401st subject, masked apart) against
  time at reductions 1, 4 and 12 on the whole study, from the same ICA start,
  each given ``--budget`` seconds (variance-reduced codes, ``learning_rate``
  0.92); the figure is written to ``--figure``;
- ``hcp``: what one epoch over an HCP-sized study would take here (see the
  printed assumptions).

    python benchmarks/bench_out_of_core.py [--study /work/bigdata/study.zarr] [--parts epoch memory]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
GiB = 2 ** 30


def _io():
    with open("/proc/self/io") as handle:
        return {k: int(v) for k, v in (line.split(": ") for line in handle)}


def _maxrss():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def drop_caches():
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as handle:
            handle.write("3\n")
        return True
    except OSError:
        return False


def child(args):
    """One measurement in this process; prints one JSON line."""
    from nimf.assessment import match_components
    from nimf.neuro import DictLearning, MaskedStudy

    study = MaskedStudy.open(args.study)
    maps = np.load(os.path.join(os.path.dirname(args.study), "maps.npy"))
    io0 = _io()
    out = {}
    if args.child == "epoch":
        dl = DictLearning(n_components=70, reduction=args.reduction, batch_size=200,
                          n_epochs=1, random_state=0, verbose=0)
        t0 = time.perf_counter()
        dl.fit(study)
        out["fit_time"] = time.perf_counter() - t0
        h = dl.history_
        out["epoch_time"] = h["time"][-1] - h["time"][0]
        out["learner_bytes"] = h["bytes_read"][-1]
        out["recovery"] = float(match_components(maps, dl.components_,
                                                 metric="correlation").score)
    elif args.child in ("memory", "store"):
        from nimf.decomposition import OnlineDictionaryLearning
        from nimf.sources import PermutedFeatures, ZarrSource

        n = args.subset
        source = ZarrSource(study.data, n_samples=n, feature_order=study.voxel_order,
                            checked=True)
        if args.child == "memory":
            data = np.empty((n, study.n_voxels), dtype=np.float32)
            for start, block in source.iter_row_blocks():
                data[start:start + block.shape[0]] = block
            data = PermutedFeatures(data, study.voxel_order, checked=True)
        else:
            data = source
            for _ in source.iter_row_blocks():  # warm the page cache
                pass
        est = OnlineDictionaryLearning(70, batch_size=192, reduction=12, n_epochs=2,
                                       dict_l1_ratio=1.0, dict_init="data", tol=0,
                                       history_every=1, random_state=0)
        est.fit(data)
        h = est.history_
        t, s = np.asarray(h["time"]), np.asarray(h["n_samples"])
        out["steady_rate"] = float((s[-2] - s[1]) / (t[-2] - t[1]))
    elif args.child == "convergence":
        from nimf.decomposition import OnlineDictionaryLearning

        valid = MaskedStudy.open(args.validation)
        # DictLearning's learner (alpha 10 / 50, l1 ball) with the variance-reduced
        # codes of Mensch et al. (2017) and their slower forgetting: with 'gram'
        # codes and learning_rate 0.75 (DictLearning's defaults, tuned for ten
        # epochs) the held-out objective drifts up after a few epochs at high
        # reduction
        every = max(1, int(round(args.every / 12 * args.reduction)))
        est = OnlineDictionaryLearning(
            70, alpha=10 / 50, dict_l1_ratio=1.0, batch_size=200, reduction=args.reduction,
            n_epochs=100, max_time=args.budget, tol=0, learning_rate=0.92,
            code_method="average", history_every=every, random_state=0)
        from nimf.decomposition._ica_start import ica_start

        est.set_params(dict_init=ica_start(study, 70, 12, 0))
        valid_rows = valid.read_rows(0, valid.n_scans)
        est.fit(study, validation=valid_rows)
        out["history"] = {k: list(map(float, v)) for k, v in est.history_.items()}
        out["recovery"] = float(match_components(maps, est.components_,
                                                 metric="correlation").score)
    io1 = _io()
    out["rchar"] = io1["rchar"] - io0["rchar"]
    out["read_bytes"] = io1["read_bytes"] - io0["read_bytes"]
    out["maxrss"] = _maxrss()
    print("RESULT " + json.dumps(out))


def run_child(args, kind, **extra):
    cmd = [sys.executable, __file__, "--study", args.study, "--child", kind]
    for key, value in extra.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-4000:])
        raise RuntimeError(f"child {kind} failed")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def part_masking(args, study):
    record = os.path.join(os.path.dirname(args.study), "study.json")
    if os.path.exists(record):
        with open(record) as handle:
            info = json.load(handle)
        runs = info.get("runs", [])
        if runs:
            rate = info.get("summary", {}).get("scans_per_second_all_runs", "n/a")
            print(f"building the store (generating each subject, masking, writing; n_jobs=2): "
                  f"{rate} scans/s")
    import tempfile

    from nimf.datasets import iter_rest_study
    from nimf.neuro import mask_study

    gen = iter_rest_study(n_subjects=2, n_scans=400, n_networks=30, resolution=2,
                          random_state=7)
    imgs = list(gen.func)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(args.study)) as tmp:
        t0 = time.perf_counter()
        s = mask_study(imgs, os.path.join(tmp, "s.zarr"), confounds=gen.confounds,
                       mask=gen.mask_img, t_r=gen.t_r, n_jobs=2)
        elapsed = time.perf_counter() - t0
    print(f"masking alone (2 subjects x 400 scans at 2 mm, n_jobs=2): "
          f"{s.n_scans / elapsed:.0f} scans/s")
    return {"masking_scans_per_s": s.n_scans / elapsed}


def part_epoch(args, study):
    res = {}
    for reduction in (12, 1):
        cold = drop_caches()
        r = run_child(args, "epoch", reduction=reduction)
        res[reduction] = r
        print(f"reduction {reduction:>2}: fit {r['fit_time']:.0f} s (epoch {r['epoch_time']:.0f} s), "
              f"peak RSS {r['maxrss'] / GiB:.2f} GiB, learner read "
              f"{r['learner_bytes'] / study.nbytes:.1%} of the study, the process read "
              f"{r['rchar'] / study.nbytes:.1%} ({r['read_bytes'] / study.nbytes:.1%} from "
              f"disk{'' if cold else ', cache not dropped'}), recovery {r['recovery']:.3f}")
    r12, r1 = res[12], res[1]
    ratio = r1["epoch_time"] / r12["epoch_time"]
    print(f"epoch at reduction 12 is {ratio:.1f}x shorter than at reduction 1")
    for label, ok in [
        ("peak RSS <= 2 GiB (reduction 12)", r12["maxrss"] <= 2 * GiB),
        ("bytes read <= 1/8 of the store (reduction 12, whole process)",
         r12["rchar"] <= study.nbytes / 8),
        ("epoch at reduction 12 >= 6x shorter than at reduction 1", ratio >= 6),
    ]:
        print(f"  [{'met' if ok else 'NOT met'}] {label}")
    return res


def part_memory(args, study):
    mem = run_child(args, "memory", subset=args.subset)
    disk = run_child(args, "store", subset=args.subset)
    ratio = disk["steady_rate"] / mem["steady_rate"]
    print(f"subset of {args.subset} scans ({args.subset * study.n_voxels * 4 / 1e9:.1f} GB): "
          f"from memory {mem['steady_rate']:.0f} samples/s, from the store (warm cache) "
          f"{disk['steady_rate']:.0f} samples/s: ratio {ratio:.2f}")
    print(f"  [{'met' if ratio >= 0.8 else 'NOT met'}] throughput ratio >= 0.8")
    return {"memory": mem, "store": disk, "ratio": ratio}


def part_nilearn(args, study):
    import warnings

    from nilearn.decomposition import DictLearning as NilearnDictLearning

    from nimf.assessment import match_components
    from nimf.datasets import iter_rest_study
    from nimf.neuro import DictLearning

    gen = iter_rest_study(n_subjects=args.nilearn_subjects, n_scans=400, n_networks=30,
                          resolution=2, snr=0.5, random_state=0)
    imgs = list(gen.func)
    conf = list(gen.confounds)
    out = {}
    for name, make in [("nilearn", lambda: NilearnDictLearning(
            n_components=70, mask=gen.mask_img, t_r=gen.t_r, random_state=0,
            memory_level=0)),
            ("nimf", lambda: DictLearning(n_components=70, mask=gen.mask_img, t_r=gen.t_r,
                                          random_state=0))]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = make()
            t0 = time.perf_counter()
            est.fit(imgs, confounds=conf)
            elapsed = time.perf_counter() - t0
        comps = np.asarray(est.components_)
        rec = float(match_components(gen.maps, comps, metric="correlation").score)
        out[name] = {"time": elapsed, "recovery": rec}
        print(f"{name} DictLearning on {len(imgs)} subjects x 400 scans (images in memory): "
              f"{elapsed:.0f} s, recovery of the 30 planted maps {rec:.3f}")
    return out


def part_convergence(args, study):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nimf.datasets import iter_rest_study
    from nimf.neuro import mask_study
    from nimf.plotting import plot_convergence

    valid_path = os.path.join(os.path.dirname(args.study), "heldout.zarr")
    if not os.path.exists(valid_path):
        # the subject after the study's last one: same maps, held out
        n = len(study.subjects)
        gen = iter_rest_study(n_subjects=n + 1, n_scans=400, n_networks=30, resolution=2,
                              snr=0.5, random_state=0, start=n)
        mask_study(gen.func, valid_path, confounds=gen.confounds, mask=gen.mask_img,
                   t_r=gen.t_r)
    histories, labels = [], []
    for reduction in (1, 4, 12):
        drop_caches()
        r = run_child(args, "convergence", reduction=reduction, budget=args.budget,
                      validation=valid_path, every=args.every)
        histories.append(r["history"])
        labels.append(f"reduction {reduction}")
        h = r["history"]
        print(f"reduction {reduction:>2}: {h['n_samples'][-1]:.0f} scans in {h['time'][-1]:.0f} s "
              f"({h['epoch'][-1]:.2f} epochs), final held-out objective "
              f"{h['objective'][-1]:.2f}, recovery {r['recovery']:.3f}")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_convergence(histories, labels=labels, ax=ax,
                     title=f"DictLearning k=70 on {study.n_scans} scans x {study.n_voxels} "
                           "voxels (56 GB on disk)")
    fig.tight_layout()
    fig.savefig(args.figure, dpi=120)
    plt.close(fig)
    print(f"figure: {args.figure}")
    return {"histories": histories}


def part_hcp(args, study, measured):
    epoch = measured.get("epoch", {}).get(12)
    if not epoch:
        print("hcp: needs the epoch part")
        return {}
    scans, voxels = 2_000_000, 235_375
    size = scans * voxels * 4
    # the learner's rate without reading (from the run) and the disk
    compute_rate = study.n_scans / epoch["epoch_time"]
    bandwidth = 0.55e9  # measured: cold reads of this store's chunk files
    read = size / 12 / bandwidth
    compute = scans / compute_rate
    print(f"HCP-sized study ({scans:,} scans x {voxels:,} voxels, float32, "
          f"{size / 1e12:.2f} TB): one epoch at reduction 12 reads {size / 12 / 1e9:.0f} GB; "
          f"at {bandwidth / 1e9:.2f} GB/s (this disk, cold chunk reads) that is "
          f"{read / 60:.0f} min of reading, which the steps overlap; at this run's rate "
          f"({compute_rate:.0f} scans/s from the disk, reading included) the epoch takes "
          f"{compute / 60:.0f} min on one machine like this (plus the start: about "
          f"{epoch['fit_time'] - epoch['epoch_time']:.0f} s here, bounded whatever the size). "
          "Assumed: the chunks of the study on a disk at least as fast as this one, the rate "
          "independent of the number of scans (memory and steps do not depend on it)")
    return {"minutes": compute / 60}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="/work/bigdata/study.zarr")
    parser.add_argument("--parts", nargs="+", default=["masking", "epoch", "memory",
                                                       "nilearn", "convergence", "hcp"])
    parser.add_argument("--subset", type=int, default=6400)
    parser.add_argument("--nilearn-subjects", type=int, default=4)
    parser.add_argument("--budget", type=float, default=300)
    parser.add_argument("--every", type=int, default=25)
    parser.add_argument("--figure", default="convergence_out_of_core.png")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--reduction", type=float, default=12, help=argparse.SUPPRESS)
    parser.add_argument("--validation", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    from nimf.neuro import MaskedStudy

    study = MaskedStudy.open(args.study)
    print(f"{study!r}; machine memory {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / GiB:.1f} GiB\n")
    measured = {}
    for part in args.parts:
        print(f"== {part}")
        if part == "hcp":
            measured[part] = part_hcp(args, study, measured)
        else:
            measured[part] = globals()[f"part_{part}"](args, study)
        print()
    return measured


if __name__ == "__main__":
    main()
