"""The budget alert sensor: notices a budget crossing its warn_at fraction or its limit and asks, once per budget,
window and level, for a run that records it (budgets/alerts.py).

It reads only the budgets file each rebuild publishes (storage/budgets_file.py: each budget's status in its current
window), never the warehouse. Its cursor holds the alerts it has asked for, for the current windows only, so a
budget that stays over asks once; the recording step also skips an alert already in the table.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from star_pipeline.budgets.alerts import BUDGET_ALERTS_JOB, BUDGET_ALERTS_OP, LEVELS, alert_key, crossings
from star_pipeline.raw.sensors import TICK_SECONDS
from star_pipeline.storage.budgets_file import budgets_file, read_header


def build_budget_alerts_sensor(warehouse_path):
    path = budgets_file(warehouse_path)

    @sensor(name="budget_alerts_sensor", job_name=BUDGET_ALERTS_JOB, minimum_interval_seconds=TICK_SECONDS,
            default_status=DefaultSensorStatus.RUNNING,
            description=f"Records a budget crossing its warn_at fraction or its limit, once per budget, window and "
            f"level (from {path}, which each rebuild publishes).")
    def budget_alerts_sensor(context: SensorEvaluationContext):
        header = read_header(path)
        if header is None:
            return SkipReason(f"{path}: no budgets published yet (a rebuild writes it)")
        asked = set(json.loads(context.cursor)) if context.cursor else set()
        noticed_at = datetime.now(timezone.utc).isoformat()
        alerts = [a for a in crossings(header, noticed_at)
                  if alert_key(a["budget"], a["window_label"], a["level"]) not in asked]
        current = {alert_key(s["name"], s["window"], level) for s in header.get("budgets") or () for level in LEVELS}
        keys = sorted({*(asked & current), *(alert_key(a["budget"], a["window_label"], a["level"]) for a in alerts)})
        if not alerts:
            context.update_cursor(json.dumps(keys))
            return SkipReason("no budget crossed its warn_at or limit since the last alert")
        run_key = ";".join(alert_key(a["budget"], a["window_label"], a["level"]) for a in alerts)
        request = RunRequest(run_key=run_key, job_name=BUDGET_ALERTS_JOB, run_config={
            "ops": {BUDGET_ALERTS_OP: {"config": {"alerts_json": json.dumps(alerts)}}}})
        return SensorResult(run_requests=[request], cursor=json.dumps(keys))

    return budget_alerts_sensor
