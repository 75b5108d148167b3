"""The README's submitter example is real code: it loads and passes the conformance suite."""

from __future__ import annotations

import re
from pathlib import Path

from benchmark.running.conformance import check_predictor
from benchmark.running.registry import get_model_class

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_passes_the_conformance_suite(tmp_path, excerpt):
    text = README.read_text()
    block = re.search(r"```python\n(   # my_model\.py.*?)```", text, re.S)
    assert block, "README lost its my_model.py example"
    code = "\n".join(line[3:] for line in block.group(1).splitlines())
    path = tmp_path / "my_model.py"
    path.write_text(code)
    cls = get_model_class(f"{path}:LastTask")
    failures = [r for r in check_predictor(cls(), excerpt) if not r.passed]
    assert failures == []
