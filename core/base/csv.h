/* A CSV reader for files users give us (CodeCarbon, nvidia-smi, carbon
 * intensity forecasts): RFC 4180 quoting (doubled quotes, separators and
 * newlines inside quotes), LF or CRLF line ends, a UTF-8 byte-order mark
 * skipped, and optional trimming of the blanks nvidia-smi puts after its
 * separators (", "). Rows are read one at a time from a buffer the caller
 * keeps alive; fields are NUL-terminated strings valid until the next call.
 *
 * Conventions: an empty line (nothing between two line ends) is skipped,
 * not returned as a row of one empty field; a NUL byte in the data is an
 * error (the input is not text); a quote opens a quoted field only as the
 * field's first character (after blanks when trimming), elsewhere it is an
 * ordinary character, as in Python's csv module. */
#ifndef RESQUE_CSV_H
#define RESQUE_CSV_H

#include <stdbool.h>
#include <stddef.h>

typedef struct rq_csv rq_csv;

/* A reader over `len` bytes of `data` (borrowed: it must outlive the
 * reader). `name` (copied) names the input in messages. Separator ','. */
int rq_csv_open_buffer(rq_csv **out, const char *data, size_t len, const char *name);

/* Trim blanks (spaces, tabs) around unquoted fields and around quoted ones
 * (outside the quotes). Off by default. */
void rq_csv_set_trim(rq_csv *c, bool trim);

/* Use another single-byte separator (';', '\t'); ',' by default. */
void rq_csv_set_separator(rq_csv *c, char sep);

/* Read the next row: returns 1 with `*nfields` and `*fields` (borrowed,
 * valid until the next call), 0 at the end, or a negative RQ_E* code with
 * a message "NAME: line N: reason" (an unterminated quote, a character
 * after a closing quote, a NUL byte). */
int rq_csv_next(rq_csv *c, size_t *nfields, const char *const **fields);

/* The 1-based line on which the row last returned starts (or where the
 * error was found). */
size_t rq_csv_line(const rq_csv *c);

/* Whether the row last returned ended with a line end; false for a last
 * line cut short (a log stopped mid-write) or a file without a final
 * newline. */
bool rq_csv_row_terminated(const rq_csv *c);

void rq_csv_free(rq_csv *c); /* accepts NULL */

/* The index of the header field `name`, compared case-insensitively and
 * ignoring surrounding blanks; a field "NAME [unit]" (nvidia-smi's style)
 * also matches NAME. Returns -1 when absent. */
long rq_csv_column(size_t nfields, const char *const *fields, const char *name);

/* The first of several alternative names present in the header (the
 * columns that were renamed across versions of a tool); -1 when none.
 * `names` ends with NULL. */
long rq_csv_column_any(size_t nfields, const char *const *fields, const char *const *names);

/* Refuse a header that names a column twice (compared as rq_csv_column
 * does: case-insensitively, without blanks or a "[unit]"): reading one of
 * two "energy_consumed" columns would silently pick a figure. RQ_EINVALID
 * "NAME: line N: column 'X' appears twice (fields I and J) ...". Empty
 * header fields are not compared. */
int rq_csv_header_check(const rq_csv *c, size_t nfields, const char *const *fields);

#endif
