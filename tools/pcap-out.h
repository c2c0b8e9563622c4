/* Classic libpcap files (magic a1b2c3d4, version 2.4, microseconds, link type Ethernet) of
 * synthesized Ethernet/IPv4/UDP frames: how conclavectl hands decrypted RTP and RTCP to
 * Wireshark and GStreamer's pcapparse. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CTL_PCAP_RTP_PORT  5004
#define CTL_PCAP_RTCP_PORT 5005
#define CTL_PCAP_MAX_DATA  65507

typedef struct CtlPcap CtlPcap;

/* Creates path (O_EXCL, mode 0600) and writes the file header. Frames come from src_ip
 * (host order) port 5004 and go to 10.0.0.1. */
CtlPcap *ctl_pcap_create(const char *path, guint32 src_ip, GError **error);
/* One UDP datagram of 1 to CTL_PCAP_MAX_DATA bytes, timestamped time_us after the epoch. */
gboolean ctl_pcap_write(CtlPcap *pcap, guint64 time_us, guint16 dst_port, const guint8 *data,
                        gsize len, GError **error);
/* Flushes and closes; then frees, whatever happened. */
gboolean ctl_pcap_close(CtlPcap *pcap, GError **error);

G_END_DECLS
