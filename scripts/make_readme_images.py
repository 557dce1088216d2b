"""Draw the README's pictures: the asset graph (from the definitions) and a memory plot.

    python scripts/make_readme_images.py                 # runs a short demo in a temp home
    python scripts/make_readme_images.py --home PATH     # uses an instance that has run the demo

Writes docs/images/asset_graph.png and docs/images/memory_plot.png (the report's figure
named by --plot, default "stages").
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

REPO = Path(__file__).resolve().parents[1]
IMAGES = REPO / "docs" / "images"
PLOTS = ("stages", "asset_memory", "estimate_quality", "run_steps", "ledger", "asset_time")
BOX_W, BOX_H = 2.6, 0.62
GROUP_COLOURS = ["#dbe9f6", "#fde2c8", "#d7f0d9", "#eadcf3", "#f9d7d7", "#f3f0c9"]


def _partition_note(node: object) -> str:
    partitions = getattr(node, "partitions_def", None)
    if partitions is None:
        return "unpartitioned"
    name = type(partitions).__name__.replace("PartitionsDefinition", "").lower()
    return f"{name} partitions"


def _layout(graph: object) -> dict[object, tuple[float, float]]:
    """x by dependency level; y within a level ordered by the parents' mean y (fewer crossings)."""
    positions: dict[object, tuple[float, float]] = {}
    for level, keys in enumerate(graph.toposorted_asset_keys_by_level):

        def rank(key: object) -> tuple[float, str]:
            parents = [positions[p][1] for p in graph.get(key).parent_keys if p in positions]
            return (sum(parents) / len(parents) if parents else -1.0, key.to_user_string())

        ordered = sorted(keys, key=rank)
        for row, key in enumerate(ordered):
            positions[key] = (level * (BOX_W + 1.1), row * (BOX_H + 0.55))
    return positions


def draw_asset_graph(path: Path) -> Path:
    """The asset graph of memwise_assets.definitions.defs: boxes by level, arrows per dependency."""
    from memwise_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    positions = _layout(graph)
    groups = sorted({graph.get(k).group_name or "default" for k in positions})
    colour = {g: GROUP_COLOURS[i % len(GROUP_COLOURS)] for i, g in enumerate(groups)}
    width = max(x for x, _ in positions.values()) + BOX_W + 0.4
    height = max(y for _, y in positions.values()) + BOX_H + 0.8
    fig = Figure(figsize=(width * 1.05, height * 1.05))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-0.2, width - 0.2)
    ax.set_ylim(height - 0.3, -0.9)
    ax.set_axis_off()
    for key, (x, y) in positions.items():
        node = graph.get(key)
        group = node.group_name or "default"
        ax.add_patch(
            FancyBboxPatch(
                (x, y), BOX_W, BOX_H, boxstyle="round,pad=0.02,rounding_size=0.08",
                facecolor=colour[group], edgecolor="#44505c", linewidth=1.0,
            )
        )  # fmt: skip
        ax.text(x + BOX_W / 2, y + 0.22, key.to_user_string(), ha="center", va="center",
                fontsize=10, fontweight="bold", color="#1d232b")  # fmt: skip
        ax.text(x + BOX_W / 2, y + 0.46, f"{group} · {_partition_note(node)}", ha="center",
                va="center", fontsize=7.5, color="#44505c")  # fmt: skip
        for parent in node.parent_keys:
            if parent not in positions:
                continue
            px, py = positions[parent]
            if x - px > BOX_W + 1.2:
                # An edge that skips a level arcs over the boxes in between, from top to top.
                start, end, bend = (px + BOX_W * 0.8, py), (x + BOX_W * 0.2, y), "arc3,rad=-0.25"
            else:
                start, end = (px + BOX_W, py + BOX_H / 2), (x, y + BOX_H / 2)
                bend = "arc3,rad=0.0" if py == y else "arc3,rad=-0.12"
            ax.add_patch(
                FancyArrowPatch(
                    start, end, arrowstyle="-|>", mutation_scale=12, color="#44505c",
                    linewidth=1.1, connectionstyle=bend,
                )
            )  # fmt: skip
    ax.text(-0.1, height - 0.55, "memwise asset graph (drawn from memwise_assets.definitions.defs)",
            fontsize=9, color="#5b6570")  # fmt: skip
    fig.savefig(path, dpi=110, format="png")
    return path


def demo_instance(home: Path, start: str, end: str) -> Path:
    """Run `memwise demo` (the library call) into `home` and return it."""
    from memwise_assets.cli.demo import demo_home, run_demo

    run_demo(demo_home(str(home)), start=start, end=end, say=print)
    return home


def draw_memory_plot(home: Path, path: Path, plot: str) -> Path:
    """Build the memory report of `home` and copy its figure `plot` to `path`."""
    import os

    import dagster as dg

    from memwise_assets.report import build_report

    os.environ["DAGSTER_HOME"] = str(home)
    with tempfile.TemporaryDirectory() as out, dg.DagsterInstance.from_config(str(home)) as inst:
        page = build_report(inst, out)
        shutil.copyfile(page.parent / f"{plot}.png", path)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="Dagster home that has run the demo (default: a new one).")
    parser.add_argument("--plot", choices=PLOTS, default="stages", help="Report figure to use.")
    parser.add_argument("--start", default="2024-07", help="First monthly partition of the demo.")
    parser.add_argument("--end", default="2024-12", help="Last monthly partition of the demo.")
    args = parser.parse_args(argv)
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(args.home) if args.home else demo_instance(Path(scratch), args.start, args.end)
        written = [
            draw_asset_graph(IMAGES / "asset_graph.png"),
            draw_memory_plot(home.resolve(), IMAGES / "memory_plot.png", args.plot),
        ]
    for image in written:
        print(f"wrote {image.relative_to(REPO)} ({image.stat().st_size / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
