#!/usr/bin/env bash
# The whole Conclave stack on this machine, for development and trials:
# a private Prosody, a private PostgreSQL cluster, conclave-focus and one conclave-bridge,
# and the browser client (web/) served by that Prosody next to its WebSocket.
#
#   ./deploy/local/up.sh            install what is missing, build, start; Ctrl-C stops all
#   ./deploy/local/up.sh --detach   the same, but return once everything is up
#   ./deploy/local/up.sh status     what is running
#   ./deploy/local/up.sh stop       stop everything
#
# Everything lives in one private folder (CONCLAVE_STATE_DIR, default
# /var/tmp/conclave-local) and listens on loopback only, on non-default ports that
# environment variables can change (see "ports" below). Prosody and PostgreSQL run as
# their own system users when started by root. Running it again reuses the folder: the
# same users, passwords and database.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
state=${CONCLAVE_STATE_DIR:-/var/tmp/conclave-local}
build_dir=${CONCLAVE_BUILD_DIR:-$root/build}
# ports
c2s_port=${CONCLAVE_C2S_PORT:-15222}
component_port=${CONCLAVE_COMPONENT_PORT:-15347}
pg_port=${CONCLAVE_PG_PORT:-15432}
focus_http=${CONCLAVE_FOCUS_HTTP_PORT:-19471}
bridge_http=${CONCLAVE_BRIDGE_HTTP_PORT:-19472}
xmpp_http=${CONCLAVE_XMPP_HTTP_PORT:-15280} # Prosody's HTTP: XMPP over WebSocket for browsers

domain=localhost
guest_domain=guest.localhost
muc_domain=conference.localhost
bridge_domain=bridge1.localhost
services=(postgres prosody bridge focus) # start order; stopped in reverse

say() { printf '%s\n' "$*" >&2; }
die() { say "up.sh: $*"; exit 1; }

pid_of() { # SERVICE -> pid if it runs
    local f="$state/run/$1.pid" pid
    [[ -f $f ]] || return 1
    pid=$(<"$f")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

stop_all() {
    local i pid
    for ((i = ${#services[@]} - 1; i >= 0; i--)); do
        local s=${services[i]}
        if pid=$(pid_of "$s"); then
            # PostgreSQL: SIGINT is its fast shutdown; the others take SIGTERM.
            if [[ $s == postgres ]]; then kill -INT "$pid"; else kill -TERM "$pid"; fi
            for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            if kill -0 "$pid" 2>/dev/null; then
                say "up.sh: $s (pid $pid) did not stop in 10 s; killing it"
                kill -KILL "$pid" 2>/dev/null || true
            fi
            say "stopped $s"
        fi
        rm -f "$state/run/$s.pid"
    done
}

status() {
    local s pid rc=0
    for s in "${services[@]}"; do
        if pid=$(pid_of "$s"); then say "$s: running (pid $pid)"; else say "$s: stopped"; rc=3; fi
    done
    return $rc
}

as_service_user() { # USER CMD... : exec as USER when root (setpriv execs, no fork)
    local user=$1
    shift
    if [[ $(id -u) -eq 0 ]]; then
        exec setpriv --reuid="$user" --regid="$user" --init-groups -- "$@"
    else
        exec "$@"
    fi
}

launch() { # SERVICE USER CMD... : start in its own session, log and pid in the state folder
    local name=$1 user=$2
    shift 2
    (
        cd "$state"
        if [[ $user == - ]]; then exec setsid "$@"; fi
        exec setsid bash -c "$(declare -f as_service_user); as_service_user \"\$@\"" _ "$user" "$@"
    ) >>"$state/log/$name.log" 2>&1 </dev/null &
    echo $! >"$state/run/$name.pid"
}

http_status() { # PORT PATH -> HTTP status code, without curl
    local code=""
    if exec 3<>"/dev/tcp/127.0.0.1/$1" 2>/dev/null; then
        printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
        read -r -t 2 _ code _ <&3 || true
        exec 3>&-
    fi
    echo "${code:-000}"
}

wait_for() { # WHAT SECONDS TEST-COMMAND...
    local what=$1 seconds=$2
    shift 2
    for _ in $(seq $((seconds * 10))); do
        if "$@"; then return 0; fi
        sleep 0.1
    done
    die "$what did not come up in ${seconds} s; see $state/log/"
}

random_secret() { head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='; }

private_file() { # PATH CONTENT : mode 0600, created only once
    [[ -f $1 ]] || (umask 077 && printf '%s\n' "$2" >"$1")
}

prepare_state() {
    local prosody_user=prosody pg_user=postgres
    [[ $(id -u) -eq 0 ]] || { prosody_user=$(id -un); pg_user=$(id -un); }
    mkdir -p "$state"/{run,log,pg-socket}
    chmod 755 "$state"
    # Only PostgreSQL's user (and root) can reach its socket: trust auth is safe behind it.
    chmod 700 "$state/pg-socket"
    chmod 700 "$state/run" "$state/log"
    mkdir -p "$state/prosody/data" "$state/prosody/certs"
    chown -R "$prosody_user:" "$state/prosody"
    chmod 700 "$state/prosody"
    chown "$pg_user:" "$state/pg-socket"
    touch "$state/log/prosody.log" "$state/log/postgres.log"
    chown "$prosody_user:" "$state/log/prosody.log"
    chown "$pg_user:" "$state/log/postgres.log"
    chmod 711 "$state/log"

    install_web_client "$prosody_user"
    private_file "$state/focus.secret" "$(random_secret)"
    private_file "$state/bridge.secret" "$(random_secret)"
    private_file "$state/users.txt" "alice $(random_secret)
bob $(random_secret)"

    local pg_version_file="$state/postgres/PG_VERSION" pgbin
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    if [[ ! -f $pg_version_file ]]; then
        mkdir -p "$state/postgres"
        chown "$pg_user:" "$state/postgres"
        chmod 700 "$state/postgres"
        (as_service_user "$pg_user" "$pgbin/initdb" -D "$state/postgres" -U postgres \
            --auth-local=trust --auth-host=reject -E UTF8 --locale=C.UTF-8 >"$state/log/initdb.log" 2>&1) ||
            die "initdb failed; see $state/log/initdb.log"
    fi
    echo "$pgbin" >"$state/run/pgbin"
    write_configs
}

# The built client (web/dist) and its Prosody module, copied into the state folder so that
# Prosody's user can read them wherever the checkout is; /config.json for this stack.
install_web_client() {
    local prosody_user=$1
    rm -rf "$state/web"
    mkdir -p "$state/web" "$state/prosody/modules"
    if [[ -f $root/web/dist/index.html ]]; then
        cp -R "$root/web/dist/." "$state/web/"
    else
        say "up.sh: web/dist is not built (web/build.sh): the web client will not be served"
    fi
    cp "$root/deploy/prosody/mod_conclave_web.lua" "$state/prosody/modules/"
    chown -R "$prosody_user:" "$state/prosody/modules"
    cat >"$state/web-config.json" <<JSON
{"websocket": "/xmpp-websocket", "domain": "$domain", "guest_domain": "$guest_domain",
 "muc_domain": "$muc_domain"}
JSON
    chmod -R a+rX "$state/web" "$state/web-config.json"
}

daemon_conf() { # NAME DOMAIN HTTP_PORT EXTRA : a private config for one of our daemons
    (umask 077 && cat >"$state/$1.conf" <<INI
# Generated by deploy/local/up.sh
[xmpp]
server = 127.0.0.1
port = $component_port
domain = $2
secret_file = $state/$1.secret

[http]
listen = 127.0.0.1:$3

[log]
level = info

$4
INI
    )
}

write_configs() {
    local focus_secret bridge_secret
    focus_secret=$(<"$state/focus.secret")
    bridge_secret=$(<"$state/bridge.secret")
    (umask 027 && cat >"$state/prosody/prosody.cfg.lua" <<LUA
-- Generated by deploy/local/up.sh: a private, loopback-only Prosody for development.
-- Plaintext c2s is allowed because nothing here leaves 127.0.0.1.
daemonize = false
pidfile = "$state/prosody/prosody.pid"
data_path = "$state/prosody/data"
certificates = "$state/prosody/certs"
log = { info = "$state/log/prosody.log" }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { $c2s_port }
c2s_direct_tls_ports = { }
legacy_ssl_ports = { }
component_interfaces = { "127.0.0.1" }
component_ports = { $component_port }
s2s_ports = { }
s2s_direct_tls_ports = { }
http_ports = { $xmpp_http }
http_interfaces = { "127.0.0.1" }
https_ports = { }
modules_enabled = { "disco", "roster", "saslauth", "ping", "presence", "register", "websocket" }
-- Browsers reach Prosody over plain ws:// on loopback only; behind a TLS proxy in production.
consider_websocket_secure = true
modules_disabled = { "s2s", "s2s_bidi", "s2s_auth_certs", "dialback", "tls", "posix" }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
network_settings = { nagle = false }
authentication = "internal_hashed"
storage = "internal"
plugin_paths = { "$state/prosody/modules" }
-- Requests to 127.0.0.1 (no virtual host of that name) go to the login domain's host.
http_default_host = "$domain"

VirtualHost "$domain"
    -- The browser client, on the same origin as the WebSocket (deploy/prosody/mod_conclave_web.lua).
    modules_enabled = { "conclave_web" }
    conclave_web_root = "$state/web"
    conclave_web_config = "$state/web-config.json"

VirtualHost "$guest_domain"
    authentication = "anonymous"

Component "$muc_domain"
    component_secret = "$focus_secret"

Component "$bridge_domain"
    component_secret = "$bridge_secret"
LUA
    )
    [[ $(id -u) -eq 0 ]] && chown root:prosody "$state/prosody/prosody.cfg.lua"
    # Room tags in logs stay the same across restarts with a key file.
    [[ -f $state/room.key ]] || "$build_dir/tools/conclavectl" keygen "$state/room.key" >/dev/null
    daemon_conf focus "$muc_domain" "$focus_http" "[focus]
bridges = $bridge_domain

[security]
authenticated_domains = $domain
guest_domains = $guest_domain
room_key_file = $state/room.key

[muc]
# Jitsi clients (lib-jitsi-meet) ignore occupants whose real JID they cannot see.
default_whois = anyone

[database]
# The policy store: reserved rooms, roles and audit (conclavectl reads the same keys).
conninfo = host=$state/pg-socket port=$pg_port dbname=postgres user=postgres"
    daemon_conf bridge "$bridge_domain" "$bridge_http" "[media]
addresses = 127.0.0.1

[colibri]
trusted = $muc_domain"
}

pg_ready() { "$(<"$state/run/pgbin")/pg_isready" -q -h "$state/pg-socket" -p "$pg_port" -t 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
healthy() { [[ $(http_status "$1" /health) == 200 ]]; }
alive() { pid_of "$1" >/dev/null || die "$1 exited; see $state/log/$1.log"; }

# Refuses to start over a running stack or on a busy port, before anything is touched.
preflight() {
    local s port
    for s in "${services[@]}"; do
        if pid_of "$s" >/dev/null; then
            die "already running (./deploy/local/up.sh status; ./deploy/local/up.sh stop)"
        fi
    done
    for port in "$c2s_port" "$component_port" "$pg_port" "$focus_http" "$bridge_http" \
        "$xmpp_http"; do
        if port_open "$port"; then
            die "port $port is already in use (set CONCLAVE_*_PORT to move)"
        fi
    done
}

start_all() {
    local pg_user=postgres prosody_user=prosody
    [[ $(id -u) -eq 0 ]] || { prosody_user=$(id -un); pg_user=$(id -un); }

    launch postgres "$pg_user" "$(<"$state/run/pgbin")/postgres" -D "$state/postgres" \
        -k "$state/pg-socket" -p "$pg_port" -c listen_addresses= -c logging_collector=off
    wait_for PostgreSQL 30 pg_ready
    policy_store
    launch prosody "$prosody_user" prosody --config "$state/prosody/prosody.cfg.lua" -F
    wait_for Prosody 30 port_open "$c2s_port"
    wait_for "Prosody's component port" 30 port_open "$component_port"
    while read -r user password; do
        (as_service_user "$prosody_user" prosodyctl --config "$state/prosody/prosody.cfg.lua" \
            register "$user" "$domain" "$password" >>"$state/log/prosodyctl.log" 2>&1) ||
            die "could not register $user; see $state/log/prosodyctl.log"
    done <"$state/users.txt"
    launch bridge - "$build_dir/bridge/conclave-bridge" --config "$state/bridge.conf"
    launch focus - "$build_dir/focus/conclave-focus" --config "$state/focus.conf"
    wait_for conclave-bridge 30 healthy "$bridge_http"
    wait_for conclave-focus 30 healthy "$focus_http"
}

ctl() { "$build_dir/tools/conclavectl" --config "$state/focus.conf" "$@"; }

# The policy store's tables, and one reserved room and one host as examples (the same ones
# on every start: the name and the password are kept in the state folder).
policy_store() {
    local log=$state/log/conclavectl.log
    ctl db migrate >>"$log" 2>&1 || die "conclavectl db migrate failed; see $log"
    if [[ ! -s $state/example-room.txt ]]; then
        "$build_dir/tools/conclavectl" room-name >"$state/example-room.new"
        mv "$state/example-room.new" "$state/example-room.txt"
    fi
    private_file "$state/example-room.password" "$(random_secret)"
    ctl room reserve "$(<"$state/example-room.txt")" --owner "alice@$domain" \
        --password-file "$state/example-room.password" --replace >>"$log" 2>&1 ||
        die "conclavectl room reserve failed; see $log"
    ctl role grant "bob@$domain" host >>"$log" 2>&1 || die "conclavectl role grant failed; see $log"
}

print_summary() {
    local users
    users=$(awk -v d="$domain" '{printf "    %s@%s  password %s\n", $1, d, $2}' "$state/users.txt")
    cat <<EOT

Conclave is up (everything on 127.0.0.1; state and logs in $state)

  XMPP (c2s, plaintext on loopback)  127.0.0.1:$c2s_port
  Web client (open in a browser)     http://127.0.0.1:$xmpp_http/
  XMPP over WebSocket (browsers)     ws://127.0.0.1:$xmpp_http/xmpp-websocket
    users:
$users
    guests (anonymous login)         $guest_domain
  Multi-User Chat service            $muc_domain  (conclave-focus)
  Media bridge                       $bridge_domain  (conclave-bridge)
  focus health / metrics             http://127.0.0.1:$focus_http/health  /metrics
  bridge health / metrics            http://127.0.0.1:$bridge_http/health  /metrics
  PostgreSQL                         host=$state/pg-socket port=$pg_port user=postgres
    policy store (conclavectl --config $state/focus.conf ...)
    reserved room                    $(<"$state/example-room.txt")@$muc_domain
                                     owner alice@$domain; its password is in
                                     $state/example-room.password
    host (may create rooms)          bob@$domain

EOT
    if [[ $1 -eq 1 ]]; then
        echo "  Stop: ./deploy/local/up.sh stop"
    else
        echo "  Stop: Ctrl-C here, or ./deploy/local/up.sh stop"
    fi
}

main() {
    local detach=0
    case "${1:-}" in
    stop) stop_all; exit 0 ;;
    status) status; exit $? ;;
    --detach) detach=1 ;;
    "") ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
    esac

    preflight
    "$root/deploy/install-deps.sh"
    if [[ -z ${CONCLAVE_SKIP_BUILD:-} ]]; then
        [[ -f $build_dir/build.ninja ]] || meson setup "$build_dir" "$root" >&2
        ninja -C "$build_dir" >&2
        "$root/web/build.sh" >&2
    fi
    prepare_state
    trap 'say "up.sh: failed; stopping what was started"; stop_all' ERR
    trap 'stop_all; exit 1' EXIT
    start_all
    trap - ERR EXIT
    print_summary "$detach"
    [[ $detach -eq 1 ]] && exit 0

    trap 'say; stop_all; exit 0' INT TERM
    while true; do
        for s in "${services[@]}"; do
            if ! pid_of "$s" >/dev/null; then
                say "up.sh: $s stopped unexpectedly; see $state/log/$s.log"
                stop_all
                exit 1
            fi
        done
        sleep 1
    done
}

main "$@"
