"""compose.yaml runs every feature (issue 24): code_interpreter's sandbox gets the seccomp
profile (Docker's default plus a named, minimal set for bubblewrap, not `unconfined`), the
AppArmor and /proc settings it needs, a restart policy and a health check on /healthz."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import compose

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
from gen_seccomp_profile import (  # noqa: E402
    BUBBLEWRAP_SYSCALLS,
    PROFILE,
    bubblewrap_rule,
    canonical_digest,
)

# Docker's default profile (github.com/moby/profiles seccomp v0.2.3, vendored in moby/moby at
# b985e2313a8676e18072b442911fc8f64f17d440) in canonical form: the profile's base, unchanged.
DEFAULT_DIGEST = "9da637d2ab0a204fcbd91bd88f1be9e004a3acab61c571a9f5b8870e588a17d2"
# The namespace flags Docker's default refuses to clone without CAP_SYS_ADMIN.
CLONE_NAMESPACE_MASK = 0x7E020000


def _profile() -> dict[str, Any]:
    return json.loads(PROFILE.read_text())


def test_compose_gives_the_sandbox_the_profile_apparmor_and_proc_it_needs() -> None:
    mcp = compose.load()["services"]["mcp"]
    options = mcp["security_opt"]
    assert "seccomp=unconfined" not in options
    (seccomp,) = [o.split("=", 1)[1] for o in options if o.startswith("seccomp=")]
    assert (REPO / seccomp).resolve() == PROFILE
    assert "apparmor=unconfined" in options and "systempaths=unconfined" in options
    text = compose.COMPOSE_FILE.read_text()
    for option in options:  # each one says why, in a comment above it
        above = text.split(f"- {option}")[0].rstrip().splitlines()[-1].strip()
        assert above.startswith("#"), option
    assert mcp["restart"] == "unless-stopped"
    assert "cap_add" not in mcp and not mcp.get("privileged")


def test_compose_health_check_asks_healthz() -> None:
    check = compose.load()["services"]["mcp"]["healthcheck"]
    command = " ".join(check["test"])
    port = compose.service_environment("mcp", {"MCP_AUTH_TOKEN": "x", "ENGINE_SECRET": "x"}).get(
        "PORT", "8662"
    )
    assert f"http://127.0.0.1:{port}/healthz" in command
    # The image has no curl: the check is the image's own Python, failing on a non-2xx answer.
    assert check["test"][:2] == ["CMD", "python"] and "urlopen" in command


def test_the_profile_is_dockers_default_plus_the_bubblewrap_set() -> None:
    profile = _profile()
    *default_rules, added = profile["syscalls"]
    default = {**profile, "syscalls": default_rules}
    assert canonical_digest(default) == DEFAULT_DIGEST
    assert added == bubblewrap_rule()
    assert set(added["names"]) == {
        "clone", "unshare", "mount", "umount2", "pivot_root", "sethostname",
    }  # fmt: skip
    assert "args" not in added and "includes" not in added


def test_each_added_syscall_is_one_the_default_refuses_an_unprivileged_container() -> None:
    """Minimal: nothing added that the default already allows without CAP_SYS_ADMIN."""
    *default_rules, _ = _profile()["syscalls"]
    for name in BUBBLEWRAP_SYSCALLS:
        allowing = [
            rule for rule in default_rules
            if name in rule["names"] and rule["action"] == "SCMP_ACT_ALLOW"
            and "CAP_SYS_ADMIN" not in rule.get("includes", {}).get("caps", [])
        ]  # fmt: skip
        for rule in allowing:  # only clone, and only without namespace flags
            assert name == "clone", rule
            (arg,) = rule["args"]
            assert arg["op"] == "SCMP_CMP_MASKED_EQ" and arg["value"] == CLONE_NAMESPACE_MASK


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_bubblewrap_calls_no_refused_syscall_beyond_the_added_set(tmp_path: Path) -> None:
    """Sufficient: every syscall the sandbox's bwrap makes (as an unprivileged user, as in the
    image) is allowed by the default or added; needed: each added one is made."""
    trace = tmp_path / "bwrap.strace"
    # The namespace and mount flags of the sandbox's own argv (engine/sandbox/bwrap.py).
    flags = [
        "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net", "--unshare-ipc",
        "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox", "--unshare-user",
        "--disable-userns", "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib",
        "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin", "--proc", "/proc",
        "--dev", "/dev", "--tmpfs", "/tmp", "--", "/usr/bin/true",
    ]  # fmt: skip
    as_user = ["-u", "nobody"] if os.geteuid() == 0 else []  # as the image's user: no root
    command = ["strace", "-f", "-qq", *as_user, "-o", str(trace), "bwrap", *flags]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0 and "namespace" in done.stderr:
        pytest.skip(f"this machine refuses user namespaces: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    called = set(re.findall(r"^\d+ +(?:<\.\.\. )?(\w+)\(", trace.read_text(), re.M))
    *default_rules, added = _profile()["syscalls"]
    # Allowed without CAP_SYS_ADMIN: by name, for this architecture or kernel, or with an
    # argument condition (socket: any family but AF_VSOCK; clone: no namespace flags, which is
    # why clone is added).
    allowed = {
        name for rule in default_rules for name in rule["names"]
        if rule["action"] == "SCMP_ACT_ALLOW" and "caps" not in rule.get("includes", {})
    }  # fmt: skip
    assert called - allowed <= set(added["names"]), called - allowed
    assert set(added["names"]) <= called
