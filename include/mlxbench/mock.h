/* mock: the emulated LLM inference server (docs/MOCK.md).
 *
 * An HTTP server (server.h) that speaks OpenAI chat/completions/models and
 * Anthropic messages, streams deterministic pseudo-text on a per-model timing
 * model, injects faults on demand and records the ground truth: when every
 * header and token write left the process, against when it was scheduled.
 *
 * The pure helpers (token rule, text generator, timing model) are in
 * mock_model.h (src/core): the engine uses the same prompt-token rule for its
 * synthetic prompts. */
#ifndef MLXBENCH_MOCK_H
#define MLXBENCH_MOCK_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "mlxbench/mock_model.h"
#include "mlxbench/rng.h"

typedef struct mb_mock mb_mock;

typedef struct mb_mock_config {
    const char *host;          /* NULL = 127.0.0.1 */
    int port;                  /* 0 picks a free port */
    const char *profile_path;  /* JSON profile file, or NULL */
    const char *profile_json;  /* JSON profile text (used instead of the file), or NULL */
    const char *faults_json;   /* initial faults, applied over the profile's, or NULL */
    const char *api_key;       /* required key; NULL = the profile's (none by default) */
    const char *control_token; /* token the /mock/... endpoints require; NULL = the
                                  profile's. Without one they answer only on a
                                  loopback address (403 on any other) */
    int has_seed;              /* seed below overrides the profile's */
    uint64_t seed;
    int log;                   /* 1: one line per request on stderr, 0: none, -1: if stderr is a TTY */
} mb_mock_config;

/* Loads the profile, binds and starts serving on `loop`. On failure returns
 * a negative code and writes a one-line reason to err (may be NULL). */
int mb_mock_start(mb_mock **out, uv_loop_t *loop, const mb_mock_config *cfg,
                  char *err, size_t errlen);
/* Stops serving: open streams are cut, every handle closes; the mock frees
 * itself once libuv has closed them, then calls done (optional). */
void mb_mock_stop(mb_mock *m, void (*done)(void *ud), void *ud);

int mb_mock_port(const mb_mock *m);
const char *mb_mock_url(const mb_mock *m);      /* "http://127.0.0.1:PORT" */

/* Applies a JSON object of fault fields (docs/MOCK.md), as POST /mock/faults
 * does. Takes effect on the next request. Returns 0 or MB_EPARSE/MB_EINVAL
 * with the reason in err. */
int mb_mock_set_faults(mb_mock *m, const char *json, size_t len, char *err, size_t errlen);

/* JSON documents, malloc'd and NUL-terminated (caller frees); NULL when out
 * of memory. The same bodies as GET /mock/faults, /mock/stats, /mock/trace. */
char *mb_mock_faults_json(mb_mock *m);
char *mb_mock_stats_json(mb_mock *m);
/* Requests with seq > since, oldest first, at most `limit` (0 = 1000);
 * client_id filters on the x-mock-request-id header (NULL = all); wall adds
 * each chunk's wall-clock time. */
char *mb_mock_trace_json(mb_mock *m, uint64_t since, size_t limit, const char *client_id, int wall);
void mb_mock_trace_reset(mb_mock *m);   /* also resets the emission-error histogram */


#endif
