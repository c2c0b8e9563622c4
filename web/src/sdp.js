// SDP (as the browser speaks it) to and from the Jingle model of jingle.js, with
// sdp-transform. Everything is bundled on one transport with rtcp-mux.
import * as sdpTransform from 'sdp-transform';

export function candidateToSdp(c) {
    const out = {
        foundation: c.foundation, component: c.component, transport: c.protocol,
        priority: c.priority, ip: c.ip, port: c.port, type: c.type, generation: c.generation ?? 0,
    };
    if (c.relAddr) { out.raddr = c.relAddr; out.rport = c.relPort; }
    if (c.tcptype) out.tcptype = c.tcptype;
    return out;
}

export function candidateFromSdp(c) {
    return {
        foundation: String(c.foundation), component: c.component, protocol: c.transport.toLowerCase(),
        priority: c.priority, ip: c.ip, port: c.port, type: c.type, generation: c.generation ?? 0,
        relAddr: c.raddr, relPort: c.rport, tcptype: c.tcptype,
    };
}

/** An `a=candidate` line (what RTCIceCandidate.candidate holds) as a Jingle candidate. */
export function candidateFromLine(line) {
    const parsed = sdpTransform.parse(`m=audio 9 UDP 0\r\na=${line.replace(/^a=/, '')}\r\n`);
    const c = parsed.media[0]?.candidates?.[0];
    return c ? candidateFromSdp(c) : null;
}

export function candidateLine(c) {
    const m = sdpTransform.write({ media: [{ type: 'audio', port: 9, protocol: 'UDP', payloads: '0',
        candidates: [candidateToSdp(c)] }] });
    return m.split('\r\n').find((l) => l.startsWith('a=candidate:')).slice(2);
}

/** The codec part of a Jingle content as sdp-transform media fields. */
function codecFields(content) {
    const rtp = [], fmtp = [], rtcpFb = [];
    for (const p of content.payloads) {
        rtp.push({ payload: p.id, codec: p.name, rate: p.clockrate,
            ...(p.channels > 1 ? { encoding: p.channels } : {}) });
        if (p.params.length) {
            fmtp.push({ payload: p.id, config: p.params.map(([k, v]) => `${k}=${v}`).join(';') });
        }
        for (const f of p.feedback) rtcpFb.push({ payload: p.id, type: f.type, subtype: f.subtype });
    }
    return {
        rtp, fmtp, rtcpFb, payloads: content.payloads.map((p) => p.id).join(' '),
        ext: content.hdrexts.map((h) => ({ value: h.id, uri: h.uri })),
    };
}

/** The codec part of an SDP m-line as Jingle payloads and header extensions. */
export function codecsFromMedia(m) {
    const payloads = (m.rtp || []).map((r) => {
        const f = (m.fmtp || []).find((x) => x.payload === r.payload);
        return {
            id: r.payload, name: r.codec, clockrate: r.rate, channels: r.encoding ? Number(r.encoding) : 1,
            params: f ? f.config.split(';').filter(Boolean).map((kv) => {
                const i = kv.indexOf('=');
                return [kv.slice(0, i).trim(), kv.slice(i + 1).trim()];
            }) : [],
            feedback: (m.rtcpFb || []).filter((x) => x.payload === r.payload || x.payload === '*')
                .map((x) => ({ type: x.type, subtype: x.subtype })),
        };
    });
    return { payloads, hdrexts: (m.ext || []).map((e) => ({ id: e.value, uri: e.uri })) };
}

function transportFields(transport, withCandidates) {
    const fields = { iceUfrag: transport.ufrag, icePwd: transport.pwd, rtcpMux: 'rtcp-mux' };
    const fp = transport.fingerprints.find((f) => f.hash === 'sha-256') || transport.fingerprints[0];
    if (fp) {
        fields.fingerprint = { type: fp.hash, hash: fp.value };
        fields.setup = fp.setup || 'actpass';
    }
    if (withCandidates) {
        fields.candidates = transport.candidates.filter((c) => c.protocol === 'udp').map(candidateToSdp);
    }
    return fields;
}

function sourceFields(sources, groups) {
    const ssrcs = [];
    for (const s of sources) {
        const cname = s.params.cname || `cname-${s.ssrc}`;
        ssrcs.push({ id: s.ssrc, attribute: 'cname', value: cname });
        if (s.params.msid) ssrcs.push({ id: s.ssrc, attribute: 'msid', value: s.params.msid });
    }
    const out = { ssrcs };
    const inSet = new Set(sources.map((s) => s.ssrc));
    const kept = groups.filter((g) => g.ssrcs.every((x) => inSet.has(x)));
    if (kept.length) out.ssrcGroups = kept.map((g) => ({ semantics: g.semantics, ssrcs: g.ssrcs.join(' ') }));
    const msid = sources.find((s) => s.params.msid)?.params.msid;
    if (msid) {
        const [id, appdata] = msid.split(' ');
        out.msid = [{ id, appdata }];
    }
    return out;
}

/**
 * An offer built from what a remote Jingle peer said: one m-line per `layout` entry
 * ({ mid, media, direction, sources, groups }), each with the remote codecs of its kind
 * and the one shared transport.
 */
export function buildOffer({ sessionId, version, transport, codecs, layout }) {
    const media = layout.map((entry, i) => ({
        type: entry.media, port: 9, protocol: 'UDP/TLS/RTP/SAVPF',
        connection: { version: 4, ip: '0.0.0.0' },
        mid: entry.mid, direction: entry.direction,
        ...codecFields(codecs[entry.media]),
        ...transportFields(transport, i === 0),
        ...(entry.sources?.length ? sourceFields(entry.sources, entry.groups || []) : {}),
    }));
    return sdpTransform.write({
        version: 0,
        origin: { username: '-', sessionId, sessionVersion: version, netType: 'IN', ipVer: 4,
            address: '127.0.0.1' },
        name: '-', timing: { start: 0, stop: 0 },
        groups: [{ type: 'BUNDLE', mids: layout.map((e) => e.mid).join(' ') }],
        msidSemantic: { semantic: 'WMS', token: '*' },
        media,
    });
}

/** ICE and DTLS of a local description, with the candidates gathered so far. */
export function transportFromSdp(sdp) {
    const parsed = sdpTransform.parse(sdp);
    const m = parsed.media[0];
    const ufrag = m.iceUfrag || parsed.iceUfrag;
    const pwd = m.icePwd || parsed.icePwd;
    const fp = m.fingerprint || parsed.fingerprint;
    return {
        ufrag, pwd, rtcpMux: true,
        fingerprints: fp ? [{ hash: fp.type, value: fp.hash, setup: m.setup || parsed.setup }] : [],
        candidates: (m.candidates || []).map(candidateFromSdp),
    };
}

/** The SSRCs an m-line sends: [{ ssrc, params: { cname, msid } }] and its groups. */
export function sourcesOfMedia(m) {
    const byId = new Map();
    for (const line of m.ssrcs || []) {
        if (!byId.has(line.id)) byId.set(line.id, { ssrc: Number(line.id), params: {} });
        if (line.attribute === 'cname' || line.attribute === 'msid') {
            byId.get(line.id).params[line.attribute] = line.value;
        }
    }
    // Browsers now write the msid only at media level.
    const msid = Array.isArray(m.msid) && m.msid[0]
        ? [m.msid[0].id, m.msid[0].appdata].filter(Boolean).join(' ') : null;
    for (const s of byId.values()) if (!s.params.msid && msid) s.params.msid = msid;
    const groups = (m.ssrcGroups || []).map((g) => ({
        semantics: g.semantics, ssrcs: g.ssrcs.split(' ').map(Number),
    }));
    return { sources: [...byId.values()], groups };
}

export function parseSdp(sdp) {
    return sdpTransform.parse(sdp);
}

/** Every m-line of an SDP as a Jingle content named by its mid (peer-to-peer sessions). */
export function contentsFromSdp(sdp, { withSources = true } = {}) {
    const parsed = sdpTransform.parse(sdp);
    const transport = transportFromSdp(sdp);
    return parsed.media.map((m) => {
        const { sources, groups } = withSources ? sourcesOfMedia(m) : { sources: [], groups: [] };
        return {
            name: String(m.mid), creator: 'initiator', senders: 'both', media: m.type,
            ...codecsFromMedia(m), rtcpMux: true, sources, groups,
            transport: { ...transport, candidates: [] },
        };
    });
}

/** One m-line per Jingle content, mid = content name (peer-to-peer sessions). */
export function sdpFromContents({ sessionId, version, contents, transport }) {
    const codecs = {};
    const layout = contents.map((c) => {
        codecs[c.name] = c;
        return { mid: c.name, media: c.name, direction: 'sendrecv', sources: c.sources, groups: c.groups };
    });
    const sdp = buildOffer({ sessionId, version, transport, codecs, layout });
    // buildOffer keys codecs by the entry's media; restore the real media types.
    const parsed = sdpTransform.parse(sdp);
    parsed.media.forEach((m, i) => { m.type = contents[i].media; });
    return sdpTransform.write(parsed);
}
