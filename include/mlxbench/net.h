/* net: process-wide set-up of the network layer. */
#ifndef MLXBENCH_NET_H
#define MLXBENCH_NET_H

/* Initialises libcurl once per process (curl_global_init is not thread-safe
 * on every build, so the CLI calls this before any engine thread exists).
 * Returns 0 or MB_EIO. Idempotent. */
int mb_net_global_init(void);

#endif
