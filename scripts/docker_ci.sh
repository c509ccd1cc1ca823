#!/usr/bin/env bash
# CI step: build the project's Dockerfile with buildah and run the image's checks
# (tests/docker, pytest marker `docker`) inside it, `sandbox check` among them: every probe holds
# where the machine lets a container make namespaces (Docker with compose.yaml's security_opt);
# under buildah's chroot isolation (this CI machine: no container runtime, no Docker daemon)
# the kernel refuses them, and the test asserts the one line saying so and skips.
#
# No container registry is reachable from CI, so the base image is a Debian bookworm root file
# system bootstrapped here from Debian's packages (mmdebstrap: half the time of debootstrap),
# plus this machine's extra CA certificates (TLS to PyPI may go through an inspecting proxy).
# The base (tarball and image) is cached between runs on one machine; a fresh machine builds
# it (~2 min on 2 busy cores).
#   scripts/docker_ci.sh     # bootstrap (or reuse) the base, build, test
# The image stays (localhost/openai-assistant-mcp:ci) for poking at, and as the next build's cache.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE_DIR=${OAM_DOCKER_CACHE:-$HOME/.cache/openai-assistant-mcp/docker}
SUITE=bookworm
PACKAGES=python3,python3-venv,ca-certificates
# As debootstrap and Debian's own images: no Recommends, and a merged /usr made by mmdebstrap's
# hook rather than the usrmerge package (which pulls in perl, ~50 MB).
BOOTSTRAP=(mmdebstrap --variant=minbase --aptopt='APT::Install-Recommends "false"'
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr)
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
IMAGE=localhost/openai-assistant-mcp:ci
EXTRA_CAS=(/usr/local/share/ca-certificates/*.crt)
[[ -e ${EXTRA_CAS[0]} ]] || EXTRA_CAS=()

say() { printf '[docker_ci %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

# The tools (Debian/Ubuntu package names); installed only where missing.
if ! command -v buildah >/dev/null || ! command -v podman >/dev/null \
    || ! command -v mmdebstrap >/dev/null; then
    say "installing buildah podman mmdebstrap"
    as_root=(); [[ $(id -u) == 0 ]] || as_root=(sudo)
    "${as_root[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q buildah podman mmdebstrap
fi

# The base's name changes with what it is made of (tool, suite, packages, CAs): a change rebuilds it.
key=$( (printf '%s\n' "${BOOTSTRAP[@]}" "$SUITE" "$PACKAGES"; cat "${EXTRA_CAS[@]}" </dev/null) | sha256sum | cut -c1-12)
BASE=localhost/openai-assistant-mcp-base:$SUITE-$key
tarball=$CACHE_DIR/base-$SUITE-$key.tar

started=$SECONDS
if podman image exists "$BASE"; then
    say "base $BASE cached"
else
    if [[ ! -s $tarball ]]; then
        say "bootstrapping Debian $SUITE into a base ($PACKAGES)"
        mkdir -p "$CACHE_DIR"
        root=$(mktemp -d "$CACHE_DIR/root.XXXXXX")
        trap 'rm -rf "$root"' EXIT
        "${BOOTSTRAP[@]}" --include="$PACKAGES" "$SUITE" "$root" "$MIRROR" \
            >"$CACHE_DIR/mmdebstrap.log" 2>&1 \
            || { tail -20 "$CACHE_DIR/mmdebstrap.log"; exit 1; }
        if ((${#EXTRA_CAS[@]})); then
            cp "${EXTRA_CAS[@]}" "$root/usr/local/share/ca-certificates/"
            chroot "$root" update-ca-certificates >/dev/null
        fi
        # As slim as Debian's own images: no package lists, caches or docs.
        rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc/* \
            "$root"/usr/share/man/* "$root"/usr/share/locale/*
        tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
        rm -rf "$root"
        trap - EXIT
    fi
    say "importing the base as $BASE"
    # pip and uv inside the build trust the system bundle, which now holds the machine's CAs.
    podman import -q \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
        --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
        --change 'CMD ["/bin/bash"]' \
        "$tarball" "$BASE" >/dev/null
fi
say "base ready in $((SECONDS - started)) s"

started=$SECONDS
say "building $IMAGE FROM $BASE"
previous=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
buildah bud --isolation chroot --layers --build-arg "BASE_IMAGE=$BASE" -t "$IMAGE" .
current=$(podman image inspect --format '{{.Id}}' "$IMAGE")
# The image this build replaced (its layers stay as the next build's cache).
if [[ -n $previous && $previous != "$current" ]]; then
    buildah rmi "$previous" >/dev/null 2>&1 || true
fi
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
say "image built in $((SECONDS - started)) s, $((size / 1000000)) MB"

started=$SECONDS
OAM_DOCKER_IMAGE=$IMAGE uv run --locked pytest -m docker tests/docker -q -p no:cacheprovider
say "image checks done in $((SECONDS - started)) s"
