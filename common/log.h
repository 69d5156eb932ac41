/*
 * Logging for daemon/ and jobs/ only (protocols/ and db/ return messages
 * instead).  Messages go to the journal with structured fields when flashd
 * runs under systemd (JOURNAL_STREAM set or stderr not a tty is not enough:
 * we ask sd_journal), otherwise to stderr with a level prefix.
 *
 * Fields follow test-rigs.md §5.3: FLASHD_PORT, FLASHD_SLOT, FLASHD_UNIT,
 * FLASHD_SERIAL, FLASHD_STAGE, FLASHD_RESULT, plus a MESSAGE_ID per event
 * type (LOG_ID_* below) so `journalctl MESSAGE_ID=…` finds one kind of event.
 */
#ifndef FLASHD_COMMON_LOG_H
#define FLASHD_COMMON_LOG_H

#include <stdint.h>
#include <syslog.h>

#include "common/macro.h"

/* MESSAGE_IDs (128-bit, generated once with `systemd-id128 new`). */
#define LOG_ID_STARTED "5b1d0a3c8e6f4f0e9a1b2c3d4e5f6071"
#define LOG_ID_BOARD_ARRIVED "0f6e3f1fb1c74a3c8f7c8a51c0a4d2e1"
#define LOG_ID_BOARD_LEFT "6a2b9c4d1e8f4a7b9c3d2e1f0a9b8c7d"
#define LOG_ID_JOB_STARTED "a1f3c5e7092b4d6f8a1c3e5f7092b4d6"
#define LOG_ID_STAGE "c3e5a7f9b1d34f5a7c9e1b3d5f7a9c1e"
#define LOG_ID_JOB_FINISHED "e5a7c9b1d3f54a6c8e0b2d4f6a8c0e2b"
#define LOG_ID_RECIPE "7d9f1b3e5a7c4e9f1b3d5a7c9e1f3b5d"
/* The database stopped taking writes: no new boards, results kept pending. */
#define LOG_ID_DB_UNWRITABLE "d62f8d98467c4c05913cf256d6fe94a0"
/* The database takes writes again: pending results written, boards taken. */
#define LOG_ID_DB_WRITABLE "502bcf9aeb7540f3ae11cd78fcc510ac"
/* An identity pool got low (below its low_water) or exhausted: once per crossing. */
#define LOG_ID_POOL_LOW "d735a8a0127e4507949eb8c63570433a"

/* Per-event context; NULL/0 members are left out of the record. */
struct log_ctx {
	const char *port;
	const char *slot;
	int64_t unit;
	const char *serial;
	const char *stage;
	const char *result;
};

/* Plain message, no context. */
void log_msg(int priority, const char *fmt, ...) _printf_(2, 3);
/* Message with context fields and a MESSAGE_ID (may be NULL). */
void log_ev(int priority, const char *message_id, const struct log_ctx *ctx, const char *fmt, ...)
	_printf_(4, 5);

/* Force stderr output (tests, foreground runs); default: journal if available. */
void log_set_stderr(int on);

#endif
