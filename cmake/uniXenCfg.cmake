# cmake/uniXenCfg.cmake: writes an image's xl configuration after the link, run as
#   cmake -DIMAGE=... -DDEBUG_IMAGE=... -DNM=... -DNAME=... -DMEMORY=... -DBRIDGE=... -DOUT=... -P uniXenCfg.cmake
# The appliance declares its network interfaces in its Config; UNI_APPLIANCE
# gives the image a symbol `uni_xen_vifs` one byte longer than their number (an
# array cannot be empty), read here with `nm -S`, so the configuration lists as
# many vifs (none for an image without it, or of vchans alone). Its block devices
# the same way: `uni_xen_disks`; disk N is xvda, xvdb, ... (blkfront's
# device/vbd/51712 + 16 N), a raw image beside the image, IMAGE-diskN.img.
execute_process(COMMAND ${NM} -S --defined-only ${DEBUG_IMAGE} OUTPUT_VARIABLE symbols RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "uniXenCfg: ${NM} could not read ${DEBUG_IMAGE}")
endif()
set(vifs 0)
if(symbols MATCHES "[0-9a-fA-F]+ ([0-9a-fA-F]+) [rRdD] uni_xen_vifs\n")
  math(EXPR vifs "0x${CMAKE_MATCH_1} - 1")
endif()
set(disks 0)
if(symbols MATCHES "[0-9a-fA-F]+ ([0-9a-fA-F]+) [rRdD] uni_xen_disks\n")
  math(EXPR disks "0x${CMAKE_MATCH_1} - 1")
endif()
set(disk_line "")
if(disks GREATER 0)
  set(letters a b c d e f g h i j k l m n o p)
  set(list "")
  set(i 0)
  while(i LESS disks)
    list(GET letters ${i} letter)
    if(i GREATER 0)
      string(APPEND list ", ")
    endif()
    string(APPEND list "'format=raw, vdev=xvd${letter}, access=rw, target=${IMAGE}-disk${i}.img'")
    math(EXPR i "${i} + 1")
  endwhile()
  set(disk_line "disk = [ ${list} ]\n")
endif()
set(list "")
set(i 0)
while(i LESS vifs)
  if(i GREATER 0)
    string(APPEND list ", ")
  endif()
  string(APPEND list "'bridge=${BRIDGE}'")
  math(EXPR i "${i} + 1")
endwhile()
set(vif_line "")
if(vifs GREATER 0)
  set(vif_line "vif = [ ${list} ]\n")
endif()
file(WRITE ${OUT}.tmp
"# xl configuration for the uni appliance ${NAME}: xl create ${NAME}.cfg
name = \"${NAME}\"
type = \"pvh\"
kernel = \"${IMAGE}\"
memory = ${MEMORY}
vcpus = 1
${vif_line}${disk_line}on_poweroff = \"destroy\"
on_crash = \"destroy\"
")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
