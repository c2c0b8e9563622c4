/* Unit tests of common/http.c over real HTTP on loopback: /health follows the daemon's
 * readiness, /metrics serves the registry, anything else is 404 or 405. */
#include "../check-main.h"
#include "http.h"

#include <libsoup/soup.h>

typedef struct {
    GMainLoop *loop;
    guint status;
    char *body;
    char *content_type;
} Fetch;

static void
on_fetched(GObject *source, GAsyncResult *result, gpointer data)
{
    Fetch *f = data;
    SoupMessage *msg = soup_session_get_async_result_message(SOUP_SESSION(source), result);
    g_autoptr(GBytes) body = soup_session_send_and_read_finish(SOUP_SESSION(source), result, NULL);
    f->status = soup_message_get_status(msg);
    const char *ct =
        soup_message_headers_get_content_type(soup_message_get_response_headers(msg), NULL);
    f->content_type = g_strdup(ct);
    f->body = body ? g_strndup(g_bytes_get_data(body, NULL), g_bytes_get_size(body)) : NULL;
    g_main_loop_quit(f->loop);
}

static Fetch
fetch(guint16 port, const char *method, const char *path)
{
    Fetch f = {.loop = g_main_loop_new(NULL, FALSE)};
    g_autoptr(SoupSession) session = soup_session_new();
    g_autofree char *uri = g_strdup_printf("http://127.0.0.1:%u%s", port, path);
    g_autoptr(SoupMessage) msg = soup_message_new(method, uri);
    soup_session_send_and_read_async(session, msg, G_PRIORITY_DEFAULT, NULL, on_fetched, &f);
    g_main_loop_run(f.loop);
    g_main_loop_unref(f.loop);
    return f;
}

static void
fetch_clear(Fetch *f)
{
    g_free(f->body);
    g_free(f->content_type);
}

static gboolean ready_flag;

static gboolean
health(GString *reason, gpointer data)
{
    if (!ready_flag)
        g_string_append(reason, "not connected to the XMPP server");
    return ready_flag;
}

START_TEST(test_health_and_metrics)
{
    g_autoptr(CcMetrics) metrics = cc_metrics_new();
    cc_metric_add(cc_metrics_counter(metrics, "conclave_test_total", "A test", NULL), 5);
    g_autoptr(GError) error = NULL;
    g_autoptr(CcHttpServer) server =
        cc_http_server_new("127.0.0.1:0", metrics, health, NULL, &error);
    ck_assert_ptr_nonnull(server);
    guint16 port = cc_http_server_port(server);
    ck_assert_uint_gt(port, 0);

    ready_flag = FALSE;
    Fetch f = fetch(port, "GET", "/health");
    ck_assert_uint_eq(f.status, 503);
    ck_assert_str_eq(f.body, "not connected to the XMPP server\n");
    fetch_clear(&f);

    ready_flag = TRUE;
    f = fetch(port, "GET", "/health");
    ck_assert_uint_eq(f.status, 200);
    ck_assert_str_eq(f.body, "ready\n");
    fetch_clear(&f);

    f = fetch(port, "GET", "/metrics");
    ck_assert_uint_eq(f.status, 200);
    ck_assert_str_eq(f.content_type, "text/plain");
    ck_assert_ptr_nonnull(strstr(f.body, "conclave_test_total 5\n"));
    fetch_clear(&f);

    f = fetch(port, "GET", "/nothing");
    ck_assert_uint_eq(f.status, 404);
    fetch_clear(&f);

    f = fetch(port, "POST", "/metrics");
    ck_assert_uint_eq(f.status, 405);
    fetch_clear(&f);
}
END_TEST

START_TEST(test_bad_listen)
{
    g_autoptr(CcMetrics) metrics = cc_metrics_new();
    g_autoptr(GError) error = NULL;
    ck_assert_ptr_null(cc_http_server_new("localhost:80", metrics, health, NULL, &error));
    g_clear_error(&error);
    /* A port already in use is an error, not a silent failure. */
    g_autoptr(CcHttpServer) first = cc_http_server_new("127.0.0.1:0", metrics, health, NULL, NULL);
    g_autofree char *taken = g_strdup_printf("127.0.0.1:%u", cc_http_server_port(first));
    ck_assert_ptr_null(cc_http_server_new(taken, metrics, health, NULL, &error));
    ck_assert_ptr_nonnull(error);
}
END_TEST

static Suite *
http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("http");
    tcase_add_test(tc, test_health_and_metrics);
    tcase_add_test(tc, test_bad_listen);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(http_suite)
