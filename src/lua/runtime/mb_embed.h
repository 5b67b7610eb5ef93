/* mb_embed: the Lua sources compiled into the binary (see cmake/embed.cmake). */
#ifndef MB_EMBED_H
#define MB_EMBED_H

#include <stddef.h>

typedef struct mb_embed_file {
    const char *name;   /* module name ("mlxbench.report") or path ("scripts/suite.lua") */
    const char *path;   /* source path in the repository, for chunk names */
    const char *data;
    size_t len;
} mb_embed_file;

extern const mb_embed_file mb_embedded[];   /* ends with a NULL name */

/* Finds an embedded file by module name or path; NULL when absent. */
const mb_embed_file *mb_embed_find(const char *name);

#endif
