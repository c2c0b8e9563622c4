/* Unit tests of common/sd-notify.c: datagrams reach a socket named by a path or an abstract
 * name, nothing is sent outside a service manager, bad socket names and watchdog settings
 * meant for another process are refused. Each case runs in its own process (Check forks),
 * so changing the environment is safe. */
#include "../check-main.h"
#include "sd-notify.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* A datagram socket bound to `name` (a path, or '@' + an abstract name). */
static int
listen_on(const char *name)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t len = strlen(name);
    memcpy(addr.sun_path, name, len);
    if (name[0] == '@')
        addr.sun_path[0] = '\0';
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr,
                          (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)),
                     0);
    return fd;
}

static char *
receive(int fd)
{
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    ck_assert_int_gt(n, 0);
    return g_strndup(buf, (gsize)n);
}

START_TEST(test_path_socket)
{
    g_autofree char *dir = g_dir_make_tmp(NULL, NULL);
    g_autofree char *path = g_build_filename(dir, "notify", NULL);
    int fd = listen_on(path);
    g_setenv("NOTIFY_SOCKET", path, TRUE);
    ck_assert_int_eq(cc_sd_notify("READY=1\nSTATUS=serving"), 1);
    g_autofree char *got = receive(fd);
    ck_assert_str_eq(got, "READY=1\nSTATUS=serving");
    close(fd);
    unlink(path);
    g_rmdir(dir);
}
END_TEST

START_TEST(test_abstract_socket)
{
    g_autofree char *name = g_strdup_printf("@conclave-test-%d", (int)getpid());
    int fd = listen_on(name);
    g_setenv("NOTIFY_SOCKET", name, TRUE);
    ck_assert_int_eq(cc_sd_notify("WATCHDOG=1"), 1);
    g_autofree char *got = receive(fd);
    ck_assert_str_eq(got, "WATCHDOG=1");
    close(fd);
}
END_TEST

START_TEST(test_no_manager)
{
    g_unsetenv("NOTIFY_SOCKET");
    ck_assert_int_eq(cc_sd_notify("READY=1"), 0);
    g_setenv("NOTIFY_SOCKET", "", TRUE);
    ck_assert_int_eq(cc_sd_notify("READY=1"), 0);
}
END_TEST

START_TEST(test_bad_socket_names)
{
    g_setenv("NOTIFY_SOCKET", "relative/path", TRUE);
    ck_assert_int_eq(cc_sd_notify("READY=1"), -EINVAL);
    g_autofree char *long_name = g_strnfill(200, 'x');
    long_name[0] = '/';
    g_setenv("NOTIFY_SOCKET", long_name, TRUE);
    ck_assert_int_eq(cc_sd_notify("READY=1"), -EINVAL);
    /* A path nobody listens on: the error comes back, nothing blocks. */
    g_setenv("NOTIFY_SOCKET", "/nonexistent/conclave-notify", TRUE);
    ck_assert_int_lt(cc_sd_notify("READY=1"), 0);
}
END_TEST

START_TEST(test_watchdog_settings)
{
    g_unsetenv("WATCHDOG_PID");
    g_unsetenv("WATCHDOG_USEC");
    ck_assert_uint_eq(cc_sd_watchdog_usec(), 0);
    g_setenv("WATCHDOG_USEC", "30000000", TRUE);
    ck_assert_uint_eq(cc_sd_watchdog_usec(), 30000000);
    g_autofree char *pid = g_strdup_printf("%d", (int)getpid());
    g_setenv("WATCHDOG_PID", pid, TRUE);
    ck_assert_uint_eq(cc_sd_watchdog_usec(), 30000000);
    g_autofree char *other = g_strdup_printf("%d", (int)getpid() + 1);
    g_setenv("WATCHDOG_PID", other, TRUE); /* meant for another process */
    ck_assert_uint_eq(cc_sd_watchdog_usec(), 0);
    g_unsetenv("WATCHDOG_PID");
    const char *bad[] = {"", "-5", "30s", "1e6", " 5", "99999999999999999999999"};
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_setenv("WATCHDOG_USEC", bad[i], TRUE);
        ck_assert_msg(cc_sd_watchdog_usec() == 0, "'%s' accepted", bad[i]);
    }
}
END_TEST

static Suite *
sd_notify_suite(void)
{
    Suite *s = suite_create("sd-notify");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_path_socket);
    tcase_add_test(tc, test_abstract_socket);
    tcase_add_test(tc, test_no_manager);
    tcase_add_test(tc, test_bad_socket_names);
    tcase_add_test(tc, test_watchdog_settings);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(sd_notify_suite)
