/* A poll function for a worker's GLib loop backed by epoll: GLib hands it the same
 * descriptors in every iteration, and poll() looked at each of them twice per wake-up (to
 * wait on it and to see what woke), where epoll keeps them registered and reports only
 * those ready. Registrations follow GLib's array: a descriptor new in it is added, one
 * gone from it makes the set be built again. A number GLib still lists may have been
 * closed and reused by another socket in between (epoll then forgets it, silently), so the
 * set is also built again when the owner says descriptors may have changed
 * (bridge_poller_resync) and once BRIDGE_POLLER_REBUILD_US have passed since the last
 * time: no wait lasts longer. Until then, a descriptor closed while GLib still lists it is
 * not reported (poll() says G_IO_NVAL at once), and a closed one whose file stays open
 * elsewhere (a dup() or a fork(): the bridge makes neither) would be reported under its
 * old number. Polled on one thread only; resync may be asked from any. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define BRIDGE_POLLER_REBUILD_US (G_USEC_PER_SEC)

typedef struct _BridgePoller BridgePoller;

/* NULL (errno set) when the kernel gives no epoll instance. */
BridgePoller *bridge_poller_new(void);
void bridge_poller_free(BridgePoller *poller);

/* As g_poll(): sets every entry's revents (G_IO_NVAL for a descriptor not open when it is
 * first listed) and returns how many are set, 0 after `timeout` ms (-1: none), or -1 with
 * errno. `*waited` (when not NULL) says whether it had to wait: nothing listed was ready
 * as it began. A NULL poller (or a refusal from epoll) uses g_poll(). */
gint bridge_poller_poll(BridgePoller *poller, GPollFD *fds, guint n, gint timeout,
                        gboolean *waited);

/* The next poll builds the set again: descriptors may have closed and their numbers been
 * reused since the last. */
void bridge_poller_resync(BridgePoller *poller);

/* How many times the set was built (for tests). */
guint64 bridge_poller_rebuilds(const BridgePoller *poller);

G_END_DECLS
