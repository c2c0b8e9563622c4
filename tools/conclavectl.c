/* conclavectl: the operator's command-line tool. Each subcommand is a function below or in
 * its own file; today: keygen (a new 32-byte key file, mode 0600) and recording (keygen,
 * verify and decrypt of encrypted recordings, in recording-cmd.c). */
#include "crypto.h"
#include "recording-cmd.h"

#include <conclave-version.h>
#include <stdio.h>

static const char usage_head[] = "Usage: conclavectl COMMAND [ARGS]\n"
                                 "\n"
                                 "The Conclave operator's tool.\n"
                                 "\n"
                                 "Commands:\n"
                                 "  keygen FILE   Write a new random %d-byte key to FILE (mode "
                                 "0600).\n"
                                 "                Refuses to overwrite an existing file.\n";

static const char usage_tail[] = "  help          Show this help.\n"
                                 "  version       Show the version.\n"
                                 "\n"
                                 "Options:\n"
                                 "  -h, --help    Show this help.\n"
                                 "  -V, --version Show the version.\n";

static void
print_usage(FILE *out)
{
    fprintf(out, usage_head, CC_KEY_LEN);
    fputs(ctl_recording_usage, out);
    fputs(usage_tail, out);
}

static int
cmd_keygen(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "conclavectl keygen: expected one FILE argument\n");
        return 2;
    }
    g_autoptr(GError) error = NULL;
    if (!cc_key_file_write(argv[1], &error)) {
        fprintf(stderr, "conclavectl keygen: %s\n", error->message);
        return 1;
    }
    printf("wrote a %d-byte key to %s\n", CC_KEY_LEN, argv[1]);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (g_str_equal(cmd, "-h") || g_str_equal(cmd, "--help") || g_str_equal(cmd, "help")) {
        print_usage(stdout);
        return 0;
    }
    if (g_str_equal(cmd, "-V") || g_str_equal(cmd, "--version") || g_str_equal(cmd, "version")) {
        printf("conclavectl %s\n", CONCLAVE_VERSION);
        return 0;
    }
    if (g_str_equal(cmd, "keygen"))
        return cmd_keygen(argc - 1, argv + 1);
    if (g_str_equal(cmd, "recording"))
        return ctl_recording(argc - 1, argv + 1);
    fprintf(stderr, "conclavectl: unknown command '%s' (try --help)\n", cmd);
    return 2;
}
