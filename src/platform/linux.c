/* linux.c: the Linux part of the platform layer -- /proc and sysfs for the
 * process and machine facts, a timerfd for the nanosecond timer,
 * SO_TIMESTAMPNS for the kernel's receive stamps. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include "mlxbench/errors.h"
#include "platform_int.h"

/* No ceiling beyond the hard rlimit (fs.nr_open bounds the hard limit). */
int64_t mb_os_fd_ceiling(void)
{
    return -1;
}

/* CLOCK_THREAD_CPUTIME_ID always exists here: nothing else to ask. */
double mb_os_thread_cpu_s(void)
{
    return -1;
}

/* /proc/self/statm: size, resident (pages), ... */
int64_t mb_os_rss_bytes(void)
{
    unsigned long long size = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    long psz = sysconf(_SC_PAGESIZE);
    int ok;
    if (!f)
        return -1;
    ok = fscanf(f, "%llu %llu", &size, &res) == 2;
    fclose(f);
    return ok && psz > 0 ? (int64_t)(res * (unsigned long long)psz) : -1;
}

/* One entry per descriptor in /proc/self/fd. */
int64_t mb_os_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    int64_t n = 0;
    struct dirent *e;
    if (!d)
        return mb_posix_fd_count();
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;   /* not the one opendir itself holds */
}

/* Online CPUs from sysfs ("0-3,6"), when /proc/cpuinfo lists none (some
 * ARM kernels). 0 when unknown. */
static int sysfs_cpus(void)
{
    char s[256];
    int n = 0;
    if (mb_posix_read_line("/sys/devices/system/cpu/online", s, sizeof s) < 0)
        return 0;
    for (char *p = s; *p;) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p)
            break;
        if (*end == '-')
            b = strtol(end + 1, &end, 10);
        n += (int)(b - a + 1);
        p = *end == ',' ? end + 1 : end;
    }
    return n;
}

/* The CPU model and count from /proc/cpuinfo, the memory from
 * /proc/meminfo (MemTotal, KiB). */
void mb_os_host_info(mb_plat_host *h)
{
    char line[512];
    int n = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "processor", 9) == 0 && strchr(line, ':'))
                n++;
            if (!h->cpu_model[0] && strncmp(line, "model name", 10) == 0) {
                char *v = strchr(line, ':');
                if (v) {
                    v++;
                    while (*v == ' ' || *v == '\t')
                        v++;
                    size_t l = strcspn(v, "\n");
                    while (l && (v[l - 1] == ' ' || v[l - 1] == '\t'))
                        l--;
                    snprintf(h->cpu_model, sizeof h->cpu_model, "%.*s", (int)l, v);
                }
            }
        }
        fclose(f);
    }
    if (!n)
        n = sysfs_cpus();
    if (n > 0)
        h->cpus = n;
    f = fopen("/proc/meminfo", "r");
    if (f) {
        unsigned long long kb;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemTotal: %llu", &kb) == 1) {
                h->memory_bytes = (uint64_t)kb * 1024;
                break;
            }
        fclose(f);
    }
}

/* ---- the timer: a timerfd on CLOCK_MONOTONIC, absolute deadlines ---- */

int mb_os_timer_open(mb_ptimer *t)
{
    t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (t->fd < 0)
        return -1;
    t->kind = MB_PTIMER_TIMERFD;
    return 0;
}

int mb_os_timer_arm(mb_ptimer *t, uint64_t deadline_ns)
{
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = (time_t)(deadline_ns / 1000000000u);
    its.it_value.tv_nsec = (long)(deadline_ns % 1000000000u);
    return timerfd_settime(t->fd, TFD_TIMER_ABSTIME, &its, NULL) == 0 ? 0 : -1;
}

void mb_os_timer_disarm(mb_ptimer *t)
{
    struct itimerspec off;
    memset(&off, 0, sizeof off);
    timerfd_settime(t->fd, TFD_TIMER_ABSTIME, &off, NULL);
}

void mb_os_timer_ack(mb_ptimer *t)
{
    uint64_t expirations;
    if (read(t->fd, &expirations, sizeof expirations) < 0) {
        /* EAGAIN: a re-arm raced the wake-up; the owner re-checks anyway */
    }
}

/* ---- another process: /proc/PID/stat, /proc/net/tcp{,6}, /proc/PID/fd -- */

/* /proc/PID/stat: "pid (comm) state ppid ..." -- comm may hold spaces and
 * parentheses, so the fields are counted from the last ')'. utime and
 * stime are fields 14 and 15 (clock ticks), num_threads 20, rss 24
 * (pages). */
int mb_os_proc_sample(int64_t pid, mb_plat_proc *out)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return MB_EINVAL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *open = strchr(buf, '('), *close = strrchr(buf, ')');
    if (!open || !close || close < open)
        return MB_EIO;
    snprintf(out->name, sizeof out->name, "%.*s", (int)(close - open - 1), open + 1);
    unsigned long long ut = 0, st = 0, rss = 0;
    long long threads = 0;
    /* after ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime(14) stime(15) cutime cstime priority nice
     * num_threads(20) itrealvalue starttime vsize rss(24) */
    if (sscanf(close + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
               "%lld %*d %*u %*u %llu", &ut, &st, &threads, &rss) != 4)
        return MB_EIO;
    long tck = sysconf(_SC_CLK_TCK), psz = sysconf(_SC_PAGESIZE);
    out->cpu_s = tck > 0 ? (double)(ut + st) / (double)tck : -1;
    out->threads = (int)threads;
    out->rss_bytes = psz > 0 ? (int64_t)(rss * (unsigned long long)psz) : -1;
    return 0;
}

/* Whether a /proc/net/tcp{,6} local address is loopback or wildcard. The
 * address is hex of the in-memory words: 127.0.0.1 is "0100007F" on a
 * little-endian machine, so the byte order is undone word by word. */
static int local_addr(const char *hex, size_t n)
{
    unsigned char a[16];
    if (n != 8 && n != 32)
        return 0;
    for (size_t w = 0; w < n / 8; w++) {
        unsigned int v;
        char word[9];
        memcpy(word, hex + 8 * w, 8);
        word[8] = 0;
        if (sscanf(word, "%8x", &v) != 1)
            return 0;
        memcpy(a + 4 * w, &v, 4);   /* back to network order */
    }
    if (n == 8)
        return a[0] == 127 || (a[0] | a[1] | a[2] | a[3]) == 0;
    static const unsigned char any[16], one[16] = {[15] = 1};
    static const unsigned char v4[12] = {[10] = 0xff, [11] = 0xff};
    return memcmp(a, any, 16) == 0 || memcmp(a, one, 16) == 0 ||
           (memcmp(a, v4, 12) == 0 && (a[12] == 127 || (a[12] | a[13] | a[14] | a[15]) == 0));
}

/* The inodes of listening sockets on `port` (loopback or wildcard) in one
 * /proc/net table; returns how many were stored (at most cap). */
static size_t listen_inodes(const char *table, int port, unsigned long long *ino, size_t cap,
                            size_t have)
{
    char line[512];
    FILE *f = fopen(table, "r");
    if (!f)
        return have;
    if (!fgets(line, sizeof line, f)) {   /* the header */
        fclose(f);
        return have;
    }
    while (have < cap && fgets(line, sizeof line, f)) {
        char local[64];
        unsigned int lport, state;
        unsigned long long inode;
        /* sl local rem st tx:rx tr:tm retrnsmt uid timeout inode */
        if (sscanf(line, " %*s %63[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*s %*s %llu", local, &lport,
                   &state, &inode) != 4)
            continue;
        if (state == 0x0A && (int)lport == port && inode && local_addr(local, strlen(local)))
            ino[have++] = inode;
    }
    fclose(f);
    return have;
}

/* The lowest pid holding one of the socket inodes, found through the
 * symlinks /proc/PID/fd/N -> "socket:[INODE]". */
int mb_os_listening_pid(int port, int64_t *pid)
{
    unsigned long long ino[16];
    size_t n = listen_inodes("/proc/net/tcp", port, ino, 16, 0);
    n = listen_inodes("/proc/net/tcp6", port, ino, 16, n);
    if (!n)
        return MB_EINVAL;
    DIR *proc = opendir("/proc");
    if (!proc)
        return MB_EIO;
    struct dirent *e;
    long long best = 0;
    while ((e = readdir(proc)) != NULL) {
        char *end;
        long long p = strtoll(e->d_name, &end, 10);
        if (*end || p <= 0 || (best && p >= best))
            continue;
        char dir[64];
        snprintf(dir, sizeof dir, "/proc/%lld/fd", p);
        DIR *fds = opendir(dir);
        if (!fds)
            continue;   /* another user's process, or gone */
        struct dirent *fe;
        while ((fe = readdir(fds)) != NULL) {
            char link[384], target[64];
            if (fe->d_name[0] == '.')
                continue;
            snprintf(link, sizeof link, "%s/%.255s", dir, fe->d_name);
            ssize_t l = readlink(link, target, sizeof target - 1);
            if (l <= 8 || memcmp(target, "socket:[", 8) != 0)
                continue;
            target[l] = 0;
            unsigned long long in = strtoull(target + 8, NULL, 10);
            for (size_t k = 0; k < n; k++)
                if (ino[k] == in)
                    best = p;
        }
        closedir(fds);
    }
    closedir(proc);
    if (!best)
        return MB_EIO;
    *pid = best;
    return 0;
}

/* ---- receive stamps: SO_TIMESTAMPNS -------------------------------- */

/* The kernel then stamps every packet as it enters the stack (for
 * loopback, in the sender's transmit path), CLOCK_REALTIME in ns, and
 * recvmsg hands a TCP read the stamp of the last packet it took. */
int mb_os_rx_stamp_enable(int fd)
{
    int one = 1;
    return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) == 0;
}

const char *mb_os_rx_stamp_kind(void)
{
    return "SO_TIMESTAMPNS";
}

static int64_t from_timespec(const void *data)
{
    struct timespec ts;
    memcpy(&ts, data, sizeof ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

ssize_t mb_os_recv(int fd, void *buf, size_t n, int64_t *stamp_ns)
{
    return mb_posix_recv_stamped(fd, buf, n, SCM_TIMESTAMPNS, from_timespec, stamp_ns);
}
