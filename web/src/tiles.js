// The participants' tiles in #tiles: one per participant (ours included) and one per
// screen share, each with its name, a speaking indicator, its video, its audio, and the
// moderator's buttons.
export class Tiles {
    constructor(container, actions) {
        this.container = container;
        this.actions = actions; // { kick(nick), grant(nick), mute(nick) }
        this.moderator = false;
    }

    key(nick, screen) { return `${screen ? 'screen' : 'cam'}:${nick}`; }

    find(nick, screen = false) {
        return Array.from(this.container.children).find((t) => t.dataset.nick === nick &&
            (t.dataset.screen === 'true') === screen) || null;
    }

    /** The tile of `nick` (created when missing). */
    ensure(nick, { local = false, screen = false, display = nick, occupantId = null } = {}) {
        let tile = this.find(nick, screen);
        if (!tile) {
            tile = document.createElement('figure');
            tile.className = 'tile';
            tile.dataset.nick = nick;
            tile.dataset.local = String(local);
            tile.dataset.screen = String(screen);
            tile.dataset.speaking = 'false';
            tile.tabIndex = 0;
            const video = document.createElement('video');
            video.autoplay = true;
            video.playsInline = true;
            video.muted = true; // sound comes from the audio element
            tile.append(video);
            const caption = document.createElement('figcaption');
            const name = document.createElement('span');
            name.className = 'tile-name';
            caption.append(name);
            tile.append(caption);
            if (!local && !screen) {
                const audio = document.createElement('audio');
                audio.autoplay = true;
                tile.append(audio);
                const buttons = document.createElement('div');
                buttons.className = 'tile-actions';
                buttons.hidden = !this.moderator;
                for (const [cls, label, fn] of [['mute-remote', 'Ask to mute', 'mute'],
                    ['grant-moderator', 'Make moderator', 'grant'], ['kick', 'Remove', 'kick']]) {
                    const b = document.createElement('button');
                    b.type = 'button';
                    b.className = cls;
                    b.textContent = label;
                    b.addEventListener('click', () => this.actions[fn](nick));
                    buttons.append(b);
                }
                caption.append(buttons);
            }
            // Our own tile first, screens after their owner's tile.
            const owner = screen ? this.find(nick, false) : null;
            if (local && !screen) this.container.prepend(tile);
            else if (owner) owner.after(tile);
            else this.container.append(tile);
        }
        this.update(nick, { display, occupantId, screen });
        return tile;
    }

    update(nick, { display, occupantId, screen = false, audioMuted, videoMuted }) {
        const tile = this.find(nick, screen);
        if (!tile) return;
        if (display !== undefined) {
            const label = screen ? `${display} (screen)` : display;
            tile.querySelector('.tile-name').textContent = label;
            tile.setAttribute('aria-label', label);
            for (const b of tile.querySelectorAll('.tile-actions button')) {
                b.setAttribute('aria-label', `${b.textContent}: ${display}`);
            }
        }
        if (occupantId) tile.dataset.occupantId = occupantId;
        if (audioMuted !== undefined) tile.dataset.audioMuted = String(audioMuted);
        if (videoMuted !== undefined) tile.dataset.videoMuted = String(videoMuted);
    }

    setVideo(nick, track, screen = false) {
        const tile = this.find(nick, screen);
        if (!tile) return;
        const video = tile.querySelector('video');
        const current = video.srcObject?.getVideoTracks()[0] || null;
        if (current === track) return;
        video.srcObject = track ? new MediaStream([track]) : null;
    }

    setAudio(nick, track) {
        const tile = this.find(nick, false);
        const audio = tile?.querySelector('audio');
        if (!audio) return;
        const current = audio.srcObject?.getAudioTracks()[0] || null;
        if (current === track) return;
        audio.srcObject = track ? new MediaStream([track]) : null;
        if (track) audio.play().catch(() => {});
    }

    setSpeaking(nick, speaking) {
        const tile = this.find(nick, false);
        if (tile && tile.dataset.speaking !== String(speaking)) tile.dataset.speaking = String(speaking);
    }

    remove(nick, screen = false) {
        const tile = this.find(nick, screen);
        if (tile) {
            for (const m of tile.querySelectorAll('video, audio')) m.srcObject = null;
            tile.remove();
        }
    }

    clear() {
        for (const t of Array.from(this.container.children)) this.remove(t.dataset.nick, t.dataset.screen === 'true');
    }

    setModerator(on) {
        this.moderator = on;
        for (const b of this.container.querySelectorAll('.tile-actions')) b.hidden = !on;
    }

    nicks() {
        return Array.from(this.container.children).map((t) => t.dataset.nick);
    }
}
