/* modules: the C modules registered in package.preload. */
#ifndef MB_MODULES_H
#define MB_MODULES_H

#include <lua.h>

typedef struct mb_cmodule {
    const char *name;
    lua_CFunction open;
} mb_cmodule;

extern const mb_cmodule mb_cmodules[];   /* ends with a NULL name */

#endif
