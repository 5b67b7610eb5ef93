# Test discovery: every file that follows the naming rule is a ctest test.
#   tests/c/test_NAME.c      -> C unit test "c.NAME" (linked with every layer)
#   tests/lua/test_NAME.lua  -> Lua test "lua.NAME", run by the engine itself
#   tests/e2e/test_NAME.sh   -> end-to-end test "e2e.NAME" (bash)
#   tests/e2e/test_NAME.py   -> end-to-end test "e2e.NAME" (python3)
# Each test gets MLXBENCH (the binary), MB_FIXTURES and MB_SRC in its
# environment and runs from the source root.
set(MB_TEST_ENV
    "MLXBENCH=$<TARGET_FILE:mlxbench>"
    "MB_FIXTURES=${PROJECT_SOURCE_DIR}/tests/fixtures/wire"
    "MB_SRC=${PROJECT_SOURCE_DIR}"
    "MB_BUILD=${PROJECT_BINARY_DIR}")

# The HTTP client's tests run twice: as they are (plain http:// requests on
# mlxbench's HTTP/1.1 transport) and as "<name>.curl" with every request on
# libcurl (MLXBENCH_HTTP=curl). Both transports must pass the same checks.
set(MB_TWO_TRANSPORTS c.client e2e.http e2e.http_sse e2e.hostile)
function(mb_curl_twin test)
  list(FIND MB_TWO_TRANSPORTS ${test} i)
  if(i GREATER -1)
    add_test(NAME ${test}.curl COMMAND ${ARGN} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(${test}.curl PROPERTIES
                         ENVIRONMENT "${MB_TEST_ENV};MLXBENCH_HTTP=curl" TIMEOUT 600)
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
  set_tests_properties(c.${short} PROPERTIES ENVIRONMENT "${MB_TEST_ENV}" TIMEOUT 300)
  mb_curl_twin(c.${short} ${name})
endforeach()

file(GLOB MB_LUA_TESTS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/lua/test_*.lua)
foreach(src IN LISTS MB_LUA_TESTS)
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "^test_" "" short ${name})
  add_test(NAME lua.${short} COMMAND mlxbench ${src}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(lua.${short} PROPERTIES ENVIRONMENT "${MB_TEST_ENV}" TIMEOUT 300)
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
  set_tests_properties(e2e.${short} PROPERTIES ENVIRONMENT "${MB_TEST_ENV}" TIMEOUT 600)
  mb_curl_twin(e2e.${short} ${runner} ${src})
endforeach()
