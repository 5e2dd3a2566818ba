#!/usr/bin/env bash
# cmake --install the build into a temporary prefix, then configure, build and
# run an outside project that uses find_package(Runnel) and runnel::runnel.
set -euo pipefail
build_dir=$1
source_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cmake -S "$source_dir" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
out=$("$work/build/consumer")
echo "$out"
grep -q "Source: KSTREAM-SOURCE-0000000000 (topics: \[in\])" <<<"$out"
grep -q "Sink: KSTREAM-SINK-0000000002 (topic: out)" <<<"$out"
echo "install test: outside project built and ran"
