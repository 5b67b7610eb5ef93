/* curl_dl.h: libcurl, loaded on first use. Private to src/client.
 *
 * Plain http:// goes over the HTTP/1.1 transport (h1.c); libcurl serves
 * https, HTTP/2 and proxies. Linking it would map it and its ~30 libraries
 * (OpenSSL, GnuTLS, Kerberos, LDAP, ...) into every process at start: 7 ms
 * of a 10 ms `mlxbench -e ''`. So it is dlopen'ed the first time a request
 * needs it (mb_curl_load), and the curl_* names used in src/client are macros
 * over the table of its entry points. Include this instead of curl.h. */
#ifndef MB_CURL_DL_H
#define MB_CURL_DL_H

#define CURL_DISABLE_TYPECHECK   /* curl_easy_setopt & co. stay plain calls */
#include <curl/curl.h>

typedef struct mb_curl_api {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    const char *(*easy_strerror)(CURLcode);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_cleanup)(CURLM *);
    CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
    CURLMcode (*multi_add_handle)(CURLM *, CURL *);
    CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
    CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
    CURLMsg *(*multi_info_read)(CURLM *, int *);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    curl_version_info_data *(*version_info)(CURLversion);
} mb_curl_api;

extern mb_curl_api mb_curl;

/* Loads libcurl and runs curl_global_init, once per process (any thread).
 * 0, or MB_EIO with the reason in mb_curl_error(). */
int mb_curl_load(void);
const char *mb_curl_error(void);
/* The name or path libcurl was loaded from; NULL before a successful load. */
const char *mb_curl_loaded_from(void);

/* curl.h defines pass-through macros for the variadic three: replace them */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define curl_global_init mb_curl.global_init
#define curl_easy_init mb_curl.easy_init
#define curl_easy_cleanup mb_curl.easy_cleanup
#define curl_easy_reset mb_curl.easy_reset
#define curl_easy_setopt mb_curl.easy_setopt
#define curl_easy_getinfo mb_curl.easy_getinfo
#define curl_easy_strerror mb_curl.easy_strerror
#define curl_multi_init mb_curl.multi_init
#define curl_multi_cleanup mb_curl.multi_cleanup
#define curl_multi_setopt mb_curl.multi_setopt
#define curl_multi_add_handle mb_curl.multi_add_handle
#define curl_multi_remove_handle mb_curl.multi_remove_handle
#define curl_multi_socket_action mb_curl.multi_socket_action
#define curl_multi_info_read mb_curl.multi_info_read
#define curl_slist_append mb_curl.slist_append
#define curl_slist_free_all mb_curl.slist_free_all
#define curl_version_info mb_curl.version_info

#endif
