# Install rules and the Debian package (cpack -G DEB in the build directory,
# or `ninja package`): the three binaries, the default rules, the
# configuration files, systemd units, their defaults files and the logrotate
# file for the sensor's JSON output.
# Configuration goes to /etc whatever the prefix: these are the package's conffiles.
include(GNUInstallDirs)
# `install` and cpack take what is built and do not build every test first.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

install(TARGETS vigil-sensor vigil-collector vigilctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The default rules; the directory is there even before any rule ships.
install(DIRECTORY DESTINATION /etc/vigil/rules)
if(EXISTS ${PROJECT_SOURCE_DIR}/rules)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/rules/ DESTINATION /etc/vigil/rules
          FILES_MATCHING PATTERN "*.yml")
endif()
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/vigil-sensor.service
              ${PROJECT_SOURCE_DIR}/deploy/systemd/vigil-collector.service
        DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/default/vigil-sensor ${PROJECT_SOURCE_DIR}/deploy/default/vigil-collector
        DESTINATION /etc/default)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/logrotate/vigil DESTINATION /etc/logrotate.d)
# /etc/vigil/<daemon>.yaml: the reference file (every key commented out at its
# default, docs/configuration.md) followed by the few settings the systemd
# units need. The OCI image carries the reference files alone.
foreach(daemon sensor collector)
  set(reference ${PROJECT_SOURCE_DIR}/deploy/config/${daemon}.yaml)
  set(unit_settings ${PROJECT_SOURCE_DIR}/deploy/systemd/${daemon}.yaml)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${reference} ${unit_settings})
  file(READ ${reference} reference_text)
  file(READ ${unit_settings} unit_text)
  file(GENERATE OUTPUT ${CMAKE_BINARY_DIR}/deploy/${daemon}.yaml CONTENT "${reference_text}${unit_text}")
  install(FILES ${CMAKE_BINARY_DIR}/deploy/${daemon}.yaml DESTINATION /etc/vigil)
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME vigil)
set(CPACK_PACKAGE_VENDOR "Vigil")
set(CPACK_PACKAGE_CONTACT "Vigil maintainers <vigil@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "eBPF runtime sensor for Linux nodes, its collector and vigilctl")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS logrotate)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/deploy/debian/conffiles
                                       ${PROJECT_SOURCE_DIR}/deploy/debian/postinst
                                       ${PROJECT_SOURCE_DIR}/deploy/debian/prerm
                                       ${PROJECT_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
