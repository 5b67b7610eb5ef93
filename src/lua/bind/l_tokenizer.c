/* l_tokenizer.c: mlxbench._tokenizer -- the C tokenizer (src/tok) for Lua.
 *
 * A loaded tokenizer is immutable, so the process keeps one copy per file
 * (same path, size and modification time) however many engine threads
 * load it; each Lua object has its own encoder (word cache, regex state).
 * The file is read here once: its bytes are hashed (SHA-256, recorded in
 * results) and handed to the loader. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <lauxlib.h>
#include "mlxbench/errors.h"
#include "mlxbench/sha256.h"
#include "mlxbench/tok.h"
#include "engine.h"

#define TOK_MT "mlxbench.tokenizer"

/* One loaded file, shared by every object (and thread) that loads it. */
typedef struct shared {
    struct shared *next;
    char *path;                 /* the file's real path */
    off_t size;
    time_t mtime;
    char sha[65];
    mb_tok *t;
    int refs;
} shared;

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static shared *registry;

typedef struct ltok {
    shared *s;
    mb_tok_enc *e;
} ltok;

static void release(shared *s)
{
    pthread_mutex_lock(&reg_lock);
    if (--s->refs == 0) {
        shared **p = &registry;
        while (*p != s)
            p = &(*p)->next;
        *p = s->next;
    } else {
        s = NULL;
    }
    pthread_mutex_unlock(&reg_lock);
    if (s) {
        mb_tok_free(s->t);
        free(s->path);
        free(s);
    }
}

/* Reads and loads path (a file, or a folder with tokenizer.json);
 * returns a referenced entry, or NULL with a message in err. */
static shared *acquire(const char *path, char *err, size_t errlen)
{
    char real[PATH_MAX], full[PATH_MAX];
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(full, sizeof full, "%s/tokenizer.json", path);
        path = full;
    }
    if (stat(path, &st) != 0 || !realpath(path, real)) {
        snprintf(err, errlen, "cannot open %.1024s: %s", path, strerror(errno));
        return NULL;
    }
    pthread_mutex_lock(&reg_lock);
    for (shared *s = registry; s; s = s->next)
        if (strcmp(s->path, real) == 0 && s->size == st.st_size && s->mtime == st.st_mtime) {
            s->refs++;
            pthread_mutex_unlock(&reg_lock);
            return s;
        }
    pthread_mutex_unlock(&reg_lock);

    FILE *f = fopen(real, "rb");
    char *buf = NULL;
    size_t n = 0;
    shared *s = NULL;
    if (!f) {
        snprintf(err, errlen, "cannot open %.1024s: %s", path, strerror(errno));
        return NULL;
    }
    if (st.st_size < 0 || (buf = malloc((size_t)st.st_size + 1)) == NULL ||
        (n = fread(buf, 1, (size_t)st.st_size, f)) != (size_t)st.st_size) {
        snprintf(err, errlen, "cannot read %.1024s", path);
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    s = calloc(1, sizeof *s);
    if (s)
        s->path = strdup(real);
    if (!s || !s->path) {
        snprintf(err, errlen, "out of memory");
        free(buf);
        free(s);
        return NULL;
    }
    mb_sha256 h;
    mb_sha256_init(&h);
    mb_sha256_update(&h, buf, n);
    mb_sha256_hex(&h, s->sha);
    const char *base = strrchr(real, '/');
    char lerr[MB_TOK_ERRLEN];
    int rc = mb_tok_load_mem(buf, n, base ? base + 1 : real, &s->t, lerr, sizeof lerr);
    free(buf);
    if (rc < 0) {
        snprintf(err, errlen, "%.1024s: %.255s", path, lerr);
        free(s->path);
        free(s);
        return NULL;
    }
    s->size = st.st_size;
    s->mtime = st.st_mtime;
    s->refs = 1;
    pthread_mutex_lock(&reg_lock);
    s->next = registry;
    registry = s;
    pthread_mutex_unlock(&reg_lock);
    return s;
}

static ltok *check(lua_State *L)
{
    ltok *u = luaL_checkudata(L, 1, TOK_MT);
    luaL_argcheck(L, u->s != NULL, 1, "tokenizer already closed");
    return u;
}

static int l_gc(lua_State *L)
{
    ltok *u = luaL_checkudata(L, 1, TOK_MT);
    mb_tok_enc_free(u->e);
    u->e = NULL;
    if (u->s)
        release(u->s);
    u->s = NULL;
    return 0;
}

/* _tokenizer.load(path) -> tokenizer | nil, message */
static int l_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char err[2048];
    ltok *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->s = NULL;
    u->e = NULL;
    luaL_setmetatable(L, TOK_MT);
    u->s = acquire(path, err, sizeof err);
    if (!u->s) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    u->e = mb_tok_enc_new(u->s->t);
    if (!u->e)
        return luaL_error(L, "out of memory");
    return 1;
}

/* The `special` option of encode/count: add the post-processor's tokens. */
static int opt_special(lua_State *L, int i)
{
    int v = 0;
    if (lua_isnoneornil(L, i))
        return 0;
    luaL_checktype(L, i, LUA_TTABLE);
    lua_getfield(L, i, "special");
    v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

static void do_encode(lua_State *L, ltok *u, const uint32_t **ids, size_t *n)
{
    size_t len;
    const char *text = luaL_checklstring(L, 2, &len);
    int rc = mb_tok_encode(u->e, text, len, opt_special(L, 3), ids, n);
    if (rc < 0)
        luaL_error(L, "tokenizer: encode failed: %s", mb_strerror(rc));
}

/* tok:encode(text [, {special = true}]) -> {ids...} */
static int l_encode(lua_State *L)
{
    ltok *u = check(L);
    const uint32_t *ids;
    size_t n;
    do_encode(L, u, &ids, &n);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushinteger(L, ids[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* tok:count(text [, {special = true}]) -> n */
static int l_count(lua_State *L)
{
    ltok *u = check(L);
    const uint32_t *ids;
    size_t n;
    do_encode(L, u, &ids, &n);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

/* tok:decode({ids...} [, {skip_special = true}]) -> text */
static int l_decode(lua_State *L)
{
    ltok *u = check(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    int skip = 0;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_getfield(L, 3, "skip_special");
        skip = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    size_t n = (size_t)lua_rawlen(L, 2);
    uint32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids)
        return luaL_error(L, "out of memory");
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 2, (lua_Integer)i + 1);
        int ok;
        lua_Integer v = lua_tointegerx(L, -1, &ok);
        lua_pop(L, 1);
        if (!ok || v < 0 || v > UINT32_MAX) {
            free(ids);
            return luaL_error(L, "tokenizer: decode: ids[%d] is not a token id", (int)i + 1);
        }
        ids[i] = (uint32_t)v;
    }
    char *out;
    size_t len;
    int rc = mb_tok_decode(u->s->t, ids, n, skip, &out, &len);
    free(ids);
    if (rc < 0)
        return luaL_error(L, "tokenizer: decode failed: %s", mb_strerror(rc));
    lua_pushlstring(L, out, len);
    free(out);
    return 1;
}

/* tok:id(token) -> id | nil */
static int l_id(lua_State *L)
{
    ltok *u = check(L);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    int64_t id = mb_tok_token_id(u->s->t, s, n);
    if (id < 0)
        lua_pushnil(L);
    else
        lua_pushinteger(L, (lua_Integer)id);
    return 1;
}

static int l_vocab_size(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)mb_tok_vocab_size(check(L)->s->t));
    return 1;
}

static int l_path(lua_State *L)
{
    lua_pushstring(L, check(L)->s->path);
    return 1;
}

static int l_sha256(lua_State *L)
{
    lua_pushstring(L, check(L)->s->sha);
    return 1;
}

static int l_kind(lua_State *L)
{
    lua_pushstring(L, mb_tok_kind(check(L)->s->t));
    return 1;
}

static int l_tostring(lua_State *L)
{
    ltok *u = luaL_checkudata(L, 1, TOK_MT);
    if (u->s)
        lua_pushfstring(L, "tokenizer(%s: %s)", mb_tok_kind(u->s->t), u->s->path);
    else
        lua_pushliteral(L, "tokenizer(closed)");
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* _tokenizer.dir(path) -> {names...} (sorted, without . and ..) | nil:
 * for finding tokenizers in cache folders. */
static int l_dir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    DIR *d = opendir(path);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    if (!d) {
        lua_pushnil(L);
        return 1;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            char **nn = realloc(names, nc * sizeof *nn);
            if (!nn)
                break;
            names = nn;
            cap = nc;
        }
        if (!(names[n] = strdup(de->d_name)))
            break;
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
        free(names[i]);
    }
    free(names);
    return 1;
}

/* _tokenizer.mtime(path) -> seconds | nil */
static int l_mtime(lua_State *L)
{
    struct stat st;
    if (stat(luaL_checkstring(L, 1), &st) != 0)
        lua_pushnil(L);
    else
        lua_pushinteger(L, (lua_Integer)st.st_mtime);
    return 1;
}

int luaopen_mlxbench_tokenizer(lua_State *L)
{
    static const luaL_Reg m[] = {
        {"encode", l_encode}, {"count", l_count}, {"decode", l_decode}, {"id", l_id},
        {"vocab_size", l_vocab_size}, {"path", l_path}, {"sha256", l_sha256}, {"kind", l_kind},
        {"close", l_gc}, {NULL, NULL}};
    static const luaL_Reg f[] = {{"load", l_load}, {"dir", l_dir}, {"mtime", l_mtime}, {NULL, NULL}};
    if (luaL_newmetatable(L, TOK_MT)) {
        luaL_newlib(L, m);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, l_gc);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, l_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    luaL_newlib(L, f);
    return 1;
}
