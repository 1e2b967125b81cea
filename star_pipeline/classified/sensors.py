"""The classifier-files sensor: a new or edited classifier file becomes a partition and a run.

It reads only the files in the classifiers folder (their bytes give the
version) and the instance's partitions and runs; it never opens DuckDB. Until a
first ingest has succeeded there is nothing to classify (`ingested`, from
orchestration): the sensor then only registers versions, and the after-ingest
sensor runs them.
"""

from collections.abc import Callable
from pathlib import Path

from dagster import (
    AddDynamicPartitionsRequest,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from star_pipeline.classified.rules import classifier_file_versions
from star_pipeline.raw.sensors import TICK_SECONDS
from star_pipeline.classified.specs import CLASSIFIERS, unregistered_files, unregistered_message


def build_classifier_files_sensor(folder: Path, ingested: Callable[[object], bool]):
    @sensor(
        name="classifier_files_sensor",
        minimum_interval_seconds=TICK_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        asset_selection=[spec.key for spec in CLASSIFIERS],
        description=f"Registers each new version of a classifier file in {folder} as a partition and materializes it.",
    )
    def classifier_files_sensor(context: SensorEvaluationContext):
        versions = classifier_file_versions(folder)
        unregistered = unregistered_files(versions)
        if unregistered:
            context.log.warning(unregistered_message(folder, unregistered))
        additions, runs = [], []
        for spec in CLASSIFIERS:
            version = versions.get(spec.name)
            if version is None or context.instance.has_dynamic_partition(spec.partitions.name, version):
                continue
            additions.append(AddDynamicPartitionsRequest(partitions_def_name=spec.partitions.name, partition_keys=[version]))
            runs.append(RunRequest(run_key=version, asset_selection=[spec.key], partition_key=version))
        if not runs:
            return SkipReason(f"no new classifier version in {folder}")
        context.log.info(f"new classifier versions: {[r.partition_key for r in runs]}")
        if not ingested(context.instance):
            context.log.info("no ingest has succeeded yet: versions registered, the after-ingest sensor will run them")
            runs = []
        return SensorResult(run_requests=runs, dynamic_partitions_requests=additions)

    return classifier_files_sensor
