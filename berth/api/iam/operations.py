"""The IAM operations Berth implements: one table from operation name to handler.

A handler gets the request's parameters as the Query layer decoded them (keyed by the input
shape's member names) and returns the output shape's members; nothing here decides anything
the service should. Every handler first asks `authorize(caller, "iam:<Operation>", resource)`,
where the resource is the ARN of the user, group, role or policy the request is about (with
its path when it exists) and "*" for listings of the account.

Policy documents go out URL-encoded, as IAM sends them; boto3 and the aws CLI decode them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from berth.services.iam import (
    AccessKeyInfo,
    IamService,
    Page,
    iam_arn,
    is_root,
)
from berth.storage.iam_ports import (
    AttachedPolicy,
    GroupRecord,
    ManagedPolicyRecord,
    PrincipalType,
    RoleRecord,
    Tags,
    UserRecord,
)

Handler = Callable[[Any, dict[str, Any]], Awaitable[dict[str, Any]]]
# (caller, action, resource ARN); raises (AccessDenied) when the caller may not.
Authorize = Callable[[Any, str, str], Awaitable[None]]

ANY = "*"


def encode_document(document: str) -> str:
    """A policy document as IAM returns it: percent-encoded (RFC 3986)."""
    return quote(document, safe="")


def _tags_in(p: dict[str, Any]) -> list[tuple[str, str]]:
    return [(tag["Key"], tag["Value"]) for tag in p.get("Tags", [])]


def _tags_out(tags: Tags) -> list[dict[str, str]] | None:
    return [{"Key": key, "Value": value} for key, value in tags] or None


def _user(user: UserRecord, *, tags: bool = False) -> dict[str, Any]:
    if is_root(user.arn):
        # The account root is not an IAM user: it has no name or path.
        return {"UserId": user.user_id, "Arn": user.arn, "CreateDate": user.created_at}
    shape: dict[str, Any] = {
        "Path": user.path,
        "UserName": user.name,
        "UserId": user.user_id,
        "Arn": user.arn,
        "CreateDate": user.created_at,
    }
    if tags:
        shape["Tags"] = _tags_out(user.tags)
    return shape


def _group(group: GroupRecord) -> dict[str, Any]:
    return {
        "Path": group.path,
        "GroupName": group.name,
        "GroupId": group.group_id,
        "Arn": group.arn,
        "CreateDate": group.created_at,
    }


def _role(role: RoleRecord, *, details: bool = False) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "Path": role.path,
        "RoleName": role.name,
        "RoleId": role.role_id,
        "Arn": role.arn,
        "CreateDate": role.created_at,
        "AssumeRolePolicyDocument": encode_document(role.trust_policy),
        "Description": role.description,
        "MaxSessionDuration": role.max_session_duration,
    }
    if details:
        shape["Tags"] = _tags_out(role.tags)
    return shape


def _policy(policy: ManagedPolicyRecord, *, tags: bool = False) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "PolicyName": policy.name,
        "PolicyId": policy.policy_id,
        "Arn": policy.arn,
        "Path": policy.path,
        "DefaultVersionId": "v1",
        "AttachmentCount": policy.attachment_count,
        "PermissionsBoundaryUsageCount": 0,
        "IsAttachable": True,
        "Description": policy.description,
        "CreateDate": policy.created_at,
        "UpdateDate": policy.updated_at,
    }
    if tags:
        shape["Tags"] = _tags_out(policy.tags)
    return shape


def _attached(policy: AttachedPolicy) -> dict[str, Any]:
    return {"PolicyName": policy.name, "PolicyArn": policy.arn}


def _key(key: AccessKeyInfo) -> dict[str, Any]:
    return {
        "UserName": key.user_name,
        "AccessKeyId": key.access_key_id,
        "Status": key.status,
        "CreateDate": key.created_at,
    }


def _paged(member: str, page: Page[Any], shape: Callable[[Any], Any]) -> dict[str, Any]:
    return {
        member: [shape(item) for item in page.items],
        "IsTruncated": page.is_truncated,
        "Marker": page.marker,
    }


def _names(page: Page[str]) -> dict[str, Any]:
    return _paged("PolicyNames", page, lambda name: name)


def _listing(p: dict[str, Any]) -> dict[str, Any]:
    return {"marker": p.get("Marker"), "max_items": p.get("MaxItems")}


def _account(call: Any) -> str:
    return str(call.caller.account_id)


class IamOperations:
    def __init__(self, service: IamService, authorize: Authorize) -> None:
        self.service = service
        self.authorize = authorize

    def table(self) -> dict[str, Handler]:
        return {
            "CreateUser": self.create_user,
            "GetUser": self.get_user,
            "ListUsers": self.list_users,
            "DeleteUser": self.delete_user,
            "CreateAccessKey": self.create_access_key,
            "ListAccessKeys": self.list_access_keys,
            "UpdateAccessKey": self.update_access_key,
            "DeleteAccessKey": self.delete_access_key,
            "PutUserPolicy": self.put_user_policy,
            "GetUserPolicy": self.get_user_policy,
            "DeleteUserPolicy": self.delete_user_policy,
            "ListUserPolicies": self.list_user_policies,
            "AttachUserPolicy": self.attach_user_policy,
            "DetachUserPolicy": self.detach_user_policy,
            "ListAttachedUserPolicies": self.list_attached_user_policies,
            "CreatePolicy": self.create_policy,
            "GetPolicy": self.get_policy,
            "GetPolicyVersion": self.get_policy_version,
            "ListPolicies": self.list_policies,
            "DeletePolicy": self.delete_policy,
            "CreateGroup": self.create_group,
            "GetGroup": self.get_group,
            "ListGroups": self.list_groups,
            "DeleteGroup": self.delete_group,
            "AddUserToGroup": self.add_user_to_group,
            "RemoveUserFromGroup": self.remove_user_from_group,
            "ListGroupsForUser": self.list_groups_for_user,
            "PutGroupPolicy": self.put_group_policy,
            "GetGroupPolicy": self.get_group_policy,
            "DeleteGroupPolicy": self.delete_group_policy,
            "ListGroupPolicies": self.list_group_policies,
            "AttachGroupPolicy": self.attach_group_policy,
            "DetachGroupPolicy": self.detach_group_policy,
            "ListAttachedGroupPolicies": self.list_attached_group_policies,
            "CreateRole": self.create_role,
            "GetRole": self.get_role,
            "ListRoles": self.list_roles,
            "DeleteRole": self.delete_role,
            "UpdateAssumeRolePolicy": self.update_assume_role_policy,
            "PutRolePolicy": self.put_role_policy,
            "GetRolePolicy": self.get_role_policy,
            "DeleteRolePolicy": self.delete_role_policy,
            "ListRolePolicies": self.list_role_policies,
            "AttachRolePolicy": self.attach_role_policy,
            "DetachRolePolicy": self.detach_role_policy,
            "ListAttachedRolePolicies": self.list_attached_role_policies,
        }

    # authorization

    async def _allow(self, call: Any, operation: str, resource: str) -> None:
        await self.authorize(call.caller, f"iam:{operation}", resource)

    async def _on(self, call: Any, operation: str, kind: PrincipalType, name: str) -> str:
        """Authorize `operation` on the user, group or role `name`; its account id."""
        account_id = _account(call)
        await self._allow(call, operation, await self.service.resource_arn(account_id, kind, name))
        return account_id

    async def _on_caller_or(self, call: Any, operation: str, user_name: str | None) -> str:
        """Operations whose UserName defaults to the caller's own identity."""
        if user_name is None:
            await self._allow(call, operation, str(call.caller.principal_arn))
            return _account(call)
        return await self._on(call, operation, "user", user_name)

    async def _on_policy(self, call: Any, operation: str, policy_arn: str) -> str:
        await self._allow(call, operation, policy_arn)
        return _account(call)

    async def _on_account(self, call: Any, operation: str) -> str:
        await self._allow(call, operation, ANY)
        return _account(call)

    # users

    async def create_user(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = _account(call)
        name, path = p["UserName"], p.get("Path") or "/"
        await self._allow(call, "CreateUser", iam_arn(account_id, "user", path, name))
        user = await self.service.create_user(
            account_id,
            name,
            path=path,
            tags=_tags_in(p),
            permissions_boundary=p.get("PermissionsBoundary"),
        )
        return {"User": _user(user, tags=True)}

    async def get_user(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on_caller_or(call, "GetUser", p.get("UserName"))
        user = await self.service.get_user(
            account_id, p.get("UserName"), caller_arn=call.caller.principal_arn
        )
        return {"User": _user(user, tags=True)}

    async def list_users(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on_account(call, "ListUsers")
        page = await self.service.list_users(
            account_id, path_prefix=p.get("PathPrefix"), **_listing(p)
        )
        return _paged("Users", page, _user)

    async def delete_user(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "DeleteUser", "user", p["UserName"])
        await self.service.delete_user(account_id, p["UserName"])
        return {}

    # access keys

    async def create_access_key(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on_caller_or(call, "CreateAccessKey", p.get("UserName"))
        key = await self.service.create_access_key(
            account_id, p.get("UserName"), caller_arn=call.caller.principal_arn
        )
        return {"AccessKey": {**_key(key), "SecretAccessKey": key.secret}}

    async def list_access_keys(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on_caller_or(call, "ListAccessKeys", p.get("UserName"))
        page = await self.service.list_access_keys(
            account_id, p.get("UserName"), caller_arn=call.caller.principal_arn, **_listing(p)
        )
        return _paged("AccessKeyMetadata", page, _key)

    async def update_access_key(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on_caller_or(call, "UpdateAccessKey", p.get("UserName"))
        await self.service.update_access_key(
            account_id,
            p.get("UserName"),
            p["AccessKeyId"],
            p["Status"],
            caller_arn=call.caller.principal_arn,
        )
        return {}

    async def delete_access_key(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on_caller_or(call, "DeleteAccessKey", p.get("UserName"))
        await self.service.delete_access_key(
            account_id, p.get("UserName"), p["AccessKeyId"], caller_arn=call.caller.principal_arn
        )
        return {}

    # inline policies of users

    async def put_user_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "PutUserPolicy", "user", p["UserName"])
        await self.service.put_user_policy(
            account_id, p["UserName"], p["PolicyName"], p["PolicyDocument"]
        )
        return {}

    async def get_user_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "GetUserPolicy", "user", p["UserName"])
        policy = await self.service.get_user_policy(account_id, p["UserName"], p["PolicyName"])
        return {
            "UserName": p["UserName"],
            "PolicyName": policy.name,
            "PolicyDocument": encode_document(policy.document),
        }

    async def delete_user_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "DeleteUserPolicy", "user", p["UserName"])
        await self.service.delete_user_policy(account_id, p["UserName"], p["PolicyName"])
        return {}

    async def list_user_policies(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "ListUserPolicies", "user", p["UserName"])
        return _names(
            await self.service.list_user_policies(account_id, p["UserName"], **_listing(p))
        )

    # managed policies of users

    async def attach_user_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "AttachUserPolicy", "user", p["UserName"])
        await self.service.attach_user_policy(account_id, p["UserName"], p["PolicyArn"])
        return {}

    async def detach_user_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "DetachUserPolicy", "user", p["UserName"])
        await self.service.detach_user_policy(account_id, p["UserName"], p["PolicyArn"])
        return {}

    async def list_attached_user_policies(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "ListAttachedUserPolicies", "user", p["UserName"])
        page = await self.service.list_attached_user_policies(
            account_id, p["UserName"], path_prefix=p.get("PathPrefix"), **_listing(p)
        )
        return _paged("AttachedPolicies", page, _attached)

    # managed policies

    async def create_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = _account(call)
        name, path = p["PolicyName"], p.get("Path") or "/"
        await self._allow(call, "CreatePolicy", iam_arn(account_id, "policy", path, name))
        policy = await self.service.create_policy(
            account_id,
            name,
            p["PolicyDocument"],
            path=path,
            description=p.get("Description"),
            tags=_tags_in(p),
        )
        return {"Policy": _policy(policy, tags=True)}

    async def get_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on_policy(call, "GetPolicy", p["PolicyArn"])
        return {
            "Policy": _policy(await self.service.get_policy(account_id, p["PolicyArn"]), tags=True)
        }

    async def get_policy_version(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on_policy(call, "GetPolicyVersion", p["PolicyArn"])
        policy = await self.service.get_policy_version(account_id, p["PolicyArn"], p["VersionId"])
        return {
            "PolicyVersion": {
                "Document": encode_document(policy.document),
                "VersionId": p["VersionId"],
                "IsDefaultVersion": True,
                "CreateDate": policy.created_at,
            }
        }

    async def list_policies(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on_account(call, "ListPolicies")
        page = await self.service.list_policies(
            account_id,
            scope=p.get("Scope"),
            only_attached=bool(p.get("OnlyAttached", False)),
            path_prefix=p.get("PathPrefix"),
            policy_usage_filter=p.get("PolicyUsageFilter"),
            **_listing(p),
        )
        return _paged("Policies", page, _policy)

    async def delete_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on_policy(call, "DeletePolicy", p["PolicyArn"])
        await self.service.delete_policy(account_id, p["PolicyArn"])
        return {}

    # groups

    async def create_group(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = _account(call)
        name, path = p["GroupName"], p.get("Path") or "/"
        await self._allow(call, "CreateGroup", iam_arn(account_id, "group", path, name))
        return {"Group": _group(await self.service.create_group(account_id, name, path=path))}

    async def get_group(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "GetGroup", "group", p["GroupName"])
        group, members = await self.service.get_group(account_id, p["GroupName"], **_listing(p))
        return {"Group": _group(group), **_paged("Users", members, _user)}

    async def list_groups(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on_account(call, "ListGroups")
        page = await self.service.list_groups(
            account_id, path_prefix=p.get("PathPrefix"), **_listing(p)
        )
        return _paged("Groups", page, _group)

    async def delete_group(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "DeleteGroup", "group", p["GroupName"])
        await self.service.delete_group(account_id, p["GroupName"])
        return {}

    async def add_user_to_group(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "AddUserToGroup", "group", p["GroupName"])
        await self.service.add_user_to_group(account_id, p["GroupName"], p["UserName"])
        return {}

    async def remove_user_from_group(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "RemoveUserFromGroup", "group", p["GroupName"])
        await self.service.remove_user_from_group(account_id, p["GroupName"], p["UserName"])
        return {}

    async def list_groups_for_user(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "ListGroupsForUser", "user", p["UserName"])
        page = await self.service.list_groups_for_user(account_id, p["UserName"], **_listing(p))
        return _paged("Groups", page, _group)

    async def put_group_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "PutGroupPolicy", "group", p["GroupName"])
        await self.service.put_group_policy(
            account_id, p["GroupName"], p["PolicyName"], p["PolicyDocument"]
        )
        return {}

    async def get_group_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "GetGroupPolicy", "group", p["GroupName"])
        policy = await self.service.get_group_policy(account_id, p["GroupName"], p["PolicyName"])
        return {
            "GroupName": p["GroupName"],
            "PolicyName": policy.name,
            "PolicyDocument": encode_document(policy.document),
        }

    async def delete_group_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "DeleteGroupPolicy", "group", p["GroupName"])
        await self.service.delete_group_policy(account_id, p["GroupName"], p["PolicyName"])
        return {}

    async def list_group_policies(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "ListGroupPolicies", "group", p["GroupName"])
        return _names(
            await self.service.list_group_policies(account_id, p["GroupName"], **_listing(p))
        )

    async def attach_group_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "AttachGroupPolicy", "group", p["GroupName"])
        await self.service.attach_group_policy(account_id, p["GroupName"], p["PolicyArn"])
        return {}

    async def detach_group_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "DetachGroupPolicy", "group", p["GroupName"])
        await self.service.detach_group_policy(account_id, p["GroupName"], p["PolicyArn"])
        return {}

    async def list_attached_group_policies(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "ListAttachedGroupPolicies", "group", p["GroupName"])
        page = await self.service.list_attached_group_policies(
            account_id, p["GroupName"], path_prefix=p.get("PathPrefix"), **_listing(p)
        )
        return _paged("AttachedPolicies", page, _attached)

    # roles

    async def create_role(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = _account(call)
        name, path = p["RoleName"], p.get("Path") or "/"
        await self._allow(call, "CreateRole", iam_arn(account_id, "role", path, name))
        role = await self.service.create_role(
            account_id,
            name,
            p["AssumeRolePolicyDocument"],
            path=path,
            description=p.get("Description"),
            max_session_duration=p.get("MaxSessionDuration"),
            tags=_tags_in(p),
            permissions_boundary=p.get("PermissionsBoundary"),
        )
        return {"Role": _role(role, details=True)}

    async def get_role(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "GetRole", "role", p["RoleName"])
        role = await self.service.require_role(account_id, p["RoleName"])
        return {"Role": {**_role(role, details=True), "RoleLastUsed": {}}}

    async def list_roles(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on_account(call, "ListRoles")
        page = await self.service.list_roles(
            account_id, path_prefix=p.get("PathPrefix"), **_listing(p)
        )
        return _paged("Roles", page, _role)

    async def delete_role(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "DeleteRole", "role", p["RoleName"])
        await self.service.delete_role(account_id, p["RoleName"])
        return {}

    async def update_assume_role_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "UpdateAssumeRolePolicy", "role", p["RoleName"])
        await self.service.update_assume_role_policy(account_id, p["RoleName"], p["PolicyDocument"])
        return {}

    async def put_role_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "PutRolePolicy", "role", p["RoleName"])
        await self.service.put_role_policy(
            account_id, p["RoleName"], p["PolicyName"], p["PolicyDocument"]
        )
        return {}

    async def get_role_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "GetRolePolicy", "role", p["RoleName"])
        policy = await self.service.get_role_policy(account_id, p["RoleName"], p["PolicyName"])
        return {
            "RoleName": p["RoleName"],
            "PolicyName": policy.name,
            "PolicyDocument": encode_document(policy.document),
        }

    async def delete_role_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "DeleteRolePolicy", "role", p["RoleName"])
        await self.service.delete_role_policy(account_id, p["RoleName"], p["PolicyName"])
        return {}

    async def list_role_policies(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "ListRolePolicies", "role", p["RoleName"])
        return _names(
            await self.service.list_role_policies(account_id, p["RoleName"], **_listing(p))
        )

    async def attach_role_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "AttachRolePolicy", "role", p["RoleName"])
        await self.service.attach_role_policy(account_id, p["RoleName"], p["PolicyArn"])
        return {}

    async def detach_role_policy(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "DetachRolePolicy", "role", p["RoleName"])
        await self.service.detach_role_policy(account_id, p["RoleName"], p["PolicyArn"])
        return {}

    async def list_attached_role_policies(self, call: Any, p: dict[str, Any]) -> dict[str, Any]:
        account_id = await self._on(call, "ListAttachedRolePolicies", "role", p["RoleName"])
        page = await self.service.list_attached_role_policies(
            account_id, p["RoleName"], path_prefix=p.get("PathPrefix"), **_listing(p)
        )
        return _paged("AttachedPolicies", page, _attached)
