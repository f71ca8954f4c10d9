/* toybox: one static binary, the only file of the test images (tests/runtime/images.py).
 *
 *   toybox serve [PORT] [NAME]  HTTP/1.1 on 0.0.0.0:PORT (else $PORT, else 8080), a process per
 *                               connection, keep-alive. GET /        -> "NAME\n" (NAME: else $NAME, else "toybox")
 *                                                         GET /env     -> the environment, one per line
 *                                                         GET /id      -> "uid=U gid=G pid=P\n"
 *                                                         GET /fetch/N -> the body of GET / on 127.0.0.1:N
 *                                                         GET /proxy/HOST[:P]/PATH -> GET http://HOST[:P]/PATH
 *                                                              through $http_proxy (http://127.0.0.1:N):
 *                                                              "STATUS\n" then the body
 *                                                         GET /cat/F   -> the file /F, or 404
 *                                                         GET /touch/F -> creates /F (for probes), 200 or 500
 *                                                         GET /write/F -> writes "9" into the file /F (no
 *                                                              create), 200 or 500 with the error
 *                                                         GET /stat/F  -> "TYPE MODE UID" (file, dir or
 *                                                              other; octal permissions), or 404
 *                                                         GET /args    -> argv, one per line
 *                                                         GET /cwd     -> the working directory
 *                                                         GET /stdin   -> "eof", "data" or the read error
 *                                                         GET /alloc/N -> N MiB allocated and touched, then "ok"
 *                               Exits 0 on SIGTERM after "bye" on stdout.
 *   toybox exit N               exits with N (an init container that fails)
 *   toybox test F               exits 0 if the file F exists, else 1 (an exec probe)
 *   toybox touch F              creates F (an init container that succeeds)
 *   toybox say WORDS            prints WORDS on stdout, exits 0
 *
 * Build: gcc -static -O2 -o toybox toybox.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static volatile sig_atomic_t stopping;
static const char *name = "toybox";
static int saved_argc;
static char **saved_argv;

static void on_term(int sig) { (void)sig; stopping = 1; }

/* GET target from 127.0.0.1:port (Connection: close); with_status: "STATUS\n" before the body. */
static int get(int port, const char *target, const char *host, int with_status, char *out, size_t size) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) return snprintf(out, size, "connect failed\n");
    char req[2048];
    int r = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, host);
    if (write(fd, req, (size_t)r) < 0) return snprintf(out, size, "write failed\n");
    size_t used = 0;
    ssize_t n;
    char buf[8192];
    while (used < sizeof buf - 1 && (n = read(fd, buf + used, sizeof buf - 1 - used)) > 0) used += (size_t)n;
    buf[used] = '\0';
    close(fd);
    char *body = strstr(buf, "\r\n\r\n");
    int status = 0;
    sscanf(buf, "HTTP/%*s %d", &status);
    if (with_status) return snprintf(out, size, "%d\n%s", status, body ? body + 4 : "");
    return snprintf(out, size, "%s", body ? body + 4 : buf);
}

static int fetch(int port, char *out, size_t size) { return get(port, "/", "x", 0, out, size); }

/* GET http://REST through $http_proxy (only http://127.0.0.1:PORT proxies: the instance's own). */
static int via_proxy(const char *rest, char *out, size_t size) {
    const char *proxy = getenv("http_proxy");
    int port = 0;
    if (!proxy || sscanf(proxy, "http://127.0.0.1:%d", &port) != 1) return snprintf(out, size, "no http_proxy\n");
    char target[1024], host[256];
    snprintf(target, sizeof target, "http://%s", rest);
    snprintf(host, sizeof host, "%.*s", (int)strcspn(rest, "/"), rest);
    return get(port, target, host, 1, out, size);
}

static int answer(int fd, const char *path, int close_after) {
    static char body[16384];
    int status = 200, len;
    if (strcmp(path, "/env") == 0) {
        len = 0;
        for (char **e = environ; *e && len < (int)sizeof body - 1; e++)
            len += snprintf(body + len, sizeof body - (size_t)len, "%s\n", *e);
    } else if (strcmp(path, "/id") == 0) {
        len = snprintf(body, sizeof body, "uid=%d gid=%d pid=%d\n", getuid(), getgid(), getpid());
    } else if (strncmp(path, "/fetch/", 7) == 0) {
        len = fetch(atoi(path + 7), body, sizeof body);
    } else if (strncmp(path, "/proxy/", 7) == 0) {
        len = via_proxy(path + 7, body, sizeof body);
    } else if (strncmp(path, "/cat/", 5) == 0) {
        int f = open(path + 4, O_RDONLY);
        len = f < 0 ? 0 : (int)read(f, body, sizeof body - 1);
        if (f < 0 || len < 0) { status = 404; len = snprintf(body, sizeof body, "no %s\n", path + 4); }
        if (f >= 0) close(f);
    } else if (strncmp(path, "/write/", 7) == 0) {
        int f = open(path + 6, O_WRONLY);
        int ok = f >= 0 && write(f, "9", 1) == 1;
        if (!ok) status = 500;
        len = snprintf(body, sizeof body, "%s\n", ok ? "ok" : strerror(errno));
        if (f >= 0) close(f);
    } else if (strncmp(path, "/stat/", 6) == 0) {
        struct stat st;
        if (lstat(path + 5, &st) < 0) {
            status = 404;
            len = snprintf(body, sizeof body, "%s\n", strerror(errno));
        } else {
            const char *type = S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "dir" : "other";
            len = snprintf(body, sizeof body, "%s %o %d\n", type, st.st_mode & 07777, (int)st.st_uid);
        }
    } else if (strcmp(path, "/args") == 0) {
        len = 0;
        for (int i = 0; i < saved_argc && len < (int)sizeof body - 1; i++)
            len += snprintf(body + len, sizeof body - (size_t)len, "%s\n", saved_argv[i]);
    } else if (strcmp(path, "/cwd") == 0) {
        len = getcwd(body, sizeof body - 1) ? (int)strlen(body) : snprintf(body, sizeof body, "?");
        len += snprintf(body + len, sizeof body - (size_t)len, "\n");
    } else if (strcmp(path, "/stdin") == 0) {
        struct pollfd p = {.fd = 0, .events = POLLIN};
        char c;
        ssize_t n = poll(&p, 1, 1000) == 1 ? read(0, &c, 1) : -2;
        len = snprintf(body, sizeof body, "%s\n", n == 0 ? "eof" : n > 0 ? "data" : n == -2 ? "no answer" : strerror(errno));
    } else if (strncmp(path, "/alloc/", 7) == 0) {
        size_t size = (size_t)atoi(path + 7) << 20;
        char *block = malloc(size);
        if (block) for (size_t i = 0; i < size; i += 4096) block[i] = 1;
        len = snprintf(body, sizeof body, "%s\n", block ? "ok" : "no memory");
    } else if (strncmp(path, "/touch/", 7) == 0) {
        int f = open(path + 6, O_WRONLY | O_CREAT, 0644);
        if (f < 0) status = 500; else close(f);
        len = snprintf(body, sizeof body, "%s\n", f < 0 ? strerror(errno) : "ok");
    } else {
        len = snprintf(body, sizeof body, "%s\n", name);
    }
    if (len > (int)sizeof body - 1) len = (int)sizeof body - 1;
    char head[256];
    int h = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Length: %d\r\nContent-Type: text/plain\r\n%s\r\n",
                     status, status == 200 ? "OK" : "Error", len, close_after ? "Connection: close\r\n" : "");
    if (write(fd, head, (size_t)h) != h || write(fd, body, (size_t)len) != len) return -1;
    return close_after ? -1 : 0;
}

static void connection(int fd) {
    char buf[8192];
    size_t used = 0;
    for (;;) {
        ssize_t n = read(fd, buf + used, sizeof buf - 1 - used);
        if (n <= 0) return;
        used += (size_t)n;
        buf[used] = '\0';
        char *end;
        while ((end = strstr(buf, "\r\n\r\n")) != NULL) {
            *end = '\0';
            char path[1024] = "/";
            sscanf(buf, "%*s %1023s", path);
            int close_after = strcasestr(buf, "\r\nConnection: close") != NULL;
            if (answer(fd, path, close_after) < 0) return;
            size_t head = (size_t)(end + 4 - buf);
            memmove(buf, end + 4, used - head + 1);
            used -= head;
        }
        if (used >= sizeof buf - 1) return;
    }
}

static int serve(int argc, char **argv) {
    const char *env_port = getenv("PORT");
    int port = argc > 2 ? atoi(argv[2]) : env_port && *env_port ? atoi(env_port) : 8080;
    name = argc > 3 ? argv[3] : getenv("NAME") ? getenv("NAME") : name;
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGCHLD, SIG_IGN);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 128) < 0) {
        fprintf(stderr, "toybox: cannot listen on %d: %s\n", port, strerror(errno));
        return 1;
    }
    printf("listening on %d\n", port);
    fflush(stdout);
    while (!stopping) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) continue;
        if (fork() == 0) {
            close(lfd);
            connection(fd);
            _exit(0);
        }
        close(fd);
    }
    printf("bye\n");
    return 0;
}

int main(int argc, char **argv) {
    saved_argc = argc;
    saved_argv = argv;
    const char *cmd = argc > 1 ? argv[1] : "serve";
    if (strcmp(cmd, "serve") == 0) return serve(argc, argv);
    if (strcmp(cmd, "exit") == 0) return argc > 2 ? atoi(argv[2]) : 0;
    if (strcmp(cmd, "test") == 0) return argc > 2 && access(argv[2], F_OK) == 0 ? 0 : 1;
    if (strcmp(cmd, "touch") == 0) {
        int f = argc > 2 ? open(argv[2], O_WRONLY | O_CREAT, 0644) : -1;
        if (f < 0) { perror("toybox touch"); return 1; }
        return close(f);
    }
    if (strcmp(cmd, "say") == 0) {
        for (int i = 2; i < argc; i++) printf("%s%s", argv[i], i + 1 < argc ? " " : "\n");
        return 0;
    }
    fprintf(stderr, "toybox: unknown command %s\n", cmd);
    return 127;
}
