#!/usr/bin/env bash
# Runs every fuzz target for the given time each (default 10s): those in
# ./fuzz, and those that need a package's internals and live beside it
# (edge's FuzzCleanPath checks a fast path against the general one).
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-10s}
for file in $(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do
	pkg=./$(dirname "${file#./}")
	for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //' | sort -u); do
		echo "fuzz $f ($pkg) for $t"
		go test -run '^$' -fuzz "^${f}\$" -fuzztime "$t" "$pkg" >/tmp/wsgrok-fuzz.$$ 2>&1 || {
			cat /tmp/wsgrok-fuzz.$$; rm -f /tmp/wsgrok-fuzz.$$
			echo "fuzz target $f failed; the input is saved under $pkg/testdata/fuzz/$f"
			exit 1
		}
		tail -n 3 /tmp/wsgrok-fuzz.$$ | grep -E 'execs|^ok' | tail -n 2 || true
	done
done
rm -f /tmp/wsgrok-fuzz.$$
