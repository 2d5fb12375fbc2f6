# tools/lib/test.sh — `tools/strata test`: build (release + ASan/UBSan), bring
# up a throw-away embedded cluster in a temporary $STRATA_HOME on free ports,
# run the unit tests (sanitized; the metadata-store tests use that cluster) and
# the end-to-end tests (pytest, tests/e2e), tear it all down, print a summary.
# STRATA_KEEP=1 keeps the temporary home for a post-mortem.

TEST_HOME=

test_cleanup() {
    local rc=$?
    if [ -n "$TEST_HOME" ] && [ -d "$TEST_HOME" ]; then
        # Guests booted by the tests go too (domains_purge); data stays with KEEP.
        local how=destroy
        [ "${STRATA_KEEP:-0}" = 1 ] && how=down
        STRATA_HOME=$TEST_HOME "$TOP/tools/strata" $how >/dev/null 2>&1 ||
            warn "'$how' failed in $TEST_HOME"
        # Nothing started for this home may outlive the run, whatever 'down' did.
        if pgrep -f "$TEST_HOME/" >/dev/null; then
            warn "processes of $TEST_HOME left after 'down': killing them"
            pkill -KILL -f "$TEST_HOME/" || true
        fi
        if [ "${STRATA_KEEP:-0}" = 1 ]; then
            say "kept $TEST_HOME"
        else
            rm -rf -- "$TEST_HOME"
        fi
    fi
    return $rc
}

# Counts from ctest's "N% tests passed, F tests failed out of T" line.
ctest_counts() {   # ctest_counts LOG -> "passed failed"
    sed -n 's/.*tests passed, \([0-9]*\) tests\{0,1\} failed out of \([0-9]*\).*/\1 \2/p' "$1" |
        tail -n 1 | awk '{ print $2 - $1, $1 }'
}

# Counts from pytest's junit xml.
pytest_counts() {   # pytest_counts XML -> "passed failed"
    "$PY" - "$1" <<'EOF'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print(0, 1); sys.exit()
suites = [root] if root.tag == "testsuite" else list(root)
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
sk = sum(int(s.get("skipped", 0)) for s in suites)
print(t - f - sk, f)
EOF
}

run_tests() {
    deps_install
    say "building: release ($BUILD_DIR) and ASan/UBSan ($ASAN_BUILD_DIR)"
    build_tree "$BUILD_DIR" -DSTRATA_SANITIZE=OFF
    build_tree "$ASAN_BUILD_DIR" -DSTRATA_SANITIZE=ON

    TEST_HOME=$(mktemp -d "${TMPDIR:-/tmp}/strata-test.XXXXXX")
    trap test_cleanup EXIT
    say "throw-away cluster in $TEST_HOME"
    if ! STRATA_HOME=$TEST_HOME STRATA_FREE_PORTS=1 "$TOP/tools/strata" up >"$TEST_HOME/up.log" 2>&1; then
        cat "$TEST_HOME/up.log" >&2
        die "tools/strata up failed in the test home"
    fi
    sed 's/^/  /' "$TEST_HOME/up.log" | grep -v 'admin token' || true
    # shellcheck disable=SC1091
    . "$TEST_HOME/strata.env"

    local unit_log=$TEST_HOME/unit.log unit_rc=0 e2e_rc=0
    say "unit tests (ASan/UBSan), metadata store against the throw-away cluster"
    STRATA_TEST_CEPH_CONF=$CEPH_CONF STRATA_TEST_CEPH_USER=admin \
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
    LSAN_OPTIONS=suppressions=$TOP/tests/lsan.supp:print_suppressions=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir "$ASAN_BUILD_DIR" --output-on-failure --timeout 900 2>&1 |
        tee "$unit_log" || unit_rc=1
    grep -q '100% tests passed' "$unit_log" || unit_rc=1

    say "end-to-end tests (pytest tests/e2e)"
    (cd "$TOP/tests/e2e" &&
        STRATA_HOME=$TEST_HOME STRATA_TOP=$TOP STRATA_BUILD_DIR=$BUILD_DIR \
        "$PY" -m pytest -v -p no:cacheprovider --junitxml="$TEST_HOME/e2e.xml" "$@" .) || e2e_rc=$?
    # pytest exit 5 = no tests collected: that is a failure here.

    local up uf ep ef
    read -r up uf <<<"$(ctest_counts "$unit_log")"
    read -r ep ef <<<"$(pytest_counts "$TEST_HOME/e2e.xml")"
    up=${up:-0}; uf=${uf:-1}; ep=${ep:-0}; ef=${ef:-1}
    [ "$unit_rc" = 0 ] || [ "$uf" -gt 0 ] || uf=1
    [ "$e2e_rc" = 0 ] || [ "$ef" -gt 0 ] || ef=1
    say "unit: $up passed, $uf failed; e2e: $ep passed, $ef failed"
    echo "summary: $((up + ep)) passed, $((uf + ef)) failed"
    [ "$unit_rc" = 0 ] && [ "$e2e_rc" = 0 ]
}
