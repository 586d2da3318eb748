/* resque run: run a training command under a meter (core/base/process.c) and
 * record what it cost as an `actual` entry, or (--attach PID) meter a
 * process that is already running until it exits or resque is told to
 * stop. Parse, gather what can be refused before the command starts, run
 * it, build the entry, append it and print it. */
#include "common.h"
#include "cmd.h"
#include "bounds.h"
#include "actual_context.h"
#include "actual.h"
#include "events.h"
#include "json.h"
#include "ledger_int.h"
#include "lineage.h"
#include "cgroup.h"
#include "process.h"
#include "run_live.h"
#include "provenance.h"

#include <math.h>
#include <signal.h>
#include <unistd.h>

static const struct cmd_help help = {
	"run", "run a training command and record what it cost",
	"Runs COMMAND, meters it and records an `actual` entry, also when the\n"
	"command fails (status failed). Exits with the command's exit status\n"
	"(128+N when a signal N killed it; 127 when it could not be started, and\n"
	"then nothing is recorded).\n"
	"\n"
	"Meters (--meter auto): RAPL counters of the CPU packages and DRAM when\n"
	"readable, else an estimate from the CPU time of the command's process\n"
	"tree (recorded as method \"estimated\"), plus NVIDIA GPUs through NVML.\n"
	"The estimate's watts per logical CPU are --cpu-watts, else the variable\n"
	"RESQUE_CPU_WATTS, else 'resque config cpu-watts' (all per thread or\n"
	"vCPU, never divided), else in a virtual machine a per-vCPU coefficient of\n"
	"the CPU's microarchitecture, else the TDP table's watts over the threads\n"
	"of a package; the record's estimate.tdp_source names the rule.\n"
	"The meters are sampled every --interval seconds in a thread.\n"
	"\n"
	"The command finds in RESQUE_EVENTS the path of a fresh file (replacing\n"
	"any value inherited) to which it, or 'resque mark', appends `epoch [N]`\n"
	"and `metric NAME VALUE` lines: energy is split per epoch and metrics are\n"
	"recorded with the actual. The command runs in its own process group\n"
	"(which gets the terminal), in a cgroup when one can be made (so that\n"
	"processes that daemonise are metered too), without RESQUE_PASSPHRASE,\n"
	"and gets SIGTERM if resque dies. SIGINT, SIGTERM, SIGHUP and SIGQUIT\n"
	"sent to resque are forwarded to its process group. Carbon uses\n"
	"--region/--pue or 'resque config'.\n"
	"\n"
	"Output: the command's stdout and stderr are left alone; resque's report\n"
	"goes to stderr. When stderr is a terminal (TERM set and not \"dumb\")\n"
	"and resque or its command is in the terminal's foreground, one line\n"
	"there shows the elapsed time, the energy so far and the epochs marked\n"
	"while the command runs, redrawn in place (\\r and ESC[K) and erased at\n"
	"the end and before each warning. The command shares the terminal: a line\n"
	"it writes without a newline yet (a progress bar) may be overwritten or\n"
	"erased by the live line; --quiet, or sending the command's output\n"
	"elsewhere, avoids that. --quiet drops that line and the notices about the\n"
	"meter (which the record keeps in meter_notes and method); warnings,\n"
	"errors and the line saying what was recorded stay. With --json, the command's stdout is sent to stderr so\n"
	"that stdout holds only one JSON document: id, energy_kwh, carbon_kg,\n"
	"duration_s, method, meter, exit_status, epochs, plan, inside_p80, status,\n"
	"name, target, forecast_energy_kwh (when linked) and the entry's body.\n"
	"'resque mark target missed' from the command records \"target\": \"missed\"\n"
	"(stopped at a budget before its target: epochs are a lower bound);\n"
	"'resque mark status failed' (a `status failed` line) records the run as\n"
	"failed whatever its exit status.\n"
	"\n"
	"--attach PID (no command): meter the process tree rooted at PID, a\n"
	"process already running, from now until PID exits or resque gets\n"
	"SIGTERM or SIGINT, then record the actual as above, without\n"
	"exit_status. Once metering has started resque prints \"resque: attached\n"
	"to PID N\" on stderr. The events are read from --events FILE (the same\n"
	"lines; the file may not exist yet), else none. Status: \"succeeded\" when\n"
	"resque was told to stop, \"failed\" when PID exited first (a crash) or\n"
	"when the events said `status failed`. Exits 0 when the actual was\n"
	"recorded, whatever the run's status; 1 when PID does not exist.\n"
	"\n"
	"Provenance (docs/FORMATS.md): the actual also records resque's command\n"
	"line, the directory relative to the project, the commit, branch and dirty\n"
	"flag (tracked files changed or staged) of the git work tree the command\n"
	"runs in (with --attach, PID's), and this machine's CPU and GPU models and\n"
	"counts, taken before the command starts. The command line is kept\n"
	"exactly as typed, absolute paths (home directory names) and all, signed\n"
	"into the ledger and pushed with it; RESQUE_NO_ARGV=1 (any non-empty\n"
	"value) leaves it out.",
};

/* resque's secrets, never passed to the command */
static const char *const secret_env[] = { "RESQUE_PASSPHRASE" };

/* What the command line asks for. */
struct run_opts {
	const char *plan_ref, *name, *region, *kind, *hardware;
	const char *attach, *events; /* --attach PID, --events FILE */
	pid_t pid;                   /* --attach's, parsed; 0 without */
	double pue, interval, cpu_watts, train_size;
	bool json, quiet;
	struct opt_list cmd;
};

/* What a run gathers before the command starts, and what the command
 * leaves for the record. */
struct run_state {
	rq_ledger *l;
	rq_key *k;
	struct actual_ctx ctx;
	bool ctx_loaded;
	rq_cgroup *cg;
	int cgfd;
	rq_meter *m;
	rq_events *ev;
	char *events_path;
	rq_buf notes;   /* the record's meter_notes */
	rq_buf evnotes; /* its events_notes */
	json_t *provenance; /* what produced the record, taken before the command starts */
	rq_process_result res;
	struct run_live live; /* the live line on a terminal's stderr */
};

/* A command, or --attach PID (with --events FILE), not both, not neither.
 * EXIT_OK or the usage error's status. */
static int parse_attach(struct run_opts *o, const struct opt *opts)
{
	if (!o->attach) {
		if (o->events)
			return cmd_usage(&help, opts, "--events is for --attach (a command finds its events file in RESQUE_EVENTS)");
		if (!o->cmd.n)
			return cmd_usage(&help, opts, "missing -- COMMAND... (or --attach PID)");
		return EXIT_OK;
	}
	char *end;
	errno = 0;
	long pid = strtol(o->attach, &end, 10);
	if (errno || end == o->attach || *end || pid <= 0 || (long)(pid_t)pid != pid)
		return cmd_usage(&help, opts, "--attach takes a process id (a whole number above 0), not '%s'", o->attach);
	if (o->cmd.n)
		return cmd_usage(&help, opts, "--attach PID meters a running process: no command after it (got '%s')",
				 o->cmd.v[0]);
	if ((pid_t)pid == getpid())
		return cmd_usage(&help, opts, "--attach %ld is resque itself", pid);
	o->pid = (pid_t)pid;
	return EXIT_OK;
}

/* Fill `o` from the command line; false with `*rc` the exit status when
 * the command stops here (--help, a usage error). */
static bool parse_run(int *rc, struct run_opts *o, int argc, char **argv)
{
	const struct opt opts[] = {
		{ OPT_STRING, 0, "plan", &o->plan_ref, "ID", "the plan this update carries out (links the actual to it)" },
		{ OPT_STRING, 0, "name", &o->name, "N", "a name for the run" },
		{ OPT_STRING, 0, "region", &o->region, "CODE", "grid region for carbon (default: config resque.region)" },
		{ OPT_DOUBLE, 0, "pue", &o->pue, "X", "data-centre PUE (default: config resque.pue, the cloud region's, or 1)" },
		{ OPT_STRING, 0, "meter", &o->kind, "KIND", "auto, rapl, nvml or estimate (default auto)" },
		{ OPT_DOUBLE, 0, "interval", &o->interval, "S", "seconds between samples (default 1)" },
		{ OPT_DOUBLE, 0, "cpu-watts", &o->cpu_watts, "W", "watts per logical CPU (thread or vCPU) for the estimate (default: RESQUE_CPU_WATTS, config cpu-watts, else the TDP table or, in a VM, a per-vCPU coefficient)" },
		{ OPT_STRING, 0, "hardware", &o->hardware, "H", "hardware profile (default: config resque.hardware, else this machine's: cpu:MODEL xN; gpu:NAME xK)" },
		{ OPT_DOUBLE, 0, "train-size", &o->train_size, "N", "samples in the training set (default: the plan's)" },
		{ OPT_STRING, 0, "attach", &o->attach, "PID", "meter the running process PID and its tree instead of a command, until it exits or resque gets SIGTERM/SIGINT" },
		{ OPT_STRING, 0, "events", &o->events, "FILE", "with --attach: the RESQUE_EVENTS file to read (may not exist yet; default: none)" },
		{ OPT_BOOL, 0, "json", &o->json, NULL, "print the recorded actual as JSON (the command's stdout goes to stderr)" },
		{ OPT_BOOL, 'q', "quiet", &o->quiet, NULL, "no notices about the meter and no live line (warnings, errors and the record's line stay)" },
		{ OPT_REST, 0, "COMMAND", &o->cmd, NULL, "the command and its arguments (not with --attach)" },
		{ OPT_END },
	};

	if (!opt_parse(rc, &help, opts, argc, argv))
		return false;
	if (!isfinite(o->interval) || o->interval < 0.01 || o->interval > 3600)
		*rc = cmd_usage(&help, opts, "--interval must be between 0.01 and 3600 seconds");
	else if (!isnan(o->pue) && rq_bound_check("pue", o->pue, "--pue"))
		*rc = cmd_usage(&help, opts, "%s", rq_error_last());
	else if (!isnan(o->cpu_watts) && !(o->cpu_watts > 0 && o->cpu_watts <= 10000))
		*rc = cmd_usage(&help, opts, "--cpu-watts must be a number of watts per logical CPU in (0, 10000], not %g",
				o->cpu_watts);
	else if (cmd_train_size_check(o->train_size))
		*rc = cmd_usage(&help, opts, "%s", rq_error_last());
	else if (o->name && !rq_name_valid(o->name, RQ_NAME_VERSION))
		*rc = cmd_usage(&help, opts, "'%s' is not a valid name (letters, digits, . _ + -)", o->name);
	else
		*rc = parse_attach(o, opts);
	return *rc == EXIT_OK;
}

/* A cgroup holds the command's whole tree, daemons included; without one
 * the record says what is not metered. */
static void open_cgroup(struct run_state *st)
{
	if (rq_cgroup_create(&st->cg) == 0 && (st->cgfd = rq_cgroup_procs_fd(st->cg)) >= 0)
		return;
	rq_buf_printf(&st->notes, "no cgroup for the command (%s): CPU time of processes that leave its process tree is not metered\n",
		      rq_error_last());
	rq_cgroup_free(st->cg);
	st->cg = NULL;
	st->cgfd = -1;
}

/* Print each line of `text` as "resque: LINE". */
static void print_notes(const char *text)
{
	for (const char *p = text; *p;) {
		size_t len = strcspn(p, "\n");
		fprintf(stderr, "resque: %.*s\n", (int)len, p);
		p += len + (p[len] == '\n');
	}
}

/* Everything that can be refused is checked before the command runs:
 * ledger and key, plan and grid, meter, events file. 0 or the exit status. */
static int gather(struct run_state *st, const struct run_opts *o)
{
	int rc, err;

	if (o->pid && (err = rq_process_exists(o->pid)))
		return cmd_fail_code(err);
	if ((rc = cmd_open_ledger(&st->l, &st->k)))
		return rc;
	if ((rc = actual_ctx_load(&st->ctx, st->l, o->plan_ref, o->region, o->pue, o->hardware)))
		return rc;
	st->ctx_loaded = true;
	actual_ctx_machine_hardware(&st->ctx);
	st->provenance = cmd_provenance(st->l, o->pid);
	double cpu_watts;
	const char *cpu_watts_source;
	if ((rc = actual_cpu_watts(&cpu_watts, &cpu_watts_source, st->l, o->cpu_watts)))
		return rc;
	if (!o->pid)
		open_cgroup(st);
	rq_meter_opts mo = { .kind = o->kind, .pid = o->pid, .cpu_watts = cpu_watts, .cpu_watts_source = cpu_watts_source,
			     .reaps_tree = !o->pid, .cgroup = st->cg };
	if ((err = rq_meter_open(&st->m, &mo)))
		return cmd_fail_code(err);
	rq_buf_puts(&st->notes, rq_meter_notes(st->m));
	if (o->pid && rq_meter_method(st->m) == RQ_METHOD_ESTIMATED)
		rq_buf_printf(&st->notes, "PID %ld is not resque's child (--attach): no getrusage(RUSAGE_CHILDREN), so CPU time of its processes that ended between two samples, or that left its tree, is not counted; its CPU time before resque attached is not counted\n",
			      (long)o->pid);
	if (!o->quiet) /* all of it is in the record's meter_notes and method */
		print_notes(st->notes.ptr);
	if (!o->quiet && rq_meter_method(st->m) == RQ_METHOD_ESTIMATED)
		fprintf(stderr, "resque: energy is estimated from CPU time, not measured\n");
	if (o->pid) /* the caller's file, read only; none: no events */
		err = rq_events_open(&st->ev, o->events);
	else if (!(err = rq_events_create_file(&st->events_path)))
		err = rq_events_open(&st->ev, st->events_path);
	return err ? cmd_fail_code(err) : EXIT_OK;
}

static void warn_during_run(void *ctx, const char *message)
{
	RQ_UNUSED(ctx);
	run_live_break(); /* the warning on a line of its own */
	cmd_warn("%s", message);
}

/* Run the command (core/base/process.c) with RESQUE_EVENTS set and resque's
 * secrets removed. 0 when it ran, else the exit status. */
static int execute(struct run_state *st, const struct run_opts *o)
{
	const char *env[RQ_ARRAY_SIZE(secret_env) + 2];
	const char **argv = rq_xcalloc(o->cmd.n + 1, sizeof(*argv));
	rq_buf events_env = RQ_BUF_INIT;
	int err;

	rq_buf_printf(&events_env, "RESQUE_EVENTS=%s", st->events_path);
	env[0] = events_env.ptr; /* a fresh file replaces any value inherited */
	for (size_t i = 0; i < RQ_ARRAY_SIZE(secret_env); i++)
		env[1 + i] = secret_env[i]; /* the key is loaded: the command gets no secret */
	env[RQ_ARRAY_SIZE(secret_env) + 1] = NULL;
	for (size_t i = 0; i < o->cmd.n; i++)
		argv[i] = o->cmd.v[i];
	rq_process_opts po = { .argv = argv, .env = env, .stdout_to_stderr = o->json,
			       .cgroup_fd = st->cgfd, .meter = st->m, .events = st->ev,
			       .interval = o->interval, .warn = warn_during_run,
			       .tick = run_live_tick, .tick_ctx = &st->live };
	run_live_init(&st->live, st->m, st->ev, o->quiet);
	err = rq_process_run(&st->res, &po);
	run_live_clear(&st->live);
	if (st->cgfd >= 0)
		close(st->cgfd);
	st->cgfd = -1;
	free(argv);
	rq_buf_release(&events_env);
	if (!err)
		return EXIT_OK;
	if (!st->res.started && st->res.exit_status >= 0)
		return cmd_error("%s (nothing was run, nothing recorded)", rq_error_last());
	return cmd_fail_code(err);
}

static void say_attached(void *ctx)
{
	fprintf(stderr, "resque: attached to PID %ld\n", *(const long *)ctx);
	fflush(stderr);
}

/* --attach: watch the running process (core/base/process.c) until it
 * exits or resque is told to stop. 0 when it was watched, else the exit
 * status. */
static int execute_attach(struct run_state *st, const struct run_opts *o)
{
	long pid = (long)o->pid;
	rq_attach_opts ao = { .pid = o->pid, .meter = st->m, .events = st->ev, .interval = o->interval,
			      .started = say_attached, .warn = warn_during_run, .ctx = &pid,
			      .tick = run_live_tick, .tick_ctx = &st->live };
	run_live_init(&st->live, st->m, st->ev, o->quiet);
	int err = rq_process_attach(&st->res, &ao);
	run_live_clear(&st->live);
	return err ? cmd_fail_code(err) : EXIT_OK;
}

/* The run failed: the events said so, or the command's status was not 0,
 * or (--attach) the process exited before resque was told to stop. */
static bool run_failed(const struct run_state *st, const struct run_opts *o)
{
	if (rq_events_status(st->ev) == RQ_RUN_STATUS_FAILED)
		return true;
	return o->pid ? !st->res.told_to_stop : st->res.exit_status != 0;
}

/* What outlived the command (daemons) is not metered after its end; then
 * the problems of sampling and of the events file. */
static void report_after(struct run_state *st)
{
	size_t before = st->notes.len, left = st->cg ? rq_cgroup_nprocs(st->cg) : 0;
	if (left)
		rq_buf_printf(&st->notes, "%zu process(es) of the command outlived it (daemons or orphans): metered until it ended, not after\n",
			      left);
	else if (!st->cg && st->res.group_outlived)
		rq_buf_puts(&st->notes, "processes of the command's process group outlived it: not metered after it ended\n");
	if (st->notes.len > before)
		fprintf(stderr, "resque: %s", st->notes.ptr + before);
	if (st->res.warnings[0])
		fprintf(stderr, "warning: %s", st->res.warnings);
	fputs(rq_events_warnings(st->ev), stderr);
	rq_events_notes(&st->evnotes, st->ev);
	if (st->evnotes.len)
		fprintf(stderr, "warning: events: %s", st->evnotes.ptr);
}

/* The meter's domains and, when it estimated, what the estimate assumed. */
static void add_domains(json_t *body, const rq_meter *m)
{
	json_t *d = json_object();
	rq_meter_estimate_info info;

	for (size_t i = 0; i < rq_meter_ndomains(m); i++) {
		const rq_meter_domain *dm = rq_meter_domain_at(m, i);
		json_object_set_new(d, dm->name, json_real(dm->joules / 3.6e6));
	}
	json_object_set_new(body, "domains_kwh", d);
	rq_meter_estimate_get(&info, m);
	if (info.active)
		json_object_set_new(body, "estimate",
				    json_pack("{s:f, s:s, s:s, s:b, s:f, s:f}", "watts_per_cpu", info.watts_per_cpu,
					      "tdp_source", info.tdp_source, "cpu_model", info.cpu_model,
					      "hypervisor", info.hypervisor, "cpu_seconds", info.cpu_seconds,
					      "memory_w_per_gb", info.memory_w_per_gb));
}

/* The actual (docs/FORMATS.md "Actual entries"). New reference. */
static json_t *build_actual(const struct run_state *st, const struct run_opts *o)
{
	json_t *body = json_object();
	const rq_process_result *r = &st->res;
	size_t npoints;

	if (o->name)
		json_object_set_new(body, "name", json_string(o->name));
	if (o->pid)
		json_object_set_new(body, "attached_pid", json_integer(o->pid));
	else
		json_object_set_new(body, "command", cmd_argv_json(o->cmd.n, o->cmd.v));
	json_object_set_new(body, "status", json_string(run_failed(st, o) ? "failed" : "succeeded"));
	if (!o->pid)
		json_object_set_new(body, "exit_status", json_integer(r->exit_status));
	if (r->signal)
		json_object_set_new(body, "signal", json_integer(r->signal));
	json_object_set_new(body, "energy_kwh", json_real(rq_meter_joules(st->m) / 3.6e6));
	json_object_set_new(body, "duration_s", json_real(r->end - r->t0));
	json_object_set_new(body, "method", json_string(rq_method_name(rq_meter_method(st->m))));
	json_object_set_new(body, "meter", json_string(rq_meter_name(st->m)));
	add_domains(body, st->m);
	if (st->notes.len)
		json_object_set_new(body, "meter_notes", json_string(st->notes.ptr));
	if (st->evnotes.len)
		json_object_set_new(body, "events_notes", json_string(st->evnotes.ptr));
	const rq_energy_point *tl = rq_meter_timeline(st->m, &npoints);
	rq_actual_add_events(body, st->ev, tl, npoints);
	actual_ctx_apply(&st->ctx, body, "run");
	cmd_train_size_apply(body, o->train_size, st->ctx.plan);
	if (st->provenance)
		json_object_set(body, "provenance", st->provenance);
	return body;
}

/* Why the run is recorded as failed, on stderr. */
static void say_failed(const struct run_state *st, const struct run_opts *o)
{
	if (o->pid && !st->res.told_to_stop)
		fprintf(stderr, "resque: PID %ld exited before resque was told to stop; recorded as failed\n",
			(long)o->pid);
	else if (!o->pid && st->res.exit_status)
		fprintf(stderr, "resque: %s %s %d; recorded as failed\n", o->cmd.v[0],
			st->res.signal ? "was killed by signal" : "exited with status",
			st->res.signal ? st->res.signal : st->res.exit_status);
	else if (run_failed(st, o))
		fprintf(stderr, "resque: the events said 'status failed'; recorded as failed\n");
}

/* Append the actual and print it; EXIT_OK or the failure's status (for a
 * command, its own status is the exit status all the same). */
static int append_and_print(struct run_state *st, const struct run_opts *o)
{
	rq_entry *e = NULL;
	int err = rq_ledger_append(&e, st->l, "actual", build_actual(st, o), NULL, 0);
	if (err) {
		int rc = cmd_fail_code(err);
		fprintf(stderr, "resque: the run's actual was not recorded\n");
		return rc;
	}
	if (o->json) {
		json_t *j = actual_json(e, st->ctx.plan);
		cmd_print_json(j);
		json_decref(j);
	}
	actual_print(stderr, e, st->ctx.plan);
	say_failed(st, o);
	rq_entry_free(e);
	return EXIT_OK;
}

static void run_release(struct run_state *st)
{
	if (st->cgfd >= 0)
		close(st->cgfd);
	if (st->events_path)
		unlink(st->events_path);
	free(st->events_path);
	rq_events_free(st->ev);
	rq_meter_free(st->m);
	if (st->ctx_loaded)
		actual_ctx_release(&st->ctx);
	rq_buf_release(&st->notes);
	rq_buf_release(&st->evnotes);
	json_decref(st->provenance);
	rq_cgroup_free(st->cg);
	rq_process_result_release(&st->res);
	cmd_close_ledger(st->l, st->k);
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o = { .kind = "auto", .pue = NAN, .interval = 1, .cpu_watts = NAN, .train_size = NAN };
	struct run_state st = { .cgfd = -1, .notes = RQ_BUF_INIT, .evnotes = RQ_BUF_INIT,
				.res = { .exit_status = -1 } };
	int rc = EXIT_OK;

	if (!parse_run(&rc, &o, argc, argv))
		goto done;
	/* An attached run outlives its reader: when the tracker's process
	 * dies, a message written to its closed pipes must not kill resque
	 * before the actual is recorded (EPIPE is ignored instead). */
	if (o.pid)
		signal(SIGPIPE, SIG_IGN);
	if ((rc = gather(&st, &o)) || (rc = o.pid ? execute_attach(&st, &o) : execute(&st, &o)))
		goto done;
	report_after(&st);
	rc = append_and_print(&st, &o);
done:
	run_release(&st);
	opt_list_release(&o.cmd);
	/* the command's status wins: resque's own failure after the command
	 * ran is reported on stderr (an attached run has none: -1) */
	return st.res.exit_status >= 0 ? st.res.exit_status : rc;
}
