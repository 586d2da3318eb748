/* The CSV reader of untrusted files (RFC 4180 plus the habits of the tools
 * we import from: BOM, CRLF, blanks after separators). */
#include "common.h"
#include "csv.h"

#include <strings.h>

struct rq_csv {
	const char *data;
	size_t len;
	size_t pos;
	size_t line;     /* line of data[pos] */
	size_t row_line; /* line where the current row starts */
	bool terminated;
	bool trim;
	char sep;
	char *name;
	rq_buf bytes;   /* the fields of the current row, each NUL-terminated */
	size_t *offs;   /* offsets of the fields in `bytes` */
	size_t offs_alloc;
	const char **ptrs;
	size_t ptrs_alloc;
};

int rq_csv_open_buffer(rq_csv **out, const char *data, size_t len, const char *name)
{
	rq_csv *c = rq_xcalloc(1, sizeof(*c));
	c->data = data ? data : "";
	c->len = data ? len : 0;
	c->line = 1;
	c->row_line = 1;
	c->sep = ',';
	c->name = rq_xstrdup(name ? name : "(csv)");
	rq_buf_init(&c->bytes);
	if (c->len >= 3 && (unsigned char)c->data[0] == 0xef &&
	    (unsigned char)c->data[1] == 0xbb && (unsigned char)c->data[2] == 0xbf)
		c->pos = 3;
	*out = c;
	return 0;
}

void rq_csv_set_trim(rq_csv *c, bool trim)
{
	c->trim = trim;
}

void rq_csv_set_separator(rq_csv *c, char sep)
{
	if (sep != '"' && sep != '\n' && sep != '\r' && sep != '\0')
		c->sep = sep;
}

size_t rq_csv_line(const rq_csv *c)
{
	return c->row_line;
}

bool rq_csv_row_terminated(const rq_csv *c)
{
	return c->terminated;
}

void rq_csv_free(rq_csv *c)
{
	if (!c)
		return;
	rq_buf_release(&c->bytes);
	free(c->offs);
	free(c->ptrs);
	free(c->name);
	free(c);
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* A line end at data[pos]: "\n", "\r\n" or a "\r" that ends the data. */
static size_t line_end_len(const rq_csv *c, size_t pos)
{
	if (pos >= c->len)
		return 0;
	if (c->data[pos] == '\n')
		return 1;
	if (c->data[pos] == '\r') {
		if (pos + 1 < c->len && c->data[pos + 1] == '\n')
			return 2;
		if (pos + 1 == c->len)
			return 1;
	}
	return 0;
}

static void add_field(rq_csv *c, size_t *nf, size_t off)
{
	RQ_ALLOC_GROW(c->offs, *nf + 1, c->offs_alloc);
	c->offs[(*nf)++] = off;
	rq_buf_putc(&c->bytes, '\0');
}

static void skip_blanks(rq_csv *c)
{
	if (c->trim)
		while (c->pos < c->len && is_blank(c->data[c->pos]))
			c->pos++;
}

/* A quoted field from the opening quote at data[pos] into c->bytes, with
 * the blanks after it when trimming. */
static int read_quoted(rq_csv *c)
{
	size_t qline = c->line;
	c->pos++;
	for (;;) {
		if (c->pos >= c->len) {
			c->row_line = qline;
			return rq_error_set(RQ_EINVALID, "%s: line %zu: unterminated quoted field",
					    c->name, qline);
		}
		char ch = c->data[c->pos];
		if (ch == '\0') {
			c->row_line = c->line;
			return rq_error_set(RQ_EINVALID, "%s: line %zu: NUL byte (not a text file)",
					    c->name, c->line);
		}
		if (ch == '"') {
			if (c->pos + 1 < c->len && c->data[c->pos + 1] == '"') {
				rq_buf_putc(&c->bytes, '"');
				c->pos += 2;
				continue;
			}
			c->pos++;
			break;
		}
		if (ch == '\n')
			c->line++;
		rq_buf_putc(&c->bytes, ch);
		c->pos++;
	}
	skip_blanks(c);
	if (c->pos < c->len && c->data[c->pos] != c->sep && line_end_len(c, c->pos) == 0) {
		c->row_line = c->line;
		return rq_error_set(RQ_EINVALID, "%s: line %zu: unexpected character after a closing quote",
				    c->name, c->line);
	}
	return 0;
}

/* An unquoted field up to the separator or line end into c->bytes, without
 * trailing blanks when trimming. */
static int read_plain(rq_csv *c)
{
	size_t start = c->pos;
	while (c->pos < c->len && c->data[c->pos] != c->sep && line_end_len(c, c->pos) == 0) {
		if (c->data[c->pos] == '\0') {
			c->row_line = c->line;
			return rq_error_set(RQ_EINVALID, "%s: line %zu: NUL byte (not a text file)",
					    c->name, c->line);
		}
		c->pos++;
	}
	size_t end = c->pos;
	if (c->trim)
		while (end > start && is_blank(c->data[end - 1]))
			end--;
	rq_buf_put(&c->bytes, c->data + start, end - start);
	return 0;
}

/* The fields of the row starting at data[pos] into c->bytes and c->offs;
 * *nf counts them. */
static int read_row(rq_csv *c, size_t *nf)
{
	for (;;) {
		size_t off = c->bytes.len;
		skip_blanks(c);
		int err = c->pos < c->len && c->data[c->pos] == '"' ? read_quoted(c) : read_plain(c);
		if (err)
			return err;
		add_field(c, nf, off);

		if (c->pos >= c->len)
			return 0;
		if (c->data[c->pos] == c->sep) {
			c->pos++;
			continue;
		}
		c->pos += line_end_len(c, c->pos);
		c->line++;
		c->terminated = true;
		return 0;
	}
}

int rq_csv_next(rq_csv *c, size_t *nfields, const char *const **fields)
{
	size_t nf = 0, n;
	*nfields = 0;
	*fields = NULL;

	/* empty lines are not rows */
	while ((n = line_end_len(c, c->pos)) > 0) {
		c->pos += n;
		c->line++;
	}
	if (c->pos >= c->len)
		return 0;

	c->row_line = c->line;
	c->terminated = false;
	rq_buf_reset(&c->bytes);
	int err = read_row(c, &nf);
	if (err)
		return err;

	RQ_ALLOC_GROW(c->ptrs, nf, c->ptrs_alloc);
	for (size_t i = 0; i < nf; i++)
		c->ptrs[i] = c->bytes.ptr + c->offs[i];
	*nfields = nf;
	*fields = c->ptrs;
	return 1;
}

static bool header_matches(const char *field, const char *name)
{
	size_t n = strlen(name);
	while (is_blank(*field))
		field++;
	if (strncasecmp(field, name, n) != 0)
		return false;
	const char *rest = field + n;
	while (is_blank(*rest))
		rest++;
	if (*rest == '\0')
		return true;
	/* "power.draw [W]": a unit in brackets after the name */
	if (*rest == '[' && rest != field + n) {
		const char *close = strchr(rest, ']');
		if (!close)
			return false;
		close++;
		while (is_blank(*close))
			close++;
		return *close == '\0';
	}
	return false;
}

long rq_csv_column(size_t nfields, const char *const *fields, const char *name)
{
	for (size_t i = 0; i < nfields && i < (size_t)LONG_MAX; i++)
		if (header_matches(fields[i], name))
			return (long)i;
	return -1;
}

long rq_csv_column_any(size_t nfields, const char *const *fields, const char *const *names)
{
	for (size_t k = 0; names[k]; k++) {
		long i = rq_csv_column(nfields, fields, names[k]);
		if (i >= 0)
			return i;
	}
	return -1;
}

/* The name part of a header field: blanks and a "[unit]" suffix dropped. */
static void header_name(const char **start, size_t *len, const char *field)
{
	const char *end;
	while (is_blank(*field))
		field++;
	end = field + strlen(field);
	if (strchr(field, '[') && strchr(field, '[') != field)
		end = strchr(field, '[');
	while (end > field && is_blank(end[-1]))
		end--;
	*start = field;
	*len = (size_t)(end - field);
}

int rq_csv_header_check(const rq_csv *c, size_t nfields, const char *const *fields)
{
	for (size_t i = 0; i < nfields; i++) {
		const char *a;
		size_t la;
		header_name(&a, &la, fields[i]);
		if (!la)
			continue;
		for (size_t j = i + 1; j < nfields; j++) {
			const char *b;
			size_t lb;
			header_name(&b, &lb, fields[j]);
			if (la == lb && strncasecmp(a, b, la) == 0)
				return rq_error_set(RQ_EINVALID,
						    "%s: line %zu: column '%.*s' appears twice (fields %zu and %zu): which one to read is ambiguous",
						    c->name, c->row_line, (int)(la > 64 ? 64 : la), a, i + 1, j + 1);
		}
	}
	return 0;
}
