# Helpers shared by .ci/run and .ci/demo (sourced, not run).

# Installs redis-server from Debian's packages when it is not on PATH.
ensure_redis_server() {
    if command -v redis-server >/dev/null 2>&1; then
        redis-server --version
        return 0
    fi
    echo "redis-server not found; installing it with apt-get"
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || {
            echo "error: redis-server is missing and this user cannot apt-get install it (no sudo)" >&2
            return 1
        }
        sudo=(sudo)
    fi
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends redis-server
    redis-server --version
}

# start_upstash_local BIN WORKDIR [ARGS...]: starts BIN in the background (own process group),
# waits for the env block it prints when ready and evals it. Sets LOCAL_PID and the exported
# variables.
start_upstash_local() {
    local bin=$1 work=$2
    shift 2
    local out="$work/upstash-local.out" err="$work/upstash-local.err"
    # Started from WORKDIR so that any state it keeps stays out of the repo.
    (cd "$work" && exec setsid "$bin" "$@" >"$out" 2>"$err" </dev/null) &
    LOCAL_PID=$!
    local waited=0
    until grep -q '^export UPSTASH_REDIS_REST_TOKEN=' "$out" 2>/dev/null; do
        if ! kill -0 "$LOCAL_PID" 2>/dev/null; then
            echo "error: upstash-local exited before it was ready; its output:" >&2
            cat "$out" "$err" >&2 || true
            return 1
        fi
        if ((waited >= 600)); then
            echo "error: upstash-local printed no env block within 60 s; its output:" >&2
            cat "$out" "$err" >&2 || true
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    # Give it a moment to print the rest of the block.
    sleep 0.2
    echo "env block:"
    grep '^export ' "$out" | sed -E 's/(TOKEN|KEY|SECRET|PASSWORD)([A-Z_]*)=.*/\1\2=<redacted>/'
    eval "$(grep '^export ' "$out")"
}
