/* Lookup of grid carbon intensity by region code in the generated table,
 * with close matches for an unknown code (never a silent default). */
#include "common.h"
#include "carbon_int.h"

#include <ctype.h>
#include <strings.h>

#define MAX_SUGGESTIONS 6

size_t rq_carbon_count(void)
{
	return rq_carbon_table_len;
}

const rq_region *rq_carbon_at(size_t i)
{
	return i < rq_carbon_table_len ? &rq_carbon_table[i] : NULL;
}

/* Case-insensitive Levenshtein distance with two rows, capped inputs. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), *prev, *cur, d;

	if (la > 64)
		la = 64;
	if (lb > 64)
		lb = 64;
	prev = rq_xcalloc(lb + 1, sizeof(size_t));
	cur = rq_xcalloc(lb + 1, sizeof(size_t));
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] +
				     (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, (lb + 1) * sizeof(size_t));
	}
	d = prev[lb];
	free(prev);
	free(cur);
	return d;
}

static bool has_prefix_ci(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);
	return n > 0 && strncasecmp(s, prefix, n) == 0;
}

/* Distance of `code` to an entry: the best over its code, alternative
 * code, the cloud code without its provider, and its name. */
static size_t distance_to(const rq_region *r, const char *code)
{
	size_t d = edit_distance(code, r->code);
	const char *colon = strchr(r->code, ':');
	if (r->alt && edit_distance(code, r->alt) < d)
		d = edit_distance(code, r->alt);
	if (colon && edit_distance(code, colon + 1) < d)
		d = edit_distance(code, colon + 1);
	if (edit_distance(code, r->name) < d)
		d = edit_distance(code, r->name);
	if (strlen(code) >= 2 && (has_prefix_ci(r->code, code) || (r->alt && has_prefix_ci(r->alt, code)) ||
				  (colon && has_prefix_ci(colon + 1, code))))
		d = 0;
	return d;
}

static int not_found(const char *code)
{
	size_t best[MAX_SUGGESTIONS], bestd[MAX_SUGGESTIONS], nbest = 0;
	size_t limit = strlen(code) / 3 + 1;
	rq_buf msg = RQ_BUF_INIT;
	int err;

	for (size_t i = 0; i < rq_carbon_table_len; i++) {
		size_t d = distance_to(&rq_carbon_table[i], code), k;
		if (d > limit)
			continue;
		/* insertion into the short sorted list of the closest */
		for (k = nbest; k > 0 && bestd[k - 1] > d; k--)
			if (k < MAX_SUGGESTIONS) {
				best[k] = best[k - 1];
				bestd[k] = bestd[k - 1];
			}
		if (k < MAX_SUGGESTIONS) {
			best[k] = i;
			bestd[k] = d;
			if (nbest < MAX_SUGGESTIONS)
				nbest++;
		}
	}
	rq_buf_printf(&msg, "region '%s': unknown grid region", code);
	if (nbest) {
		rq_buf_puts(&msg, "; close matches:");
		for (size_t k = 0; k < nbest; k++)
			rq_buf_printf(&msg, "%s %s (%s)", k ? "," : "", rq_carbon_table[best[k]].code,
				      rq_carbon_table[best[k]].name);
	} else {
		rq_buf_puts(&msg, "; use an ISO 3166 country code (FR, FRA), a grid region (US-CA), "
				  "a cloud region (aws:eu-west-3) or give the intensity in g/kWh");
	}
	err = rq_error_set(RQ_ENOTFOUND, "%s", msg.ptr);
	rq_buf_release(&msg);
	return err;
}

const char *rq_carbon_renamed(const char *code)
{
	for (const rq_region_alias *a = rq_carbon_aliases; code && a->old; a++) {
		const char *colon = strchr(a->old, ':');
		if (strcasecmp(code, a->old) == 0 || (colon && strcasecmp(code, colon + 1) == 0))
			return a->code;
		/* "gcp/NAME" as rq_carbon_lookup reads it */
		if (colon && strncasecmp(code, a->old, (size_t)(colon - a->old)) == 0 &&
		    code[colon - a->old] == '/' && strcasecmp(code + (colon - a->old) + 1, colon + 1) == 0)
			return a->code;
	}
	return NULL;
}

int rq_carbon_lookup(const rq_region **out, const char *code)
{
	char key[128];
	const rq_region *hit = NULL;
	size_t nhit = 0;

	*out = NULL;
	if (!code || !*code)
		return rq_error_set(RQ_EINVALID, "region: empty code");
	if (strlen(code) >= sizeof(key))
		return rq_error_set(RQ_ENOTFOUND, "region '%.40s...': unknown grid region", code);
	snprintf(key, sizeof(key), "%s", code);
	/* "gcp/europe-west1" reads as "gcp:europe-west1" */
	{
		char *slash = strchr(key, '/');
		if (slash && slash - key <= 5)
			*slash = ':';
	}
	for (size_t i = 0; i < rq_carbon_table_len; i++) {
		const rq_region *r = &rq_carbon_table[i];
		if (strcasecmp(r->code, key) == 0) {
			*out = r;
			return 0;
		}
		if (r->alt && strcasecmp(r->alt, key) == 0) {
			if (!hit || hit != r)
				nhit++;
			hit = r;
		}
	}
	if (nhit == 1) {
		*out = hit;
		return 0;
	}
	if (nhit > 1)
		return rq_error_set(RQ_EAMBIGUOUS, "region '%s' names several cloud regions: "
					"prefix it with its provider (aws:, gcp:, azure:)", code);
	if (rq_carbon_renamed(code))
		return rq_carbon_lookup(out, rq_carbon_renamed(code));
	return not_found(code);
}
