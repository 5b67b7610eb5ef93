# fuzz.cmake: libFuzzer targets, included when MLXBENCH_FUZZ is ON.
# Needs clang. Each target compiles the source files it exercises with the
# fuzzer and sanitizer flags; the core targets build without libuv, curl or
# Lua. Run them with fuzz/run.sh (docs/RELIABILITY.md).
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "MLXBENCH_FUZZ needs clang (configure with CC=clang)")
endif()

# cJSON is the fuzzers' oracle only (fuzz_json): the binary does not link it.
pkg_check_modules(CJSON REQUIRED IMPORTED_TARGET libcjson)

set(MB_FUZZ_FLAGS -fsanitize=fuzzer,address,undefined
                  -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
set(MB_SRC ${PROJECT_SOURCE_DIR}/src)

function(mb_fuzz_target name)
  add_executable(${name} ${PROJECT_SOURCE_DIR}/fuzz/${name}.c ${ARGN}
                 ${MB_SRC}/core/errors.c ${MB_SRC}/core/buf.c)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_compile_options(${name} PRIVATE ${MB_FUZZ_FLAGS})
  target_link_options(${name} PRIVATE ${MB_FUZZ_FLAGS})
  target_link_libraries(${name} PRIVATE m)
endfunction()

mb_fuzz_target(fuzz_sse ${MB_SRC}/core/sse.c)
mb_fuzz_target(fuzz_hist_decode ${MB_SRC}/core/hist.c ${MB_SRC}/core/hist_codec.c)
mb_fuzz_target(fuzz_llm ${MB_SRC}/core/llm.c ${MB_SRC}/core/llm_openai.c ${MB_SRC}/core/llm_server.c
               ${MB_SRC}/core/llm_anthropic.c ${MB_SRC}/core/json.c ${MB_SRC}/core/utf8.c ${MB_SRC}/core/sse.c
               ${MB_SRC}/core/hist.c ${MB_SRC}/core/redact.c)
target_link_libraries(fuzz_llm PRIVATE Threads::Threads)
mb_fuzz_target(fuzz_prom ${MB_SRC}/core/prom.c)
mb_fuzz_target(fuzz_json ${MB_SRC}/core/json.c ${MB_SRC}/core/utf8.c ${MB_SRC}/core/jsplit.c)
target_link_libraries(fuzz_json PRIVATE PkgConfig::CJSON)

# The emulator: its profile loader alone, and its whole HTTP request path
# (the server's parser on h1parse.h + routing/validation in src/emu) over
# loopback connections.
file(GLOB MB_FUZZ_MOCK_SRC ${MB_SRC}/emu/*.c ${MB_SRC}/server/*.c ${MB_SRC}/tok/*.c)
list(APPEND MB_FUZZ_MOCK_SRC ${MB_SRC}/core/mock_text.c ${MB_SRC}/core/mock_timing.c
     ${MB_SRC}/core/mock_length.c ${MB_PLATFORM_SRC} ${MB_H1PARSE_SRC})
set(MB_FUZZ_CORE_SRC ${MB_SRC}/core/hist.c ${MB_SRC}/core/hist_codec.c ${MB_SRC}/core/clock.c
    ${MB_SRC}/core/json.c ${MB_SRC}/core/utf8.c ${MB_SRC}/core/rng.c)
mb_fuzz_target(fuzz_mock_profile ${MB_FUZZ_MOCK_SRC} ${MB_FUZZ_CORE_SRC})
mb_fuzz_target(fuzz_mock_http ${MB_FUZZ_MOCK_SRC} ${MB_FUZZ_CORE_SRC})
foreach(t fuzz_mock_profile fuzz_mock_http)
  target_include_directories(${t} PRIVATE ${MB_SRC}/emu ${MB_SRC}/server
                             ${PROJECT_BINARY_DIR}/include)
  target_link_libraries(${t} PRIVATE PkgConfig::UV mb_dep_http1 PkgConfig::PCRE2
                        PkgConfig::UTF8PROC)
endforeach()

# The client's response path on the plain-HTTP/1.1 transport (h1/ on
# h1parse.h, client_req.c's storage and verdict) against a loopback
# server that answers with the input.
file(GLOB_RECURSE MB_FUZZ_CLIENT_SRC ${MB_SRC}/client/*.c)
mb_fuzz_target(fuzz_h1_response ${MB_FUZZ_CLIENT_SRC} ${MB_PLATFORM_SRC}
               ${MB_SRC}/core/sse.c ${MB_SRC}/core/clock.c ${MB_SRC}/core/hist.c
               ${MB_SRC}/core/redact.c ${MB_H1PARSE_SRC})
target_include_directories(fuzz_h1_response PRIVATE ${MB_SRC}/client
                           ${MB_CURL_INCLUDE_DIRS} ${PROJECT_BINARY_DIR}/include)
target_link_libraries(fuzz_h1_response PRIVATE ${CMAKE_DL_LIBS} PkgConfig::UV
                      mb_dep_http1 Threads::Threads)

# The tokenizer (src/tok): the loader on arbitrary files, and the encoder and
# decoder on arbitrary text through the fixtures of tests/fixtures/tok.
file(GLOB MB_FUZZ_TOK_SRC ${MB_SRC}/tok/*.c)
foreach(t fuzz_tok_load fuzz_tok_encode)
  mb_fuzz_target(${t} ${MB_FUZZ_TOK_SRC} ${MB_SRC}/core/json.c ${MB_SRC}/core/utf8.c)
  target_link_libraries(${t} PRIVATE PkgConfig::PCRE2 PkgConfig::UTF8PROC)
endforeach()
target_compile_definitions(fuzz_tok_encode PRIVATE
                           MB_TOK_FIXTURES="${PROJECT_SOURCE_DIR}/tests/fixtures/tok")
