"""models/README.md repeats the cards and the registry through a generator; it is up to date."""

from __future__ import annotations

import shutil

import pytest

from benchmark.reporting import model_cards
from benchmark.running.registry import registered, tagged


def test_the_committed_models_readme_is_up_to_date():
    path = model_cards.MODELS_DIR / "README.md"
    text = path.read_text()
    assert model_cards.render(text) == text, "run `python -m benchmark.reporting.model_cards`"


def test_every_card_appears_once_in_the_readme_and_every_learned_model_has_one():
    text = (model_cards.MODELS_DIR / "README.md").read_text()
    cards = sorted((model_cards.MODELS_DIR / "cards").glob("*.md"))
    for card in cards:
        title = card.read_text().splitlines()[0]  # "# `lstm` — ..."
        assert text.count(f"\n#{title}\n") == 1, card.name
    learned = set(registered()) - set(tagged("reference"))
    assert {c.stem for c in cards} == learned


def test_a_card_becomes_a_section_one_level_down_with_links_into_cards():
    card = "# `x` — a model\n\nSee [y.md](y.md) and [site](https://a.b/c.md).\n\n## Part\n"
    assert model_cards.card_section(card) == (
        "## `x` — a model\n\nSee [y.md](cards/y.md) and [site](https://a.b/c.md).\n\n### Part\n"
    )


def test_an_orphan_card_or_a_missing_marker_is_refused(tmp_path):
    models_dir = tmp_path / "models"
    shutil.copytree(model_cards.MODELS_DIR / "cards", models_dir / "cards")
    (models_dir / "cards" / "ghost.md").write_text("# `ghost` — nothing\n")
    text = (model_cards.MODELS_DIR / "README.md").read_text()
    with pytest.raises(ValueError, match=r"cards \['ghost'\] name no registered model"):
        model_cards.render(text, models_dir)
    with pytest.raises(ValueError, match="needs one"):
        model_cards.render(text.replace(model_cards.markers("cards")[1], ""))


def test_the_registry_table_has_one_row_per_entry_with_its_preset():
    rows = model_cards.registry_table().splitlines()[2:]
    assert len(rows) == len(registered())
    gru = next(r for r in rows if r.startswith("| [`gru`]"))
    assert "`models.rnn:RNNPredictor` | `cell='gru'` | task, delta | no | neural, stochastic" in gru
