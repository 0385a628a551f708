# Target-scoped build settings shared by every target of the project.
# Nothing here touches global flags: each target opts in with tsdb_target_defaults().

function(tsdb_target_defaults target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wconversion -Wshadow -Wpointer-arith -Wformat=2 -Wundef
    $<$<COMPILE_LANGUAGE:C>:-Wstrict-prototypes -Wmissing-prototypes -fno-common>)
  target_compile_definitions(${target} PRIVATE _GNU_SOURCE)
  if(TSDB_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(TSDB_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
  if(TSDB_TSAN)
    target_compile_options(${target} PRIVATE -fsanitize=thread -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=thread)
  endif()
endfunction()
