/* A GLib poll function backed by epoll (see poller.h). */
#include "poller.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* What the poller knows of one descriptor number. */
typedef struct {
    guint64 seen;       /* the call that last found it in GLib's array */
    guint32 wanted;     /* events asked for in that call (all its entries together) */
    guint32 registered; /* events registered with epoll, when `in_set` */
    guint32 ready;      /* events found in that call */
    gboolean in_set;    /* registered with the current epoll instance */
} Slot;

struct _BridgePoller {
    int epfd;
    Slot *slots; /* by descriptor number */
    gsize n_slots;
    GArray *listed;     /* int: the descriptors of this call's array, once each */
    GArray *registered; /* int: the descriptors in the epoll set */
    struct epoll_event *events;
    guint n_events;
    guint64 call;
    gint resync; /* atomic: set from any thread */
    gint64 rebuilt_us;
    guint64 rebuilds;
};

/* poll()'s and epoll's event bits are the same on Linux; GLib's are poll()'s. */
#define ASKABLE (G_IO_IN | G_IO_PRI | G_IO_OUT)
#define ALWAYS  (G_IO_ERR | G_IO_HUP | G_IO_NVAL)

BridgePoller *
bridge_poller_new(void)
{
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return NULL;
    BridgePoller *p = g_new0(BridgePoller, 1);
    p->epfd = epfd;
    p->listed = g_array_new(FALSE, FALSE, sizeof(int));
    p->registered = g_array_new(FALSE, FALSE, sizeof(int));
    p->rebuilt_us = g_get_monotonic_time();
    return p;
}

void
bridge_poller_free(BridgePoller *p)
{
    if (p == NULL)
        return;
    close(p->epfd);
    g_free(p->slots);
    g_array_unref(p->listed);
    g_array_unref(p->registered);
    g_free(p->events);
    g_free(p);
}

void
bridge_poller_resync(BridgePoller *p)
{
    g_atomic_int_set(&p->resync, TRUE);
}

guint64
bridge_poller_rebuilds(const BridgePoller *p)
{
    return p->rebuilds;
}

static Slot *
slot_for(BridgePoller *p, int fd)
{
    if ((gsize)fd >= p->n_slots) {
        gsize n = MAX(p->n_slots * 2, (gsize)fd + 1);
        n = MAX(n, 64);
        p->slots = g_renew(Slot, p->slots, n);
        memset(p->slots + p->n_slots, 0, (n - p->n_slots) * sizeof(Slot));
        p->n_slots = n;
    }
    return &p->slots[fd];
}

/* A new epoll instance, empty: what the old one held may include numbers closed since
 * (forgotten by it) or, worse, files still open elsewhere under a number now reused. */
static gboolean
rebuild(BridgePoller *p)
{
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return FALSE;
    close(p->epfd);
    p->epfd = epfd;
    for (guint i = 0; i < p->registered->len; i++)
        p->slots[g_array_index(p->registered, int, i)].in_set = FALSE;
    g_array_set_size(p->registered, 0);
    p->rebuilt_us = g_get_monotonic_time();
    p->rebuilds++;
    return TRUE;
}

/* Registers `fd` as its slot asks; what epoll cannot watch is answered as poll() would
 * (not open: G_IO_NVAL; a regular file: always ready). FALSE for any other refusal
 * (ENOSPC past max_user_watches, ENOMEM): poll() would have no answer of that kind. */
static gboolean
watch(BridgePoller *p, int fd, Slot *s)
{
    struct epoll_event ev = {.events = s->wanted, .data.fd = fd};
    int done = epoll_ctl(p->epfd, s->in_set ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
    if (done != 0 && s->in_set && errno == ENOENT) /* closed, and the number reused */
        done = epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);
    if (done == 0) {
        if (!s->in_set)
            g_array_append_val(p->registered, fd);
        s->in_set = TRUE;
        s->registered = s->wanted;
        return TRUE;
    }
    if (errno == EBADF)
        s->ready = G_IO_NVAL;
    else if (errno == EPERM)
        s->ready = s->wanted & (G_IO_IN | G_IO_OUT);
    else
        return FALSE;
    return TRUE;
}

/* g_poll(), first without waiting when it would wait, to tell whether it had to. */
static gint
plain_poll(GPollFD *fds, guint n, gint timeout, gboolean *waited)
{
    gint ready = g_poll(fds, n, 0);
    if (ready == 0 && timeout != 0) {
        *waited = TRUE;
        ready = g_poll(fds, n, timeout);
    }
    return ready;
}

/* Milliseconds until the set is due to be built again (at least 1), or `timeout` if
 * sooner: a wait never outlasts the interval. */
static gint
until_rebuild(const BridgePoller *p, gint timeout)
{
    gint64 left_us = p->rebuilt_us + BRIDGE_POLLER_REBUILD_US - g_get_monotonic_time();
    gint left_ms = (gint)CLAMP((left_us + 999) / 1000, 1, G_MAXINT);
    return timeout < 0 || timeout > left_ms ? left_ms : timeout;
}

gint
bridge_poller_poll(BridgePoller *p, GPollFD *fds, guint n, gint timeout, gboolean *waited)
{
    gboolean ignored;
    waited = waited != NULL ? waited : &ignored;
    *waited = FALSE;
    if (p == NULL)
        return plain_poll(fds, n, timeout, waited);
    p->call++;
    g_array_set_size(p->listed, 0);
    for (guint i = 0; i < n; i++) {
        int fd = fds[i].fd;
        if (fd < 0)
            continue;
        Slot *s = slot_for(p, fd);
        if (s->seen != p->call) {
            s->seen = p->call;
            s->wanted = 0;
            s->ready = 0;
            g_array_append_val(p->listed, fd);
        }
        s->wanted |= fds[i].events & ASKABLE;
    }
    /* GLib lists only the descriptors at or above the priority of a source already ready,
     * and then asks for no wait: a shorter array of that kind says nothing of the others. */
    gboolean gone = FALSE;
    for (guint i = 0; i < p->registered->len && !gone && timeout != 0; i++)
        gone = p->slots[g_array_index(p->registered, int, i)].seen != p->call;
    if (gone || g_atomic_int_get(&p->resync) ||
        g_get_monotonic_time() - p->rebuilt_us >= BRIDGE_POLLER_REBUILD_US) {
        g_atomic_int_set(&p->resync, FALSE); /* before: a later request is not lost */
        if (!rebuild(p)) { /* no new instance (out of descriptors?): poll() this time */
            g_atomic_int_set(&p->resync, TRUE);
            return plain_poll(fds, n, timeout, waited);
        }
    }
    gboolean answered = FALSE;
    for (guint i = 0; i < p->listed->len; i++) {
        int fd = g_array_index(p->listed, int, i);
        Slot *s = &p->slots[fd];
        if ((!s->in_set || s->registered != s->wanted) && !watch(p, fd, s)) {
            g_atomic_int_set(&p->resync, TRUE);
            return plain_poll(fds, n, timeout, waited);
        }
        answered = answered || s->ready != 0;
    }
    if (p->n_events < MAX(n, 1)) {
        p->n_events = MAX(n, 1);
        p->events = g_renew(struct epoll_event, p->events, p->n_events);
    }
    /* First without waiting: whether it had to wait is what recv-batch.h needs to know,
     * and that look costs one call however many descriptors there are. */
    int got = epoll_wait(p->epfd, p->events, (int)p->n_events, 0);
    if (got == 0 && !answered && timeout != 0) {
        *waited = TRUE;
        got = epoll_wait(p->epfd, p->events, (int)p->n_events, until_rebuild(p, timeout));
    }
    if (got < 0)
        return -1;
    for (int i = 0; i < got; i++)
        p->slots[p->events[i].data.fd].ready |= p->events[i].events & (ASKABLE | ALWAYS);
    gint count = 0;
    for (guint i = 0; i < n; i++) {
        int fd = fds[i].fd;
        fds[i].revents = fd < 0 ? 0 : p->slots[fd].ready & (fds[i].events | ALWAYS);
        if (fds[i].revents != 0)
            count++;
    }
    return count;
}
