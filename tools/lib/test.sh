# tools/lib/test.sh — `tools/strata test`: build (release + ASan/UBSan), bring
# up a throw-away embedded cluster in a temporary $STRATA_HOME on free ports
# whose daemons are the sanitized ones, run the unit tests (sanitized; the
# metadata-store tests use that cluster) and the end-to-end tests (pytest,
# tests/e2e), stop the daemons, fail on any sanitizer report in any daemon's
# log, tear it all down, print a summary.  A skipped test, unit or e2e, counts
# as failed: every test must run here.
# STRATA_KEEP=1 keeps the temporary home for a post-mortem.

TEST_HOME=

# The sanitized tree.  Its flags are CMAKE_C_FLAGS rather than STRATA_SANITIZE
# because the e2e cluster's own `tools/strata up` (and the tests' restarts
# through it) configure $STRATA_BUILD_DIR with -DSTRATA_SANITIZE=OFF: these
# flags survive that, so the tree stays sanitized and `up` rebuilds nothing.
SAN_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
SAN_LDFLAGS="-fsanitize=address,undefined"

# Options of every sanitized process of the run (unit tests, daemons, tools):
# stop at the first error, leak checks at exit, suppressions only for
# third-party libraries (tests/lsan.supp gives the reason of each).
san_env() {
    export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1:print_summary=1"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:print_summary=1"
    export LSAN_OPTIONS="suppressions=$TOP/tests/lsan.supp:print_suppressions=0"
}

# A tree whose daemons are not sanitized must not pass for one that is.
san_check_tree() {   # san_check_tree DIR
    local b n=0
    for b in "$1"/imaged/strata-imaged "$1"/blockd/strata-blockd "$1"/compute/strata-computed \
             "$1"/scheduler/strata-scheduler "$1"/identity/strata-identity "$1"/tests/strata-testd; do
        [ -x "$b" ] || continue
        readelf -d "$b" 2>/dev/null | grep -q 'NEEDED.*libasan' || die "$b is not built with ASan"
        n=$((n + 1))
    done
    [ "$n" -gt 0 ] || die "no daemon built in $1"
}

# Sanitizer reports in logs: each report (from its first line to its SUMMARY
# line) with the log it is in, then a last line "sanitizer-reports N".  The
# daemons' stderr, where the sanitizers write, goes to their logs.
san_scan() {   # san_scan LOG...
    "$PY" - "$@" <<'EOF'
import re, sys
start = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:")
n = 0
for path in sys.argv[1:]:
    try:
        lines = open(path, errors="replace").read().splitlines()
    except OSError:
        continue
    i = 0
    while i < len(lines):
        if not start.search(lines[i]):
            i += 1
            continue
        n += 1
        j = i
        while j < len(lines) - 1 and j < i + 400 and not lines[j].startswith("SUMMARY: "):
            j += 1
        print("---- sanitizer report in %s, line %d:" % (path, i + 1))
        print("\n".join(lines[max(0, i - 1):j + 1]))
        i = j + 1
print("sanitizer-reports %d" % n)
EOF
}

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

# Tests that did not run, from ctest's junit xml: programs ctest did not run
# and cmocka tests that called skip() (their program still exits 0, so ctest
# counts it as passed).  One line per test, "program: test skipped".
ctest_skipped() {   # ctest_skipped XML
    "$PY" - "$1" <<'EOF'
import re, sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception as e:
    print("(no junit xml from ctest: %s)" % e)
    sys.exit()
for tc in root.iter("testcase"):
    name = tc.get("name")
    if tc.get("status") in ("notrun", "disabled") or tc.find("skipped") is not None:
        print("%s: not run" % name)
    skipped = re.findall(r"^\[  SKIPPED \] (\S+)\s*$", tc.findtext("system-out") or "", re.M)
    for t in dict.fromkeys(skipped):   # cmocka names each twice (run, summary)
        print("%s: %s skipped" % (name, t))
EOF
}

# Counts from pytest's junit xml.  A skipped test counts as failed and is
# named on stderr with its reason.
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
for tc in root.iter("testcase"):
    s = tc.find("skipped")
    if s is not None:
        print("strata: warning: e2e test skipped, counted as failed: %s::%s (%s)"
              % (tc.get("classname"), tc.get("name"), s.get("message", "")), file=sys.stderr)
print(t - f - sk, f + sk)
EOF
}

run_tests() {
    deps_install
    say "building: release ($BUILD_DIR) and ASan/UBSan ($ASAN_BUILD_DIR)"
    build_tree "$BUILD_DIR" -DSTRATA_SANITIZE=OFF
    build_tree "$ASAN_BUILD_DIR" -DSTRATA_SANITIZE=OFF "-DCMAKE_C_FLAGS=$SAN_CFLAGS" \
        "-DCMAKE_EXE_LINKER_FLAGS=$SAN_LDFLAGS" "-DCMAKE_SHARED_LINKER_FLAGS=$SAN_LDFLAGS" \
        "-DCMAKE_MODULE_LINKER_FLAGS=$SAN_LDFLAGS"
    san_check_tree "$ASAN_BUILD_DIR"
    san_env

    TEST_HOME=$(mktemp -d "${TMPDIR:-/tmp}/strata-test.XXXXXX")
    trap test_cleanup EXIT
    say "throw-away cluster in $TEST_HOME, daemons from $ASAN_BUILD_DIR"
    # Every later `up` of this home (the tests restart daemons through it)
    # inherits STRATA_BUILD_DIR and the sanitizer options, so it starts the
    # same sanitized binaries.
    export STRATA_BUILD_DIR=$ASAN_BUILD_DIR
    local t0=$SECONDS t1 t2 t3
    if ! STRATA_HOME=$TEST_HOME STRATA_FREE_PORTS=1 "$TOP/tools/strata" up >"$TEST_HOME/up.log" 2>&1; then
        cat "$TEST_HOME/up.log" >&2
        san_scan "$TEST_HOME"/log/*.log >&2 || true
        die "tools/strata up failed in the test home"
    fi
    san_check_tree "$ASAN_BUILD_DIR"   # that up did not rebuild it unsanitized
    sed 's/^/  /' "$TEST_HOME/up.log" | grep -v 'admin token' || true
    # shellcheck disable=SC1091
    . "$TEST_HOME/strata.env"
    # The OS_* credentials are for users of `up`; the tests choose their own auth.
    unset $(compgen -v OS_) 2>/dev/null || true

    local unit_log=$TEST_HOME/unit.log unit_xml=$TEST_HOME/unit.xml unit_rc=0 e2e_rc=0
    t1=$SECONDS
    say "unit tests (ASan/UBSan), metadata store against the throw-away cluster"
    STRATA_TEST_CEPH_CONF=$CEPH_CONF STRATA_TEST_CEPH_USER=admin \
        ctest --test-dir "$ASAN_BUILD_DIR" --output-on-failure --timeout 900 \
        --output-junit "$unit_xml" 2>&1 | tee "$unit_log" || unit_rc=1
    grep -q '100% tests passed' "$unit_log" || unit_rc=1
    local unit_skipped us=0
    unit_skipped=$(ctest_skipped "$unit_xml")
    if [ -n "$unit_skipped" ]; then
        warn "unit tests that did not run, counted as failed:"
        sed 's/^/  /' <<<"$unit_skipped" >&2
        us=$(grep -c . <<<"$unit_skipped")
        unit_rc=1
    fi
    t2=$SECONDS

    say "end-to-end tests (pytest tests/e2e) on the sanitized daemons"
    (cd "$TOP/tests/e2e" &&
        STRATA_HOME=$TEST_HOME STRATA_TOP=$TOP \
        "$PY" -m pytest -v -p no:cacheprovider --junitxml="$TEST_HOME/e2e.xml" "$@" .) || e2e_rc=$?
    # pytest exit 5 = no tests collected: that is a failure here.
    t3=$SECONDS

    # Leak checks run when a daemon exits: stop the home's daemons, then read
    # every log, the home's and those of the daemons the tests started
    # themselves (tests/e2e/conftest.py lists them in e2e-daemon-logs).
    (STRATA_HOME=$TEST_HOME; home_load; daemons_down >/dev/null) ||
        warn "stopping the daemons of $TEST_HOME failed"
    local logs=("$TEST_HOME"/log/*.log) f san_out san_n
    if [ -f "$TEST_HOME/e2e-daemon-logs" ]; then
        while IFS= read -r f; do logs+=("$f"); done <"$TEST_HOME/e2e-daemon-logs"
    fi
    san_out=$(san_scan "${logs[@]}")
    san_n=$(sed -n 's/^sanitizer-reports //p' <<<"$san_out")
    san_n=${san_n:-1}
    if [ "$san_n" != 0 ]; then
        grep -v '^sanitizer-reports ' <<<"$san_out" >&2 || true
        warn "$san_n sanitizer report(s) in the daemons' logs (${#logs[@]} logs read)"
    fi

    local up uf ep ef
    read -r up uf <<<"$(ctest_counts "$unit_log")"
    read -r ep ef <<<"$(pytest_counts "$TEST_HOME/e2e.xml")"
    up=${up:-0}; uf=${uf:-1}; ep=${ep:-0}; ef=${ef:-1}
    uf=$((uf + us))   # programs that ran but skipped tests inside
    [ "$unit_rc" = 0 ] || [ "$uf" -gt 0 ] || uf=1
    [ "$e2e_rc" = 0 ] || [ "$ef" -gt 0 ] || ef=1
    [ "$ef" = 0 ] || [ "$e2e_rc" != 0 ] || e2e_rc=1   # skipped tests
    say "up $((t1 - t0)) s; unit: $up passed, $uf failed ($((t2 - t1)) s);" \
        "e2e: $ep passed, $ef failed ($((t3 - t2)) s); sanitizer reports: $san_n"
    echo "summary: $((up + ep)) passed, $((uf + ef + san_n)) failed"
    [ "$unit_rc" = 0 ] && [ "$e2e_rc" = 0 ] && [ "$san_n" = 0 ]
}
