# Test discovery: every file that follows the naming rule is a ctest test.
#   tests/c/test_NAME.c      -> C unit test "c.NAME" (linked with every layer)
#   tests/lua/test_NAME.lua  -> Lua test "lua.NAME", run by the engine itself
#   tests/e2e/test_NAME.sh   -> end-to-end test "e2e.NAME" (bash)
#   tests/e2e/test_NAME.py   -> end-to-end test "e2e.NAME" (python3)
# Each test gets MLXBENCH (the binary), MB_FIXTURES and MB_SRC in its
# environment and runs from the source root; MB_SANITIZED=1 on the ASan+UBSan
# build, where tight wall-clock assertions are not checked (2 slow cores).
#
# Tiers (ctest labels): every test is `unit` (tests/c, tests/lua) or `e2e`;
# a test whose file says "tier: slow" in its first lines is also `slow`.
# `tools/test.sh --fast` runs everything but `slow`; the full run runs all.
# A test whose file says "run: serial" in its first lines holds wall-clock
# tolerances against a server whose emission times are known: ctest runs it
# alone (RUN_SERIAL; not on the sanitized build, which checks none), so a
# neighbour does not move its times.
# A test that cannot run here exits 77: ctest reports it as skipped.
if(MLXBENCH_SANITIZE)
  set(MB_SANITIZED 1)
else()
  set(MB_SANITIZED 0)
endif()
# bench/ref_server.c: the precise reference server (tokens at absolute
# deadlines, a log of when each left), for the timing tests and benchmarks
add_executable(ref_server ${PROJECT_SOURCE_DIR}/bench/ref_server.c)
target_link_libraries(ref_server PRIVATE mb_platform)
set(MB_TEST_ENV
    "MLXBENCH=$<TARGET_FILE:mlxbench>"
    "MB_REF_SERVER=$<TARGET_FILE:ref_server>"
    "MB_FIXTURES=${PROJECT_SOURCE_DIR}/tests/fixtures/wire"
    "MB_SRC=${PROJECT_SOURCE_DIR}"
    "MB_BUILD=${PROJECT_BINARY_DIR}"
    "MB_SANITIZED=${MB_SANITIZED}")

# mb_test_props(TEST SRC TIMEOUT [ENV...]): environment, timeout, skip code
# and labels (the base label from the test's folder, `slow` from its file).
function(mb_test_props test src timeout)
  if(test MATCHES "^e2e[.]")
    set(labels e2e)
  else()
    set(labels unit)
  endif()
  file(STRINGS ${src} head LIMIT_COUNT 12 REGEX "tier: *slow")
  if(head)
    list(APPEND labels slow)
  endif()
  file(STRINGS ${src} serial LIMIT_COUNT 12 REGEX "run: *serial")
  if(serial AND NOT MLXBENCH_SANITIZE)   # the sanitized build checks no tolerance
    set(serial TRUE)
  else()
    set(serial FALSE)
  endif()
  set_tests_properties(${test} PROPERTIES ENVIRONMENT "${MB_TEST_ENV};${ARGN}"
                       TIMEOUT ${timeout} SKIP_RETURN_CODE 77 LABELS "${labels}"
                       RUN_SERIAL ${serial})
endfunction()

# The HTTP client's tests run twice: as they are (plain http:// requests on
# mlxbench's HTTP/1.1 transport) and as "<name>.curl" with every request on
# libcurl (MLXBENCH_HTTP=curl). Both transports must pass the same checks.
set(MB_TWO_TRANSPORTS c.client e2e.http e2e.http_sse e2e.hostile)
function(mb_curl_twin test src)
  list(FIND MB_TWO_TRANSPORTS ${test} i)
  if(i GREATER -1)
    add_test(NAME ${test}.curl COMMAND ${ARGN} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    mb_test_props(${test}.curl ${src} 600 MLXBENCH_HTTP=curl)
  endif()
endfunction()

file(GLOB MB_C_TESTS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/c/test_*.c)
foreach(src IN LISTS MB_C_TESTS)
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "^test_" "" short ${name})
  add_executable(${name} ${src})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/c)
  target_link_libraries(${name} PRIVATE mb_lua)
  add_test(NAME c.${short} COMMAND ${name}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  mb_test_props(c.${short} ${src} 300)
  mb_curl_twin(c.${short} ${src} ${name})
endforeach()

file(GLOB MB_LUA_TESTS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/lua/test_*.lua)
foreach(src IN LISTS MB_LUA_TESTS)
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "^test_" "" short ${name})
  add_test(NAME lua.${short} COMMAND mlxbench ${src}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  mb_test_props(lua.${short} ${src} 300)
endforeach()

file(GLOB MB_E2E_SH CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/e2e/test_*.sh)
file(GLOB MB_E2E_PY CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/e2e/test_*.py)
foreach(src IN LISTS MB_E2E_SH MB_E2E_PY)
  get_filename_component(name ${src} NAME_WE)
  get_filename_component(ext ${src} EXT)
  string(REGEX REPLACE "^test_" "" short ${name})
  if(ext STREQUAL ".sh")
    set(runner bash)
  else()
    set(runner python3)
  endif()
  add_test(NAME e2e.${short} COMMAND ${runner} ${src}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  mb_test_props(e2e.${short} ${src} 600)
  mb_curl_twin(e2e.${short} ${src} ${runner} ${src})
endforeach()
