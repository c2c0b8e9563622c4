"""GStreamer's webrtcbin as a participant of a bridge endpoint, for the tests that drive the
bridge over Colibri2 directly: the bridge's ICE-lite answer becomes an SDP offer, webrtcbin
answers, and its answer becomes the transport to give the bridge. ICE stays on 127.0.0.1
and UPnP is off. Needs Debian's python3-gi and python3-gst-1.0 (/usr/bin/python3)."""

import threading

import gi
gi.require_version('Gst', '1.0')
gi.require_version('GstWebRTC', '1.0')
gi.require_version('GstSdp', '1.0')
gi.require_version('Nice', '0.1')
from gi.repository import GLib, Gst, GstSdp, GstWebRTC, Nice  # noqa: E402

VIDEO_CAPS = 'video/x-raw,width=320,height=240,framerate=30/1'


def loopback_ice(webrtc):
    """Keeps `webrtc`'s ICE on 127.0.0.1 with UPnP off (it would multicast out of the
    machine); returns the ICE object, which the caller keeps a reference to."""
    ice = webrtc.get_property('ice-agent')
    agent = ice.get_property('agent')
    agent.set_property('upnp', False)
    addr = Nice.Address()
    addr.set_from_string('127.0.0.1')
    agent.add_local_address(addr)
    return ice


def offer_sdp(answer, pt, ssrc=None):
    """The bridge's side (its Colibri2 answer for the endpoint) as an SDP offer: one bundled
    sendrecv video m-line with VP8 in payload type `pt`, ICE lite, DTLS actpass; with `ssrc`,
    the SSRC the bridge will forward to webrtcbin."""
    lines = [
        'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0',
        'a=ice-lite', 'a=msid-semantic: WMS *',
        f'm=video 9 UDP/TLS/RTP/SAVPF {pt}', 'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0',
        f"a=ice-ufrag:{answer['ufrag']}", f"a=ice-pwd:{answer['pwd']}",
        f"a=fingerprint:sha-256 {answer['fingerprint']}", 'a=setup:actpass', 'a=mid:0',
        'a=sendrecv', 'a=rtcp-mux', f'a=rtpmap:{pt} VP8/90000', f'a=rtcp-fb:{pt} nack',
        f'a=rtcp-fb:{pt} nack pli', f'a=rtcp-fb:{pt} ccm fir',
    ]
    if ssrc is not None:
        lines += [f'a=ssrc:{ssrc} cname:peer', f'a=ssrc:{ssrc} msid:peer peer-v0']
    for c in answer['candidates']:
        lines.append(f"a=candidate:{c['foundation']} 1 udp {c['priority']} {c['ip']} "
                     f"{c['port']} typ {c['type']}")
    lines.append('a=end-of-candidates')
    return '\r\n'.join(lines) + '\r\n'


class WebrtcbinParticipant:
    """webrtcbin on its own GLib main loop thread, sending a live VP8 test pattern with
    SSRC `ssrc` in payload type `pt`; with `decode`, it decodes what it receives and counts
    the frames; with `nack`, it NACKs what it misses (and waits for it in its jitter
    buffer, of `latency_ms`)."""

    def __init__(self, ssrc, pt, pattern='ball', decode=False, nack=False, latency_ms=200):
        self.pipe = Gst.parse_launch(
            f'webrtcbin name=w bundle-policy=max-bundle latency={latency_ms} '
            f'videotestsrc is-live=true pattern={pattern} ! {VIDEO_CAPS} ! '
            f'vp8enc deadline=1 keyframe-max-dist=30 ! '
            f'rtpvp8pay pt={pt} ssrc={ssrc} mtu=1100 ! '
            f'application/x-rtp,media=video,encoding-name=VP8,payload={pt},clock-rate=90000 ! '
            f'queue ! w.')
        self.webrtc = self.pipe.get_by_name('w')
        self.nack = nack
        self.ice = loopback_ice(self.webrtc)
        self.candidates = []
        self.gathered = threading.Event()
        self.answered = threading.Event()
        self.answer = None
        self.decoded = 0
        self.lock = threading.Lock()
        self.webrtc.connect('on-ice-candidate', self._on_candidate)
        self.webrtc.connect('notify::ice-gathering-state', self._on_gathering)
        if decode:
            self.webrtc.connect('pad-added', self._on_pad)
        self.loop = GLib.MainLoop()
        self.thread = threading.Thread(target=self.loop.run, daemon=True)
        self.thread.start()
        self.pipe.set_state(Gst.State.PLAYING)

    def _on_candidate(self, _w, _mline, candidate):
        if candidate:
            self.candidates.append(candidate)

    def _on_gathering(self, w, _pspec):
        if w.get_property('ice-gathering-state') == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            self.gathered.set()

    def _on_pad(self, _w, pad):
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        branch = Gst.parse_bin_from_description(
            'queue ! rtpvp8depay ! vp8dec name=dec ! fakesink sync=false', True)
        self.pipe.add(branch)
        branch.sync_state_with_parent()
        pad.link(branch.get_static_pad('sink'))
        dec = branch.get_by_name('dec')
        dec.get_static_pad('src').add_probe(Gst.PadProbeType.BUFFER, self._on_frame)

    def _on_frame(self, _pad, _info):
        with self.lock:
            self.decoded += 1
        return Gst.PadProbeReturn.OK

    def frames(self):
        with self.lock:
            return self.decoded

    def negotiate(self, offer_text):
        """Answers the offer and waits for gathering; returns the transport to give the
        bridge (ufrag, pwd, fingerprint, setup, candidates on 127.0.0.1)."""
        _, msg = GstSdp.SDPMessage.new_from_text(offer_text)
        offer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, msg)

        def on_answer(promise, _data):
            reply = promise.get_reply()
            if not reply.has_field('answer'):
                self.answered.set()  # negotiate() sees no answer
                return
            answer = reply.get_value('answer')
            self.answer = answer.sdp.as_text()  # copy inside the callback
            self.webrtc.emit('set-local-description', answer, Gst.Promise.new())
            self.answered.set()

        def on_remote_set(_promise, _data):
            # Before the first packet: the jitter buffer is made per SSRC when media arrives
            # and takes do-retransmission from the transceiver then.
            i = 0
            while self.nack and (t := self.webrtc.emit('get-transceiver', i)) is not None:
                t.set_property('do-nack', True)
                i += 1
            self.webrtc.emit('create-answer', None,
                             Gst.Promise.new_with_change_func(on_answer, None))

        self.webrtc.emit('set-remote-description', offer,
                         Gst.Promise.new_with_change_func(on_remote_set, None))
        if not self.answered.wait(15) or self.answer is None:
            raise TimeoutError('webrtcbin produced no answer')
        if not self.gathered.wait(15):
            raise TimeoutError('webrtcbin did not finish gathering')
        return self.transport()

    def transport(self):
        attrs = {}
        for line in self.answer.splitlines():
            if line.startswith('a=') and ':' in line:
                k, v = line[2:].split(':', 1)
                attrs.setdefault(k, v)
        cands = []
        for c in self.candidates:
            parts = c.split()
            if len(parts) >= 8 and parts[2].lower() == 'udp' and parts[1] == '1' \
                    and parts[4] == '127.0.0.1':
                cands.append({'foundation': parts[0].split(':')[-1], 'priority': int(parts[3]),
                              'ip': parts[4], 'port': int(parts[5]), 'type': parts[7]})
        return {'ufrag': attrs['ice-ufrag'], 'pwd': attrs['ice-pwd'],
                'fingerprint': attrs['fingerprint'].split()[1], 'candidates': cands,
                'setup': attrs.get('setup', 'active')}

    def stop(self):
        self.pipe.set_state(Gst.State.NULL)
        self.loop.quit()
        self.thread.join(5)
