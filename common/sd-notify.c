/* The sd_notify protocol (see sd-notify.h): one AF_UNIX datagram per state change to the
 * socket in $NOTIFY_SOCKET, a path or, with a leading '@', an abstract name. It owns no
 * timer: the daemon skeleton decides when to send READY, WATCHDOG and STOPPING. */
#include "sd-notify.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
cc_sd_notify(const char *state)
{
    const char *path = g_getenv("NOTIFY_SOCKET");
    if (path == NULL || *path == '\0')
        return 0;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof(addr.sun_path))
        return -EINVAL;
    memcpy(addr.sun_path, path, len);
    if (path[0] == '@')
        addr.sun_path[0] = '\0'; /* abstract namespace */
    socklen_t addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    ssize_t sent =
        sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr, addr_len);
    int saved = errno;
    close(fd);
    return sent < 0 ? -saved : 1;
}

static gboolean
parse_u64(const char *text, guint64 *out)
{
    if (text == NULL || !g_ascii_isdigit(*text))
        return FALSE;
    char *end = NULL;
    errno = 0;
    guint64 value = g_ascii_strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return FALSE;
    *out = value;
    return TRUE;
}

guint64
cc_sd_watchdog_usec(void)
{
    guint64 usec = 0, pid = 0;
    if (!parse_u64(g_getenv("WATCHDOG_USEC"), &usec))
        return 0;
    const char *pid_text = g_getenv("WATCHDOG_PID");
    if (pid_text != NULL && (!parse_u64(pid_text, &pid) || pid != (guint64)getpid()))
        return 0; /* meant for another process (our parent, say) */
    return usec;
}
