#!/usr/bin/python3
"""Generate core/forecast/carbon_table.c, resque's embedded grid-intensity table, from
the reference data in ../shared/data/carbon (see docs/DATA.md for sources and
licences). Run from the project root:

    /usr/bin/python3 scripts/gen-carbon-table.py [DATA_DIR] > core/forecast/carbon_table.c

Entries, each with g CO2e/kWh:
  - countries (Our World in Data via CodeCarbon), by ISO 3166-1 alpha-2 code
    with the alpha-3 code as alternative; the alpha-2/alpha-3 pairs come from
    Debian's iso-codes package (/usr/share/iso-codes/json/iso_3166-1.json);
  - sub-national grids (US states, Canadian provinces, Australian states,
    Hong Kong...) from Green Algorithms' CI_aggregated.csv;
  - cloud regions "gcp:NAME", "azure:NAME", "aws:NAME" with the region's PUE
    where the data gives one, else the provider's default PUE. GCP regions use
    Google's own per-region figures (CodeCarbon impact.csv); the others, the
    intensity of the grid where the data centre is (sub-national if known,
    else the country). AWS region locations are not in the data: the table
    AWS_REGIONS below (from AWS's public region list) maps them to grids;
  - WORLD, an explicit world average, never used unless asked for.

The source data is used as it is, except for the CORRECTIONS below: typos
of the sources in names that become codes. Each is applied as the rows are
read; the generator stops when one no longer matches exactly one row (fixed
upstream, or the data changed: look again). A corrected cloud code keeps its
old spelling as an alias (rq_carbon_aliases: it still resolves, and resque
warns that it is now spelt otherwise). tests/t0153-carbon-names.sh checks
the table's cloud names against copies of the source rows
(tests/data/carbon/) and this list, so a new typo or a divergence that is
not listed here fails.
"""
import csv
import io
import json
import os
import sys

DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'data', 'carbon')
ISO = '/usr/share/iso-codes/json/iso_3166-1.json'

# (file under DATA, column, value in the source, corrected value, why).
CORRECTIONS = [
    ('green_algorithms/cloudProviders_datacenters.csv', 'Name', 'Germany Northeastt (Sovereign)',
     'Germany Northeast (Sovereign)', "Azure's region germanynortheast (Magdeburg): a doubled t"),
    ('codecarbon/impact.csv', 'region', 'me-cenrtal1', 'me-central1',
     "Google Cloud's region me-central1 (Doha): transposed letters"),
]


def read_corrected(rel, skip=0):
    """The rows of DATA/rel with CORRECTIONS applied; a corrected row keeps
    the source's values in row['_source']."""
    rows = read_csv(os.path.join(DATA, rel), skip)
    for file, col, was, now, _why in CORRECTIONS:
        if file != rel:
            continue
        hits = [r for r in rows if r[col].strip() == was]
        if len(hits) != 1:
            sys.exit('gen-carbon-table: correction %r -> %r matches %d rows of %s, not 1'
                     % (was, now, len(hits), rel))
        hits[0]['_source'] = dict(hits[0])
        hits[0][col] = now
    return rows


def azure_short(name):
    return name.lower().split('(')[0].replace(' ', '')


# AWS region -> grid location (ISO 3166 alpha-2 or a CI_aggregated region).
AWS_REGIONS = [
    ('us-east-1', 'US East (N. Virginia)', 'US-VA'),
    ('us-east-2', 'US East (Ohio)', 'US-OH'),
    ('us-west-1', 'US West (N. California)', 'US-CA'),
    ('us-west-2', 'US West (Oregon)', 'US-OR'),
    ('af-south-1', 'Africa (Cape Town)', 'ZA'),
    ('ap-east-1', 'Asia Pacific (Hong Kong)', 'HK'),
    ('ap-south-1', 'Asia Pacific (Mumbai)', 'IN'),
    ('ap-south-2', 'Asia Pacific (Hyderabad)', 'IN'),
    ('ap-northeast-1', 'Asia Pacific (Tokyo)', 'JP'),
    ('ap-northeast-2', 'Asia Pacific (Seoul)', 'KR'),
    ('ap-northeast-3', 'Asia Pacific (Osaka)', 'JP'),
    ('ap-southeast-1', 'Asia Pacific (Singapore)', 'SG'),
    ('ap-southeast-2', 'Asia Pacific (Sydney)', 'AU-NSW'),
    ('ap-southeast-3', 'Asia Pacific (Jakarta)', 'ID'),
    ('ap-southeast-4', 'Asia Pacific (Melbourne)', 'AU-VIC'),
    ('ca-central-1', 'Canada (Central)', 'CA-QC'),
    ('ca-west-1', 'Canada West (Calgary)', 'CA-AB'),
    ('eu-central-1', 'Europe (Frankfurt)', 'DE'),
    ('eu-central-2', 'Europe (Zurich)', 'CH'),
    ('eu-west-1', 'Europe (Ireland)', 'IE'),
    ('eu-west-2', 'Europe (London)', 'GB'),
    ('eu-west-3', 'Europe (Paris)', 'FR'),
    ('eu-north-1', 'Europe (Stockholm)', 'SE'),
    ('eu-south-1', 'Europe (Milan)', 'IT'),
    ('eu-south-2', 'Europe (Spain)', 'ES'),
    ('il-central-1', 'Israel (Tel Aviv)', 'IL'),
    ('me-south-1', 'Middle East (Bahrain)', 'BH'),
    ('me-central-1', 'Middle East (UAE)', 'AE'),
    ('sa-east-1', 'South America (Sao Paulo)', 'BR'),
]


def read_csv(path, skip=0):
    with open(path, encoding='utf-8-sig', newline='') as f:
        lines = f.read().splitlines()[skip:]
    return list(csv.DictReader(io.StringIO('\n'.join(lines))))


def c_str(s):
    out = '"'
    for ch in s.encode('utf-8'):
        if ch in (0x22, 0x5c):
            out += '\\' + chr(ch)
        elif 0x20 <= ch < 0x7f:
            out += chr(ch)
        else:
            out += '\\%03o' % ch
    return out + '"'


def num(x):
    return repr(float(x))


def main():
    iso = json.load(open(ISO, encoding='utf-8'))['3166-1']
    a3_to_a2 = {c['alpha_3']: c['alpha_2'] for c in iso}
    entries = []  # (code, alt, name, type, g, pue, year, source)

    countries = {}
    for r in read_csv(os.path.join(DATA, 'codecarbon', 'codecarbon_country_carbon_intensity.csv')):
        a3 = r['iso_code'].strip()
        if a3 not in a3_to_a2:
            sys.exit('gen-carbon-table: no ISO alpha-2 code for %s' % a3)
        a2 = a3_to_a2[a3]
        g = float(r['carbon_intensity_gco2eq_per_kwh'])
        countries[a2] = g
        entries.append((a2, a3, r['country_name'], 'RQ_REGION_COUNTRY', g, 0.0,
                        int(r['year']), 'owid'))

    ga = read_csv(os.path.join(DATA, 'green_algorithms', 'CI_aggregated.csv'), skip=1)
    subdiv = {}
    world = None
    for r in ga:
        loc, g = r['location'].strip(), float(r['carbonIntensity'])
        if r['Type'] == 'World':
            world = g
        elif r['Type'] == 'Region' and '-' in loc:
            subdiv[loc] = g
            name = '%s, %s' % (r['regionName'].strip(), r['countryName'].strip())
            entries.append((loc, None, name, 'RQ_REGION_SUBDIVISION', g, 0.0, 0,
                            'green-algorithms'))
        elif loc not in countries and len(loc) == 2:
            # a country or territory OWID does not cover (e.g. Taiwan)
            countries[loc] = g
            entries.append((loc, None, r['regionName'].strip() if r['regionName'] != 'Any'
                            else r['countryName'].strip(), 'RQ_REGION_COUNTRY', g, 0.0, 0,
                            'green-algorithms'))
    if world is None:
        sys.exit('gen-carbon-table: CI_aggregated.csv has no WORLD row')
    entries.append(('WORLD', None, 'World average (explicit only)', 'RQ_REGION_WORLD',
                    world, 0.0, 2019, 'green-algorithms'))

    def grid(loc):
        if loc in subdiv:
            return subdiv[loc], 'green-algorithms'
        if loc == 'CN-HK':
            loc = 'HK'
        if loc in countries:
            return countries[loc], 'owid'
        if '-' in loc and loc.split('-')[0] in countries:
            return countries[loc.split('-')[0]], 'owid'
        return None, None

    pue_default = {r['provider']: float(r['PUE'])
                   for r in read_csv(os.path.join(DATA, 'green_algorithms', 'defaults_PUE.csv'),
                                     skip=1)}
    dc = read_corrected('green_algorithms/cloudProviders_datacenters.csv', skip=1)
    dc_pue = {}
    dc_loc = {}
    aliases = []  # (old code, code)
    for r in dc:
        key = (r['provider'], r['Name'].strip())
        dc_loc[key] = r['location'].strip()
        if '_source' in r and r['provider'] in ('azure', 'gcp'):
            short = azure_short if r['provider'] == 'azure' else str.lower
            aliases.append(('%s:%s' % (r['provider'], short(r['_source']['Name'].strip())),
                            '%s:%s' % (r['provider'], short(r['Name'].strip()))))
        if r['PUE'].strip():
            dc_pue[key] = float(r['PUE'])

    seen = set()
    impact = read_corrected('codecarbon/impact.csv')
    for r in impact:
        if r['provider'] != 'gcp':
            continue
        name = r['region'].strip()
        if '_source' in r:
            aliases.append(('gcp:' + r['_source']['region'].strip(), 'gcp:' + name))
        pue = dc_pue.get(('gcp', name), pue_default['gcp'])
        place = (r['city'].strip() or r['country_name'].strip())
        entries.append(('gcp:' + name, name, 'Google Cloud %s (%s)' % (name, place),
                        'RQ_REGION_CLOUD', float(r['impact']), pue, 0, 'gcp'))
        seen.add(('gcp', name))
    for (prov, name), loc in sorted(dc_loc.items()):
        if (prov, name) in seen or prov not in ('gcp', 'azure', 'aws'):
            continue
        g, src = grid(loc) if loc else (None, None)
        if g is None:
            continue  # no location in the data (e.g. Azure Qatar Central)
        short = azure_short(name) if prov == 'azure' else name.lower()
        pue = dc_pue.get((prov, name), pue_default[prov])
        label = {'gcp': 'Google Cloud', 'azure': 'Azure', 'aws': 'AWS'}[prov]
        entries.append(('%s:%s' % (prov, short), short, '%s %s (%s)' % (label, name, loc),
                        'RQ_REGION_CLOUD', g, pue, 0, src))
    for name, desc, loc in AWS_REGIONS:
        g, src = grid(loc)
        if g is None:
            sys.exit('gen-carbon-table: no grid for AWS %s at %s' % (name, loc))
        entries.append(('aws:' + name, name, 'AWS %s (%s)' % (desc, loc), 'RQ_REGION_CLOUD',
                        g, pue_default['aws'], 0, src))

    codes = set()
    for e in entries:
        for c in (e[0], e[1]):
            if c and c.lower() in codes:
                sys.exit('gen-carbon-table: duplicate code %s' % c)
            if c:
                codes.add(c.lower())

    out = sys.stdout
    out.write('/* GENERATED by scripts/gen-carbon-table.py from shared/data/carbon: do not\n'
              ' * edit. Grid intensities (g CO2e/kWh) and PUEs; sources in docs/DATA.md. */\n')
    out.write('#include "common.h"\n#include "carbon_int.h"\n\n')
    out.write('const rq_region rq_carbon_table[] = {\n')
    for code, alt, name, typ, g, pue, year, src in entries:
        out.write('\t{ %s, %s, %s, %s, %s, %s, %d, %s },\n' % (
            c_str(code), c_str(alt) if alt else 'NULL', c_str(name), typ, num(g), num(pue),
            year, c_str(src)))
    out.write('};\n\nconst size_t rq_carbon_table_len = sizeof(rq_carbon_table) / '
              'sizeof(rq_carbon_table[0]);\n')
    out.write('\n/* Old spellings of corrected codes (CORRECTIONS of the generator), then\n'
              ' * { NULL, NULL }. */\n')
    out.write('const rq_region_alias rq_carbon_aliases[] = {\n')
    for old, new in sorted(set(aliases)):
        if old.lower() in codes:
            sys.exit('gen-carbon-table: alias %s is a code of the table' % old)
        out.write('\t{ %s, %s },\n' % (c_str(old), c_str(new)))
    out.write('\t{ NULL, NULL },\n};\n')


if __name__ == '__main__':
    main()
