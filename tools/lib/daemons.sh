# tools/lib/daemons.sh — start, stop and probe the Strata daemons that exist in
# the build.  One row per daemon: name, binary, port variable, URL path.
# Sourced by tools/strata.

DAEMONS=(identity imaged blockd scheduler computed)

daemon_bin() {   # the binary of a daemon: build/<source dir>/strata-<name>
    case $1 in
        computed) echo "$BUILD_DIR/compute/strata-computed" ;;
        *) echo "$BUILD_DIR/$1/strata-$1" ;;
    esac
}
daemon_built() { [ -x "$(daemon_bin "$1")" ]; }

daemon_port() {
    case $1 in
        identity) echo "$PORT_IDENTITY" ;;
        imaged) echo "$PORT_IMAGE" ;;
        blockd) echo "$PORT_VOLUME" ;;
        scheduler) echo "$PORT_COMPUTE" ;;
        computed) echo "$PORT_AGENT" ;;
    esac
}

daemon_url() { echo "http://127.0.0.1:$(daemon_port "$1")"; }

daemon_healthy() { curl -fsS --max-time 2 "$(daemon_url "$1")/healthz" >/dev/null 2>&1; }

daemon_start() {   # daemon_start NAME
    local name=$1 pidf=$STRATA_HOME/run/$1.pid
    if pid_alive "$pidf"; then
        return 0
    fi
    require_port "$(daemon_port "$name")" "strata-$name"
    nohup "$(daemon_bin "$name")" --config "$STRATA_CONF" \
        >>"$STRATA_HOME/log/$name.log" 2>&1 </dev/null &
    echo $! >"$pidf"
    say "started strata-$name (pid $!)"
    CHANGED=1
}

daemons_up() {
    local name started=()
    for name in "${DAEMONS[@]}"; do
        daemon_built "$name" || continue
        daemon_start "$name"
        started+=("$name")
    done
    if [ ${#started[@]} = 0 ]; then
        say "no Strata daemon is built yet: Ceph and libvirtd only"
        return 0
    fi
    for name in "${started[@]}"; do
        wait_for 30 "strata-$name /healthz" daemon_healthy "$name" || {
            tail -n 20 "$STRATA_HOME/log/$name.log" >&2
            die "strata-$name is not healthy (log: $STRATA_HOME/log/$name.log)"
        }
    done
}

daemons_down() {
    local name
    for name in "${DAEMONS[@]}"; do
        stop_pid "$STRATA_HOME/run/$name.pid" "strata-$name"
    done
}

daemons_status() {
    local name rc=0 st
    for name in "${DAEMONS[@]}"; do
        daemon_built "$name" || { printf '%-10s %s\n' "$name" "not built"; continue; }
        if ! pid_alive "$STRATA_HOME/run/$name.pid"; then
            st=down; rc=1
        elif daemon_healthy "$name"; then
            st="up $(daemon_url "$name")"
        else
            st="unhealthy $(daemon_url "$name")"; rc=1
        fi
        printf '%-10s %s\n' "$name" "$st"
    done
    return $rc
}

# Guests of this home: the libvirt domains whose definition points into
# $STRATA_HOME (console logs live there).  `destroy` and the test clean-up
# remove them; `down` leaves guests running, as a stopped agent does.
domains_purge() {
    libvirt_running || return 0
    local d n=0
    for d in $(virsh -c qemu:///system list --all --name 2>/dev/null | grep '^strata-' || true); do
        virsh -c qemu:///system dumpxml --inactive "$d" 2>/dev/null | grep -q "$STRATA_HOME/" || continue
        virsh -c qemu:///system destroy "$d" >/dev/null 2>&1 || true
        virsh -c qemu:///system undefine "$d" >/dev/null 2>&1 || true
        n=$((n + 1))
    done
    [ "$n" = 0 ] || say "removed $n guest domain(s) of $STRATA_HOME"
    # The agents' ceph secret goes with the last Strata domain.
    if ! virsh -c qemu:///system list --all --name 2>/dev/null | grep -q '^strata-'; then
        local uuid
        uuid=$(conf_get computed rbd_secret_uuid 2>/dev/null || true)
        uuid=${uuid:-5b1e6c2a-3f0d-4d8e-9a77-2c4f8e1d0b51}
        virsh -c qemu:///system secret-undefine "$uuid" >/dev/null 2>&1 || true
    fi
}
