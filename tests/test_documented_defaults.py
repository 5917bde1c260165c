"""Every default a docstring states is the default the code uses.

The numpydoc line ``name : type, default=value`` of each parameter of the public
estimators and function forms is read and compared with the signature: a
default changed in the code (or in the text) alone fails here.
"""
import ast
import inspect
import re

import numpy as np
import pytest

import nimf.decomposition
import nimf.neuro
import nimf.ratings
import nimf.tensor

_PUBLIC = [
    nimf.decomposition.OnlineDictionaryLearning, nimf.decomposition.online_dict_learning,
    nimf.decomposition.NMF,
    nimf.decomposition.SparsePCA,
    nimf.ratings.MatrixCompletion,
    nimf.tensor.CPDecomposition,
    nimf.neuro.DictLearning, nimf.neuro.NMF, nimf.neuro.SparsePCA, nimf.neuro.mask_study,
]

_LINE = re.compile(r"^ {4}(\w+) : .*?default=(.+?)\s*$")


def _documented_defaults(obj):
    """{parameter: default text} from the Parameters section of the docstring."""
    doc = inspect.getdoc(obj) or ""
    section = doc.split("Parameters\n----------\n", 1)[1]
    section = re.split(r"\n(Attributes|Returns|See Also|Notes|Examples)\n-+\n", section)[0]
    found = {}
    for line in ("    " + line for line in section.splitlines()):
        match = _LINE.match(line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def _value(text):
    text = text.rstrip(".")
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _same(documented, actual):
    if isinstance(actual, float) or isinstance(documented, float):
        return (isinstance(documented, (int, float)) and isinstance(actual, (int, float))
                and not isinstance(actual, bool) and np.isclose(documented, actual, rtol=0,
                                                                 atol=0))
    if isinstance(actual, str) and isinstance(documented, str):
        return documented.strip("'\"") == actual
    return documented == actual and type(documented) is type(actual)


@pytest.mark.parametrize("obj", _PUBLIC, ids=lambda o: f"{o.__module__}.{o.__name__}")
def test_documented_defaults_are_the_signature_defaults(obj):
    signature = inspect.signature(obj.__init__ if inspect.isclass(obj) else obj)
    documented = _documented_defaults(obj)
    assert len(documented) >= 3, "no 'default=' found in the docstring"
    wrong = []
    for name, text in documented.items():
        if name not in signature.parameters:
            continue  # e.g. a parameter of the estimator documented in a function form
        actual = signature.parameters[name].default
        if actual is inspect.Parameter.empty:
            continue
        if not _same(_value(text), actual):
            wrong.append(f"{name}: documented {text!r}, signature {actual!r}")
    assert not wrong, "; ".join(wrong)
