/* bench-floor: the cheapest possible forwarding on this machine, as the yardstick for
 * bench/forward.py. Per packet: copy a 1112-byte RTP packet, protect it (the profile
 * given) and send it over UDP on loopback - the work an SFU cannot avoid for each packet it
 * forwards. The protect is the bridge's own (bridge_srtp_protect), or with a third argument
 * `libsrtp`, libsrtp2's srtp_protect as the bridge used to call it, so that both stay
 * measurable. Prints one JSON line: packets per CPU-second.
 *
 *   bench-floor [gcm|cm] [SECONDS] [bridge|libsrtp] */
#include "rtp.h"
#include "srtp-libsrtp.h"
#include "srtp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double
cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    gboolean gcm = argc < 2 || g_strcmp0(argv[1], "cm") != 0;
    double seconds = argc > 2 ? g_ascii_strtod(argv[2], NULL) : 2.0;
    const char *protect = argc > 3 ? argv[3] : "bridge";
    gboolean use_libsrtp = g_strcmp0(protect, "libsrtp") == 0;
    if (argc > 1 && g_strcmp0(argv[1], "gcm") != 0 && g_strcmp0(argv[1], "cm") != 0) {
        fprintf(stderr, "bench-floor: unknown profile '%s' (gcm or cm)\n", argv[1]);
        return 2;
    }
    if (!use_libsrtp && g_strcmp0(protect, "bridge") != 0) {
        fprintf(stderr, "bench-floor: unknown protect '%s' (bridge or libsrtp)\n", protect);
        return 2;
    }
    if (!(seconds > 0)) {
        fprintf(stderr, "bench-floor: SECONDS must be positive\n");
        return 2;
    }
    bridge_srtp_global_init();
    BridgeSrtpKey key = {.profile =
                             gcm ? BRIDGE_SRTP_AEAD_AES_128_GCM : BRIDGE_SRTP_AES128_CM_SHA1_80};
    for (gsize i = 0; i < sizeof key.key; i++)
        key.key[i] = (guint8)g_random_int();
    for (gsize i = 0; i < sizeof key.salt; i++)
        key.salt[i] = (guint8)g_random_int();
    g_autoptr(GError) error = NULL;
    g_autoptr(BridgeSrtp) srtp = bridge_srtp_new(&key, TRUE, &error);
    srtp_t libsrtp = use_libsrtp ? bridge_srtp_libsrtp_session(&key, TRUE, NULL) : NULL;
    if (srtp == NULL || (use_libsrtp && libsrtp == NULL)) {
        fprintf(stderr, "bench-floor: %s\n", error ? error->message : "srtp_create failed");
        return 1;
    }
    int rx = socket(AF_INET, SOCK_DGRAM, 0);
    int tx = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof addr;
    if (rx < 0 || tx < 0 || bind(rx, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        getsockname(rx, (struct sockaddr *)&addr, &alen) != 0 ||
        connect(tx, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("bench-floor: socket");
        return 1;
    }
    guint8 plain[1112], out[1112 + BRIDGE_SRTP_MAX_TRAILER], sink[2048];
    memset(plain, 0x42, sizeof plain);
    double start = cpu_seconds();
    gint64 wall_end = g_get_monotonic_time() + (gint64)(seconds * G_USEC_PER_SEC);
    guint64 packets = 0;
    while (g_get_monotonic_time() < wall_end) {
        for (int i = 0; i < 256; i++, packets++) {
            bridge_rtp_write_header(plain, 96, FALSE, (guint16)packets, (guint32)packets, 0x1234);
            memcpy(out, plain, sizeof plain);
            gsize len = sizeof plain;
            int n = (int)len, rc;
            if (use_libsrtp) {
                rc = srtp_protect(libsrtp, out, &n) == srtp_err_status_ok ? 0 : -1;
                len = (gsize)n;
            } else {
                rc = bridge_srtp_protect(srtp, out, &len);
            }
            if (rc != 0 || send(tx, out, len, 0) < 0) {
                perror("bench-floor: protect/send");
                return 1;
            }
        }
        /* keep the receive buffer from filling; its CPU time counts in the floor */
        while (recv(rx, sink, sizeof sink, MSG_DONTWAIT) > 0)
            ;
    }
    double cpu = cpu_seconds() - start;
    printf("{\"profile\":\"%s\",\"protect\":\"%s\",\"packets\":%" G_GUINT64_FORMAT
           ",\"cpu_seconds\":%.3f,\"packets_per_cpu_second\":%.0f}\n",
           bridge_srtp_profile_name(key.profile), use_libsrtp ? "libsrtp" : "bridge", packets, cpu,
           (double)packets / cpu);
    if (libsrtp != NULL)
        srtp_dealloc(libsrtp);
    close(rx);
    close(tx);
    return 0;
}
