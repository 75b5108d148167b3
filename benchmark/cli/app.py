"""The one typer application; each `benchmark/cli/<part>.py` adds its commands to it."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="kernel-oracle",
    help="Predict the Linux scheduler's next move: data, evaluation, tuning and the leaderboard.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
