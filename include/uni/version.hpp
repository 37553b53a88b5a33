// uni/version.hpp: which uni this is. The one place the version is written:
// CMakeLists.txt reads it from here into project(VERSION), hence into the
// package's uniConfigVersion.cmake and uni.pc.
#pragma once

#define UNI_VERSION_MAJOR 0
#define UNI_VERSION_MINOR 1
#define UNI_VERSION_PATCH 0
// One number that compares: 0.1.0 is 100, 1.2.3 is 10203.
#define UNI_VERSION (UNI_VERSION_MAJOR * 10000 + UNI_VERSION_MINOR * 100 + UNI_VERSION_PATCH)

#define UNI_VERSION_SPELL_(x) #x
#define UNI_VERSION_SPELL(x) UNI_VERSION_SPELL_(x)
// "0.1.0"
#define UNI_VERSION_STRING \
  UNI_VERSION_SPELL(UNI_VERSION_MAJOR) "." UNI_VERSION_SPELL(UNI_VERSION_MINOR) "." UNI_VERSION_SPELL(UNI_VERSION_PATCH)
