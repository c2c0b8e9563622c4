// Stands in for the E2EE module (./e2ee/) in a build without it: end-to-end encryption
// is then reported unavailable and nothing is attached.
export class E2EE {
    static available = false;

    static peerConnectionConfig() { return {}; }

    constructor() { this.onchange = () => {}; }

    async setPassphrase() { throw new Error('End-to-end encryption is not part of this build.'); }

    enable(on) { if (on) throw new Error('End-to-end encryption is not part of this build.'); }

    attachSender() {}

    attachReceiver() {}

    async rotate() {}

    stats() {
        return { enabled: false, keyId: 0, framesEncrypted: 0, framesDecrypted: 0, decryptFailures: 0,
            failuresByNick: {} };
    }
}
