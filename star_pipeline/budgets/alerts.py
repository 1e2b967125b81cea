"""Recording budget alerts: the job the budget alert sensor (budgets/sensors.py) starts when a budget crosses its
warn_at fraction or its limit in a window. It writes one row per budget, window and level into
aggregate.budget_alerts (migrations/012_budget_alerts.sql), never two, and tells the desktop (`notify-send`, when
the machine has it; nothing otherwise) about each row it wrote.

The sensor never opens the warehouse (DESIGN.md): it reads the published budgets file and asks for a run of this
job, which takes the writer's pool like every step that writes.
"""


import json
import shutil
import subprocess
from datetime import datetime, timezone

from dagster import Config, OpExecutionContext, job, op

from star_pipeline.aggregate.pricing import pipeline_version
from star_pipeline.storage.resources import WAREHOUSE_POOL, WarehouseResource

BUDGET_ALERTS_JOB = "record_budget_alerts"
BUDGET_ALERTS_OP = "write_budget_alerts"
LEVELS = ("warn", "limit")
ALERT_FIELDS = ("budget", "period", "window_label", "level", "spent_usd", "spent_tokens", "limit_usd", "limit_tokens",
                "noticed_at")


def alert_key(budget: str, window_label: str, level: str) -> str:
    """What makes an alert once: its budget, window and level."""
    return json.dumps([budget, window_label, level])


def crossings(header: dict, noticed_at: str) -> list[dict]:
    """The alert each budget of a published budgets file's header calls for: its highest level crossed (limit when
    over, warn past warn_at), none when it is ok."""
    alerts = []
    for state in header.get("budgets") or ():
        if state.get("status") not in ("warn", "over"):
            continue
        level = "limit" if state["status"] == "over" else "warn"
        alerts.append({"budget": state["name"], "period": state["period"], "window_label": state["window"],
                       "level": level, "spent_usd": state["spent_usd"], "spent_tokens": state["spent_tokens"],
                       "limit_usd": state["limit_usd"], "limit_tokens": state["limit_tokens"],
                       "noticed_at": noticed_at})
    return alerts


def record_alerts(conn, alerts: list[dict]) -> list[dict]:
    """Insert the alerts not recorded yet (by budget, window and level), in one transaction; the ones inserted."""
    recorded_at = datetime.now(timezone.utc)
    inserted = []
    conn.execute("BEGIN TRANSACTION")
    try:
        for alert in alerts:
            exists = conn.execute(
                "SELECT count(*) FROM aggregate.budget_alerts WHERE budget = ? AND window_label = ? AND level = ?",
                [alert["budget"], alert["window_label"], alert["level"]]).fetchone()[0]
            if exists:
                continue
            conn.execute(
                f"INSERT INTO aggregate.budget_alerts ({', '.join(ALERT_FIELDS)}, recorded_at, pipeline_version) "
                f"VALUES ({', '.join('?' * len(ALERT_FIELDS))}, ?, ?)",
                [alert[name] for name in ALERT_FIELDS] + [recorded_at, pipeline_version()])
            inserted.append(alert)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return inserted


def alert_text(alert: dict) -> str:
    in_usd = alert["limit_usd"] is not None
    spent = f"${alert['spent_usd']:,.2f}" if in_usd else f"{alert['spent_tokens']:,} tokens"
    limit = f"${alert['limit_usd']:,.2f}" if in_usd else f"{alert['limit_tokens']:,} tokens"
    crossed = "reached its limit" if alert["level"] == "limit" else "passed its warning level"
    return f"budget {alert['budget']} {crossed}: {spent} of {limit} ({alert['window_label']})"


def notify_desktop(alert: dict) -> bool:
    """`notify-send` the alert when the machine has it (a desktop); silently nothing otherwise. True when sent."""
    command = shutil.which("notify-send")
    if command is None:
        return False
    try:
        subprocess.run([command, "--app-name=star-pipeline", "star-pipeline budget", alert_text(alert)],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10,
                       check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


class BudgetAlertsConfig(Config):
    alerts_json: str  # a JSON list of alerts (ALERT_FIELDS), as the sensor found them


@op(pool=WAREHOUSE_POOL, description="Records each budget alert not recorded yet in aggregate.budget_alerts and "
    "tells the desktop (notify-send).")
def write_budget_alerts(context: OpExecutionContext, config: BudgetAlertsConfig, warehouse: WarehouseResource) -> None:
    alerts = json.loads(config.alerts_json)
    with warehouse.connect() as conn:
        inserted = record_alerts(conn, alerts)
    for alert in inserted:
        context.log.warning(alert_text(alert))
        notify_desktop(alert)
    context.log.info(f"{len(inserted)} budget alert(s) recorded, {len(alerts) - len(inserted)} already were")


def build_budget_alerts_job(hooks: set):
    @job(name=BUDGET_ALERTS_JOB, hooks=hooks, description="Record the budget alerts the budget alert sensor noticed "
         "(once per budget, window and level) and tell the desktop.")
    def record_budget_alerts_job():
        write_budget_alerts()

    return record_budget_alerts_job
