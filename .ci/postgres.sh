# shellcheck shell=bash
# A throwaway PostgreSQL 15 for CI and benchmarks. Source this file, then:
#
#     pg_start
#     trap pg_stop EXIT
#
# pg_start exports PG_PORT, PG_HOST (127.0.0.1), PG_URL
# (postgres://postgres@127.0.0.1:$PG_PORT/postgres, trust authentication) and PG_BIN (the server's
# bin directory, which also holds psql, createdb and pgbench). The cluster lives in a temporary
# directory (data, Unix socket and server.log) that pg_stop removes; pg_stop is safe to call twice.
#
# As root the server cannot run as root, so the directory is given to the `postgres` user and every
# server binary runs through `runuser -u postgres --`. fsync stays on: commits are durable, as in
# production, so timings mean something.
#
# Optional settings: PG_BIN (default /usr/lib/postgresql/15/bin), PG_FIRST_PORT (default 55432).

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_HOST=127.0.0.1
PG_DIR=""

# Runs a PostgreSQL server binary as the cluster's owner, from inside the cluster directory (so that
# a working directory the postgres user cannot read, such as /root, gives no warnings).
_pg_as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd "$PG_DIR" && runuser -u postgres -- "$@")
    else
        (cd "$PG_DIR" && "$@")
    fi
}

# True when something already answers on 127.0.0.1:$1 (a PostgreSQL, or any TCP listener).
_pg_port_busy() {
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$1" -t 1 >/dev/null 2>&1 && return 0
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    return 1
}

# The server's options on port $1: loopback only, its socket in the cluster directory, fsync on.
_pg_options() {
    echo "-p $1 -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200"
}

pg_start() {
    if [ ! -x "$PG_BIN/initdb" ]; then
        echo "postgres.sh: $PG_BIN/initdb not found: PostgreSQL 15's server is not installed" >&2
        echo "postgres.sh: on Debian: apt-get install postgresql-15" >&2
        exit 1
    fi
    if [ -n "$PG_DIR" ]; then
        echo "postgres.sh: pg_start called twice (a cluster is already running in $PG_DIR)" >&2
        exit 1
    fi

    local base="${TMPDIR:-/tmp}"
    if [ "$(id -u)" -eq 0 ]; then
        if ! id postgres >/dev/null 2>&1; then
            echo "postgres.sh: running as root but there is no 'postgres' user to run the server" >&2
            exit 1
        fi
        # The postgres user must be able to reach the directory: /tmp always is.
        base=/tmp
    fi
    PG_DIR="$(mktemp -d "$base/pat-pg.XXXXXX")" || { echo "postgres.sh: mktemp failed" >&2; exit 1; }
    chmod 700 "$PG_DIR"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$PG_DIR"
    fi

    if ! _pg_as_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust --no-sync -U postgres \
        -E UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1; then
        echo "postgres.sh: initdb failed:" >&2
        cat "$PG_DIR/initdb.log" >&2
        pg_stop
        exit 1
    fi

    # Try ports from PG_FIRST_PORT upwards; a port can still be taken between the check and the
    # start, so a failed start on one port moves on to the next.
    local port="${PG_FIRST_PORT:-55432}" last tries=0
    last=$((port + 100))
    while [ "$port" -lt "$last" ]; do
        if _pg_port_busy "$port"; then
            port=$((port + 1))
            continue
        fi
        tries=$((tries + 1))
        if _pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
            -o "$(_pg_options "$port")" start >"$PG_DIR/pg_ctl.log" 2>&1; then
            PG_PORT="$port"
            PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
            export PG_PORT PG_HOST PG_URL PG_BIN PG_DIR
            echo "postgres.sh: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (dir $PG_DIR)"
            return 0
        fi
        if grep -q "could not bind\|Address already in use" "$PG_DIR/server.log" 2>/dev/null \
            && [ "$tries" -lt 10 ]; then
            : >"$PG_DIR/server.log"
            port=$((port + 1))
            continue
        fi
        break
    done
    echo "postgres.sh: PostgreSQL failed to start (last port tried: $port)" >&2
    cat "$PG_DIR/pg_ctl.log" >&2 2>/dev/null || true
    echo "--- server.log ---" >&2
    cat "$PG_DIR/server.log" >&2 2>/dev/null || true
    pg_stop
    exit 1
}

# Stops the server (fast shutdown) and removes its directory. Never fails, safe to call twice, so
# that it cannot change the exit status of the script whose EXIT trap runs it.
pg_stop() {
    local dir="$PG_DIR"
    [ -n "$dir" ] || return 0
    PG_DIR=""
    if [ -f "$dir/data/postmaster.pid" ]; then
        if [ "$(id -u)" -eq 0 ]; then
            (cd "$dir" && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop) \
                >/dev/null 2>&1 || true
        else
            "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
        fi
    fi
    rm -rf "$dir" || true
    return 0
}

# pg_crash: stops the server the way a crash would (`pg_ctl stop -m immediate`: every backend
# killed, no shutdown checkpoint), keeping its directory; pg_resume starts it again on the same
# port, and it recovers from its WAL first. For the crash-safety test (bench/crash.sh).
pg_crash() {
    [ -n "$PG_DIR" ] || { echo "postgres.sh: pg_crash: no cluster is running" >&2; return 1; }
    _pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w -t 60 stop >>"$PG_DIR/pg_ctl.log" 2>&1
}

pg_resume() {
    [ -n "$PG_DIR" ] || { echo "postgres.sh: pg_resume: no cluster to start" >&2; return 1; }
    if ! _pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 120 \
        -o "$(_pg_options "$PG_PORT")" start >>"$PG_DIR/pg_ctl.log" 2>&1; then
        echo "postgres.sh: PostgreSQL did not start again on port $PG_PORT:" >&2
        tail -n 30 "$PG_DIR/server.log" >&2 2>/dev/null || true
        return 1
    fi
}
