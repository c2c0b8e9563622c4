/* Unit tests of common/metrics.c: registration, values from several threads, and the
 * Prometheus text rendering. */
#include "../check-main.h"
#include "metrics.h"

START_TEST(test_render)
{
    g_autoptr(CcMetrics) m = cc_metrics_new();
    CcMetric *joins = cc_metrics_counter(m, "conclave_joins_total", "Joins", NULL);
    CcMetric *bad = cc_metrics_counter(m, "conclave_refusals_total", "Refusals", "reason",
                                       "bad\"one\\\n", NULL);
    CcMetric *full =
        cc_metrics_counter(m, "conclave_refusals_total", "Refusals", "reason", "full", NULL);
    CcMetric *rooms = cc_metrics_gauge(m, "conclave_rooms", "Rooms\nnow", NULL);
    cc_metric_inc(joins);
    cc_metric_add(joins, 41);
    cc_metric_inc(bad);
    cc_metric_set(rooms, -3);
    ck_assert_int_eq(cc_metric_get(joins), 42);
    ck_assert_int_eq(cc_metric_get(full), 0);
    /* The same name and labels give the same series. */
    ck_assert_ptr_eq(cc_metrics_counter(m, "conclave_joins_total", "Joins", NULL), joins);

    g_autofree char *text = cc_metrics_render(m);
    ck_assert_str_eq(text, "# HELP conclave_joins_total Joins\n"
                           "# TYPE conclave_joins_total counter\n"
                           "conclave_joins_total 42\n"
                           "# HELP conclave_refusals_total Refusals\n"
                           "# TYPE conclave_refusals_total counter\n"
                           "conclave_refusals_total{reason=\"bad\\\"one\\\\\\n\"} 1\n"
                           "conclave_refusals_total{reason=\"full\"} 0\n"
                           "# HELP conclave_rooms Rooms\\nnow\n"
                           "# TYPE conclave_rooms gauge\n"
                           "conclave_rooms -3\n");
}
END_TEST

static gint64
seven(gpointer data)
{
    return GPOINTER_TO_INT(data);
}

START_TEST(test_gauge_func)
{
    g_autoptr(CcMetrics) m = cc_metrics_new();
    cc_metrics_gauge_func(m, "conclave_up", "Up", seven, GINT_TO_POINTER(7));
    g_autofree char *text = cc_metrics_render(m);
    ck_assert_ptr_nonnull(strstr(text, "conclave_up 7\n"));
}
END_TEST

START_TEST(test_names)
{
    ck_assert(cc_metrics_name_valid("conclave_a:b", FALSE));
    ck_assert(!cc_metrics_name_valid("conclave_a:b", TRUE));
    ck_assert(!cc_metrics_name_valid("9lives", FALSE));
    ck_assert(!cc_metrics_name_valid("a-b", FALSE));
    ck_assert(!cc_metrics_name_valid("", FALSE));
}
END_TEST

#define THREADS    4
#define INCREMENTS 100000

static gpointer
hammer(gpointer data)
{
    for (int i = 0; i < INCREMENTS; i++)
        cc_metric_inc(data);
    return NULL;
}

START_TEST(test_threads)
{
    g_autoptr(CcMetrics) m = cc_metrics_new();
    CcMetric *c = cc_metrics_counter(m, "conclave_packets_total", "Packets", NULL);
    GThread *threads[THREADS];
    for (int i = 0; i < THREADS; i++)
        threads[i] = g_thread_new("hammer", hammer, c);
    for (int i = 0; i < THREADS; i++)
        g_thread_join(threads[i]);
    ck_assert_int_eq(cc_metric_get(c), THREADS * INCREMENTS);
}
END_TEST

static Suite *
metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, test_render);
    tcase_add_test(tc, test_gauge_func);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_threads);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(metrics_suite)
