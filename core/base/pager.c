/* The pager (pager.h): a child reading the caller's redirected output, and
 * the signal handling that waits for it whatever way the caller ends. */
#include "common.h"
#include "pager.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t pager_pid = -1;
static bool pager_has_stderr; /* fd 2 goes to the pager too */
static int saved_stderr = -1;  /* the caller's stderr, for a warning at the end */
static const int caught[] = { SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT };
static struct sigaction old_actions[RQ_ARRAY_SIZE(caught)];

/* Close our ends so that the pager sees the end of its input, then wait
 * for it. Async-signal-safe. True when the pager could not be run: sh's
 * exit status 126 (not executable, a directory) or 127 (not found), which
 * a warning says on the caller's stderr (the output is lost). */
static bool close_and_wait(void)
{
	static const char msg[] = "warning: the pager could not be run (exit status 126 or 127): "
				  "the output is lost; see RESQUE_PAGER or PAGER, or use --no-pager\n";
	pid_t pid = pager_pid;
	int status = 0;
	close(STDOUT_FILENO);
	if (pager_has_stderr)
		close(STDERR_FILENO);
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	bool failed = pid > 0 && WIFEXITED(status) && (WEXITSTATUS(status) == 126 || WEXITSTATUS(status) == 127);
	if (failed && saved_stderr >= 0) {
		ssize_t w = write(saved_stderr, msg, sizeof(msg) - 1);
		RQ_UNUSED(w);
	}
	return failed;
}

static void on_signal(int sig)
{
	bool failed = close_and_wait();
	if (sig == SIGPIPE)
		_exit(failed ? 1 : 0); /* the user quit the pager: nothing went wrong */
	for (size_t i = 0; i < RQ_ARRAY_SIZE(caught); i++)
		if (caught[i] == sig)
			sigaction(sig, &old_actions[i], NULL);
	raise(sig);
}

/* sh's keywords and builtins: a first word that is one is no program. */
static bool shell_word(const char *w)
{
	static const char *const words[] = { "!", "{", "case", "for", "if", "until", "while", ".", ":", "alias",
					     "bg", "break", "cd", "command", "continue", "echo", "eval", "exec",
					     "exit", "export", "false", "fc", "fg", "getopts", "hash", "jobs",
					     "kill", "printf", "pwd", "read", "readonly", "return", "set", "shift",
					     "test", "[", "times", "trap", "true", "type", "ulimit", "umask",
					     "unalias", "unset", "wait" };
	for (size_t i = 0; i < RQ_ARRAY_SIZE(words); i++)
		if (strcmp(w, words[i]) == 0)
			return true;
	return false;
}

/* Is `cmd` plain words (no shell syntax) whose first word names no program
 * in PATH nor a shell builtin? Then sh would only say "not found" and
 * swallow the output. */
static bool plainly_missing(const char *cmd, rq_buf *word)
{
	if (cmd[strcspn(cmd, "|&;<>()$`\\\"'*?[#~=%{}\n")])
		return false;
	cmd += strspn(cmd, " \t");
	rq_buf_put(word, cmd, strcspn(cmd, " \t"));
	if (!word->len || shell_word(word->ptr))
		return false;
	if (strchr(word->ptr, '/'))
		return access(word->ptr, X_OK) != 0;
	const char *path = getenv("PATH");
	rq_buf candidate = RQ_BUF_INIT;
	bool found = false;
	for (const char *p = path ? path : "/usr/bin:/bin"; !found;) {
		size_t len = strcspn(p, ":");
		rq_buf_reset(&candidate);
		rq_buf_printf(&candidate, "%.*s/%s", (int)len, len ? p : ".", word->ptr);
		found = access(candidate.ptr, X_OK) == 0;
		if (!p[len])
			break;
		p += len + 1;
	}
	rq_buf_release(&candidate);
	return !found;
}

static void install_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < RQ_ARRAY_SIZE(caught); i++) {
		/* an ignored signal (nohup, a background job's SIGINT) stays so */
		sigaction(caught[i], NULL, &old_actions[i]);
		if (old_actions[i].sa_handler != SIG_IGN)
			sigaction(caught[i], &sa, NULL);
	}
}

int rq_pager_start(const char *cmd, bool stderr_too)
{
	rq_buf word = RQ_BUF_INIT;
	int pfd[2], err = 0;

	if (pager_pid > 0)
		return 0;
	if (plainly_missing(cmd, &word)) {
		err = rq_error_set(RQ_ENOTFOUND, "cannot run pager '%s': not found in PATH", word.ptr);
		rq_buf_release(&word);
		return err;
	}
	rq_buf_release(&word);
	fflush(stdout);
	fflush(stderr);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return rq_error_os("starting the pager");
	pid_t pid = fork();
	if (pid < 0) {
		err = rq_error_os("starting the pager");
		close(pfd[0]);
		close(pfd[1]);
		return err;
	}
	if (pid == 0) {
		dup2(pfd[0], STDIN_FILENO);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(pfd[0]);
	saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	dup2(pfd[1], STDOUT_FILENO);
	if (stderr_too)
		dup2(pfd[1], STDERR_FILENO);
	close(pfd[1]);
	pager_pid = pid;
	pager_has_stderr = stderr_too;
	install_handlers();
	return 0;
}

bool rq_pager_active(void)
{
	return pager_pid > 0;
}

bool rq_pager_finish(void)
{
	if (pager_pid <= 0)
		return false;
	fflush(stdout);
	fflush(stderr);
	bool failed = close_and_wait();
	pager_pid = -1;
	for (size_t i = 0; i < RQ_ARRAY_SIZE(caught); i++)
		sigaction(caught[i], &old_actions[i], NULL);
	if (saved_stderr >= 0)
		close(saved_stderr);
	saved_stderr = -1;
	return failed;
}
