/* conclavectl room-name: a random room name an attacker cannot guess, that a person can read
 * aloud. The scheme (also implemented by the web client, see docs/policy-store.md): the
 * syllables of schemas/room-name-syllables.txt (built in), each drawn uniformly from the
 * kernel's CSPRNG by rejection sampling (one random byte per draw; bytes at or above the
 * largest multiple of the list's length are thrown away, so there is no modulo bias),
 * SYLLABLES_PER_WORD syllables to a word, as many words as make at least MIN_BITS of
 * entropy, words joined by '-'. */
#include "room-name.h"

#include "crypto.h"
#include "ctl-data.h"

#include <math.h>
#include <stdio.h>

const char ctl_room_name_usage[] =
    "  room-name [--count N] [--verbose]\n"
    "                Print N (default 1) random readable room names, each with at least\n"
    "                80 bits of entropy; --verbose also prints the entropy.\n";

#define MIN_BITS           80.0
#define SYLLABLES_PER_WORD 3

/* A uniform index into the syllable list. */
static gboolean
draw(gsize *index, GError **error)
{
    const unsigned n = (unsigned)ctl_n_room_syllables;
    const unsigned limit = 256 - 256 % n; /* the largest multiple of n that fits a byte */
    guint8 buf[32];
    for (;;) {
        if (!cc_random_bytes(buf, sizeof buf, error))
            return FALSE;
        for (gsize i = 0; i < sizeof buf; i++) {
            if (buf[i] < limit) {
                *index = buf[i] % n;
                return TRUE;
            }
        }
    }
}

char *
ctl_room_name_new(double *bits, GError **error)
{
    const double word_bits = SYLLABLES_PER_WORD * log2((double)ctl_n_room_syllables);
    const int words = (int)ceil(MIN_BITS / word_bits);
    g_autoptr(GString) name = g_string_new(NULL);
    for (int w = 0; w < words; w++) {
        if (w > 0)
            g_string_append_c(name, '-');
        for (int s = 0; s < SYLLABLES_PER_WORD; s++) {
            gsize index;
            if (!draw(&index, error))
                return NULL;
            g_string_append(name, ctl_room_syllables[index]);
        }
    }
    if (bits != NULL)
        *bits = words * word_bits;
    return g_string_free(g_steal_pointer(&name), FALSE);
}

int
ctl_room_name(int argc, char **argv)
{
    gboolean verbose = FALSE;
    int count = 1;
    GOptionEntry entries[] = {
        {"count", 'n', 0, G_OPTION_ARG_INT, &count, "How many names (default 1)", "N"},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Also print the entropy", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc != 1) {
        fprintf(stderr, "conclavectl room-name: %s\n",
                error ? error->message : "takes no arguments");
        return 2;
    }
    if (count < 1 || count > 100000) {
        fprintf(stderr, "conclavectl room-name: --count: expected 1..100000\n");
        return 2;
    }
    double bits = 0;
    g_autofree char *name = NULL;
    for (int i = 0; i < count; i++) {
        g_free(name);
        if (!(name = ctl_room_name_new(&bits, &error))) {
            fprintf(stderr, "conclavectl room-name: %s\n", error->message);
            return 1;
        }
        printf("%s\n", name);
    }
    if (verbose) {
        g_auto(GStrv) words = g_strsplit(name, "-", -1);
        printf("entropy: %.1f bits (%u words of %d syllables from a list of %zu)\n", bits,
               g_strv_length(words), SYLLABLES_PER_WORD, (size_t)ctl_n_room_syllables);
    }
    return 0;
}
