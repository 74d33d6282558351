/*
 * headload: a tiny keep-alive HEAD load generator (wrk cannot do HEAD against responses that carry
 * Content-Length but no body).  Built at run time by benchmarks/loadgen.py; never commit a binary.
 *
 *   headload HOST PORT PATH CONNECTIONS THREADS SECONDS [HEADER ...]
 *
 * Each thread owns CONNECTIONS/THREADS connections in its own epoll set; every connection sends one
 * HEAD at a time and the next as soon as the response headers have arrived.  Prints one JSON line:
 * requests, ok (status 200), non_200, errors, seconds, rps (of 200s), p50_ms, p99_ms.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE 16384

typedef struct {
    int fd;
    size_t sent;
    size_t got;
    double started;
    char buf[BUF_SIZE];
} conn_t;

typedef struct {
    int nconns;
    conn_t *conns;
    uint32_t *lat_us; /* one latency per completed request, microseconds */
    size_t nlat, cap;
    long ok, non200, errors;
} worker_t;

static struct sockaddr_in addr;
static char request[8192];
static size_t request_len;
static double deadline;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int open_conn(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static void record(worker_t *w, double seconds) {
    if (w->nlat == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 65536;
        w->lat_us = realloc(w->lat_us, w->cap * sizeof *w->lat_us);
        if (!w->lat_us) {
            perror("realloc");
            exit(2);
        }
    }
    w->lat_us[w->nlat++] = (uint32_t)(seconds * 1e6);
}

/* Send (the rest of) the request; returns -1 on a broken connection. */
static int send_request(conn_t *c) {
    if (c->sent == 0) c->started = now();
    while (c->sent < request_len) {
        ssize_t n = send(c->fd, request + c->sent, request_len - c->sent, MSG_NOSIGNAL);
        if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
        c->sent += (size_t)n;
    }
    return 0;
}

static int reconnect(int ep, conn_t *c) {
    if (c->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = open_conn();
    c->sent = c->got = 0;
    if (c->fd < 0) return -1;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    return send_request(c);
}

/* Read what is there; on complete headers record the response and send the next request. */
static int on_readable(worker_t *w, conn_t *c) {
    for (;;) {
        ssize_t n = recv(c->fd, c->buf + c->got, BUF_SIZE - 1 - c->got, 0);
        if (n == 0) return -1;
        if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
        c->got += (size_t)n;
        c->buf[c->got] = '\0';
        char *end = strstr(c->buf, "\r\n\r\n");
        if (!end) {
            if (c->got >= BUF_SIZE - 1) return -1; /* headers too large */
            continue;
        }
        if (c->got != (size_t)(end + 4 - c->buf)) return -1; /* a HEAD response has no body */
        int status = 0;
        if (sscanf(c->buf, "HTTP/1.%*d %d", &status) != 1) return -1;
        double t = now();
        record(w, t - c->started);
        if (status == 200) w->ok++;
        else w->non200++;
        int closing = strcasestr(c->buf, "\r\nconnection: close") != NULL;
        c->sent = c->got = 0;
        if (t >= deadline) return 1;
        if (closing) return -1;
        if (send_request(c) < 0) return -1;
    }
}

static void *run_worker(void *arg) {
    worker_t *w = arg;
    int ep = epoll_create1(0);
    for (int i = 0; i < w->nconns; i++) {
        w->conns[i].fd = -1;
        if (reconnect(ep, &w->conns[i]) < 0) w->errors++;
    }
    struct epoll_event events[256];
    while (now() < deadline) {
        int n = epoll_wait(ep, events, 256, 100);
        for (int i = 0; i < n; i++) {
            conn_t *c = events[i].data.ptr;
            if (c->fd < 0) continue;
            int rc = 0;
            if (events[i].events & EPOLLOUT && c->sent < request_len) rc = send_request(c);
            if (rc == 0 && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                rc = on_readable(w, c);
            if (rc < 0) {
                w->errors++;
                if (now() < deadline && reconnect(ep, c) < 0) w->errors++;
            }
        }
    }
    for (int i = 0; i < w->nconns; i++)
        if (w->conns[i].fd >= 0) close(w->conns[i].fd);
    close(ep);
    return NULL;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: %s HOST PORT PATH CONNECTIONS THREADS SECONDS [HEADER ...]\n",
                argv[0]);
        return 2;
    }
    int nconns = atoi(argv[4]), nthreads = atoi(argv[5]);
    double seconds = atof(argv[6]);
    if (nconns < 1 || nthreads < 1 || seconds <= 0 || seconds > 600) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    if (nthreads > nconns) nthreads = nconns;
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
        fprintf(stderr, "HOST must be an IPv4 address\n");
        return 2;
    }
    int len = snprintf(request, sizeof request, "HEAD %s HTTP/1.1\r\nHost: %s:%s\r\n", argv[3],
                       argv[1], argv[2]);
    for (int i = 7; i < argc && len < (int)sizeof request; i++)
        len += snprintf(request + len, sizeof request - len, "%s\r\n", argv[i]);
    len += snprintf(request + len, sizeof request - len, "\r\n");
    if (len >= (int)sizeof request) {
        fprintf(stderr, "request too large\n");
        return 2;
    }
    request_len = (size_t)len;

    worker_t *workers = calloc((size_t)nthreads, sizeof *workers);
    pthread_t *threads = calloc((size_t)nthreads, sizeof *threads);
    double start = now();
    deadline = start + seconds;
    for (int t = 0; t < nthreads; t++) {
        workers[t].nconns = nconns / nthreads + (t < nconns % nthreads);
        workers[t].conns = calloc((size_t)workers[t].nconns, sizeof(conn_t));
        pthread_create(&threads[t], NULL, run_worker, &workers[t]);
    }
    size_t total = 0;
    long ok = 0, non200 = 0, errors = 0;
    for (int t = 0; t < nthreads; t++) {
        pthread_join(threads[t], NULL);
        total += workers[t].nlat;
        ok += workers[t].ok;
        non200 += workers[t].non200;
        errors += workers[t].errors;
    }
    double elapsed = now() - start;
    uint32_t *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int t = 0; t < nthreads; t++) {
        memcpy(all + k, workers[t].lat_us, workers[t].nlat * sizeof *all);
        k += workers[t].nlat;
    }
    qsort(all, total, sizeof *all, cmp_u32);
    double p50 = total ? all[(size_t)(0.50 * (total - 1))] / 1000.0 : 0;
    double p99 = total ? all[(size_t)(0.99 * (total - 1))] / 1000.0 : 0;
    printf("{\"requests\": %zu, \"ok\": %ld, \"non_200\": %ld, \"errors\": %ld, \"seconds\": %.3f, "
           "\"rps\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f}\n",
           total, ok, non200, errors, elapsed, ok / elapsed, p50, p99);
    return 0;
}
