"""The artifact store the settings name: a folder in data_dir (PROMPTCUT_ARTIFACTS_URL empty, the default) or an
S3-compatible bucket (s3://bucket/prefix; boto3 is imported only then, by S3ArtifactStore)."""

from __future__ import annotations

from service.engine.blobstore import ArtifactBackend, ArtifactStore
from service.engine.s3store import S3ArtifactStore, S3Location
from service.settings import Settings


def open_artifact_store(settings: Settings) -> ArtifactBackend:
    """The configured store. A bucket is checked now (the endpoint answers, the bucket exists, the credentials are
    accepted): a misconfiguration stops the start with ArtifactStoreUnavailableError, one line naming the bucket
    and the endpoint, rather than failing every job later."""
    if not settings.artifacts_url:
        return ArtifactStore(settings.artifacts_dir)
    location = S3Location.from_url(settings.artifacts_url, settings.s3_endpoint_url, settings.s3_region)
    store = S3ArtifactStore(location, presign_seconds=settings.s3_presign_seconds)
    store.check()
    return store
