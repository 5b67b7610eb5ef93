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
