"""The Aurora MySQL cluster's access to the function (``--cluster``), and its removal.

Deploy: an IAM role trusting rds.amazonaws.com that may invoke exactly the function, the role
associated to the cluster, and a cluster parameter group (aurora-mysql8.0) whose
``aws_default_lambda_role`` is that role, attached to the cluster. If the cluster already
uses a custom parameter group, ours starts as a copy of it so that its settings survive;
destroy puts the cluster back on the group it used before (kept in a tag).
"""

from functools import partial

from botocore.exceptions import ClientError

from ..errors import AwsEndpointFault, AwsOperationUnsupported, ClusterNotFound, ConfigurationError, UnsupportedCluster
from . import policies
from .clients import RDS_CLUSTER_MISSING, RDS_GROUP_MISSING, RDS_ROLE_MISSING, AwsClients, error_code
from .report import Recorder
from .resources import Resources
from .stack import TAG_CLUSTER, TAG_PREVIOUS_PARAMETER_GROUP, tag_list, tag_map

AURORA_ENGINE = "aurora-mysql"
AURORA_FAMILY = "aurora-mysql8.0"
AURORA_DEFAULT_PARAMETER_GROUP = "default.aurora-mysql8.0"
LAMBDA_ROLE_PARAMETER = "aws_default_lambda_role"


def describe_cluster(aws: AwsClients, cluster_id: str, *, required: bool = True) -> dict | None:
    """The cluster; for deploy (``required``) it must exist and run Aurora MySQL 3."""
    answer = aws.call("rds", "describe_db_clusters", DBClusterIdentifier=cluster_id, missing=RDS_CLUSTER_MISSING)
    clusters = (answer or {}).get("DBClusters") or []
    if not clusters:
        if not required:
            return None
        raise ClusterNotFound(f"Aurora cluster {cluster_id!r} not found in {aws.region}")
    cluster = clusters[0]
    engine, version = cluster.get("Engine"), str(cluster.get("EngineVersion", ""))
    if required and (engine != AURORA_ENGINE or not version.startswith("8.0")):
        raise UnsupportedCluster(
            f"cluster {cluster_id!r} runs {engine} {version}; the Lambda trigger needs "
            f"Aurora MySQL 3 ({AURORA_ENGINE} 8.0)"
        )
    return cluster


def ensure_access(res: Resources, run: Recorder, cluster: dict, function_arn: str) -> None:
    s = res.settings
    cluster_id = cluster["DBClusterIdentifier"]
    existing = res.role(s.aurora_role_name)
    if existing is not None and res.owns(existing.get("Tags")):
        tagged = tag_map(existing.get("Tags")).get(TAG_CLUSTER)
        if tagged and tagged != cluster_id:
            raise ConfigurationError(
                f"stack {s.prefix} already gives cluster {tagged!r} access; run `fibtrigger aws destroy` "
                f"first, or use another --stage for cluster {cluster_id!r}"
            )
    role_arn = res.ensure_role(
        run, s.aurora_role_name, policies.RDS_SERVICE, s.aurora_policy_name,
        policies.invoke_function(function_arn), extra_tags={TAG_CLUSTER: cluster_id},
    )
    label = f"{s.aurora_role_name} on {cluster_id}"
    associated = {role["RoleArn"]: role.get("Status") for role in cluster.get("AssociatedRoles", [])}
    if role_arn in associated:
        run.keep("cluster role", label, f"status {associated[role_arn]}")
    else:
        run.change(
            "create", "cluster role", label,
            lambda: res.aws.call("rds", "add_role_to_db_cluster", DBClusterIdentifier=cluster_id, RoleArn=role_arn),
            "add_role_to_db_cluster",
        )
    _ensure_parameter_group(res, run, cluster, role_arn)


def _ensure_parameter_group(res: Resources, run: Recorder, cluster: dict, role_arn: str) -> None:
    s = res.settings
    aws = res.aws
    cluster_id = cluster["DBClusterIdentifier"]
    name = s.parameter_group_name
    current = cluster.get("DBClusterParameterGroup") or AURORA_DEFAULT_PARAMETER_GROUP
    group = res.parameter_group()
    value = None
    if group is None:
        tags = tag_list({**s.tags, TAG_CLUSTER: cluster_id, TAG_PREVIOUS_PARAMETER_GROUP: current})
        description = f"fibtrigger stack {s.prefix}: {LAMBDA_ROLE_PARAMETER} for {cluster_id}"
        if current.startswith("default."):
            def create() -> None:
                aws.call(
                    "rds", "create_db_cluster_parameter_group", DBClusterParameterGroupName=name,
                    DBParameterGroupFamily=AURORA_FAMILY, Description=description, Tags=tags,
                )
            detail = f"family {AURORA_FAMILY}"
        else:
            def create() -> None:
                aws.call(
                    "rds", "copy_db_cluster_parameter_group", SourceDBClusterParameterGroupIdentifier=current,
                    TargetDBClusterParameterGroupIdentifier=name, TargetDBClusterParameterGroupDescription=description,
                    Tags=tags,
                )
            detail = f"copy of {current}"
        run.change("create", "cluster parameter group", name, create, detail)
    else:
        res.require_ours("cluster parameter group", name, res.rds_tags(group["DBClusterParameterGroupArn"]))
        run.keep("cluster parameter group", name)
        for parameter in aws.pages(
            "rds", "describe_db_cluster_parameters", "Parameters", DBClusterParameterGroupName=name, Source="user"
        ):
            if parameter.get("ParameterName") == LAMBDA_ROLE_PARAMETER:
                value = parameter.get("ParameterValue")
    label = f"{name} {LAMBDA_ROLE_PARAMETER}"
    if value == role_arn:
        run.keep("cluster parameter", label)
    else:
        run.change(
            "create" if value is None else "update", "cluster parameter", label,
            lambda: aws.call(
                "rds", "modify_db_cluster_parameter_group", DBClusterParameterGroupName=name,
                # pending-reboot is accepted for static and dynamic parameters alike.
                Parameters=[{
                    "ParameterName": LAMBDA_ROLE_PARAMETER, "ParameterValue": role_arn, "ApplyMethod": "pending-reboot",
                }],
            ),
            f"= {role_arn}",
        )
    if current == name:
        run.keep("Aurora cluster", cluster_id, f"uses {name}")
    else:
        run.change(
            "update", "Aurora cluster", cluster_id,
            lambda: aws.call(
                "rds", "modify_db_cluster", DBClusterIdentifier=cluster_id,
                DBClusterParameterGroupName=name, ApplyImmediately=True,
            ),
            f"parameter group {current} -> {name}",
        )


def notes(region: str, cluster: dict) -> list[str]:
    """What deploy cannot do for the cluster: the reboot, the network path, the SQL grants."""
    cluster_id = cluster["DBClusterIdentifier"]
    writers = [m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", []) if m.get("IsClusterWriter")]
    writer = writers[0] if writers else "WRITER_INSTANCE_ID"
    return [
        f"Reboot the writer of {cluster_id} so that {LAMBDA_ROLE_PARAMETER} takes effect: "
        f"aws rds reboot-db-instance --db-instance-identifier {writer}",
        "The cluster calls Lambda over the network: its VPC needs a NAT gateway or a Lambda interface "
        f"VPC endpoint (com.amazonaws.{region}.lambda), and its security group must allow outbound HTTPS (443).",
        "Let the trigger's definer (the account that ran `fibtrigger migrate`) invoke Lambda: run the SQL "
        "that `fibtrigger grants --role lambda-definer --user DEFINER` prints, on the writer.",
    ]


def remove_access(res: Resources, run: Recorder) -> None:
    """Reverse of :func:`ensure_access`: restore the parameter group, drop ours, the association, the role."""
    s = res.settings
    aws = res.aws
    role = res.role(s.aurora_role_name)
    group = res.parameter_group()
    group_tags = res.rds_tags(group["DBClusterParameterGroupArn"]) if group else {}
    cluster_ids = {s.cluster} if s.cluster else set()
    for tags in (group_tags, tag_map((role or {}).get("Tags"))):
        if res.owns(tags) and tags.get(TAG_CLUSTER):
            cluster_ids.add(tags[TAG_CLUSTER])
    clusters = [c for c in (describe_cluster(aws, cid, required=False) for cid in sorted(cluster_ids)) if c]

    if group is not None and not res.owns(group_tags):
        run.skip("cluster parameter group", s.parameter_group_name, "not created by fibtrigger")
    elif group is not None:
        previous = group_tags.get(TAG_PREVIOUS_PARAMETER_GROUP) or AURORA_DEFAULT_PARAMETER_GROUP
        for cluster in clusters:
            if cluster.get("DBClusterParameterGroup") == s.parameter_group_name:
                run.change(
                    "update", "Aurora cluster", cluster["DBClusterIdentifier"],
                    partial(
                        aws.call, "rds", "modify_db_cluster", DBClusterIdentifier=cluster["DBClusterIdentifier"],
                        DBClusterParameterGroupName=previous, ApplyImmediately=True,
                    ),
                    f"parameter group {s.parameter_group_name} -> {previous}",
                )
        run.change(
            "delete", "cluster parameter group", s.parameter_group_name,
            lambda: aws.call(
                "rds", "delete_db_cluster_parameter_group", DBClusterParameterGroupName=s.parameter_group_name,
                missing=RDS_GROUP_MISSING, retry_if=_group_still_in_use,
            ),
        )
    if role is not None and res.owns(role.get("Tags")):
        for cluster in clusters:
            if any(r.get("RoleArn") == role["Arn"] for r in cluster.get("AssociatedRoles", [])):
                _remove_role(res, run, cluster["DBClusterIdentifier"], role["Arn"])
    res.delete_role(run, s.aurora_role_name)


def _remove_role(res: Resources, run: Recorder, cluster_id: str, role_arn: str) -> None:
    label = f"{res.settings.aurora_role_name} on {cluster_id}"
    try:
        res.aws.call(
            "rds", "remove_role_from_db_cluster", DBClusterIdentifier=cluster_id, RoleArn=role_arn,
            missing=RDS_ROLE_MISSING,
        )
    except (AwsOperationUnsupported, AwsEndpointFault) as error:
        # Optional: the role is deleted next either way, so the cluster keeps at most a dangling
        # association (moto does not implement RemoveRoleFromDBCluster; its server answers HTML 500).
        run.skip("cluster role", label, f"not dissociated, the role is deleted anyway: {error}")
        return
    run.record("delete", "cluster role", label)


def _group_still_in_use(error: ClientError) -> bool:
    """The cluster lets go of its old parameter group a moment after modify_db_cluster."""
    return error_code(error) == "InvalidDBParameterGroupState"
