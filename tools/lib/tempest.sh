# tools/lib/tempest.sh — `tools/strata tempest [REGEX]`: run Debian's Tempest
# (the OpenStack test suite) against the running Strata of $STRATA_HOME.  It
# writes a workspace with a tempest.conf for this system (identity v3 with
# dynamic credentials made through Strata's own identity API, the volume and
# image services, feature flags set to what Strata really offers) and an
# exclude list naming, with a reason each, the tests of features Strata
# deliberately does not have.  Prints passed/failed/skipped.
# Sourced by tools/strata.

TEMPEST_DEFAULT_REGEX='^tempest\.api\.(volume|image)\.'

tempest_conf_write() {   # tempest_conf_write DIR
    local d=$1 image
    # Volumes from an image use [compute] image_ref: the test guest image of `up`.
    image=$(curl -fsS -H "X-Auth-Token: $(conf_get auth admin_token)" \
                "$(daemon_url imaged)/v2/images?name=strata-test" |
            "$PY" -c 'import json,sys; i=json.load(sys.stdin)["images"]; print(i[0]["id"] if i else "")')
    cat >"$d/etc/tempest.conf" <<EOF
# Written by tools/strata tempest for $STRATA_HOME.
[DEFAULT]
log_dir = $d/logs
log_file = tempest.log
debug = false

[oslo_concurrency]
lock_path = $d/lock

[auth]
use_dynamic_credentials = true
admin_username = admin
admin_password = $(conf_get identity bootstrap_password)
admin_project_name = admin
admin_domain_name = Default
default_credentials_domain_name = Default
create_isolated_networks = false

[identity]
uri_v3 = $(daemon_url identity)/v3
auth_version = v3
region = RegionOne
v3_endpoint_type = public
disable_ssl_certificate_validation = true

[identity-feature-enabled]
api_v2 = false
api_v3 = true
application_credentials = true
project_tags = true
trust = false
security_compliance = false
access_rules = false

[compute]
image_ref = $image
image_ref_alt = $image

[service_available]
cinder = true
glance = true
# Tempest's compute tests need networks (neutron), which Strata does not have;
# the compute API is driven by tests/e2e/test_scheduler.py instead.
nova = false
neutron = false
swift = false
horizon = false

[volume]
catalog_type = volumev3
region = RegionOne
endpoint_type = publicURL
storage_protocol = ceph
vendor_name = Strata
min_microversion = 3.0
max_microversion = 3.70
volume_size = 1
build_timeout = 120
build_interval = 1

[volume-feature-enabled]
multi_backend = false
# Backups are the next issue (blockd backups).
backup = false
snapshot = true
clone = true
manage_snapshot = false
manage_volume = false
extend_attached_volume = false
api_extensions = all

[image]
catalog_type = image
region = RegionOne
endpoint_type = publicURL
build_timeout = 120
build_interval = 1
container_formats = bare,ovf
disk_formats = raw,qcow2

[image-feature-enabled]
api_v2 = true
api_v1 = false
import_image = true
os_glance_reserved = false
manage_locations = false

[validation]
run_validation = false
EOF
}

cmd_tempest() {
    local regex=${1:-$TEMPEST_DEFAULT_REGEX} conc=${STRATA_TEMPEST_CONCURRENCY:-2}
    local d=$STRATA_HOME/tempest rc=0
    [ -f "$STRATA_HOME/strata.env" ] || die "nothing running in $STRATA_HOME: run tools/strata up"
    daemon_healthy identity || die "strata-identity is not running: run tools/strata up"
    if ! command -v tempest >/dev/null; then
        say "installing Debian's tempest"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends tempest \
            >/dev/null || die "apt-get install tempest failed"
    fi
    if [ ! -d "$d/etc" ]; then
        tempest init "$d" >/dev/null 2>&1 || die "tempest init $d failed"
    fi
    mkdir -p "$d/logs" "$d/lock"
    tempest_conf_write "$d"
    cp "$TOP/tests/tempest/exclude.txt" "$d/exclude.txt"
    say "tempest: $regex (concurrency $conc; workspace $d)"
    (cd "$d" && tempest run --regex "$regex" --exclude-list "$d/exclude.txt" \
        --concurrency "$conc" >"$d/run.log" 2>&1) || rc=$?
    grep -E '\.\.\. FAILED$' "$d/run.log" | sed 's/^{[0-9]*} //; s/ \[.*//' | sort -u |
        sed 's/^/FAILED /' || true
    sed -n '/^Totals/,/^Worker Balance/p' "$d/run.log"
    local passed failed skipped
    passed=$(sed -n 's/^ - Passed: \([0-9]*\).*/\1/p' "$d/run.log" | tail -1)
    failed=$(sed -n 's/^ - Failed: \([0-9]*\).*/\1/p' "$d/run.log" | tail -1)
    skipped=$(sed -n 's/^ - Skipped: \([0-9]*\).*/\1/p' "$d/run.log" | tail -1)
    say "tempest: ${passed:-0} passed, ${failed:-?} failed, ${skipped:-0} skipped (log: $d/run.log)"
    return $rc
}
