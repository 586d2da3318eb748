/* Unit tests of the meters without the hardware: a fake powercap tree
 * (RESQUE_SYSFS_ROOT), a fake /proc (RESQUE_PROC_ROOT), the TDP table. */
#include "unit.h"
#include "meter_int.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void put(const char *dir, const char *rel, const char *text)
{
	rq_buf p = RQ_BUF_INIT, d = RQ_BUF_INIT;
	rq_buf_printf(&p, "%s/%s", dir, rel);
	const char *slash = strrchr(p.ptr, '/');
	rq_buf_put(&d, p.ptr, (size_t)(slash - p.ptr));
	if (rq_mkdir_p(d.ptr, 0755))
		unit_fail(__FILE__, __LINE__, "%s", rq_error_last());
	free(unit_write_file(d.ptr, slash + 1, text, strlen(text)));
	rq_buf_release(&p);
	rq_buf_release(&d);
}

#define PC "sys/class/powercap/"

/* Two packages with DRAM, plus zones that must not be counted. */
static char *fake_rapl(void)
{
	char *root = rq_xstrdup(unit_tmpdir());
	put(root, PC "intel-rapl:0/name", "package-0\n");
	put(root, PC "intel-rapl:0/energy_uj", "900000\n");
	put(root, PC "intel-rapl:0/max_energy_range_uj", "1000000\n");
	put(root, PC "intel-rapl:0:0/name", "core\n");
	put(root, PC "intel-rapl:0:0/energy_uj", "5\n");
	put(root, PC "intel-rapl:0:1/name", "dram\n");
	put(root, PC "intel-rapl:0:1/energy_uj", "1000\n");
	put(root, PC "intel-rapl:0:1/max_energy_range_uj", "65532610987\n");
	put(root, PC "intel-rapl:1/name", "package-1\n");
	put(root, PC "intel-rapl:1/energy_uj", "0\n");
	put(root, PC "intel-rapl:1/max_energy_range_uj", "262143328850\n");
	put(root, PC "intel-rapl:2/name", "psys\n");
	put(root, PC "intel-rapl:2/energy_uj", "77\n");
	put(root, PC "intel-rapl-mmio:0/name", "package-0\n");
	put(root, PC "intel-rapl-mmio:0/energy_uj", "123\n");
	return root;
}

static const rq_meter_domain *find_domain(const rq_meter *m, const char *name)
{
	for (size_t i = 0; i < rq_meter_ndomains(m); i++)
		if (!strcmp(rq_meter_domain_at(m, i)->name, name))
			return rq_meter_domain_at(m, i);
	return NULL;
}

TEST(meter_rapl_wraparound_and_dram)
{
	char *root = fake_rapl();
	rq_meter *m = NULL;
	rq_meter_opts o = { .kind = "rapl" };
	setenv("RESQUE_SYSFS_ROOT", root, 1);
	CHECK_OK(rq_meter_open(&m, &o));
	if (!m)
		goto done;
	CHECK_STR_EQ(rq_meter_name(m), "rapl");
	CHECK_INT_EQ(rq_meter_method(m), RQ_METHOD_MEASURED);
	CHECK_OK(rq_meter_start_at(m, 10.0));
	CHECK_INT_EQ(rq_meter_ndomains(m), 3);
	/* package-0 wraps: 900000 -> 1000000 -> 100000 is 0.2 J */
	put(root, PC "intel-rapl:0/energy_uj", "100000\n");
	put(root, PC "intel-rapl:0:1/energy_uj", "501000\n");
	put(root, PC "intel-rapl:1/energy_uj", "3000000\n");
	put(root, PC "intel-rapl:0:0/energy_uj", "999999999\n");
	CHECK_OK(rq_meter_sample_at(m, 11.0));
	put(root, PC "intel-rapl:0/energy_uj", "400000\n");
	CHECK_OK(rq_meter_stop_at(m, 12.5));
	const rq_meter_domain *p0 = find_domain(m, "package-0");
	const rq_meter_domain *p1 = find_domain(m, "package-1");
	const rq_meter_domain *d0 = find_domain(m, "dram-0");
	CHECK(p0 && p1 && d0);
	if (p0 && p1 && d0) {
		CHECK_NEAR(p0->joules, 0.5, 1e-12);
		CHECK_NEAR(p1->joules, 3.0, 1e-12);
		CHECK_NEAR(d0->joules, 0.5, 1e-12);
	}
	CHECK_NEAR(rq_meter_joules(m), 4.0, 1e-12);
	CHECK_NEAR(rq_meter_seconds(m), 2.5, 1e-12);
	size_t n;
	const rq_energy_point *tl = rq_meter_timeline(m, &n);
	CHECK_INT_EQ(n, 3);
	if (n == 3) {
		CHECK_NEAR(tl[0].joules, 0, 0);
		CHECK_NEAR(tl[1].t, 1.0, 1e-12);
		CHECK_NEAR(tl[1].joules, 0.2 + 3.0 + 0.5, 1e-12);
		CHECK_NEAR(tl[2].joules, 4.0, 1e-12);
	}
done:
	unsetenv("RESQUE_SYSFS_ROOT");
	rq_meter_free(m);
	free(root);
}

TEST(meter_rapl_absent)
{
	char *root = rq_xstrdup(unit_tmpdir());
	rq_meter *m = NULL;
	rq_meter_opts o = { .kind = "rapl" };
	setenv("RESQUE_SYSFS_ROOT", root, 1);
	CHECK_ERR(rq_meter_open(&m, &o), RQ_ENOTFOUND);
	CHECK_CONTAINS(rq_error_last(), "rapl: ");
	CHECK_CONTAINS(rq_error_last(), "/sys/class/powercap");
	put(root, PC "intel-rapl:0/name", "psys\n");
	put(root, PC "intel-rapl:0/energy_uj", "1\n");
	CHECK_ERR(rq_meter_open(&m, &o), RQ_ENOTFOUND);
	CHECK_CONTAINS(rq_error_last(), "no package or dram zone");
	put(root, PC "intel-rapl:1/name", "package-0\n");
	put(root, PC "intel-rapl:1/energy_uj", "garbage\n");
	CHECK_ERR(rq_meter_open(&m, &o), RQ_EUNSUPPORTED);
	CHECK_CONTAINS(rq_error_last(), "intel-rapl:1/energy_uj: not a counter value");
	unsetenv("RESQUE_SYSFS_ROOT");
	rq_meter_free(m);
	free(root);
}

/* The counter readable by root only (Linux >= 5.10): run the check as an
 * unprivileged user when the tests run as root. */
TEST(meter_rapl_permission_fallback)
{
	char *root = fake_rapl();
	rq_buf p = RQ_BUF_INIT;
	rq_buf_printf(&p, "%s/" PC "intel-rapl:0/energy_uj", root);
	CHECK(chmod(p.ptr, 0400) == 0);
	/* let an unprivileged user walk to the file */
	for (char *s = p.ptr + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			chmod(p.ptr, 0755);
			*s = '/';
		}
	setenv("RESQUE_SYSFS_ROOT", root, 1);
	setenv("RESQUE_PROC_ROOT", "/proc", 1);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
			_exit(77);
		rq_meter *m = NULL;
		rq_meter_opts o = { .kind = "rapl" };
		if (rq_meter_open(&m, &o) != RQ_EUNSUPPORTED ||
		    !strstr(rq_error_last(), "intel-rapl:0/energy_uj: permission denied (readable by root only since Linux 5.10)"))
			_exit(1);
		o.kind = "auto";
		o.cpu_watts = 100;
		setenv("RESQUE_NVML_LIB", "/nonexistent/libnvidia-ml.so.1", 1);
		if (rq_meter_open(&m, &o) != 0)
			_exit(2);
		int ok = !strcmp(rq_meter_name(m), "estimate") &&
			 rq_meter_method(m) == RQ_METHOD_ESTIMATED &&
			 strstr(rq_meter_notes(m), "permission denied") &&
			 strstr(rq_meter_notes(m), "estimating CPU energy instead\n") &&
			 strstr(rq_meter_notes(m), "--cpu-watts");
		rq_meter_free(m);
		_exit(ok ? 0 : 3);
	}
	int status = 0;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		fprintf(stderr, "meter_rapl_permission_fallback: cannot drop privileges, skipped\n");
	else
		CHECK_INT_EQ(WEXITSTATUS(status), 0);
	unsetenv("RESQUE_SYSFS_ROOT");
	unsetenv("RESQUE_PROC_ROOT");
	rq_buf_release(&p);
	free(root);
}

static void put_stat(const char *proc, int pid, int ppid, unsigned long long utime,
		     unsigned long long stime, unsigned long long start, long rss)
{
	char rel[64], text[512];
	snprintf(rel, sizeof(rel), "%d/stat", pid);
	/* comm with a space and a parenthesis, as real ones can be */
	snprintf(text, sizeof(text),
		 "%d (a b) c) S %d %d %d 0 -1 4194560 100 0 0 0 %llu %llu 0 0 20 0 1 0 %llu "
		 "1000000 %ld 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n",
		 pid, ppid, pid, pid, utime, stime, start, rss);
	put(proc, rel, text);
}

TEST(meter_estimate_process_tree)
{
	char *proc = rq_xstrdup(unit_tmpdir());
	put(proc, "cpuinfo",
	    "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz\nsiblings\t: 4\n\n"
	    "processor\t: 1\nmodel name\t: Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz\nsiblings\t: 4\n");
	unsigned long long tck = (unsigned long long)sysconf(_SC_CLK_TCK); /* positive */
	long page = sysconf(_SC_PAGESIZE);
	long gib_pages = (1L << 30) / page;
	/* 100 is the root; 101 its child, 102 a grandchild; 200 unrelated */
	put_stat(proc, 100, 1, 0, 0, 5000, gib_pages);
	put_stat(proc, 200, 1, 1000 * tck, 0, 10, gib_pages);
	setenv("RESQUE_PROC_ROOT", proc, 1);
	rq_meter *m = NULL;
	rq_meter_opts o = { .kind = "estimate", .pid = 100 };
	CHECK_OK(rq_meter_open(&m, &o));
	if (!m)
		goto done;
	rq_meter_estimate_info info;
	rq_meter_estimate_get(&info, m);
	CHECK(info.active);
	CHECK_NEAR(info.tdp_watts, 145, 0);
	CHECK_STR_EQ(info.tdp_source, "table: Intel Xeon E5-2686 v4");
	CHECK_INT_EQ(info.cpus_per_package, 4);
	CHECK_NEAR(info.watts_per_cpu, 145.0 / 4, 1e-12);
	CHECK_STR_EQ(rq_meter_name(m), "estimate");
	CHECK_INT_EQ(rq_meter_method(m), RQ_METHOD_ESTIMATED);
	CHECK_OK(rq_meter_start_at(m, 0));
	put_stat(proc, 100, 1, 2 * tck, 1 * tck, 5000, gib_pages);
	put_stat(proc, 101, 100, 4 * tck, 0, 5100, gib_pages);
	put_stat(proc, 102, 101, 1 * tck, 1 * tck, 5200, 0);
	CHECK_OK(rq_meter_sample_at(m, 2));
	/* 102 exits; its CPU time stays counted. pid 101 is reused by an
	 * unrelated process: its old time stays, the new one is not in the tree */
	rq_buf p = RQ_BUF_INIT;
	rq_buf_printf(&p, "%s/102/stat", proc);
	remove(p.ptr);
	rq_buf_release(&p);
	put_stat(proc, 100, 1, 3 * tck, 1 * tck, 5000, gib_pages);
	put_stat(proc, 101, 100, 5 * tck, 0, 5100, gib_pages);
	CHECK_OK(rq_meter_stop_at(m, 4));
	rq_meter_estimate_get(&info, m);
	CHECK_NEAR(info.cpu_seconds, 4 + 5 + 2, 1e-9);
	const rq_meter_domain *cpu = rq_meter_domain_at(m, 0);
	const rq_meter_domain *mem = rq_meter_domain_at(m, 1);
	CHECK_STR_EQ(cpu->name, "cpu (estimate)");
	CHECK_NEAR(cpu->joules, 11 * 145.0 / 4, 1e-9);
	/* memory: 1 GiB for 0..0, 2 GiB from 2 s on; trapezoid 0->2 s: (1+2)/2*2, 2->4 s: 2*2 */
	double gib_ratio = (double)(gib_pages * page) / (double)(1L << 30);
	CHECK_NEAR(mem->joules, 0.3725 * gib_ratio * (3.0 + 4.0), 1e-9);
	CHECK_NEAR(rq_meter_joules(m), cpu->joules + mem->joules, 1e-9);
done:
	unsetenv("RESQUE_PROC_ROOT");
	rq_meter_free(m);
	free(proc);
}

/* An attached tree (a root that ran before the meter started): only the CPU
 * time after the start is counted. */
TEST(meter_estimate_counts_from_the_start)
{
	char *proc = rq_xstrdup(unit_tmpdir());
	put(proc, "cpuinfo", "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz\nsiblings\t: 4\n");
	unsigned long long tck = (unsigned long long)sysconf(_SC_CLK_TCK);
	put_stat(proc, 300, 1, 50 * tck, 10 * tck, 100, 0);
	put_stat(proc, 301, 300, 5 * tck, 0, 200, 0);
	setenv("RESQUE_PROC_ROOT", proc, 1);
	rq_meter *m = NULL;
	rq_meter_opts o = { .kind = "estimate", .pid = 300, .cpu_watts = 10 };
	CHECK_OK(rq_meter_open(&m, &o));
	if (!m)
		goto done;
	CHECK_OK(rq_meter_start_at(m, 0));
	put_stat(proc, 300, 1, 52 * tck, 11 * tck, 100, 0);
	put_stat(proc, 301, 300, 6 * tck, 0, 200, 0);
	put_stat(proc, 302, 300, 2 * tck, 0, 300, 0); /* started after */
	CHECK_OK(rq_meter_stop_at(m, 1));
	rq_meter_estimate_info info;
	rq_meter_estimate_get(&info, m);
	CHECK_NEAR(info.cpu_seconds, 3 + 1 + 2, 1e-9);
	CHECK_NEAR(rq_meter_domain_at(m, 0)->joules, 6 * 10.0, 1e-9);
done:
	unsetenv("RESQUE_PROC_ROOT");
	rq_meter_free(m);
	free(proc);
}

TEST(meter_tdp_lookup)
{
	double w = 0;
	const char *name = NULL;
	CHECK_OK(rq_tdp_lookup(&w, &name, "Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz"));
	CHECK_STR_EQ(name, "Intel Xeon E5-2686 v4");
	CHECK_NEAR(w, 145, 0);
	CHECK_OK(rq_tdp_lookup(&w, &name, "AMD Ryzen 9 5950X 16-Core Processor"));
	CHECK_STR_EQ(name, "AMD Ryzen 9 5950X");
	CHECK_NEAR(w, 105, 0);
	CHECK_OK(rq_tdp_lookup(&w, &name, "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz"));
	CHECK_STR_EQ(name, "Intel Xeon Platinum 8375C");
	CHECK_ERR(rq_tdp_lookup(&w, &name, "AMD EPYC"), RQ_ENOTFOUND);
	CHECK_CONTAINS(rq_error_last(), "'AMD EPYC' is not in the TDP table");
	CHECK_ERR(rq_tdp_lookup(&w, &name, ""), RQ_ENOTFOUND);
}

TEST(meter_bad_kind_and_nvml_absent)
{
	rq_meter *m = NULL;
	rq_meter_opts o = { .kind = "watts" };
	CHECK_ERR(rq_meter_open(&m, &o), RQ_EINVALID);
	CHECK_CONTAINS(rq_error_last(), "unknown meter 'watts'");
	setenv("RESQUE_NVML_LIB", "/nonexistent/libnvidia-ml.so.1", 1);
	o.kind = "nvml";
	CHECK_ERR(rq_meter_open(&m, &o), RQ_ENOTFOUND);
	CHECK_CONTAINS(rq_error_last(), "nvml: /nonexistent/libnvidia-ml.so.1: cannot be loaded");
	unsetenv("RESQUE_NVML_LIB");
	CHECK(m == NULL);
}

/* In a VM, watts per vCPU by microarchitecture (Cloud Carbon Footprint's
 * max watts per vCPU), the EPYC mean, or the default; the rule is named. */
TEST(meter_vcpu_watts)
{
	static const struct {
		const char *model;
		double w;
		const char *rule;
	} cases[] = {
		{ "AMD EPYC 7B13", 2.02, "of AMD EPYC 3rd Gen (Cloud Carbon Footprint)" },
		{ "AMD EPYC 7R32", 1.69, "of AMD EPYC 2nd Gen" },
		{ "AMD EPYC 7551 32-Core Processor", 2.55, "of AMD EPYC 1st Gen" },
		{ "AMD EPYC-Rome Processor", 1.69, "of AMD EPYC 2nd Gen" },
		{ "AMD EPYC", (2.55 + 1.69 + 2.02) / 3, "for AMD EPYC (mean of Cloud Carbon Footprint's EPYC 1st-3rd Gen)" },
		{ "AMD EPYC 9654 96-Core Processor", (2.55 + 1.69 + 2.02) / 3, "for AMD EPYC" },
		{ "Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz", 3.97, "of Intel Cascade Lake" },
		{ "Intel(R) Xeon(R) Platinum 8175M CPU @ 2.50GHz", 4.26, "of Intel Skylake" },
		{ "Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz", 3.69, "of Intel Broadwell" },
		{ "Intel(R) Xeon(R) CPU E5-2676 v3 @ 2.40GHz", 4.74, "of Intel Haswell" },
		{ "Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz", 8.58, "of Intel Sandy Bridge" },
		{ "Intel Xeon Processor (Cascadelake)", 3.97, "of Intel Cascade Lake" },
		{ "Intel(R) Xeon(R) CPU @ 2.20GHz", 3.5, "vm: default 3.5 W per vCPU (Cloud Carbon Footprint's AWS average; model not classified)" },
		{ "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", 3.5, "vm: default" },
		{ "unknown", 3.5, "vm: default" },
	};
	for (size_t i = 0; i < RQ_ARRAY_SIZE(cases); i++) {
		double w = 0;
		char rule[RQ_METER_TDP_SOURCE_SIZE];
		rq_vcpu_watts(&w, rule, sizeof(rule), cases[i].model);
		CHECK_NEAR(w, cases[i].w, 1e-12);
		CHECK_CONTAINS(rule, cases[i].rule);
	}
}

/* The estimate's rule in a VM and the caller's figure with its source. */
TEST(meter_estimate_vm_rules)
{
	char *proc = rq_xstrdup(unit_tmpdir());
	put(proc, "cpuinfo",
	    "processor\t: 0\nmodel name\t: AMD EPYC\nsiblings\t: 2\nflags\t\t: fpu sse2 hypervisor lahf_lm\n\n"
	    "processor\t: 1\nmodel name\t: AMD EPYC\nsiblings\t: 2\nflags\t\t: fpu sse2 hypervisor lahf_lm\n");
	setenv("RESQUE_PROC_ROOT", proc, 1);
	rq_meter *m = NULL;
	rq_meter_estimate_info info;
	rq_meter_opts o = { .kind = "estimate", .pid = 1 };
	CHECK_OK(rq_meter_open(&m, &o));
	if (m) {
		rq_meter_estimate_get(&info, m);
		CHECK(info.hypervisor);
		CHECK_NEAR(info.watts_per_cpu, (2.55 + 1.69 + 2.02) / 3, 1e-12);
		CHECK_NEAR(info.tdp_watts, 0, 0);
		CHECK_CONTAINS(info.tdp_source, "vm: per-vCPU coefficient for AMD EPYC");
		CHECK_CONTAINS(rq_meter_notes(m), "W per logical CPU (vm: per-vCPU coefficient for AMD EPYC");
	}
	rq_meter_free(m);
	m = NULL;
	o.cpu_watts = 4.5;
	o.cpu_watts_source = "config cpu-watts";
	CHECK_OK(rq_meter_open(&m, &o));
	if (m) {
		rq_meter_estimate_get(&info, m);
		CHECK_NEAR(info.watts_per_cpu, 4.5, 0);
		CHECK_STR_EQ(info.tdp_source, "config cpu-watts");
		CHECK_CONTAINS(rq_meter_notes(m), "4.5 W per logical CPU (config cpu-watts)");
	}
	rq_meter_free(m);
	unsetenv("RESQUE_PROC_ROOT");
	free(proc);
}

/* The machine profile: the first model name, the processors, and no GPU
 * when NVML cannot be loaded. */
TEST(meter_machine_profile)
{
	char *proc = rq_xstrdup(unit_tmpdir());
	put(proc, "cpuinfo",
	    "processor\t: 0\nmodel name\t: AMD   EPYC 7B13;\tx\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n\n"
	    "processor\t: 2\nmodel name\t: AMD EPYC 7B13\n");
	setenv("RESQUE_PROC_ROOT", proc, 1);
	setenv("RESQUE_NVML_LIB", "/nonexistent/libnvidia-ml.so.1", 1);
	rq_buf b = RQ_BUF_INIT;
	rq_meter_machine_profile(&b);
	CHECK_STR_EQ(b.ptr, "cpu:AMD EPYC 7B13 x x3");
	put(proc, "cpuinfo", "processor\t: 0\nCPU part\t: 0xd0c\n");
	rq_meter_machine_profile(&b);
	CHECK_STR_EQ(b.ptr, "cpu:unknown x1");
	rq_buf_release(&b);
	unsetenv("RESQUE_NVML_LIB");
	unsetenv("RESQUE_PROC_ROOT");
	free(proc);
}
