"""`models/README.md`'s generated sections, from the registry and `models/cards/` (README §2).

Each model card is written once, in `models/cards/<name>.md`. The README shows the registry as
a table and then every card, headings one level down and links between cards pointing into
`cards/`, between markers; the text around the markers is hand-written. A test fails when the
committed README differs from what this module generates; after editing a card or the
registry, run `python -m benchmark.reporting.model_cards`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from benchmark.core.paths import REPO_ROOT
from benchmark.running.protocol import DELTA, TASK
from benchmark.running.registry import default_registry

MODELS_DIR = REPO_ROOT / "models"
BLOCKS = ("registry", "cards")


def markers(block: str) -> tuple[str, str]:
    """The lines that open and close a generated block."""
    return (
        f"<!-- BEGIN GENERATED {block}: written by `python -m benchmark.reporting.model_cards` "
        "from the registry and models/cards/; edit those, not this -->",
        f"<!-- END GENERATED {block} -->",
    )


def _cards(models_dir: Path) -> dict[str, str]:
    """Registered name -> card text, in registry order, for the models that have a card."""
    folder = models_dir / "cards"
    names = list(default_registry())
    orphans = sorted(p.stem for p in folder.glob("*.md") if p.stem not in names)
    if orphans:
        raise ValueError(f"{folder}: cards {orphans} name no registered model; rename or remove")
    return {n: (folder / f"{n}.md").read_text() for n in names if (folder / f"{n}.md").is_file()}


def _title(card: str) -> str:
    """What a card's first heading says after its dash (`# name — what`)."""
    first = card.splitlines()[0] if card else ""
    return first.split(" — ", 1)[1].strip() if " — " in first else ""


def registry_table(models_dir: Path = MODELS_DIR) -> str:
    """One row per registered model: where its class is, its preset, targets, tags, card."""
    registry, cards = default_registry(), _cards(models_dir)
    lines = [
        "| name | class | preset | targets | trains on valid | tags | what |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in registry:
        entry, cls = registry.entry(name), registry.get(name)
        preset = ", ".join(f"`{k}={v!r}`" for k, v in entry.preset.items()) or ""
        doc = (cls.__doc__ or "").strip().split("\n\n")[0]
        what = _title(cards[name]) if name in cards else " ".join(doc.split())
        shown = f"[`{name}`](cards/{name}.md)" if name in cards else f"`{name}`"
        targets = ", ".join(t for t in (TASK, DELTA) if t in cls.targets)
        lines.append(
            f"| {shown} | `{entry.target}` | {preset} | {targets} | "
            f"{'yes' if cls.trains_on_valid else 'no'} | {', '.join(sorted(entry.tags))} | "
            f"{what} |"
        )
    return "\n".join(lines) + "\n"


def card_section(card: str) -> str:
    """A card as a README section: every heading one level down, card links into cards/."""
    text = re.sub(r"^(#+) ", r"#\1 ", card, flags=re.MULTILINE)
    return re.sub(r"\]\(([\w.-]+\.md)\)", r"](cards/\1)", text).strip() + "\n"


def cards_block(models_dir: Path = MODELS_DIR) -> str:
    """Every card, in registry order, each after a rule."""
    return "".join(f"\n---\n\n{card_section(c)}" for c in _cards(models_dir).values())


def render(text: str, models_dir: Path = MODELS_DIR, path: Path | None = None) -> str:
    """`text` (the README) with each generated block rewritten."""
    body = {"registry": registry_table(models_dir), "cards": cards_block(models_dir)}
    for block in BLOCKS:
        begin, end = markers(block)
        if text.count(begin) != 1 or text.count(end) != 1:
            raise ValueError(f"{path or 'the README'}: needs one {begin!r} ... {end!r} pair")
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{begin}\n{body[block]}{end}{tail}"
    return text


def main(argv: list[str] | None = None) -> int:
    """Rewrite models/README.md; with `--check`, only say whether it is up to date (exit 1)."""
    path = MODELS_DIR / "README.md"
    old = path.read_text()
    new = render(old, path=path)
    if "--check" in (argv if argv is not None else sys.argv[1:]):
        print(f"{path}: {'up to date' if new == old else 'out of date; regenerate it'}")
        return 0 if new == old else 1
    if new != old:
        path.write_text(new)
    print(f"{path}: {'rewritten' if new != old else 'already up to date'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
