/* Fallback load generator for kernels that refuse BPF_PROG_TEST_RUN live frames (EPERM on some
 * VM kernels): sends one Ethernet frame over and over through an AF_PACKET socket bound to
 * <ifname>, with PACKET_QDISC_BYPASS and sendmmsg() batches of 64.
 *
 * usage: pktgen <ifname> <frame hex> <seconds>
 * Prints "started" once transmitting, then {"sent":N} at the end, like bench/xdpgen.ts. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: pktgen <ifname> <frame hex> <seconds>\n");
		return 2;
	}
	size_t hexlen = strlen(argv[2]);
	size_t len = hexlen / 2;
	unsigned char *frame = malloc(len);
	for (size_t i = 0; i < len; i++) sscanf(argv[2] + 2 * i, "%2hhx", &frame[i]);
	double seconds = atof(argv[3]);

	int fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) { perror("pktgen: socket"); return 1; }
	int one = 1;
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(argv[1]), .sll_halen = ETH_ALEN };
	if (!sll.sll_ifindex) { perror("pktgen: if_nametoindex"); return 1; }
	memcpy(sll.sll_addr, frame, ETH_ALEN);
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) { perror("pktgen: bind"); return 1; }

	struct iovec iov = { .iov_base = frame, .iov_len = len };
	struct mmsghdr msgs[BATCH];
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &sll;
		msgs[i].msg_hdr.msg_namelen = sizeof(sll);
	}
	printf("started\n");
	fflush(stdout);
	unsigned long long sent = 0;
	double end = now() + seconds;
	while (now() < end) {
		for (int k = 0; k < 64; k++) {
			int n = sendmmsg(fd, msgs, BATCH, 0);
			if (n > 0) sent += (unsigned)n;
		}
	}
	printf("{\"sent\":%llu}\n", sent);
	return 0;
}
