# One place for the flags every nbcore target gets: warnings, sanitizers.
function(nbcore_target_defaults target)
  get_target_property(type ${target} TYPE)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wnon-virtual-dtor>
      $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU>>:-Wshadow=local>
      $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra -Wpedantic>)
    if(NBCORE_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  endif()
  if(NBCORE_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${NBCORE_SANITIZE} -fno-omit-frame-pointer)
    if(NOT type STREQUAL "STATIC_LIBRARY" AND NOT type STREQUAL "OBJECT_LIBRARY")
      target_link_options(${target} PRIVATE -fsanitize=${NBCORE_SANITIZE})
    endif()
  endif()
  if(NBCORE_BUILD_FUZZ)
    # Coverage feedback for libFuzzer from every target, not only the fuzz entry points; and a
    # sanitizer report must stop the run (libFuzzer saves the input as a crash).
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link)
    if(NBCORE_SANITIZE)
      target_compile_options(${target} PRIVATE -fno-sanitize-recover=all)
    endif()
  endif()
endfunction()
