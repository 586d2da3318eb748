/* Unit tests of the grid-intensity table and its lookup. */
#include "unit.h"
#include "resque/carbon.h"

#include <strings.h>

TEST(carbon_lookup_by_iso2_iso3_and_cloud)
{
	const rq_region *a, *b;
	CHECK_OK(rq_carbon_lookup(&a, "FR"));
	CHECK_OK(rq_carbon_lookup(&b, "fra"));
	CHECK(a == b);
	CHECK_STR_EQ(a->name, "France");
	CHECK(a->type == RQ_REGION_COUNTRY && a->g_per_kwh > 0);
	CHECK_OK(rq_carbon_lookup(&a, "gcp:europe-west9"));
	CHECK_OK(rq_carbon_lookup(&b, "GCP/europe-west9"));
	CHECK(a == b && a->type == RQ_REGION_CLOUD && a->pue >= 1);
	CHECK_OK(rq_carbon_lookup(&b, "europe-west9"));
	CHECK(a == b);
	CHECK_OK(rq_carbon_lookup(&a, "aws:us-east-1"));
	CHECK(a->pue >= 1);
	CHECK_OK(rq_carbon_lookup(&a, "us-ca"));
	CHECK(a->type == RQ_REGION_SUBDIVISION);
	CHECK_OK(rq_carbon_lookup(&a, "WORLD"));
	CHECK(a->type == RQ_REGION_WORLD);
}

TEST(carbon_unknown_region_lists_close_matches)
{
	const rq_region *r = (const rq_region *)1;
	CHECK_ERR(rq_carbon_lookup(&r, "FRR"), RQ_ENOTFOUND);
	CHECK(r == NULL);
	CHECK_CONTAINS(rq_error_last(), "region 'FRR': unknown grid region");
	CHECK_CONTAINS(rq_error_last(), "FR (France)");
	CHECK_ERR(rq_carbon_lookup(&r, "eu-west-9"), RQ_ENOTFOUND);
	CHECK_CONTAINS(rq_error_last(), "aws:eu-west-");
	CHECK_ERR(rq_carbon_lookup(&r, "zzzzzzzzzzzzzzzzzz"), RQ_ENOTFOUND);
	CHECK_CONTAINS(rq_error_last(), "ISO 3166");
	CHECK_ERR(rq_carbon_lookup(&r, ""), RQ_EINVALID);
}

TEST(carbon_table_is_sane)
{
	size_t n = rq_carbon_count(), worlds = 0;
	CHECK(n > 300);
	CHECK(rq_carbon_at(n) == NULL);
	for (size_t i = 0; i < n; i++) {
		const rq_region *r = rq_carbon_at(i), *back;
		CHECK(isfinite(r->g_per_kwh) && r->g_per_kwh >= 0 && r->g_per_kwh < 2000);
		CHECK(r->pue == 0 || (r->pue >= 1 && r->pue < 3));
		CHECK((r->type == RQ_REGION_CLOUD) == (r->pue != 0));
		worlds += r->type == RQ_REGION_WORLD;
		/* every code finds its own entry */
		CHECK(rq_carbon_lookup(&back, r->code) == 0 && back == r);
		if (r->alt)
			CHECK(rq_carbon_lookup(&back, r->alt) == 0 && back == r);
	}
	CHECK_INT_EQ(worlds, 1);
}

TEST(carbon_old_spellings_resolve_to_the_corrected_codes)
{
	const rq_region *r, *now;
	CHECK(rq_carbon_lookup(&now, "azure:germanynortheast") == 0);
	CHECK(strcmp(now->name, "Azure Germany Northeast (Sovereign) (DE)") == 0);
	CHECK(rq_carbon_lookup(&r, "azure:germanynortheastt") == 0 && r == now);
	CHECK(rq_carbon_lookup(&r, "germanynortheastt") == 0 && r == now);
	CHECK(rq_carbon_lookup(&r, "AZURE/GermanyNortheastt") == 0 && r == now);
	CHECK(rq_carbon_renamed("azure:germanynortheastt") &&
	      strcmp(rq_carbon_renamed("azure:germanynortheastt"), "azure:germanynortheast") == 0);
	CHECK(rq_carbon_renamed("azure:germanynortheast") == NULL);
	CHECK(rq_carbon_renamed("FR") == NULL && rq_carbon_renamed(NULL) == NULL);
	CHECK(rq_carbon_lookup(&now, "gcp:me-central1") == 0);
	CHECK(rq_carbon_lookup(&r, "gcp:me-cenrtal1") == 0 && r == now);
	CHECK(rq_carbon_lookup(&r, "azure:germanynortheasttt") == RQ_ENOTFOUND);
}
