"""nilearn's own decomposition tests and estimator checks, run on nimf's image estimators.

nilearn's test modules are copied at run time from the installed nilearn (they
are not vendored in this repository) into a temporary folder, rewritten to test
nimf's estimators, and run by pytest in a subprocess (with the rerun plugin
off: nilearn marks its checks flaky with 10 reruns each):

- ``test_decomposition_estimators.py``: scikit-learn's and nilearn's estimator
  checks on nimf's ``DictLearning``, ``NMF`` and ``SparsePCA`` (one subprocess
  per estimator), and nilearn's common decomposition tests on nimf's
  ``DictLearning`` in place of nilearn's (those of nilearn's ``CanICA`` and
  ``_MultiPCA`` are deselected: they test nilearn's own estimators);
- ``test_dict_learning.py``: on nimf's ``DictLearning`` in place of nilearn's.

nilearn's checks pick their test data and some expectations by class:
``isinstance(estimator, _BaseDecomposition)`` (lists of images in and out of
``transform``, 4D data, ``set_output`` not available) and
``isinstance(estimator, DictLearning)`` (one subject of 200 scans).  nimf's
classes are added to those two names of ``nilearn._utils.estimator_checks`` in
the copied conftest, so that the checks treat nimf's estimators as the
decomposition estimators they are.  Without it the checks fit them on one 3D
image of random values, which nilearn's own ``DictLearning`` cannot fit either
(its computed mask is empty).  No check is changed or skipped otherwise.

The test fails when any test fails that is not listed in ``EXPECTED_FAILURES``
below, each with the reason it cannot pass, and when a listed one passes (so
the list stays true).  The failures that remain, and why:

- ``check_doc_link`` (3 estimators): the check requires the documentation link
  to match ``https://nilearn.github.io/<version>/modules/generated/nilearn.
  neuro.<Estimator>.html``: a page of nilearn's site, for a name nilearn does
  not have.  nimf's estimators are not nilearn's; such a link would be broken.
- scikit-learn's ``check_transformer_n_iter`` (``NMF``): it fits a 2D numpy
  array; nimf's image estimators take images, as all of nilearn's image
  estimators (nilearn lists scikit-learn's array checks as expected failures of
  its image estimators; this one is missing from its list only because none of
  its decomposition estimators has a ``max_iter`` parameter).  The array is
  refused with a clear ``TypeError``; ``nimf.decomposition.NMF`` takes arrays.
- ``test_transform_confounds[nifti-DictLearning]``: nimf's ``transform`` cleans
  the images exactly as ``fit`` does, with ``detrend=True`` (the default of
  both libraries); the test's confounds are two linear ramps, which detrending
  has already removed, so regressing them out changes nothing.  nilearn's
  ``transform`` projects the images through a maps masker that does not
  detrend, where the ramps do change the signals.  With confounds that are not
  ramps, nimf's ``transform`` changes too
  (``tests/test_neuro_dict_learning.py::test_transform_confounds_change_signals``).
- ``test_error_non_multi_masker`` (4 cases): nilearn refuses a ``NiftiMasker``
  or ``SurfaceMasker`` as ``mask`` (it wants their multi-image versions); nimf
  accepts them and uses their mask and settings (it masks each image itself).
  Every call nilearn accepts, nimf accepts too.
"""

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import nimf

nilearn = pytest.importorskip("nilearn")

NILEARN_TESTS = Path(nilearn.__file__).parent / "decomposition" / "tests"
REPO_ROOT = Path(nimf.__file__).resolve().parents[1]

# one subprocess may take this long before the test fails (seconds)
TIMEOUT = 600

# the estimators checked, with fewer passes than their defaults: nilearn's
# checks fit each one about 170 times (every input dtype times every dtype
# parameter, with and without a cache), and what they check does not depend on
# how far the learning goes
CHECKED = {
    "DictLearning": "DictLearning(n_epochs=1)",
    "NMF": "NMF(max_iter=10)",
    "SparsePCA": "SparsePCA(n_epochs=1)",
}

EXPECTED_FAILURES = {
    **{f"{name}::check_doc_link": "the link nilearn's check requires is a page of nilearn's "
       "site for a class nilearn does not have" for name in ("DictLearning", "NMF", "SparsePCA")},
    "NMF::check_transformer_n_iter": "scikit-learn's check fits a numpy array; image "
    "estimators take images (nimf.decomposition.NMF takes arrays)",
    "test_transform_confounds[nifti-DictLearning]": "the test's confounds are linear ramps, "
    "already removed by the detrending that nimf's transform applies as fit does",
    **{f"test_error_non_multi_masker[{n}-{kind}-DictLearning]": "nimf accepts NiftiMasker and "
       "SurfaceMasker as mask, which nilearn refuses" for n in (1, 3)
       for kind in ("nifti", "surface")},
}

HEADER = '''
# ---- added by nimf's tests/test_nilearn_checks.py: nilearn's checks treat nimf's
# ---- image estimators as the decomposition estimators they are
import nilearn._utils.estimator_checks as _nilearn_checks
from nilearn.decomposition import DictLearning as _NilearnDictLearning
from nilearn.decomposition._base import _BaseDecomposition as _NilearnBaseDecomposition

import nimf.neuro
from nimf.neuro._base import BaseImageDecomposition as _NimfBaseDecomposition

_nilearn_checks._BaseDecomposition = (_NilearnBaseDecomposition, _NimfBaseDecomposition)
_nilearn_checks.DictLearning = (_NilearnDictLearning, nimf.neuro.DictLearning)
# ---- end of nimf's addition
'''

INI = """[pytest]
markers =
    slow: nilearn's slow tests
    thread_unsafe: nilearn's thread-unsafe tests
    flaky: nilearn's flaky tests (reruns are off)
"""


def _rewrite(text, old, new, what):
    if text.count(old) != 1:
        raise AssertionError(
            f"cannot rewrite nilearn's {what} for nimf: expected the line {old!r} once, found "
            f"it {text.count(old)} times (did nilearn's test module change?)")
    return text.replace(old, new)


def _prepare(folder):
    """Copy nilearn's decomposition test modules into ``folder``, rewritten for nimf."""
    missing = [name for name in ("conftest.py", "test_decomposition_estimators.py",
                                 "test_dict_learning.py") if not (NILEARN_TESTS / name).is_file()]
    assert not missing, f"the installed nilearn has no {missing} in {NILEARN_TESTS}"
    conftest = (NILEARN_TESTS / "conftest.py").read_text()
    (folder / "conftest.py").write_text(HEADER + conftest)

    text = (NILEARN_TESTS / "test_decomposition_estimators.py").read_text()
    text = _rewrite(text, "from nilearn.decomposition import CanICA, DictLearning\n",
                    "import os\n\nfrom nilearn.decomposition import CanICA\n"
                    "import nimf.neuro\nfrom nimf.neuro import DictLearning\n",
                    "test_decomposition_estimators.py")
    text = _rewrite(text, "ESTIMATORS_TO_CHECK = [DictLearning(), CanICA()]\n",
                    f"_NIMF_CHECKED = {CHECKED!r}\n"
                    "ESTIMATORS_TO_CHECK = [eval('nimf.neuro.' + _NIMF_CHECKED[name]) for name\n"
                    "                       in os.environ['NIMF_ESTIMATORS'].split(',') if name]\n",
                    "test_decomposition_estimators.py")
    (folder / "test_decomposition_estimators.py").write_text(text)

    text = (NILEARN_TESTS / "test_dict_learning.py").read_text()
    text = _rewrite(text, "from nilearn.decomposition.dict_learning import DictLearning\n",
                    "from nimf.neuro import DictLearning\n", "test_dict_learning.py")
    (folder / "test_dict_learning.py").write_text(text)
    (folder / "pytest.ini").write_text(INI)


def _run(folder, args, estimators=""):
    """Run pytest in ``folder``; return {test name: outcome} from its JUnit report."""
    report = folder / f"report-{len(list(folder.glob('report-*.xml')))}.xml"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])
    env["NIMF_ESTIMATORS"] = estimators
    command = [sys.executable, "-m", "pytest", "-c", str(folder / "pytest.ini"),
               "--rootdir", str(folder), "-p", "nilearn.conftest", "-p", "no:rerunfailures",
               "-p", "no:cacheprovider", "-q", "-o", "junit_family=xunit2",
               f"--junitxml={report}", *args]
    proc = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert report.is_file(), f"pytest wrote no report:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = case.get("name")
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        elif case.find("skipped") is not None:
            skipped = case.find("skipped")
            outcome = "xfailed" if skipped.get("type") == "pytest.xfail" else "skipped"
        else:
            outcome = "passed"
        outcomes[name] = outcome
    return outcomes, proc.stdout


def _key(name, estimators):
    """``Estimator::check`` for an estimator check, the test's name otherwise."""
    match = re.fullmatch(r"test_check_estimator_(?:nilearn|sklearn)\[(.*)\]", name)
    if not match:
        return name
    check = match.group(1).split("-")[-1]
    return f"{estimators}::{check}"


def _assert_outcomes(outcomes, stdout, estimators=""):
    assert outcomes, f"no test ran:\n{stdout[-4000:]}"
    failed = sorted(_key(name, estimators) for name, outcome in outcomes.items()
                    if outcome == "failed")
    unexpected = [key for key in failed if key not in EXPECTED_FAILURES]
    assert not unexpected, (
        f"nilearn's tests failed on nimf: {unexpected}\n{stdout[-20000:]}")
    ran = {_key(name, estimators) for name in outcomes}
    now_passing = [key for key in EXPECTED_FAILURES if key in ran and key not in failed]
    assert not now_passing, (
        f"these tests are listed as expected failures but pass: remove them from "
        f"EXPECTED_FAILURES: {now_passing}")
    # nilearn's tests skip nothing on a machine with the GIL: a skip is a test not
    # run, but for scikit-learn's array API check (it needs array-api-strict)
    skipped = [name for name, outcome in outcomes.items() if outcome == "skipped"
               and "check_array_api_input" not in name]
    assert not skipped, f"nilearn's tests skipped {skipped}:\n{stdout[-4000:]}"


@pytest.fixture(scope="module")
def nilearn_tests(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nilearn_decomposition_tests")
    _prepare(folder)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


# nilearn's three dtype checks fit each estimator about 150 times (every input
# dtype times every value of ``dtype``, with and without a cache); what they
# check (dtypes of the masked data and of what transform and inverse_transform
# return) is done by the base class shared by the three estimators, so they run
# on DictLearning only, to keep the suite fast
SELECTION = {
    "DictLearning": "test_check_estimator",
    "NMF": "test_check_estimator and not check_img_estimator_dtypes",
    "SparsePCA": "test_check_estimator and not check_img_estimator_dtypes",
}


@pytest.mark.parametrize("estimator", ["DictLearning", "NMF", "SparsePCA"])
def test_nilearn_estimator_checks(nilearn_tests, estimator):
    """scikit-learn's and nilearn's estimator checks, as nilearn runs them on its own."""
    outcomes, stdout = _run(nilearn_tests, ["test_decomposition_estimators.py", "-k",
                                            SELECTION[estimator]], estimator)
    assert any(name.startswith("test_check_estimator_nilearn") for name in outcomes)
    _assert_outcomes(outcomes, stdout, estimator)


def test_nilearn_decomposition_tests(nilearn_tests):
    """nilearn's common decomposition tests and DictLearning tests, on nimf's DictLearning."""
    outcomes, stdout = _run(nilearn_tests, [
        "test_decomposition_estimators.py", "test_dict_learning.py", "-k",
        "not test_check_estimator and not CanICA and not test_with_confounds"])
    assert any(name.startswith("test_component_sign") for name in outcomes)
    _assert_outcomes(outcomes, stdout)
