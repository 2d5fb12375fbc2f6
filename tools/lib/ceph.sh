# tools/lib/ceph.sh — the embedded single-node Ceph cluster (mon + mgr + one
# BlueStore OSD on a sparse file) and libvirtd, without systemd.  Whole cluster
# = one folder, $STRATA_HOME/ceph.  Sourced by tools/strata.

OSD_SIZE=${STRATA_OSD_SIZE:-$((32 * 1024 * 1024 * 1024))}
POOLS=(strata.meta strata.images strata.volumes strata.vms strata.backups)

# cephx users, one per daemon, with `profile rbd` on just the pools it needs.
# Readers of clones need read access to the parent's pool (images).
CEPH_USERS=(
    "strata-imaged|osd|profile rbd pool=strata.images, profile rbd pool=strata.volumes, profile rbd pool=strata.vms, profile rbd pool=strata.meta"
    "strata-blockd|osd|profile rbd pool=strata.volumes, profile rbd pool=strata.backups, profile rbd-read-only pool=strata.images, profile rbd pool=strata.meta"
    "strata-computed|osd|profile rbd pool=strata.vms, profile rbd pool=strata.volumes, profile rbd-read-only pool=strata.images, profile rbd pool=strata.meta"
    "strata-scheduler|osd|profile rbd pool=strata.meta"
    "strata-identity|osd|profile rbd pool=strata.meta"
)

ceph_cli() { timeout 30 ceph -c "$CEPH_CONF_FILE" --connect-timeout 15 "$@"; }

ceph_conf_write() {
    local fsid=$1
    cat >"$CEPH_CONF_FILE" <<EOF
# Embedded single-node Ceph cluster of Strata ($STRATA_HOME); made by tools/strata.
[global]
fsid = $fsid
mon initial members = a
mon host = v1:127.0.0.1:$PORT_MON
ms bind msgr2 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $CEPH_DIR/keyring.\$name
run dir = $CEPH_DIR/run
pid file = $CEPH_DIR/run/\$name.pid
admin socket = $CEPH_DIR/run/\$name.asok
log file = $CEPH_DIR/log/\$name.log
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 16
osd pool default pgp num = 16
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 3
mon data avail crit = 1
osd crush chooseleaf type = 0
auth allow insecure global id reclaim = false
rbd default features = layering, exclusive-lock, object-map, fast-diff, deep-flatten

[client]
# many short-lived clients (CLI, daemons, tests): no admin socket to collide on
admin socket =

[mon]
mon data = $CEPH_DIR/mon.\$id
keyring = $CEPH_DIR/mon.\$id/keyring
mon cluster log file = $CEPH_DIR/log/cluster.log

[osd]
osd data = $CEPH_DIR/osd.\$id
osd objectstore = bluestore
bluestore block create = true
bluestore block size = $OSD_SIZE
bluestore fsck on mount = false
osd memory target = 939524096
bluestore cache autotune = false
bluestore cache size = 268435456

[mgr]
mgr data = $CEPH_DIR/mgr.\$id
EOF
}

ceph_create() {
    say "creating the embedded Ceph cluster in $CEPH_DIR"
    require_port "$PORT_MON" "ceph-mon"
    rm -rf "$CEPH_DIR"
    mkdir -p "$CEPH_DIR"/{run,log,mon.a,osd.0,mgr.x}
    local fsid osd_uuid k=$CEPH_DIR
    fsid=$(uuidgen)
    ceph_conf_write "$fsid"
    {
        ceph-authtool --create-keyring "$k/keyring.mon." --gen-key -n mon. --cap mon 'allow *'
        ceph-authtool --create-keyring "$k/keyring.client.admin" --gen-key -n client.admin \
            --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *'
        ceph-authtool "$k/keyring.mon." --import-keyring "$k/keyring.client.admin"
        monmaptool --create --fsid "$fsid" --addv a "[v1:127.0.0.1:$PORT_MON]" "$k/monmap"
        ceph-mon -c "$CEPH_CONF_FILE" --mkfs -i a --monmap "$k/monmap" --keyring "$k/keyring.mon."
    } >>"$k/log/create.log" 2>&1 || die "ceph-mon --mkfs failed (see $k/log/create.log)"
    ceph-mon -c "$CEPH_CONF_FILE" -i a || die "ceph-mon did not start (see $k/log/mon.a.log)"
    wait_for 30 "ceph-mon quorum" ceph_cli mon stat || die "ceph-mon did not answer"

    osd_uuid=$(uuidgen)
    {
        ceph_cli osd new "$osd_uuid" &&
        ceph-authtool --create-keyring "$k/keyring.osd.0" --gen-key -n osd.0 &&
        ceph_cli auth add osd.0 osd 'allow *' mon 'allow profile osd' mgr 'allow profile osd' \
            -i "$k/keyring.osd.0" &&
        ceph-osd -c "$CEPH_CONF_FILE" -i 0 --mkfs --osd-uuid "$osd_uuid"
    } >>"$k/log/create.log" 2>&1 || die "ceph-osd --mkfs failed (see $k/log/create.log)"
    ceph-osd -c "$CEPH_CONF_FILE" -i 0 >>"$k/log/create.log" 2>&1 ||
        die "ceph-osd did not start (see $k/log/osd.0.log)"

    (umask 077 && ceph_cli auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' \
        mds 'allow *' -o "$k/keyring.mgr.x") >>"$k/log/create.log" 2>&1 || die "mgr key failed"
    ceph-mgr -c "$CEPH_CONF_FILE" -i x || die "ceph-mgr did not start"

    wait_for 60 "osd.0 up" sh -c "ceph -c '$CEPH_CONF_FILE' osd stat 2>/dev/null | grep -q '1 up'" ||
        die "osd.0 did not come up (see $k/log/osd.0.log)"
    local p
    for p in "${POOLS[@]}"; do
        ceph_cli osd pool create "$p" 16 16 >>"$k/log/create.log" 2>&1 || die "pool $p"
        if [ "$p" = strata.meta ]; then
            ceph_cli osd pool application enable "$p" strata >>"$k/log/create.log" 2>&1
        else
            rbd -c "$CEPH_CONF_FILE" pool init "$p" >>"$k/log/create.log" 2>&1 || die "rbd pool init $p"
        fi
    done
    ceph_users_ensure
    CHANGED=1
}

# The daemons' cephx users: the missing ones are created (a home made by an
# older Strata gets the users of daemons added since).
ceph_users_ensure() {
    local k=$CEPH_DIR entry user caps
    for entry in "${CEPH_USERS[@]}"; do
        user=${entry%%|*}
        caps=${entry##*|}
        [ -s "$k/keyring.client.$user" ] && continue
        (umask 077 && ceph_cli auth get-or-create "client.$user" mon 'profile rbd' osd "$caps" \
            -o "$k/keyring.client.$user") >>"$k/log/create.log" 2>&1 || die "cephx user $user"
        CHANGED=1
    done
}

ceph_running() { pid_alive "$CEPH_DIR/run/mon.a.pid" && pid_alive "$CEPH_DIR/run/osd.0.pid" &&
                 pid_alive "$CEPH_DIR/run/mgr.x.pid"; }

ceph_start() {
    local name id bin
    for name in mon.a osd.0 mgr.x; do
        pid_alive "$CEPH_DIR/run/$name.pid" && continue
        id=${name#*.}
        bin=ceph-${name%%.*}
        [ "$name" = mon.a ] && require_port "$PORT_MON" ceph-mon
        "$bin" -c "$CEPH_CONF_FILE" -i "$id" >>"$CEPH_DIR/log/start.log" 2>&1 ||
            die "$bin -i $id did not start (see $CEPH_DIR/log/$name.log)"
        say "started $name"
        CHANGED=1
    done
}

ceph_up() {
    if [ ! -f "$CEPH_DIR/mon.a/keyring" ] || [ ! -f "$CEPH_DIR/osd.0/fsid" ]; then
        ceph_create
    elif ! ceph_running; then
        ceph_start
    fi
    wait_for 90 "Ceph HEALTH_OK" sh -c "ceph -c '$CEPH_CONF_FILE' health 2>/dev/null | grep -q HEALTH_OK" ||
        warn "Ceph is not HEALTH_OK yet: $(ceph_cli health detail 2>&1 | head -5)"
    ceph_users_ensure
    ceph_keyrings_private
}

# Every keyring is readable by its owner only (homes made by an older Strata
# had keyring.mgr.x at 0644).
ceph_keyrings_private() {
    find "$CEPH_DIR" -type f -name '*keyring*' -perm /077 -exec chmod 600 {} + ||
        die "cannot make the keyrings in $CEPH_DIR private"
}

ceph_down() {
    [ -d "$CEPH_DIR/run" ] || return 0
    local name
    for name in mgr.x osd.0 mon.a; do
        stop_pid "$CEPH_DIR/run/$name.pid" "ceph $name"
    done
}

ceph_status() {
    local name st rc=0
    for name in mon.a osd.0 mgr.x; do
        if pid_alive "$CEPH_DIR/run/$name.pid"; then st=up; else st=down; rc=1; fi
        printf '%-10s %s\n' "ceph-$name" "$st"
    done
    [ $rc = 0 ] || return 1
    printf '%-10s %s\n' health "$(ceph_cli health 2>&1)"
    ceph_cli df 2>&1 | sed -n '/POOLS/,$p'
}

# ---- libvirtd (system instance, shared by every Strata home on the machine) ----
LIBVIRT_SOCK=/var/run/libvirt/libvirt-sock

libvirt_configure() {
    # Running as root in a container: QEMU runs as root without a security driver.
    local f=/etc/libvirt/qemu.conf kv k
    [ "$(id -u)" = 0 ] && [ -f "$f" ] || return 0
    for kv in 'user = "root"' 'group = "root"' 'dynamic_ownership = 0' 'security_driver = "none"'; do
        k=${kv%% *}
        grep -q "^$k = " "$f" || echo "$kv" >>"$f"
    done
}

libvirt_running() { virsh -c qemu:///system version >/dev/null 2>&1; }

libvirt_up() {
    if libvirt_running; then
        return 0
    fi
    command -v libvirtd >/dev/null || die "libvirtd not installed"
    libvirt_configure
    pgrep -x virtlogd >/dev/null || virtlogd -d || die "virtlogd did not start"
    libvirtd -d --pid-file "$STRATA_HOME/run/libvirtd.pid" || die "libvirtd did not start"
    wait_for 30 "libvirtd" libvirt_running || die "libvirtd does not answer on qemu:///system"
    say "started libvirtd"
    CHANGED=1
}

libvirt_down() {
    # Only a libvirtd that this home started (its pid file is here) is stopped.
    [ -f "$STRATA_HOME/run/libvirtd.pid" ] || return 0
    stop_pid "$STRATA_HOME/run/libvirtd.pid" libvirtd
}

libvirt_status() {
    if libvirt_running; then
        printf '%-10s %s\n' libvirtd "up ($(virsh -c qemu:///system list --all --name 2>/dev/null | grep -c . || true) domains)"
    else
        printf '%-10s %s\n' libvirtd down
        return 1
    fi
}
