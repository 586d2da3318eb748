/* resque config: read and set the repository's settings (region, PUE,
 * signing key...) in .resque/config, git-config syntax. */
#include "common.h"
#include "cmd.h"
#include "bounds.h"
#include "resque/carbon.h"
#include "json.h"
#include "ledger_int.h"
#include "actual_context.h"

#include <math.h>

static const struct cmd_help help = {
	"config", "read or set repository settings",
	"resque config              list the settings\n"
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
	"A bare KEY means resque.KEY; other git-config keys (remote.origin.url)\n"
	"are accepted as written.",
};

static const char *const known[] = { "region", "pue", "signingkey", "hardware", "cpu-watts" };

static void full_key(rq_buf *out, const char *key)
{
	if (strchr(key, '.'))
		rq_buf_puts(out, key);
	else
		rq_buf_printf(out, "resque.%s", key);
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

int cmd_config(int argc, char **argv)
{
	const char *key = NULL, *value = NULL, *unset = NULL;
	bool json = false;
	const struct opt opts[] = {
		{ OPT_STRING, 0, "unset", &unset, "KEY", "remove a setting" },
		{ OPT_BOOL, 0, "json", &json, NULL, "print the settings as a JSON object" },
		{ OPT_ARG, 0, "KEY", &key, NULL, "the setting" },
		{ OPT_ARG, 0, "VALUE", &value, NULL, "its new value" },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	rq_buf k = RQ_BUF_INIT, v = RQ_BUF_INIT;
	int rc, err;

	OPT_PARSE(&help, opts, argc, argv);
	if (unset && key)
		return cmd_usage(&help, opts, "--unset takes the key alone");
	if ((rc = cmd_open_ledger(&l, NULL)))
		return rc;
	if (unset) {
		full_key(&k, unset);
		err = rq_ledger_config_get(&v, l, k.ptr);
		if (err == RQ_ENOTFOUND)
			rc = cmd_error("%s is not set", k.ptr);
		else if (err || (err = rq_ledger_config_set(l, k.ptr, NULL)))
			rc = cmd_fail_code(err);
	} else if (key && value) {
		full_key(&k, key);
		if ((rc = check_value(k.ptr, value)) == 0 && (err = rq_ledger_config_set(l, k.ptr, value)))
			rc = cmd_fail_code(err);
	} else if (key) {
		full_key(&k, key);
		err = rq_ledger_config_get(&v, l, k.ptr);
		if (err == RQ_ENOTFOUND)
			rc = EXIT_FAIL; /* like git config: unset is status 1, silently */
		else if (err)
			rc = cmd_fail_code(err);
		else if (json) {
			json_t *j = json_pack("{s:s}", k.ptr, v.ptr);
			rc = cmd_print_json(j);
			json_decref(j);
		} else
			printf("%s\n", v.ptr);
	} else {
		json_t *all = json_object();
		for (size_t i = 0; i < RQ_ARRAY_SIZE(known); i++) {
			rq_buf_reset(&k);
			rq_buf_reset(&v);
			full_key(&k, known[i]);
			if (rq_ledger_config_get(&v, l, k.ptr) == 0) {
				json_object_set_new(all, known[i], json_string(v.ptr));
				if (!json)
					printf("%s=%s\n", known[i], v.ptr);
			}
		}
		rq_error_clear();
		if (json)
			rc = cmd_print_json(all);
		json_decref(all);
	}
	rq_buf_release(&k);
	rq_buf_release(&v);
	cmd_close_ledger(l, NULL);
	return rc;
}
