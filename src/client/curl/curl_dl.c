/* curl_dl.c: libcurl's entry points, resolved from the shared library the
 * first time a request needs it (see curl_dl.h for why). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "mlxbench/client.h"
#include "mlxbench/errors.h"
#include "curl_dl.h"

mb_curl_api mb_curl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_rc;
static char load_err[512];
static const char *loaded_from;   /* the name or path that loaded */

#ifndef MB_CURL_BUILD_LIBRARY
#define MB_CURL_BUILD_LIBRARY ""
#endif

/* Where libcurl is looked for, in order: $MLXBENCH_LIBCURL (a path or a
 * name), the library the build found (its headers are the ones compiled
 * against), then the names it has on Debian and Ubuntu, macOS and Homebrew
 * and other systems -- every name on every system, so a binary copied to a
 * machine with another flavour still finds one. NULL-terminated. */
static const char *const names[] = {
    "libcurl.so.4",           /* Linux (Debian's OpenSSL flavour) */
    "libcurl.4.dylib",        /* macOS (/usr/lib) */
    "/opt/homebrew/opt/curl/lib/libcurl.4.dylib",   /* Homebrew, Apple silicon */
    "/usr/local/opt/curl/lib/libcurl.4.dylib",      /* Homebrew, Intel */
    "libcurl-gnutls.so.4",    /* Debian's GnuTLS flavour */
    "libcurl-nss.so.4",
    "libcurl.so",             /* a development symlink, BSDs */
    "libcurl.dylib",
    NULL,
};

/* dlopen of the first candidate that loads; the names tried and the last
 * error go to load_err when none does. */
static void *open_lib(const char **which)
{
    const char *env = getenv("MLXBENCH_LIBCURL");
    size_t off = 0;
    void *h;
    if (env && *env) {
        /* asked for one library: that one or an error, nothing else */
        if ((h = dlopen(env, RTLD_LAZY | RTLD_LOCAL)))
            *which = env;
        else
            snprintf(load_err, sizeof load_err, "MLXBENCH_LIBCURL=%s: %s", env, dlerror());
        return h;
    }
    if (MB_CURL_BUILD_LIBRARY[0] && (h = dlopen(MB_CURL_BUILD_LIBRARY, RTLD_LAZY | RTLD_LOCAL))) {
        *which = MB_CURL_BUILD_LIBRARY;
        return h;
    }
    for (int i = 0; names[i]; i++) {
        if ((h = dlopen(names[i], RTLD_LAZY | RTLD_LOCAL))) {
            *which = names[i];
            return h;
        }
    }
    for (int i = 0; names[i] && off < sizeof load_err; i++)
        off += (size_t)snprintf(load_err + off, sizeof load_err - off, "%s%s", i ? ", " : "",
                                names[i]);
    if (off < sizeof load_err)
        snprintf(load_err + off, sizeof load_err - off,
                 ": none found (install libcurl, or set MLXBENCH_LIBCURL to its path)");
    return NULL;
}

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
    const char *lib = NULL;
    void *h = open_lib(&lib);
    load_rc = MB_EIO;
    if (!h)
        return;
    loaded_from = lib;
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
        snprintf(load_err, sizeof load_err, "%s: curl_global_init failed", lib);
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

const char *mb_curl_loaded_from(void)
{
    return load_rc == 0 ? loaded_from : NULL;
}

/* client.h: what libcurl this process loads (tests that compare with it
 * need its version; users, where it came from). */
int mb_client_curl_info(mb_curl_info *out, const char **err)
{
    if (mb_curl_load() < 0) {
        *err = load_err;
        return MB_EIO;
    }
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    out->version = v->version;
    out->ssl = v->ssl_version ? v->ssl_version : "";
    out->loaded_from = loaded_from;
    return 0;
}
