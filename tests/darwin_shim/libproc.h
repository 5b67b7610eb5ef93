/* shim: <libproc.h> of macOS (and the parts of <sys/proc_info.h> it
 * includes), only what src/platform/darwin.c uses; structures keep the
 * SDK's member names, types and order up to the last member used. */
#ifndef MB_SHIM_LIBPROC_H
#define MB_SHIM_LIBPROC_H
#include <stdint.h>
#include <netinet/in.h>
#include <sys/types.h>
struct proc_fdinfo {
    int32_t proc_fd;
    uint32_t proc_fdtype;
};
#define PROC_ALL_PIDS 1
#define PROC_PIDLISTFDS 1
#define PROC_PIDLISTFD_SIZE (sizeof(struct proc_fdinfo))
#define PROC_PIDTASKINFO 4
#define PROC_PIDFDSOCKETINFO 3
#define PROX_FDTYPE_SOCKET 2
#define SOCKINFO_TCP 2
#define TSI_S_LISTEN 1
#define TSI_T_NTIMERS 4
#define INI_IPV4 0x1
#define INI_IPV6 0x2
struct proc_taskinfo {
    uint64_t pti_virtual_size;
    uint64_t pti_resident_size;
    uint64_t pti_total_user;
    uint64_t pti_total_system;
    uint64_t pti_threads_user;
    uint64_t pti_threads_system;
    int32_t pti_policy;
    int32_t pti_faults;
    int32_t pti_pageins;
    int32_t pti_cow_faults;
    int32_t pti_messages_sent;
    int32_t pti_messages_received;
    int32_t pti_syscalls_mach;
    int32_t pti_syscalls_unix;
    int32_t pti_csw;
    int32_t pti_threadnum;
    int32_t pti_numrunning;
    int32_t pti_priority;
};
struct vinfo_stat {
    uint32_t vst_dev;
    uint16_t vst_mode;
    uint16_t vst_nlink;
    uint64_t vst_ino;
    uid_t vst_uid;
    gid_t vst_gid;
    int64_t vst_atime, vst_atimensec, vst_mtime, vst_mtimensec, vst_ctime, vst_ctimensec;
    int64_t vst_birthtime, vst_birthtimensec;
    off_t vst_size;
    int64_t vst_blocks;
    int32_t vst_blksize;
    uint32_t vst_flags, vst_gen, vst_rdev;
    int64_t vst_qspare[2];
};
struct proc_fileinfo {
    uint32_t fi_openflags, fi_status;
    off_t fi_offset;
    int32_t fi_type;
    uint32_t fi_guardflags;
};
struct sockbuf_info {
    uint32_t sbi_cc, sbi_hiwat, sbi_mbcnt, sbi_mbmax, sbi_lowat;
    short sbi_flags, sbi_timeo;
};
struct in4in6_addr {
    uint32_t i46a_pad32[3];
    struct in_addr i46a_addr4;
};
struct in_sockinfo {
    int insi_fport;
    int insi_lport;
    uint64_t insi_gencnt;
    uint32_t insi_flags;
    uint32_t insi_flow;
    uint8_t insi_vflag;
    uint8_t insi_ip_ttl;
    uint32_t rfu_1;
    union { struct in4in6_addr ina_46; struct in6_addr ina_6; } insi_faddr;
    union { struct in4in6_addr ina_46; struct in6_addr ina_6; } insi_laddr;
};
struct tcp_sockinfo {
    struct in_sockinfo tcpsi_ini;
    int tcpsi_state;
    int tcpsi_timer[TSI_T_NTIMERS];
    int tcpsi_mss;
    uint32_t tcpsi_flags;
    uint32_t rfu_1;
    uint64_t tcpsi_tp;
};
struct socket_info {
    struct vinfo_stat soi_stat;
    uint64_t soi_so, soi_pcb;
    int soi_type, soi_protocol, soi_family;
    short soi_options, soi_linger, soi_state, soi_qlen, soi_incqlen, soi_qlimit, soi_timeo;
    unsigned short soi_error;
    uint32_t soi_oobmark;
    struct sockbuf_info soi_rcv, soi_snd;
    int soi_kind;
    uint32_t rfu_1;
    union { struct in_sockinfo pri_in; struct tcp_sockinfo pri_tcp; char pri_max[528]; } soi_proto;
};
struct socket_fdinfo {
    struct proc_fileinfo pfi;
    struct socket_info psi;
};
int proc_listpids(uint32_t type, uint32_t typeinfo, void *buffer, int buffersize);
int proc_pidinfo(int pid, int flavor, uint64_t arg, void *buffer, int buffersize);
int proc_pidfdinfo(int pid, int fd, int flavor, void *buffer, int buffersize);
int proc_name(int pid, void *buffer, uint32_t buffersize);
#endif
