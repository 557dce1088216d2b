"""`memwise cluster up|down|status`: a local cluster to try the deployment on one machine."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from memwise_assets.cluster.local import DEFAULT_HOSTS, Host, LocalCluster, load_state

DEFAULT_ROOT = ".memwise_cluster"


def _host(text: str) -> Host:
    name, _, pool = text.partition("=")
    try:
        return Host(name, float(pool))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--host takes NAME=POOL_MB (e.g. host-a=3072); got {text!r}"
        ) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `memwise cluster`."""
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument(
        "--root",
        default=DEFAULT_ROOT,
        help=f"Folder of the cluster's servers, hosts and outputs (default {DEFAULT_ROOT}).",
    )
    parser.add_argument(
        "--host",
        action="append",
        type=_host,
        help="A worker standing for a host, NAME=POOL_MB; repeat it (default: "
        + ", ".join(f"{h.name}={h.pool_mb:.0f}" for h in DEFAULT_HOSTS)
        + ").",
    )


def run(args: argparse.Namespace) -> int:
    """Start, stop or describe the cluster under --root."""
    root = Path(args.root).resolve()
    if args.action == "up":
        if (root / "cluster.json").exists() and load_state(root).pids:
            raise RuntimeError(f"a cluster is already up at {root}: `memwise cluster down` first")
        state = LocalCluster(root, args.host or DEFAULT_HOSTS).up()
        print(f"cluster up at {root}")
        print(f"  webserver  http://127.0.0.1:{state.webserver_port}")
        print(f"  postgres   127.0.0.1:{state.pg_port} (database dagster, user memwise)")
        print(f"  broker     redis://127.0.0.1:{state.redis_port}/0")
        for name, queues in state.queues.items():
            print(f"  {name:<10} queues {', '.join(queues)}")
        print(f"  logs       {root / 'logs'};  stop with: memwise cluster down --root {root}")
        return 0
    if args.action == "down":
        LocalCluster.attach(root).down()
        print(f"cluster at {root} stopped")
        return 0
    print(json.dumps(load_state(root).__dict__, indent=2))
    return 0
