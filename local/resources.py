"""Create a template's tables, queues, buckets and secrets against moto (server or in-process).

    template = load_template("template.yaml")
    resources = create_resources(template, boto3.Session())      # inside moto.mock_aws
    env = function_environment(template, "WidgetIngestFunction", resources)

`create_resources` is idempotent: existing resources are reused. The returned `ResourceMap`
answers `!Ref` and `!GetAtt` the way CloudFormation would for these resources.
"""

from __future__ import annotations

import json
import logging
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from local.template import Template, TemplateError, load_template

log = logging.getLogger(__name__)

TABLE = "AWS::DynamoDB::Table"
QUEUE = "AWS::SQS::Queue"
BUCKET = "AWS::S3::Bucket"
SECRET = "AWS::SecretsManager::Secret"  # noqa: S105 - a resource type
CREATED_TYPES = (TABLE, QUEUE, BUCKET, SECRET)


@dataclass
class PhysicalResource:
    """What CloudFormation would report for one resource: its Ref value and attributes."""

    logical_id: str
    type: str
    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class ResourceMap:
    """Physical names and attributes of a stack's resources; resolves `!Ref` and `!GetAtt`.

    Resources the local stack does not create (roles, log groups, the API …) still resolve, to
    plausible names and ARNs derived from the stack name.
    """

    template: Template
    created: dict[str, PhysicalResource] = field(default_factory=dict)

    @property
    def stack_name(self) -> str:
        return self.template.stack_name

    @property
    def region(self) -> str:
        return self.template.region

    @property
    def account_id(self) -> str:
        return self.template.account_id

    def ref(self, logical_id: str) -> str:
        if logical_id in self.created:
            return self.created[logical_id].ref
        return self._derived(logical_id).ref

    def get_att(self, logical_id: str, attribute: str) -> str:
        resource = self.created.get(logical_id) or self._derived(logical_id)
        if attribute not in resource.attributes:
            raise TemplateError(f"!GetAtt {logical_id}.{attribute} is not known locally")
        return resource.attributes[attribute]

    def resolve(self, value: Any) -> Any:
        """Resolve intrinsics in `value` against this stack."""
        return self.template.resolve(value, self)

    def by_type(self, resource_type: str) -> dict[str, PhysicalResource]:
        return {k: v for k, v in self.created.items() if v.type == resource_type}

    def logical_id_for(self, attribute: str, value: str) -> str | None:
        """The created resource whose `attribute` (or Ref, for "Ref") equals `value`."""
        for resource in self.created.values():
            if (
                resource.ref if attribute == "Ref" else resource.attributes.get(attribute)
            ) == value:
                return resource.logical_id
        return None

    def physical_name(self, logical_id: str) -> str:
        """The generated name of a resource without an explicit name property."""
        return f"{self.stack_name}-{logical_id}"

    def _arn(self, service: str, resource: str, region: bool = True) -> str:
        region_part = self.region if region else ""
        account = "" if service == "s3" else self.account_id
        return f"arn:aws:{service}:{region_part}:{account}:{resource}"

    def _derived(self, logical_id: str) -> PhysicalResource:
        resources = self.template.resources
        if logical_id not in resources:
            raise TemplateError(f"unknown resource {logical_id!r}")
        kind = resources[logical_id].get("Type", "")
        props = resources[logical_id].get("Properties", {}) or {}
        name = self.physical_name(logical_id)

        def explicit(key: str) -> str:
            value = props.get(key)
            return str(self.resolve(value)) if value is not None else name

        if kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            fn_name = explicit("FunctionName")
            arn = self._arn("lambda", f"function:{fn_name}")
            return PhysicalResource(logical_id, kind, fn_name, {"Arn": arn})
        if kind == "AWS::IAM::Role":
            role = explicit("RoleName")
            arn = f"arn:aws:iam::{self.account_id}:role/{role}"
            return PhysicalResource(logical_id, kind, role, {"Arn": arn, "RoleId": role})
        if kind == "AWS::Logs::LogGroup":
            group = explicit("LogGroupName")
            return PhysicalResource(
                logical_id, kind, group, {"Arn": self._arn("logs", f"log-group:{group}:*")}
            )
        if kind in ("AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api"):
            return PhysicalResource(logical_id, kind, "local", {"ApiEndpoint": ""})
        if kind in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
            arn = self._arn("lambda", f"layer:{name}:1")
            return PhysicalResource(logical_id, kind, arn, {"Arn": arn})
        if kind == TABLE:
            table = explicit("TableName")
            arn = self._arn("dynamodb", f"table/{table}")
            return PhysicalResource(logical_id, kind, table, {"Arn": arn})
        if kind == QUEUE:
            queue = _queue_name(explicit("QueueName"), props, self.resolve)
            arn = self._arn("sqs", queue)
            url = f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{queue}"
            attrs = {"Arn": arn, "QueueName": queue, "QueueUrl": url}
            return PhysicalResource(logical_id, kind, url, attrs)
        if kind == BUCKET:
            bucket = explicit("BucketName").lower()
            return PhysicalResource(logical_id, kind, bucket, _bucket_attributes(bucket, self))
        if kind == SECRET:
            arn = self._arn("secretsmanager", f"secret:{explicit('Name')}")
            return PhysicalResource(logical_id, kind, arn, {"Id": arn})
        if kind == "AWS::SNS::Topic":
            arn = self._arn("sns", explicit("TopicName"))
            return PhysicalResource(logical_id, kind, arn, {"TopicArn": arn})
        if kind == "AWS::Events::EventBus":
            arn = self._arn("events", f"event-bus/{explicit('Name')}")
            return PhysicalResource(logical_id, kind, explicit("Name"), {"Arn": arn, "Name": name})
        return PhysicalResource(logical_id, kind, name, {"Arn": self._arn("local", name)})


def create_resources(
    template: Template | str | Path,
    session_or_clients: boto3.Session | Mapping[str, Any] | None = None,
    stack_name: str = "yoosr-local",
    *,
    endpoint_url: str | None = None,
) -> ResourceMap:
    """Create the template's DynamoDB tables, SQS queues, S3 buckets and secrets.

    `session_or_clients` is a boto3 Session (in-process under `moto.mock_aws`, or against a moto
    server when `endpoint_url` is given) or a mapping of service name → client ("dynamodb",
    "sqs", "s3", "secretsmanager"). Safe to call again: existing resources are kept.
    """
    if not isinstance(template, Template):
        template = load_template(template, stack_name=stack_name)
    elif template.stack_name != stack_name:
        template = replace(template, stack_name=stack_name)
    clients = _Clients(session_or_clients, template.region, endpoint_url)
    resources = ResourceMap(template)
    creators = {
        TABLE: _create_table,
        QUEUE: _create_queue,
        BUCKET: _create_bucket,
        SECRET: _create_secret,
    }
    for logical_id in _creation_order(template):
        resource = template.resources[logical_id]
        props = resources.resolve(resource.get("Properties", {})) or {}
        physical = creators[resource["Type"]](logical_id, props, clients, resources)
        resources.created[logical_id] = physical
    return resources


def function_environment(
    template: Template, function_logical_id: str, resources: ResourceMap
) -> dict[str, str]:
    """Resolved environment variables of one function (Globals merged, function wins)."""
    return template.function_environment(function_logical_id, resources)


# ---------------------------------------------------------------- clients


class _Clients:
    def __init__(
        self,
        session_or_clients: boto3.Session | Mapping[str, Any] | None,
        region: str,
        endpoint_url: str | None,
    ) -> None:
        self._given = session_or_clients if isinstance(session_or_clients, Mapping) else {}
        self._session = (
            session_or_clients if isinstance(session_or_clients, boto3.Session) else None
        )
        self._region = region
        self._endpoint_url = endpoint_url
        self._made: dict[str, Any] = {}

    def __getitem__(self, service: str) -> Any:
        if service in self._given:
            return self._given[service]
        if service not in self._made:
            session = self._session or boto3.Session()
            self._made[service] = session.client(
                service,  # type: ignore[call-overload]
                region_name=self._region,
                endpoint_url=self._endpoint_url,
            )
        return self._made[service]


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


# ---------------------------------------------------------------- ordering


def _references(value: Any) -> set[str]:
    """Logical ids `value` refers to through Ref, GetAtt or Sub."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _references(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                target = arg.split(".", 1)[0] if isinstance(arg, str) else arg[0]
                if isinstance(target, str):
                    found.add(target)
            elif key == "Fn::Sub":
                text = arg[0] if isinstance(arg, list) else arg
                for name in Template._SUB_VAR.findall(str(text)):
                    found.add(name.split(".", 1)[0])
                if isinstance(arg, list) and len(arg) > 1:
                    found |= _references(arg[1])
            else:
                found |= _references(arg)
    return found


def _creation_order(template: Template) -> list[str]:
    """Creatable resources with each one after those it refers to (a DLQ before its queue)."""
    creatable = template.resources_of_type(*CREATED_TYPES)
    order: list[str] = []
    visiting: set[str] = set()

    def visit(logical_id: str) -> None:
        if logical_id in order:
            return
        if logical_id in visiting:
            raise TemplateError(f"circular reference through {logical_id}")
        visiting.add(logical_id)
        for dependency in sorted(_references(creatable[logical_id].get("Properties", {}))):
            if dependency in creatable:
                visit(dependency)
        visiting.discard(logical_id)
        order.append(logical_id)

    for logical_id in creatable:
        visit(logical_id)
    return order


# ---------------------------------------------------------------- DynamoDB


def _sse(spec: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not spec:
        return None
    out: dict[str, Any] = {"Enabled": bool(spec.get("SSEEnabled", False))}
    if spec.get("SSEType"):
        out["SSEType"] = spec["SSEType"]
    if spec.get("KMSMasterKeyId"):
        out["KMSMasterKeyId"] = spec["KMSMasterKeyId"]
    return out


def _index(spec: Mapping[str, Any], on_demand: bool) -> dict[str, Any]:
    keys = ("IndexName", "KeySchema", "Projection") + (
        () if on_demand else ("ProvisionedThroughput",)
    )
    return {k: spec[k] for k in keys if k in spec}


def _create_table(
    logical_id: str, props: dict[str, Any], clients: _Clients, resources: ResourceMap
) -> PhysicalResource:
    client = clients["dynamodb"]
    name = str(props.get("TableName") or resources.physical_name(logical_id))
    on_demand = props.get("BillingMode", "PROVISIONED") == "PAY_PER_REQUEST"
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": "PAY_PER_REQUEST" if on_demand else "PROVISIONED",
    }
    if not on_demand:
        request["ProvisionedThroughput"] = props.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = [
            _index(i, on_demand) for i in props["GlobalSecondaryIndexes"]
        ]
    if props.get("LocalSecondaryIndexes"):
        request["LocalSecondaryIndexes"] = [_index(i, True) for i in props["LocalSecondaryIndexes"]]
    stream = props.get("StreamSpecification")
    if stream and stream.get("StreamViewType"):
        request["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream["StreamViewType"],
        }
    sse = _sse(props.get("SSESpecification"))
    if sse:
        request["SSESpecification"] = sse
    if "DeletionProtectionEnabled" in props:
        request["DeletionProtectionEnabled"] = str(props["DeletionProtectionEnabled"]).lower() in (
            "true",
            "1",
        )
    if props.get("TableClass"):
        request["TableClass"] = props["TableClass"]
    if props.get("Tags"):
        request["Tags"] = props["Tags"]
    try:
        client.create_table(**request)
    except ClientError as error:
        if _error_code(error) != "ResourceInUseException":
            raise
    table = client.describe_table(TableName=name)["Table"]

    ttl = props.get("TimeToLiveSpecification")
    if ttl and str(ttl.get("Enabled", False)).lower() == "true":
        current = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
    pitr = props.get("PointInTimeRecoverySpecification") or {}
    if str(pitr.get("PointInTimeRecoveryEnabled", False)).lower() == "true":
        _best_effort(
            f"point-in-time recovery on {name}",
            lambda: client.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            ),
        )

    attributes = {"Arn": table["TableArn"]}
    if table.get("LatestStreamArn"):
        attributes["StreamArn"] = table["LatestStreamArn"]
    return PhysicalResource(logical_id, TABLE, name, attributes)


# ---------------------------------------------------------------- SQS

_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication", "DeduplicationScope", "DelaySeconds", "FifoQueue",
    "FifoThroughputLimit", "KmsDataKeyReusePeriodSeconds", "KmsMasterKeyId", "MaximumMessageSize",
    "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds", "RedriveAllowPolicy",
    "RedrivePolicy", "SqsManagedSseEnabled", "VisibilityTimeout",
)  # fmt: skip


def _queue_name(name: str, props: Mapping[str, Any], resolve: Any) -> str:
    fifo = str(resolve(props.get("FifoQueue", False))).lower() == "true"
    if fifo and not name.endswith(".fifo"):
        name = name[:75] + ".fifo"
    return name[:80]


def _attribute_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _create_queue(
    logical_id: str, props: dict[str, Any], clients: _Clients, resources: ResourceMap
) -> PhysicalResource:
    client = clients["sqs"]
    name = _queue_name(
        str(props.get("QueueName") or resources.physical_name(logical_id)), props, lambda v: v
    )
    attributes = {k: _attribute_text(props[k]) for k in _QUEUE_ATTRIBUTES if k in props}
    if "RedrivePolicy" in props:
        policy = dict(props["RedrivePolicy"])
        policy["maxReceiveCount"] = int(policy.get("maxReceiveCount", 10))
        attributes["RedrivePolicy"] = json.dumps(policy)
    request: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
    if props.get("Tags"):
        request["tags"] = {t["Key"]: t["Value"] for t in props["Tags"]}
    try:
        url = client.create_queue(**request)["QueueUrl"]
    except ClientError as error:
        if _error_code(error) not in ("QueueAlreadyExists", "QueueNameExists"):
            raise
        # Same name, other attributes (the template changed): bring the queue up to date.
        url = client.get_queue_url(QueueName=name)["QueueUrl"]
        settable = {k: v for k, v in attributes.items() if k != "FifoQueue"}
        if settable:
            client.set_queue_attributes(QueueUrl=url, Attributes=settable)
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return PhysicalResource(
        logical_id, QUEUE, url, {"Arn": arn, "QueueName": name, "QueueUrl": url}
    )


# ---------------------------------------------------------------- S3


def _bucket_attributes(bucket: str, resources: ResourceMap) -> dict[str, str]:
    region = resources.region
    return {
        "Arn": f"arn:aws:s3:::{bucket}",
        "DomainName": f"{bucket}.s3.amazonaws.com",
        "RegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
        "DualStackDomainName": f"{bucket}.s3.dualstack.{region}.amazonaws.com",
        "WebsiteURL": f"http://{bucket}.s3-website-{region}.amazonaws.com",
    }


def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation's LifecycleConfiguration rule → the S3 API's shape."""
    out: dict[str, Any] = {"Status": rule.get("Status", "Enabled")}
    if rule.get("Id"):
        out["ID"] = rule["Id"]
    prefix_filter: dict[str, Any] = {"Prefix": rule.get("Prefix", "")}
    if rule.get("TagFilters"):
        tags = [{"Key": t["Key"], "Value": t["Value"]} for t in rule["TagFilters"]]
        prefix_filter = {"And": {"Prefix": rule.get("Prefix", ""), "Tags": tags}}
    out["Filter"] = prefix_filter
    expiration: dict[str, Any] = {}
    if "ExpirationInDays" in rule:
        expiration["Days"] = int(rule["ExpirationInDays"])
    if "ExpirationDate" in rule:
        expiration["Date"] = rule["ExpirationDate"]
    if "ExpiredObjectDeleteMarker" in rule:
        expiration["ExpiredObjectDeleteMarker"] = bool(rule["ExpiredObjectDeleteMarker"])
    if expiration:
        out["Expiration"] = expiration
    noncurrent = rule.get("NoncurrentVersionExpiration")
    if noncurrent:
        out["NoncurrentVersionExpiration"] = {
            k: int(v)
            for k, v in noncurrent.items()
            if k in ("NoncurrentDays", "NewerNoncurrentVersions")
        }
    elif "NoncurrentVersionExpirationInDays" in rule:
        out["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])
        }
    if rule.get("AbortIncompleteMultipartUpload"):
        days = int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
    if rule.get("Transitions"):
        out["Transitions"] = [
            {"StorageClass": t["StorageClass"], "Days": int(t["TransitionInDays"])}
            for t in rule["Transitions"]
            if "TransitionInDays" in t
        ]
    return out


def _create_bucket(
    logical_id: str, props: dict[str, Any], clients: _Clients, resources: ResourceMap
) -> PhysicalResource:
    client = clients["s3"]
    name = str(props.get("BucketName") or resources.physical_name(logical_id)).lower()
    request: dict[str, Any] = {"Bucket": name}
    if resources.region != "us-east-1":
        request["CreateBucketConfiguration"] = {"LocationConstraint": resources.region}
    try:
        client.create_bucket(**request)
    except ClientError as error:
        if _error_code(error) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise

    sse_rules = (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration")
    # CloudFormation says ServerSideEncryptionByDefault where the S3 API says Apply….
    renamed = {"ServerSideEncryptionByDefault": "ApplyServerSideEncryptionByDefault"}
    encryption = [{renamed.get(k, k): v for k, v in rule.items()} for rule in sse_rules or []]
    if encryption:
        _best_effort(
            f"encryption on bucket {name}",
            lambda: client.put_bucket_encryption(
                Bucket=name, ServerSideEncryptionConfiguration={"Rules": encryption}
            ),
        )
    if props.get("PublicAccessBlockConfiguration"):
        block = {k: bool(v) for k, v in props["PublicAccessBlockConfiguration"].items()}
        _best_effort(
            f"public access block on bucket {name}",
            lambda: client.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=block
            ),
        )
    if props.get("VersioningConfiguration"):
        status = props["VersioningConfiguration"].get("Status", "Enabled")
        _best_effort(
            f"versioning on bucket {name}",
            lambda: client.put_bucket_versioning(
                Bucket=name, VersioningConfiguration={"Status": status}
            ),
        )
    rules = (props.get("LifecycleConfiguration") or {}).get("Rules")
    if rules:
        _best_effort(
            f"lifecycle rules on bucket {name}",
            lambda: client.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in rules]}
            ),
        )
    cors = (props.get("CorsConfiguration") or {}).get("CorsRules")
    if cors:
        renamed = {"Id": "ID", "ExposedHeaders": "ExposeHeaders", "MaxAge": "MaxAgeSeconds"}
        cors_rules = [{renamed.get(k, k): v for k, v in r.items()} for r in cors]
        _best_effort(
            f"CORS on bucket {name}",
            lambda: client.put_bucket_cors(
                Bucket=name, CORSConfiguration={"CORSRules": cors_rules}
            ),
        )
    return PhysicalResource(logical_id, BUCKET, name, _bucket_attributes(name, resources))


# ---------------------------------------------------------------- Secrets Manager


def generate_secret_string(spec: Mapping[str, Any]) -> str:
    """A random value following CloudFormation's GenerateSecretString options."""

    def flag(key: str) -> bool:
        return str(spec.get(key, False)).lower() == "true"

    groups = []
    if not flag("ExcludeLowercase"):
        groups.append(string.ascii_lowercase)
    if not flag("ExcludeUppercase"):
        groups.append(string.ascii_uppercase)
    if not flag("ExcludeNumbers"):
        groups.append(string.digits)
    if not flag("ExcludePunctuation"):
        groups.append(string.punctuation)
    if flag("IncludeSpace"):
        groups.append(" ")
    excluded = set(str(spec.get("ExcludeCharacters", "")))
    groups = [g for g in ("".join(c for c in g if c not in excluded) for g in groups) if g]
    if not groups:
        raise TemplateError("GenerateSecretString excludes every character")
    length = int(spec.get("PasswordLength", 32))
    alphabet = "".join(groups)
    require_each = str(spec.get("RequireEachIncludedType", True)).lower() == "true"
    # Bounded: with ≥ 1 of each of ≤ 5 groups, a 64-character draw almost never needs a retry.
    for _ in range(1000):
        value = "".join(secrets.choice(alphabet) for _ in range(length))
        if not require_each or length < len(groups) or all(set(value) & set(g) for g in groups):
            break
    template_text = spec.get("SecretStringTemplate")
    if template_text:
        document = json.loads(template_text)
        document[spec.get("GenerateStringKey", "password")] = value
        return json.dumps(document)
    return value


def _create_secret(
    logical_id: str, props: dict[str, Any], clients: _Clients, resources: ResourceMap
) -> PhysicalResource:
    client = clients["secretsmanager"]
    name = str(props.get("Name") or resources.physical_name(logical_id))
    if "SecretString" in props:
        value = str(props["SecretString"])
    else:
        value = generate_secret_string(props.get("GenerateSecretString") or {})
    request: dict[str, Any] = {"Name": name, "SecretString": value}
    if props.get("Description"):
        request["Description"] = props["Description"]
    try:
        arn = client.create_secret(**request)["ARN"]
    except ClientError as error:
        if _error_code(error) != "ResourceExistsException":
            raise
        # Keep the existing value: rotating it on every start would invalidate stored hashes.
        arn = client.describe_secret(SecretId=name)["ARN"]
    return PhysicalResource(logical_id, SECRET, arn, {"Id": arn})


def _best_effort(what: str, call: Any) -> None:
    """Apply a setting moto may not support; locally it changes nothing the app can observe."""
    try:
        call()
    except ClientError as error:
        log.warning("could not set %s: %s", what, _error_code(error) or error)
    except NotImplementedError:
        log.warning("could not set %s: not implemented by moto", what)
