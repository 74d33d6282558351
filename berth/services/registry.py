"""Every service of one registry installation, wired to its stores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from berth.services.blobs import BlobsService
from berth.services.images import ImagesService
from berth.services.lifecycle import LifecycleService
from berth.services.pulls import PullRecorder
from berth.services.repositories import RepositoriesService
from berth.services.uploads import DEFAULT_UPLOAD_TTL, UploadsService
from berth.storage.ports import BlobStore, LifecycleStore, MetadataStore


@dataclass(frozen=True, slots=True)
class Registry:
    repositories: RepositoriesService
    images: ImagesService
    blobs: BlobsService
    uploads: UploadsService
    pulls: PullRecorder
    lifecycle: LifecycleService

    @classmethod
    def build(
        cls,
        metadata: MetadataStore,
        blobs: BlobStore,
        lifecycle: LifecycleStore,
        *,
        create_on_push: bool = True,
        upload_ttl: timedelta = DEFAULT_UPLOAD_TTL,
    ) -> Registry:
        repositories = RepositoriesService(metadata, create_on_push=create_on_push)
        pulls = PullRecorder(metadata)
        return cls(
            repositories=repositories,
            images=ImagesService(metadata, repositories, pulls),
            blobs=BlobsService(metadata, blobs, repositories),
            uploads=UploadsService(metadata, blobs, repositories, upload_ttl=upload_ttl),
            pulls=pulls,
            lifecycle=LifecycleService(metadata, lifecycle, repositories),
        )
