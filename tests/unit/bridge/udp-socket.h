/* UDP sockets for the bridge's unit tests: bound to an address on this machine, any port. */
#pragma once

#include <arpa/inet.h>
#include <check.h>
#include <glib.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* A UDP socket bound to `addr` (port 0: any), which gets the port it was given. */
static inline int
udp_bound(struct sockaddr *addr, socklen_t len)
{
    int fd = socket(addr->sa_family, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, addr, len), 0);
    ck_assert_int_eq(getsockname(fd, addr, &len), 0);
    return fd;
}

/* The same on the IPv4 address `ip` (host order, e.g. INADDR_LOOPBACK). */
static inline int
udp_bound_ipv4(struct sockaddr_in *addr, guint32 ip)
{
    *addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(ip)};
    return udp_bound((struct sockaddr *)addr, sizeof *addr);
}
