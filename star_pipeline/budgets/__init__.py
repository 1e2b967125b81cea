"""Budgets, the Dagster side: the published budgets file and its check (assets.py), the job that records an alert
(alerts.py) and the sensor that asks for it (sensors.py). Their tables and files sit in the aggregate layer, but the
figures come from the report layer's queries (reports/budgets.py), so this folder stands above both."""
