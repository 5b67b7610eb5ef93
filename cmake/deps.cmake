# deps.cmake: the libraries mlxbench builds on, found under the names Debian
# and Ubuntu (apt) and Homebrew (macOS) give them; the two small ones a
# system may lack are built from their upstream release, fetched here at
# configure time (pinned version and SHA-256; never copied into this
# repository). tools/deps.sh installs everything (apt, or brew bundle).
#
# Targets made here, used by CMakeLists.txt:
#   mb_dep_lua      Lua 5.4 (lua5.4, lua-5.4, lua54, lua at 5.4; Homebrew's
#                   keg-only lua@5.4)
#   mb_dep_cjson    lua-cjson, static: Debian's liblua5.4-cjson.a, else
#                   openresty/lua-cjson built from its release
#   mb_dep_http1    the HTTP/1 framing library behind include/mlxbench/
#                   h1parse.h: http_parser, or llhttp (Homebrew's, Debian's
#                   node-llhttp sources, or its release)
# and PkgConfig::UV, PkgConfig::PCRE2, PkgConfig::UTF8PROC, ZLIB::ZLIB,
# MB_CURL_INCLUDE_DIRS and MB_CURL_LIBRARY (libcurl's headers; the library is
# dlopen'ed, this path is tried first).
include(FetchContent)
find_package(PkgConfig REQUIRED)

set(MB_APT_HINT "Debian/Ubuntu: tools/deps.sh (apt)")
set(MB_BREW_HINT "macOS: tools/deps.sh (brew bundle, see Brewfile)")

# ---- Homebrew: keg-only formulae are not on pkg-config's path ------------
if(APPLE)
  set(mb_brew_prefixes "")
  find_program(MB_BREW brew)
  if(MB_BREW)
    execute_process(COMMAND ${MB_BREW} --prefix OUTPUT_VARIABLE mb_p
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    list(APPEND mb_brew_prefixes ${mb_p})
  endif()
  list(APPEND mb_brew_prefixes /opt/homebrew /usr/local)
  set(mb_pc "")
  foreach(prefix IN LISTS mb_brew_prefixes)
    foreach(keg lua@5.4 curl)
      if(EXISTS ${prefix}/opt/${keg}/lib/pkgconfig)
        list(APPEND mb_pc ${prefix}/opt/${keg}/lib/pkgconfig)
      endif()
    endforeach()
  endforeach()
  if(mb_pc)
    list(REMOVE_DUPLICATES mb_pc)
    string(REPLACE ";" ":" mb_pc "${mb_pc}")
    set(ENV{PKG_CONFIG_PATH} "${mb_pc}:$ENV{PKG_CONFIG_PATH}")
    message(STATUS "Homebrew keg-only formulae on pkg-config's path: ${mb_pc}")
  endif()
endif()

# ---- Lua 5.4 --------------------------------------------------------------
# Homebrew's plain `lua` is 5.5 now: only a 5.4 counts, under any name.
add_library(mb_dep_lua INTERFACE)
set(mb_lua_seen "")
foreach(name lua5.4 lua-5.4 lua54 lua)
  string(MAKE_C_IDENTIFIER "MBLUA_${name}" v)
  pkg_check_modules(${v} QUIET IMPORTED_TARGET ${name})
  if(${v}_FOUND)
    if(${v}_VERSION MATCHES "^5[.]4([.]|$)")
      target_link_libraries(mb_dep_lua INTERFACE PkgConfig::${v})
      message(STATUS "Lua ${${v}_VERSION}: pkg-config ${name}")
      set(MB_LUA_FOUND 1)
      break()
    endif()
    list(APPEND mb_lua_seen "${name} ${${v}_VERSION}")
  endif()
endforeach()
if(NOT MB_LUA_FOUND)
  find_package(Lua 5.4 EXACT QUIET)
  if(LUA_FOUND)
    target_include_directories(mb_dep_lua INTERFACE ${LUA_INCLUDE_DIR})
    target_link_libraries(mb_dep_lua INTERFACE ${LUA_LIBRARIES})
    message(STATUS "Lua ${LUA_VERSION_STRING}: ${LUA_LIBRARIES}")
  else()
    if(mb_lua_seen)
      set(mb_lua_seen " (found only: ${mb_lua_seen})")
    endif()
    message(FATAL_ERROR "Lua 5.4 not found${mb_lua_seen}. Install it -- Debian/Ubuntu: "
            "apt-get install liblua5.4-dev; macOS: brew install lua@5.4 -- or run "
            "tools/deps.sh.")
  endif()
endif()

# ---- libuv, PCRE2, utf8proc, zlib, libcurl's headers ---------------------
# mb_pkg(VAR NAME WHAT DEBIAN BREW): a required pkg-config module, or one
# clear line saying what to install.
function(mb_pkg var name what deb brew)
  pkg_check_modules(${var} QUIET IMPORTED_TARGET GLOBAL ${name})
  if(NOT ${var}_FOUND)
    message(FATAL_ERROR "${what} not found (pkg-config ${name}). Install it -- Debian/Ubuntu: "
            "apt-get install ${deb}; macOS: brew install ${brew} -- or run tools/deps.sh.")
  endif()
endfunction()
mb_pkg(UV libuv libuv libuv1-dev libuv)
mb_pkg(PCRE2 libpcre2-8 PCRE2 libpcre2-dev pcre2)
mb_pkg(UTF8PROC libutf8proc utf8proc libutf8proc-dev utf8proc)
find_package(ZLIB REQUIRED)   # HdrHistogram log export (l_stats.c)

pkg_check_modules(CURL QUIET libcurl)
if(CURL_FOUND)
  set(MB_CURL_INCLUDE_DIRS ${CURL_INCLUDE_DIRS})
  find_library(MB_CURL_LIBRARY NAMES curl HINTS ${CURL_LIBRARY_DIRS} NO_DEFAULT_PATH)
else()
  find_package(CURL QUIET)   # macOS: the SDK's headers, /usr/lib/libcurl
  if(NOT CURL_FOUND)
    message(FATAL_ERROR "libcurl's headers not found. Install them -- Debian/Ubuntu: "
            "apt-get install libcurl4-openssl-dev; macOS: brew install curl -- or run "
            "tools/deps.sh.")
  endif()
  set(MB_CURL_INCLUDE_DIRS ${CURL_INCLUDE_DIRS})
  set(MB_CURL_LIBRARY ${CURL_LIBRARIES})
endif()
if(MB_CURL_LIBRARY)
  get_filename_component(MB_CURL_LIBRARY "${MB_CURL_LIBRARY}" REALPATH)
  if(MB_CURL_LIBRARY MATCHES "[.]tbd$")   # a macOS SDK stub: no file to dlopen
    set(MB_CURL_LIBRARY "")
  endif()
endif()

# ---- fetching a release at configure time --------------------------------
if(POLICY CMP0135)
  cmake_policy(SET CMP0135 NEW)   # extracted files get the extraction time
endif()

# mb_fetch(NAME URL SHA256 WHAT HOWTO): unpacks NAME's release tarball into
# the build folder and sets NAME_SOURCE_DIR. Downloaded once (kept in
# _deps/, checked against SHA256); with FETCHCONTENT_SOURCE_DIR_<NAME> a
# local copy of the same release is used and nothing is downloaded. Offline,
# or on a wrong checksum, configuring stops with what to install instead.
function(mb_fetch name url sha what howto)
  string(TOUPPER ${name} up)
  set(tarball ${CMAKE_BINARY_DIR}/_deps/${name}-release.tar.gz)
  if(NOT FETCHCONTENT_SOURCE_DIR_${up})
    set(have "")
    if(EXISTS ${tarball})
      file(SHA256 ${tarball} have)
    endif()
    if(NOT have STREQUAL sha)
      if(FETCHCONTENT_FULLY_DISCONNECTED)
        message(FATAL_ERROR "${what} is not installed and FETCHCONTENT_FULLY_DISCONNECTED "
                "forbids downloading it.\n${howto}")
      endif()
      message(STATUS "${what}: not installed; downloading ${url}")
      file(DOWNLOAD ${url} ${tarball}.part STATUS st TIMEOUT 180 INACTIVITY_TIMEOUT 30
           TLS_VERIFY ON)
      list(GET st 0 code)
      list(GET st 1 why)
      if(NOT code EQUAL 0)
        file(REMOVE ${tarball}.part)
        message(FATAL_ERROR "${what} is not installed on this system, and its release could "
                "not be downloaded (${url}: ${why}).\n${howto}")
      endif()
      file(SHA256 ${tarball}.part got)
      if(NOT got STREQUAL sha)
        file(REMOVE ${tarball}.part)
        message(FATAL_ERROR "${what}: the download from ${url} is not the pinned release "
                "(SHA-256 ${got}, expected ${sha}): not used.\n${howto}")
      endif()
      file(RENAME ${tarball}.part ${tarball})
    endif()
  endif()
  # SOURCE_SUBDIR names no CMakeLists.txt: unpacked only, built below by
  # this project's own rules
  FetchContent_Declare(${name} URL ${tarball} URL_HASH SHA256=${sha} SOURCE_SUBDIR mb-sources-only)
  FetchContent_MakeAvailable(${name})
  set(${name}_SOURCE_DIR ${${name}_SOURCE_DIR} PARENT_SCOPE)
endfunction()

# ---- lua-cjson -------------------------------------------------------------
option(MLXBENCH_SYSTEM_LUACJSON "Use the system's static lua-cjson (Debian: lua-cjson-dev) when found" ON)
set(MLXBENCH_LUACJSON_URL "https://github.com/openresty/lua-cjson/archive/refs/tags/2.1.0.16.tar.gz"
    CACHE STRING "lua-cjson release built when the system has none")
set(MLXBENCH_LUACJSON_SHA256 "4b7e96801ee9596216d52d09cc4d21657cfd575971b6bbe9e317a698ae376a8a"
    CACHE STRING "SHA-256 of that release tarball")
mark_as_advanced(MLXBENCH_LUACJSON_URL MLXBENCH_LUACJSON_SHA256)
add_library(mb_dep_cjson INTERFACE)
unset(MB_LUACJSON_STATIC CACHE)
if(MLXBENCH_SYSTEM_LUACJSON)
  pkg_check_modules(LUACJSON QUIET lua5.4-cjson)
  find_library(MB_LUACJSON_STATIC NAMES liblua5.4-cjson.a HINTS ${LUACJSON_LIBRARY_DIRS})
endif()
if(MB_LUACJSON_STATIC)
  message(STATUS "lua-cjson: ${MB_LUACJSON_STATIC}")
  target_link_libraries(mb_dep_cjson INTERFACE ${MB_LUACJSON_STATIC})
else()
  mb_fetch(luacjson ${MLXBENCH_LUACJSON_URL} ${MLXBENCH_LUACJSON_SHA256} "lua-cjson"
           "Install it -- Debian/Ubuntu: apt-get install lua-cjson-dev (Homebrew has no formula) -- \
or configure once with network access (the release is kept in the build folder), or pass \
-DFETCHCONTENT_SOURCE_DIR_LUACJSON=DIR with DIR an unpacked copy of ${MLXBENCH_LUACJSON_URL}.")
  foreach(f lua_cjson.c strbuf.c fpconv.c)
    if(NOT EXISTS ${luacjson_SOURCE_DIR}/${f})
      message(FATAL_ERROR "lua-cjson: ${luacjson_SOURCE_DIR} has no ${f}: not a lua-cjson release")
    endif()
  endforeach()
  add_library(mb_luacjson STATIC ${luacjson_SOURCE_DIR}/lua_cjson.c
              ${luacjson_SOURCE_DIR}/strbuf.c ${luacjson_SOURCE_DIR}/fpconv.c)
  target_link_libraries(mb_luacjson PRIVATE mb_dep_lua)
  target_compile_options(mb_luacjson PRIVATE -w)   # upstream's code, upstream's warnings
  target_link_libraries(mb_dep_cjson INTERFACE mb_luacjson)
  message(STATUS "lua-cjson: built from ${MLXBENCH_LUACJSON_URL}")
endif()

# ---- HTTP/1 framing: http_parser or llhttp -------------------------------
set(MLXBENCH_HTTP_PARSER "auto" CACHE STRING
    "HTTP/1 framing library: auto (http_parser where installed, else llhttp), http_parser or llhttp")
set_property(CACHE MLXBENCH_HTTP_PARSER PROPERTY STRINGS auto http_parser llhttp)
option(MLXBENCH_SYSTEM_LLHTTP "Use an installed llhttp (library, or Debian's node-llhttp sources) when found" ON)
set(MLXBENCH_LLHTTP_URL "https://github.com/nodejs/llhttp/archive/refs/tags/release/v9.4.0.tar.gz"
    CACHE STRING "llhttp release built when the system has none")
set(MLXBENCH_LLHTTP_SHA256 "9dfcdeb0ae8a1d433da6f7549ae56e581af44802e78cf01db8e8c97d4d6acc9f"
    CACHE STRING "SHA-256 of that release tarball")
mark_as_advanced(MLXBENCH_LLHTTP_URL MLXBENCH_LLHTTP_SHA256)
if(NOT MLXBENCH_HTTP_PARSER MATCHES "^(auto|http_parser|llhttp)$")
  message(FATAL_ERROR "MLXBENCH_HTTP_PARSER must be auto, http_parser or llhttp")
endif()
add_library(mb_dep_http1 INTERFACE)
unset(MB_HTTP_PARSER_LIB CACHE)
unset(MB_HTTP_PARSER_INC CACHE)
if(NOT MLXBENCH_HTTP_PARSER STREQUAL "llhttp")
  find_library(MB_HTTP_PARSER_LIB NAMES http_parser)
  find_path(MB_HTTP_PARSER_INC NAMES http_parser.h)
endif()
if(MB_HTTP_PARSER_LIB AND MB_HTTP_PARSER_INC)
  set(MB_HTTP1 http_parser)
  target_include_directories(mb_dep_http1 INTERFACE ${MB_HTTP_PARSER_INC})
  target_link_libraries(mb_dep_http1 INTERFACE ${MB_HTTP_PARSER_LIB})
  message(STATUS "HTTP/1 framing: http_parser ${MB_HTTP_PARSER_LIB}")
elseif(MLXBENCH_HTTP_PARSER STREQUAL "http_parser")
  message(FATAL_ERROR "http_parser not found (MLXBENCH_HTTP_PARSER=http_parser). Install it -- "
          "Debian/Ubuntu: apt-get install libhttp-parser-dev -- or configure with "
          "-DMLXBENCH_HTTP_PARSER=llhttp.")
else()
  set(MB_HTTP1 llhttp)
  unset(MB_LLHTTP_LIB CACHE)
  unset(MB_LLHTTP_INC CACHE)
  set(mb_ll_src "")
  if(MLXBENCH_SYSTEM_LLHTTP)
    # Homebrew's llhttp formula (a library), or elsewhere the same
    find_library(MB_LLHTTP_LIB NAMES llhttp)
    find_path(MB_LLHTTP_INC NAMES llhttp.h)
    # Debian's node-llhttp: llhttp's C sources for building it in
    if(NOT (MB_LLHTTP_LIB AND MB_LLHTTP_INC) AND EXISTS /usr/share/llhttp/llhttp.c
       AND EXISTS /usr/share/include/llhttp/llhttp.h)
      set(mb_ll_src /usr/share/llhttp)
      set(mb_ll_inc /usr/share/include/llhttp)
    endif()
  endif()
  if(MB_LLHTTP_LIB AND MB_LLHTTP_INC)
    target_include_directories(mb_dep_http1 INTERFACE ${MB_LLHTTP_INC})
    target_link_libraries(mb_dep_http1 INTERFACE ${MB_LLHTTP_LIB})
    message(STATUS "HTTP/1 framing: llhttp ${MB_LLHTTP_LIB}")
  else()
    if(NOT mb_ll_src)
      mb_fetch(llhttp ${MLXBENCH_LLHTTP_URL} ${MLXBENCH_LLHTTP_SHA256} "llhttp"
               "Install it -- Debian/Ubuntu: apt-get install libhttp-parser-dev (or node-llhttp); \
macOS: brew install llhttp -- or configure once with network access (the release is kept in the \
build folder), or pass -DFETCHCONTENT_SOURCE_DIR_LLHTTP=DIR with DIR an unpacked copy of \
${MLXBENCH_LLHTTP_URL}.")
      set(mb_ll_src ${llhttp_SOURCE_DIR}/src)
      set(mb_ll_inc ${llhttp_SOURCE_DIR}/include)
      set(mb_ll_from ${MLXBENCH_LLHTTP_URL})
    else()
      set(mb_ll_from "${mb_ll_src} (Debian node-llhttp)")
    endif()
    foreach(f ${mb_ll_src}/llhttp.c ${mb_ll_src}/api.c ${mb_ll_src}/http.c ${mb_ll_inc}/llhttp.h)
      if(NOT EXISTS ${f})
        message(FATAL_ERROR "llhttp: ${f} is missing: not llhttp's release sources")
      endif()
    endforeach()
    add_library(mb_llhttp STATIC ${mb_ll_src}/llhttp.c ${mb_ll_src}/api.c ${mb_ll_src}/http.c)
    target_include_directories(mb_llhttp PUBLIC ${mb_ll_inc})
    target_compile_options(mb_llhttp PRIVATE -w)   # generated code, upstream's warnings
    target_link_libraries(mb_dep_http1 INTERFACE mb_llhttp)
    message(STATUS "HTTP/1 framing: llhttp built from ${mb_ll_from}")
  endif()
endif()
