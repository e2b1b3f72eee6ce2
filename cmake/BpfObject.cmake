# Builds CO-RE eBPF objects and their libbpf skeletons in the build tree.
# vmlinux.h comes from the running kernel's BTF; neither it nor the skeletons are
# ever committed (libbpf-bootstrap's FindBpfObject does the same).

find_program(BPF_CLANG clang REQUIRED)
find_program(BPFTOOL bpftool PATHS /usr/sbin /sbin REQUIRED)

set(WARREN_VMLINUX_DIR ${CMAKE_BINARY_DIR}/bpf/vmlinux)
set(WARREN_VMLINUX_H ${WARREN_VMLINUX_DIR}/vmlinux.h)
add_custom_command(
  OUTPUT ${WARREN_VMLINUX_H}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${WARREN_VMLINUX_DIR}
  COMMAND ${BPFTOOL} btf dump file /sys/kernel/btf/vmlinux format c > ${WARREN_VMLINUX_H}.tmp
  COMMAND ${CMAKE_COMMAND} -E rename ${WARREN_VMLINUX_H}.tmp ${WARREN_VMLINUX_H}
  COMMENT "Generating vmlinux.h from /sys/kernel/btf/vmlinux"
  VERBATIM)
# A target, so BPF objects in other directories can depend on the header.
add_custom_target(warren_vmlinux DEPENDS ${WARREN_VMLINUX_H})

string(TOLOWER ${CMAKE_SYSTEM_PROCESSOR} _warren_arch)
if(_warren_arch MATCHES "x86_64|amd64")
  set(WARREN_BPF_ARCH x86)
elseif(_warren_arch MATCHES "aarch64|arm64")
  set(WARREN_BPF_ARCH arm64)
else()
  set(WARREN_BPF_ARCH ${_warren_arch})
endif()

# warren_bpf_object(NAME SOURCE DEPENDS...) -> target NAME_skel (INTERFACE) that
# puts NAME.skel.h on the include path.
function(warren_bpf_object name source)
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR})
  set(obj ${out_dir}/${name}.bpf.o)
  set(skel ${out_dir}/${name}.skel.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_${WARREN_BPF_ARCH}
            -Wall -Wextra -Werror -Wno-unused-parameter
            -I${WARREN_VMLINUX_DIR} -I${CMAKE_SOURCE_DIR}/bpf/include -I${CMAKE_SOURCE_DIR}/bpf
            -c ${CMAKE_CURRENT_SOURCE_DIR}/${source} -o ${obj}
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${source} ${ARGN}
    COMMENT "Compiling BPF object ${name}"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
    DEPENDS ${obj}
    COMMENT "Generating skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_dependencies(${name}_skel_gen warren_vmlinux)
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${out_dir} ${CMAKE_SOURCE_DIR}/bpf/include)
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF)
endfunction()
