"""Mutation testing of nimf's core, module by module.

Each mutant (a small change of the source: ``<`` for ``<=``, ``+`` for ``-``, a
number plus one, ``True`` for ``False``, a call argument dropped, ...) is written
into the module, the test files that cover that module are run, and the module
is restored.  A mutant is *killed* when the tests fail (or time out), *survived*
when they pass: a survivor is a change of behaviour that no test notices, or a
change that does not alter behaviour at all (an *equivalent* mutant, listed with
its reason in ``tests/mutation_equivalents.md``).

The mutants are mutmut's (``pip install -e .[mutation]``; mutmut 2.x, whose
mutations are written to disk, which is what the numba kernels need: mutmut 3
switches mutants at run time through a Python trampoline that ``@njit`` code
cannot call).  This script drives the runs itself, so that

- each module is tested only against the test files that cover it
  (``TESTS`` below), which makes a module a matter of minutes;
- a mutant of a numba kernel takes effect: numba's on-disk cache (``cache=True``)
  is moved to a private folder for the run, and the cached machine code of the
  mutated kernel file is deleted before each mutant, so the tests compile the
  mutated source (the kernels of the other files stay cached);
- results are kept in ``.mutation/results.json`` and a run can be interrupted and
  resumed; ``--sample`` tests a seeded random subset of a large module.

Not run in CI (slow: one test run per mutant).  Usage, from the repository root::

    python tools/mutation.py nimf/_persist.py              # run (resumes)
    python tools/mutation.py nimf/_kernels/ --sample 40    # 40 mutants a file
    python tools/mutation.py --report                      # score per module
    python tools/mutation.py --survivors nimf/_persist.py  # print their diffs
    python tools/mutation.py --rerun-survivors nimf/_persist.py  # after new tests

The score of a module is killed / (tested - equivalent).
"""

import argparse
import difflib
import glob
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE_DIR = os.path.join(ROOT, ".mutation")
RESULTS = os.path.join(STATE_DIR, "results.json")
NUMBA_CACHE_DIR = os.path.join(STATE_DIR, "numba-cache")
EQUIVALENTS = os.path.join(ROOT, "tests", "mutation_equivalents.md")

# module -> the test files that cover it (keep in step with the tests)
TESTS = {
    "nimf/_persist.py": ["tests/test_persist.py", "tests/test_mutants_persist.py"],
    "nimf/_kernels/checks.py": ["tests/test_validation.py", "tests/test_online_kernels.py",
                                "tests/test_sources.py", "tests/test_mutants_kernels.py"],
    "nimf/_kernels/tensor.py": ["tests/test_tensor_cp.py", "tests/test_mutants_kernels.py"],
    "nimf/_kernels/codes.py": ["tests/test_codes.py", "tests/test_kernel_edges.py",
                               "tests/test_mutants_kernels2.py"],
    "nimf/_kernels/nmf.py": ["tests/test_nmf.py", "tests/test_kernel_edges.py",
                             "tests/test_mutants_kernels2.py"],
    "nimf/_kernels/projections.py": ["tests/test_projections.py",
                                     "tests/test_mutants_projections.py"],
    "nimf/_kernels/online.py": ["tests/test_online_kernels.py", "tests/test_online.py"],
    "nimf/_kernels/signal.py": ["tests/test_neuro_signal.py", "tests/test_mutants_kernels2.py"],
    "nimf/_kernels/ratings.py": ["tests/test_ratings_completion.py", "tests/test_kernel_edges.py",
                                 "tests/test_mutants_kernels2.py"],
    "nimf/assessment/stability.py": ["tests/test_assessment.py",
                                     "tests/test_mutants_assessment.py"],
    "nimf/assessment/cross_validation.py": ["tests/test_assessment.py",
                                            "tests/test_mutants_assessment.py"],
    "nimf/assessment/matching.py": ["tests/test_assessment.py",
                                    "tests/test_mutants_assessment.py"],
    "nimf/assessment/errors.py": ["tests/test_assessment.py", "tests/test_mutants_assessment.py"],
    "nimf/assessment/tensor.py": ["tests/test_tensor_assessment.py",
                                  "tests/test_mutants_tensor.py"],
    "nimf/decomposition/_ica_start.py": ["tests/test_online.py",
                                         "tests/test_mutants_decomposition.py"],
    "nimf/decomposition/sparse_pca.py": ["tests/test_sparse_pca.py", "tests/test_large_inputs.py",
                                         "tests/test_mutants_decomposition.py"],
    "nimf/decomposition/_online_state.py": ["tests/test_online.py",
                                            "tests/test_online_streaming.py",
                                            "tests/test_persist.py",
                                            "tests/test_mutants_online.py"],
    "nimf/decomposition/online.py": ["tests/test_online.py", "tests/test_online_streaming.py",
                                     "tests/test_mutants_online.py",
                                     "tests/test_parameter_effects.py",
                                     "tests/test_documented_defaults.py"],
    "nimf/decomposition/nmf.py": ["tests/test_nmf.py", "tests/test_mutants_decomposition.py",
                                  "tests/test_parameter_effects.py",
                                  "tests/test_large_inputs.py", "tests/test_validation.py",
                                  "tests/test_documented_defaults.py"],
    "nimf/ratings/completion.py": ["tests/test_ratings_completion.py",
                                   "tests/test_ratings_default.py",
                                   "tests/test_mutants_ratings.py",
                                   "tests/test_parameter_effects.py",
                                   "tests/test_documented_defaults.py"],
    "nimf/ratings/_selection.py": ["tests/test_ratings_default.py",
                                   "tests/test_mutants_ratings.py"],
    "nimf/sources/sampling.py": ["tests/test_sources.py", "tests/test_online_streaming.py",
                                 "tests/test_mutants_sources.py"],
    "nimf/sources/readers.py": ["tests/test_sources.py", "tests/test_online_streaming.py",
                                "tests/test_large_inputs.py", "tests/test_mutants_sources.py"],
    "nimf/tensor/cp.py": ["tests/test_tensor_cp.py", "tests/test_mutants_tensor.py"],
    "nimf/neuro/study.py": ["tests/test_study.py", "tests/test_neuro_study_fit.py",
                            "tests/test_mutants_study.py"],
}

STATUSES = ("killed", "timeout", "survived")


def _sha(text):
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def _write(path, text):
    with open(os.path.join(ROOT, path), "w", encoding="utf-8") as f:
        f.write(text)


def _load_results():
    if os.path.exists(RESULTS):
        with open(RESULTS, encoding="utf-8") as f:
            return json.load(f)
    return {}


def _save_results(results):
    os.makedirs(STATE_DIR, exist_ok=True)
    tmp = RESULTS + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, sort_keys=True)
    os.replace(tmp, RESULTS)


def _mutmut():
    try:
        import mutmut
    except ImportError:  # pragma: no cover - a developer's environment
        sys.exit("mutmut is not installed: pip install -e '.[mutation]' (mutmut>=2.5,<3)")
    if not mutmut.__version__.startswith("2."):
        sys.exit(f"tools/mutation.py needs mutmut 2.x (mutants written to disk), "
                 f"got mutmut {mutmut.__version__}")
    return mutmut


def _compile_only(mutant):
    """Removing ``@njit`` runs the same code in Python: equivalent by construction."""
    return mutant["mutant"] == "" and mutant["original"].startswith(("@njit", "@jit"))


def list_mutants(path, source):
    """Every mutant of ``source``: (mutmut id, key) pairs, cheap (one parse)."""
    mutmut = _mutmut()
    context = mutmut.Context(source=source, filename=path, dict_synonyms=[])
    return [(mid, f"{mid.line_number + 1}:{mid.index}")
            for mid in mutmut.list_mutations(context)]


def make_mutant(path, source, mid, key):
    """The mutated source and its changed line, or None (no change, or ``@njit`` removed)."""
    mutmut = _mutmut()
    mutated, n = mutmut.mutate(mutmut.Context(source=source, mutation_id=mid,
                                              filename=path, dict_synonyms=[]))
    if n != 1 or mutated == source:
        return None
    changed = [line for line in difflib.unified_diff(source.splitlines(), mutated.splitlines(),
                                                     lineterm="", n=0)
               if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))]
    removed = "\n".join(c[1:] for c in changed if c.startswith("-"))
    added = "\n".join(c[1:] for c in changed if c.startswith("+"))
    mutant = {"key": key, "line": mid.line_number + 1, "original": removed.strip(),
              "mutant": added.strip(), "source": mutated}
    return None if _compile_only(mutant) else mutant


def _expand(paths):
    modules = []
    for p in paths:
        p = p.rstrip("/")
        matched = [m for m in TESTS if m == p or m.startswith(p + "/")]
        if not matched:
            sys.exit(f"no core module matches {p!r}; known modules: {sorted(TESTS)}")
        modules.extend(m for m in matched if m not in modules)
    return modules


def _clear_kernel_cache(path):
    """Delete the cached machine code of the kernels of ``path`` (a numba file)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    for f in glob.glob(os.path.join(NUMBA_CACHE_DIR, "**", f"{stem}.*.nb[ic]"),
                       recursive=True):
        os.remove(f)


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # a stale .pyc must never hide a mutant
    env["NUMBA_CACHE_DIR"] = NUMBA_CACHE_DIR
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def run_tests(path, timeout=None):
    """Run the tests of ``path``; return (passed, seconds, timed_out)."""
    tests = [t for t in TESTS[path] if os.path.exists(os.path.join(ROOT, t))]
    if "/_kernels/" in path:
        _clear_kernel_cache(path)
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "--no-header", "-p", "no:cacheprovider",
           "-p", "no:randomly", *tests]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return False, time.monotonic() - start, True
    except BaseException:  # interrupted: the tests must not outlive the run
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return code == 0, time.monotonic() - start, False


def load_equivalents():
    """(module, mutated line) pairs listed as equivalent in tests/mutation_equivalents.md."""
    pairs = set()
    if not os.path.exists(EQUIVALENTS):
        return pairs
    row = re.compile(r"^\|\s*`([^`]+)`\s*\|\s*(\d+)\s*\|\s*`(.*?)`\s*\|")
    for line in _read(os.path.relpath(EQUIVALENTS, ROOT)).splitlines():
        m = row.match(line)
        if m:
            pairs.add((m.group(1), int(m.group(2)), m.group(3).replace("\\|", "|").strip()))
    return pairs


def _is_equivalent(equivalents, path, mutant):
    return (path, mutant["line"], mutant["mutant"]) in equivalents


def run_module(path, results, sample=None, seed=0, rerun_survivors=False, deadline=None):
    source = _read(path)
    entry = results.setdefault(path, {})
    if entry.get("source_sha") != _sha(source):
        entry.clear()
        entry["source_sha"] = _sha(source)
        entry["mutants"] = {}
    done = entry["mutants"]
    mutants = list_mutants(path, source)
    entry["generated"] = len(mutants)
    if sample is not None and sample < len(mutants):
        mutants = sorted(random.Random(seed).sample(mutants, sample),
                         key=lambda m: m[0].line_number)
    if rerun_survivors:  # every recorded survivor, whatever the sample (not the equivalents)
        equivalents = load_equivalents()
        todo = [(mid, key) for mid, key in list_mutants(path, source)
                if key in done and done[key]["status"] == "survived"
                and not _is_equivalent(equivalents, path, done[key])]
    else:
        todo = [(mid, key) for mid, key in mutants if key not in done]
    todo = [m for m in (make_mutant(path, source, mid, key) for mid, key in todo) if m]
    if not todo:
        return True
    ok, base, _ = run_tests(path)
    if not ok:
        sys.exit(f"{path}: the tests {TESTS[path]} fail on the unmutated source; fix them first")
    timeout = 3 * base + 60
    print(f"{path}: {len(todo)} mutants to test (baseline {base:.0f} s, timeout {timeout:.0f} s)",
          flush=True)
    try:
        for i, m in enumerate(todo):
            if deadline is not None and time.time() > deadline:
                print(f"{path}: time budget spent, stopping ({i} of {len(todo)} tested)")
                return False
            _write(path, m["source"])
            try:
                ok, seconds, timed_out = run_tests(path, timeout=timeout)
            finally:
                _write(path, source)
            status = "timeout" if timed_out else ("survived" if ok else "killed")
            done[m["key"]] = {"line": m["line"], "original": m["original"],
                              "mutant": m["mutant"], "status": status,
                              "seconds": round(seconds, 1)}
            _save_results(results)
            print(f"  [{i + 1}/{len(todo)}] line {m['line']}: {status} ({seconds:.0f} s)"
                  + (f"   {m['mutant']}" if status == "survived" else ""), flush=True)
    finally:
        _write(path, source)
        if "/_kernels/" in path:
            _clear_kernel_cache(path)
    return True


def report(results, modules=None):
    equivalents = load_equivalents()
    print(f"{'module':40s} {'generated':>9s} {'tested':>6s} {'killed':>6s} {'surv.':>5s} "
          f"{'equiv.':>6s} {'score':>6s}")
    for path in modules or sorted(results):
        entry = results.get(path)
        if not entry or not entry.get("mutants"):
            continue
        if entry.get("source_sha") != _sha(_read(path)):
            print(f"{path:40s} (source changed since the run: rerun)")
            continue
        ms = [m for m in entry["mutants"].values() if not _compile_only(m)]
        killed = sum(m["status"] in ("killed", "timeout") for m in ms)
        equiv = sum(m["status"] == "survived" and _is_equivalent(equivalents, path, m)
                    for m in ms)
        survived = sum(m["status"] == "survived" for m in ms) - equiv
        tested = len(ms)
        score = killed / max(tested - equiv, 1)
        print(f"{path:40s} {entry.get('generated', 0):9d} {tested:6d} {killed:6d} "
              f"{survived:5d} {equiv:6d} {100 * score:5.1f}%")


def survivors(results, modules):
    equivalents = load_equivalents()
    for path in modules:
        for key, m in sorted(results.get(path, {}).get("mutants", {}).items(),
                             key=lambda kv: kv[1]["line"]):
            if (m["status"] == "survived" and not _compile_only(m)
                    and not _is_equivalent(equivalents, path, m)):
                print(f"{path}:{m['line']}  [{key}]\n  - {m['original']}\n  + {m['mutant']}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", help="core modules or folders (default: all)")
    parser.add_argument("--sample", type=int, help="test a seeded random subset per module")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minutes", type=float, help="stop after this many minutes")
    parser.add_argument("--report", action="store_true", help="print the scores only")
    parser.add_argument("--survivors", action="store_true", help="print the live survivors")
    parser.add_argument("--rerun-survivors", action="store_true",
                        help="test the survivors again (after adding tests)")
    parser.add_argument("--count", action="store_true", help="count the mutants per module")
    args = parser.parse_args(argv)
    # a kill must still restore the module being mutated (the finally clauses)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped (SIGTERM)"))
    modules = _expand(args.paths) if args.paths else list(TESTS)
    results = _load_results()
    if args.count:
        for path in modules:
            print(f"{path:40s} {len(list_mutants(path, _read(path))):5d}")
        return 0
    if args.survivors:
        survivors(results, modules)
        return 0
    if not args.report:
        if shutil.which("git") and subprocess.run(
                ["git", "diff", "--quiet", "--", *modules], cwd=ROOT).returncode != 0:
            sys.exit("commit or stash your changes to the modules first: a mutation run "
                     "rewrites them (and restores them) in place")
        deadline = time.time() + 60 * args.minutes if args.minutes else None
        for path in modules:
            if not run_module(path, results, sample=args.sample, seed=args.seed,
                              rerun_survivors=args.rerun_survivors, deadline=deadline):
                break
    report(results, modules)
    return 0


if __name__ == "__main__":
    sys.exit(main())
