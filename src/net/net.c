/* net.c: process-wide network set-up. */
#include <signal.h>
#include <curl/curl.h>
#include "mlxbench/errors.h"
#include "mlxbench/net.h"

int mb_net_global_init(void)
{
    static int done;
    if (done)
        return 0;
    /* A peer that resets a connection must give EPIPE, not kill the run. */
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return MB_EIO;
    done = 1;
    return 0;
}
