/* resque config: read and set the repository's settings (region, PUE,
 * signing key...) in .resque/config, git-config syntax. Keys of the resque
 * section are checked against the known ones, so a typo is never written. */
#include "common.h"
#include "cmd.h"
#include "bounds.h"
#include "resque/carbon.h"
#include "resque/keystore.h"
#include "resque/meter.h"
#include "json.h"
#include "ledger_int.h"
#include "actual_context.h"

#include <ctype.h>
#include <math.h>
#include <strings.h>

static const struct cmd_help help = {
	"config", "read or set repository settings",
	"resque config              list the settings that are set\n"
	"resque config --list       every known key: value, default, where set\n"
	"resque config KEY          print one\n"
	"resque config KEY VALUE    set one\n"
	"resque config --unset KEY  remove one\n\n"
	"Keys: region (grid region for carbon: a country's ISO code or a cloud\n"
	"region), pue (power usage effectiveness, >= 1), signingkey (key id that\n"
	"signs this repository's entries), hardware (default hardware profile;\n"
	"unset: this machine's, \"cpu:MODEL xN; gpu:NAME xK\"), cpu-watts (watts per\n"
	"logical CPU, a thread or a vCPU, for the energy estimate of 'resque run':\n"
	"instead of the TDP table or the virtual-machine coefficient; the\n"
	"environment variable RESQUE_CPU_WATTS and 'run --cpu-watts' come first).\n"
	"resque.id and resque.formatversion are written by 'resque init' and are\n"
	"read only.\n\n"
	"Which keys are accepted: a bare KEY means resque.KEY, and a key of the\n"
	"resque section must be one of the above: an unknown one is refused with\n"
	"exit status 2 and the closest known key (\"unknown key 'regoin'; did you\n"
	"mean 'region'?\"), and nothing is written. A key of another section is a\n"
	"git-config key and is read and written as given (remote.origin.url, which\n"
	"'resque remote' writes; user.name; http.sslCAInfo), unless its section is\n"
	"a near-miss of \"resque\" (resqeu.region), refused as a typo. --unset also\n"
	"removes an unknown resque key that is set (an earlier resque accepted\n"
	"typos; 'resque config' warns about them). Names are case-insensitive, as\n"
	"in git.\n\n"
	"--list (--json: {\"keys\": [{\"key\", \"name\", \"value\", \"default\",\n"
	"\"source\", \"where\", \"read_only\"}], \"unknown\": [{\"name\", \"value\",\n"
	"\"where\"}]}): \"value\" is what resque uses (null when nothing is set and\n"
	"the default applies); \"source\" is \"config\" (\"where\" names the file:\n"
	".resque/config, or a git config file such as ~/.gitconfig), \"environment\"\n"
	"(\"where\" names the variable) or \"default\".",
};

/* A key of the resque section. `def` says what applies when it is unset. */
struct key {
	const char *name; /* after "resque." */
	const char *env;  /* an environment variable that comes first, or NULL */
	const char *def;
	bool read_only;   /* written by init and clone */
};

static const struct key keys[] = {
	{ "region", NULL, "none: no carbon is recorded unless --region is given", false },
	{ "pue", NULL, "the cloud region's PUE, else 1", false },
	{ "signingkey", NULL, "the key store's default key", false },
	{ "hardware", NULL, "this machine's profile", false },
	{ "cpu-watts", "RESQUE_CPU_WATTS", "the TDP table, or in a virtual machine its per-vCPU figure", false },
	{ "id", NULL, "written by resque init", true },
	{ "formatversion", NULL, "written by resque init", true },
};

static const struct key *known_key(const char *name)
{
	for (size_t i = 0; i < RQ_ARRAY_SIZE(keys); i++)
		if (strcasecmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* The settable key closest to `name`, or NULL when none is close. */
static const struct key *closest_key(const char *name)
{
	const struct key *best = NULL;
	size_t bestd = SIZE_MAX, len = strlen(name);
	char low[64];
	if (len >= sizeof(low))
		return NULL;
	for (size_t i = 0; i <= len; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	for (size_t i = 0; i < RQ_ARRAY_SIZE(keys); i++) {
		size_t d = cmd_edit_distance(low, keys[i].name);
		if (!keys[i].read_only && d < bestd) {
			bestd = d;
			best = &keys[i];
		}
	}
	/* two edits (a transposition is two), three for a long name */
	return bestd <= 2 || (bestd <= 3 && len >= 8) ? best : NULL;
}

static int unknown_key(const char *arg, const char *prefix, const struct key *near)
{
	if (near)
		fprintf(stderr, "resque: unknown key '%s'; did you mean '%s%s'?\n", arg, prefix, near->name);
	else
		fprintf(stderr, "resque: unknown key '%s'; the keys are region, pue, signingkey, hardware and "
				"cpu-watts (see 'resque config --list'); other git-config keys are written in full "
				"(remote.origin.url)\n", arg);
	return EXIT_USAGE;
}

/* Whether `section` looks like a misspelt "resque" (one or two edits). */
static bool near_resque(const char *section, size_t len)
{
	char low[16];
	if (len < 4 || len >= sizeof(low))
		return false;
	for (size_t i = 0; i < len; i++)
		low[i] = (char)tolower((unsigned char)section[i]);
	low[len] = '\0';
	return strcmp(low, "resque") != 0 && cmd_edit_distance(low, "resque") <= 2;
}

/* The full config key that `arg` names, into `out`, and *k its known key
 * (NULL for a key of another section). Refuses (exit 2) an unknown resque
 * key, unless `unset` and it is set (a typo an earlier resque wrote). */
static int resolve_key(rq_buf *out, const struct key **k, const char *arg, rq_ledger *l, bool unset)
{
	const char *dot = strchr(arg, '.'), *name = arg, *prefix = "";

	*k = NULL;
	if (dot) {
		if ((size_t)(dot - arg) != 6 || strncasecmp(arg, "resque", 6) != 0) {
			const char *last = strrchr(arg, '.') + 1;
			if (near_resque(arg, (size_t)(dot - arg)))
				return unknown_key(arg, "resque.", known_key(last) ? known_key(last) : closest_key(last));
			rq_buf_puts(out, arg);
			return 0;
		}
		name = dot + 1;
		prefix = "resque.";
	}
	if ((*k = known_key(name))) {
		rq_buf_printf(out, "resque.%s", (*k)->name); /* as check_value spells it */
		return 0;
	}
	rq_buf_printf(out, "resque.%s", name);
	if (unset) {
		rq_buf v = RQ_BUF_INIT;
		int err = rq_ledger_config_get(&v, l, out->ptr);
		rq_buf_release(&v);
		rq_error_clear();
		if (!err)
			return 0;
	}
	return unknown_key(arg, prefix, strchr(name, '.') ? NULL : closest_key(name));
}

static int check_value(const char *key, const char *value)
{
	if (strcmp(key, "resque.pue") == 0) {
		double v;
		if (rq_bound_parse_decimal(&v, value) || rq_bound_check("pue", v, "pue"))
			return cmd_error("pue must be a decimal number in the plausible range [1, 3], not '%s'", value);
	}
	if (strcmp(key, "resque.signingkey") == 0 && !rq_is_hex(value, strlen(value)))
		return cmd_error("signingkey must be a key id (hex), not '%s'", value);
	if (strcmp(key, "resque.cpu-watts") == 0) {
		double v;
		int err = actual_cpu_watts_parse(&v, value, "cpu-watts");
		if (err)
			return cmd_fail_code(err);
	}
	if (strcmp(key, "resque.region") == 0 && !*value)
		return cmd_error("region must not be empty");
	if (strcmp(key, "resque.region") == 0) {
		const rq_region *r;
		int err = rq_carbon_lookup(&r, value);
		if (err)
			return cmd_fail_code(err);
	}
	return 0;
}

/* Warn about what the config holds that resque ignores or reads otherwise:
 * unknown resque keys (typos an earlier resque accepted), and a region
 * spelt as before a correction of the table. */
static int warn_unknown(const char *name, const char *value, const char *where, void *ctx)
{
	json_t *unknown = ctx;
	if (known_key(name + 7)) {
		if (strcasecmp(name, "resque.region") == 0 && rq_carbon_renamed(value))
			cmd_warn("%s: region '%s' is now spelt '%s' (a typo of the source data, corrected); "
				 "it still resolves; record the new spelling: resque config region %s", where, value,
				 rq_carbon_renamed(value), rq_carbon_renamed(value));
		return 0;
	}
	/* the command that removes it where it is set */
	if (!strcmp(where, ".resque/config"))
		cmd_warn("%s: %s is not a known key and is ignored; remove it: resque config --unset %s", where, name,
			 name);
	else if (!strcmp(where, "~/.gitconfig") || !strcmp(where, "/etc/gitconfig"))
		cmd_warn("%s: %s is not a known key and is ignored; remove it: git config %s --unset %s", where, name,
			 where[0] == '~' ? "--global" : "--system", name);
	else if (where[0] == '~')
		cmd_warn("%s: %s is not a known key and is ignored; remove it: git config --file %s --unset %s", where,
			 name, where, name);
	else
		cmd_warn("%s: %s is not a known key and is ignored; remove it from the file that sets it (git config --show-origin --get-all %s)",
			 where, name, name);
	if (unknown)
		json_array_append_new(unknown, json_pack("{s:s, s:s, s:s}", "name", name, "value", value, "where", where));
	return 0;
}

/* One known key for --list: its value, default and where it was set. */
static json_t *key_json(rq_ledger *l, const struct key *k)
{
	rq_buf full = RQ_BUF_INIT, v = RQ_BUF_INIT, def = RQ_BUF_INIT;
	const char *env = k->env ? getenv(k->env) : NULL, *where = NULL, *source = "default";
	char id[RQ_KEY_ID_HEX + 1];

	rq_buf_printf(&full, "resque.%s", k->name);
	rq_buf_puts(&def, k->def);
	if (strcmp(k->name, "hardware") == 0) {
		rq_meter_machine_profile(&v); /* resets v */
		rq_buf_printf(&def, ": %s", v.ptr);
		rq_buf_reset(&v);
	} else if (strcmp(k->name, "signingkey") == 0 && rq_keystore_resolve(id, NULL) == 0) {
		rq_buf_printf(&def, ": %s", id);
	} else if (strcmp(k->name, "pue") == 0 && rq_ledger_config_get(&v, l, "resque.region") == 0) {
		const rq_region *r;
		if (rq_carbon_lookup(&r, v.ptr) == 0 && r->pue > 0)
			rq_buf_printf(&def, " (%s: %g)", r->code, r->pue);
		rq_buf_reset(&v);
	}
	if (env && *env) {
		rq_buf_puts(&v, env);
		source = "environment";
		where = k->env;
	} else if (rq_ledger_config_where(&v, &where, l, full.ptr) == 0) {
		source = "config";
	}
	rq_error_clear();
	json_t *j = json_pack("{s:s, s:s, s:o, s:s, s:s, s:o, s:b}", "key", k->name, "name", full.ptr, "value",
			      strcmp(source, "default") ? json_string(v.ptr) : json_null(), "default", def.ptr,
			      "source", source, "where", where ? json_string(where) : json_null(), "read_only",
			      k->read_only);
	rq_buf_release(&full);
	rq_buf_release(&v);
	rq_buf_release(&def);
	return j;
}

static int list_all(rq_ledger *l, bool json)
{
	json_t *arr = json_array(), *unknown = json_array();
	int rc = 0;

	for (size_t i = 0; i < RQ_ARRAY_SIZE(keys); i++)
		json_array_append_new(arr, key_json(l, &keys[i]));
	rq_ledger_config_foreach(l, "^resque\\.", warn_unknown, unknown);
	rq_error_clear();
	if (json) {
		json_t *all = json_pack("{s:O, s:O}", "keys", arr, "unknown", unknown);
		rc = cmd_print_json(all);
		json_decref(all);
	} else {
		printf("%-14s %-32s %-28s %s\n", "KEY", "VALUE", "SET IN", "DEFAULT");
		for (size_t i = 0; i < json_array_size(arr); i++) {
			json_t *k = json_array_get(arr, i);
			const char *src = rq_json_str(k, "source", "default");
			char where[64];
			if (strcmp(src, "environment") == 0)
				snprintf(where, sizeof(where), "environment %s", rq_json_str(k, "where", ""));
			else if (strcmp(src, "config") == 0)
				snprintf(where, sizeof(where), "%s", rq_json_str(k, "where", ""));
			else
				snprintf(where, sizeof(where), "(built-in default)");
			printf("%-14s %-32s %-28s %s%s\n", rq_json_str(k, "key", ""), rq_json_str(k, "value", "-"), where,
			       rq_json_str(k, "default", ""), json_is_true(json_object_get(k, "read_only"))
			       ? " (read only)" : "");
		}
	}
	json_decref(arr);
	json_decref(unknown);
	return rc;
}

/* `resque config` alone: the settable keys that are set, as KEY=VALUE. */
static int list_set(rq_ledger *l, bool json)
{
	json_t *all = json_object();
	rq_buf k = RQ_BUF_INIT, v = RQ_BUF_INIT;
	int rc = 0;

	for (size_t i = 0; i < RQ_ARRAY_SIZE(keys); i++) {
		if (keys[i].read_only)
			continue;
		rq_buf_reset(&k);
		rq_buf_reset(&v);
		rq_buf_printf(&k, "resque.%s", keys[i].name);
		if (rq_ledger_config_get(&v, l, k.ptr) == 0) {
			json_object_set_new(all, keys[i].name, json_string(v.ptr));
			if (!json)
				printf("%s=%s\n", keys[i].name, v.ptr);
		}
	}
	rq_ledger_config_foreach(l, "^resque\\.", warn_unknown, NULL);
	rq_error_clear();
	if (json)
		rc = cmd_print_json(all);
	json_decref(all);
	rq_buf_release(&k);
	rq_buf_release(&v);
	return rc;
}

static int get_one(rq_ledger *l, const char *key, bool json)
{
	rq_buf v = RQ_BUF_INIT;
	int rc = 0, err = rq_ledger_config_get(&v, l, key);
	if (err == RQ_ENOTFOUND) {
		rc = EXIT_FAIL; /* like git config: unset is status 1, silently */
	} else if (err) {
		rc = cmd_fail_code(err);
	} else if (json) {
		json_t *j = json_pack("{s:s}", key, v.ptr);
		rc = cmd_print_json(j);
		json_decref(j);
	} else {
		printf("%s\n", v.ptr);
	}
	rq_error_clear();
	rq_buf_release(&v);
	return rc;
}

static int set_one(rq_ledger *l, const struct key *k, const char *key, const char *value)
{
	int rc, err;
	if ((rc = check_value(key, value)))
		return rc;
	if (strcmp(key, "resque.region") == 0 && rq_carbon_renamed(value)) {
		cmd_warn("region '%s' is now spelt '%s' (a typo of the source data, corrected): recorded as '%s'",
			 value, rq_carbon_renamed(value), rq_carbon_renamed(value));
		value = rq_carbon_renamed(value);
	}
	if ((err = rq_ledger_config_set(l, key, value)))
		return cmd_fail_code(err);
	return 0;
}

int cmd_config(int argc, char **argv)
{
	const char *key = NULL, *value = NULL, *unset = NULL;
	bool json = false, list = false;
	const struct opt opts[] = {
		{ OPT_STRING, 0, "unset", &unset, "KEY", "remove a setting" },
		{ OPT_BOOL, 0, "list", &list, NULL, "every known key: its value, default and where it was set" },
		{ OPT_BOOL, 0, "json", &json, NULL, "print the settings as a JSON object" },
		{ OPT_ARG, 0, "KEY", &key, NULL, "the setting" },
		{ OPT_ARG, 0, "VALUE", &value, NULL, "its new value" },
		{ OPT_END },
	};
	const struct key *k = NULL;
	rq_ledger *l = NULL;
	rq_buf full = RQ_BUF_INIT;
	int rc, err;

	OPT_PARSE(&help, opts, argc, argv);
	if (unset && key)
		return cmd_usage(&help, opts, "--unset takes the key alone");
	if (list && (key || unset))
		return cmd_usage(&help, opts, "--list takes no key");
	if ((rc = cmd_open_ledger(&l, NULL)))
		return rc;
	if (unset || key) {
		if ((rc = resolve_key(&full, &k, unset ? unset : key, l, unset != NULL)))
			goto done;
	}
	if ((unset || value) && k && k->read_only) {
		fprintf(stderr, "resque: %s is written by 'resque init' and is read only\n", full.ptr);
		rc = EXIT_USAGE;
	} else if (unset) {
		rq_buf v = RQ_BUF_INIT;
		err = rq_ledger_config_get(&v, l, full.ptr);
		rq_buf_release(&v);
		if (err == RQ_ENOTFOUND)
			rc = cmd_error("%s is not set", full.ptr);
		else if (err || (err = rq_ledger_config_set(l, full.ptr, NULL)))
			rc = cmd_fail_code(err);
	} else if (key && value) {
		rc = set_one(l, k, full.ptr, value);
	} else if (key) {
		rc = get_one(l, full.ptr, json);
	} else if (list) {
		rc = list_all(l, json);
	} else {
		rc = list_set(l, json);
	}
done:
	rq_buf_release(&full);
	cmd_close_ledger(l, NULL);
	return rc;
}
