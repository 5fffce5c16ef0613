#!/usr/bin/env bash
# Fails if a built binary holds SIMD intrinsics (`core::core_arch::…::_mm*`, `…::v*`) as
# out-of-line functions. An intrinsic is only inlined into a caller compiled with its
# target feature; code that reaches one through a closure handed to a generic std function
# (`std::array::from_fn`) may be compiled without the feature, and then every intrinsic is
# a call. That cost Gemma 3 a third of its 16K-depth decode speed in session 10 without
# changing any output, so no numerical test could see it.
#
# Usage: scripts/check_inlined.sh BINARY...  (needs `nm` from binutils)
set -euo pipefail
command -v nm >/dev/null || { echo "check_inlined: needs nm (binutils)" >&2; exit 1; }
status=0
for bin in "$@"; do
    # Demangled symbol names ending in an intrinsic's name, outside any <impl ...> path.
    hits=$(nm -C "$bin" | grep -E ' core::core_arch::[a-z0-9_:]+::(_mm[0-9a-z_]*|v[a-z0-9_]+)$' || true)
    if [ -n "$hits" ]; then
        echo "check_inlined: $bin calls SIMD intrinsics out of line:" >&2
        echo "$hits" >&2
        status=1
    else
        echo "check_inlined: $bin: every SIMD intrinsic inlined"
    fi
done
exit $status
