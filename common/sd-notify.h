/* The service manager's notification protocol (sd_notify), spoken directly over the
 * datagram socket systemd names in $NOTIFY_SOCKET, so the daemons need no libsystemd.
 * Outside systemd (no $NOTIFY_SOCKET) every call is a no-op. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Sends `state` ("READY=1", "STATUS=...", "WATCHDOG=1", "STOPPING=1", several joined by
 * newlines). Returns 1 when sent, 0 when there is no service manager to tell, or a negative
 * errno when the socket refused it. */
int cc_sd_notify(const char *state);

/* The watchdog interval systemd asks for ($WATCHDOG_USEC, meant for this process when
 * $WATCHDOG_PID is unset or our pid), in microseconds; 0 when there is none. */
guint64 cc_sd_watchdog_usec(void);

G_END_DECLS
