/* net: process-wide set-up of the network layer (src/platform/posix.c). */
#ifndef MLXBENCH_NET_H
#define MLXBENCH_NET_H

/* Ignores SIGPIPE and lifts the descriptor limit (platform.h), once per
 * process; the CLI calls it before any engine thread exists. libcurl is not
 * touched: it is loaded and initialised when a request first needs it.
 * Returns 0. Idempotent. */
int mb_net_global_init(void);

#endif
