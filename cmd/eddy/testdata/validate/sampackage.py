"""Package a SAM template the way `sam package` does, then run the SAM transform on it.

usage: python3 sampackage.py TEMPLATE OUT.json [TRANSFORMED.json]

sam package (and the upload step of sam deploy) uploads CodeUri values that are literal local
paths, relative to the template's directory, and replaces them with s3://BUCKET/KEY; anything else
(an intrinsic such as !Ref, a dict) it leaves as it is. This script does the same without a
network: a literal path must name an existing file or directory, and becomes
s3://eddy-packaged-artifacts/<md5 of its content>. The packaged template is written to OUT.json
(for cfn-lint) and then transformed with aws-sam-translator, as CloudFormation would; any error
exits non-zero with the transform's message.
"""
import hashlib
import json
import os
import sys

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the transform builds ARNs for a region

import cfnlint.decode.cfn_yaml as cfn_yaml
from samtranslator.translator.transform import transform
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader


class NoManagedPolicies(ManagedPolicyLoader):
    """The templates name no managed policies by name, so no IAM call is needed."""

    def __init__(self):
        pass

    def load(self):
        return {}


PACKAGEABLE = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}


def package(template_path):
    with open(template_path) as f:
        tpl = cfn_yaml.loads(f.read(), template_path)
    base = os.path.dirname(os.path.abspath(template_path))
    for name, res in tpl.get("Resources", {}).items():
        prop = PACKAGEABLE.get(res.get("Type"))
        if prop is None:
            continue
        props = res.setdefault("Properties", {})
        value = props.get(prop)
        if not isinstance(value, str) or value.startswith("s3://"):
            continue  # sam package leaves intrinsics and objects alone
        path = os.path.normpath(os.path.join(base, value))
        if not os.path.exists(path):
            sys.exit("%s: %s.%s: %s does not exist (sam package would fail)" % (template_path, name, prop, path))
        h = hashlib.md5()
        if os.path.isdir(path):
            for root, _, files in sorted(os.walk(path)):
                for fn in sorted(files):
                    with open(os.path.join(root, fn), "rb") as f:
                        h.update(f.read())
        else:
            with open(path, "rb") as f:
                h.update(f.read())
        props[prop] = "s3://eddy-packaged-artifacts/" + h.hexdigest()
    return json.loads(json.dumps(tpl))  # plain dicts and strings, as sam package writes


def main():
    tpl = package(sys.argv[1])
    with open(sys.argv[2], "w") as f:
        json.dump(tpl, f, indent=1)
    params = {p: v.get("Default") for p, v in tpl.get("Parameters", {}).items() if "Default" in v}
    params.update({"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws",
                   "AWS::StackName": "eddy-check", "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/eddy-check/1",
                   "AWS::URLSuffix": "amazonaws.com", "AWS::NotificationARNs": []})
    try:
        out = transform(tpl, params, NoManagedPolicies())
    except Exception as e:  # the transform raises InvalidDocumentException with the causes
        causes = getattr(e, "causes", None) or []
        msg = "; ".join(getattr(c, "message", str(c)) for c in causes) or str(e)
        sys.exit("SAM transform of %s failed: %s" % (sys.argv[1], msg))
    fns = [n for n, r in out["Resources"].items() if r["Type"] == "AWS::Lambda::Function"]
    if len(sys.argv) > 3:  # the CloudFormation the transform made, for checks of what SAM generates
        with open(sys.argv[3], "w") as f:
            json.dump(out, f, indent=1, default=str)
    print(json.dumps({"lambda_functions": fns, "resources": len(out["Resources"])}))


if __name__ == "__main__":
    main()
