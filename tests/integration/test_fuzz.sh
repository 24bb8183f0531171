#!/bin/bash
# test_fuzz.sh - a short libFuzzer pass (default 20 s) over the selftest's reply and
# ServerHello parsers: builds build/fuzz/fuzz_parsers (clang) and runs it from the seeds.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
if ! command -v clang >/dev/null; then
	echo "clang is not installed (apt-get install clang)"
	exit 77
fi
if ! make -C "$TOP" --no-print-directory build/fuzz/fuzz_parsers >"$TOP/build/fuzz-build.log" 2>&1; then
	echo "not ok - build the fuzz target"
	tail -n 20 "$TOP/build/fuzz-build.log" | sed 's/^/#   /'
	exit 1
fi
echo "ok - build the fuzz target"
corpus=$(mktemp -d "${TMPDIR:-/tmp}/mh-fuzz.XXXXXX")
trap 'rm -rf "$corpus"' EXIT
cp "$TOP"/fuzz/corpus/* "$corpus"/
if "$TOP/build/fuzz/fuzz_parsers" -max_total_time="${FUZZ_SECONDS:-20}" -max_len=20000 \
	-artifact_prefix="$TOP/build/fuzz/" "$corpus" >"$TOP/build/fuzz-run.log" 2>&1; then
	echo "ok - ${FUZZ_SECONDS:-20} s of fuzzing the reply and ServerHello parsers: $(grep -o 'Done [0-9]* runs' "$TOP/build/fuzz-run.log")"
else
	echo "not ok - fuzzing found a crash (artifact in build/fuzz/)"
	grep -E 'ERROR|SUMMARY|artifact' "$TOP/build/fuzz-run.log" | head -n 10 | sed 's/^/#   /'
	exit 1
fi
