#!/usr/bin/env bash
# The OpenAPI contract (issue 14): openapi-spec-validator accepts openapi/openapi.json, then
# Schemathesis fuzzes the running service against the document it serves, with every check, every
# phase (examples, coverage, fuzzing, stateful), a fixed seed and a bounded number of cases. Exits
# non-zero on any failure not in .ci/schemathesis-baseline.json (rules JSON Schema cannot say, each
# with its reason).
#
# Needs python3 (with venv) and the debug build target/debug/pat-service (built here if missing).
# Makes its own virtual environment in $CARGO_TARGET_DIR/ci-venv (default target/ci-venv) with the
# pinned versions of .ci/contract-requirements.txt, and reuses it while that file is unchanged.
# The service runs on a fresh SQLite file on a free loopback port, with a throwaway token secret
# made here and a token holding every role; it is stopped on exit.
#
# The JUnit report is left in $CARGO_TARGET_DIR/schemathesis-report (default target/...).
# Settings: SCHEMATHESIS_MAX_EXAMPLES (default 100, cases per operation and phase),
# SCHEMATHESIS_SEED (default 14).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$PWD/$target" ;; esac
venv="$target/ci-venv"
requirements=.ci/contract-requirements.txt
stamp="$venv/requirements.txt"

if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$stamp"; then
    echo "contract: making the virtual environment $venv"
    rm -rf "$venv"
    if ! python3 -m venv "$venv" 2>/dev/null; then
        # Debian's python3 without python3-venv has no ensurepip: make the environment without
        # pip and install pip into it from its own wheel on PyPI.
        rm -rf "$venv"
        python3 -m venv --without-pip "$venv"
        wheel="$venv/pip-24.3.1-py3-none-any.whl"
        "$venv/bin/python" - "$wheel" <<'PY'
import hashlib, sys, urllib.request
url = ("https://files.pythonhosted.org/packages/ef/7d/"
       "500c9ad20238fcfcb4cb9243eede163594d7020ce87bd9610c9e02771876/pip-24.3.1-py3-none-any.whl")
sha256 = "3790624780082365f47549d032f3770eeb2b1e8bd1f7b2e02dace1afa361b4ed"
data = urllib.request.urlopen(url, timeout=120).read()
if hashlib.sha256(data).hexdigest() != sha256:
    sys.exit("contract: the pip wheel does not have the pinned hash")
open(sys.argv[1], "wb").write(data)
PY
        "$venv/bin/python" "$wheel/pip" install --quiet --no-index "$wheel"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
fi

echo "contract: $("$venv/bin/openapi-spec-validator" --version 2>/dev/null || echo openapi-spec-validator) on openapi/openapi.json"
"$venv/bin/openapi-spec-validator" openapi/openapi.json

binary="$target/debug/pat-service"
if [ ! -x "$binary" ]; then
    cargo build
fi

work="$(mktemp -d)"
service_pid=""
stop() {
    if [ -n "$service_pid" ]; then
        kill "$service_pid" 2>/dev/null || true
        wait "$service_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap stop EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
PAT_JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
export PAT_JWT_SECRET
export DATABASE_URL="sqlite://$work/contract.db"
export PAT_LISTEN="127.0.0.1:$port"
export RUST_LOG="${RUST_LOG:-warn}"

"$binary" serve >"$work/service.log" 2>&1 &
service_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 100); do
    if python3 -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$base/health/ready" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$service_pid" 2>/dev/null; then
        echo "contract: the service did not start:" >&2
        cat "$work/service.log" >&2
        exit 1
    fi
    sleep 0.2
done

token="$("$binary" token --sub schemathesis \
    --role clinician --role integration --role ahw --role auditor --role admin --hours 1)"

echo "contract: $("$venv/bin/schemathesis" --version) against $base"
# Run from the throwaway directory: Schemathesis keeps a cache of earlier failures in
# ./.schemathesis, and each run here starts from nothing.
root="$PWD"
status=0
(cd "$work" && "$venv/bin/schemathesis" run "$base/api-docs/openapi.json" \
    --checks all \
    --phases examples,coverage,fuzzing,stateful \
    --mode all \
    --seed "${SCHEMATHESIS_SEED:-14}" \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-100}" \
    --workers 2 \
    --request-timeout 10 \
    --generation-database none \
    --baseline "$root/.ci/schemathesis-baseline.json" \
    --header "Authorization: Bearer $token" \
    --report junit --report-dir "$target/schemathesis-report" \
    --no-color) || status=$?

if grep -q 'panicked' "$work/service.log"; then
    echo "contract: the service panicked:" >&2
    grep -A5 'panicked' "$work/service.log" >&2
    status=1
fi
exit "$status"
