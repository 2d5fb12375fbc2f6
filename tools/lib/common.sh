# tools/lib/common.sh — shared helpers of tools/strata: messages, packages,
# build, $STRATA_HOME layout, ports, the generated strata.conf and strata.env.
# Sourced by tools/strata; expects $TOP.

STRATA_HOME=${STRATA_HOME:-$TOP/var}
case "$STRATA_HOME" in /*) ;; *) STRATA_HOME=$PWD/$STRATA_HOME ;; esac
BUILD_DIR=${STRATA_BUILD_DIR:-$TOP/build}
ASAN_BUILD_DIR=${STRATA_ASAN_BUILD_DIR:-$TOP/build-asan}
PY=/usr/bin/python3   # Debian's interpreter: it sees python3-rados, -requests, the clients

say() { printf 'strata: %s\n' "$*"; }
warn() { printf 'strata: warning: %s\n' "$*" >&2; }
die() { printf 'strata: error: %s\n' "$*" >&2; exit 1; }

# ---- Debian packages ---------------------------------------------------------
PACKAGES=(
    build-essential cmake pkg-config uuid-runtime curl procps iproute2 wrk
    ceph-mon ceph-osd ceph-mgr ceph-common librados-dev librbd-dev
    libaio-dev libisal-dev libmicrohttpd-dev libvirt-dev
    libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-block-extra qemu-utils
    libjansson-dev libcurl4-openssl-dev uuid-dev libinih-dev libssl-dev libcmocka-dev
    python3-pytest python3-requests python3-rados python3-rbd
    python3-openstackclient python3-cinderclient python3-glanceclient python3-novaclient
    python3-cinder python3-ddt python3-fixtures cinder-api cinder-scheduler cinder-volume rabbitmq-server
    syslinux syslinux-common mtools dosfstools fdisk cpio
)

deps_missing() {
    local p missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    echo "${missing[*]}"
}

deps_install() {
    local missing
    missing=$(deps_missing)
    [ -z "$missing" ] && return 0
    say "installing missing packages: $missing"
    local sudo=
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || die "not root and no sudo: install these packages: $missing"
        sudo=sudo
    fi
    # libvirt-daemon-system asks about conffiles: take the package's version.
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null ||
        die "apt-get update failed"
    # shellcheck disable=SC2086
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confnew $missing >/dev/null ||
        die "apt-get install failed for: $missing"
}

# ---- build -------------------------------------------------------------------
build_tree() {
    local dir=$1
    shift
    local log=$dir.log
    mkdir -p "$dir"
    if ! { cmake -S "$TOP" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" &&
           cmake --build "$dir" -j "$(nproc)"; } >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "build failed in $dir (full log: $log)"
    fi
}

# ---- $STRATA_HOME ------------------------------------------------------------
# Components and their default ports.  A throw-away home (tools/strata test)
# sets STRATA_FREE_PORTS=1 to take free ports instead.
COMPONENT_PORTS=(mon:6789 identity:5000 compute:8774 volume:8776 image:9292 agent:8780)

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_ports() {   # free_ports N: N distinct free TCP ports on loopback
    "$PY" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

home_init() {
    mkdir -p "$STRATA_HOME"/{etc,run,log}
    chmod 700 "$STRATA_HOME"
    if [ ! -f "$STRATA_HOME/ports.env" ]; then
        local i=0 name port entry ports=()
        if [ "${STRATA_FREE_PORTS:-0}" = 1 ]; then
            read -r -a ports <<<"$(free_ports ${#COMPONENT_PORTS[@]})"
        fi
        {
            echo "# ports of this Strata home (chosen when it was created)"
            for entry in "${COMPONENT_PORTS[@]}"; do
                name=${entry%%:*}
                port=${ports[$i]:-${entry#*:}}
                echo "PORT_${name^^}=$port"
                i=$((i + 1))
            done
        } >"$STRATA_HOME/ports.env"
    fi
    home_load
}

# Variables of an existing home (nothing is created).
home_load() {
    if [ -f "$STRATA_HOME/ports.env" ]; then
        # shellcheck disable=SC1091
        . "$STRATA_HOME/ports.env"
    fi
    CEPH_DIR=$STRATA_HOME/ceph
    CEPH_CONF_FILE=$CEPH_DIR/ceph.conf
    STRATA_CONF=$STRATA_HOME/etc/strata.conf
}

# Refuse to start a component whose port something else holds.
require_port() {   # require_port PORT COMPONENT
    port_free "$1" || die "port $1 needed by $2 is already in use (another Strata? see 'ss -ltnp')"
}

wait_for() {   # wait_for SECONDS DESCRIPTION COMMAND...
    local limit=$1 what=$2 i
    shift 2
    for ((i = 0; i < limit * 5; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    warn "timed out after ${limit}s waiting for $what"
    return 1
}

pid_alive() {   # pid_alive PIDFILE
    [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

stop_pid() {   # stop_pid PIDFILE NAME: SIGTERM, wait up to 30 s, then SIGKILL
    local f=$1 name=$2 pid i
    pid_alive "$f" || { rm -f "$f"; return 0; }
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        warn "$name (pid $pid) did not stop in 30 s: killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
    say "stopped $name"
}

rand_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# The configuration every daemon reads (--config).  Written once; secrets stay.
config_write() {
    [ -f "$STRATA_CONF" ] && return 0
    local project
    project=$(rand_hex 16)
    CHANGED=1
    umask 077
    cat >"$STRATA_CONF" <<EOF
# Strata configuration generated by tools/strata for the embedded cluster in
# $STRATA_HOME.  Every option is documented in etc/strata.conf.sample.
[ceph]
conf = $CEPH_CONF_FILE

[log]
level = info

[auth]
token_key = $(rand_hex 32)
admin_token = $(rand_hex 24)
admin_project_id = $project

[node]
name = $(hostname -s)

[imaged]
port = $PORT_IMAGE
staging_dir = $STRATA_HOME/staging

[identity]
port = $PORT_IDENTITY
public_url = http://127.0.0.1:$PORT_IDENTITY
compute_url = http://127.0.0.1:$PORT_COMPUTE/v2.1
volume_url = http://127.0.0.1:$PORT_VOLUME/v3/\$(project_id)s
image_url = http://127.0.0.1:$PORT_IMAGE
bootstrap_password = $(rand_hex 16)

[scheduler]
port = $PORT_COMPUTE
volume_url = http://127.0.0.1:$PORT_VOLUME
image_url = http://127.0.0.1:$PORT_IMAGE

[blockd]
port = $PORT_VOLUME
image_url = http://127.0.0.1:$PORT_IMAGE
compute_url = http://127.0.0.1:$PORT_COMPUTE/v2.1

[computed]
port = $PORT_AGENT
state_dir = $STRATA_HOME/compute
image_url = http://127.0.0.1:$PORT_IMAGE
EOF
    umask 022
}

# A home made before identity existed gets its [identity] settings added
# (inih merges a repeated section).
config_identity_ensure() {
    [ -n "$(conf_get identity bootstrap_password)" ] && return 0
    CHANGED=1
    cat >>"$STRATA_CONF" <<EOF

[identity]
public_url = http://127.0.0.1:$PORT_IDENTITY
compute_url = http://127.0.0.1:$PORT_COMPUTE/v2.1
volume_url = http://127.0.0.1:$PORT_VOLUME/v3/\$(project_id)s
image_url = http://127.0.0.1:$PORT_IMAGE
bootstrap_password = $(rand_hex 16)
EOF
}

# The demo member project and user (through the identity API, as an admin
# would), once; its password is kept in etc/demo.password.
DEMO_PROJECT=demo
DEMO_USER=demo
identity_seed() {
    daemon_built identity || return 0
    local url tok pw pid uid rid
    url=$(daemon_url identity)/v3
    tok=$(conf_get auth admin_token)
    if [ ! -s "$STRATA_HOME/etc/demo.password" ]; then
        (umask 077; rand_hex 12 >"$STRATA_HOME/etc/demo.password")
    fi
    pw=$(cat "$STRATA_HOME/etc/demo.password")
    _id_get() { curl -fsS -H "X-Auth-Token: $tok" "$url/$1" | "$PY" -c "import json,sys; d=json.load(sys.stdin)['$2']; print(d[0]['id'] if d else '')"; }
    _id_post() { curl -fsS -H "X-Auth-Token: $tok" -H 'Content-Type: application/json' \
                     -d "$2" "$url/$1" | "$PY" -c "import json,sys; print(json.load(sys.stdin)['$3']['id'])"; }
    pid=$(_id_get "projects?name=$DEMO_PROJECT&domain_id=default" projects) || die "identity: cannot list projects"
    if [ -z "$pid" ]; then
        pid=$(_id_post projects '{"project": {"name": "'$DEMO_PROJECT'", "domain_id": "default", "description": "Demo project (member)"}}' project) ||
            die "identity: cannot create the demo project"
        CHANGED=1
    fi
    uid=$(_id_get "users?name=$DEMO_USER&domain_id=default" users) || die "identity: cannot list users"
    if [ -z "$uid" ]; then
        uid=$(_id_post users '{"user": {"name": "'$DEMO_USER'", "domain_id": "default", "password": "'$pw'", "default_project_id": "'$pid'"}}' user) ||
            die "identity: cannot create the demo user"
        CHANGED=1
    fi
    rid=$(_id_get "roles?name=member" roles) || die "identity: cannot list roles"
    curl -fsS -X PUT -H "X-Auth-Token: $tok" "$url/projects/$pid/users/$uid/roles/$rid" ||
        die "identity: cannot grant member on $DEMO_PROJECT to $DEMO_USER"
    DEMO_PROJECT_ID=$pid
}

conf_get() {   # conf_get SECTION KEY: read a value from strata.conf
    awk -F' *= *' -v s="[$1]" -v k="$2" '
        /^\[/ { in_s = ($0 == s) } in_s && $1 == k { print $2; exit }' "$STRATA_CONF"
}

env_write() {
    local f=$STRATA_HOME/strata.env
    umask 077
    {
        echo "# source this file: endpoints and admin credentials of $STRATA_HOME"
        echo "export STRATA_HOME='$STRATA_HOME'"
        echo "export STRATA_CONF='$STRATA_CONF'"
        echo "export CEPH_CONF='$CEPH_CONF_FILE'"
        echo "export STRATA_ADMIN_TOKEN='$(conf_get auth admin_token)'"
        echo "export STRATA_ADMIN_PROJECT_ID='$(conf_get auth admin_project_id)'"
        # Endpoints of the daemons this build has (the others are not started).
        daemon_built imaged && echo "export STRATA_IMAGE_URL='$(daemon_url imaged)'"
        daemon_built blockd &&
            echo "export STRATA_VOLUME_URL='$(daemon_url blockd)/v3/$(conf_get auth admin_project_id)'"
        daemon_built scheduler && echo "export STRATA_COMPUTE_URL='$(daemon_url scheduler)/v2.1'"
        daemon_built computed && echo "export STRATA_AGENT_URL='$(daemon_url computed)'"
        if daemon_built identity; then
            echo "export STRATA_IDENTITY_URL='$(daemon_url identity)/v3'"
            echo "export STRATA_DEMO_PROJECT='$DEMO_PROJECT'"
            echo "export STRATA_DEMO_PROJECT_ID='${DEMO_PROJECT_ID:-}'"
            echo "export STRATA_DEMO_USER='$DEMO_USER'"
            echo "export STRATA_DEMO_PASSWORD='$(cat "$STRATA_HOME/etc/demo.password")'"
            echo "# the stock openstack client, as the admin (openrc.demo: as the demo member)"
            openrc_lines admin "$(conf_get identity bootstrap_password)" admin
        fi
        true
    } >"$f"
    if daemon_built identity; then
        openrc_lines admin "$(conf_get identity bootstrap_password)" admin >"$STRATA_HOME/openrc"
        openrc_lines "$DEMO_USER" "$(cat "$STRATA_HOME/etc/demo.password")" "$DEMO_PROJECT" \
            >"$STRATA_HOME/openrc.demo"
    fi
    umask 022
}

openrc_lines() {   # openrc_lines USER PASSWORD PROJECT
    local region
    region=$(conf_get identity region || true)
    cat <<EOF
export OS_AUTH_URL='$(daemon_url identity)/v3'
export OS_IDENTITY_API_VERSION=3
export OS_USERNAME='$1'
export OS_PASSWORD='$2'
export OS_PROJECT_NAME='$3'
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME='${region:-RegionOne}'
export OS_INTERFACE=public
EOF
}

print_endpoints() {
    local f
    say "Ceph: $(ceph_cli health 2>/dev/null || echo unreachable) (CEPH_CONF=$CEPH_CONF_FILE)"
    for f in "${DAEMONS[@]}"; do
        if daemon_built "$f"; then
            say "$(printf '%-10s' "$f") $(daemon_url "$f")"
        fi
    done
    say "admin project: $(conf_get auth admin_project_id)"
    say "admin token:   $(conf_get auth admin_token)"
    if daemon_built identity; then
        say "identity:      $(daemon_url identity)/v3 (users admin and $DEMO_USER, member of $DEMO_PROJECT;"
        say "               passwords in $STRATA_HOME/openrc and openrc.demo)"
    fi
    say "source $STRATA_HOME/strata.env (or openrc, openrc.demo) to use them"
}

log_path() {   # log_path NAME: the log file of a component
    local f
    for f in "$STRATA_HOME/log/$1.log" "$CEPH_DIR/log/$1.a.log" "$CEPH_DIR/log/$1.0.log" \
             "$CEPH_DIR/log/$1.x.log" "$CEPH_DIR/log/$1.log"; do
        [ -f "$f" ] && { echo "$f"; return 0; }
    done
    return 1
}
