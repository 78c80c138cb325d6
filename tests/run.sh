#!/bin/bash
# Run each test binary in turn; keep its stderr (cmocka's summary goes there) and add up the
# cmocka counts. Exit 1 when any binary fails. Usage: tests/run.sh BIN...
set -u
passed=0; failed=0; bad_bins=()
mkdir -p "${RQ_TMP:-/tmp}"
for t in "$@"; do
    name=$(basename "$t")
    log="${RQ_TMP:-/tmp}/$name.log"
    start=$(date +%s.%N)
    "$t" 2> >(tee "$log" >&2)
    rc=$?
    wait
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
    if [ $rc -ne 0 ]; then
        bad_bins+=("$name (exit $rc)")
        [ -z "$f" ] && failed=$((failed + 1))   # crashed before cmocka could count
    fi
    echo "== $name: exit $rc in ${secs}s" >&2
done
if [ ${#bad_bins[@]} -gt 0 ]; then
    echo "failing test binaries: ${bad_bins[*]}" >&2
fi
echo "tests: $passed passed, $failed failed"
[ ${#bad_bins[@]} -eq 0 ]
