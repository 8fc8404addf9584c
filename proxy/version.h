/* The release, shown by --version, the start log line, /metrics
 * (modgate_build_info) and the status page. */
#ifndef MODGATE_VERSION_H
#define MODGATE_VERSION_H

#define MODGATE_VERSION "0.1.0"

#endif
