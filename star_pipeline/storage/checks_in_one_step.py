"""Several asset checks evaluated in one Dagster step: each stays its own check in the UI (its asset, name,
description, blocking), but a run pays Dagster's cost of a step once for them all.

A step costs Dagster some 20-40 ms of events and bookkeeping whatever it does (measured: 60 assets as 60 steps
1.4-2.5 s, as one multi-asset 0.8 s), and most checks are one small query: the checks that gate the same assets
share one step. A blocking check in such a step holds back what sits below any asset the step checks, so a
layer's checks are grouped by the assets they wait for (a check of a table and one of a table built from it
would make a circle).
"""

from collections.abc import Callable
from dataclasses import dataclass

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSpec, multi_asset_check

from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource


@dataclass(frozen=True)
class Check:
    """One check: its spec, and how it is evaluated (its result's asset key and name are the spec's)."""

    spec: AssetCheckSpec
    evaluate: Callable[[AssetCheckExecutionContext, WarehouseResource], AssetCheckResult]


def checks_in_one_step(name: str, checks: list[Check]):
    """The multi-asset check (step `name`) evaluating each selected check of `checks` in turn."""

    @multi_asset_check(specs=[check.spec for check in checks], can_subset=True, pool=WAREHOUSE_POOL, name=name)
    def _checks(context: AssetCheckExecutionContext, warehouse: WarehouseResource):
        for check in checks:
            if check.spec.key not in context.selected_asset_check_keys:
                continue
            result = check.evaluate(context, warehouse)
            yield AssetCheckResult(
                asset_key=check.spec.asset_key, check_name=check.spec.name, passed=result.passed,
                severity=result.severity, description=result.description, metadata=result.metadata,
            )

    return _checks
