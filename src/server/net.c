/* net.c: process-wide network set-up. */
#include <signal.h>
#include <sys/resource.h>
#include "mlxbench/errors.h"
#include "mlxbench/net.h"

int mb_net_global_init(void)
{
    static int done;
    if (done)
        return 0;
    /* A peer that resets a connection must give EPIPE, not kill the run. */
    signal(SIGPIPE, SIG_IGN);
    /* Every virtual user holds a connection (two with the emulator in the
     * same process): lift the soft descriptor limit to the hard one, so a
     * default of 1024 does not turn into mysterious connect failures. The
     * benchmark checks what it needs against the result up front. */
    {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? (rlim_t)1 << 20 : rl.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && rl.rlim_max == RLIM_INFINITY) {
                rl.rlim_cur = 65536;
                setrlimit(RLIMIT_NOFILE, &rl);
            }
        }
    }
    /* libcurl is loaded, and globally initialised, when a request first
     * needs it (curl_dl.c): plain http:// never does. */
    done = 1;
    return 0;
}
