# tools/lib/bench.sh — benchmarks for `tools/strata bench ...`.  The baseline
# is what Ceph's own tools do on the same cluster: `rbd import` / `rbd export`
# of 1 GiB of random data; Strata's data paths are judged against it.
# Sourced by tools/strata (uses say/warn from common.sh when present).
# shellcheck disable=SC2034  # BENCH_*_MBS are results for the caller

BENCH_POOL=${STRATA_BENCH_POOL:-strata.images}
BENCH_SIZE_MIB=${STRATA_BENCH_SIZE_MIB:-1024}
BENCH_TIMEOUT=${STRATA_BENCH_TIMEOUT:-600}
# Results of the last bench_rbd_baseline, in MB/s, for the caller to compare.
BENCH_IMPORT_MBS=''
BENCH_EXPORT_MBS=''

bench_say() { if declare -F say >/dev/null; then say "$*"; else printf 'bench: %s\n' "$*"; fi; }
bench_warn() { if declare -F warn >/dev/null; then warn "$*"; else printf 'bench: warning: %s\n' "$*" >&2; fi; }

bench_now() { date +%s.%N; }

# MB/s (10^6 bytes) for BYTES moved between two bench_now stamps.
bench_rate() {   # bench_rate BYTES T0 T1
    awk -v b="$1" -v t0="$2" -v t1="$3" 'BEGIN { d = t1 - t0; if (d <= 0) d = 1e-9;
        printf "%.2f s, %.1f MB/s", d, b / 1e6 / d }'
}

bench_mbs() {   # bench_mbs BYTES T0 T1 -> the MB/s figure alone
    awk -v b="$1" -v t0="$2" -v t1="$3" 'BEGIN { d = t1 - t0; if (d <= 0) d = 1e-9;
        printf "%.1f", b / 1e6 / d }'
}

# bench_rbd_baseline CEPH_CONF [FILE]
# Times `rbd import FILE` into $BENCH_POOL and `rbd export` of it (to
# /dev/null, so only the cluster read is measured), prints both in MB/s and
# sets BENCH_IMPORT_MBS / BENCH_EXPORT_MBS.  Without FILE (or if it does not
# exist) a $BENCH_SIZE_MIB MiB random file is made and removed afterwards.
# The image is removed whatever happens.  Returns non-zero on failure.
bench_rbd_baseline() {
    local conf=${1:?usage: bench_rbd_baseline CEPH_CONF [FILE]} file=${2:-}
    local made_file=0 image bytes t0 t1 t2 rc=0
    local rbd_cmd=(timeout "$BENCH_TIMEOUT" rbd -c "$conf")

    [ -r "$conf" ] || { bench_warn "cannot read $conf"; return 1; }
    if [ -z "$file" ] || [ ! -e "$file" ]; then
        file=${file:-$(mktemp "${TMPDIR:-/tmp}/strata-bench.XXXXXX")} || return 1
        made_file=1
        bench_say "making ${BENCH_SIZE_MIB} MiB of random data in $file"
        head -c "$((BENCH_SIZE_MIB * 1024 * 1024))" /dev/urandom >"$file" || {
            rm -f -- "$file"
            return 1
        }
    fi
    bytes=$(stat -c %s -- "$file") || return 1
    cat -- "$file" >/dev/null   # from the page cache, like a client's upload
    image=bench-rbd-$$-$RANDOM

    sync
    t0=$(bench_now)
    if "${rbd_cmd[@]}" import --no-progress -- "$file" "$BENCH_POOL/$image" >/dev/null; then
        t1=$(bench_now)
        if "${rbd_cmd[@]}" export --no-progress -- "$BENCH_POOL/$image" - >/dev/null; then
            t2=$(bench_now)
            BENCH_IMPORT_MBS=$(bench_mbs "$bytes" "$t0" "$t1")
            BENCH_EXPORT_MBS=$(bench_mbs "$bytes" "$t1" "$t2")
            bench_say "rbd import of $((bytes / 1048576)) MiB: $(bench_rate "$bytes" "$t0" "$t1")"
            bench_say "rbd export of $((bytes / 1048576)) MiB: $(bench_rate "$bytes" "$t1" "$t2")"
        else
            bench_warn "rbd export of $BENCH_POOL/$image failed"
            rc=1
        fi
    else
        bench_warn "rbd import of $file into $BENCH_POOL failed"
        rc=1
    fi
    # Clean up on every path (a failed import may still have made the image).
    if "${rbd_cmd[@]}" info "$BENCH_POOL/$image" >/dev/null 2>&1; then
        "${rbd_cmd[@]}" rm --no-progress "$BENCH_POOL/$image" >/dev/null 2>&1 ||
            bench_warn "could not remove $BENCH_POOL/$image"
    fi
    [ "$made_file" = 1 ] && rm -f -- "$file"
    return $rc
}
