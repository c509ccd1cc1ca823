"""deploy/seccomp-bubblewrap.json: Docker's default seccomp profile plus exactly the syscalls
bubblewrap (code_interpreter's sandbox) needs to make its namespaces as an unprivileged user.

Docker's default allows clone only without namespace flags, and unshare, mount, umount2 and
sethostname only to containers holding CAP_SYS_ADMIN; pivot_root not at all. Under bubblewrap
(`strace -f bwrap <the sandbox's flags> true`, as a non-root user) these are exactly the calls
beyond that: clone with CLONE_NEWUSER|NEWNS|NEWPID|NEWNET|NEWIPC|NEWUTS|NEWCGROUP, unshare
(CLONE_NEWUSER for --disable-userns), mount and umount2 (the new root), pivot_root, sethostname
(--hostname). The kernel still checks each against the caller's capabilities in its own user
namespace: they grant nothing on the host.

The default comes from github.com/moby/profiles (Apache-2.0), seccomp/default.json v0.2.3 as
vendored in moby/moby at b985e2313a8676e18072b442911fc8f64f17d440
(vendor/github.com/moby/profiles/seccomp/default.json).

uv run python scripts/gen_seccomp_profile.py DEFAULT_JSON          # print the profile
uv run python scripts/gen_seccomp_profile.py DEFAULT_JSON --write  # rewrite deploy/...json
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

PROFILE = Path(__file__).resolve().parent.parent / "deploy" / "seccomp-bubblewrap.json"
# The syscalls added to Docker's default, and why (the rule's comment says it in the file).
BUBBLEWRAP_SYSCALLS = ("clone", "mount", "pivot_root", "sethostname", "umount2", "unshare")
BUBBLEWRAP_COMMENT = (
    "openai-assistant-mcp: bubblewrap (code_interpreter's sandbox) makes user, mount, PID, "
    "network, IPC, UTS and cgroup namespaces as an unprivileged user: clone/unshare with "
    "namespace flags, mount, umount2, pivot_root, sethostname (scripts/gen_seccomp_profile.py)"
)


def canonical_digest(profile: dict[str, Any]) -> str:
    text = json.dumps(profile, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def bubblewrap_rule() -> dict[str, Any]:
    return {
        "names": list(BUBBLEWRAP_SYSCALLS),
        "action": "SCMP_ACT_ALLOW",
        "comment": BUBBLEWRAP_COMMENT,
    }


def profile_from(default: dict[str, Any]) -> dict[str, Any]:
    return {**default, "syscalls": [*default["syscalls"], bubblewrap_rule()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("default", type=Path, help="Docker's default.json")
    parser.add_argument("--write", action="store_true", help=f"write {PROFILE.name}")
    args = parser.parse_args()
    default = json.loads(args.default.read_text())
    text = json.dumps(profile_from(default), indent="\t") + "\n"
    print(f"default profile digest: {canonical_digest(default)}", flush=True)
    if args.write:
        PROFILE.parent.mkdir(exist_ok=True)
        PROFILE.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
