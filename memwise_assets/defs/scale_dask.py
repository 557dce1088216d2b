"""dagster-dask's executor, with step arguments Dask's task parser cannot walk kept opaque.

dagster-dask 0.29 hands `client.submit` the run, job pointer and instance ref as bare
arguments. Dask >= 2025 walks every tuple argument looking for futures; Dagster's run
(a NamedTuple holding `@record` fields that forbid iteration) then fails the whole run
before any step starts. Wrapping them in a plain object keeps Dask's hands off them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
import dask.distributed
from dagster._core.errors import raise_execution_interrupts
from dagster._core.events import DagsterEvent
from dagster._core.execution.context.system import PlanOrchestrationContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._utils import iterate_with_context
from dagster_dask.executor import (
    DaskExecutor,
    dask_executor,
    get_dask_resource_requirements,
    query_on_dask_worker,
)


@dataclass(frozen=True)
class _Opaque:
    """A picklable box Dask does not look inside."""

    value: Any


def _run_step(dependencies: Sequence[Any], box: _Opaque) -> list[DagsterEvent]:
    # `dependencies` (futures of upstream steps) stays bare: Dask orders tasks by it.
    return list(query_on_dask_worker(dependencies, *box.value))


class MemwiseDaskExecutor(DaskExecutor):
    """DaskExecutor whose tasks carry the run, job and instance ref in an opaque box."""

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        if not plan_context.instance.is_persistent:
            raise dg.DagsterInvariantViolationError(
                "Dask execution needs a persistent instance: set DAGSTER_HOME"
            )
        if self.cluster_type == "existing":
            cluster: Any = self.cluster_configuration["address"]
        elif self.cluster_type == "local":
            cluster = dask.distributed.LocalCluster(**self.build_dict(plan_context.job_name))
        else:
            raise dg.DagsterInvariantViolationError(
                f"memwise's Dask executor supports clusters 'existing' and 'local'; got "
                f"{self.cluster_type!r} (start that cluster yourself and pass its address)"
            )
        with dask.distributed.Client(cluster) as client:
            futures: dict[str, Any] = {}
            for level in execution_plan.get_steps_to_execute_by_level():
                for step in level:
                    dependencies = [
                        futures[key] for inp in step.step_inputs for key in inp.dependency_keys
                    ]
                    box = _Opaque(
                        (
                            plan_context.reconstructable_job,
                            plan_context.dagster_run,
                            plan_context.run_config,
                            [step.key],
                            plan_context.instance.get_ref(),
                            execution_plan.known_state,
                        )
                    )
                    futures[step.key] = client.submit(
                        _run_step,
                        dependencies,
                        box,
                        key=f"{plan_context.job_name}.{step.key}",
                        resources=get_dask_resource_requirements(step.tags),
                    )
            done = dask.distributed.as_completed(list(futures.values()), with_results=True)
            for _future, events in iterate_with_context(raise_execution_interrupts, done):
                yield from events


@dg.executor(
    name="dask",
    config_schema=dask_executor.config_schema,
    requirements=dg.multiple_process_executor_requirements(),
)
def memwise_dask_executor(init_context: dg.InitExecutorContext) -> MemwiseDaskExecutor:
    """dagster-dask's `dask_executor` (same config), runnable on current Dask releases."""
    ((cluster_type, cluster_config),) = init_context.executor_config["cluster"].items()
    return MemwiseDaskExecutor(cluster_type, cluster_config)
