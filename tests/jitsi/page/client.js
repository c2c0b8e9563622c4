/* The browser test's client: an unmodified lib-jitsi-meet (the global JitsiMeetJS) joins one
 * room of a Conclave service the way a Jitsi Meet page would: anonymous login over Prosody's
 * WebSocket, the `conference` request to the focus, MUC join, Jingle with the focus (and
 * peer-to-peer when enabled). The page only watches, and keeps what the test driver asks
 * for in `window.conclave`: the state, remote participants and their tracks, what
 * getStats() counts per remote participant and per peer connection, dominant speaker
 * events, endpoint messages, recorder state changes, and a few actions (send an endpoint
 * message, mute, start and stop a recording, leave).
 *
 * Query parameters: ws (XMPP WebSocket URL), domain (anonymous XMPP domain), muc and focus
 * (the Conclave service's domain), room, name (display name), p2p (1 or 0), loglevel. */
'use strict';

(function () {
    const params = new URLSearchParams(location.search);
    const opt = {
        ws: params.get('ws'),
        domain: params.get('domain'),
        muc: params.get('muc'),
        focus: params.get('focus') || params.get('muc'),
        room: (params.get('room') || 'test').toLowerCase(),
        name: params.get('name') || 'someone',
        p2p: params.get('p2p') === '1',
        logLevel: params.get('loglevel') || 'info'
    };

    const t0 = performance.now();
    const now = () => Math.round(performance.now() - t0);
    const state = {
        phase: 'loading', // loading, connecting, connected, joining, joined, left, failed
        errors: [],
        myId: null,
        bridgeChannelOpen: 0, // how many times it opened
        p2pStatus: [], // {t, active}
        recorder: [], // RECORDER_STATE_CHANGED: {t, sessionId, status, mode, error, by}
        chat: [], // MESSAGE_RECEIVED (groupchat with a body): {t, from, text}
        dominant: [], // {t, id, previous}
        messages: [], // {t, from, payload}
        joined: [], // {t, id, name}
        left: [], // {t, id}
        trackAdded: [], // {t, id, kind}
        trackRemoved: [], // {t, id, kind}
        mediaSessions: 0 // _MEDIA_SESSION_STARTED: Jingle sessions that got going
    };
    let connection = null;
    let conference = null;
    let localTracks = [];

    function log(...args) {
        console.log('[conclave-test]', ...args);
    }

    function fail(what, error) {
        const text = `${what}: ${error && (error.message || error.name || error)}`;
        state.errors.push({ t: now(), text });
        console.error('[conclave-test]', text, error);
    }

    function setPhase(phase) {
        state.phase = phase;
        const status = document.getElementById('status');
        if (status) {
            status.textContent = phase;
        }
        log('phase', phase);
    }

    // -- observation ----------------------------------------------------------------------

    // The RTCPeerConnection under a Jingle session (lib-jitsi-meet keeps it in
    // TraceablePeerConnection.peerconnection).
    function rtcPc(session) {
        const tpc = session && session.peerconnection;
        const pc = tpc && tpc.peerconnection;
        return pc && pc.signalingState !== 'closed' ? pc : null;
    }

    function remoteTracks() {
        const out = [];
        if (!conference) {
            return out;
        }
        for (const p of conference.getParticipants()) {
            for (const t of p.getTracks()) {
                const mst = t.getTrack && t.getTrack();
                out.push({
                    id: p.getId(),
                    kind: t.getType(),
                    trackId: mst ? mst.id : null,
                    muted: t.isMuted(),
                    ssrc: t.getSSRC ? t.getSSRC() : null
                });
            }
        }
        return out;
    }

    // Inbound RTP per peer connection: totals per remote participant and kind (matched by
    // the receiving track), and the sum over every inbound stream of that connection.
    async function inbound(kind, pc, byTrack) {
        const result = { total: { bytes: 0, packets: 0, frames: 0 }, participants: {} };
        if (!pc) {
            return null;
        }
        const report = await pc.getStats();
        report.forEach(s => {
            if (s.type === 'transport' && s.selectedCandidatePairId) {
                const pair = report.get(s.selectedCandidatePairId);
                const local = pair && report.get(pair.localCandidateId);
                const remote = pair && report.get(pair.remoteCandidateId);
                result.path = {
                    local: local ? `${local.address}:${local.port}/${local.protocol}` : null,
                    remote: remote ? `${remote.address}:${remote.port}/${remote.protocol}` : null
                };
            }
            if (s.type !== 'inbound-rtp') {
                return;
            }
            const bytes = s.bytesReceived || 0;
            const packets = s.packetsReceived || 0;
            const frames = s.framesDecoded || 0;
            result.total.bytes += bytes;
            result.total.packets += packets;
            result.total.frames += frames;
            const owner = byTrack[s.trackIdentifier];
            if (owner) {
                const entry = result.participants[owner.id] || (result.participants[owner.id] = {});
                entry[s.kind] = {
                    trackId: s.trackIdentifier,
                    ssrc: s.ssrc,
                    bytes,
                    packets,
                    frames,
                    codec: s.codecId || null
                };
            }
        });
        result.state = pc.iceConnectionState;
        result.kind = kind;
        return result;
    }

    async function snapshot() {
        const tracks = remoteTracks();
        const byTrack = {};
        for (const t of tracks) {
            if (t.trackId) {
                byTrack[t.trackId] = t;
            }
        }
        const participants = {};
        if (conference) {
            for (const p of conference.getParticipants()) {
                participants[p.getId()] = {
                    name: p.getDisplayName() || null,
                    role: p.getRole(),
                    tracks: p.getTracks().map(t => t.getType())
                };
            }
        }
        let jvb = null;
        let p2p = null;
        try {
            jvb = await inbound('jvb', rtcPc(conference && conference.jvbJingleSession), byTrack);
            p2p = await inbound('p2p', rtcPc(conference && conference.p2pJingleSession), byTrack);
        } catch (e) {
            fail('getStats', e);
        }
        return {
            t: now(),
            phase: state.phase,
            myId: state.myId,
            name: opt.name,
            errors: state.errors,
            p2pEnabled: opt.p2p,
            p2pActive: conference ? conference.isP2PActive() : false,
            jvbSession: Boolean(conference && conference.jvbJingleSession),
            p2pSession: Boolean(conference && conference.p2pJingleSession),
            bridgeChannelOpen: state.bridgeChannelOpen,
            participants,
            tracks,
            stats: { jvb, p2p },
            dominant: state.dominant,
            messages: state.messages,
            joined: state.joined,
            left: state.left,
            trackAdded: state.trackAdded,
            trackRemoved: state.trackRemoved,
            p2pStatus: state.p2pStatus,
            mediaSessions: state.mediaSessions,
            moderator: conference ? conference.isModerator() : null,
            recorder: state.recorder,
            chat: state.chat
        };
    }

    // -- actions --------------------------------------------------------------------------

    function sendMessage(payload) {
        // A broadcast over the bridge channel (colibriClass EndpointMessage, to '').
        conference.sendEndpointMessage('', payload);
        return true;
    }

    async function setAudioMuted(muted) {
        const track = localTracks.find(t => t.getType() === 'audio');
        if (!track) {
            throw new Error('no local audio track');
        }
        await (muted ? track.mute() : track.unmute());
        return track.isMuted();
    }

    // A refused IQ (the library rejects with the error stanza) as {type, condition, text}.
    function iqError(e) {
        const error = e && e.getElementsByTagName && e.getElementsByTagName('error')[0];
        if (!error) {
            return { type: null, condition: null, text: String(e && (e.message || e)) };
        }
        const text = error.getElementsByTagName('text')[0];
        const condition = Array.from(error.children).find(c => c.tagName !== 'text');
        return {
            type: error.getAttribute('type'),
            condition: condition ? condition.tagName : null,
            text: text ? text.textContent : null
        };
    }

    // JitsiConference.startRecording/stopRecording (lib-jitsi-meet's RecordingManager: the
    // Jibri IQ to the focus occupant). Answers {ok, sessionId} or {ok: false, error}.
    async function startRecording(mode) {
        try {
            const session = await conference.startRecording({ mode });
            return { ok: true, sessionId: session.getID(), status: session.getStatus() };
        } catch (e) {
            return { ok: false, error: iqError(e) };
        }
    }

    async function stopRecording(sessionId) {
        try {
            await conference.stopRecording(sessionId);
            return { ok: true };
        } catch (e) {
            return { ok: false, error: iqError(e) };
        }
    }

    async function leave() {
        if (conference) {
            try {
                await conference.leave();
            } catch (e) {
                fail('leave', e);
            }
        }
        for (const t of localTracks) {
            try {
                await t.dispose();
            } catch (e) { /* leaving anyway */ }
        }
        if (connection) {
            connection.disconnect();
        }
        setPhase('left');
        return true;
    }

    // -- the conference -------------------------------------------------------------------

    function joinConference() {
        const events = JitsiMeetJS.events.conference;
        setPhase('joining');
        conference = connection.initJitsiConference(opt.room, {
            p2p: {
                enabled: opt.p2p,
                // No STUN: nothing may leave the machine (the default is a public server).
                stunServers: [],
                backToP2PDelay: 1
            },
            disableSimulcast: true,
            // The beep of Chromium's fake microphone would trip these; they only nag.
            enableNoAudioDetection: false,
            enableNoisyMicDetection: false,
            enableTalkWhileMuted: false,
            disableThirdPartyRequests: true,
            startBitrate: 300
        });
        conference.on(events.CONFERENCE_JOINED, () => {
            state.myId = conference.myUserId();
            setPhase('joined');
            log('joined as', state.myId);
        });
        conference.on(events.CONFERENCE_FAILED, e => {
            fail('conference failed', e);
            setPhase('failed');
        });
        conference.on(events.CONFERENCE_ERROR, e => fail('conference error', e));
        conference.on(events.USER_JOINED, (id, user) => {
            state.joined.push({ t: now(), id, name: user.getDisplayName() || null });
        });
        conference.on(events.USER_LEFT, id => state.left.push({ t: now(), id }));
        conference.on(events.TRACK_ADDED, track => {
            if (!track.isLocal()) {
                state.trackAdded.push({
                    t: now(), id: track.getParticipantId(), kind: track.getType()
                });
            }
        });
        conference.on(events.TRACK_REMOVED, track => {
            if (!track.isLocal()) {
                state.trackRemoved.push({
                    t: now(), id: track.getParticipantId(), kind: track.getType()
                });
            }
        });
        conference.on(events.DOMINANT_SPEAKER_CHANGED, (id, previous) => {
            state.dominant.push({ t: now(), id, previous: previous || [] });
        });
        conference.on(events.ENDPOINT_MESSAGE_RECEIVED, (participant, payload) => {
            state.messages.push({ t: now(), from: participant.getId(), payload });
        });
        conference.on(events.DATA_CHANNEL_OPENED, () => {
            state.bridgeChannelOpen += 1;
            log('bridge channel open');
        });
        conference.on(events.P2P_STATUS, (c, active) => {
            state.p2pStatus.push({ t: now(), active });
            log('p2p status', active);
        });
        conference.on(events.RECORDER_STATE_CHANGED, session => {
            // Who started it (status on) or stopped it (off): a JitsiParticipant, or the
            // resource (participant id) when it was this page.
            const who = session.getStatus() === 'off'
                ? session.getTerminator() : session.getInitiator();
            const entry = {
                t: now(),
                sessionId: session.getID() || null,
                status: session.getStatus() || null,
                mode: session.getMode() || null,
                error: session.getError() || null,
                by: (who && who.getId ? who.getId() : who) || null
            };
            state.recorder.push(entry);
            log('recorder state', JSON.stringify(entry));
        });
        conference.on(events.MESSAGE_RECEIVED, (id, text) => {
            state.chat.push({ t: now(), from: id || null, text });
        });
        conference.on(events._MEDIA_SESSION_STARTED, () => {
            state.mediaSessions += 1;
        });
        conference.setDisplayName(opt.name);
        for (const t of localTracks) {
            conference.addTrack(t).catch(e => fail('addTrack', e));
        }
        conference.join();
    }

    async function start() {
        JitsiMeetJS.setLogLevel(JitsiMeetJS.logLevels[opt.logLevel.toUpperCase()]
            || JitsiMeetJS.logLevels.INFO);
        JitsiMeetJS.init({ disableAudioLevels: false, enableAnalyticsLogging: false });
        setPhase('tracks');
        try {
            localTracks = await JitsiMeetJS.createLocalTracks({
                devices: [ 'audio', 'video' ],
                resolution: 180,
                constraints: {
                    video: {
                        height: { ideal: 180, max: 180 },
                        width: { ideal: 320, max: 320 },
                        frameRate: { max: 15 }
                    }
                }
            });
        } catch (e) {
            fail('createLocalTracks', e);
            setPhase('failed');
            return;
        }
        log('local tracks', localTracks.map(t => t.getType()).join(','));
        const events = JitsiMeetJS.events.connection;
        connection = new JitsiMeetJS.JitsiConnection(null, null, {
            hosts: { domain: opt.domain, muc: opt.muc, focus: opt.focus },
            serviceUrl: opt.ws,
            websocketKeepAlive: -1,
            enableWebsocketResume: false,
            clientNode: 'https://conclave.invalid/test-client'
        });
        connection.addEventListener(events.CONNECTION_ESTABLISHED, () => {
            setPhase('connected');
            joinConference();
        });
        connection.addEventListener(events.CONNECTION_FAILED, (e, msg) => {
            fail('connection failed', `${e} ${msg || ''}`);
            setPhase('failed');
        });
        connection.addEventListener(events.CONNECTION_DISCONNECTED, () => log('disconnected'));
        setPhase('connecting');
        connection.connect(); // no id and password: anonymous login on `domain`
    }

    // When Chromium refuses a description, the console gets the SDP it refused (the library
    // only logs the error).
    const setRemote = RTCPeerConnection.prototype.setRemoteDescription;
    RTCPeerConnection.prototype.setRemoteDescription = function (description, ...rest) {
        const result = setRemote.call(this, description, ...rest);
        if (result && result.catch) {
            result.catch(e => console.error('[conclave-test] setRemoteDescription refused:',
                e && e.message, JSON.stringify(description && description.sdp)));
        }
        return result;
    };
    window.addEventListener('error', e => fail('window error', e.error || e.message));
    window.addEventListener('unhandledrejection', e => fail('unhandled rejection', e.reason));
    window.conclave = {
        opt, state, snapshot, sendMessage, setAudioMuted, startRecording, stopRecording, leave
    };
    start().catch(e => {
        fail('start', e);
        setPhase('failed');
    });
}());
