# shellcheck shell=bash
# Sourced by run.sh and test.sh: installs the Debian packages a script needs.
#
#   require_packages PACKAGE...
#
# Installs, with apt-get, only those of PACKAGE that dpkg does not list as
# installed; runs apt-get through sudo unless already root, never asks
# questions (DEBIAN_FRONTEND=noninteractive, -y), and refreshes the package
# lists only when something is missing. Fails with the list of missing
# packages on a system without apt-get.

require_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${db:Status-Status}\n' "$pkg" 2>/dev/null | grep -qx installed; then
            missing+=("$pkg")
        fi
    done
    ((${#missing[@]} == 0)) && return 0

    echo "installing missing packages: ${missing[*]}" >&2
    if ! command -v apt-get >/dev/null; then
        echo "error: apt-get not found; install these packages by hand: ${missing[*]}" >&2
        return 1
    fi
    local sudo=()
    if ((EUID != 0)); then
        if ! command -v sudo >/dev/null; then
            echo "error: not root and no sudo; install these packages by hand: ${missing[*]}" >&2
            return 1
        fi
        sudo=(sudo)
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
}
