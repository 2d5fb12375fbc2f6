# tools/lib/guest.sh — the test guest: a small BIOS-bootable disk (MBR +
# syslinux on a FAT partition + Debian's cloud kernel + an initramfs that is
# the whole root: busybox-static, the virtio modules and tools/guest/init),
# built from Debian packages without loop devices or mounts, as raw and
# qcow2; and its upload to imaged as the public image 'strata-test'.
# See tools/guest/README.md.  Sourced by tools/strata; expects $TOP and
# common.sh (and daemons.sh for the upload).

GUEST_DIR=$STRATA_HOME/guest
# A cache shared by every home (the test suite's homes are throw-away): a
# valid build there is copied instead of rebuilt.  STRATA_GUEST_CACHE= (empty)
# turns it off.
GUEST_CACHE=${STRATA_GUEST_CACHE-${HOME:-/root}/.cache/strata-guest}
GUEST_IMAGE_NAME=strata-test
# What the build is made of besides packages: a change to one rebuilds.
GUEST_INPUTS=("$TOP/tools/lib/guest.sh" "$TOP/tools/guest/build-image"
              "$TOP/tools/guest/init" "$TOP/tools/guest/acpi-power")

guest_sudo() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# The apt lists' identity: what apt would install changes only with them.
guest_lists_key() {
    stat -c '%n %Y %s' /var/lib/apt/lists/*_Packages* 2>/dev/null | sha256sum | cut -c1-16
}

# "KERNEL_PKG KERNEL_VERSION BUSYBOX_VERSION" from apt's candidates (one
# apt-cache call: each costs a second or two here).
guest_apt_query() {
    apt-cache show --no-all-versions linux-image-cloud-amd64 busybox-static 2>/dev/null | awk '
        /^Package: / { p = $2 }
        p == "linux-image-cloud-amd64" && /^Depends: / {
            split(substr($0, 10), dep, ","); n = split(dep[1], w, /[ ()=]+/)
            kpkg = w[1]; kver = (n >= 2) ? w[2] : "" }
        p == "busybox-static" && /^Version: / { bb = $2 }
        END { if (kpkg != "" && kver != "" && bb != "") print kpkg, kver, bb }'
}

# GUEST_KPKG / GUEST_KVER: the kernel package linux-image-cloud-amd64 points
# to and its version; GUEST_BBVER: busybox-static's.  Remembered per state of
# the apt lists; apt-get update first if apt knows nothing yet.
guest_resolve() {
    local f=${GUEST_CACHE:-$GUEST_DIR}/apt-resolved key k='' line
    key=$(guest_lists_key)
    if [ -f "$f" ]; then
        read -r k GUEST_KPKG GUEST_KVER GUEST_BBVER <"$f" || true
        [ "$k" = "$key" ] && [ -n "${GUEST_BBVER:-}" ] && return 0
    fi
    line=$(guest_apt_query)
    if [ -z "$line" ]; then
        guest_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null ||
            { warn "apt-get update failed"; return 1; }
        key=$(guest_lists_key)
        line=$(guest_apt_query)
    fi
    [ -n "$line" ] ||
        { warn "apt has no linux-image-cloud-amd64 or busybox-static candidate"; return 1; }
    read -r GUEST_KPKG GUEST_KVER GUEST_BBVER <<<"$line"
    mkdir -p "${f%/*}" && echo "$key $line" >"$f"
}

# What a build is made of (after guest_resolve): any change means a rebuild.
guest_stamp() {
    echo "kernel $GUEST_KPKG $GUEST_KVER"
    echo "busybox-static $GUEST_BBVER"
    echo "syslinux $(dpkg-query -W -f='${Version}' syslinux-common 2>/dev/null)"
    echo "inputs $(cat "${GUEST_INPUTS[@]}" | sha256sum | cut -c1-16)"
}

guest_valid() {   # guest_valid DIR STAMP
    [ -f "$1/strata-test.raw" ] && [ -f "$1/strata-test.qcow2" ] &&
        [ "$(cat "$1/stamp" 2>/dev/null)" = "$2" ]
}

guest_build() {   # guest_build DIR STAMP: build into DIR (debs kept in DIR/debs)
    local out=$1 t0=$SECONDS
    say "building the test guest image in $out (log: $out/build.log)"
    rm -f "$out/stamp"
    if ! "$TOP/tools/guest/build-image" "$out" "$GUEST_KPKG" "$GUEST_KVER" "$GUEST_BBVER" \
            "$out/debs" >"$out/build.log" 2>&1; then
        tail -n 20 "$out/build.log" >&2
        warn "building the test guest image failed (log: $out/build.log)"
        return 1
    fi
    echo "$2" >"$out/stamp"
    say "built the test guest image in $((SECONDS - t0)) s"
}

guest_copy() {   # guest_copy FROM TO STAMP
    rm -f "$2/stamp"
    cp --sparse=always "$1/strata-test.raw" "$2/.strata-test.raw.tmp" &&
        cp "$1/strata-test.qcow2" "$2/.strata-test.qcow2.tmp" &&
        mv -f "$2/.strata-test.raw.tmp" "$2/strata-test.raw" &&
        mv -f "$2/.strata-test.qcow2.tmp" "$2/strata-test.qcow2" &&
        echo "$3" >"$2/stamp"
}

# guest_image_ensure [--force]: a valid build in $GUEST_DIR, copied from the
# shared cache when that has one, else built (in the cache, then copied).
guest_image_ensure() {
    local force=${1:-} stamp t
    for t in sfdisk mkfs.fat mcopy syslinux cpio qemu-img; do
        command -v "$t" >/dev/null ||
            { warn "$t is missing (tools/strata build installs it)"; return 1; }
    done
    guest_resolve || return 1
    stamp=$(guest_stamp)
    mkdir -p "$GUEST_DIR"
    if [ -z "$force" ] && guest_valid "$GUEST_DIR" "$stamp"; then
        return 0
    fi
    if [ -z "$GUEST_CACHE" ]; then
        guest_build "$GUEST_DIR" "$stamp"
        return
    fi
    mkdir -p "$GUEST_CACHE" || return 1
    (
        flock 9
        if [ -n "$force" ] || ! guest_valid "$GUEST_CACHE" "$stamp"; then
            guest_build "$GUEST_CACHE" "$stamp" || exit 1
        fi
        guest_copy "$GUEST_CACHE" "$GUEST_DIR" "$stamp"
    ) 9>"$GUEST_CACHE/.lock"
}

# ---- imaged ------------------------------------------------------------------
guest_api() {   # guest_api METHOD PATH [curl args...]: JSON out, fails on HTTP errors
    local method=$1 path=$2
    shift 2
    curl -fsS --max-time 300 -X "$method" -H "X-Auth-Token: $(conf_get auth admin_token)" \
        "$@" "$(daemon_url imaged)$path"
}

# Upload the build to imaged as the public image strata-test unless an active
# one of this very build is there; older uploads of the tool are deleted.
guest_image_publish() {
    local build listing id='' i status b others=() created shown t0=$SECONDS
    build=$(sha256sum <"$GUEST_DIR/stamp" | cut -c1-16)
    listing=$(guest_api GET "/v2/images?name=$GUEST_IMAGE_NAME&visibility=public") ||
        { warn "imaged: cannot list images"; return 1; }
    while read -r i status b; do
        [ -n "$i" ] || continue
        if [ -z "$id" ] && [ "$status" = active ] && [ "$b" = "$build" ]; then
            id=$i
        elif [ "$b" != - ]; then
            others+=("$i")
        fi
    done < <("$PY" -c '
import json, sys
for i in json.load(sys.stdin)["images"]:
    print(i["id"], i.get("status"), i.get("strata_guest_build") or "-")' <<<"$listing")
    if [ -n "$id" ]; then
        say "guest image $GUEST_IMAGE_NAME: $id (already in imaged)"
        return 0
    fi
    created=$(guest_api POST /v2/images -H 'Content-Type: application/json' -d "{
        \"name\": \"$GUEST_IMAGE_NAME\", \"disk_format\": \"raw\", \"container_format\": \"bare\",
        \"visibility\": \"public\", \"min_disk\": 1, \"strata_guest_build\": \"$build\"}") ||
        { warn "imaged: cannot create the image $GUEST_IMAGE_NAME"; return 1; }
    id=$("$PY" -c 'import json, sys; print(json.load(sys.stdin)["id"])' <<<"$created")
    if ! guest_api PUT "/v2/images/$id/file" -H 'Content-Type: application/octet-stream' \
            -T "$GUEST_DIR/strata-test.raw" >/dev/null ||
       ! shown=$(guest_api GET "/v2/images/$id") ||
       ! grep -q '"status": *"active"' <<<"$shown"; then
        guest_api DELETE "/v2/images/$id" >/dev/null 2>&1 || true
        warn "imaged: uploading $GUEST_DIR/strata-test.raw failed"
        return 1
    fi
    CHANGED=1
    for i in "${others[@]}"; do
        guest_api DELETE "/v2/images/$i" >/dev/null 2>&1 ||
            warn "could not delete the older $GUEST_IMAGE_NAME image $i"
    done
    say "guest image $GUEST_IMAGE_NAME: $id (uploaded in $((SECONDS - t0)) s)"
}

# The step of 'tools/strata up': a guest image in imaged, when imaged is built.
# A failure here is a warning: the rest of the cloud works without it.
guest_image_up() {
    daemon_built imaged || return 0
    if ! guest_image_ensure "" || ! guest_image_publish; then
        warn "no $GUEST_IMAGE_NAME guest image in imaged (tests that boot servers will fail)"
    fi
}
