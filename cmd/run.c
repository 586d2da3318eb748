/* resque run: run a training command, meter its energy in a sampling
 * thread, forward signals, and record what it cost as an `actual` entry. */
#include "common.h"
#include "cmd.h"
#include "resque/bounds.h"
#include "actual.h"
#include "resque/actual.h"
#include "resque/events.h"
#include "resque/json.h"
#include "resque/ledger.h"
#include "resque/lineage.h"
#include "resque/meter.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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
	"They are sampled every --interval seconds in a thread.\n"
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
	"goes to stderr. With --json, the command's stdout is sent to stderr so\n"
	"that stdout holds only one JSON document: id, energy_kwh, carbon_kg,\n"
	"duration_s, method, meter, exit_status, epochs, plan, inside_p80, status,\n"
	"name, forecast_energy_kwh (when linked) and the entry's body.",
};

static volatile sig_atomic_t child_pid;
static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
/* resque's secrets, never passed to the command */
static const char *const secret_env[] = { "RESQUE_PASSPHRASE" };

static void forward_signal(int sig, siginfo_t *si, void *uctx)
{
	RQ_UNUSED(uctx);
	RQ_UNUSED(si);
	/* The command runs in its own process group (which owns the terminal
	 * when resque did): whatever reaches resque is for the command. */
	pid_t p = (pid_t)child_pid;
	if (p > 0 && kill(-p, sig) < 0)
		kill(p, sig);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct sampler {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	rq_meter *m;
	rq_events *ev;
	double t0, interval;
	rq_buf warnings; /* the first sampling failure of each kind */
	bool meter_failed, events_failed;
};

static void *sample_loop(void *arg)
{
	struct sampler *s = arg;
	pthread_mutex_lock(&s->mu);
	double next = s->t0 + s->interval;
	while (!s->stop) {
		struct timespec ts = { (time_t)next, (long)((next - floor(next)) * 1e9) };
		int r = pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		if (s->stop)
			break;
		if (r != ETIMEDOUT)
			continue;
		double now = now_s();
		if (rq_meter_sample_at(s->m, now) < 0 && !s->meter_failed) {
			s->meter_failed = true;
			rq_buf_printf(&s->warnings, "sampling the meter: %s\n", rq_error_last());
		}
		if (rq_events_poll(s->ev, now - s->t0) < 0 && !s->events_failed) {
			s->events_failed = true;
			rq_buf_printf(&s->warnings, "reading the events: %s\n", rq_error_last());
		}
		next += s->interval;
		if (next < now)
			next = now + s->interval;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Remove the events files of runs whose resque was killed (SIGKILL leaves
 * no chance to clean up): ours, named after a process that is gone. */
static void sweep_events_files(const char *dir)
{
	DIR *d = opendir(dir);
	rq_buf p = RQ_BUF_INIT;
	struct stat st;
	if (!d)
		return;
	for (struct dirent *de; (de = readdir(d));) {
		if (strncmp(de->d_name, "resque-events-", 14))
			continue;
		char *end;
		errno = 0;
		long pid = strtol(de->d_name + 14, &end, 10);
		if (errno || end == de->d_name + 14 || *end != '-' || pid <= 0 || pid == (long)getpid() ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		rq_buf_reset(&p);
		rq_buf_printf(&p, "%s/%s", dir, de->d_name);
		if (lstat(p.ptr, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid())
			unlink(p.ptr);
	}
	closedir(d);
	rq_buf_release(&p);
}

/* A fresh, empty events file in $TMPDIR, named after this process. */
static int make_events_file(rq_buf *out)
{
	const char *dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	sweep_events_files(dir);
	rq_buf_reset(out);
	rq_buf_printf(out, "%s/resque-events-%ld-XXXXXX", dir, (long)getpid());
	int fd = mkstemp(out->ptr);
	if (fd < 0)
		return rq_error_set(RQ_EIO, "%s: cannot create the events file: %s", out->ptr, strerror(errno));
	close(fd);
	return 0;
}

/* Give the terminal back to resque's process group. */
static void tty_take_back(void)
{
	sigset_t ttou, prev;
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	pthread_sigmask(SIG_BLOCK, &ttou, &prev);
	tcsetpgrp(0, getpgrp());
	pthread_sigmask(SIG_SETMASK, &prev, NULL);
}

static json_t *command_json(const struct opt_list *cmd)
{
	json_t *a = json_array();
	for (size_t i = 0; i < cmd->n; i++)
		json_array_append_new(a, json_string(cmd->v[i]));
	return a;
}

/* Start the command with signals blocked, so none is lost between fork
 * and the handler knowing the child. It runs in its own process group
 * (given the terminal when `tty`), in the cgroup whose cgroup.procs is
 * `cgfd` (when >= 0), and gets SIGTERM when resque dies, even by SIGKILL.
 * Returns the pid, or -1 with `*err` the errno of a failed fork/exec. */
static pid_t spawn(int *err, char **argv, bool stdout_to_stderr, const struct sigaction *old,
		   const sigset_t *oldmask, int cgfd, bool tty)
{
	int pfd[2];
	pid_t parent = getpid();
	*err = 0;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		*err = errno;
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		*err = errno;
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		if (tty) {
			struct sigaction ign, prev;
			memset(&ign, 0, sizeof(ign));
			ign.sa_handler = SIG_IGN;
			sigaction(SIGTTOU, &ign, &prev);
			tcsetpgrp(0, getpid());
			sigaction(SIGTTOU, &prev, NULL);
		}
		if (cgfd >= 0)
			rq_cgroup_join(cgfd);
		/* resque killed (by SIGKILL too): the command is told */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(128 + SIGTERM); /* it died before prctl */
		/* back to the dispositions resque inherited (an ignored SIGINT
		 * stays ignored, as under nohup) */
		for (size_t i = 0; i < RQ_ARRAY_SIZE(forwarded); i++)
			sigaction(forwarded[i], &old[i], NULL);
		sigprocmask(SIG_SETMASK, oldmask, NULL);
		close(pfd[0]);
		if (stdout_to_stderr)
			dup2(2, 1);
		execvp(argv[0], argv);
		int e = errno;
		ssize_t w = write(pfd[1], &e, sizeof(e));
		RQ_UNUSED(w);
		_exit(e == ENOENT ? 127 : 126);
	}
	close(pfd[1]);
	setpgid(pid, pid); /* also here: whichever runs first */
	if (tty)
		tcsetpgrp(0, pid);
	int e = 0;
	ssize_t n;
	do
		n = read(pfd[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n == (ssize_t)sizeof(e)) {
		*err = e; /* exec failed: reap the child */
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return -1;
	}
	return pid;
}

int cmd_run(int argc, char **argv)
{
	const char *plan_ref = NULL, *name = NULL, *region = NULL, *kind = "auto", *hardware = NULL;
	double pue = NAN, interval = 1, cpu_watts = 0;
	bool json = false;
	struct opt_list cmd = { 0 };
	const struct opt opts[] = {
		{ OPT_STRING, 0, "plan", &plan_ref, "ID", "the plan this update carries out (links the actual to it)" },
		{ OPT_STRING, 0, "name", &name, "N", "a name for the run" },
		{ OPT_STRING, 0, "region", &region, "CODE", "grid region for carbon (default: config resque.region)" },
		{ OPT_DOUBLE, 0, "pue", &pue, "X", "data-centre PUE (default: config resque.pue, the cloud region's, or 1)" },
		{ OPT_STRING, 0, "meter", &kind, "KIND", "auto, rapl, nvml or estimate (default auto)" },
		{ OPT_DOUBLE, 0, "interval", &interval, "S", "seconds between samples (default 1)" },
		{ OPT_DOUBLE, 0, "cpu-watts", &cpu_watts, "W", "the CPU's power for the estimate, instead of the TDP table" },
		{ OPT_STRING, 0, "hardware", &hardware, "H", "hardware profile (default: config resque.hardware)" },
		{ OPT_BOOL, 0, "json", &json, NULL, "print the recorded actual as JSON (the command's stdout goes to stderr)" },
		{ OPT_REST, 0, "COMMAND", &cmd, NULL, "the command and its arguments", OPT_REQUIRED },
		{ OPT_END },
	};
	rq_ledger *l = NULL;
	rq_key *k = NULL;
	rq_meter *m = NULL;
	rq_events *ev = NULL;
	rq_cgroup *cg = NULL;
	rq_entry *e = NULL;
	json_t *body = NULL;
	rq_buf events_path = RQ_BUF_INIT, notes = RQ_BUF_INIT;
	struct actual_ctx ctx;
	struct sampler s;
	struct sigaction old[RQ_ARRAY_SIZE(forwarded)];
	sigset_t block, oldmask;
	bool ctx_loaded = false, thread_started = false, sync_init = false, handlers = false, masked = false;
	pthread_t thread;
	char **child_argv = NULL;
	int rc = EXIT_OK, err, status = 0, child_status = -1, cgfd = -1;
	bool tty = false;

	memset(&s, 0, sizeof(s));
	rq_buf_init(&s.warnings);
	if (!opt_parse(&rc, &help, opts, argc, argv))
		goto done;
	if (!isfinite(interval) || interval < 0.01 || interval > 3600) {
		rc = cmd_usage(&help, opts, "--interval must be between 0.01 and 3600 seconds");
		goto done;
	}
	if (!isnan(pue) && rq_bound_check("pue", pue, "--pue")) {
		rc = cmd_usage(&help, opts, "%s", rq_error_last());
		goto done;
	}
	if (!isfinite(cpu_watts) || cpu_watts < 0) {
		rc = cmd_usage(&help, opts, "--cpu-watts must be a positive number of watts");
		goto done;
	}
	if (name && !rq_name_valid(name)) {
		rc = cmd_usage(&help, opts, "'%s' is not a valid name (letters, digits, . _ + -)", name);
		goto done;
	}
	/* Everything that can be refused is checked before the command runs. */
	if ((rc = cmd_open_ledger(&l, &k)))
		goto done;
	if ((rc = actual_ctx_load(&ctx, l, plan_ref, region, pue, hardware)))
		goto done;
	ctx_loaded = true;
	/* a cgroup holds the command's whole tree, daemons included */
	if (rq_cgroup_create(&cg) < 0)
		rq_buf_printf(&notes, "no cgroup for the command (%s): CPU time of processes that leave its process tree is not metered\n",
			      rq_error_last());
	else if ((cgfd = rq_cgroup_procs_fd(cg)) < 0) {
		rq_buf_printf(&notes, "no cgroup for the command (%s): CPU time of processes that leave its process tree is not metered\n",
			      rq_error_last());
		rq_cgroup_free(cg);
		cg = NULL;
	}
	rq_meter_opts mo = { .kind = kind, .pid = 0, .cpu_watts = cpu_watts, .reaps_tree = true, .cgroup = cg };
	if ((err = rq_meter_open(&m, &mo))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	rq_buf_puts(&notes, rq_meter_notes(m));
	for (const char *p = notes.ptr; *p;) {
		size_t len = strcspn(p, "\n");
		fprintf(stderr, "resque: %.*s\n", (int)len, p);
		p += len + (p[len] == '\n');
	}
	if (rq_meter_method(m) == RQ_METHOD_ESTIMATED)
		fprintf(stderr, "resque: energy is estimated from CPU time, not measured\n");
	if ((err = make_events_file(&events_path)) || (err = rq_events_open(&ev, events_path.ptr))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	if (setenv("RESQUE_EVENTS", events_path.ptr, 1) < 0) {
		rc = cmd_error("cannot set RESQUE_EVENTS: %s", strerror(errno));
		goto done;
	}
	for (size_t i = 0; i < RQ_ARRAY_SIZE(secret_env); i++)
		unsetenv(secret_env[i]); /* the key is loaded: the command gets no secret */
	child_argv = rq_xcalloc(cmd.n + 1, sizeof(*child_argv));
	for (size_t i = 0; i < cmd.n; i++)
		child_argv[i] = (char *)cmd.v[i];

	/* Signals: blocked until the child is known, then forwarded. */
	sigemptyset(&block);
	for (size_t i = 0; i < RQ_ARRAY_SIZE(forwarded); i++)
		sigaddset(&block, forwarded[i]);
	pthread_sigmask(SIG_BLOCK, &block, &oldmask);
	masked = true;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = forward_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < RQ_ARRAY_SIZE(forwarded); i++)
		sigaction(forwarded[i], &sa, &old[i]);
	handlers = true;

	fflush(stdout);
	fflush(stderr);
	s.m = m;
	s.ev = ev;
	s.interval = interval;
	s.t0 = now_s();
	if ((err = rq_meter_start_at(m, s.t0))) {
		rc = cmd_fail_code(err);
		goto done;
	}
	tty = isatty(0) && tcgetpgrp(0) == getpgrp();
	pid_t pid = spawn(&err, child_argv, json, old, &oldmask, cgfd, tty);
	if (cgfd >= 0) {
		close(cgfd);
		cgfd = -1;
	}
	if (pid < 0) {
		rc = cmd_error("%s: %s (nothing was run, nothing recorded)", cmd.v[0], strerror(err));
		child_status = err == ENOENT ? 127 : 126;
		goto done;
	}
	child_pid = pid;
	{
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_mutex_init(&s.mu, NULL);
		pthread_cond_init(&s.cv, &ca);
		pthread_condattr_destroy(&ca);
		sync_init = true;
	}
	/* the thread inherits the blocked signals: they come to this one */
	thread_started = pthread_create(&thread, NULL, sample_loop, &s) == 0;
	if (!thread_started)
		cmd_warn("no sampling thread (%s): energy is read at the start and end only", strerror(errno));
	pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
	masked = false;

	for (;;) {
		if (waitpid(pid, &status, tty ? WUNTRACED : 0) < 0) {
			if (errno == EINTR)
				continue;
			rc = cmd_error("waiting for %s: %s", cmd.v[0], strerror(errno));
			goto done;
		}
		if (!WIFSTOPPED(status))
			break;
		/* ^Z stopped the command: stop with it, as its job */
		tty_take_back();
		raise(SIGSTOP);
		tcsetpgrp(0, pid);
		kill(-pid, SIGCONT);
	}
	child_pid = 0;
	if (tty) {
		tty_take_back();
		tty = false;
	}
	double end = now_s();
	if (thread_started) {
		pthread_mutex_lock(&s.mu);
		s.stop = true;
		pthread_cond_signal(&s.cv);
		pthread_mutex_unlock(&s.mu);
		pthread_join(thread, NULL);
		thread_started = false;
	}
	if (WIFSIGNALED(status))
		child_status = 128 + WTERMSIG(status);
	else
		child_status = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	if ((err = rq_meter_stop_at(m, end)) < 0)
		rq_buf_printf(&s.warnings, "stopping the meter: %s\n", rq_error_last());
	/* what outlived the command (daemons) is not metered after its end */
	size_t before = notes.len, left = cg ? rq_cgroup_nprocs(cg) : 0;
	if (left)
		rq_buf_printf(&notes, "%zu process(es) of the command outlived it (daemons or orphans): metered until it ended, not after\n",
			      left);
	else if (!cg && kill(-pid, 0) == 0)
		rq_buf_puts(&notes, "processes of the command's process group outlived it: not metered after it ended\n");
	if (notes.len > before)
		fprintf(stderr, "resque: %s", notes.ptr + before);
	if (rq_events_finish(ev, end - s.t0) < 0)
		rq_buf_printf(&s.warnings, "reading the events: %s\n", rq_error_last());
	if (s.warnings.len)
		fprintf(stderr, "warning: %s", s.warnings.ptr);
	fputs(rq_events_warnings(ev), stderr);
	rq_buf evnotes = RQ_BUF_INIT;
	rq_events_notes(&evnotes, ev);
	if (evnotes.len)
		fprintf(stderr, "warning: events: %s", evnotes.ptr);

	/* The actual (docs/FORMATS.md "Actual entries"). */
	body = json_object();
	if (name)
		json_object_set_new(body, "name", json_string(name));
	json_object_set_new(body, "command", command_json(&cmd));
	json_object_set_new(body, "status", json_string(child_status == 0 ? "succeeded" : "failed"));
	json_object_set_new(body, "exit_status", json_integer(child_status));
	if (WIFSIGNALED(status))
		json_object_set_new(body, "signal", json_integer(WTERMSIG(status)));
	json_object_set_new(body, "energy_kwh", json_real(rq_meter_joules(m) / 3.6e6));
	json_object_set_new(body, "duration_s", json_real(end - s.t0));
	json_object_set_new(body, "method", json_string(rq_method_name(rq_meter_method(m))));
	json_object_set_new(body, "meter", json_string(rq_meter_name(m)));
	{
		json_t *d = json_object();
		for (size_t i = 0; i < rq_meter_ndomains(m); i++) {
			const rq_meter_domain *dm = rq_meter_domain_at(m, i);
			json_object_set_new(d, dm->name, json_real(dm->joules / 3.6e6));
		}
		json_object_set_new(body, "domains_kwh", d);
	}
	rq_meter_estimate_info info;
	rq_meter_estimate_get(&info, m);
	if (info.active)
		json_object_set_new(body, "estimate",
				    json_pack("{s:f, s:s, s:s, s:f, s:f}", "watts_per_cpu", info.watts_per_cpu,
					      "tdp_source", info.tdp_source, "cpu_model", info.cpu_model,
					      "cpu_seconds", info.cpu_seconds, "memory_w_per_gb", info.memory_w_per_gb));
	if (notes.len)
		json_object_set_new(body, "meter_notes", json_string(notes.ptr));
	if (evnotes.len)
		json_object_set_new(body, "events_notes", json_string(evnotes.ptr));
	rq_buf_release(&evnotes);
	size_t npoints;
	const rq_energy_point *tl = rq_meter_timeline(m, &npoints);
	rq_actual_add_events(body, ev, tl, npoints);
	actual_ctx_apply(&ctx, body, "run");

	err = rq_ledger_append(&e, l, "actual", body, NULL, 0);
	body = NULL;
	if (err) {
		cmd_fail_code(err);
		fprintf(stderr, "resque: the run's actual was not recorded\n");
		goto done;
	}
	if (json) {
		json_t *j = actual_json(e, ctx.plan);
		cmd_print_json(j);
		json_decref(j);
	}
	actual_print(stderr, e, ctx.plan);
	if (child_status)
		fprintf(stderr, "resque: %s %s %d; recorded as failed\n", cmd.v[0],
			WIFSIGNALED(status) ? "was killed by signal" : "exited with status",
			WIFSIGNALED(status) ? WTERMSIG(status) : child_status);
done:
	if (thread_started) {
		pthread_mutex_lock(&s.mu);
		s.stop = true;
		pthread_cond_signal(&s.cv);
		pthread_mutex_unlock(&s.mu);
		pthread_join(thread, NULL);
	}
	if (sync_init) {
		pthread_cond_destroy(&s.cv);
		pthread_mutex_destroy(&s.mu);
	}
	if (masked)
		pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
	if (tty)
		tty_take_back();
	if (cgfd >= 0)
		close(cgfd);
	if (handlers)
		for (size_t i = 0; i < RQ_ARRAY_SIZE(forwarded); i++)
			sigaction(forwarded[i], &old[i], NULL);
	if (events_path.len)
		unlink(events_path.ptr);
	json_decref(body);
	rq_entry_free(e);
	rq_events_free(ev);
	rq_meter_free(m);
	if (ctx_loaded)
		actual_ctx_release(&ctx);
	rq_buf_release(&events_path);
	rq_buf_release(&notes);
	rq_cgroup_free(cg);
	rq_buf_release(&s.warnings);
	free(child_argv);
	opt_list_release(&cmd);
	cmd_close_ledger(l, k);
	/* the command's status wins: resque's own failure after the command
	 * ran is reported on stderr */
	return child_status >= 0 ? child_status : rc;
}
