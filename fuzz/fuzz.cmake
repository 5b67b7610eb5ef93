# fuzz.cmake: libFuzzer targets, included when MLXBENCH_FUZZ is ON.
# Needs clang. Each target links only the src/core files it exercises, so the
# fuzzers build without libuv/curl/Lua. Run them with fuzz/run.sh.
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "MLXBENCH_FUZZ needs clang (configure with CC=clang)")
endif()

set(MB_FUZZ_FLAGS -fsanitize=fuzzer,address,undefined
                  -fno-sanitize-recover=undefined -fno-omit-frame-pointer)

function(mb_fuzz_target name)
  add_executable(${name} ${PROJECT_SOURCE_DIR}/fuzz/${name}.c ${ARGN}
                 ${PROJECT_SOURCE_DIR}/src/core/errors.c)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_compile_options(${name} PRIVATE ${MB_FUZZ_FLAGS})
  target_link_options(${name} PRIVATE ${MB_FUZZ_FLAGS})
  target_link_libraries(${name} PRIVATE m)
endfunction()

mb_fuzz_target(fuzz_sse ${PROJECT_SOURCE_DIR}/src/core/sse.c)
mb_fuzz_target(fuzz_hist_decode ${PROJECT_SOURCE_DIR}/src/core/hist.c
               ${PROJECT_SOURCE_DIR}/src/core/hist_codec.c)
