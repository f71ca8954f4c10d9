/* hello: the Knative helloworld sample as a tiny static HTTP server, for an image FROM scratch.
 *
 * Answers every request with "Hello <TARGET>! (revision <K_REVISION>)" on $PORT (default 8080), as
 * the runtime contract asks (examples/hello/app.py is the same app as a Python process). Listens on
 * every address, as Knative's helloworld-go does (":" + port): in a container that is the instance's
 * own network namespace. HTTP/1.1 keep-alive, many connections at once (one poll loop, no threads),
 * request bodies read and dropped. Logs one line per request on stderr; exits on SIGTERM or SIGINT.
 *
 * Build: gcc -static -O2 -o hello hello.c   (the Containerfile copies the binary into scratch)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define BUF_SIZE 8192

struct conn {
    int fd;
    size_t used;          /* bytes in buf */
    long long body_left;  /* request body bytes still to drop */
    char buf[BUF_SIZE];
};

static volatile sig_atomic_t stopping;
static struct conn *conns[MAX_CONNS + 1];
static struct pollfd fds[MAX_CONNS + 1];
static char body[512];
static int body_len;

static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
}

static const char *header(const char *head, const char *end, const char *name) {
    size_t n = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line && line + 2 < end; line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if ((size_t)(end - h) > n && strncasecmp(h, name, n) == 0 && h[n] == ':') {
            h += n + 1;
            while (*h == ' ' || *h == '\t') h++;
            return h;
        }
    }
    return NULL;
}

/* Answers one complete request head at c->buf[0..head_len); returns 0 to keep the connection. */
static int respond(struct conn *c, size_t head_len) {
    char *head = c->buf;
    head[head_len - 1] = '\0';
    const char *end = head + head_len - 1;
    const char *sp = strchr(head, ' ');
    const char *sp2 = sp ? strchr(sp + 1, ' ') : NULL;
    int http10 = sp2 && strncmp(sp2 + 1, "HTTP/1.0", 8) == 0;
    const char *connection = header(head, end, "Connection");
    int close_after = http10 ? !(connection && strncasecmp(connection, "keep-alive", 10) == 0)
                             : (connection && strncasecmp(connection, "close", 5) == 0);
    const char *length = header(head, end, "Content-Length");
    if (header(head, end, "Transfer-Encoding")) close_after = 1; /* chunked bodies: answer, then close */
    c->body_left = length ? atoll(length) : 0;
    char out[1024];
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n%s\r\n%s",
                     body_len, close_after ? "Connection: close\r\n" : "", body);
    int line = sp2 ? (int)(sp2 - head) : (int)strcspn(head, "\r");
    fprintf(stderr, "\"%.*s\" 200 %d\n", line > 200 ? 200 : line, head, body_len);
    if (send(c->fd, out, (size_t)n, MSG_NOSIGNAL) != n) return -1; /* a small answer: all or nothing */
    return close_after ? -1 : 0;
}

/* Reads what the connection has; returns -1 when it is to be closed. */
static int serve(struct conn *c) {
    ssize_t got = recv(c->fd, c->buf + c->used, BUF_SIZE - 1 - c->used, 0);
    if (got <= 0) return got < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
    c->used += (size_t)got;
    for (;;) {
        if (c->body_left > 0) {
            size_t drop = c->used < (size_t)c->body_left ? c->used : (size_t)c->body_left;
            memmove(c->buf, c->buf + drop, c->used - drop);
            c->used -= drop;
            c->body_left -= (long long)drop;
            if (c->body_left > 0) return 0;
        }
        c->buf[c->used] = '\0';
        char *end = strstr(c->buf, "\r\n\r\n");
        if (!end) return c->used >= BUF_SIZE - 1 ? -1 : 0; /* a head larger than the buffer: close */
        size_t head_len = (size_t)(end - c->buf) + 4;
        if (respond(c, head_len) < 0) return -1;
        memmove(c->buf, c->buf + head_len, c->used - head_len);
        c->used -= head_len;
    }
}

int main(void) {
    const char *port_env = getenv("PORT");
    int port = port_env && *port_env ? atoi(port_env) : 8080;
    const char *target = getenv("TARGET");
    const char *revision = getenv("K_REVISION");
    body_len = snprintf(body, sizeof body, "Hello %s! (revision %s)\n", target && *target ? target : "World",
                        revision && *revision ? revision : "?");
    if (body_len >= (int)sizeof body) body_len = (int)sizeof body - 1;

    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: poll returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int v6 = lfd >= 0;
    if (!v6) lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, zero = 0;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int bound;
    if (v6) {
        setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((unsigned short)port),
                                  .sin6_addr = IN6ADDR_ANY_INIT};
        bound = bind(lfd, (struct sockaddr *)&a6, sizeof a6);
    } else {
        struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port),
                                 .sin_addr.s_addr = htonl(INADDR_ANY)};
        bound = bind(lfd, (struct sockaddr *)&a4, sizeof a4);
    }
    if (lfd < 0 || bound < 0 || listen(lfd, 1024) < 0) {
        perror("hello: listen");
        return 1;
    }
    printf("hello listening on :%d\n", port);
    fflush(stdout);

    fds[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
    int nfds = 1;
    while (!stopping) {
        if (poll(fds, (nfds_t)nfds, -1) < 0) {
            if (errno == EINTR) continue;
            perror("hello: poll");
            return 1;
        }
        for (int i = nfds - 1; i >= 1; i--) {
            if (!fds[i].revents) continue;
            if (serve(conns[i]) < 0) {
                close(fds[i].fd);
                free(conns[i]);
                nfds--;
                fds[i] = fds[nfds];
                conns[i] = conns[nfds];
            }
        }
        if (fds[0].revents & POLLIN) {
            int fd;
            while (nfds <= MAX_CONNS && (fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                struct conn *c = calloc(1, sizeof *c);
                if (!c) {
                    close(fd);
                    break;
                }
                c->fd = fd;
                conns[nfds] = c;
                fds[nfds] = (struct pollfd){.fd = fd, .events = POLLIN};
                nfds++;
            }
        }
    }
    return 0;
}
