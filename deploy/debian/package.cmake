# The Debian package purser-server, made by CPack (included from the top
# CMakeLists.txt): `cmake --build build --target package-deb` writes
# build/purser-server_<version>_amd64.deb. dpkg-shlibdeps gives its
# library Depends; the maintainer scripts beside this file make the purser
# user, its state directory and the unit's enablement.
set(PURSER_DEB_DIR ${CMAKE_CURRENT_LIST_DIR})
set(PURSER_DEPLOY_DIR ${PURSER_DEB_DIR}/..)

install(TARGETS purser-server purserctl RUNTIME DESTINATION bin)
# The Windows agent's installers, for administrators to fetch and deploy.
install(FILES ${PURSER_MSI64} ${PURSER_MSI32} DESTINATION share/purser/agent)
# The agent for Linux runs simulated Windows machines only: for trials.
install(PROGRAMS ${PURSER_AGENT_BIN} DESTINATION lib/purser)
# The default plans; the first install copies them to /var/lib/purser/plans.
install(DIRECTORY ${PURSER_DEPLOY_DIR}/plans/ DESTINATION share/purser/plans
  FILES_MATCHING PATTERN "*.textproto" PATTERN "*.json")
install(FILES ${PURSER_DEPLOY_DIR}/systemd/purser-server.service
  DESTINATION /lib/systemd/system)
install(FILES ${PURSER_DEPLOY_DIR}/purser-server.conf DESTINATION /etc/purser)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/windows.md
  DESTINATION share/doc/purser-server)

# The package is made from the targets it holds only, not from a build of everything.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME purser-server)
set(CPACK_PACKAGE_VERSION ${PURSER_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "Purser maintainers <purser@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "Purser control server: onboards legacy Windows endpoints to Defender for Endpoint")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "The server (purser-server, run by systemd as purser-server.service), the
operator CLI (purserctl), the default plans and the Windows agent's MSI
installers (/usr/share/purser/agent).")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PURSER_DEB_DIR}/conffiles ${PURSER_DEB_DIR}/postinst
  ${PURSER_DEB_DIR}/prerm ${PURSER_DEB_DIR}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)

# Builds only what the package holds (not the tests), then packs it.
add_custom_target(package-deb
  COMMAND ${CMAKE_CPACK_COMMAND} -G DEB --config ${PROJECT_BINARY_DIR}/CPackConfig.cmake
    -B ${PROJECT_BINARY_DIR}
  DEPENDS purser-server purserctl purser-agent purser-agent-windows
  WORKING_DIRECTORY ${PROJECT_BINARY_DIR}
  COMMENT "cpack: ${PROJECT_BINARY_DIR}/purser-server_${PURSER_VERSION}_amd64.deb")
