# tools/lib/coverage.sh — `tools/strata coverage [--markdown]`: build a tree
# with -O0 --coverage and no sanitizers ($STRATA_COVERAGE_DIR, default
# build-coverage/), run the unit tests there with no cluster (the ones that
# need Ceph skip; every other one must pass), then print gcov's line coverage
# of the service files (tools/lib/coverage.py).

cmd_coverage() {
    local dir=${STRATA_COVERAGE_DIR:-$TOP/build-coverage} md=
    case "${1:-}" in
        --markdown) md=--markdown ;;
        "") ;;
        *) die "usage: tools/strata coverage [--markdown]" ;;
    esac
    command -v gcov >/dev/null || die "gcov not found (it comes with gcc)"
    build_tree "$dir" -DCMAKE_BUILD_TYPE=Debug -DSTRATA_SANITIZE=OFF \
        -DCMAKE_C_FLAGS="-O0 --coverage" -DCMAKE_EXE_LINKER_FLAGS=--coverage
    find "$dir" -name '*.gcda' -delete
    (cd "$dir" && env -u STRATA_TEST_CEPH_CONF ctest --output-on-failure >"$dir/ctest.log" 2>&1) ||
        die "unit tests failed in $dir (log: $dir/ctest.log)"
    "$PY" "$TOP/tools/lib/coverage.py" "$TOP" "$dir" ${md:+"$md"}
}
