/* resque mark: report an epoch's end, a metric, whether the target was
 * reached or how the training ended to the `resque run` that runs us, by appending one line to the
 * file named by RESQUE_EVENTS. */
#include "common.h"
#include "cmd.h"
#include "bounds.h"
#include "events.h"

#include <ctype.h>
#include <fcntl.h>
#include <math.h>
#include <unistd.h>

static const struct cmd_help epoch_help = {
	"mark epoch", "mark the end of an epoch",
	"Appends `epoch [N]` to $RESQUE_EVENTS: epoch N (by default the next\n"
	"one) has ended. 'resque run' splits the energy at these marks. Works\n"
	"only inside 'resque run -- COMMAND', which sets RESQUE_EVENTS.",
};

static const struct cmd_help metric_help = {
	"mark metric", "report a metric (grad_norm, accuracy, loss...)",
	"Appends `metric NAME VALUE` to $RESQUE_EVENTS; 'resque run' records the\n"
	"values with the actual (the sum of grad_norm is the run's gradient\n"
	"norm). NAME is 1 to 64 of A-Z a-z 0-9 _ . : / -; VALUE a finite number.",
};

static const struct cmd_help target_help = {
	"mark target", "say whether the run reached its target",
	"Appends `target reached` or `target missed` to $RESQUE_EVENTS. Say\n"
	"`missed` when training stopped at a budget (epochs, time, energy)\n"
	"before reaching its target accuracy or loss: the actual then records\n"
	"\"target\": \"missed\" and its epochs count as a lower bound on what the\n"
	"target needed (right-censored) when plans are calibrated. The last\n"
	"mark of a run wins; a run that marks nothing counts as reached.",
};

static const struct cmd_help status_help = {
	"mark status", "say how the training ended (failed or succeeded)",
	"Appends `status failed` or `status succeeded` to $RESQUE_EVENTS. A run\n"
	"whose last status mark is `failed` is recorded with \"status\": \"failed\"\n"
	"even when its command exits with status 0 (or, under 'resque run\n"
	"--attach', when resque is told to stop); `succeeded` does not hide a\n"
	"failed exit status.",
};

/* One write of the whole line with O_APPEND: concurrent writers (several
 * processes of a data-parallel run) never interleave within a line. */
static int append_event(const char *line)
{
	const char *path = getenv("RESQUE_EVENTS");
	if (!path || !*path)
		return cmd_error("RESQUE_EVENTS is not set: 'resque mark' reports to a 'resque run -- COMMAND' that runs it");
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return cmd_fail_code(rq_error_os("RESQUE_EVENTS: %s", path));
	size_t len = strlen(line);
	ssize_t n;
	do
		n = write(fd, line, len);
	while (n < 0 && errno == EINTR);
	int rc = EXIT_OK;
	if (n < 0)
		rc = cmd_fail_code(rq_error_os("RESQUE_EVENTS: %s", path));
	else if ((size_t)n != len)
		rc = cmd_error("RESQUE_EVENTS: %s: short write", path);
	if (close(fd) < 0 && rc == EXIT_OK)
		rc = cmd_fail_code(rq_error_os("RESQUE_EVENTS: %s", path));
	return rc;
}

static int mark_epoch(int argc, char **argv)
{
	const char *n = NULL;
	const struct opt opts[] = {
		{ OPT_ARG, 0, "N", &n, NULL, "the epoch that ended (default: the next)" },
		{ OPT_END },
	};
	char line[64];
	OPT_PARSE(&epoch_help, opts, argc, argv);
	if (n) {
		char *end;
		errno = 0;
		long v = strtol(n, &end, 10);
		if (errno || *end || end == n || v < 1)
			return cmd_error("mark epoch: '%s' is not an epoch number (1, 2, ...)", n);
		snprintf(line, sizeof(line), "epoch %ld\n", v);
	} else {
		snprintf(line, sizeof(line), "epoch\n");
	}
	return append_event(line);
}

static int mark_metric(int argc, char **argv)
{
	const char *name = NULL, *value = NULL;
	const struct opt opts[] = {
		{ OPT_ARG, 0, "NAME", &name, NULL, "the metric's name", OPT_REQUIRED },
		{ OPT_ARG, 0, "VALUE", &value, NULL, "its value", OPT_REQUIRED },
		{ OPT_END },
	};
	OPT_PARSE(&metric_help, opts, argc, argv);
	if (!rq_events_name_valid(name))
		return cmd_error("mark metric: '%.80s' is not a metric name (1 to 64 of A-Z a-z 0-9 _ . : / -)", name);
	double v;
	if (rq_bound_parse_decimal(&v, value))
		return cmd_error("mark metric: '%.80s' is not a finite number", value);
	rq_buf line = RQ_BUF_INIT;
	/* the value as given: the reader parses it with the same rq_bound_parse_decimal */
	rq_buf_printf(&line, "metric %s %s\n", name, value);
	int rc = append_event(line.ptr);
	rq_buf_release(&line);
	return rc;
}

static int mark_target(int argc, char **argv)
{
	const char *word = NULL;
	const struct opt opts[] = {
		{ OPT_ARG, 0, "reached|missed", &word, NULL, "whether the target was reached", OPT_REQUIRED },
		{ OPT_END },
	};
	char line[32];
	OPT_PARSE(&target_help, opts, argc, argv);
	rq_target t = rq_target_parse(word);
	if (t == RQ_TARGET_UNKNOWN)
		return cmd_error("mark target: '%.80s' is neither 'reached' nor 'missed'", word);
	snprintf(line, sizeof(line), "target %s\n", rq_target_name(t));
	return append_event(line);
}

static int mark_status(int argc, char **argv)
{
	const char *word = NULL;
	const struct opt opts[] = {
		{ OPT_ARG, 0, "failed|succeeded", &word, NULL, "how the training ended", OPT_REQUIRED },
		{ OPT_END },
	};
	char line[32];
	OPT_PARSE(&status_help, opts, argc, argv);
	rq_run_status st = rq_run_status_parse(word);
	if (st == RQ_RUN_STATUS_UNKNOWN)
		return cmd_error("mark status: '%.80s' is neither 'failed' nor 'succeeded'", word);
	snprintf(line, sizeof(line), "status %s\n", rq_run_status_name(st));
	return append_event(line);
}

int cmd_mark(int argc, char **argv)
{
	static const struct subcmd subs[] = {
		{ "epoch", mark_epoch, "mark the end of an epoch" },
		{ "metric", mark_metric, "report a metric NAME VALUE" },
		{ "target", mark_target, "say whether the run reached its target" },
		{ "status", mark_status, "say how the training ended (failed or succeeded)" },
		{ NULL, NULL, NULL },
	};
	return cmd_dispatch_sub("mark", subs, argc, argv);
}
