/* The one line iterator over a text in memory (resque/lines.h). */
#include "common.h"
#include "lines.h"

void rq_lines_init(rq_lines *it, const char *text, size_t len)
{
	it->text = text;
	it->len = len;
	it->at = 0;
	it->lineno = 0;
	it->newline = false;
}

bool rq_lines_next(rq_lines *it, const char **line, size_t *len)
{
	if (it->at >= it->len)
		return false;
	const char *start = it->text + it->at;
	const char *nl = memchr(start, '\n', it->len - it->at);
	*line = start;
	*len = nl ? (size_t)(nl - start) : it->len - it->at;
	it->newline = nl != NULL;
	it->at += *len + (nl ? 1 : 0);
	it->lineno++;
	return true;
}
