/* curl_dl.c: libcurl's entry points, resolved from the shared library the
 * first time a request needs it (see curl_dl.h for why). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include "mlxbench/errors.h"
#include "curl_dl.h"

mb_curl_api mb_curl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_rc;
static char load_err[256];

/* dlsym into a function pointer of any type (POSIX guarantees the cast). */
#define SYM(field, name)                                                      \
    do {                                                                      \
        void *p_ = dlsym(h, name);                                            \
        if (!p_) {                                                            \
            snprintf(load_err, sizeof load_err, "%s: no symbol %s", lib, name); \
            goto out;                                                         \
        }                                                                     \
        *(void **)(&mb_curl.field) = p_;                                      \
    } while (0)

static void load(void)
{
    static const char lib[] = "libcurl.so.4";
    void *h = dlopen(lib, RTLD_LAZY | RTLD_LOCAL);
    load_rc = MB_EIO;
    if (!h) {
        const char *e = dlerror();
        snprintf(load_err, sizeof load_err, "%s", e ? e : lib);
        return;
    }
    SYM(global_init, "curl_global_init");
    SYM(easy_init, "curl_easy_init");
    SYM(easy_cleanup, "curl_easy_cleanup");
    SYM(easy_reset, "curl_easy_reset");
    SYM(easy_setopt, "curl_easy_setopt");
    SYM(easy_getinfo, "curl_easy_getinfo");
    SYM(easy_strerror, "curl_easy_strerror");
    SYM(multi_init, "curl_multi_init");
    SYM(multi_cleanup, "curl_multi_cleanup");
    SYM(multi_setopt, "curl_multi_setopt");
    SYM(multi_add_handle, "curl_multi_add_handle");
    SYM(multi_remove_handle, "curl_multi_remove_handle");
    SYM(multi_socket_action, "curl_multi_socket_action");
    SYM(multi_info_read, "curl_multi_info_read");
    SYM(slist_append, "curl_slist_append");
    SYM(slist_free_all, "curl_slist_free_all");
    SYM(version_info, "curl_version_info");
    if (mb_curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(load_err, sizeof load_err, "curl_global_init failed");
        goto out;
    }
    load_rc = 0;
out:
    return;   /* the library stays loaded for the life of the process */
}

int mb_curl_load(void)
{
    pthread_once(&once, load);
    return load_rc;
}

const char *mb_curl_error(void)
{
    return load_err;
}
