// The refusals the focus gives (docs/muc.md: the join refusal table, kicks and bans) as
// human messages. Each maps to one of the reasons the page shows in #message[data-reason].
// No raw XMPP condition ever reaches the page.

// The focus locks a user out after this many wrong passwords ([security]
// password_failures_per_jid, default 5), and then answers exactly as for a wrong password;
// a client can only count.
export const LOCKOUT_AFTER = 5;

const TEXT = {
    'wrong-password': 'That password is not right. Check it with whoever invited you.',
    'password-required': 'This meeting needs a password, or it has not started yet.',
    'locked-out': 'Too many wrong passwords: joining is blocked for a while. Wait a few minutes, then try again.',
    'host-absent': 'The meeting has not started yet: a host must start it first. Try again in a moment.',
    'room-full': 'The meeting is full.',
    'kicked': 'A moderator removed you from the meeting.',
    'banned': 'You are not allowed in this meeting.',
    'not-allowed': 'This meeting is only open to its members.',
    'login-failed': 'Login failed: check the user name and password.',
    'connection-lost': 'The connection to the server was lost.',
    'error': 'Something went wrong.',
};

export function refusalText(reason) {
    return TEXT[reason] || TEXT.error;
}

/**
 * A join (or `conference` request) refusal as { reason, text }. `attempt` says what the
 * join carried: { withPassword, failures } (failures: wrong passwords in a row so far).
 */
export function joinRefusal(err, attempt = {}) {
    const { type, condition, text } = err || {};
    const r = (reason, extra) => ({ reason, text: extra || refusalText(reason) });
    switch (condition) {
    case 'not-authorized':
        if (text && /token/i.test(text)) return r('error', 'Your invitation link is not valid (or has expired).');
        if (attempt.withPassword) {
            return attempt.failures >= LOCKOUT_AFTER ? r('locked-out') : r('wrong-password');
        }
        return r('password-required');
    case 'not-allowed':
        return r('host-absent');
    case 'forbidden':
        return r('banned', 'You are not allowed in this meeting (you were banned, or your account may not join meetings here).');
    case 'registration-required':
        return r('not-allowed');
    case 'service-unavailable':
        if (type === 'wait' && text && /polic/i.test(text)) {
            return r('error', 'The server cannot check this meeting right now; try again shortly.');
        }
        return r('room-full');
    case 'conflict':
        return r('error', 'That name is already used in this meeting (or reserved): choose another name.');
    case 'not-acceptable':
        return r('error', 'That name (or the meeting name) is too long: choose a shorter one.');
    case 'jid-malformed':
        return r('error', 'Choose a name to show to the others.');
    case 'resource-constraint':
        return r('error', 'The server is busy (too many meetings or requests): try again in a moment.');
    case 'timeout':
    case 'remote-server-not-found':
    case 'remote-server-timeout':
        return r('error', 'The meeting service does not answer: try again in a moment.');
    default:
        return r('error');
    }
}

/** Why we were removed from the room, from the status codes of our unavailable presence. */
export function removalReason(codes, destroyed) {
    if (destroyed) return { reason: 'error', text: 'The meeting was ended by its owner.' };
    if (codes.includes('301')) return { reason: 'banned', text: 'A moderator banned you from the meeting.' };
    if (codes.includes('307')) return { reason: 'kicked', text: refusalText('kicked') };
    if (codes.includes('321') || codes.includes('322')) {
        return { reason: 'not-allowed', text: 'The meeting is now for members only, and you are not one.' };
    }
    if (codes.includes('333') || codes.includes('332')) return { reason: 'connection-lost', text: refusalText('connection-lost') };
    return { reason: 'error', text: 'You are no longer in the meeting.' };
}

/** A moderator action's refusal, in words. */
export function actionRefusal(err) {
    switch (err?.condition) {
    case 'forbidden': return 'You are not allowed to do that (moderators or owners only).';
    case 'not-allowed': return 'You cannot do that to an owner or admin of the meeting.';
    case 'conflict': return 'You cannot do that to yourself.';
    case 'item-not-found': return 'That participant is no longer in the meeting.';
    case 'not-acceptable': return 'The server did not accept that setting.';
    default: return 'The server refused that request.';
    }
}
