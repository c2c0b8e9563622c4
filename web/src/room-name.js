// Random meeting names, the scheme of `conclavectl room-name` (tools/room-name.c): syllables
// from room-words.txt (a copy of schemas/room-name-syllables.txt), each drawn uniformly by
// rejection sampling on random bytes, three syllables to a word, as many words as make at
// least 80 bits, joined by '-'.
const MIN_BITS = 80;
const SYLLABLES_PER_WORD = 3;

export function parseSyllables(text) {
    return text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

/** One uniform index below n (n <= 256), from the browser's CSPRNG. */
function draw(n) {
    const limit = 256 - (256 % n); // the largest multiple of n that fits a byte
    for (;;) {
        for (const b of crypto.getRandomValues(new Uint8Array(32))) {
            if (b < limit) return b % n;
        }
    }
}

export function randomRoomName(syllables) {
    if (syllables.length < 2 || syllables.length > 256) throw new Error('bad syllable list');
    const wordBits = SYLLABLES_PER_WORD * Math.log2(syllables.length);
    const words = Math.ceil(MIN_BITS / wordBits);
    const out = [];
    for (let w = 0; w < words; w++) {
        let word = '';
        for (let s = 0; s < SYLLABLES_PER_WORD; s++) word += syllables[draw(syllables.length)];
        out.push(word);
    }
    return out.join('-');
}
