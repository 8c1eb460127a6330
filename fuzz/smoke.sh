#!/usr/bin/env bash
# Fuzz smoke test: replays fuzz/regressions/, then runs every fuzz target for a
# bounded time. Exits non-zero on the first crash, leak, timeout or OOM; the
# crashing input is left in fuzz/artifacts/<target>/.
#
#   fuzz/smoke.sh                      # every target, 20 s each
#   FUZZ_SECONDS=300 fuzz/smoke.sh verify_archive
#
# Environment: FUZZ_SECONDS (per target, default 20), FUZZ_TOOLCHAIN (default
# nightly), FUZZ_RSS_MB (default 2048).
set -euo pipefail

cd "$(dirname "$0")"
seconds=${FUZZ_SECONDS:-20}
toolchain=${FUZZ_TOOLCHAIN:-nightly}
rss_mb=${FUZZ_RSS_MB:-2048}
cargo=(cargo "+$toolchain")

if ! "${cargo[@]}" fuzz --version >/dev/null 2>&1; then
    echo "smoke: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

# Debug assertions (and so overflow checks) on, as in the test profile.
build_flags=(--debug-assertions)
"${cargo[@]}" fuzz build "${build_flags[@]}"

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <("${cargo[@]}" fuzz list)
fi

common=(-rss_limit_mb="$rss_mb" -timeout=30 -print_final_stats=1)
# See lsan.supp: a glibc TLS-destructor node, not a leak of ours.
export LSAN_OPTIONS="suppressions=$PWD/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

# Reproducers, named <target>-<what>: of fixed bugs, or of known bugs that the
# target steers around until they are fixed (see README.md). All must run clean.
shopt -s nullglob
for input in regressions/*; do
    target=$(basename "$input")
    target=${target%%-*}
    echo "smoke: replaying $input on $target" >&2
    "${cargo[@]}" fuzz run "${build_flags[@]}" "$target" "$input" -- "${common[@]}"
done

for target in "${targets[@]}"; do
    corpus=corpus/$target
    mkdir -p "$corpus"
    inputs=("$corpus")
    [ -d "seeds/$target" ] && inputs+=("seeds/$target")
    options=("${common[@]}" -max_total_time="$seconds")
    [ -f "dicts/$target.dict" ] && options+=(-dict="dicts/$target.dict")
    echo "smoke: fuzzing $target for ${seconds}s" >&2
    "${cargo[@]}" fuzz run "${build_flags[@]}" "$target" "${inputs[@]}" -- "${options[@]}"
done
echo "smoke: ${#targets[@]} targets ran clean" >&2
