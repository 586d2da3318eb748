/* Test helper: run a command on a fresh pseudo-terminal, as a user at a
 * terminal would, for the tests of colour, the pager and run's live line.
 *   rq-pty CMD [ARG...]
 * The command's stdin, stdout and stderr are the terminal (24 rows, 80
 * columns), which is also its controlling terminal; a shell (rq-pty sh -c
 * '... 2>file') redirects what it must not see there. What the terminal
 * shows is copied to stdout with each "\r\n" written as "\n" (other "\r"
 * kept); the exit status is the command's (128+N for signal N). */
#include "common.h"

#include <pty.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	int master, status;
	char buf[4096];
	bool cr = false;

	if (argc < 2) {
		fprintf(stderr, "usage: rq-pty CMD [ARG...]\n");
		return 2;
	}
	pid_t pid = forkpty(&master, NULL, NULL, &ws);
	if (pid < 0) {
		perror("rq-pty: forkpty");
		return 1;
	}
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		perror(argv[1]);
		_exit(127);
	}
	for (;;) {
		ssize_t n = read(master, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* EIO: every holder of the terminal closed it */
		for (ssize_t i = 0; i < n; i++) {
			if (cr && buf[i] != '\n')
				putchar('\r');
			cr = buf[i] == '\r';
			if (!cr)
				putchar(buf[i]);
		}
	}
	if (cr)
		putchar('\r');
	fflush(stdout);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			perror("rq-pty: waitpid");
			return 1;
		}
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}
