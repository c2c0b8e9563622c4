/* Replays a fuzz target's corpus without libFuzzer, so that every normal (and sanitizer)
 * build runs the seeds and the crashes found so far. Reports one TAP case per corpus. */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
main(int argc, char **argv)
{
    printf("1..%d\n", argc - 1);
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        GError *error = NULL;
        GDir *dir = g_dir_open(argv[i], 0, &error);
        if (dir == NULL) {
            printf("not ok %d - %s: %s\n", i, argv[i], error->message);
            g_error_free(error);
            failed++;
            continue;
        }
        int count = 0;
        const char *name;
        while ((name = g_dir_read_name(dir)) != NULL) {
            char *path = g_build_filename(argv[i], name, NULL);
            char *data = NULL;
            gsize len = 0;
            if (g_file_get_contents(path, &data, &len, NULL)) {
                LLVMFuzzerTestOneInput((const uint8_t *)data, len);
                count++;
            }
            g_free(data);
            g_free(path);
        }
        g_dir_close(dir);
        /* An empty corpus replays nothing: that is a failure, not a pass. */
        if (count == 0) {
            printf("not ok %d - %s: empty corpus\n", i, argv[i]);
            failed++;
        } else {
            printf("ok %d - %s: %d inputs replayed\n", i, argv[i], count);
        }
    }
    return failed ? 1 : 0;
}
