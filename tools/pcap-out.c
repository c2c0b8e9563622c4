/* Writes pcap files of synthesized UDP frames (see pcap-out.h). Owns one stdio stream per
 * file; knows nothing of recordings. */
#include "pcap-out.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ETH_LEN  14
#define IP_LEN   20
#define UDP_LEN  8
#define DST_IP   0x0a000001u /* 10.0.0.1 */
#define LINKTYPE 1           /* Ethernet */

struct CtlPcap {
    char *path;
    FILE *file;
    guint32 src_ip;
    guint16 ip_id;
    guint8 frame[ETH_LEN + IP_LEN + UDP_LEN + CTL_PCAP_MAX_DATA];
};

static void
le32(guint8 *p, guint32 v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (guint8)(v >> (8 * i));
}

static void
be16(guint8 *p, guint16 v)
{
    p[0] = (guint8)(v >> 8);
    p[1] = (guint8)v;
}

static void
be32(guint8 *p, guint32 v)
{
    be16(p, (guint16)(v >> 16));
    be16(p + 2, (guint16)v);
}

static gboolean
put(CtlPcap *pcap, const guint8 *data, gsize len, GError **error)
{
    if (fwrite(data, 1, len, pcap->file) != len) {
        int saved = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved), "%s: write failed: %s",
                    pcap->path, g_strerror(saved));
        return FALSE;
    }
    return TRUE;
}

CtlPcap *
ctl_pcap_create(const char *path, guint32 src_ip, GError **error)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    FILE *file = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (file == NULL) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved), "%s: %s", path,
                    g_strerror(saved));
        return NULL;
    }
    CtlPcap *pcap = g_new0(CtlPcap, 1);
    pcap->path = g_strdup(path);
    pcap->file = file;
    pcap->src_ip = src_ip;
    /* The fixed parts of every frame: locally administered MACs, IPv4 without options and
     * with DF set, TTL 64, UDP. */
    static const guint8 macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
    memcpy(pcap->frame, macs, sizeof macs);
    be16(pcap->frame + 12, 0x0800);
    guint8 *ip = pcap->frame + ETH_LEN;
    ip[0] = 0x45;
    be16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = 17;
    be32(ip + 12, src_ip);
    be32(ip + 16, DST_IP);
    be16(ip + IP_LEN, CTL_PCAP_RTP_PORT);

    guint8 header[24] = {0};
    le32(header, 0xa1b2c3d4);
    header[4] = 2; /* version 2.4, little-endian like the magic */
    header[6] = 4;
    le32(header + 16, 65535 + ETH_LEN + IP_LEN + UDP_LEN);
    le32(header + 20, LINKTYPE);
    if (!put(pcap, header, sizeof header, error)) {
        ctl_pcap_close(pcap, NULL);
        unlink(path);
        return NULL;
    }
    return pcap;
}

static guint16
ip_checksum(const guint8 *ip)
{
    guint32 sum = 0;
    for (int i = 0; i < IP_LEN; i += 2)
        sum += (guint32)(ip[i] << 8 | ip[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (guint16)~sum;
}

gboolean
ctl_pcap_write(CtlPcap *pcap, guint64 time_us, guint16 dst_port, const guint8 *data, gsize len,
               GError **error)
{
    g_return_val_if_fail(len >= 1 && len <= CTL_PCAP_MAX_DATA, FALSE);
    guint8 *ip = pcap->frame + ETH_LEN, *udp = ip + IP_LEN;
    be16(ip + 2, (guint16)(IP_LEN + UDP_LEN + len));
    be16(ip + 4, pcap->ip_id++);
    be16(ip + 10, 0);
    be16(ip + 10, ip_checksum(ip));
    be16(udp + 2, dst_port);
    be16(udp + 4, (guint16)(UDP_LEN + len));
    be16(udp + 6, 0); /* no UDP checksum: allowed over IPv4 */
    memcpy(udp + UDP_LEN, data, len);

    gsize frame_len = ETH_LEN + IP_LEN + UDP_LEN + len;
    guint8 record[16];
    le32(record, (guint32)(time_us / G_USEC_PER_SEC));
    le32(record + 4, (guint32)(time_us % G_USEC_PER_SEC));
    le32(record + 8, (guint32)frame_len);
    le32(record + 12, (guint32)frame_len);
    return put(pcap, record, sizeof record, error) && put(pcap, pcap->frame, frame_len, error);
}

gboolean
ctl_pcap_close(CtlPcap *pcap, GError **error)
{
    gboolean ok = TRUE;
    if (fclose(pcap->file) != 0) {
        int saved = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved), "%s: write failed: %s",
                    pcap->path, g_strerror(saved));
        ok = FALSE;
    }
    g_free(pcap->path);
    g_free(pcap);
    return ok;
}
