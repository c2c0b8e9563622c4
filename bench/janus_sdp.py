"""SDP offer/answer for the test peer (tests/peer), which knows nothing of SDP: it has one
ICE/DTLS transport (ufrag, pwd, sha-256 fingerprint, host candidates) and sends on
SSRCs given on its command line. These functions write the SDP a WebRTC client would send
for it, and read what a server (Janus) sends back into the transport dict its `connect`
command takes and the SSRCs to expect.

Everything is bundled on one transport with rtcp-mux (the peer has one ICE component);
the peer is always the DTLS client (a=setup:active, in offers too: Janus then takes the
server role) and offers only the codec its packets claim: VP8 on PT 96 for video, Opus on
PT 111 for audio (the peer's PEER_PT_VIDEO and PEER_PT_AUDIO)."""

CODECS = {'video': (96, 'VP8/90000'), 'audio': (111, 'opus/48000/2')}


class SdpError(ValueError):
    """An SDP the peer cannot use (no ICE credentials, no fingerprint, ...)."""


def _session_lines(transport, mids, setup):
    lines = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 't=0 0',
             'a=group:BUNDLE ' + ' '.join(mids), 'a=msid-semantic: WMS',
             f"a=ice-ufrag:{transport['ufrag']}", f"a=ice-pwd:{transport['pwd']}",
             'a=ice-options:ice2', f"a=fingerprint:sha-256 {transport['fingerprint']}",
             f'a=setup:{setup}']
    return lines


def _candidate_lines(transport):
    out = []
    for c in transport['candidates']:
        out.append(f"a=candidate:{c['foundation']} 1 udp {c['priority']} {c['ip']} "
                   f"{c['port']} typ host")
    out.append('a=end-of-candidates')
    return out


def _media_lines(kind, mid, direction, transport, ssrc=None, cname='peer', pt=None):
    pt, codec = (pt, CODECS[kind][1]) if pt is not None else CODECS[kind]
    first = transport['candidates'][0]
    lines = [f'm={kind} {first["port"]} UDP/TLS/RTP/SAVPF {pt}',
             f'c=IN IP4 {first["ip"]}', f'a=mid:{mid}', f'a={direction}', 'a=rtcp-mux',
             f'a=rtpmap:{pt} {codec}']
    if kind == 'video':
        lines += [f'a=rtcp-fb:{pt} nack', f'a=rtcp-fb:{pt} nack pli']
    else:
        lines.append(f'a=fmtp:{pt} minptime=10;useinbandfec=1')
    if ssrc:
        lines += [f'a=msid:{cname} {cname}-{kind}', f'a=ssrc:{ssrc} cname:{cname}',
                  f'a=ssrc:{ssrc} msid:{cname} {cname}-{kind}']
    return lines + _candidate_lines(transport)


def publisher_offer(transport, kind, ssrc, cname):
    """A send-only offer of one `kind` ('audio' or 'video') stream on `ssrc`."""
    if kind not in CODECS:
        raise SdpError(f'unknown media kind {kind!r}')
    lines = _session_lines(transport, ['0'], 'active')
    lines += _media_lines(kind, '0', 'sendonly', transport, ssrc, cname)
    return '\r\n'.join(lines) + '\r\n'


def parse(text):
    """The parts of an SDP the peer needs: {ufrag, pwd, fingerprint, setup, candidates,
    media: [{kind, mid, port, direction, pts: {pt: 'codec/rate[/ch]'}, ssrcs: [..],
    fid: [(media, rtx)]}]} with session-level attributes as defaults of media-level ones."""
    session = {'candidates': []}
    media = []
    cur = session
    for raw in text.replace('\r\n', '\n').split('\n'):
        line = raw.strip()
        if not line:
            continue
        if line.startswith('m='):
            parts = line[2:].split()
            if len(parts) < 4:
                raise SdpError(f'malformed m-line: {line!r}')
            cur = {'kind': parts[0], 'port': int(parts[1]), 'formats': parts[3:],
                   'pts': {}, 'ssrcs': [], 'fid': [], 'candidates': [], 'direction': 'sendrecv'}
            media.append(cur)
            continue
        if not line.startswith('a='):
            continue
        name, _, value = line[2:].partition(':')
        if name in ('ice-ufrag', 'ice-pwd', 'setup', 'mid'):
            cur[name.replace('ice-', '')] = value.strip()
        elif name == 'fingerprint':
            algo, _, fp = value.strip().partition(' ')
            if algo.lower() == 'sha-256':
                cur['fingerprint'] = fp.strip()
        elif name in ('sendonly', 'recvonly', 'sendrecv', 'inactive'):
            cur['direction'] = name
        elif name == 'rtpmap':
            pt, _, codec = value.partition(' ')
            cur['pts'][int(pt)] = codec.strip()
        elif name == 'ssrc':
            ssrc = int(value.split()[0])
            if ssrc not in cur['ssrcs']:
                cur['ssrcs'].append(ssrc)
        elif name == 'ssrc-group':
            parts = value.split()
            if parts and parts[0] == 'FID' and len(parts) >= 3:
                cur['fid'].append((int(parts[1]), int(parts[2])))
        elif name == 'candidate':
            p = value.split()
            # foundation component transport priority ip port typ type
            if len(p) >= 8 and p[1] == '1' and p[2].lower() == 'udp' and ':' not in p[4]:
                cur['candidates'].append({'foundation': p[0], 'priority': int(p[3]),
                                          'ip': p[4], 'port': int(p[5]), 'type': p[7]})
    out = {'media': media}
    for key in ('ufrag', 'pwd', 'fingerprint', 'setup'):
        value = session.get(key) or next((m[key] for m in media if m.get(key)), None)
        if value is None:
            raise SdpError(f'SDP has no {key}')
        out[key] = value
    # Bundled: the transport's candidates are those of the session and its first m-line.
    out['candidates'] = session['candidates'] + (media[0]['candidates'] if media else [])
    if not out['candidates']:
        raise SdpError('SDP has no UDP IPv4 candidate (trickle is not supported here)')
    return out


def peer_transport(parsed):
    """The test peer's 'connect' arguments for the remote side of `parsed`."""
    if parsed['setup'] not in ('actpass', 'passive'):
        raise SdpError(f"remote DTLS setup {parsed['setup']!r}: the peer can only be the "
                       "DTLS client")
    return {'ufrag': parsed['ufrag'], 'pwd': parsed['pwd'],
            'fingerprint': parsed['fingerprint'],
            'candidates': [{k: c[k] for k in ('foundation', 'ip', 'port', 'priority')}
                           for c in parsed['candidates']]}


def media_ssrc(m):
    """The SSRC media arrives on in an offered m-line: the first of a FID group (the other
    is RTX), else the first a=ssrc."""
    if m['fid']:
        return m['fid'][0][0]
    return m['ssrcs'][0] if m['ssrcs'] else None


def subscriber_answer(parsed_offer, transport):
    """A receive-only answer to a server's offer: every m-line accepted with the codec the
    peer knows (on the PT the offer gave it), bundled on the peer's transport. Returns
    (sdp, [media SSRCs the offer announced, one per accepted m-line])."""
    mids, body, ssrcs = [], [], []
    for m in parsed_offer['media']:
        mid = m.get('mid')
        if mid is None:
            raise SdpError('offered m-line without a=mid')
        wanted = CODECS.get(m['kind'], (None, None))[1]
        pt = next((p for p, c in m['pts'].items() if c.lower() == (wanted or '').lower()),
                  None)
        if m['port'] == 0 or pt is None or m['direction'] not in ('sendonly', 'sendrecv'):
            fmt = m['formats'][0]
            body += [f'm={m["kind"]} 0 UDP/TLS/RTP/SAVPF {fmt}', 'c=IN IP4 0.0.0.0',
                     f'a=mid:{mid}', 'a=inactive']
            continue
        mids.append(mid)
        body += _media_lines(m['kind'], mid, 'recvonly', transport, pt=pt)
        ssrcs.append(media_ssrc(m))
    if not mids:
        raise SdpError('nothing in the offer the peer can receive')
    lines = _session_lines(transport, mids, 'active') + body
    return '\r\n'.join(lines) + '\r\n', ssrcs
