"""Check the cloud regions of resque's grid table against their source.

    check-names.py TABLE.c REF_DIR GENERATOR.py

TABLE.c is core/forecast/carbon_table.c; REF_DIR holds copies of the source
rows (cloud-datacenters-ref.csv: Green Algorithms' cloudProviders_datacenters.csv,
its azure and gcp rows; gcp-impact-ref.csv: CodeCarbon's impact.csv, its gcp
rows; docs/DATA.md says how they were made); GENERATOR.py is
scripts/gen-carbon-table.py, whose CORRECTIONS list the known typos of the
sources. Fails (exit 1, one line per problem) when

  - a GCP or Azure entry of the table is not what its source row, after the
    listed corrections, makes of it (a hand edit, a name changed upstream, a
    generator that drifted), or a source row with a location has no entry;
  - a word of a cloud region's name is not in WORDS below (a typo: the
    source once said "Germany Northeastt" and "me-cenrtal1"; a new region
    whose words are right is added to WORDS after a look at the provider's
    list);
  - a correction no longer matches exactly one source row, fixes no word
    outside WORDS, or has no alias from its old code in the table.
"""
import codecs
import csv
import importlib.util
import io
import re
import sys

# Every word of the cloud region names, lower case: compass points, then
# places (Azure's words, GCP's and AWS's prefixes).
WORDS = set('''
north south east west central northeast northwest southeast southwest
africa asia australia brazil canada china europe france germany india israel
italy japan korea mexico new zealand norway poland qatar spain switzerland uae
uk us me northamerica southamerica af ap ca eu il sa sovereign public
'''.split())

REF = {
    'green_algorithms/cloudProviders_datacenters.csv': ('cloud-datacenters-ref.csv', 1),
    'codecarbon/impact.csv': ('gcp-impact-ref.csv', 0),
}


def c_string(s):
    """The text of a C string literal's body (octal escapes are UTF-8 bytes)."""
    return codecs.escape_decode(s.encode('ascii'))[0].decode('utf-8')


def read_table(path):
    text = open(path, encoding='ascii').read()
    lit = r'"((?:[^"\\]|\\.)*)"'
    rows = {}
    for m in re.finditer(r'^\t\{ %s, (?:NULL|%s), %s, (RQ_REGION_\w+),' % (lit, lit, lit), text, re.M):
        rows[c_string(m.group(1))] = (c_string(m.group(2)) if m.group(2) is not None else None,
                                      c_string(m.group(3)), m.group(4))
    aliases = dict((c_string(a), c_string(b)) for a, b in
                   re.findall(r'^\t\{ %s, %s \},$' % (lit, lit), text, re.M))
    return rows, aliases


def read_ref(ref_dir, name):
    path, skip = REF[name]
    with open('%s/%s' % (ref_dir, path), encoding='utf-8-sig', newline='') as f:
        lines = f.read().splitlines()[skip:]
    return list(csv.DictReader(io.StringIO('\n'.join(lines))))


def words(region):
    """The words of a region's name: "Germany West Central (Public)",
    "europe-west10", "ap-southeast-4"."""
    return [w for w in re.split(r'[\s\-()]+', region.lower()) if w and not w.isdigit()
            for w in [re.sub(r'\d+$', '', w)] if w]


def main():
    table, aliases = read_table(sys.argv[1])
    ref_dir = sys.argv[2]
    spec = importlib.util.spec_from_file_location('gen', sys.argv[3])
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    problems = []

    refs = {name: read_ref(ref_dir, name) for name in REF}
    for file, col, was, now, why in gen.CORRECTIONS:
        if file not in refs:
            problems.append('correction %r -> %r: %s has no copy in %s' % (was, now, file, ref_dir))
            continue
        hits = [r for r in refs[file] if r[col].strip() == was]
        if len(hits) != 1:
            problems.append('correction %r -> %r matches %d rows of %s, not 1' % (was, now, len(hits), file))
            continue
        if all(w in WORDS for w in words(was)) or not all(w in WORDS for w in words(now)):
            problems.append('correction %r -> %r does not fix a misspelt word' % (was, now))
        hits[0]['_was'] = was
        hits[0][col] = now

    want = {}  # code -> (alt, name, old code or None)
    for r in refs['codecarbon/impact.csv']:
        if r['provider'] == 'gcp':
            region = r['region'].strip()
            want['gcp:' + region] = (region, 'Google Cloud %s (%s)' % (
                region, r['city'].strip() or r['country_name'].strip()),
                'gcp:' + r['_was'] if '_was' in r else None)
    for r in refs['green_algorithms/cloudProviders_datacenters.csv']:
        prov, name, loc = r['provider'], r['Name'].strip(), r['location'].strip()
        short = gen.azure_short(name) if prov == 'azure' else name.lower()
        code = '%s:%s' % (prov, short)
        if code in want or not loc:
            continue  # GCP's own figure came first; no location: no grid
        label = {'gcp': 'Google Cloud', 'azure': 'Azure'}[prov]
        old = None
        if '_was' in r:
            old = '%s:%s' % (prov, gen.azure_short(r['_was']) if prov == 'azure' else r['_was'].lower())
        want[code] = (short, '%s %s (%s)' % (label, name, loc), old)

    for code, (alt, name, typ) in sorted(table.items()):
        if not code.startswith(('gcp:', 'azure:')):
            continue
        if code not in want:
            problems.append('%s: in the table, but no source row makes it (%s)' % (code, name))
        elif (alt, name) != want[code][:2]:
            problems.append('%s: the table says %r, the source row %r' % (code, (alt, name), want[code][:2]))
    for code, (alt, name, old) in sorted(want.items()):
        if code not in table:
            problems.append('%s: a source row (%s) with no entry in the table' % (code, name))
        if old and aliases.get(old) != code:
            problems.append('%s: corrected from %s, but the table has no alias %s -> %s' % (code, old, old, code))
    for old, code in sorted(aliases.items()):
        if code not in table:
            problems.append('alias %s -> %s: no such entry' % (old, code))

    for code in sorted(table):
        prov, _, region = code.partition(':')
        if prov not in ('gcp', 'azure', 'aws'):
            continue
        # Azure: the words of the name ("Azure Germany North (Public) (DE)");
        # GCP, AWS: of the code ("europe-west10", "ap-southeast-4")
        name = table[code][1]
        for w in words(name[len('Azure '):].rsplit(' (', 1)[0] if prov == 'azure' else region):
            if w not in WORDS:
                problems.append('%s: %r is not a word of region names (a typo? see WORDS in %s)'
                                % (code, w, sys.argv[0]))
    for p in problems:
        print('check-names: %s' % p)
    print('check-names: %d cloud regions checked, %d problems' % (
        sum(1 for c in table if c.split(':')[0] in ('gcp', 'azure', 'aws')), len(problems)))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
