"""Build a masked study larger than memory: synthetic resting state at 2 mm, on disk.

The subjects of ``nimf.datasets.iter_rest_study`` (the study of ``make_rest_study``,
generated one subject at a time) are masked and cleaned by ``nimf.neuro.mask_study`` into a
zarr store, never whole in memory (peak resident memory about 6 GB with two jobs). The defaults
make 160 subjects x 400 scans (TR 2 s) on the 2 mm MNI152 brain mask (235,375 voxels): 64,000
scans, 60 GB of float32 (56 GB on disk: such data compress by about 6 %), more than twice the
memory of the 24 GB machine it was written for. 30 planted networks, SNR 0.5 (network signal /
noise variance, summed over the brain), 6 motion-like confounds regressed out, the masking
defaults of the estimators (4 mm smoothing, detrending, z-scoring).

Next to the store it writes the planted maps, ``maps.npy`` (float32, (n_networks, n_voxels),
in the masker's voxel order: what ``MaskedStudy.read_subject`` returns), and ``<store>.json``
(generation parameters, description, the runs and the final summary).

It resumes: run it again on an existing store and only the subjects not yet committed are
generated (the earlier ones are skipped without being simulated) and appended; the generation
parameters must be the ones the store was started with.

    python benchmarks/make_big_study.py [/work/bigdata/study.zarr] [--n-subjects 160]
        [--n-scans 400] [--n-networks 30] [--snr 0.5] [--resolution 2] [--n-jobs 2]
        [--seed 0] [--every 60] [--overwrite]

It prints the subjects committed, the scans per second of generation + masking + writing, the
elapsed time, an estimate of the time left and the memory (resident and peak) at most every
``--every`` seconds and at each commit, then a summary.
"""

import argparse
import json
import os
import sys
import threading
import time

import numpy as np

from nimf.datasets import iter_rest_study
from nimf.neuro import MaskedStudy, mask_study

GB = 1e9


def memory_gb():
    """Resident and peak resident memory of this process, in GB."""
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, amount, _ = line.split()
                values[key] = int(amount) * 1024 / GB
    return values.get("VmRSS:", float("nan")), values.get("VmHWM:", float("nan"))


def machine_memory():
    """Physical memory of the machine (MemTotal), in bytes."""
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return float("nan")


def duration(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def write_json(path, content):
    """Write ``content`` atomically (a killed run leaves the previous file)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(content, f, indent=1)
    os.replace(tmp, path)


class Progress(threading.Thread):
    """Prints what the store holds: at each commit, and every ``every`` seconds."""

    def __init__(self, path, n_subjects, n_scans, done, every, on_commit):
        super().__init__(daemon=True)
        self.path, self.n_subjects, self.n_scans = path, n_subjects, n_scans
        self.done_before, self.every, self.on_commit = done, every, on_commit
        self.t0 = time.perf_counter()
        self.stop = threading.Event()
        self.last = (done, self.t0)

    def committed(self):
        try:
            return len(MaskedStudy.open(self.path).subjects)
        except ValueError:  # not created yet
            return self.done_before

    def report(self, committed):
        elapsed = time.perf_counter() - self.t0
        new = committed - self.done_before
        rate = new * self.n_scans / max(elapsed, 1e-9)
        left = (self.n_subjects - committed) * self.n_scans / rate if rate else float("nan")
        rss, peak = memory_gb()
        print(f"[{duration(elapsed)}] {committed}/{self.n_subjects} subjects committed "
              f"({new} in this run), {rate:.1f} scans/s, "
              f"{'?' if left != left else duration(left)} left, "
              f"RSS {rss:.2f} GB (peak {peak:.2f} GB)", flush=True)
        self.last = (committed, time.perf_counter())

    def run(self):
        while not self.stop.wait(5.0):
            committed = self.committed()
            if committed != self.last[0]:
                self.on_commit(committed, time.perf_counter() - self.t0)
            if committed != self.last[0] or time.perf_counter() - self.last[1] >= self.every:
                self.report(committed)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", default="/work/bigdata/study.zarr",
                        help="the zarr store to create or resume")
    parser.add_argument("--n-subjects", type=int, default=160)
    parser.add_argument("--n-scans", type=int, default=400)
    parser.add_argument("--n-networks", type=int, default=30)
    parser.add_argument("--snr", type=float, default=0.5)
    parser.add_argument("--resolution", type=float, default=2.0)
    parser.add_argument("--t-r", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--maps", default=None,
                        help="where to save the planted maps (default: maps.npy next to "
                             "the store)")
    parser.add_argument("--every", type=float, default=60.0,
                        help="seconds between progress lines when nothing is committed")
    parser.add_argument("--overwrite", action="store_true",
                        help="start again from scratch even if the store exists")
    args = parser.parse_args(argv)

    path = os.path.abspath(args.path)
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    maps_path = args.maps or os.path.join(folder, "maps.npy")
    info_path = os.path.splitext(path)[0] + ".json"
    generation = dict(n_subjects=args.n_subjects, n_scans=args.n_scans,
                      n_networks=args.n_networks, resolution=args.resolution, t_r=args.t_r,
                      snr=args.snr, random_state=args.seed)

    done, info = 0, None
    if os.path.exists(path) and not args.overwrite:
        if not os.path.exists(info_path):
            sys.exit(f"{path} exists but {info_path} (its generation parameters) does not: "
                     f"give --overwrite to start again")
        with open(info_path) as f:
            info = json.load(f)
        if info["generation"] != generation:
            sys.exit(f"{path} was started with {info['generation']}, not {generation}: "
                     f"give the same parameters, or --overwrite")
        try:
            done = len(MaskedStudy.open(path).subjects)
        except ValueError as exc:
            sys.exit(f"cannot resume: {exc}")

    t_setup = time.perf_counter()
    study = iter_rest_study(**generation, start=done)
    n_voxels = study.maps.shape[1]
    print(study.description, flush=True)
    print(f"store: {path} ({done} subjects committed before this run); maps: {maps_path}; "
          f"setup {time.perf_counter() - t_setup:.1f} s", flush=True)
    if info is None:
        info = {"generator": "nimf.datasets.iter_rest_study", "generation": generation,
                "description": study.description, "store": path, "maps": maps_path,
                "masking": "mask_study defaults (smoothing_fwhm=4, detrend, "
                           "standardize='zscore_sample'), confounds regressed, t_r",
                "runs": []}
    tmp = f"{maps_path}.tmp.npy"
    np.save(tmp, study.maps)
    os.replace(tmp, maps_path)
    write_json(info_path, info)

    expected = np.asarray(study.mask_img.dataobj).astype(bool)
    # this run, as recorded in <store>.json: updated at each commit, so that a run that is
    # killed keeps its time up to its last commit
    run = {"first_subject": done}

    def record(committed, seconds):
        run.update(subjects=committed - done, scans=(committed - done) * args.n_scans,
                   seconds=round(seconds, 1), peak_rss_gb=round(memory_gb()[1], 2),
                   last_commit=time.strftime("%Y-%m-%d %H:%M:%S"))
        if committed > done and run not in info["runs"]:
            info["runs"].append(run)
        write_json(info_path, info)

    progress = Progress(path, args.n_subjects, args.n_scans, done, args.every, record)
    t0 = time.perf_counter()
    seconds = 0.0
    progress.start()
    try:
        if done == 0:
            stored = mask_study(study.func, path, confounds=study.confounds,
                                mask=study.mask_img, t_r=study.t_r, n_jobs=args.n_jobs,
                                overwrite=args.overwrite)
        elif done < args.n_subjects:
            stored = MaskedStudy.open(path)
            if not np.array_equal(np.asarray(stored.mask_img.dataobj).astype(bool), expected):
                sys.exit(f"{path} holds another mask than the generated study's")
            stored.append(study.func, confounds=study.confounds, n_jobs=args.n_jobs)
        seconds = time.perf_counter() - t0
    finally:
        progress.stop.set()
        progress.join()
    stored = MaskedStudy.open(path)
    progress.report(len(stored.subjects))
    if not np.array_equal(np.asarray(stored.mask_img.dataobj).astype(bool), expected):
        sys.exit(f"{path} holds another mask than the generated study's: maps.npy does not "
                 f"match its voxels")

    new = len(stored.subjects) - done
    _, peak = memory_gb()
    record(len(stored.subjects), seconds)
    total_seconds = sum(r["seconds"] for r in info["runs"])
    summary = {"n_subjects": len(stored.subjects), "n_scans": stored.n_scans,
               "n_voxels": stored.n_voxels, "dtype": str(stored.dtype),
               "chunks": list(stored.chunks), "nbytes": int(stored.nbytes),
               "nbytes_stored": int(stored.nbytes_stored),
               "seconds_all_runs": round(total_seconds, 1),
               "scans_per_second_all_runs": round(stored.n_scans / total_seconds, 1)
               if total_seconds else None}
    info["summary"] = summary
    write_json(info_path, info)

    print(f"\n{stored!r}")
    print(f"n_scans        {stored.n_scans:,} ({len(stored.subjects)} subjects)")
    print(f"n_voxels       {stored.n_voxels:,} (maps: {n_voxels:,})")
    print(f"nbytes         {stored.nbytes / GB:.2f} GB")
    print(f"nbytes_stored  {stored.nbytes_stored / GB:.2f} GB "
          f"({stored.nbytes_stored / stored.nbytes:.1%} of nbytes)")
    print(f"this run       {new} subjects, {new * args.n_scans:,} scans in "
          f"{duration(seconds)} ({new * args.n_scans / max(seconds, 1e-9):.1f} scans/s), "
          f"peak RSS {peak:.2f} GB")
    print(f"all runs       {len(info['runs'])} run(s), {duration(total_seconds)} up to their "
          f"last commits, {summary['scans_per_second_all_runs']} scans/s")
    print(f"machine memory {machine_memory() / GB:.2f} GB: the store on disk is "
          f"{stored.nbytes_stored / machine_memory():.2f} times as large", flush=True)


if __name__ == "__main__":
    main()
