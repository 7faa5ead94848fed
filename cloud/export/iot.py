"""The IoT side of the stack: topic rules with one role per action, the device and claim
policies, and the fleet provisioning template with its role.

The policies are :mod:`provisioning.aws.export`'s documents, the same the rig derives its broker
authorisation from; the provisioning template is the one the local provisioning service runs.
"""

from __future__ import annotations

from typing import Any

from cloud.export.iam import role, rule_action_statements
from cloud.export.stack import Stack, Template, get_arn, logical_id
from cloud.export_aws import Target, topic_rule_payload
from cloud.rules.rulesfile import RuleSpec
from provisioning.aws.export import DEVICE_POLICY_NAME, claim_policy, device_policy
from provisioning.service.templates import ProvisioningTemplate

REGISTRATION_POLICY = "arn:aws:iam::aws:policy/service-role/AWSIoTThingsRegistration"
"""The managed policy AWS documents for a provisioning template's role (provision-wo-cert.md)."""


def add_topic_rule(t: Template, stack: Stack, rule: RuleSpec) -> str:
    """The rule as ``AWS::IoT::TopicRule``; each action runs as its own role."""
    def action_role(where: str) -> dict[str, Any]:
        return get_arn(logical_id(rule.name, where.rsplit(": ", 1)[-1], "Role"))

    payload = topic_rule_payload(rule, Target(stack.account, stack.region, action_role))
    rule_id = logical_id(rule.name, "Rule")
    for action in [*payload["actions"], *([payload["errorAction"]] if "errorAction" in payload else [])]:
        [(kind, body)] = action.items()
        if kind == "lambda":
            t.add(logical_id(rule.name, body["functionArn"].rsplit(":", 1)[-1], "Permission"),
                  "AWS::Lambda::Permission", {
                      "Action": "lambda:InvokeFunction", "FunctionName": body["functionArn"],
                      "Principal": "iot.amazonaws.com", "SourceAccount": stack.account,
                      "SourceArn": stack.arn("iot", f"rule/{rule.name}")})
            continue
        t.add(body["roleArn"]["Fn::GetAtt"][0], "AWS::IAM::Role",
              role(stack, "iot.amazonaws.com", rule_action_statements(stack, kind, body)))
    return t.add(rule_id, "AWS::IoT::TopicRule", {"RuleName": rule.name, "TopicRulePayload": pascal(payload)})


def pascal(value: Any) -> Any:
    """The API's camelCase keys as CloudFormation writes them (``roleArn`` -> ``RoleArn``); an
    intrinsic function (``Fn::GetAtt``, ``Ref``) is kept as it is."""
    if isinstance(value, list):
        return [pascal(v) for v in value]
    if not isinstance(value, dict) or any(k == "Ref" or k.startswith("Fn::") for k in value):
        return value
    return {k[:1].upper() + k[1:]: pascal(v) for k, v in value.items()}


def add_provisioning(t: Template, stack: Stack, template: ProvisioningTemplate, ingest_rule: str) -> None:
    """Device and claim policies, the thing groups the template names, and the template itself."""
    t.add("DevicePolicy", "AWS::IoT::Policy", {
        "PolicyName": DEVICE_POLICY_NAME,
        "PolicyDocument": device_policy(region=stack.region, account=stack.account, rule=ingest_rule)})
    t.add("ClaimPolicy", "AWS::IoT::Policy", {
        "PolicyName": f"{template.name}-claim",
        "PolicyDocument": claim_policy(region=stack.region, account=stack.account, template=template.name)})
    groups = [t.add(logical_id(group, "ThingGroup"), "AWS::IoT::ThingGroup", {"ThingGroupName": group})
              for resource in template.resources.values() if resource.get("Type") == "AWS::IoT::Thing"
              for group in resource.get("Properties", {}).get("ThingGroups", []) if isinstance(group, str)]
    role_id = t.add("ProvisioningRole", "AWS::IAM::Role",
                    role(stack, "iot.amazonaws.com", [], managed=[REGISTRATION_POLICY]))
    t.add("ProvisioningTemplate", "AWS::IoT::ProvisioningTemplate", {
        "TemplateName": template.name, "Description": "edgeferry fleet provisioning by claim",
        "Enabled": True, "ProvisioningRoleArn": get_arn(role_id), "TemplateBody": template.body,
        "TemplateType": "FLEET_PROVISIONING"}, DependsOn=["DevicePolicy", *groups])
