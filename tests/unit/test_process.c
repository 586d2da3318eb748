/* Unit tests of running a command under a meter (core/base/process.c): exit
 * statuses, signals, a program that cannot start, the environment, signal
 * forwarding, sampling, and the events file. */
#include "unit.h"
#include "events.h"
#include "resque/meter.h"
#include "process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run `argv` without a meter; the result is the caller's to release. */
static int run_plain(rq_process_result *res, const char *const *argv, const char *const *env)
{
	rq_process_opts o = { .argv = argv, .env = env, .cgroup_fd = -1, .interval = 1 };
	return rq_process_run(res, &o);
}

static void read_text(rq_buf *out, const char *path)
{
	char buf[256];
	size_t n;
	FILE *f = fopen(path, "r");
	rq_buf_reset(out);
	if (!f)
		return;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		rq_buf_put(out, buf, n);
	fclose(f);
}

/* Point TMPDIR at `dir`; returns what to give back to restore_tmpdir. */
static char *set_tmpdir(const char *dir)
{
	const char *old = getenv("TMPDIR");
	char *saved = old ? rq_xstrdup(old) : NULL;
	setenv("TMPDIR", dir, 1);
	return saved;
}

static void restore_tmpdir(char *saved)
{
	if (saved)
		setenv("TMPDIR", saved, 1);
	else
		unsetenv("TMPDIR");
	free(saved);
}

TEST(process_exit_status)
{
	const char *argv[] = { "/bin/sh", "-c", "exit 3", NULL };
	rq_process_result res;
	CHECK_OK(run_plain(&res, argv, NULL));
	CHECK(res.started);
	CHECK(res.pid > 0);
	CHECK_INT_EQ(res.exit_status, 3);
	CHECK_INT_EQ(res.signal, 0);
	CHECK_STR_EQ(res.warnings, "");
	CHECK(res.end >= res.t0);
	rq_process_result_release(&res);
}

TEST(process_killed_by_a_signal)
{
	const char *argv[] = { "/bin/sh", "-c", "kill -KILL $$", NULL };
	rq_process_result res;
	CHECK_OK(run_plain(&res, argv, NULL));
	CHECK(res.started);
	CHECK_INT_EQ(res.exit_status, 128 + SIGKILL);
	CHECK_INT_EQ(res.signal, SIGKILL);
	rq_process_result_release(&res);
}

TEST(process_missing_program)
{
	const char *argv[] = { "resque-no-such-program", "x", NULL };
	rq_process_result res;
	CHECK_ERR(run_plain(&res, argv, NULL), RQ_ENOTFOUND);
	CHECK_STR_EQ(rq_error_last(), "resque-no-such-program: No such file or directory");
	CHECK(!res.started);
	CHECK_INT_EQ(res.exit_status, 127);
	rq_process_result_release(&res);
}

TEST(process_not_executable)
{
	char *path = unit_write_file(unit_tmpdir(), "not-executable", "exit 0\n", 7);
	const char *argv[] = { path, NULL };
	rq_process_result res;
	CHECK_ERR(run_plain(&res, argv, NULL), RQ_EIO);
	CHECK_CONTAINS(rq_error_last(), "Permission denied");
	CHECK(!res.started);
	CHECK_INT_EQ(res.exit_status, 126);
	rq_process_result_release(&res);
	free(path);
}

TEST(process_environment_changes_reach_the_command_only)
{
	const char *argv[] = { "/bin/sh", "-c",
			       "test \"$RQ_T_SET\" = yes && test \"$RQ_T_KEEP\" = kept && "
			       "test -z \"${RQ_T_GONE+x}\"",
			       NULL };
	const char *env[] = { "RQ_T_SET=yes", "RQ_T_GONE", NULL };
	rq_process_result res;
	setenv("RQ_T_GONE", "secret", 1);
	setenv("RQ_T_KEEP", "kept", 1);
	setenv("RQ_T_SET", "inherited", 1);
	CHECK_OK(run_plain(&res, argv, env));
	CHECK_INT_EQ(res.exit_status, 0);
	CHECK_STR_EQ(getenv("RQ_T_GONE"), "secret");
	CHECK_STR_EQ(getenv("RQ_T_SET"), "inherited");
	rq_process_result_release(&res);
	unsetenv("RQ_T_GONE");
	unsetenv("RQ_T_KEEP");
	unsetenv("RQ_T_SET");
}

TEST(process_forwards_signals_and_restores_handlers)
{
	/* The command signals its parent, which must pass the signal on to
	 * the command's process group: without forwarding the test process
	 * would die, or the command would sleep and exit 0. */
	const char *argv[] = { "/bin/sh", "-c", "kill -TERM $PPID; sleep 5; exit 0", NULL };
	struct sigaction before, after;
	rq_process_result res;
	sigaction(SIGTERM, NULL, &before);
	CHECK_OK(run_plain(&res, argv, NULL));
	CHECK_INT_EQ(res.exit_status, 128 + SIGTERM);
	CHECK_INT_EQ(res.signal, SIGTERM);
	CHECK(res.end - res.t0 < 4);
	sigaction(SIGTERM, NULL, &after);
	CHECK(after.sa_handler == before.sa_handler);
	rq_process_result_release(&res);
}

TEST(process_stdout_to_stderr)
{
	const char *argv[] = { "/bin/sh", "-c", "echo to-stdout", NULL };
	rq_buf path = RQ_BUF_INIT, text = RQ_BUF_INIT;
	rq_process_result res;
	rq_buf_printf(&path, "%s/stderr.txt", unit_tmpdir());
	int fd = open(path.ptr, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int saved = dup(2);
	CHECK(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	rq_process_opts o = { .argv = argv, .stdout_to_stderr = true, .cgroup_fd = -1, .interval = 1 };
	int err = rq_process_run(&res, &o);
	dup2(saved, 2);
	close(saved);
	close(fd);
	CHECK_OK(err);
	CHECK_INT_EQ(res.exit_status, 0);
	read_text(&text, path.ptr);
	CHECK_STR_EQ(text.ptr, "to-stdout\n");
	rq_process_result_release(&res);
	rq_buf_release(&path);
	rq_buf_release(&text);
}

TEST(process_samples_the_meter_and_reads_the_events)
{
	const char *argv[] = { "/bin/sh", "-c",
			       "echo epoch >>\"$RESQUE_EVENTS\"; sleep 0.3; "
			       "printf 'metric loss 0.5' >>\"$RESQUE_EVENTS\"",
			       NULL };
	rq_buf env0 = RQ_BUF_INIT;
	char *path = NULL;
	rq_meter *m = NULL;
	rq_events *ev = NULL;
	rq_process_result res;
	size_t n = 0;
	char *saved_tmp = set_tmpdir(unit_tmpdir());

	CHECK_OK(rq_events_create_file(&path));
	rq_meter_opts mo = { .kind = "estimate", .cpu_watts = 10, .reaps_tree = true };
	CHECK_OK(rq_meter_open(&m, &mo));
	CHECK_OK(rq_events_open(&ev, path));
	rq_buf_printf(&env0, "RESQUE_EVENTS=%s", path);
	const char *env[] = { env0.ptr, NULL };
	rq_process_opts o = { .argv = argv, .env = env, .cgroup_fd = -1, .meter = m,
			      .events = ev, .interval = 0.02 };
	CHECK_OK(rq_process_run(&res, &o));
	CHECK_INT_EQ(res.exit_status, 0);
	CHECK_STR_EQ(res.warnings, "");
	CHECK(res.end - res.t0 >= 0.25);
	rq_meter_timeline(m, &n);
	CHECK(n >= 5); /* start, samples every 20 ms, stop */
	CHECK_NEAR(rq_meter_seconds(m), res.end - res.t0, 1e-9);
	CHECK_INT_EQ(rq_events_count(ev), 2); /* the unfinished last line too */
	if (rq_events_count(ev) == 2) {
		/* the epoch seen by a sample during the sleep, the metric at the end */
		CHECK_INT_EQ(rq_events_get(ev, 0)->type, RQ_EVENT_EPOCH);
		CHECK_STR_EQ(rq_events_get(ev, 1)->name, "loss");
		CHECK(rq_events_get(ev, 0)->t < rq_events_get(ev, 1)->t);
		CHECK_NEAR(rq_events_get(ev, 1)->t, res.end - res.t0, 1e-9);
	}
	rq_process_result_release(&res);
	rq_events_free(ev);
	rq_meter_free(m);
	unlink(path);
	free(path);
	rq_buf_release(&env0);
	restore_tmpdir(saved_tmp);
}

TEST(events_file_sweeps_those_of_dead_runs)
{
	rq_buf dead = RQ_BUF_INIT, other = RQ_BUF_INIT;
	char *path = NULL;
	struct stat st;
	char *dir = rq_xstrdup(unit_tmpdir()); /* a new one at each call */
	char *saved_tmp = NULL;
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	CHECK(pid > 0);
	waitpid(pid, NULL, 0); /* gone: its events file is stale */
	free(unit_write_file(dir, "resque-events-notapid-x", "", 0));
	rq_buf_printf(&dead, "resque-events-%ld-abcdef", (long)pid);
	free(unit_write_file(dir, dead.ptr, "epoch\n", 6));
	rq_buf_reset(&dead);
	rq_buf_printf(&dead, "%s/resque-events-%ld-abcdef", dir, (long)pid);
	rq_buf_printf(&other, "%s/resque-events-notapid-x", dir);
	saved_tmp = set_tmpdir(dir);
	CHECK_OK(rq_events_create_file(&path));
	CHECK(stat(dead.ptr, &st) < 0);
	CHECK(stat(other.ptr, &st) == 0);
	CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0);
	CHECK(!strncmp(path, dir, strlen(dir)));
	unlink(path);
	free(path);
	rq_buf_release(&dead);
	rq_buf_release(&other);
	restore_tmpdir(saved_tmp);
	free(dir);
}

static void raise_term(void *ctx)
{
	RQ_UNUSED(ctx);
	raise(SIGTERM);
}

TEST(process_attach_until_exit_or_told_to_stop)
{
	rq_process_result res;
	CHECK_ERR(rq_process_attach(&res, &(rq_attach_opts){ .pid = 0, .interval = 1 }), RQ_ENOTFOUND);
	CHECK(!res.started);
	rq_process_result_release(&res);
	pid_t pid = fork();
	if (pid == 0) {
		usleep(200000);
		_exit(3);
	}
	CHECK(pid > 0);
	if (pid <= 0)
		return;
	CHECK_OK(rq_process_exists(pid));
	/* not reaped: a zombie, which counts as ended */
	rq_attach_opts o = { .pid = pid, .interval = 0.05 };
	CHECK_OK(rq_process_attach(&res, &o));
	CHECK(res.started);
	CHECK_INT_EQ(res.told_to_stop, 0);
	CHECK_INT_EQ(res.exit_status, -1);
	CHECK(res.end - res.t0 >= 0.1);
	rq_process_result_release(&res);
	CHECK_ERR(rq_process_exists(pid), RQ_ENOTFOUND);
	CHECK_CONTAINS(rq_error_last(), "no process PID");
	waitpid(pid, NULL, 0);
	/* SIGTERM to the caller stops the watch; the old handler is back */
	struct sigaction ign = { .sa_handler = SIG_IGN }, prev;
	sigaction(SIGTERM, &ign, &prev);
	o = (rq_attach_opts){ .pid = getppid(), .interval = 0.05, .started = raise_term };
	CHECK_OK(rq_process_attach(&res, &o));
	CHECK_INT_EQ(res.told_to_stop, SIGTERM);
	struct sigaction now;
	sigaction(SIGTERM, NULL, &now);
	CHECK(now.sa_handler == SIG_IGN);
	sigaction(SIGTERM, &prev, NULL);
	rq_process_result_release(&res);
}
