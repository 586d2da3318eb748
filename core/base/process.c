/* Running a command under a meter (core/base/process.h): fork and
 * exec with job control and signal forwarding, and the sampling thread. */
#include "common.h"
#include "process.h"
#include <spawn.h>
#include "cgroup.h"

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The command whose process group gets the forwarded signals (0: none). */
static volatile sig_atomic_t child_pid;
static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define NFORWARDED RQ_ARRAY_SIZE(forwarded)

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* --- signal forwarding ------------------------------------------------ */

static void forward_signal(int sig, siginfo_t *si, void *uctx)
{
	RQ_UNUSED(uctx);
	RQ_UNUSED(si);
	int saved = errno;
	/* The command runs in its own process group (which owns the terminal
	 * when the caller did): whatever reaches the caller is for it. */
	pid_t p = (pid_t)child_pid;
	if (p > 0 && kill(-p, sig) < 0)
		kill(p, sig);
	errno = saved;
}

struct forwarding {
	struct sigaction old[NFORWARDED]; /* what the caller had, for the child too */
	sigset_t oldmask;
	bool masked, installed;
};

/* Block the forwarded signals until the child is known (none is lost
 * between the fork and the handler knowing the child), then install the
 * handler. */
static void forwarding_begin(struct forwarding *f)
{
	sigset_t block;
	struct sigaction sa;

	sigemptyset(&block);
	for (size_t i = 0; i < NFORWARDED; i++)
		sigaddset(&block, forwarded[i]);
	pthread_sigmask(SIG_BLOCK, &block, &f->oldmask);
	f->masked = true;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = forward_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NFORWARDED; i++)
		sigaction(forwarded[i], &sa, &f->old[i]);
	f->installed = true;
}

static void forwarding_unmask(struct forwarding *f)
{
	if (f->masked)
		pthread_sigmask(SIG_SETMASK, &f->oldmask, NULL);
	f->masked = false;
}

static void forwarding_end(struct forwarding *f)
{
	forwarding_unmask(f);
	if (f->installed)
		for (size_t i = 0; i < NFORWARDED; i++)
			sigaction(forwarded[i], &f->old[i], NULL);
	f->installed = false;
}

/* Give the terminal back to the caller's process group. */
static void tty_take_back(void)
{
	sigset_t ttou, prev;
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	pthread_sigmask(SIG_BLOCK, &ttou, &prev);
	tcsetpgrp(0, getpgrp());
	pthread_sigmask(SIG_SETMASK, &prev, NULL);
}

/* --- fork and exec ----------------------------------------------------- */

/* What the child needs between fork and exec, prepared before the fork so
 * that the child makes async-signal-safe calls only. */
struct child {
	char **argv, **envp;
	bool stdout_to_stderr, tty;
	int cgroup_fd;
	pid_t parent;
	const struct forwarding *fw;
};

/* The child's side: its own process group (with the terminal when `tty`),
 * the cgroup, SIGTERM when the caller dies, the caller's dispositions,
 * then exec. A failed exec sends its errno through `errfd`. */
static void __attribute__((noreturn)) exec_child(const struct child *c, int errfd)
{
	setpgid(0, 0);
	if (c->tty) {
		struct sigaction ign, prev;
		memset(&ign, 0, sizeof(ign));
		ign.sa_handler = SIG_IGN;
		sigaction(SIGTTOU, &ign, &prev);
		tcsetpgrp(0, getpid());
		sigaction(SIGTTOU, &prev, NULL);
	}
	if (c->cgroup_fd >= 0)
		rq_cgroup_join(c->cgroup_fd);
	/* the caller killed (by SIGKILL too): the command is told */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != c->parent)
		_exit(128 + SIGTERM); /* it died before prctl */
	/* back to the dispositions the caller inherited (an ignored SIGINT
	 * stays ignored, as under nohup) */
	for (size_t i = 0; i < NFORWARDED; i++)
		sigaction(forwarded[i], &c->fw->old[i], NULL);
	sigprocmask(SIG_SETMASK, &c->fw->oldmask, NULL);
	if (c->stdout_to_stderr)
		dup2(2, 1);
	execvpe(c->argv[0], c->argv, c->envp);
	int e = errno;
	ssize_t w = write(errfd, &e, sizeof(e));
	RQ_UNUSED(w);
	_exit(e == ENOENT ? 127 : 126);
}

/* Start the child; `*out` its pid. A close-on-exec pipe tells an exec
 * that failed (its errno) from one that happened (end of file). */
static int spawn(pid_t *out, const struct child *c)
{
	int pfd[2], e = 0, err;
	ssize_t n;

	*out = -1;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return rq_error_os("%s", c->argv[0]);
	pid_t pid = fork();
	if (pid < 0) {
		err = rq_error_os("%s", c->argv[0]);
		close(pfd[0]);
		close(pfd[1]);
		return err;
	}
	if (pid == 0) {
		close(pfd[0]);
		exec_child(c, pfd[1]);
	}
	close(pfd[1]);
	setpgid(pid, pid); /* also here: whichever runs first */
	if (c->tty)
		tcsetpgrp(0, pid);
	do
		n = read(pfd[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n == (ssize_t)sizeof(e)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			; /* exec failed: reap the child */
		errno = e;
		return rq_error_os("%s", c->argv[0]);
	}
	*out = pid;
	return 0;
}

/* Wait for the command to end; on ^Z (a stop while it has the terminal)
 * stop with it, as its job, and give it the terminal again on SIGCONT. */
static int wait_child(int *status, pid_t pid, bool tty, const char *name)
{
	for (;;) {
		if (waitpid(pid, status, tty ? WUNTRACED : 0) < 0) {
			if (errno == EINTR)
				continue;
			return rq_error_os("waiting for %s", name);
		}
		if (!WIFSTOPPED(*status))
			return 0;
		tty_take_back();
		raise(SIGSTOP);
		tcsetpgrp(0, pid);
		kill(-pid, SIGCONT);
	}
}

/* argv, or environ with `changes` applied, as owned NULL-terminated copies. */
static char **copy_argv(const char *const *argv)
{
	size_t n = 0;
	while (argv[n])
		n++;
	char **v = rq_xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = rq_xstrdup(argv[i]);
	return v;
}

static bool same_name(const char *a, const char *b)
{
	size_t la = strcspn(a, "="), lb = strcspn(b, "=");
	return la == lb && !memcmp(a, b, la);
}

static char **make_env(const char *const *changes)
{
	char **v = NULL;
	size_t n = 0, alloc = 0;
	for (char **e = environ; e && *e; e++) {
		bool changed = false;
		for (const char *const *c = changes; c && *c && !changed; c++)
			changed = same_name(*e, *c);
		if (changed)
			continue;
		RQ_ALLOC_GROW(v, n + 1, alloc);
		v[n++] = rq_xstrdup(*e);
	}
	for (const char *const *c = changes; c && *c; c++) {
		if (!strchr(*c, '='))
			continue;
		RQ_ALLOC_GROW(v, n + 1, alloc);
		v[n++] = rq_xstrdup(*c);
	}
	RQ_ALLOC_GROW(v, n + 1, alloc);
	v[n] = NULL;
	return v;
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* --- a short command whose output is wanted -------------------------- */

int rq_process_capture(rq_buf *out, int *status, const char *const *argv, const char *const *env,
		       const char *input, size_t max)
{
	int in[2] = { -1, -1 }, op[2] = { -1, -1 }, err = 0, st = 0;
	posix_spawn_file_actions_t fa;
	char **av = copy_argv(argv), **envp = make_env(env);
	pid_t pid;

	*status = -1;
	if (pipe2(in, O_CLOEXEC) || pipe2(op, O_CLOEXEC)) {
		err = rq_error_os("%s: a pipe", argv[0]);
		goto done;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, op[1], 1);
	int rc = posix_spawnp(&pid, av[0], &fa, NULL, av, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(op[1]);
	in[0] = op[1] = -1;
	if (rc != 0) {
		err = rq_error_set(rc == ENOENT ? RQ_ENOTFOUND : RQ_EIO, "%s: %s", argv[0], strerror(rc));
		goto done;
	}
	/* a command that exits without reading must not kill us: the
	 * write's EPIPE is ignored, its status tells */
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	size_t len = input ? strlen(input) : 0, done_w = 0;
	while (done_w < len) {
		ssize_t w = write(in[1], input + done_w, len - done_w);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done_w += (size_t)w;
	}
	close(in[1]);
	in[1] = -1;
	signal(SIGPIPE, old);
	char buf[4096];
	for (;;) {
		ssize_t r = read(op[0], buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (out->len + (size_t)r <= max)
			rq_buf_put(out, buf, (size_t)r);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
done:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (op[i] >= 0)
			close(op[i]);
	}
	free_strv(av);
	free_strv(envp);
	return err;
}

/* --- the sampling thread ---------------------------------------------- */

struct sampler {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool sync_init, running, stop;
	rq_meter *m;
	rq_events *ev;
	double t0, interval;
	rq_buf *warnings; /* the first sampling failure of each kind */
	bool meter_failed, events_failed;
	void (*tick)(void *ctx, double elapsed);
	void *tick_ctx;
};

static void sample_once(struct sampler *s, double now)
{
	if (s->m && rq_meter_sample_at(s->m, now) < 0 && !s->meter_failed) {
		s->meter_failed = true;
		rq_buf_printf(s->warnings, "sampling the meter: %s\n", rq_error_last());
	}
	if (s->ev && rq_events_poll(s->ev, now - s->t0) < 0 && !s->events_failed) {
		s->events_failed = true;
		rq_buf_printf(s->warnings, "reading the events: %s\n", rq_error_last());
	}
	if (s->tick)
		s->tick(s->tick_ctx, now - s->t0);
}

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
		sample_once(s, now);
		next += s->interval;
		if (next < now)
			next = now + s->interval;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Start the thread (on the monotonic clock of the meter); 0 or the error
 * number of pthread_create. */
static int sampler_start(struct sampler *s)
{
	pthread_condattr_t ca;
	sigset_t all, prev;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	s->sync_init = true;
	/* signals are for the calling thread, which forwards them */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &prev);
	int e = pthread_create(&s->thread, NULL, sample_loop, s);
	pthread_sigmask(SIG_SETMASK, &prev, NULL);
	s->running = e == 0;
	return e;
}

/* Stop and join the thread; does nothing the second time. */
static void sampler_stop(struct sampler *s)
{
	if (s->running) {
		pthread_mutex_lock(&s->mu);
		s->stop = true;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
		s->running = false;
	}
	if (s->sync_init) {
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
		s->sync_init = false;
	}
}

/* --- a run ----------------------------------------------------------- */

/* The command has ended at `out->end`: its status, the meter's last
 * reading and the events' last line. */
static void finish(rq_process_result *out, rq_buf *warnings, const rq_process_opts *o,
		   int status)
{
	if (WIFSIGNALED(status)) {
		out->signal = WTERMSIG(status);
		out->exit_status = 128 + out->signal;
	} else {
		out->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	}
	if (o->meter && rq_meter_stop_at(o->meter, out->end) < 0)
		rq_buf_printf(warnings, "stopping the meter: %s\n", rq_error_last());
	out->group_outlived = kill(-out->pid, 0) == 0;
	if (o->events && rq_events_finish(o->events, out->end - out->t0) < 0)
		rq_buf_printf(warnings, "reading the events: %s\n", rq_error_last());
}

static void sampler_begin(struct sampler *s, const rq_process_opts *o, double t0)
{
	s->m = o->meter;
	s->ev = o->events;
	s->t0 = t0;
	s->interval = o->interval;
	s->tick = o->tick;
	s->tick_ctx = o->tick_ctx;
	if (!s->m && !s->ev)
		return;
	int e = sampler_start(s);
	if (e && o->warn) {
		rq_buf msg = RQ_BUF_INIT;
		rq_buf_printf(&msg, "no sampling thread (%s): energy is read at the start and end only",
			      strerror(e));
		o->warn(o->warn_ctx, msg.ptr);
		rq_buf_release(&msg);
	}
}

int rq_process_run(rq_process_result *out, const rq_process_opts *opts)
{
	struct child c = { .argv = copy_argv(opts->argv), .envp = make_env(opts->env),
			   .stdout_to_stderr = opts->stdout_to_stderr, .cgroup_fd = opts->cgroup_fd,
			   .parent = getpid() };
	struct forwarding fw = { .masked = false };
	struct sampler s = { .sync_init = false };
	rq_buf warnings = RQ_BUF_INIT;
	int err, status = 0;

	memset(out, 0, sizeof(*out));
	out->pid = -1;
	out->exit_status = -1;
	c.fw = &fw;
	s.warnings = &warnings;
	forwarding_begin(&fw);
	fflush(stdout);
	fflush(stderr);
	out->t0 = now_s();
	if (opts->meter && (err = rq_meter_start_at(opts->meter, out->t0)))
		goto done;
	c.tty = isatty(0) && tcgetpgrp(0) == getpgrp();
	if ((err = spawn(&out->pid, &c))) {
		out->exit_status = err == RQ_ENOTFOUND ? 127 : 126;
		goto done;
	}
	out->started = true;
	child_pid = out->pid;
	sampler_begin(&s, opts, out->t0);
	forwarding_unmask(&fw);
	err = wait_child(&status, out->pid, c.tty, c.argv[0]);
	child_pid = 0;
	if (c.tty) {
		tty_take_back();
		c.tty = false;
	}
	out->end = now_s();
	sampler_stop(&s);
	if (!err)
		finish(out, &warnings, opts, status);
done:
	sampler_stop(&s);
	forwarding_end(&fw);
	if (c.tty)
		tty_take_back();
	free_strv(c.argv);
	free_strv(c.envp);
	out->warnings = rq_buf_detach(&warnings, NULL);
	return err;
}

/* --- attaching to a running process ---------------------------------- */

/* The signal that told an attached watch to stop (0: none yet). */
static volatile sig_atomic_t stop_signal;
static const int stopping[] = { SIGTERM, SIGINT };

static void note_stop(int sig)
{
	stop_signal = sig;
}

/* A process that is not ours stays a zombie until its parent reaps it:
 * state 'Z' in /proc/PID/stat counts as ended. */
static bool is_zombie(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	const char *close_paren = strrchr(buf, ')');
	return close_paren && close_paren[1] == ' ' && (close_paren[2] == 'Z' || close_paren[2] == 'X');
}

static bool gone(pid_t pid)
{
	return (kill(pid, 0) < 0 && errno == ESRCH) || is_zombie(pid);
}

int rq_process_exists(pid_t pid)
{
	if (pid <= 0 || gone(pid))
		return rq_error_set(RQ_ENOTFOUND, "no process PID %ld", (long)pid);
	return 0;
}

/* A pidfd for `pid` when the kernel has pidfd_open (readable when the
 * process ends; it also tells a reused pid apart), else -1. */
static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	long fd = syscall(SYS_pidfd_open, pid, 0);
	if (fd >= 0) {
		fcntl((int)fd, F_SETFD, FD_CLOEXEC);
		return (int)fd;
	}
#else
	RQ_UNUSED(pid);
#endif
	return -1;
}

/* Until the process ends or a stopping signal arrives, checking every
 * 50 ms (a signal cuts the wait short). */
static void watch(pid_t pid, int pidfd)
{
	while (!stop_signal) {
		struct pollfd pf = { .fd = pidfd, .events = POLLIN };
		if (pidfd >= 0 && poll(&pf, 1, 0) > 0)
			return;
		if (gone(pid))
			return;
		if (pidfd >= 0) {
			poll(&pf, 1, 50);
		} else {
			struct timespec ts = { 0, 50 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
}

static void stopping_install(struct sigaction *old)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = note_stop;
	sigemptyset(&sa.sa_mask);
	stop_signal = 0;
	for (size_t i = 0; i < RQ_ARRAY_SIZE(stopping); i++)
		sigaction(stopping[i], &sa, &old[i]);
}

static void stopping_restore(const struct sigaction *old)
{
	for (size_t i = 0; i < RQ_ARRAY_SIZE(stopping); i++)
		sigaction(stopping[i], &old[i], NULL);
}

int rq_process_attach(rq_process_result *out, const rq_attach_opts *opts)
{
	rq_process_opts po = { .meter = opts->meter, .events = opts->events, .interval = opts->interval,
			       .warn = opts->warn, .warn_ctx = opts->ctx, .tick = opts->tick,
			       .tick_ctx = opts->tick_ctx };
	struct sigaction old[RQ_ARRAY_SIZE(stopping)];
	struct sampler s = { .sync_init = false };
	rq_buf warnings = RQ_BUF_INIT;
	int err, pidfd = -1;

	memset(out, 0, sizeof(*out));
	out->pid = opts->pid;
	out->exit_status = -1;
	s.warnings = &warnings;
	if ((err = rq_process_exists(opts->pid)))
		goto done;
	pidfd = open_pidfd(opts->pid);
	stopping_install(old);
	out->t0 = now_s();
	if (opts->meter && (err = rq_meter_start_at(opts->meter, out->t0))) {
		stopping_restore(old);
		goto done;
	}
	out->started = true;
	sampler_begin(&s, &po, out->t0);
	if (opts->started)
		opts->started(opts->ctx);
	watch(opts->pid, pidfd);
	out->told_to_stop = stop_signal;
	out->end = now_s();
	sampler_stop(&s);
	stopping_restore(old);
	if (opts->meter && rq_meter_stop_at(opts->meter, out->end) < 0)
		rq_buf_printf(&warnings, "stopping the meter: %s\n", rq_error_last());
	if (opts->events && rq_events_finish(opts->events, out->end - out->t0) < 0)
		rq_buf_printf(&warnings, "reading the events: %s\n", rq_error_last());
done:
	if (pidfd >= 0)
		close(pidfd);
	out->warnings = rq_buf_detach(&warnings, NULL);
	return err;
}

void rq_process_result_release(rq_process_result *r)
{
	if (!r)
		return;
	free(r->warnings);
	r->warnings = NULL;
}
