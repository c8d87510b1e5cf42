#!/usr/bin/env bash
# Runs every fuzz target in ./fuzz for the given time each (default 10s).
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-10s}
targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' fuzz/*_test.go | sed 's/^func //' | sort -u)
for f in $targets; do
	echo "fuzz $f for $t"
	go test -run '^$' -fuzz "^${f}\$" -fuzztime "$t" ./fuzz >/tmp/wsgrok-fuzz.$$ 2>&1 || {
		cat /tmp/wsgrok-fuzz.$$; rm -f /tmp/wsgrok-fuzz.$$
		echo "fuzz target $f failed; the input is saved under fuzz/testdata/fuzz/$f"
		exit 1
	}
	tail -n 3 /tmp/wsgrok-fuzz.$$ | grep -E 'execs|^ok' | tail -n 2 || true
done
rm -f /tmp/wsgrok-fuzz.$$
