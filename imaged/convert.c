/* convert.c — qemu-img as a child process (fork + execvp, never a shell; the
 * arguments from clients can't reach one): `qemu-img info --output=json` to learn
 * what an upload really is (once inspect.c has passed its header), the checks
 * Glance's import workflow makes on it, and `qemu-img convert` into a raw RBD
 * image.  Every run has a deadline after which the child's process group is killed. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "convert.h"
#include "inspect.h"
#include "strata/log.h"

#define QEMU_IMG            "qemu-img"
#define PROBE_TIMEOUT_S     120
#define CONVERT_TIMEOUT_S   3600
#define PROBE_MEM_LIMIT     (1024ull << 20) /* like Glance/Nova: qemu-img info under 1 GiB */
#define STDOUT_MAX          (4u << 20)
#define STDERR_MAX          (64u << 10)

/* ---- running a child ---- */

struct capture {
    char *buf;
    size_t len, max;
};

static void capture_add(struct capture *c, const char *p, size_t n)
{
    char *grown;

    if (c->len + n > c->max)
        n = c->max - c->len; /* the rest is dropped (still drained) */
    if (!n)
        return;
    grown = realloc(c->buf, c->len + n + 1);
    if (!grown)
        return;
    c->buf = grown;
    memcpy(c->buf + c->len, p, n);
    c->len += n;
    c->buf[c->len] = '\0';
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* In the child: only async-signal-safe calls, then exec. */
static void child_exec(char *const argv[], int out_fd, int err_fd, int report_fd,
                       unsigned cpu_s, uint64_t mem_limit)
{
    sigset_t none;
    int null_fd, e;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    setpgid(0, 0);
    null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0)
        dup2(null_fd, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    /* Nothing of the daemon's (sockets, files) reaches qemu-img. */
    close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
    if (cpu_s) {
        struct rlimit rl = {cpu_s, cpu_s};

        setrlimit(RLIMIT_CPU, &rl);
    }
    if (mem_limit) {
        struct rlimit rl = {mem_limit, mem_limit};

        setrlimit(RLIMIT_AS, &rl);
    }
    execvp(argv[0], argv);
    e = errno;
    if (write(report_fd, &e, sizeof(e)) < 0)
        _exit(126);
    _exit(127);
}

/* Run argv; *status gets the wait status.  -ETIMEDOUT (child killed) or
 * -errno when it could not start. */
static int run(char *const argv[], unsigned timeout_s, uint64_t mem_limit, struct capture *out,
               struct capture *err, int *status)
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1}, pr[2] = {-1, -1};
    int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
    bool timed_out = false;
    pid_t pid = -1;
    int rc = 0, e = 0;
    ssize_t n;

    if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 || pipe2(pr, O_CLOEXEC) < 0) {
        rc = -errno;
        st_error("cannot make pipes for %s: %s", argv[0], strerror(-rc));
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        rc = -errno;
        st_error("cannot fork for %s: %s", argv[0], strerror(-rc));
        goto out;
    }
    if (pid == 0)
        child_exec(argv, po[1], pe[1], pr[1], timeout_s + 1, mem_limit);
    setpgid(pid, pid); /* also done by the child: whichever runs first */
    close(po[1]);
    close(pe[1]);
    close(pr[1]);
    po[1] = pe[1] = pr[1] = -1;
    do
        n = read(pr[0], &e, sizeof(e));
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof(e)) {
        rc = -e;
        st_error("cannot run %s: %s", argv[0], strerror(e));
        waitpid(pid, NULL, 0);
        pid = -1;
        goto out;
    }
    while (po[0] >= 0 || pe[0] >= 0) {
        struct pollfd pf[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
        int64_t left = deadline - now_ms();
        char chunk[16384];

        if (left <= 0) {
            timed_out = true;
            break;
        }
        if (poll(pf, 2, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR) {
            rc = -errno;
            st_error("poll on %s failed: %s", argv[0], strerror(-rc));
            break;
        }
        for (int i = 0; i < 2; i++) {
            int *fd = i == 0 ? &po[0] : &pe[0];

            if (*fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            n = read(*fd, chunk, sizeof(chunk));
            if (n > 0) {
                capture_add(i == 0 ? out : err, chunk, (size_t)n);
            } else if (n == 0 || errno != EINTR) {
                close(*fd);
                *fd = -1;
            }
        }
    }
    /* Output closed: the child is exiting; wait for it, still bounded. */
    while (!timed_out && rc == 0) {
        pid_t w = waitpid(pid, status, WNOHANG);

        if (w == pid) {
            pid = -1;
            break;
        }
        if (w < 0 && errno != EINTR) {
            rc = -errno;
            st_error("waitpid for %s failed: %s", argv[0], strerror(-rc));
            break;
        }
        if (now_ms() >= deadline) {
            timed_out = true;
            break;
        }
        nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
    }
    if (timed_out) {
        st_error("%s %s did not finish within %u s: killed", argv[0], argv[1], timeout_s);
        rc = -ETIMEDOUT;
    }
out:
    if (pid > 0) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    for (int i = 0; i < 2; i++) {
        if (po[i] >= 0)
            close(po[i]);
        if (pe[i] >= 0)
            close(pe[i]);
        if (pr[i] >= 0)
            close(pr[i]);
    }
    return rc;
}

/* The gist of qemu-img's last stderr line, without paths: the text after the
 * last ": " ("Image is not in qcow2 format"). */
static void stderr_gist(const struct capture *err, char *out, size_t outlen)
{
    const char *s = err->buf ? err->buf : "", *line = s, *p, *gist;
    size_t n;

    for (p = s; *p; p++)
        if (*p == '\n' && p[1])
            line = p + 1;
    n = strcspn(line, "\n");
    gist = line;
    for (p = line; p + 1 < line + n; p++)
        if (p[0] == ':' && p[1] == ' ')
            gist = p + 2;
    n -= (size_t)(gist - line);
    if (n == 0) {
        gist = "no reason given";
        n = strlen(gist);
    }
    snprintf(out, outlen, "%.*s", (int)n, gist);
}

/* A path qemu-img takes as a file, never as a protocol ("nbd:...", "json:..."). */
static char *file_arg(const char *path)
{
    char *s;

    if (path[0] == '/')
        return strdup(path);
    if (asprintf(&s, "./%s", path) < 0)
        return NULL;
    return s;
}

/* ---- probe ---- */

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int probe_parse(const char *text, struct img_probe *out)
{
    json_t *root = json_loads(text, 0, NULL), *data, *v;
    const char *fmt, *s;
    int rc = 0;

    if (!json_is_object(root)) {
        rc = -EINVAL;
        goto out;
    }
    memset(out, 0, sizeof(*out));
    fmt = jstr(root, "format");
    v = json_object_get(root, "virtual-size");
    if (!fmt || !json_is_integer(v) || json_integer_value(v) < 0) {
        rc = -EINVAL;
        goto out;
    }
    snprintf(out->format, sizeof(out->format), "%s", fmt);
    out->virtual_size = (uint64_t)json_integer_value(v);
    v = json_object_get(root, "actual-size");
    if (json_is_integer(v) && json_integer_value(v) > 0)
        out->actual_size = (uint64_t)json_integer_value(v);
    out->has_backing_file = json_object_get(root, "backing-filename") != NULL ||
                            json_object_get(root, "full-backing-filename") != NULL;
    out->encrypted = json_is_true(json_object_get(root, "encrypted"));
    data = json_object_get(json_object_get(root, "format-specific"), "data");
    if (json_object_get(data, "data-file"))
        out->has_data_file = true;
    if (json_object_get(data, "encrypt"))
        out->encrypted = true;
    /* vmdk: only the self-contained kinds; a descriptor may name any host file
     * as an extent (the trick of CVE-2024-32498). */
    s = jstr(data, "create-type");
    if (strcmp(fmt, "vmdk") == 0 &&
        (!s || (strcmp(s, "monolithicSparse") != 0 && strcmp(s, "streamOptimized") != 0)))
        out->has_data_file = true;
out:
    json_decref(root);
    return rc;
}

int img_probe_file(const char *path, unsigned timeout_s, struct img_probe *out, char *msg,
                   size_t msglen)
{
    struct capture o = {NULL, 0, STDOUT_MAX}, e = {NULL, 0, STDERR_MAX};
    char *file = NULL, gist[256];
    int status = 0, rc;

    if (msg && msglen)
        msg[0] = '\0';
    if (!path || !path[0] || !out)
        return -EINVAL;
    /* qemu-img info opens what a header names (data files, extents): the
     * header is inspected first, and what it refuses qemu-img never sees. */
    rc = img_inspect_file(path, msg, msglen);
    if (rc < 0) {
        if (!msg[0])
            snprintf(msg, msglen, "the image data cannot be read: %s", strerror(-rc));
        st_info("image file %s refused before qemu-img: %s", path, msg);
        rc = -EINVAL;
        goto out;
    }
    file = file_arg(path);
    if (!file) {
        rc = -ENOMEM;
        goto out;
    }
    {
        char *argv[] = {QEMU_IMG, "info", "--output=json", "-U", file, NULL};

        rc = run(argv, timeout_s ? timeout_s : PROBE_TIMEOUT_S, PROBE_MEM_LIMIT, &o, &e,
                 &status);
    }
    if (rc == -ETIMEDOUT) {
        /* A file whose inspection takes this long is treated as bad data. */
        snprintf(msg, msglen, "the image could not be inspected in time");
        rc = -EINVAL;
        goto out;
    }
    if (rc < 0) {
        snprintf(msg, msglen, "the image could not be inspected");
        goto out;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        stderr_gist(&e, gist, sizeof(gist));
        st_info("qemu-img info %s failed (status %d): %s", path, status,
                e.buf ? e.buf : "");
        snprintf(msg, msglen, "the image data cannot be read: %s", gist);
        rc = -EINVAL;
        goto out;
    }
    rc = probe_parse(o.buf ? o.buf : "", out);
    if (rc < 0) {
        st_error("qemu-img info %s: unexpected output", path);
        snprintf(msg, msglen, "the image data cannot be read");
    }
out:
    free(o.buf);
    free(e.buf);
    free(file);
    return rc;
}

/* ---- checks ---- */

/* Glance disk_format -> the format qemu-img reports for such data. */
static const struct {
    const char *glance, *qemu;
    bool convert;
} FORMATS[] = {
    {"raw", "raw", false},        {"qcow2", "qcow2", true},   {"vmdk", "vmdk", true},
    {"vdi", "vdi", true},         {"vhd", "vpc", true},       {"vhdx", "vhdx", true},
    {"iso", "raw", false},        {"ploop", "parallels", true}, {"ami", "raw", false},
    {"ari", "raw", false},        {"aki", "raw", false},
};

static int format_index(const char *glance)
{
    for (size_t i = 0; glance && i < sizeof(FORMATS) / sizeof(FORMATS[0]); i++)
        if (strcmp(FORMATS[i].glance, glance) == 0)
            return (int)i;
    return -1;
}

/* How a client would name what qemu-img found (vpc is "vhd" to Glance). */
static const char *glance_name(const char *qemu)
{
    if (strcmp(qemu, "vpc") == 0)
        return "vhd";
    if (strcmp(qemu, "parallels") == 0)
        return "ploop";
    return qemu;
}

static void size_text(uint64_t v, char *buf, size_t len)
{
    if (v && v % (1ull << 30) == 0)
        snprintf(buf, len, "%" PRIu64 " GiB", v >> 30);
    else if (v && v % (1ull << 20) == 0)
        snprintf(buf, len, "%" PRIu64 " MiB", v >> 20);
    else
        snprintf(buf, len, "%" PRIu64 " bytes", v);
}

int img_probe_check(const struct img_probe *p, const char *declared_disk_format,
                    uint64_t max_virtual_size, char *msg, size_t msglen)
{
    int i = format_index(declared_disk_format);

    if (i < 0) {
        snprintf(msg, msglen, "disk_format %s is not supported",
                 declared_disk_format ? declared_disk_format : "(none)");
        return -EINVAL;
    }
    if (strcmp(FORMATS[i].qemu, p->format) != 0) {
        snprintf(msg, msglen, "disk_format is %s but the data is %s", declared_disk_format,
                 glance_name(p->format));
        return -EINVAL;
    }
    if (p->has_backing_file) {
        snprintf(msg, msglen, "%s images with a backing file are refused",
                 declared_disk_format);
        return -EINVAL;
    }
    if (p->has_data_file) {
        snprintf(msg, msglen, "%s images with an external data file are refused",
                 declared_disk_format);
        return -EINVAL;
    }
    if (p->encrypted) {
        snprintf(msg, msglen, "encrypted %s images are refused", declared_disk_format);
        return -EINVAL;
    }
    if (max_virtual_size && p->virtual_size > max_virtual_size) {
        char have[32], lim[32];

        size_text(p->virtual_size, have, sizeof(have));
        size_text(max_virtual_size, lim, sizeof(lim));
        snprintf(msg, msglen, "virtual size %s exceeds the limit of %s", have, lim);
        return -EINVAL;
    }
    return 0;
}

bool img_format_needs_conversion(const char *disk_format)
{
    int i = format_index(disk_format);

    return i >= 0 && FORMATS[i].convert;
}

/* ---- conversion ---- */

/* qemu-img convert -f fmt -O raw src dst (a file).  what names the
 * destination in log lines. */
static int convert_run(const char *src, const char *src_format, const char *dst,
                       const char *what, unsigned timeout_s, char *msg, size_t msglen)
{
    struct capture o = {NULL, 0, STDERR_MAX}, e = {NULL, 0, STDERR_MAX};
    char gist[256];
    int status = 0, rc;
    /* -W: out-of-order writes (the target is new), so qemu-img's coroutines
     * write at once; zeros are detected and not written (-S 4k default). */
    char *argv[] = {QEMU_IMG, "convert", "-W", "-f", (char *)src_format, "-O", "raw",
                    (char *)src, (char *)dst, NULL};

    if (!timeout_s)
        timeout_s = CONVERT_TIMEOUT_S;
    rc = run(argv, timeout_s, 0, &o, &e, &status);
    if (rc == -ETIMEDOUT) {
        snprintf(msg, msglen, "conversion did not finish within %u s", timeout_s);
    } else if (rc < 0) {
        snprintf(msg, msglen, "conversion could not start");
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        stderr_gist(&e, gist, sizeof(gist));
        st_error("qemu-img convert %s (%s) to %s failed (status %d): %s", src, src_format,
                 what, status, e.buf ? e.buf : "");
        snprintf(msg, msglen, "conversion failed: %s", gist);
        rc = strstr(gist, "exists") ? -EEXIST : -EIO;
    }
    free(o.buf);
    free(e.buf);
    return rc;
}

int img_convert_to_raw_file(const char *src, const char *src_format, const char *dst,
                            unsigned timeout_s, char *msg, size_t msglen)
{
    char *file = NULL, *out = NULL;
    int rc;

    if (msg && msglen)
        msg[0] = '\0';
    if (!src || !src[0] || !src_format || !src_format[0] || !dst || !dst[0])
        return -EINVAL;
    file = file_arg(src);
    out = file_arg(dst);
    if (!file || !out)
        rc = -ENOMEM;
    else
        rc = convert_run(file, src_format, out, dst, timeout_s, msg, msglen);
    free(file);
    free(out);
    return rc;
}
