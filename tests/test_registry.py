"""The registry: lazy names, did-you-mean errors, submitters' files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from benchmark.running.protocol import Predictor
from benchmark.running.registry import UnknownModelError, get_model_class, registered

TOY = Path(__file__).parent / "helpers" / "toy_models.py"


def test_unknown_name_suggests_the_closest_and_lists_all():
    with pytest.raises(UnknownModelError) as error:
        get_model_class("lstn")
    message = str(error.value)
    assert message.startswith("Unknown model 'lstn'. Did you mean: lstm")
    assert "Available: " in message and "markov" in message


def test_registered_names_resolve_lazily_to_predictors():
    sys.modules.pop("models.reference", None)
    names = registered()
    assert "models.reference" not in sys.modules
    assert {"majority", "markov", "ewma"} <= set(names)
    assert issubclass(get_model_class("markov"), Predictor)


def test_a_submitters_file_loads_by_path():
    assert get_model_class(f"{TOY}:LastTask").name == "last_task"


def test_a_missing_class_in_a_file_names_the_classes_there():
    with pytest.raises(UnknownModelError, match=r"defines no class 'Nope'.*LastTask"):
        get_model_class(f"{TOY}:Nope")


def test_a_non_predictor_is_refused():
    with pytest.raises(UnknownModelError, match="not a Predictor"):
        get_model_class("pathlib:Path")
