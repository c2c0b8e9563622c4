/* conclavectl: the operator's command-line tool. Each subcommand is a function below or in
 * its own file: keygen (a new 32-byte key file, mode 0600), recording (keygen, verify and
 * decrypt of encrypted recordings, recording-cmd.c), the policy store's db (db-cmd.c),
 * room (room-cmd.c), role (role-cmd.c) and audit (audit-cmd.c), and room-name
 * (room-name.c). Exit status: 0 done, 1 failed, 2 bad command line. */
#include "audit-cmd.h"
#include "crypto.h"
#include "db-cmd.h"
#include "recording-cmd.h"
#include "role-cmd.h"
#include "room-cmd.h"
#include "room-name.h"

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

static const char usage_policy[] =
    "\n"
    "Policy store (PostgreSQL; --config FILE is the focus's file, default\n"
    "/etc/conclave/focus.conf, read for [database] conninfo and [security] room_key_file):\n";

static const char usage_tail[] = "\n"
                                 "  help          Show this help.\n"
                                 "  version       Show the version.\n"
                                 "\n"
                                 "Options:\n"
                                 "  -h, --help    Show this help.\n"
                                 "  -V, --version Show the version.\n"
                                 "\n"
                                 "Exit status: 0 done, 1 failed (e.g. a database error), 2 bad "
                                 "command line.\n";

static void
print_usage(FILE *out)
{
    fprintf(out, usage_head, CC_KEY_LEN);
    fputs(ctl_recording_usage, out);
    fputs(ctl_room_name_usage, out);
    fputs(usage_policy, out);
    fputs(ctl_db_usage, out);
    fputs(ctl_room_usage, out);
    fputs(ctl_role_usage, out);
    fputs(ctl_audit_usage, out);
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

/* `conclavectl --config FILE COMMAND ...` is `conclavectl COMMAND ... --config FILE`: the
 * option moves behind the command (before a "--"), where the subcommand parses it. */
static char **
move_config_option(int *argc, char **argv)
{
    int take = 0;
    if (*argc >= 3 && (g_str_equal(argv[1], "--config") || g_str_equal(argv[1], "-c")))
        take = 2;
    else if (*argc >= 2 && g_str_has_prefix(argv[1], "--config="))
        take = 1;
    GPtrArray *out = g_ptr_array_new();
    g_ptr_array_add(out, argv[0]);
    int end = *argc;
    for (int i = 1 + take; i < *argc; i++)
        if (g_str_equal(argv[i], "--")) {
            end = i;
            break;
        }
    for (int i = 1 + take; i < end; i++)
        g_ptr_array_add(out, argv[i]);
    for (int i = 1; i < 1 + take; i++)
        g_ptr_array_add(out, argv[i]);
    for (int i = end; i < *argc; i++)
        g_ptr_array_add(out, argv[i]);
    *argc = (int)out->len;
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

static int
run(int argc, char **argv)
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
    if (g_str_equal(cmd, "room-name"))
        return ctl_room_name(argc - 1, argv + 1);
    if (g_str_equal(cmd, "db"))
        return ctl_db(argc - 1, argv + 1);
    if (g_str_equal(cmd, "room"))
        return ctl_room(argc - 1, argv + 1);
    if (g_str_equal(cmd, "role"))
        return ctl_role(argc - 1, argv + 1);
    if (g_str_equal(cmd, "audit"))
        return ctl_audit(argc - 1, argv + 1);
    fprintf(stderr, "conclavectl: unknown command '%s' (try --help)\n", cmd);
    return 2;
}

int
main(int argc, char **argv)
{
    /* Only the array is new; its strings stay argv's. */
    g_autofree char **args = move_config_option(&argc, argv);
    return run(argc, args);
}
