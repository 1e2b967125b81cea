"""`star-pipeline report`: token and cost reports from the warehouse, without dagster."""
