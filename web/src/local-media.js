// The local camera, microphone and screen: capture, device choice, mute. Whoever sends
// these tracks listens to `onchange(kind, track, stream)` to swap them in (replaceTrack).
export class LocalMedia {
    constructor({ videoHeight = 360 } = {}) {
        this.videoHeight = videoHeight;
        this.stream = new MediaStream();      // camera + microphone (one msid stream)
        this.screenStream = null;
        this.audioTrack = null;
        this.videoTrack = null;
        this.screenTrack = null;
        this.audioMuted = false;
        this.videoMuted = false;
        this.onchange = () => {};             // (kind: 'audio'|'video'|'screen', track|null)
    }

    videoConstraints(deviceId) {
        return {
            ...(deviceId ? { deviceId: { exact: deviceId } } : {}),
            height: { ideal: this.videoHeight }, width: { ideal: Math.round(this.videoHeight * 16 / 9) },
            frameRate: { ideal: 15, max: 30 },
        };
    }

    audioConstraints(deviceId) {
        return { ...(deviceId ? { deviceId: { exact: deviceId } } : {}), echoCancellation: true,
            noiseSuppression: true, autoGainControl: true };
    }

    /** Camera and microphone; whichever is missing or refused is left out. */
    async start() {
        const tryGet = async (c) => {
            try { return await navigator.mediaDevices.getUserMedia(c); } catch { return null; }
        };
        let s = await tryGet({ audio: this.audioConstraints(), video: this.videoConstraints() });
        if (!s) {
            const a = await tryGet({ audio: this.audioConstraints() });
            const v = await tryGet({ video: this.videoConstraints() });
            s = new MediaStream([...(a ? a.getTracks() : []), ...(v ? v.getTracks() : [])]);
        }
        for (const t of s.getTracks()) this.setTrack(t.kind, t);
        return this;
    }

    setTrack(kind, track) {
        const old = kind === 'audio' ? this.audioTrack : this.videoTrack;
        if (old) { this.stream.removeTrack(old); old.stop(); }
        if (track) {
            this.stream.addTrack(track);
            track.enabled = !(kind === 'audio' ? this.audioMuted : this.videoMuted);
        }
        if (kind === 'audio') this.audioTrack = track; else this.videoTrack = track;
        this.onchange(kind, track);
    }

    static async devices() {
        const all = await navigator.mediaDevices.enumerateDevices();
        return {
            cameras: all.filter((d) => d.kind === 'videoinput'),
            microphones: all.filter((d) => d.kind === 'audioinput'),
        };
    }

    async useCamera(deviceId) {
        const s = await navigator.mediaDevices.getUserMedia({ video: this.videoConstraints(deviceId) });
        this.setTrack('video', s.getVideoTracks()[0]);
    }

    async useMicrophone(deviceId) {
        const s = await navigator.mediaDevices.getUserMedia({ audio: this.audioConstraints(deviceId) });
        this.setTrack('audio', s.getAudioTracks()[0]);
    }

    setAudioMuted(muted) {
        this.audioMuted = muted;
        if (this.audioTrack) this.audioTrack.enabled = !muted;
    }

    setVideoMuted(muted) {
        this.videoMuted = muted;
        if (this.videoTrack) this.videoTrack.enabled = !muted;
    }

    async startScreen() {
        const s = await navigator.mediaDevices.getDisplayMedia({
            video: { frameRate: { ideal: 5, max: 15 } }, audio: false,
        });
        this.screenStream = s;
        this.screenTrack = s.getVideoTracks()[0];
        this.screenTrack.addEventListener('ended', () => this.stopScreen());
        this.onchange('screen', this.screenTrack);
        return this.screenTrack;
    }

    stopScreen() {
        if (!this.screenTrack) return;
        const t = this.screenTrack;
        this.screenTrack = null;
        this.screenStream = null;
        t.stop();
        this.onchange('screen', null);
    }

    stop() {
        for (const t of this.stream.getTracks()) t.stop();
        if (this.screenTrack) this.screenTrack.stop();
    }
}
