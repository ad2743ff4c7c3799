# BPF objects and their libbpf skeletons, built by clang -target bpf and
# `bpftool gen skeleton` as part of the normal build.
#
#   mkdp_bpf_skeleton(<name> <file.bpf.c> [DEPENDS headers...])
#
# produces ${CMAKE_BINARY_DIR}/bpf/<name>.bpf.o, <name>.skel.h and an
# INTERFACE target <name>_skel whose include path holds the skeleton.
find_program(CLANG_BPF NAMES clang clang-14 clang-15 clang-16 REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)
# The multiarch directory of the UAPI headers (asm/types.h). -print-multiarch
# names it for GCC and clang alike; clang's -dumpmachine gives the target
# triple instead (x86_64-pc-linux-gnu), which is no directory on Debian.
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-multiarch
                OUTPUT_VARIABLE MKDP_MULTIARCH OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT MKDP_MULTIARCH)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -dumpmachine
                  OUTPUT_VARIABLE MKDP_MULTIARCH OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64")
  set(MKDP_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64")
  set(MKDP_BPF_ARCH arm64)
else()
  set(MKDP_BPF_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()

# mkdp_bpf_object(<name> <file.bpf.c> [DEPENDS headers...]): only the object,
# <build dir of the calling CMakeLists>/<name>.bpf.o, built by target <name>_obj
# (SDP programs: the executor loads them by path).
function(mkdp_bpf_object name src)
  cmake_parse_arguments(ARG "" "" "DEPENDS" ${ARGN})
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR})
  set(obj ${out_dir}/${name}.bpf.o)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND ${CLANG_BPF} -g -O2 -target bpf -D__TARGET_ARCH_${MKDP_BPF_ARCH}
            -Wall -Werror
            -I/usr/include/${MKDP_MULTIARCH}
            -I${CMAKE_SOURCE_DIR}/bpf -I${CMAKE_SOURCE_DIR}/ring_abi -I${CMAKE_SOURCE_DIR}/sdp
            -c ${CMAKE_CURRENT_SOURCE_DIR}/${src} -o ${obj}
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${src} ${ARG_DEPENDS}
    COMMENT "BPF ${src}"
    VERBATIM)
  add_custom_target(${name}_obj ALL DEPENDS ${obj})
endfunction()

function(mkdp_bpf_skeleton name src)
  cmake_parse_arguments(ARG "" "" "DEPENDS" ${ARGN})
  mkdp_bpf_object(${name} ${src} DEPENDS ${ARG_DEPENDS})
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR})
  set(obj ${out_dir}/${name}.bpf.o)
  set(skel ${out_dir}/${name}.skel.h)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}
    DEPENDS ${obj}
    COMMENT "skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name}_skel_gen ALL DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  target_include_directories(${name}_skel INTERFACE ${out_dir})
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF)
  add_dependencies(${name}_skel ${name}_skel_gen)
endfunction()
