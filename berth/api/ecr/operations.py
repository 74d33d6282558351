"""The ECR operations Berth implements: one table from operation name to handler.

Each handler turns validated request members into a service call and the result into the
response shape of botocore's model; nothing here decides anything a service should.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from berth.api.ecr import access
from berth.api.ecr.access import scope_of
from berth.domain.digests import digest_of, parse_digest
from berth.domain.manifests import parse_manifest
from berth.domain.scope import Scope
from berth.domain.settings import RepositorySettings
from berth.errors import InvalidDigest, InvalidParameter, UploadRangeInvalid
from berth.services.auth import AuthService, Caller
from berth.services.authz import Authorizer
from berth.services.images import EcrImages, ImageFailure, ImageId, ImagesService
from berth.services.policies import PoliciesService
from berth.services.registry import Registry
from berth.services.repositories import repository_arn
from berth.services.scanning import RepositoryScanning, ScanningService
from berth.storage.ports import (
    FindingRecord,
    ImageRecord,
    LifecyclePolicyRecord,
    MetadataStore,
    Repository,
    ScanRecord,
)

Handler = Callable[[Any, dict[str, Any]], Awaitable[dict[str, Any]]]

# What InitiateLayerUpload recommends; ECR's quota page gives 10 MiB as the largest part.
LAYER_PART_SIZE = 10 * 1024 * 1024

ACCOUNT_SETTINGS = {
    "BASIC_SCAN_TYPE_VERSION": ("AWS_NATIVE", ("AWS_NATIVE",)),
    "REGISTRY_POLICY_SCOPE": ("V2", ("V1", "V2")),
    "BLOB_MOUNTING": ("ENABLED", ("ENABLED", "DISABLED")),
}


@dataclass(frozen=True, slots=True)
class Operations:
    registry: Registry
    ecr_images: EcrImages
    auth: AuthService
    metadata: MetadataStore
    registry_url: str
    authorizer: Authorizer
    policies: PoliciesService
    scanning: ScanningService

    @property
    def registry_host(self) -> str:
        return urlsplit(self.registry_url).netloc

    def table(self) -> dict[str, Handler]:
        return {
            "CreateRepository": self.create_repository,
            "DescribeRepositories": self.describe_repositories,
            "DeleteRepository": self.delete_repository,
            "PutImageTagMutability": self.put_image_tag_mutability,
            "PutImageScanningConfiguration": self.put_image_scanning_configuration,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
            "ListImages": self.list_images,
            "DescribeImages": self.describe_images,
            "BatchGetImage": self.batch_get_image,
            "BatchDeleteImage": self.batch_delete_image,
            "PutImage": self.put_image,
            "BatchCheckLayerAvailability": self.batch_check_layer_availability,
            "InitiateLayerUpload": self.initiate_layer_upload,
            "UploadLayerPart": self.upload_layer_part,
            "CompleteLayerUpload": self.complete_layer_upload,
            "GetDownloadUrlForLayer": self.get_download_url_for_layer,
            "PutLifecyclePolicy": self.put_lifecycle_policy,
            "GetLifecyclePolicy": self.get_lifecycle_policy,
            "DeleteLifecyclePolicy": self.delete_lifecycle_policy,
            "StartLifecyclePolicyPreview": self.start_lifecycle_policy_preview,
            "GetLifecyclePolicyPreview": self.get_lifecycle_policy_preview,
            "SetRepositoryPolicy": self.set_repository_policy,
            "GetRepositoryPolicy": self.get_repository_policy,
            "DeleteRepositoryPolicy": self.delete_repository_policy,
            "PutRegistryPolicy": self.put_registry_policy,
            "GetRegistryPolicy": self.get_registry_policy,
            "DeleteRegistryPolicy": self.delete_registry_policy,
            "GetAuthorizationToken": self.get_authorization_token,
            "DescribeRegistry": self.describe_registry,
            "GetAccountSetting": self.get_account_setting,
            "PutAccountSetting": self.put_account_setting,
            "StartImageScan": self.start_image_scan,
            "DescribeImageScanFindings": self.describe_image_scan_findings,
            "PutRegistryScanningConfiguration": self.put_registry_scanning_configuration,
            "GetRegistryScanningConfiguration": self.get_registry_scanning_configuration,
            "BatchGetRepositoryScanningConfiguration": (
                self.batch_get_repository_scanning_configuration
            ),
        }

    async def authorize(self, call: Any, p: dict[str, Any]) -> None:
        """The dispatcher's authorization hook: `ecr:<Operation>` on every target."""
        context: dict[str, str | Sequence[str]] = {
            "aws:SecureTransport": "true" if call.secure else "false",
        }
        if call.source_ip:
            context["aws:SourceIp"] = call.source_ip
        action = f"ecr:{call.operation}"
        for target, keys in access.requests(call.operation, call, p):
            await self.authorizer.authorize(
                call.caller, action, target, context={**context, **keys}
            )

    # repositories

    async def create_repository(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        scanning = p.get("imageScanningConfiguration") or {}
        encryption = p.get("encryptionConfiguration") or {}
        settings = RepositorySettings(
            image_tag_mutability=p.get("imageTagMutability", "MUTABLE"),
            mutability_exclusions=_filters(p),
            scan_on_push=bool(scanning.get("scanOnPush", False)),
            encryption_type=encryption.get("encryptionType", "AES256"),
            kms_key=encryption.get("kmsKey"),
        )
        tags = {t["Key"]: t["Value"] for t in p.get("tags", [])}
        repository = await self.registry.repositories.create_repository(
            scope_of(call, p), p["repositoryName"], settings, tags
        )
        return {"repository": self._repository(repository)}

    async def describe_repositories(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        found, token = await self.registry.repositories.describe_repositories(
            scope_of(call, p), p.get("repositoryNames"), p.get("nextToken"), p.get("maxResults")
        )
        return {"repositories": [self._repository(r) for r in found], "nextToken": token}

    async def delete_repository(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        repository = await self.registry.repositories.delete_repository(
            scope_of(call, p), p["repositoryName"], force=bool(p.get("force", False))
        )
        return {"repository": self._repository(repository)}

    async def put_image_tag_mutability(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        repository = await self.registry.repositories.put_image_tag_mutability(
            scope_of(call, p), p["repositoryName"], p["imageTagMutability"], _filters(p)
        )
        response: dict[str, Any] = {
            "registryId": repository.account_id,
            "repositoryName": repository.name,
            "imageTagMutability": repository.settings.image_tag_mutability,
        }
        if repository.settings.mutability_exclusions:
            response["imageTagMutabilityExclusionFilters"] = _filter_shapes(repository)
        return response

    async def put_image_scanning_configuration(
        self, call: Any, p: dict[str, Any]
    ) -> dict[str, Any]:
        scan_on_push = bool(p.get("imageScanningConfiguration", {}).get("scanOnPush", False))
        repository = await self.registry.repositories.put_image_scanning_configuration(
            scope_of(call, p), p["repositoryName"], scan_on_push
        )
        return {
            "registryId": repository.account_id,
            "repositoryName": repository.name,
            "imageScanningConfiguration": {"scanOnPush": repository.settings.scan_on_push},
        }

    async def tag_resource(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        tags = {t["Key"]: t["Value"] for t in p["tags"]}
        await self.registry.repositories.tag_resource(scope_of(call, {}), p["resourceArn"], tags)
        return {}

    async def untag_resource(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        await self.registry.repositories.untag_resource(
            scope_of(call, {}), p["resourceArn"], p["tagKeys"]
        )
        return {}

    async def list_tags_for_resource(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        tags = await self.registry.repositories.list_tags_for_resource(
            scope_of(call, {}), p["resourceArn"]
        )
        return {"tags": [{"Key": k, "Value": v} for k, v in tags.items()]}

    # images

    async def list_images(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        ids, token = await self.ecr_images.list_images(
            scope_of(call, p),
            p["repositoryName"],
            (p.get("filter") or {}).get("tagStatus", "ANY"),
            p.get("nextToken"),
            p.get("maxResults") or 1000,
        )
        return {"imageIds": [_image_id(i) for i in ids], "nextToken": token}

    async def describe_images(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(call, p)
        image_ids = [_parse_image_id(i) for i in p.get("imageIds", [])] or None
        if image_ids and (p.get("nextToken") or p.get("maxResults")):
            raise InvalidParameter("maxResults and nextToken cannot be used together with imageIds")
        images, token = await self.ecr_images.describe_images(
            scope,
            p["repositoryName"],
            image_ids,
            (p.get("filter") or {}).get("tagStatus", "ANY"),
            p.get("nextToken"),
            p.get("maxResults") or 100,
        )
        scans = await self.scanning.scan_records(
            scope, p["repositoryName"], [i.digest for i in images]
        )
        details = []
        for image in images:
            detail = _image_detail(scope, p["repositoryName"], image)
            scan = scans.get(image.digest)
            if scan is not None:
                detail.update(_scan_summary(scan))
            details.append(detail)
        return {"imageDetails": details, "nextToken": token}

    async def batch_get_image(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(call, p)
        found, failures = await self.ecr_images.batch_get_image(
            scope,
            p["repositoryName"],
            [_parse_image_id(i) for i in p["imageIds"]],
            p.get("acceptedMediaTypes", []),
        )
        return {
            "images": [
                {
                    "registryId": scope.account_id,
                    "repositoryName": p["repositoryName"],
                    "imageId": _image_id(image_id),
                    "imageManifest": record.content.decode("utf-8", "replace"),
                    "imageManifestMediaType": record.media_type,
                }
                for image_id, record in found
            ],
            "failures": [_failure(f) for f in failures],
        }

    async def batch_delete_image(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        deleted, failures = await self.ecr_images.batch_delete_image(
            scope_of(call, p), p["repositoryName"], [_parse_image_id(i) for i in p["imageIds"]]
        )
        return {
            "imageIds": [_image_id(i) for i in deleted],
            "failures": [_failure(f) for f in failures],
        }

    async def put_image(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(call, p)
        images: ImagesService = self.registry.images
        manifest = p["imageManifest"].encode()
        tag = p.get("imageTag")
        digest = p.get("imageDigest")
        result = await images.put_image(
            scope,
            p["repositoryName"],
            digest or tag or _digest_reference(manifest),
            manifest,
            p.get("imageManifestMediaType"),
            (tag,) if tag and digest else (),
            fail_if_unchanged=True,
        )
        return {
            "image": {
                "registryId": scope.account_id,
                "repositoryName": p["repositoryName"],
                "imageId": _image_id(ImageId(result.digest, tag)),
                "imageManifest": p["imageManifest"],
                "imageManifestMediaType": p.get("imageManifestMediaType") or _media_type(manifest),
            }
        }

    # layers

    async def batch_check_layer_availability(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        layers: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        wellformed: list[str] = []
        for digest in p["layerDigests"]:
            try:
                wellformed.append(str(parse_digest(digest)))
            except InvalidDigest:
                failures.append(
                    {
                        "layerDigest": digest,
                        "failureCode": "InvalidLayerDigest",
                        "failureReason": "Invalid layer digest",
                    }
                )
        found = await self.registry.uploads.batch_check_layer_availability(
            scope_of(call, p), p["repositoryName"], wellformed
        )
        for digest, size in found:
            if size is None:
                failures.append(
                    {
                        "layerDigest": digest,
                        "failureCode": "MissingLayerDigest",
                        "failureReason": "Requested layer not found",
                    }
                )
            else:
                layers.append(
                    {"layerDigest": digest, "layerAvailability": "AVAILABLE", "layerSize": size}
                )
        return {"layers": layers, "failures": failures}

    async def initiate_layer_upload(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        status = await self.registry.uploads.initiate_layer_upload(
            scope_of(call, p), p["repositoryName"]
        )
        return {"uploadId": status.id, "partSize": LAYER_PART_SIZE}

    async def upload_layer_part(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(call, p)
        blob: bytes = p["layerPartBlob"]
        first, last = p["partFirstByte"], p["partLastByte"]
        if last - first + 1 != len(blob):
            raise UploadRangeInvalid(
                f"The part spans bytes {first}-{last} but carries {len(blob)} bytes",
                offset=first,
            )

        async def body() -> AsyncIterator[bytes]:
            yield blob

        status = await self.registry.uploads.upload_layer_part(
            scope,
            p["repositoryName"],
            p["uploadId"],
            body(),
            start=first,
            length=len(blob),
            ecr_part=True,
        )
        return {
            "registryId": scope.account_id,
            "repositoryName": p["repositoryName"],
            "uploadId": p["uploadId"],
            "lastByteReceived": status.offset - 1,
        }

    async def complete_layer_upload(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(call, p)
        digest = await self.registry.uploads.complete_ecr_layer_upload(
            scope, p["repositoryName"], p["uploadId"], p["layerDigests"][0]
        )
        return {
            "registryId": scope.account_id,
            "repositoryName": p["repositoryName"],
            "uploadId": p["uploadId"],
            "layerDigest": digest,
        }

    async def get_download_url_for_layer(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        layer = await self.registry.blobs.get_layer(
            scope_of(call, p), p["repositoryName"], p["layerDigest"]
        )
        # ECR hands out a pre-signed storage URL; Berth's blob URL needs the registry login.
        return {
            "downloadUrl": f"{self.registry_url}/v2/{p['repositoryName']}/blobs/{layer.digest}",
            "layerDigest": layer.digest,
        }

    # lifecycle policies

    async def put_lifecycle_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(call, p)
        await self.registry.lifecycle.put_lifecycle_policy(
            scope, p["repositoryName"], p["lifecyclePolicyText"]
        )
        return {
            "registryId": scope.account_id,
            "repositoryName": p["repositoryName"],
            "lifecyclePolicyText": p["lifecyclePolicyText"],
        }

    async def get_lifecycle_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(call, p)
        policy = await self.registry.lifecycle.get_lifecycle_policy(scope, p["repositoryName"])
        return _policy_shape(scope, p["repositoryName"], policy)

    async def delete_lifecycle_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(call, p)
        policy = await self.registry.lifecycle.delete_lifecycle_policy(scope, p["repositoryName"])
        return _policy_shape(scope, p["repositoryName"], policy)

    async def start_lifecycle_policy_preview(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(call, p)
        text, status = await self.registry.lifecycle.start_lifecycle_policy_preview(
            scope, p["repositoryName"], p.get("lifecyclePolicyText")
        )
        return {
            "registryId": scope.account_id,
            "repositoryName": p["repositoryName"],
            "lifecyclePolicyText": text,
            "status": status,
        }

    async def get_lifecycle_policy_preview(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(call, p)
        image_ids = [_parse_image_id(i) for i in p.get("imageIds", [])]
        digests = None
        if image_ids:
            digests = await self.ecr_images.resolve_digests(scope, p["repositoryName"], image_ids)
        preview = await self.registry.lifecycle.get_lifecycle_policy_preview(
            scope,
            p["repositoryName"],
            digests=digests,
            tag_status=(p.get("filter") or {}).get("tagStatus", "ANY"),
            next_token=p.get("nextToken"),
            limit=p.get("maxResults") or 100,
        )
        response: dict[str, Any] = {
            "registryId": scope.account_id,
            "repositoryName": p["repositoryName"],
            "lifecyclePolicyText": preview.record.text,
            "status": preview.record.status,
            "nextToken": preview.next_token,
            "previewResults": [
                {
                    "imageTags": list(r.tags),
                    "imageDigest": r.digest,
                    "imagePushedAt": r.pushed_at,
                    "action": {"type": "EXPIRE"},
                    "appliedRulePriority": r.rule_priority,
                }
                for r in preview.results
            ],
        }
        if preview.record.status == "COMPLETE":
            response["summary"] = {"expiringImageTotalCount": preview.record.expiring_count or 0}
        return response

    # resource policies

    async def set_repository_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(call, p)
        await self.policies.set_repository_policy(
            call.caller, scope, p["repositoryName"], p["policyText"], force=bool(p.get("force"))
        )
        return _repository_policy(scope, p["repositoryName"], p["policyText"])

    async def get_repository_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(call, p)
        text = await self.policies.get_repository_policy(scope, p["repositoryName"])
        return _repository_policy(scope, p["repositoryName"], text)

    async def delete_repository_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(call, p)
        text = await self.policies.delete_repository_policy(scope, p["repositoryName"])
        return _repository_policy(scope, p["repositoryName"], text)

    async def put_registry_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(call, p)
        await self.policies.put_registry_policy(scope, p["policyText"])
        return {"registryId": scope.account_id, "policyText": p["policyText"]}

    async def get_registry_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(call, p)
        text = await self.policies.get_registry_policy(scope)
        return {"registryId": scope.account_id, "policyText": text}

    async def delete_registry_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(call, p)
        text = await self.policies.delete_registry_policy(scope)
        return {"registryId": scope.account_id, "policyText": text}

    # image scanning

    async def start_image_scan(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(call, p)
        image_id, status = await self.scanning.start_image_scan(
            scope, p["repositoryName"], _parse_image_id(p["imageId"])
        )
        return {
            "registryId": scope.account_id,
            "repositoryName": p["repositoryName"],
            "imageId": _image_id(image_id),
            "imageScanStatus": {"status": status},
        }

    async def describe_image_scan_findings(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        scope = scope_of(call, p)
        page = await self.scanning.describe_image_scan_findings(
            scope,
            p["repositoryName"],
            _parse_image_id(p["imageId"]),
            p.get("nextToken"),
            p.get("maxResults") or 100,
        )
        response: dict[str, Any] = {
            "registryId": scope.account_id,
            "repositoryName": p["repositoryName"],
            "imageId": _image_id(ImageId(page.digest, page.tag)),
            "imageScanStatus": _scan_status(page.scan),
            "nextToken": page.next_token,
        }
        if page.scan.status == "COMPLETE":
            response["imageScanFindings"] = {
                **_scan_summary(page.scan)["imageScanFindingsSummary"],
                "findings": [_finding(f) for f in page.findings],
            }
        return response

    async def put_registry_scanning_configuration(
        self, call: Any, p: dict[str, Any]
    ) -> dict[str, Any]:
        scan_type, rules = await self.scanning.put_registry_scanning_configuration(
            scope_of(call, {}), p.get("scanType", "BASIC"), p.get("rules", [])
        )
        return {"registryScanningConfiguration": {"scanType": scan_type, "rules": rules}}

    async def get_registry_scanning_configuration(
        self, call: Any, p: dict[str, Any]
    ) -> dict[str, Any]:
        scope = scope_of(call, {})
        scan_type, rules = await self.scanning.get_registry_scanning_configuration(scope)
        return {
            "registryId": scope.account_id,
            "scanningConfiguration": {"scanType": scan_type, "rules": rules},
        }

    async def batch_get_repository_scanning_configuration(
        self, call: Any, p: dict[str, Any]
    ) -> dict[str, Any]:
        scope = scope_of(call, p)
        found, missing = await self.scanning.batch_get_repository_scanning_configuration(
            scope, p["repositoryNames"]
        )
        return {
            "scanningConfigurations": [_repository_scanning(r) for r in found],
            "failures": [
                {
                    "repositoryName": name,
                    "failureCode": "REPOSITORY_NOT_FOUND",
                    "failureReason": f"The repository with name '{name}' does not exist in the "
                    f"registry with id '{scope.account_id}'",
                }
                for name in missing
            ],
        }

    # registry

    async def get_authorization_token(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        caller: Caller = call.caller
        data = await self.auth.get_authorization_token(caller, call.region)
        return {
            "authorizationData": [
                {
                    "authorizationToken": data.token,
                    "expiresAt": data.expires_at,
                    "proxyEndpoint": self.registry_url,
                }
            ]
        }

    async def describe_registry(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "registryId": call.caller.account_id,
            "replicationConfiguration": {"rules": []},
        }

    async def get_account_setting(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        name = p["name"]
        default, _ = _account_setting(name)
        scope = scope_of(call, {})
        value = await self.metadata.get_account_setting(scope.account_id, scope.region, name)
        return {"name": name, "value": value or default}

    async def put_account_setting(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        name, value = p["name"], p["value"]
        _, allowed = _account_setting(name)
        if value not in allowed:
            raise InvalidParameter(
                f"Invalid parameter at 'value' failed to satisfy constraint: "
                f"'must be one of {', '.join(allowed)}'"
            )
        scope = scope_of(call, {})
        await self.metadata.put_account_setting(scope.account_id, scope.region, name, value)
        self.authorizer.invalidate()  # REGISTRY_POLICY_SCOPE changes what the policies govern
        return {"name": name, "value": value}

    def _repository(self, repository: Repository) -> dict[str, Any]:
        settings = repository.settings
        shape: dict[str, Any] = {
            "repositoryArn": repository_arn(repository),
            "registryId": repository.account_id,
            "repositoryName": repository.name,
            "repositoryUri": f"{self.registry_host}/{repository.name}",
            "createdAt": repository.created_at,
            "imageTagMutability": settings.image_tag_mutability,
            "imageScanningConfiguration": {"scanOnPush": settings.scan_on_push},
            "encryptionConfiguration": {"encryptionType": settings.encryption_type},
        }
        if settings.kms_key:
            shape["encryptionConfiguration"]["kmsKey"] = settings.kms_key
        if settings.mutability_exclusions:
            shape["imageTagMutabilityExclusionFilters"] = _filter_shapes(repository)
        return shape


def _repository_policy(scope: Scope, name: str, text: str) -> dict[str, Any]:
    return {"registryId": scope.account_id, "repositoryName": name, "policyText": text}


def _filters(p: dict[str, Any]) -> tuple[str, ...]:
    return tuple(f["filter"] for f in p.get("imageTagMutabilityExclusionFilters", []))


def _filter_shapes(repository: Repository) -> list[dict[str, str]]:
    return [
        {"filterType": "WILDCARD", "filter": f} for f in repository.settings.mutability_exclusions
    ]


def _parse_image_id(shape: dict[str, Any]) -> ImageId:
    return ImageId(shape.get("imageDigest"), shape.get("imageTag"))


def _image_id(image_id: ImageId) -> dict[str, Any]:
    shape = {}
    if image_id.digest:
        shape["imageDigest"] = image_id.digest
    if image_id.tag:
        shape["imageTag"] = image_id.tag
    return shape


def _failure(failure: ImageFailure) -> dict[str, Any]:
    return {
        "imageId": _image_id(failure.image_id),
        "failureCode": failure.code,
        "failureReason": failure.reason,
    }


def _image_detail(scope: Scope, name: str, image: ImageRecord) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "registryId": scope.account_id,
        "repositoryName": name,
        "imageDigest": image.digest,
        "imagePushedAt": image.pushed_at,
        "imageManifestMediaType": image.media_type,
        "imageStatus": "ACTIVE",
    }
    if image.tags:
        detail["imageTags"] = list(image.tags)
    if image.image_size is not None:
        detail["imageSizeInBytes"] = image.image_size
    if image.artifact_media_type:
        detail["artifactMediaType"] = image.artifact_media_type
    if image.last_pulled_at:
        detail["lastRecordedPullTime"] = image.last_pulled_at
    if image.subject:
        detail["subjectManifestDigest"] = image.subject
    return detail


def _scan_status(scan: ScanRecord) -> dict[str, Any]:
    shape: dict[str, Any] = {"status": scan.status}
    if scan.description:
        shape["description"] = scan.description
    return shape


def _scan_summary(scan: ScanRecord) -> dict[str, Any]:
    """DescribeImages' imageScanStatus and, once complete, imageScanFindingsSummary."""
    shape: dict[str, Any] = {"imageScanStatus": _scan_status(scan)}
    if scan.status == "COMPLETE":
        summary: dict[str, Any] = {"findingSeverityCounts": dict(scan.severity_counts or {})}
        if scan.completed_at is not None:
            summary["imageScanCompletedAt"] = scan.completed_at
        if scan.source_updated_at is not None:
            summary["vulnerabilitySourceUpdatedAt"] = scan.source_updated_at
        shape["imageScanFindingsSummary"] = summary
    return shape


def _finding(finding: FindingRecord) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "name": finding.name,
        "severity": finding.severity,
        "attributes": [{"key": k, "value": v} for k, v in finding.attributes],
    }
    if finding.description:
        shape["description"] = finding.description
    if finding.uri:
        shape["uri"] = finding.uri
    return shape


def _repository_scanning(found: RepositoryScanning) -> dict[str, Any]:
    return {
        "repositoryArn": repository_arn(found.repository),
        "repositoryName": found.repository.name,
        "scanOnPush": found.scan_on_push,
        "scanFrequency": found.frequency,
        "appliedScanFilters": found.filters,
    }


def _policy_shape(scope: Scope, name: str, policy: LifecyclePolicyRecord) -> dict[str, Any]:
    return {
        "registryId": scope.account_id,
        "repositoryName": name,
        "lifecyclePolicyText": policy.text,
        "lastEvaluatedAt": policy.last_evaluated_at,
    }


def _account_setting(name: str) -> tuple[str, tuple[str, ...]]:
    try:
        return ACCOUNT_SETTINGS[name]
    except KeyError:
        raise InvalidParameter(
            f"Invalid parameter at 'name' failed to satisfy constraint: "
            f"'must be one of {', '.join(ACCOUNT_SETTINGS)}'"
        ) from None


def _digest_reference(manifest: bytes) -> str:
    return str(digest_of(manifest))


def _media_type(manifest: bytes) -> str:
    return parse_manifest(manifest, None).media_type
