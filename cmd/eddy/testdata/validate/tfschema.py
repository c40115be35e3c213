"""Extract the argument schema of Terraform resources from their providers' documentation.

usage: python3 tfschema.py OUT.json PROVIDER=GITDIR[@COMMIT] TYPE... 

For a provider whose binary is not in the local mirror (google, azurerm, random), the generated
configurations cannot go through `terraform validate`; the stack test checks them against this
extract instead. Each TYPE's page website/docs/r/<type minus provider prefix>.html.markdown (or docs/resources/<type>.md) is read
from the provider's git checkout: the arguments of the resource (and which are required), the
arguments of each nested block (sections "A `x` block supports" / "The `x` block supports"), and
the exported attributes. The result is committed, with the commit it was read from.
"""
import json
import re
import subprocess
import sys

ITEM = re.compile(r"^\* `([a-z0-9_/]+)` -\s*(.*)$")
BLOCK = re.compile(r"(?:^|>)\s*(?:An?|The) `([a-z0-9_]+)` block (?:supports|contains|exports)")


def page(gitdir, commit, path):
    return subprocess.run(["git", "--git-dir", gitdir, "show", "%s:%s" % (commit, path)],
                          check=True, capture_output=True, text=True).stdout


def parse(text):
    lines = text.splitlines()
    res = {"required": [], "args": [], "exports": [], "blocks": {}}
    section = None  # "top", "exports", "timeouts" or a block name
    cur = None
    for i, line in enumerate(lines):
        if re.match(r"^## Arguments? Reference", line):
            section = "top"
            continue
        if re.match(r"^## Attributes? Reference", line):
            section = "exports"
            continue
        if line.startswith("## "):
            section = None
            continue
        m = BLOCK.search(line)
        if m and section is not None:
            name = m.group(1)
            if section == "exports" and not res["blocks"].get(name):
                section = "exportblock"
                continue
            section = name
            res["blocks"].setdefault(name, {"required": [], "args": []})
            continue
        m = ITEM.match(line)
        if not m or section is None or section == "exportblock":
            continue
        names, rest = m.group(1).split("/"), m.group(2)
        if not rest.strip() and i + 1 < len(lines):
            rest = lines[i + 1].strip()
        required = rest.startswith("(Required)")
        for name in names:
            add(res, section, name, required)
    return res


def add(res, section, name, required):
    if True:
        if section == "top":
            dst = res
        elif section == "exports":
            if name not in res["exports"]:
                res["exports"].append(name)
            return
        else:
            dst = res["blocks"][section]
        if name not in dst["args"]:
            dst["args"].append(name)
        if required and name not in dst["required"]:
            dst["required"].append(name)


def parse_plugindocs(text):
    """The tfplugindocs layout (## Schema, ### Required / Optional / Read-Only, "- `x` (Type)")."""
    res = {"required": [], "args": [], "exports": [], "blocks": {}}
    kind = None
    for line in text.splitlines():
        if line.startswith("### "):
            kind = line[4:].strip()
            continue
        if line.startswith("## ") and line.strip() != "## Schema":
            kind = None
        m = re.match(r"^- `([a-z0-9_]+)` \(", line)
        if not m or kind is None:
            continue
        if kind in ("Required", "Optional"):
            res["args"].append(m.group(1))
            if kind == "Required":
                res["required"].append(m.group(1))
        elif kind == "Read-Only":
            res["exports"].append(m.group(1))
    return res


def main():
    out = sys.argv[1]
    providers = {}
    types = []
    for a in sys.argv[2:]:
        if "=" in a:
            p, src = a.split("=", 1)
            gitdir, _, commit = src.partition("@")
            commit = commit or subprocess.run(["git", "--git-dir", gitdir, "rev-parse", "HEAD"], check=True,
                                              capture_output=True, text=True).stdout.strip()
            providers[p] = (gitdir, commit)
        else:
            types.append(a)
    result = {"about": "argument names of the resources eddy's Terraform uses, read from the providers' docs "
                       "(website/docs/r/*.html.markdown) at the commits given; made by tfschema.py",
              "providers": {p: {"commit": c} for p, (_, c) in providers.items()}, "resources": {}}
    for t in sorted(set(types)):
        prov, _, rest = t.partition("_")
        gitdir, commit = providers[prov]
        r = None
        # IAM resources share one page per parent (X_iam: _policy, _binding, _member); a few
        # google pages keep the provider prefix.
        iam = re.sub(r"_iam_(member|binding|policy)$", "_iam", rest)
        for path in ("website/docs/r/%s.html.markdown" % rest, "website/docs/r/%s.html.markdown" % iam,
                     "website/docs/r/%s_%s.html.markdown" % (prov, rest), "website/docs/r/%s_%s.html.markdown" % (prov, iam)):
            try:
                r = parse(page(gitdir, commit, path))
                r["page"] = path
                break
            except subprocess.CalledProcessError:
                pass
        if r is None:
            path = "docs/resources/%s.md" % rest
            r = parse_plugindocs(page(gitdir, commit, path))
            r["page"] = path
        if t.endswith("_iam_member"):
            # The shared page's member/members and policy_data belong to the other two.
            r["args"] = [a for a in r["args"] if a not in ("members", "policy_data")]
            r["required"] = [a for a in r["required"] if a not in ("members", "policy_data")]
        r["provider"] = prov
        result["resources"][t] = r
    with open(out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
