-- Conclave policy store, version 1: reserved rooms, their owners and members, roles, audit.
-- Applied by `conclavectl db migrate` in one transaction; see schemas/policy-store.md.
-- No column holds a room name, a nickname, a JID or a password in clear: rooms and
-- subjects are HMAC-SHA256 values under the focus's room key, passwords Argon2id strings.

CREATE TABLE reserved_rooms (
    room_hmac     bytea PRIMARY KEY CHECK (octet_length(room_hmac) = 32),
    password_hash text CHECK (password_hash IS NULL OR password_hash LIKE '$argon2id$%'),
    members_only  boolean NOT NULL DEFAULT false,
    max_occupants integer CHECK (max_occupants IS NULL OR max_occupants BETWEEN 1 AND 100000),
    valid_from    timestamptz,
    valid_until   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_from < valid_until)
);

-- Owners and members of a reserved room, by subject HMAC ("jid:" + bare JID).
CREATE TABLE room_affiliations (
    room_hmac    bytea NOT NULL REFERENCES reserved_rooms (room_hmac) ON DELETE CASCADE,
    subject_hmac bytea NOT NULL CHECK (octet_length(subject_hmac) = 32),
    affiliation  text NOT NULL CHECK (affiliation IN ('owner', 'member')),
    PRIMARY KEY (room_hmac, subject_hmac)
);

-- Service-wide roles of a user ("jid:" + bare JID) or of a whole domain ("domain:" + domain).
CREATE TABLE roles (
    subject_hmac bytea PRIMARY KEY CHECK (octet_length(subject_hmac) = 32),
    subject_kind text NOT NULL CHECK (subject_kind IN ('jid', 'domain')),
    role         text NOT NULL CHECK (role IN ('admin', 'host', 'member')),
    granted_at   timestamptz NOT NULL DEFAULT now()
);

-- What happened, when, to which room and by whom, in HMACs only; `detail` is a reason code
-- from a fixed list (schemas/policy-store.md), never free text.
CREATE TABLE audit (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    event      text NOT NULL CHECK (event ~ '^[a-z_]{1,40}$'),
    room_hmac  bytea CHECK (room_hmac IS NULL OR octet_length(room_hmac) = 32),
    actor_hmac bytea CHECK (actor_hmac IS NULL OR octet_length(actor_hmac) = 32),
    detail     text CHECK (detail IS NULL OR detail ~ '^[a-z0-9_-]{1,40}$')
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_room_at ON audit (room_hmac, at);
