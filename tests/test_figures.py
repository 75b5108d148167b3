"""Figures: every figure is drawn (PNG + PDF) from real result files on a small synthetic trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.reporting.figures import FIGURES, make_figures
from benchmark.running.harness import evaluate, plan
from tests.fixtures.synthetic import write_data_root

CURVE = Path(__file__).parent / "fixtures" / "tuning_models.py"


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[Path, Path]:
    """Results of the reference models and a model with a training curve on two traces."""
    data = write_data_root(tmp_path_factory.mktemp("data"), {"syn": 2500, "syn2": 2000})
    root = tmp_path_factory.mktemp("lb")
    mp = pytest.MonkeyPatch()
    mp.setenv("KERNEL_ORACLE_DATA", str(data))
    mp.setenv("KERNEL_ORACLE_LEADERBOARD", str(root))
    specs = plan(
        ["majority", "markov", "ewma", f"{CURVE}:WithCurve"],
        None,
        1,
        data_root=data,
        online_steps=50,
    )
    results = evaluate(specs, root, quiet=True)
    assert all(r["status"] == "ok" for r in results), [r["error"] for r in results]
    yield root, data
    mp.undo()


def test_every_figure_is_drawn_as_png_and_pdf(stored, tmp_path):
    root, data = stored
    out = tmp_path / "figures"
    done = make_figures(root, data, out)
    assert set(done) == set(FIGURES)
    for name, files in done.items():
        assert isinstance(files, list), f"{name}: {files}"
        assert sorted(p.suffix for p in files) == [".pdf", ".png"]
        for path in files:
            assert path.stat().st_size > 2000, path
            head = path.read_bytes()[:8]
            assert head.startswith(b"\x89PNG") or head.startswith(b"%PDF")
    readme = (out / "README.md").read_text()
    assert "1-10 µs" in readme and "free run" in readme


def test_a_figure_without_its_inputs_is_skipped_with_a_reason(stored, tmp_path):
    _, data = stored
    done = make_figures(tmp_path / "empty", data, tmp_path / "figs", only=["training_curves"])
    assert done["training_curves"].startswith("skipped:")


def test_an_unknown_figure_name_is_a_clear_error(stored, tmp_path):
    root, data = stored
    with pytest.raises(KeyError, match="unknown figure"):
        make_figures(root, data, tmp_path, only=["pie_chart"])
