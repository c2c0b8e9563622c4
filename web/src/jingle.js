// Jingle (XEP-0166/0167/0176/0320, Jitsi's source extensions) to a plain model and back.
// The model: { action, sid, initiator, responder, contents: [Content], bundle: [names],
//              reason }
// Content: { name, creator, senders, media, payloads: [{ id, name, clockrate, channels,
//            params: [[k, v]], feedback: [{ type, subtype }] }], hdrexts: [{ id, uri }],
//            rtcpMux, sources: [{ ssrc, name, owner, params: {msid, cname...} }],
//            groups: [{ semantics, ssrcs: [int] }], transport: Transport | null }
// Transport: { ufrag, pwd, fingerprints: [{ hash, setup, value }], candidates: [Candidate],
//              rtcpMux, websocket }
import { $iq } from 'strophe.js';

export const NS = {
    jingle: 'urn:xmpp:jingle:1',
    rtp: 'urn:xmpp:jingle:apps:rtp:1',
    rtpInfo: 'urn:xmpp:jingle:apps:rtp:info:1',
    ssma: 'urn:xmpp:jingle:apps:rtp:ssma:0',
    rtcpFb: 'urn:xmpp:jingle:apps:rtp:rtcp-fb:0',
    hdrext: 'urn:xmpp:jingle:apps:rtp:rtp-hdrext:0',
    iceUdp: 'urn:xmpp:jingle:transports:ice-udp:1',
    dtls: 'urn:xmpp:jingle:apps:dtls:0',
    grouping: 'urn:xmpp:jingle:apps:grouping:0',
    jitmeet: 'http://jitsi.org/jitmeet',
    colibri: 'http://jitsi.org/protocol/colibri',
};

const kids = (el, name, ns) =>
    Array.from(el.children).filter((c) => (!name || c.localName === name) &&
        (!ns || c.namespaceURI === ns));
const kid = (el, name, ns) => kids(el, name, ns)[0] || null;
const int = (v) => (v == null || v === '' ? undefined : Number.parseInt(v, 10));

function parseCandidate(c) {
    return {
        foundation: c.getAttribute('foundation'), component: int(c.getAttribute('component')),
        protocol: (c.getAttribute('protocol') || 'udp').toLowerCase(),
        priority: int(c.getAttribute('priority')), ip: c.getAttribute('ip'),
        port: int(c.getAttribute('port')), type: c.getAttribute('type'),
        generation: int(c.getAttribute('generation')) ?? 0,
        relAddr: c.getAttribute('rel-addr'), relPort: int(c.getAttribute('rel-port')),
        tcptype: c.getAttribute('tcptype'), id: c.getAttribute('id'),
    };
}

function parseTransport(t) {
    const ws = kid(t, 'web-socket', NS.colibri);
    return {
        ufrag: t.getAttribute('ufrag'), pwd: t.getAttribute('pwd'),
        fingerprints: kids(t, 'fingerprint', NS.dtls).map((f) => ({
            hash: f.getAttribute('hash'), setup: f.getAttribute('setup') || 'actpass',
            value: f.textContent.trim(),
        })),
        candidates: kids(t, 'candidate', NS.iceUdp).map(parseCandidate),
        rtcpMux: !!kid(t, 'rtcp-mux'),
        websocket: ws ? ws.getAttribute('url') : null,
    };
}

function parseSource(s) {
    const params = {};
    for (const p of kids(s, 'parameter')) params[p.getAttribute('name')] = p.getAttribute('value') ?? '';
    const info = kid(s, 'ssrc-info', NS.jitmeet);
    return {
        ssrc: Number(s.getAttribute('ssrc')), name: s.getAttribute('name'),
        owner: info ? info.getAttribute('owner') : null, params,
        videoType: s.getAttribute('videoType'),
    };
}

function parseDescription(d) {
    return {
        media: d.getAttribute('media'),
        payloads: kids(d, 'payload-type').map((p) => ({
            id: int(p.getAttribute('id')), name: p.getAttribute('name'),
            clockrate: int(p.getAttribute('clockrate')), channels: int(p.getAttribute('channels')),
            params: kids(p, 'parameter').map((x) => [x.getAttribute('name'), x.getAttribute('value')]),
            feedback: kids(p, 'rtcp-fb', NS.rtcpFb).map((f) => ({
                type: f.getAttribute('type'), subtype: f.getAttribute('subtype') || undefined,
            })),
        })),
        hdrexts: kids(d, 'rtp-hdrext', NS.hdrext).map((h) => ({
            id: int(h.getAttribute('id')), uri: h.getAttribute('uri'),
        })),
        rtcpMux: !!kid(d, 'rtcp-mux'),
        sources: kids(d, 'source', NS.ssma).map(parseSource),
        groups: kids(d, 'ssrc-group', NS.ssma).map((g) => ({
            semantics: g.getAttribute('semantics'),
            ssrcs: kids(g, 'source').map((s) => Number(s.getAttribute('ssrc'))),
        })),
    };
}

/** The <jingle> child of an IQ as a model, or null when there is none. */
export function parseJingle(iq) {
    const j = kid(iq, 'jingle', NS.jingle);
    if (!j) return null;
    const contents = kids(j, 'content').map((c) => {
        const d = kid(c, 'description', NS.rtp);
        const t = kid(c, 'transport', NS.iceUdp);
        const desc = d ? parseDescription(d) : { media: null, payloads: [], hdrexts: [],
            rtcpMux: false, sources: [], groups: [] };
        return {
            name: c.getAttribute('name'), creator: c.getAttribute('creator') || 'initiator',
            senders: c.getAttribute('senders') || 'both', ...desc,
            media: desc.media || c.getAttribute('name'),
            transport: t ? parseTransport(t) : null,
        };
    });
    const group = kid(j, 'group', NS.grouping);
    const reason = kid(j, 'reason');
    return {
        action: j.getAttribute('action'), sid: j.getAttribute('sid'),
        initiator: j.getAttribute('initiator'), responder: j.getAttribute('responder'),
        contents,
        bundle: group && group.getAttribute('semantics') === 'BUNDLE'
            ? kids(group, 'content').map((c) => c.getAttribute('name')) : [],
        reason: reason && reason.firstElementChild ? reason.firstElementChild.localName : null,
    };
}

function buildTransport(b, t) {
    b.c('transport', { xmlns: NS.iceUdp, ufrag: t.ufrag, pwd: t.pwd });
    for (const f of t.fingerprints || []) {
        b.c('fingerprint', { xmlns: NS.dtls, hash: f.hash, setup: f.setup }).t(f.value).up();
    }
    for (const c of t.candidates || []) {
        const attrs = {
            component: c.component, foundation: c.foundation, generation: c.generation ?? 0,
            id: c.id || Math.random().toString(36).slice(2, 12), ip: c.ip, network: 0,
            port: c.port, priority: c.priority, protocol: c.protocol, type: c.type,
        };
        if (c.relAddr) attrs['rel-addr'] = c.relAddr;
        if (c.relPort != null) attrs['rel-port'] = c.relPort;
        if (c.tcptype) attrs.tcptype = c.tcptype;
        b.c('candidate', attrs).up();
    }
    if (t.rtcpMux) b.c('rtcp-mux').up();
    b.up();
}

function buildSources(b, content) {
    for (const s of content.sources || []) {
        const attrs = { xmlns: NS.ssma, ssrc: String(s.ssrc) };
        if (s.name) attrs.name = s.name;
        if (s.videoType) attrs.videoType = s.videoType;
        b.c('source', attrs);
        for (const [k, v] of Object.entries(s.params || {})) b.c('parameter', { name: k, value: v }).up();
        if (s.owner) b.c('ssrc-info', { xmlns: NS.jitmeet, owner: s.owner }).up();
        b.up();
    }
    for (const g of content.groups || []) {
        b.c('ssrc-group', { xmlns: NS.ssma, semantics: g.semantics });
        for (const ssrc of g.ssrcs) b.c('source', { ssrc: String(ssrc) }).up();
        b.up();
    }
}

function buildDescription(b, c, { sourcesOnly = false } = {}) {
    b.c('description', { xmlns: NS.rtp, media: c.media });
    if (!sourcesOnly) {
        for (const p of c.payloads || []) {
            const attrs = { id: p.id, name: p.name };
            if (p.clockrate) attrs.clockrate = p.clockrate;
            if (p.channels && p.channels > 1) attrs.channels = p.channels;
            b.c('payload-type', attrs);
            for (const [k, v] of p.params || []) b.c('parameter', { name: k, value: v }).up();
            for (const f of p.feedback || []) {
                const fa = { xmlns: NS.rtcpFb, type: f.type };
                if (f.subtype) fa.subtype = f.subtype;
                b.c('rtcp-fb', fa).up();
            }
            b.up();
        }
        for (const h of c.hdrexts || []) b.c('rtp-hdrext', { xmlns: NS.hdrext, id: h.id, uri: h.uri }).up();
        if (c.rtcpMux) b.c('rtcp-mux').up();
    }
    buildSources(b, c);
    b.up();
}

/**
 * An IQ set carrying `model` as Jingle. `opts.sourcesOnly` writes descriptions with only
 * sources (source-add, source-remove); `opts.transportOnly` only transports
 * (transport-info).
 */
export function buildJingleIq(to, model, opts = {}) {
    const attrs = { xmlns: NS.jingle, action: model.action, sid: model.sid };
    if (model.initiator) attrs.initiator = model.initiator;
    if (model.responder) attrs.responder = model.responder;
    const b = $iq({ type: 'set', to }).c('jingle', attrs);
    for (const c of model.contents || []) {
        b.c('content', { name: c.name, creator: c.creator || 'initiator',
            ...(opts.transportOnly || opts.sourcesOnly ? {} : { senders: c.senders || 'both' }) });
        if (!opts.transportOnly && c.media) buildDescription(b, c, opts);
        if (!opts.sourcesOnly && c.transport) buildTransport(b, c.transport);
        b.up();
    }
    if (model.bundle && model.bundle.length) {
        b.c('group', { xmlns: NS.grouping, semantics: 'BUNDLE' });
        for (const n of model.bundle) b.c('content', { name: n }).up();
        b.up();
    }
    if (model.reason) b.c('reason').c(model.reason).up().up();
    return b;
}
