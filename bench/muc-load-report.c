/* muc-load's result: percentiles, rates and counts of a run, as one JSON object on
 * stdout. */
#include "muc-load.h"

#include <stdio.h>

static int
compare_gint64(gconstpointer a, gconstpointer b)
{
    gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile in milliseconds of a non-empty sorted array. */
static double
percentile_ms(GArray *sorted, double p)
{
    guint rank = (guint)((p / 100.0) * sorted->len + 0.999999);
    rank = CLAMP(rank, 1, sorted->len);
    return (double)g_array_index(sorted, gint64, rank - 1) / 1000.0;
}

static double
rate(double count, gint64 from, gint64 to)
{
    return to > from ? count / seconds(to - from) : 0;
}

static void
print_latencies(const char *prefix, GArray *samples)
{
    static const struct {
        const char *name;
        double p;
    } points[] = {{"p50", 50}, {"p99", 99}, {"max", 100}};
    g_array_sort(samples, compare_gint64);
    for (gsize i = 0; i < G_N_ELEMENTS(points); i++) {
        if (samples->len == 0)
            printf("  \"%s_%s_ms\": null,\n", prefix, points[i].name);
        else
            printf("  \"%s_%s_ms\": %.3f,\n", prefix, points[i].name,
                   percentile_ms(samples, points[i].p));
    }
}

static void
print_counts(const char *key, GHashTable *table)
{
    printf("  \"%s\": {", key);
    GHashTableIter iter;
    gpointer name, count;
    gboolean first = TRUE;
    g_hash_table_iter_init(&iter, table);
    while (g_hash_table_iter_next(&iter, &name, &count)) {
        /* Conditions are XML element names: nothing in them needs escaping in JSON. */
        printf("%s\"%s\": %u", first ? "" : ", ", (const char *)name, GPOINTER_TO_UINT(count));
        first = FALSE;
    }
    printf("},\n");
}

void
report(Bench *b, gint64 end)
{
    const Options *o = &b->opt;
    printf("{\n");
    printf("  \"clients\": %d,\n  \"rooms\": %d,\n  \"messages_per_client\": %d,\n", o->clients,
           o->rooms, o->messages);
    printf("  \"concurrency\": %d,\n  \"join_window\": %d,\n  \"tcp_nodelay\": %s,\n",
           o->concurrency, o->join_window, o->nodelay ? "true" : "false");
    printf("  \"logged_in\": %u,\n  \"login_failed\": %u,\n", b->online, b->login_failed);
    printf("  \"login_phase_s\": %.3f,\n  \"logins_per_s\": %.1f,\n",
           seconds(b->login_phase_end - b->login_phase_start),
           rate(b->online, b->login_phase_start, b->login_phase_end));
    print_latencies("login", b->login_us);
    printf("  \"joins_sent\": %u,\n", b->joins_sent);
    printf("  \"joined\": %u,\n  \"join_failed\": %u,\n  \"join_unanswered\": %u,\n", b->joined,
           b->join_failed, b->join_unanswered);
    print_counts("join_errors", b->join_errors);
    printf("  \"join_phase_s\": %.3f,\n  \"joins_per_s\": %.1f,\n",
           seconds(b->join_last_done - b->join_first_sent),
           rate(b->joined, b->join_first_sent, b->join_last_done));
    print_latencies("join", b->join_us);
    printf("  \"presences_expected\": %" G_GUINT64_FORMAT ",\n", b->presences_expected);
    printf("  \"presences_received\": %" G_GUINT64_FORMAT ",\n", b->presences_received);
    printf("  \"settle_s\": %.3f,\n", seconds(b->settle_end - b->settle_start));
    printf("  \"messages_sent\": %" G_GUINT64_FORMAT ",\n", b->messages_sent);
    printf("  \"deliveries_expected\": %" G_GUINT64_FORMAT ",\n", b->deliveries_expected);
    printf("  \"deliveries_received\": %" G_GUINT64_FORMAT ",\n", b->deliveries_received);
    printf("  \"clients_short\": %u,\n  \"clients_over\": %u,\n", b->clients_short,
           b->clients_over);
    printf("  \"foreign_messages\": %" G_GUINT64_FORMAT ",\n", b->foreign_messages);
    printf("  \"message_errors\": %" G_GUINT64_FORMAT ",\n", b->message_errors);
    print_counts("message_error_conditions", b->message_errors_by_condition);
    printf("  \"message_phase_s\": %.3f,\n  \"deliveries_per_s\": %.1f,\n",
           seconds(b->messages_end - b->messages_start),
           rate((double)b->deliveries_received, b->messages_start, b->messages_end));
    print_latencies("delivery", b->delivery_us);
    printf("  \"disconnects_after_login\": %u,\n", b->disconnects_after_login);
    printf("  \"deadline_hit\": %s,\n", b->deadline_hit ? "true" : "false");
    printf("  \"wall_s\": %.3f\n}\n", seconds(end - b->start));
    fflush(stdout);
}
