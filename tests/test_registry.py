"""The registry: lazy entries with a cache, its consistency checks, presets, tags, files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import models
from benchmark.running import registry as reg
from benchmark.running.protocol import Predictor
from benchmark.running.registry import (
    Registry,
    RegistryError,
    UnknownModelError,
    build_model,
    get_model_class,
    model_defaults,
    model_label,
    model_tags,
    registered,
    tagged,
)

TOY = Path(__file__).parent / "helpers" / "toy_models.py"
ROOT = Path(__file__).resolve().parents[1]


def test_unknown_name_suggests_the_closest_and_lists_all():
    with pytest.raises(UnknownModelError) as error:
        get_model_class("lstn")
    message = str(error.value)
    assert message.startswith("Unknown model 'lstn'. Did you mean: lstm")
    assert "Available: " in message and "markov" in message


def test_listing_names_and_tags_imports_no_model():
    code = (
        "import sys; from benchmark.running.registry import registered, tagged, model_tags; "
        "import models; names = registered(); refs = tagged('reference'); "
        "t = model_tags('lstm'); "
        "heavy = [m for m in ('torch', 'lightgbm', 'models.reference', 'models.rnn') "
        "if m in sys.modules]; print(sorted(names) == sorted(models.REGISTRY), refs, sorted(t), "
        "heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "True ('majority', 'markov', 'ewma', 'repeat_period') ['neural', 'stochastic'] []"


def test_every_entry_materialises_and_matches_its_class():
    """A plain entry's name is the class's `name`; preset keys are parameters; tags agree."""
    for name in registered():
        cls = get_model_class(name)
        assert issubclass(cls, Predictor)
        if name not in models.PRESETS:
            assert cls.name == name
        assert frozenset(cls.tags) == model_tags(name)


def test_reference_and_neural_lists_derive_from_the_tags():
    references = ("majority", "markov", "ewma", "repeat_period")
    assert models.REFERENCE == tagged("reference") == references
    assert models.NEURAL == tagged("stochastic") == ("lstm", "gru", "kernel_oracle_lstm")


def test_presets_are_applied_by_build_and_defaults():
    assert build_model("gru").get_params()["cell"] == "gru"
    assert model_defaults("lstm")["cell"] == "lstm"
    assert model_defaults("markov") == {"order": 2, "alpha": 0.05, "min_count": 1}
    assert build_model("markov", {"order": 3}).get_params()["order"] == 3


def test_a_class_is_imported_once_and_cached(monkeypatch):
    calls = []
    real = reg._import_target

    def counting(target):
        calls.append(target)
        return real(target)

    monkeypatch.setattr(reg, "_import_target", counting)
    registry = Registry()
    registry.register("last_task", "tests.helpers.toy_models:LastTask")
    first, second = registry.get("last_task"), registry.get("last_task")
    assert first is second and calls == ["tests.helpers.toy_models:LastTask"]


def test_a_name_registered_twice_is_refused():
    registry = Registry()
    registry.register("last_task", "tests.helpers.toy_models:LastTask")
    with pytest.raises(RegistryError, match="registered twice"):
        registry.register("last_task", "tests.helpers.toy_models:Leaky")
    with pytest.raises(RegistryError, match="are one model"):
        registry.register("again", "tests.helpers.toy_models:LastTask")


def test_a_key_that_is_not_the_class_name_is_refused():
    registry = Registry()
    registry.register("markov2", "models.reference:Markov")
    with pytest.raises(RegistryError, match=r"class's name is 'markov'"):
        registry.get("markov2")


def test_drifted_tags_and_unknown_preset_keys_are_refused():
    registry = Registry()
    registry.register("markov", "models.reference:Markov", tags={"stochastic"})
    with pytest.raises(RegistryError, match=r"tags \['stochastic'\].*\['reference'\]"):
        registry.get("markov")
    registry.register("deep", "models.reference:Markov", preset={"depth": 3}, tags={"reference"})
    with pytest.raises(RegistryError, match=r"preset \['depth'\] are not constructor"):
        registry.get("deep")
    with pytest.raises(RegistryError, match="unknown tags"):
        Registry().register("x", "models.reference:Markov", tags={"fast"})


def test_orphan_rows_in_the_side_tables_are_refused(monkeypatch):
    monkeypatch.setitem(models.PRESETS, "ghost", {"cell": "lstm"})
    with pytest.raises(RegistryError, match=r"models.PRESETS names unregistered.*ghost"):
        registered()


def test_a_patched_table_is_seen(monkeypatch):
    monkeypatch.setitem(models.REGISTRY, "ghost", "models.ghost_that_does_not_exist:Ghost")
    assert "ghost" in registered()
    with pytest.raises(UnknownModelError, match="no module named"):
        get_model_class("ghost")


def test_a_submitters_file_loads_by_path_with_its_own_tags():
    cls = get_model_class(f"{TOY}:SeededNoise")
    assert cls.name == "seeded_noise" and model_tags(f"{TOY}:SeededNoise") == {"stochastic"}
    assert model_label(f"{TOY}:SeededNoise", cls) == "seeded_noise"
    assert model_label("gru", get_model_class("gru")) == "gru"


def test_a_missing_class_in_a_file_names_the_classes_there():
    with pytest.raises(UnknownModelError, match=r"defines no class 'Nope'.*LastTask"):
        get_model_class(f"{TOY}:Nope")


def test_a_non_predictor_is_refused():
    with pytest.raises(UnknownModelError, match="not a Predictor"):
        get_model_class("pathlib:Path")


def test_a_file_is_named_with_its_class():
    with pytest.raises(UnknownModelError, match=r"Name the class too: .*toy_models.py:MyPredictor"):
        get_model_class(str(TOY))
