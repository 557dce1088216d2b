"""The order the report lists assets in: the asset graph's, upstream before downstream.

The graph is read from the instance itself, from the job snapshots its runs recorded (each
holds which op feeds which), so the report needs neither the definitions nor their imports.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from graphlib import CycleError, TopologicalSorter

import dagster as dg

_log = logging.getLogger(__name__)


def upstream_by_node(instance: dg.DagsterInstance, run_ids: Iterable[str]) -> dict[str, set[str]]:
    """Each op's upstream ops (and the names of its inputs), over these runs' job snapshots."""
    upstream: dict[str, set[str]] = {}
    seen: set[str] = set()
    for run_id in run_ids:
        run = instance.get_run_by_id(run_id)
        if run is None or not run.job_snapshot_id or run.job_snapshot_id in seen:
            continue
        seen.add(run.job_snapshot_id)
        try:
            snapshot = instance.get_job_snapshot(run.job_snapshot_id)
        except Exception as exc:  # an unreadable snapshot only costs the ordering
            _log.warning("job snapshot of run %s unreadable: %s", run_id, exc)
            continue
        # A run of a selection holds only the selected ops; their inputs still name the
        # upstream assets they load (an asset op's input is named after its asset).
        inputs = {
            op.name: {i.name for i in op.input_def_snaps}
            for op in snapshot.node_defs_snapshot.op_def_snaps
        }
        for node in snapshot.dep_structure_snapshot.node_invocation_snaps:
            ups = upstream.setdefault(node.node_name, set())
            ups.update(inputs.get(node.node_def_name, set()))
            for dep in node.input_dep_snaps:
                ups.update(handle.node_name for handle in dep.upstream_output_snaps)
    return upstream


def graph_order(assets: Sequence[str], upstream: Mapping[str, set[str]]) -> list[str]:
    """`assets` (user strings of asset keys) upstream first; ties and unknowns by name."""
    node_of = {name: dg.AssetKey.from_user_string(name).to_python_identifier() for name in assets}
    name_of = {node: name for name, node in node_of.items()}
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for node, ups in upstream.items():
        sorter.add(node, *ups)
    rank: dict[str, int] = {}
    try:
        sorter.prepare()
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            for node in ready:
                if node in name_of:
                    rank[name_of[node]] = len(rank)
            sorter.done(*ready)
    except CycleError:  # op graphs are acyclic; an odd snapshot falls back to names
        rank = {}
    return sorted(assets, key=lambda n: (rank.get(n, len(rank)), n))
