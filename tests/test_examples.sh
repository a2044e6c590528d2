#!/bin/sh
# test_examples.sh - run the three examples as a user would, on the embedded
# default (no KAFKA_* in the environment), and check their exit status and
# the lines that say what they did.
#
# Run by `make check` (top_builddir comes from the environment), or by hand
# from a built tree: sh tests/test_examples.sh
set -u
: "${top_builddir:=.}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

ok() { pass=$((pass + 1)); echo "PASS: $1"; }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }

# run NAME [ARGS...]: the example's output in $tmp/NAME.out, status in $rc.
run() {
	name=$1
	shift
	echo "--- $name $*"
	env -u KAFKA_ENABLE -u KAFKA_SERVERS -u KAFKA_TIMEOUT \
		timeout 120 "$top_builddir/examples/$name" "$@" \
		>"$tmp/$name.out" 2>"$tmp/$name.err"
	rc=$?
	cat "$tmp/$name.out" "$tmp/$name.err"
}

# expect NAME REGEX: a line of NAME's output matches the extended REGEX.
expect() {
	if grep -Eq -- "$2" "$tmp/$1.out"; then
		ok "$1: /$2/"
	else
		bad "$1: no line matches /$2/"
	fi
}

status_is() {
	if [ "$rc" = "$2" ]; then ok "$1 exits $2"; else bad "$1 exits $rc, want $2"; fi
}

run quickstart
status_is quickstart 0
expect quickstart '^emitted 5 events to quickstart\.events on 127\.0\.0\.1:[0-9]+'
expect quickstart '^read back 5/5; stats: emitted=5 delivered=5 failed=0 dropped=0$'
expect quickstart '^partition [0-9]+ offset [0-9]+ key trace-42$'
n=$(grep -Ec '^partition [0-9]+ offset [0-9]+ key ' "$tmp/quickstart.out")
if [ "$n" = 5 ]; then ok "quickstart prints 5 events"; else bad "quickstart prints $n events, want 5"; fi

run tracing_agent
status_is tracing_agent 0
expect tracing_agent '^tracing_agent: 4 workers x 1000 requests, 3 spans each, on mock$'
expect tracing_agent '^24000 span events in [0-9.]+ ms'
expect tracing_agent '^overhead per event: avg [0-9]+ ns, p50 [0-9]+ ns, p99 [0-9]+ ns'
expect tracing_agent '^stats: emitted=24001 delivered=24001 failed=0 dropped=0 format_errors=0 truncated=0 '
expect tracing_agent '^all 24001 events delivered$'

run producer_service
status_is producer_service 0
expect producer_service '^factory kafka_producer created service kafka_producer \(ready=1\) on 127\.0\.0\.1:[0-9]+'
expect producer_service '^flush: success$'
expect producer_service '^delivered 20/20 orders$'

# The factory's errors reach the user, naming what was wrong.
run producer_service mock:99
status_is "producer_service mock:99" 1
if grep -q '^producer_service: .*"mock:99".*mock:N' "$tmp/producer_service.err"; then
	ok "producer_service mock:99 says what was wrong"
else
	bad "producer_service mock:99: no error naming \"mock:99\" and mock:N"
fi

echo "test_examples: $pass passed, $fail failed"
# The line tools/run-tests adds up, in Criterion's words.
echo "[====] Synthesis: Tested: $((pass + fail)) | Passing: $pass | Failing: $fail | Crashing: 0"
[ "$fail" = 0 ]
