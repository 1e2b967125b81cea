"""The classifier-files sensor: a new or edited classifier file makes a new revision of the folder, which
becomes a partition of every classified asset, and a run of it.

It reads only the files in the classifiers folder (their bytes give the
versions) and the instance's partitions and runs; it never opens DuckDB. Until a
first ingest has succeeded there is nothing to classify (`ingested`, from
orchestration): the sensor then only registers the revision, and the after-ingest
sensor's run classifies with it.
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
from star_pipeline.storage.dagster_instance import sensor_instance
from star_pipeline.raw.sensors import TICK_SECONDS
from star_pipeline.classified.specs import (
    CLASSIFIER_REVISIONS,
    CLASSIFIERS,
    revision_key,
    unregistered_files,
    unregistered_message,
)


def build_classifier_files_sensor(folder: Path, ingested: Callable[[object], bool]):
    @sensor(
        name="classifier_files_sensor",
        minimum_interval_seconds=TICK_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        asset_selection=[spec.key for spec in CLASSIFIERS],
        description=f"Registers each new revision of the classifier files in {folder} as a partition and materializes it.",
    )
    def classifier_files_sensor(context: SensorEvaluationContext):
        versions = classifier_file_versions(folder)
        unregistered = unregistered_files(versions)
        if unregistered:
            context.log.warning(unregistered_message(folder, unregistered))
        revision = revision_key(versions)
        instance = sensor_instance(context)
        if revision is None or instance.has_dynamic_partition(CLASSIFIER_REVISIONS.name, revision):
            return SkipReason(f"no new revision of the classifiers in {folder}")
        context.log.info(f"new classifiers revision: {revision}")
        addition = AddDynamicPartitionsRequest(partitions_def_name=CLASSIFIER_REVISIONS.name, partition_keys=[revision])
        runs = [RunRequest(run_key=revision, asset_selection=[spec.key for spec in CLASSIFIERS], partition_key=revision)]
        if not ingested(instance):
            context.log.info("no ingest has succeeded yet: revision registered, the after-ingest sensor will run it")
            runs = []
        return SensorResult(run_requests=runs, dynamic_partitions_requests=[addition])

    return classifier_files_sensor
