/*
 * rtpgen - G.711 RTP load generator for relay benchmarks (benchmarks/rtp_load.py builds and
 * drives it).  One process, one thread, one epoll loop, paced on CLOCK_MONOTONIC.
 *
 * It owns S UDP sockets ("streams") bound on --ip at even ports from --port-base up.  Every
 * stream sends a 172-octet RTP packet (12 header + 160 PCMU payload, PT 0) every 20 ms to its
 * relay target; the start phases of the S streams are spread evenly across the 20 ms.  The
 * payload carries, in host order:
 *     [0..8)   send time, CLOCK_REALTIME ns, taken just before sendto()
 *     [8..12)  k, the packet's index in its stream (0, 1, 2, ...)
 *     [12..16) magic 0x52544731
 *     [16..20) the sending stream's index
 * and 0xFF (PCMU silence) after that.  A relay that rewrites the RTP header but forwards the
 * payload keeps all of it.  Arrival times are the kernel's (SO_TIMESTAMPNS, CLOCK_REALTIME), so
 * the figures do not depend on how quickly this loop gets to a socket.
 *
 * Modes:
 *   pairs  streams 2i and 2i+1 are the two phones of call i; each hears the other.
 *          Per direction (a2b: even streams send, b2a: odd streams send): packets whose
 *          scheduled send time falls in the measured window, how many of them arrived (by k,
 *          duplicates dropped), and the added jitter = |transit - min transit of that stream|,
 *          transit = arrival - embedded send time, pooled over every received packet.
 *   conf   every stream is a conference participant that receives a mix (the payload is not
 *          ours any more).  Packets that arrive in the window are counted; loss is from the RTP
 *          sequence numbers (RFC 3550 A.3: expected = highest - lowest + 1); the jitter figure
 *          is the spread of (arrival - RTP timestamp / 8 kHz) per stream, pooled.
 *   Both modes also give the RFC 3550 interarrival jitter J of every received stream at the
 *   end of the window (p50/p99/max across streams).
 *
 * Protocol on stdio (the driver's side is in rtp_load.py):
 *   out: "PORTS p0 p1 ... p(S-1)"          after binding
 *   in:  S lines "ip port"                 the relay's address for each stream
 *   in:  "GO"
 *   out: "WINDOW_START" / "WINDOW_END"     when the measured window opens / closes
 *   out: one line of JSON with the results (after the grace period)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define PERIOD_NS 20000000LL
#define PKT_LEN 172
#define PAYLOAD_OFF 12
#define MAGIC 0x52544731u
#define NONE INT64_MIN
#define RX_BATCH 16
#define LATE_BUCKET_NS 10000LL /* 10 us */
#define LATE_BUCKETS 20000     /* up to 200 ms */

typedef struct {
    int fd;
    int port;
    struct sockaddr_in dst;
    /* sending */
    uint16_t seq;
    uint32_t ts, ssrc, k;
    int64_t next; /* scheduled send time, monotonic ns */
    uint32_t win_k0, win_sent;
    int in_win;
    /* receiving (pairs): dev[k] = transit ns of the partner's k-th packet, NONE if not seen */
    int64_t *dev;
    uint32_t cap;
    /* receiving (conf): arrivals in the window */
    int64_t *cdev;
    uint32_t ncdev, capc;
    uint32_t ts0, have_ts0;
    uint32_t seq_base, seq_max, cycles, have_seq, rx_win;
    /* RFC 3550 jitter over the window */
    double J, prev_transit;
    int have_prev;
    /* counters */
    uint64_t rx_total, dup, foreign, invalid, rtcp, late_rx;
} stream_t;

static int64_t now_ns(clockid_t c) {
    struct timespec t;
    clock_gettime(c, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t pct(const int64_t *v, size_t n, double p) {
    if (n == 0) return -1;
    size_t i = (size_t)ceil(p / 100.0 * (double)n);
    if (i > 0) i--;
    if (i >= n) i = n - 1;
    return v[i];
}

static double usec(int64_t ns) { return (double)ns / 1000.0; }

static double rusage_s(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 +
           (double)r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

static void rusage_split(double *user, double *sys) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    *user = (double)r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6;
    *sys = (double)r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

/* Print {"p50":..,"p90":..,"p99":..,"p999":..,"max":..} in microseconds; sorts v. */
static void print_dist(const char *name, int64_t *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_i64);
    printf("\"%s\":{\"n\":%zu,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}",
           name, n, usec(pct(v, n, 50)), usec(pct(v, n, 90)), usec(pct(v, n, 99)),
           usec(pct(v, n, 99.9)), usec(n ? v[n - 1] : -1));
}

static void send_one(stream_t *s, int sid, int64_t sched, int64_t mono_now, uint8_t *pkt,
                     int64_t win_start, int64_t win_end, uint64_t *send_err,
                     uint64_t *late_hist) {
    pkt[0] = 0x80;
    pkt[1] = 0x00;
    uint16_t seq = htons(s->seq);
    uint32_t ts = htonl(s->ts), ssrc = htonl(s->ssrc), magic = MAGIC, k = s->k;
    uint32_t id = (uint32_t)sid;
    memcpy(pkt + 2, &seq, 2);
    memcpy(pkt + 4, &ts, 4);
    memcpy(pkt + 8, &ssrc, 4);
    int64_t t = now_ns(CLOCK_REALTIME);
    memcpy(pkt + PAYLOAD_OFF, &t, 8);
    memcpy(pkt + PAYLOAD_OFF + 8, &k, 4);
    memcpy(pkt + PAYLOAD_OFF + 12, &magic, 4);
    memcpy(pkt + PAYLOAD_OFF + 16, &id, 4);
    ssize_t r = send(s->fd, pkt, PKT_LEN, MSG_DONTWAIT); /* connected: no route lookup */
    if (r != PKT_LEN) (*send_err)++;
    if (sched >= win_start && sched < win_end) {
        if (!s->in_win) {
            s->in_win = 1;
            s->win_k0 = s->k;
        }
        s->win_sent++;
        int64_t late = (mono_now - sched) / LATE_BUCKET_NS;
        if (late < 0) late = 0;
        if (late >= LATE_BUCKETS) late = LATE_BUCKETS - 1;
        late_hist[late]++;
    }
    s->seq++;
    s->ts += 160;
    s->k++;
}

static void receive_one(stream_t *s, int sid, int conf, const uint8_t *b,
                        ssize_t n, int64_t arrival, int64_t win_start_rt, int64_t win_end_rt) {
    s->rx_total++;
    if (n < 12 || (b[0] >> 6) != 2) {
        s->invalid++;
        return;
    }
    if (b[1] >= 200 && b[1] <= 204) { /* RTCP SR/RR/SDES/BYE/APP */
        s->rtcp++;
        return;
    }
    size_t hl = 12 + 4u * (b[0] & 0x0F);
    if (b[0] & 0x10) {
        if ((size_t)n < hl + 4) {
            s->invalid++;
            return;
        }
        hl += 4 + 4u * ((b[hl + 2] << 8) | b[hl + 3]);
    }
    if ((size_t)n < hl) {
        s->invalid++;
        return;
    }
    uint16_t seq = (uint16_t)((b[2] << 8) | b[3]);
    uint32_t ts = ((uint32_t)b[4] << 24) | ((uint32_t)b[5] << 16) | ((uint32_t)b[6] << 8) | b[7];
    int in_win = arrival >= win_start_rt && arrival < win_end_rt;
    if (!conf) {
        uint32_t magic, k, from;
        int64_t sent;
        if ((size_t)n < hl + 20) {
            s->foreign++;
            return;
        }
        memcpy(&sent, b + hl, 8);
        memcpy(&k, b + hl + 8, 4);
        memcpy(&magic, b + hl + 12, 4);
        memcpy(&from, b + hl + 16, 4);
        if (magic != MAGIC || from != (uint32_t)(sid ^ 1) || k >= s->cap) {
            s->foreign++;
            return;
        }
        if (s->dev[k] != NONE) {
            s->dup++;
            return;
        }
        s->dev[k] = arrival - sent;
    } else if (in_win) {
        if (!s->have_ts0) {
            s->have_ts0 = 1;
            s->ts0 = ts;
        }
        if (!s->have_seq) {
            s->have_seq = 1;
            s->seq_base = s->seq_max = seq;
        } else {
            uint16_t delta = (uint16_t)(seq - (uint16_t)s->seq_max);
            if (delta < 0x8000 && delta != 0) {
                if (seq < (uint16_t)s->seq_max) s->cycles += 65536;
                s->seq_max = seq;
            }
        }
        s->rx_win++;
        int64_t rel = (int64_t)(int32_t)(ts - s->ts0) * 125000LL; /* 8 kHz -> ns */
        if (s->ncdev < s->capc) s->cdev[s->ncdev++] = arrival - rel;
    }
    if (in_win) { /* RFC 3550 6.4.1 interarrival jitter, in seconds */
        double transit = (double)arrival / 1e9 - (double)ts / 8000.0;
        if (s->have_prev) {
            double d = fabs(transit - s->prev_transit);
            if (d < 1000.0) s->J += (d - s->J) / 16.0; /* skip timestamp wrap */
        }
        s->prev_transit = transit;
        s->have_prev = 1;
    }
}

int main(int argc, char **argv) {
    const char *mode = "pairs", *ip = "127.0.0.1";
    int S = 0, port_base = 20000, port_max = 29999;
    double warmup = 2.0, duration = 10.0, grace = 0.5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) break;
        if (!strcmp(a, "--mode")) mode = v;
        else if (!strcmp(a, "--streams")) S = atoi(v);
        else if (!strcmp(a, "--ip")) ip = v;
        else if (!strcmp(a, "--port-base")) port_base = atoi(v);
        else if (!strcmp(a, "--port-max")) port_max = atoi(v);
        else if (!strcmp(a, "--warmup")) warmup = atof(v);
        else if (!strcmp(a, "--duration")) duration = atof(v);
        else if (!strcmp(a, "--grace")) grace = atof(v);
        else {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    int conf = !strcmp(mode, "conf");
    if (S <= 0 || (!conf && S % 2)) {
        fprintf(stderr, "usage: rtpgen --mode pairs|conf --streams S (even for pairs) "
                        "[--ip IP] [--port-base P] [--port-max P] [--warmup s] [--duration s] "
                        "[--grace s]\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    int64_t warm_ns = (int64_t)(warmup * 1e9), dur_ns = (int64_t)(duration * 1e9);
    int64_t grace_ns = (int64_t)(grace * 1e9);
    uint32_t cap = (uint32_t)((warm_ns + dur_ns) / PERIOD_NS + 4);
    stream_t *st = calloc((size_t)S, sizeof *st);
    if (!st) die("calloc");
    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    srandom((unsigned)now_ns(CLOCK_MONOTONIC));

    int port = port_base + (port_base & 1);
    for (int i = 0; i < S; i++) {
        stream_t *s = &st[i];
        s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        if (s->fd < 0) die("socket");
        int one = 1;
        setsockopt(s->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
        struct sockaddr_in a = {.sin_family = AF_INET};
        inet_pton(AF_INET, ip, &a.sin_addr);
        for (;; port += 2) {
            if (port > port_max) {
                fprintf(stderr, "rtpgen: no free port left in %d-%d\n", port_base, port_max);
                return 2;
            }
            a.sin_port = htons((uint16_t)port);
            if (bind(s->fd, (struct sockaddr *)&a, sizeof a) == 0) break;
            if (errno != EADDRINUSE) die("bind");
        }
        s->port = port;
        port += 2;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev) < 0) die("epoll_ctl");
        s->ssrc = (uint32_t)random();
        s->seq = (uint16_t)random();
        s->ts = (uint32_t)random();
        if (!conf) {
            s->cap = cap;
            s->dev = malloc(cap * sizeof *s->dev);
            if (!s->dev) die("malloc");
            for (uint32_t k = 0; k < cap; k++) s->dev[k] = NONE;
        } else {
            s->capc = (uint32_t)(dur_ns / PERIOD_NS) * 2 + 64;
            s->cdev = malloc(s->capc * sizeof *s->cdev);
            if (!s->cdev) die("malloc");
        }
    }
    printf("PORTS");
    for (int i = 0; i < S; i++) printf(" %d", st[i].port);
    printf("\n");

    char line[256];
    for (int i = 0; i < S; i++) {
        char dip[64];
        int dport;
        if (!fgets(line, sizeof line, stdin) || sscanf(line, "%63s %d", dip, &dport) != 2) {
            fprintf(stderr, "rtpgen: expected 'ip port' for stream %d\n", i);
            return 2;
        }
        st[i].dst.sin_family = AF_INET;
        st[i].dst.sin_port = htons((uint16_t)dport);
        if (inet_pton(AF_INET, dip, &st[i].dst.sin_addr) != 1) {
            fprintf(stderr, "rtpgen: bad address %s\n", dip);
            return 2;
        }
        /* A phone's socket talks to one relay port (symmetric RTP): connect() it, so a send
         * skips the route lookup and packets from anywhere else are not even queued. */
        if (connect(st[i].fd, (struct sockaddr *)&st[i].dst, sizeof st[i].dst) < 0)
            die("connect");
    }
    if (!fgets(line, sizeof line, stdin) || strncmp(line, "GO", 2) != 0) {
        fprintf(stderr, "rtpgen: expected GO\n");
        return 2;
    }

    int64_t t0 = now_ns(CLOCK_MONOTONIC) + 50000000LL;
    int64_t rt_off = now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC);
    for (int i = 0; i < S; i++) st[i].next = t0 + PERIOD_NS * i / S;
    int64_t win_start = t0 + warm_ns, win_end = win_start + dur_ns, end = win_end + grace_ns;
    int64_t win_start_rt = win_start + rt_off, win_end_rt = win_end + rt_off;

    uint8_t pkt[PKT_LEN];
    memset(pkt, 0xFF, sizeof pkt);
    uint64_t *late_hist = calloc(LATE_BUCKETS, sizeof *late_hist);
    uint64_t send_err = 0, loops = 0;
    int64_t max_oversleep = 0, max_rx_phase = 0; /* in the window: the loop's own stalls */
    int idx = 0, sending = 1, phase = 0; /* 0 warm-up, 1 window, 2 grace */
    double cpu0 = 0, cpu1 = 0, u0 = 0, s0 = 0, u1 = 0, s1 = 0;

    struct epoll_event evs[256];
    uint8_t bufs[RX_BATCH][2048];
    struct iovec iov[RX_BATCH];
    char ctrl[RX_BATCH][64];
    struct mmsghdr msgs[RX_BATCH];

    for (;;) {
        int64_t now = now_ns(CLOCK_MONOTONIC);
        if (phase == 0 && now >= win_start) {
            phase = 1;
            cpu0 = rusage_s();
            rusage_split(&u0, &s0);
            printf("WINDOW_START\n");
        }
        if (phase == 1 && now >= win_end) {
            phase = 2;
            cpu1 = rusage_s();
            rusage_split(&u1, &s1);
            printf("WINDOW_END\n");
        }
        if (now >= end) break;
        int budget = 0;
        while (sending && st[idx].next <= now) {
            int64_t sched = st[idx].next;
            send_one(&st[idx], idx, sched, now, pkt, win_start, win_end, &send_err, late_hist);
            st[idx].next += PERIOD_NS;
            idx = idx + 1 == S ? 0 : idx + 1;
            if (st[idx].next >= win_end) sending = 0;
            if (++budget == 64) break; /* receive between bursts even when behind */
        }
        if (budget == 64) now = now_ns(CLOCK_MONOTONIC);
        int64_t wait = sending ? st[idx].next - now : 5000000LL;
        if (phase == 0 && win_start - now < wait) wait = win_start - now;
        if (phase == 1 && win_end - now < wait) wait = win_end - now;
        if (end - now < wait) wait = end - now;
        if (wait < 0) wait = 0;
        struct timespec to = {.tv_sec = wait / 1000000000LL, .tv_nsec = wait % 1000000000LL};
        int nev = epoll_pwait2(ep, evs, 256, &to, NULL);
        if (nev < 0) {
            if (errno == EINTR) continue;
            die("epoll_pwait2");
        }
        int64_t woke = now_ns(CLOCK_MONOTONIC);
        if (phase == 1 && woke - (now + wait) > max_oversleep) max_oversleep = woke - (now + wait);
        loops++;
        for (int e = 0; e < nev; e++) {
            int sid = (int)evs[e].data.u32;
            stream_t *s = &st[sid];
            for (int j = 0; j < RX_BATCH; j++) {
                iov[j].iov_base = bufs[j];
                iov[j].iov_len = sizeof bufs[j];
                memset(&msgs[j].msg_hdr, 0, sizeof msgs[j].msg_hdr);
                msgs[j].msg_hdr.msg_iov = &iov[j];
                msgs[j].msg_hdr.msg_iovlen = 1;
                msgs[j].msg_hdr.msg_control = ctrl[j];
                msgs[j].msg_hdr.msg_controllen = sizeof ctrl[j];
            }
            int got = recvmmsg(s->fd, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
            if (got <= 0) continue;
            int64_t fallback = now_ns(CLOCK_REALTIME);
            for (int j = 0; j < got; j++) {
                int64_t arrival = fallback;
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[j].msg_hdr); c;
                     c = CMSG_NXTHDR(&msgs[j].msg_hdr, c)) {
                    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                        struct timespec t;
                        memcpy(&t, CMSG_DATA(c), sizeof t);
                        arrival = (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
                    }
                }
                if (arrival >= win_end_rt + grace_ns) s->late_rx++;
                receive_one(s, sid, conf, bufs[j], (ssize_t)msgs[j].msg_len, arrival,
                            win_start_rt, win_end_rt);
            }
        }
        if (phase == 1 && nev > 0) {
            int64_t spent = now_ns(CLOCK_MONOTONIC) - woke;
            if (spent > max_rx_phase) max_rx_phase = spent;
        }
    }

    /* ------------------------------------------------------------------ results */
    double cpu = cpu1 - cpu0;
    uint64_t late_n = 0, late_cum = 0;
    for (int i = 0; i < LATE_BUCKETS; i++) late_n += late_hist[i];
    int64_t late50 = -1, late99 = -1, latemax = 0;
    for (int i = 0; i < LATE_BUCKETS; i++) {
        late_cum += late_hist[i];
        if (late50 < 0 && late_cum * 2 >= late_n) late50 = i * LATE_BUCKET_NS;
        if (late99 < 0 && late_cum * 100 >= late_n * 99) late99 = i * LATE_BUCKET_NS;
        if (late_hist[i]) latemax = i * LATE_BUCKET_NS;
    }
    uint64_t rtcp = 0, foreign = 0, invalid = 0, total = 0, dup = 0, late_rx = 0;
    for (int i = 0; i < S; i++) {
        rtcp += st[i].rtcp;
        foreign += st[i].foreign;
        invalid += st[i].invalid;
        total += st[i].rx_total;
        dup += st[i].dup;
        late_rx += st[i].late_rx;
    }
    printf("{\"mode\":\"%s\",\"streams\":%d,\"calls\":%d,\"warmup_s\":%.3f,\"duration_s\":%.3f,"
           "\"grace_s\":%.3f,",
           mode, S, conf ? 0 : S / 2, warmup, duration, grace);
    printf("\"gen_cpu\":{\"user_s\":%.3f,\"sys_s\":%.3f,\"pct\":%.1f},", u1 - u0, s1 - s0,
           100.0 * cpu / duration);
    printf("\"send\":{\"late_p50_us\":%.1f,\"late_p99_us\":%.1f,\"late_max_us\":%.1f,"
           "\"errors\":%llu,\"loops\":%llu,\"max_oversleep_us\":%.1f,"
           "\"max_rx_phase_us\":%.1f},",
           usec(late50), usec(late99), usec(latemax), (unsigned long long)send_err,
           (unsigned long long)loops, usec(max_oversleep), usec(max_rx_phase));
    printf("\"rx\":{\"total\":%llu,\"rtcp\":%llu,\"foreign\":%llu,\"invalid\":%llu,"
           "\"duplicates\":%llu,\"after_grace\":%llu},",
           (unsigned long long)total, (unsigned long long)rtcp, (unsigned long long)foreign,
           (unsigned long long)invalid, (unsigned long long)dup, (unsigned long long)late_rx);
    printf("\"directions\":{");
    int ndir = conf ? 1 : 2;
    for (int d = 0; d < ndir; d++) {
        uint64_t sent = 0, recv = 0, expected = 0;
        size_t n = 0, cap_all = 0;
        for (int i = 0; i < S; i++)
            cap_all += conf ? st[i].ncdev : st[i].win_sent;
        int64_t *pool = malloc((cap_all + 1) * sizeof *pool);
        int64_t *jit = malloc(((size_t)S + 1) * sizeof *jit);
        size_t nj = 0;
        for (int i = conf ? 0 : d; i < S; i += conf ? 1 : 2) {
            if (conf) {
                stream_t *r = &st[i];
                sent += (uint64_t)(duration * 50.0 + 0.5);
                recv += r->rx_win;
                if (r->have_seq) expected += r->cycles + r->seq_max - r->seq_base + 1;
                int64_t mn = INT64_MAX;
                for (uint32_t j = 0; j < r->ncdev; j++)
                    if (r->cdev[j] < mn) mn = r->cdev[j];
                for (uint32_t j = 0; j < r->ncdev; j++) pool[n++] = r->cdev[j] - mn;
                if (r->have_prev) jit[nj++] = (int64_t)(r->J * 1e9);
                continue;
            }
            stream_t *s = &st[i], *r = &st[i ^ 1];
            sent += s->win_sent;
            int64_t mn = INT64_MAX;
            size_t first = n;
            for (uint32_t k = s->win_k0; k < s->win_k0 + s->win_sent && k < r->cap; k++) {
                if (r->dev[k] == NONE) continue;
                recv++;
                pool[n++] = r->dev[k];
                if (r->dev[k] < mn) mn = r->dev[k];
            }
            for (size_t j = first; j < n; j++) pool[j] -= mn;
            if (r->have_prev) jit[nj++] = (int64_t)(r->J * 1e9);
        }
        if (!conf) expected = sent;
        uint64_t lost = expected > recv ? expected - recv : 0;
        printf("%s\"%s\":{\"sent\":%llu,\"expected\":%llu,\"received\":%llu,\"lost\":%llu,"
               "\"loss_pct\":%.4f,",
               d ? "," : "", conf ? "mix" : (d ? "b2a" : "a2b"), (unsigned long long)sent,
               (unsigned long long)expected, (unsigned long long)recv, (unsigned long long)lost,
               expected ? 100.0 * (double)lost / (double)expected : 100.0);
        if (conf)
            printf("\"rate_pct\":%.2f,", sent ? 100.0 * (double)recv / (double)sent : 0.0);
        print_dist("jitter_us", pool, n);
        printf(",");
        print_dist("rfc3550_us", jit, nj);
        printf("}");
        free(pool);
        free(jit);
    }
    printf("},\"jitter_measure\":\"%s\"}\n",
           conf ? "arrival - rtp_ts/8kHz minus its per-stream minimum"
                : "transit - per-stream minimum transit (transit = kernel arrival - send time)");
    return 0;
}
