"""A stand-in for ``gcloud`` on PATH: it records every call and keeps what was "created".

Only the commands deploy/ plans are known, answered the way gcloud answers them: a describe
prints the requested value or fails when the resource is absent, create/update/delete change
the state file. State and call log are JSON files named by FAKE_GCLOUD_STATE and
FAKE_GCLOUD_LOG; FAKE_RUN_URLS maps a Cloud Run service to the URL ``status.url`` reports;
FAKE_FAIL_ONCE names a verb whose first call fails (IAM's eventual consistency).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

PROJECT_NUMBER = "987654321098"
READ_ONLY = {"describe", "get-iam-policy", "access"}


def main(argv: list[str]) -> int:
    state_path = Path(os.environ["FAKE_GCLOUD_STATE"])
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    with open(os.environ["FAKE_GCLOUD_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(argv) + "\n")
    words = [a for a in argv if not a.startswith("--")]
    flags = dict(_flag(a) for a in argv if a.startswith("--"))
    if _fails_once(state, words):
        state_path.write_text(json.dumps(state))
        print("ERROR: (gcloud) NOT_FOUND: not visible yet", file=sys.stderr)
        return 1
    code = _answer(state, words, flags)
    state_path.write_text(json.dumps(state))
    return code


def _flag(arg: str) -> tuple[str, str]:
    name, _, value = arg[2:].partition("=")
    return name, value


def _fails_once(state: dict[str, Any], words: list[str]) -> bool:
    verb = os.environ.get("FAKE_FAIL_ONCE")
    if not verb or verb not in words or state.get("failed_once"):
        return False
    state["failed_once"] = True
    return True


def _answer(state: dict[str, Any], words: list[str], flags: dict[str, str]) -> int:
    resources: dict[str, Any] = state.setdefault("resources", {})
    bindings: list[list[str]] = state.setdefault("bindings", [])
    project = flags.get("project", "")
    verb_at = next(i for i, w in enumerate(words) if _is_verb(w))
    group, verb, rest = words[:verb_at], words[verb_at], words[verb_at + 1 :]
    if group == ["run"]:  # gcloud run deploy makes a service
        group = ["run", "services"]
    if group == ["services"] or (group == ["projects"] and verb == "describe"):
        if verb == "describe":
            print(PROJECT_NUMBER)
        return 0
    if verb in ("get-iam-policy", "add-iam-policy-binding", "remove-iam-policy-binding"):
        return _policy(bindings, " ".join([*group, rest[0]]), verb, flags)
    if group == ["builds"]:
        image = dict(s.split("=", 1) for s in flags["substitutions"].split(","))["_IMAGE"]
        resources[f"artifacts docker images {image}"] = {"state": "ACTIVE"}
        return 0
    if group == ["secrets", "versions"]:
        print(resources[f"secrets {flags['secret']}"]["data"], end="")
        return 0
    if group == ["iam", "service-accounts"] and verb == "create":
        rest = [f"{rest[0]}@{project}.iam.gserviceaccount.com"]
    name = rest[0]
    key = " ".join([*group, name, flags.get("workload-identity-pool", "")]).strip()
    found = resources.get(key)
    if verb == "describe":
        return _describe(found, name, flags.get("format", ""))
    if verb in ("create", "create-oidc", "create-aws", "deploy"):
        if found is not None and found.get("state") != "DELETED" and verb != "deploy":
            print(f"ERROR: (gcloud) ALREADY_EXISTS: {name}", file=sys.stderr)
            return 1
        found = resources[key] = {"state": "ACTIVE"}
        if group == ["secrets"]:
            found["data"] = sys.stdin.read()
    elif found is None:
        print(f"ERROR: (gcloud) NOT_FOUND: {name}", file=sys.stderr)
        return 1
    if verb == "delete":
        if group[:2] == ["iam", "workload-identity-pools"]:
            found["state"] = "DELETED"
            return 0
        del resources[key]
        bindings[:] = [b for b in bindings if b[0] != key]  # its policy goes with it
        if group == ["artifacts", "repositories"]:  # and its images
            for image in [k for k in resources if f"/{project}/{name}/" in k]:
                del resources[image]
        return 0
    if verb == "undelete":
        found["state"] = "ACTIVE"
    if verb == "disable":
        found["disabled"] = True
    if "description" in flags:
        found["description"] = flags["description"]
    if "update-labels" in flags:
        label, _, value = flags["update-labels"].partition("=")
        found.setdefault("labels", {})[label] = value
    return 0


def _is_verb(word: str) -> bool:
    verbs = {
        "enable",
        "create",
        "create-oidc",
        "create-aws",
        "deploy",
        "submit",
        "disable",
        "update",
    }
    verbs |= {"update-oidc", "update-aws", "undelete", "delete", "add-iam-policy-binding"}
    verbs |= {"remove-iam-policy-binding"}
    return word in verbs | READ_ONLY


def _describe(found: dict[str, Any] | None, name: str, fmt: str) -> int:
    if found is None:
        print(f"ERROR: (gcloud) NOT_FOUND: {name}", file=sys.stderr)
        return 1
    if "state,description" in fmt:
        print(f"{found['state']}:{found.get('description', '')}")
    elif "labels." in fmt:
        print(found.get("labels", {}).get(fmt.split("labels.")[1].rstrip(")"), ""))
    elif "status.url" in fmt:
        print(json.loads(os.environ.get("FAKE_RUN_URLS", "{}")).get(name, f"https://{name}.run"))
    elif "disabled" in fmt:
        print("True" if found.get("disabled") else "False")
    elif "digest" in fmt:
        print("sha256:0123")
    else:
        print(name)
    return 0


def _policy(bindings: list[list[str]], holder: str, verb: str, flags: dict[str, str]) -> int:
    if verb == "get-iam-policy":
        match = re.fullmatch(r'bindings\.role="(.+)" AND bindings\.members="(.+)"', flags["filter"])
        assert match, flags["filter"]
        if [holder, match[1], match[2]] in bindings:
            print(match[1])
        return 0
    binding = [holder, flags["role"], flags["member"]]
    if verb == "add-iam-policy-binding" and binding not in bindings:
        bindings.append(binding)
    elif verb == "remove-iam-policy-binding":
        if binding not in bindings:
            print("ERROR: Policy binding with the specified principal not found!", file=sys.stderr)
            return 1
        bindings.remove(binding)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
