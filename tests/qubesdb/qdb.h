/* The QubesDB client protocol, as the daemon's local socket speaks it
 * (qubes-core-qubesdb include/qubesdb.h): no handshake; every message is a
 * 72-byte header, then data_len bytes of payload without a NUL terminator.
 * Shared by the test daemon, qdb-tool and the test suite. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* A path is NUL-terminated inside path[], so at most 63 characters. */
#define QDB_MAX_PATH 64
/* data_len must be below it: a value has at most 3071 bytes. */
#define QDB_MAX_DATA 3072

enum qdb_type {
	QDB_CMD_READ = 0,
	QDB_CMD_WRITE = 1,
	QDB_CMD_MULTIREAD = 2,
	QDB_CMD_LIST = 3,
	QDB_CMD_RM = 4,
	QDB_CMD_WATCH = 5,
	QDB_CMD_UNWATCH = 6,
	QDB_RESP_OK = 7,
	QDB_RESP_ERROR_NOENT = 8,
	QDB_RESP_ERROR = 9,
	QDB_RESP_READ = 10,
	QDB_RESP_MULTIREAD = 11,
	QDB_RESP_LIST = 12,
	QDB_RESP_WATCH = 13,
	QDB_TYPE_MAX,
};

struct qdb_hdr {
	uint8_t type;
	char path[QDB_MAX_PATH];
	/* 3 implicit padding bytes at 65..67: a reply echoes them */
	uint32_t data_len; /* host byte order */
};

_Static_assert(sizeof(struct qdb_hdr) == 72, "qdb_hdr is 72 bytes on the wire");
_Static_assert(offsetof(struct qdb_hdr, type) == 0, "type at offset 0");
_Static_assert(offsetof(struct qdb_hdr, path) == 1, "path at offset 1");
_Static_assert(offsetof(struct qdb_hdr, data_len) == 68, "data_len at offset 68");

#define QDB_DEFAULT_SOCKET "/var/run/qubes/qubesdb.sock"
