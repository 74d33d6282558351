/*
 * pushload: pushes small images from concurrent pushers, each on one keep-alive connection, so
 * that the client's own CPU stays small next to the server's on a 2-core machine (an aiohttp
 * client spent about as much CPU per image as Berth's two workers spent on a third of it).
 * Built at run time by benchmarks/loadgen.py; never commit a binary.
 *
 *   pushload HOST PORT REPO PUSHERS FILE [HEADER ...]
 *
 * FILE holds the images one after another, each as
 *   "image BLOBS\n", then BLOBS times "blob DIGEST SIZE\n" and SIZE bytes,
 *   then "manifest MEDIA_TYPE SIZE\n" and SIZE bytes.
 * Image i is pushed as tag "i<i>": per blob a POST to open an upload and a PUT of the whole blob
 * with its digest, then the manifest PUT. Pushers take the next image as they finish one.
 * Prints one JSON line: images (pushed), failed, seconds, cpu_seconds (this process), error
 * (the first failure, or null).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX 16384
#define LINE_MAX_ 512

typedef struct {
    char digest[LINE_MAX_];
    char *data;
    size_t size;
} blob_t;

typedef struct {
    int nblobs;
    blob_t *blobs;
    char media_type[LINE_MAX_];
    char *manifest;
    size_t manifest_size;
} image_t;

typedef struct {
    int fd;
    char buf[HEAD_MAX + 1];
    size_t got; /* bytes in buf past the previous response */
    char location[HEAD_MAX];
} conn_t;

static struct sockaddr_in addr;
static const char *host, *port, *repo;
static char extra_headers[8192];
static image_t *images;
static int nimages;
static atomic_int next_image, pushed, failed;
static pthread_mutex_t error_lock = PTHREAD_MUTEX_INITIALIZER;
static char first_error[1024];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(const char *what, int status, const char *detail) {
    pthread_mutex_lock(&error_lock);
    if (!first_error[0])
        snprintf(first_error, sizeof first_error, "%s: status %d %.200s", what, status,
                 detail ? detail : "");
    pthread_mutex_unlock(&error_lock);
}

static int open_conn(conn_t *c) {
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    c->got = 0;
    if (c->fd < 0) return -1;
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0) return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 0;
}

static int send_all(int fd, struct iovec *iov, int n) {
    while (n > 0) {
        ssize_t k = writev(fd, iov, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        while (n > 0 && (size_t)k >= iov->iov_len) {
            k -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + k;
            iov->iov_len -= (size_t)k;
        }
    }
    return 0;
}

/* One request; returns the status, or -1 on a broken connection. The Location header, if any,
 * is left in c->location; the response body is read and dropped. */
static int request(conn_t *c, const char *method, const char *path, const char *content_type,
                   const char *body, size_t size) {
    char head[HEAD_MAX];
    int len = snprintf(head, sizeof head,
                       "%s %s HTTP/1.1\r\nHost: %s:%s\r\n%sContent-Length: %zu\r\n", method, path,
                       host, port, extra_headers, size);
    if (content_type)
        len += snprintf(head + len, sizeof head - len, "Content-Type: %s\r\n", content_type);
    len += snprintf(head + len, sizeof head - len, "\r\n");
    if (len >= (int)sizeof head) return -1;
    struct iovec iov[2] = {{head, (size_t)len}, {(void *)body, size}};
    if (send_all(c->fd, iov, size ? 2 : 1) < 0) return -1;

    char *end;
    for (;;) {
        c->buf[c->got] = '\0';
        end = strstr(c->buf, "\r\n\r\n");
        if (end) break;
        if (c->got >= HEAD_MAX) return -1;
        ssize_t k = recv(c->fd, c->buf + c->got, HEAD_MAX - c->got, 0);
        if (k <= 0) return -1;
        c->got += (size_t)k;
    }
    *end = '\0';
    int status = 0;
    if (sscanf(c->buf, "HTTP/1.%*d %d", &status) != 1) return -1;
    size_t length = 0;
    c->location[0] = '\0';
    for (char *line = strstr(c->buf, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        char *value = strchr(line + 2, ':');
        if (!value) continue;
        size_t name = (size_t)(value - (line + 2));
        value++;
        while (*value == ' ') value++;
        char *stop = strstr(value, "\r\n");
        size_t vlen = stop ? (size_t)(stop - value) : strlen(value);
        if (name == 14 && !strncasecmp(line + 2, "content-length", 14))
            length = strtoull(value, NULL, 10);
        else if (name == 8 && !strncasecmp(line + 2, "location", 8) && vlen < sizeof c->location) {
            memcpy(c->location, value, vlen);
            c->location[vlen] = '\0';
        }
    }
    size_t head_len = (size_t)(end + 4 - c->buf), have = c->got - head_len;
    if (have > length) return -1; /* one request at a time: nothing may follow the body */
    size_t left = length - have;
    c->got = 0;
    while (left > 0) {
        ssize_t k = recv(c->fd, c->buf, left < HEAD_MAX ? left : HEAD_MAX, 0);
        if (k <= 0) return -1;
        left -= (size_t)k;
    }
    return status;
}

/* The path of an upload Location (absolute or relative) with the digest appended. */
static int upload_target(const char *location, const char *digest, char *out, size_t cap) {
    const char *path = location;
    if (!strncmp(path, "http://", 7) || !strncmp(path, "https://", 8)) {
        path = strchr(strstr(path, "//") + 2, '/');
        if (!path) return -1;
    }
    int n = snprintf(out, cap, "%s%sdigest=%s", path, strchr(path, '?') ? "&" : "?", digest);
    return n < (int)cap ? 0 : -1;
}

static int push_image(conn_t *c, int i) {
    const image_t *img = &images[i];
    char path[HEAD_MAX];
    snprintf(path, sizeof path, "/v2/%s/blobs/uploads/", repo);
    for (int b = 0; b < img->nblobs; b++) {
        const blob_t *blob = &img->blobs[b];
        int status = request(c, "POST", path, NULL, NULL, 0);
        if (status != 202) return fail("POST upload", status, NULL), -1;
        char target[HEAD_MAX];
        if (upload_target(c->location, blob->digest, target, sizeof target) < 0)
            return fail("POST upload Location", status, c->location), -1;
        status = request(c, "PUT", target, "application/octet-stream", blob->data, blob->size);
        if (status != 201) return fail("PUT upload", status, blob->digest), -1;
    }
    char manifest_path[HEAD_MAX];
    snprintf(manifest_path, sizeof manifest_path, "/v2/%s/manifests/i%d", repo, i);
    int status = request(c, "PUT", manifest_path, img->media_type, img->manifest,
                         img->manifest_size);
    if (status != 201) return fail("PUT manifest", status, manifest_path), -1;
    return 0;
}

static void *pusher(void *arg) {
    (void)arg;
    conn_t *c = malloc(sizeof *c);
    if (!c || open_conn(c) < 0) {
        fail("connect", 0, strerror(errno));
        free(c);
        return NULL;
    }
    for (int i; (i = atomic_fetch_add(&next_image, 1)) < nimages;) {
        if (push_image(c, i) == 0) {
            atomic_fetch_add(&pushed, 1);
            continue;
        }
        atomic_fetch_add(&failed, 1);
        close(c->fd); /* the connection may be mid-response: start a new one */
        if (open_conn(c) < 0) {
            fail("reconnect", 0, strerror(errno));
            break;
        }
    }
    close(c->fd);
    free(c);
    return NULL;
}

static char *read_bytes(FILE *f, size_t size) {
    char *data = malloc(size ? size : 1);
    if (!data || fread(data, 1, size, f) != size) return NULL;
    return data;
}

static int load(const char *file) {
    FILE *f = fopen(file, "rb");
    if (!f) return -1;
    char line[LINE_MAX_];
    int cap = 0;
    while (fgets(line, sizeof line, f)) {
        if (nimages == cap) {
            cap = cap ? cap * 2 : 256;
            images = realloc(images, (size_t)cap * sizeof *images);
        }
        image_t *img = &images[nimages];
        if (sscanf(line, "image %d", &img->nblobs) != 1 || img->nblobs < 0) return -1;
        img->blobs = calloc((size_t)img->nblobs + 1, sizeof *img->blobs);
        for (int b = 0; b < img->nblobs; b++) {
            blob_t *blob = &img->blobs[b];
            if (!fgets(line, sizeof line, f) || sscanf(line, "blob %400s %zu", blob->digest,
                                                       &blob->size) != 2)
                return -1;
            if (!(blob->data = read_bytes(f, blob->size))) return -1;
        }
        if (!fgets(line, sizeof line, f) ||
            sscanf(line, "manifest %400s %zu", img->media_type, &img->manifest_size) != 2)
            return -1;
        if (!(img->manifest = read_bytes(f, img->manifest_size))) return -1;
        nimages++;
    }
    fclose(f);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s HOST PORT REPO PUSHERS FILE [HEADER ...]\n", argv[0]);
        return 2;
    }
    host = argv[1];
    port = argv[2];
    repo = argv[3];
    int pushers = atoi(argv[4]);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)atoi(port));
    if (pushers < 1 || pushers > 1024 || inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "bad arguments (HOST must be an IPv4 address)\n");
        return 2;
    }
    size_t len = 0;
    for (int i = 6; i < argc; i++) {
        int n = snprintf(extra_headers + len, sizeof extra_headers - len, "%s\r\n", argv[i]);
        if (n < 0 || (len += (size_t)n) >= sizeof extra_headers) {
            fprintf(stderr, "headers too large\n");
            return 2;
        }
    }
    if (load(argv[5]) < 0) {
        fprintf(stderr, "cannot read images from %s\n", argv[5]);
        return 2;
    }

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu0 = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
                  ru.ru_stime.tv_usec / 1e6;
    pthread_t *threads = calloc((size_t)pushers, sizeof *threads);
    double start = now();
    for (int t = 0; t < pushers; t++) pthread_create(&threads[t], NULL, pusher, NULL);
    for (int t = 0; t < pushers; t++) pthread_join(threads[t], NULL);
    double elapsed = now() - start;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
                 ru.ru_stime.tv_usec / 1e6 - cpu0;
    /* The error is JSON-quoted the simple way: it holds no quote or backslash but by accident. */
    for (char *p = first_error; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) *p = '?';
    printf("{\"images\": %d, \"failed\": %d, \"seconds\": %.4f, \"cpu_seconds\": %.4f, "
           "\"error\": %s%s%s}\n",
           atomic_load(&pushed), atomic_load(&failed), elapsed, cpu, first_error[0] ? "\"" : "",
           first_error[0] ? first_error : "null", first_error[0] ? "\"" : "");
    return 0;
}
