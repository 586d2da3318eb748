/* Test helper: `rq-meter --meter KIND [--seconds S] [--interval I]
 * [--cpu-watts W] [-- CMD...]` meters S seconds (or CMD's process tree
 * until it exits) and prints "joules J", "seconds T", "method M",
 * "meter NAME", one "domain NAME J" per domain, the estimate's
 * "cpu_seconds" and "watts_per_cpu", and the notes on stderr. */
#include "common.h"
#include "resque/meter.h"

#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	rq_meter_opts o = { 0 };
	double seconds = 1, interval = 0.1;
	int i;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--") ) {
			i++;
			break;
		} else if (i + 1 < argc && !strcmp(argv[i], "--meter"))
			o.kind = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--seconds"))
			seconds = atof(argv[++i]);
		else if (i + 1 < argc && !strcmp(argv[i], "--interval"))
			interval = atof(argv[++i]);
		else if (i + 1 < argc && !strcmp(argv[i], "--cpu-watts"))
			o.cpu_watts = atof(argv[++i]);
		else {
			fprintf(stderr, "usage: rq-meter --meter KIND [--seconds S] [--interval I] [--cpu-watts W] [-- CMD...]\n");
			return 2;
		}
	}
	pid_t child = 0;
	if (i < argc) {
		child = fork();
		if (child == 0) {
			execvp(argv[i], argv + i);
			_exit(127);
		}
		o.pid = child;
		o.reaps_tree = true;
	}
	rq_meter *m = NULL;
	if (rq_meter_open(&m, &o) < 0 || rq_meter_start(m) < 0) {
		fprintf(stderr, "rq-meter: %s\n", rq_error_last());
		if (child > 0)
			waitpid(child, NULL, 0);
		return 1;
	}
	fputs(rq_meter_notes(m), stderr);
	if (child > 0) {
		for (;;) {
			int st;
			pid_t r = waitpid(child, &st, WNOHANG);
			if (r == child)
				break;
			nap(interval);
			rq_meter_sample(m);
		}
	} else {
		for (double t = 0; t + 1e-9 < seconds; t += interval) {
			nap(interval);
			rq_meter_sample(m);
		}
	}
	rq_meter_stop(m);
	printf("joules %.9g\nseconds %.9g\nmethod %s\nmeter %s\n", rq_meter_joules(m),
	       rq_meter_seconds(m), rq_method_name(rq_meter_method(m)), rq_meter_name(m));
	for (size_t d = 0; d < rq_meter_ndomains(m); d++)
		printf("domain %s %.9g\n", rq_meter_domain_at(m, d)->name,
		       rq_meter_domain_at(m, d)->joules);
	rq_meter_estimate_info info;
	rq_meter_estimate_get(&info, m);
	if (info.active)
		printf("cpu_seconds %.9g\nwatts_per_cpu %.9g\n", info.cpu_seconds, info.watts_per_cpu);
	rq_meter_free(m);
	return 0;
}
