-- Prosody 0.12 for Conclave: a production configuration.
--
-- What it serves:
--   example.org             users with accounts (SASL SCRAM, only after STARTTLS)
--   guest.example.org       guests (SASL ANONYMOUS): they may join rooms, not create them
--   conference.example.org  conclave-focus, an external component: it IS the MUC service
--   bridge1.example.org     conclave-bridge, an external component (one block per bridge)
--   XMPP over WebSocket (/xmpp-websocket) and BOSH (/http-bind) for browsers, on a loopback
--   HTTP port behind a TLS reverse proxy that serves the web client on the same origin.
-- No server-to-server (s2s), no in-band registration, no server-side MUC module.
--
-- Install: copy to /etc/prosody/conclave.cfg.lua (root:prosody, mode 0640: it holds the
-- component secrets) and run `prosody --config /etc/prosody/conclave.cfg.lua`, or make it
-- /etc/prosody/prosody.cfg.lua. Then `prosodyctl --config FILE check config`. See README.md.
--
-- Edit the SITE VALUES block below, then replace every "example.org" with your domain
-- (the VirtualHost and Component lines). The secrets must match the daemons' [xmpp] secret
-- (docs/configuration.md). The project's tests run this very file after rewriting only the
-- SITE VALUES block and the domain (tests/deploy/test_server_configs.py).

---------------------------------------- SITE VALUES ----------------------------------------
local listen = { "*", "::" }                   -- where clients connect (c2s)
local c2s_port = 5222                          -- STARTTLS c2s
local component_port = 5347                    -- XEP-0114 components; loopback only (below)
local http_port = 5280                         -- WebSocket + BOSH, loopback only (below)
local data_dir = "/var/lib/prosody"            -- accounts (SCRAM hashes), rosters
local log_dir = "/var/log/prosody"
local pid_file = "/run/prosody/prosody.pid"
local cert_dir = "/etc/prosody/certs"          -- <domain>.crt + <domain>.key per domain,
                                               -- e.g. `prosodyctl --root cert import
                                               -- /etc/letsencrypt/live`
local focus_secret = "CHANGE-ME-focus-secret"  -- = focus.conf [xmpp] secret
local bridge1_secret = "CHANGE-ME-bridge1-secret" -- = bridge.conf [xmpp] secret
------------------------------------- END OF SITE VALUES -------------------------------------

pidfile = pid_file
data_path = data_dir
log = {
    info = log_dir .. "/prosody.log";
    error = log_dir .. "/prosody.err";
}

-- Network ------------------------------------------------------------------------------------

interfaces = listen
c2s_ports = { c2s_port }
-- Direct TLS (XEP-0368) is left off; open it (e.g. { 5223 }) if you publish _xmpps SRV records.
c2s_direct_tls_ports = { }
-- The daemons connect to the component port with a shared secret over plain TCP: keep it on
-- loopback, or on a private network between the XMPP server and the daemons' machines.
component_interfaces = { "127.0.0.1", "::1" }
component_ports = { component_port }
-- HTTP for WebSocket and BOSH: loopback only, behind the reverse proxy that terminates TLS.
http_interfaces = { "127.0.0.1", "::1" }
http_ports = { http_port }
https_ports = { }
-- Without Nagle's algorithm: a join is several signalling round trips (presence, disco,
-- session-initiate, session-accept), each delayed ~40 ms by Nagle (docs/benchmarks.md).
network_settings = { nagle = false }

-- Modules ------------------------------------------------------------------------------------

modules_enabled = {
    "roster"; "saslauth"; "tls"; "disco"; "ping"; "presence"; "time"; "version"; "uptime";
    "carbons"; "blocklist"; "vcard_legacy"; "pep"; "private"; "smacks";
    "limits";     -- rate limits, below
    "websocket";  -- XMPP over WebSocket (RFC 7395) at /xmpp-websocket
    "bosh";       -- XMPP over BOSH (XEP-0124/0206) at /http-bind
    "posix";      -- daemon-friendly signals and umask
    -- "turn_external";  -- see TURN below
}
-- Server-to-server is off: Conclave needs none, and an s2s port is one more thing to secure.
-- To federate instead, remove "s2s" here and keep s2s_secure_auth = true (certificates
-- verified both ways), with s2s_require_encryption = true.
modules_disabled = { "s2s"; "s2s_bidi"; "dialback"; "offline"; "register" }
s2s_ports = { }
s2s_direct_tls_ports = { }
s2s_require_encryption = true
s2s_secure_auth = true

-- Authentication and encryption ----------------------------------------------------------------

-- Passwords are stored as SCRAM hashes only, and clients log in with SCRAM-SHA-1 only: PLAIN
-- (the password itself, even inside TLS) and DIGEST-MD5 are not offered. Before STARTTLS no
-- mechanism is offered at all (c2s_require_encryption).
authentication = "internal_hashed"
disable_sasl_mechanisms = { "PLAIN", "DIGEST-MD5" }
storage = "internal"
c2s_require_encryption = true
allow_unencrypted_plain_auth = false
allow_registration = false
certificates = cert_dir

-- Rate limits (mod_limits) ---------------------------------------------------------------------

-- Bytes per second each client stream may send, with bursts. Signalling is small; this stops
-- one client from flooding the server (the focus has its own per-user stanza limit:
-- docs/configuration.md, [muc] max_stanzas_per_second). Components are not limited.
limits = {
    c2s = { rate = "10kb/s"; burst = "25kb"; };
}
-- The largest stanza a client may send (Jingle offers with many sources stay well below).
c2s_stanza_size_limit = 256 * 1024

-- Browsers (WebSocket, BOSH) -------------------------------------------------------------------

-- Requests for an unknown Host header go to the main domain; the stream's `to` still picks
-- the XMPP host (guests connect to guest.example.org over the same endpoint).
http_default_host = "example.org"
-- The reverse proxy terminates TLS (wss://, https://) and forwards to the loopback port:
-- treat those sessions as encrypted (c2s_require_encryption applies to them too).
consider_websocket_secure = true
consider_bosh_secure = true
-- Only the proxy may set X-Forwarded-For.
trusted_proxies = { "127.0.0.1", "::1" }
-- Cross-domain: serve the web client from the same origin as /xmpp-websocket and /http-bind
-- (Prosody 0.12 dropped cross_domain_bosh/_websocket; CORS is per HTTP app). Then no CORS is
-- needed, and none is granted. For a client page served from another origin, allow that one
-- origin instead, e.g. bosh = { enabled = true; origins = { "https://meet.example.org" } }.
http_cors_override = {
    bosh = { enabled = false };
    websocket = { enabled = false };
}

-- TURN for Jitsi clients (XEP-0215) --------------------------------------------------------------

-- Jitsi clients ask their own XMPP server for STUN/TURN services. To hand them time-limited
-- credentials for a coturn that shares a secret with Prosody, enable "turn_external" above
-- and uncomment (the same secret as coturn's static-auth-secret; see docs/configuration.md,
-- [turn], for the focus's own TURN settings):
-- turn_external_secret = "CHANGE-ME-turn-secret"
-- turn_external_host = "turn.example.org"
-- turn_external_port = 3478
-- turn_external_ttl = 86400
-- turn_external_tcp = true
-- turn_external_tls_port = 5349

-- Hosts ----------------------------------------------------------------------------------------

VirtualHost "example.org"

-- Guests: SASL ANONYMOUS, a random JID per login, listed in focus.conf [security] guest_domains.
VirtualHost "guest.example.org"
    authentication = "anonymous"
    -- Guests need no roster, presence subscriptions or storage. (A host's modules_disabled
    -- replaces the global one, so the global list is repeated here.)
    modules_disabled = { "s2s"; "s2s_bidi"; "dialback"; "offline"; "register";
                         "roster"; "pep"; "private"; "vcard_legacy"; "blocklist" }

-- The focus: no "muc" module and no Component "muc" block for this domain, the focus is the
-- MUC service.
Component "conference.example.org"
    component_secret = focus_secret

-- One block per bridge (bridge2.example.org, ...), each with its own secret.
Component "bridge1.example.org"
    component_secret = bridge1_secret
