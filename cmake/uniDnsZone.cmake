# uni_dns_zone(APPLIANCE ZONE file)
#
# Compiles a zone master file into a DNS appliance's targets (APPLIANCE-socket,
# -tap, -xen, those that exist) with the same embedder as the appliances' files
# (uni_embed_files, cmake/uniEmbed.cmake): the file is a read-only key-value
# store of one key, its name, reached through uni::kv::embedded_dns_zone()
# (generated header uni_embedded_dns_zone.hpp). The appliance parses it when it
# starts, with the same parser and errors as `--zone FILE`. CMake re-runs when
# the file changes.
include(${CMAKE_CURRENT_LIST_DIR}/uniEmbed.cmake)

function(uni_dns_zone appliance)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "ZONE" "")
  if(NOT arg_ZONE)
    message(FATAL_ERROR "uni_dns_zone(${appliance}): ZONE is required")
  endif()
  get_filename_component(zone "${arg_ZONE}" ABSOLUTE)
  if(IS_DIRECTORY "${zone}" OR NOT EXISTS "${zone}")
    message(FATAL_ERROR "uni_dns_zone(${appliance}): ZONE must be a file: ${zone}")
  endif()
  foreach(suffix socket tap xen)
    if(TARGET ${appliance}-${suffix})
      uni_embed_files(${appliance}-${suffix} ${zone} NAME dns_zone)
    endif()
  endforeach()
endfunction()
