"""Checks of an HTML report as a browser sees it, for t0860 (run with
/usr/bin/python3; needs PIL for `shot`). Each subcommand exits 1 with the
reasons on stderr when the check fails.

  inject IN OUT      a test-only copy: the Content-Security-Policy dropped
                     and a script added that writes each <svg>'s laid-out
                     size and position, and how many of its marks have a
                     non-zero size, into data-* attributes (the report
                     itself runs no script)
  dom DUMP RECTS     the --dump-dom output of that copy: every chart svg
                     is laid out with non-zero size and has its marks (or
                     its empty-state message); writes the charts' page
                     rectangles to RECTS (JSON)
  shot PNG RECTS     the screenshot is not blank where the charts stand
  netlog LOG         no request the page made in the NetLog (see below)
  static HTML        nothing in the markup or the CSS can fetch anything
"""
import html.parser
import json
import re
import sys

CHARTS = {
    # chart id -> CSS selectors of the marks it draws when it has data
    "chart-cumulative": ["path.actual", "circle.fc", "rect.band"],
    "chart-forecast": ["circle.in, circle.out", "line.ibar", "line.diag"],
    "chart-versions": ["rect.bar, rect.bar2"],
}

MEASURE = """<script>
(function () {
  var marks = %s;
  document.querySelectorAll('svg').forEach(function (s) {
    var r = s.getBoundingClientRect();
    s.setAttribute('data-w', r.width);
    s.setAttribute('data-h', r.height);
    s.setAttribute('data-x', r.left + window.scrollX);
    s.setAttribute('data-y', r.top + window.scrollY);
    var sel = marks[s.id] || [];
    s.setAttribute('data-marks', sel.map(function (q) {
      var n = 0;
      s.querySelectorAll(q).forEach(function (e) {
        var b = e.getBoundingClientRect();
        if (b.width > 0 || b.height > 0) n++;
      });
      return n;
    }).join(','));
    s.setAttribute('data-empty', s.querySelectorAll('text.empty').length);
  });
  document.body.setAttribute('data-measured', 'yes');
})();
</script>
"""


def fail(msgs):
    for m in msgs:
        print(m, file=sys.stderr)
    sys.exit(1 if msgs else 0)


def inject(src, dst):
    text = open(src, encoding="utf-8").read()
    text, n = re.subn(r'<meta http-equiv="Content-Security-Policy"[^>]*>\n?', "", text)
    if n != 1:
        fail(["%s: expected one Content-Security-Policy, found %d" % (src, n)])
    i = text.rindex("</body>")
    text = text[:i] + MEASURE % json.dumps(CHARTS) + text[i:]
    open(dst, "w", encoding="utf-8").write(text)


class SvgAttrs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.svgs = []
        self.measured = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self.svgs.append(a)
        if tag == "body" and a.get("data-measured") == "yes":
            self.measured = True


def dom(dump, rects_out):
    p = SvgAttrs()
    p.feed(open(dump, encoding="utf-8").read())
    errs = []
    if not p.measured:
        errs.append("%s: the measuring script did not run" % dump)
    rects = {}
    for a in p.svgs:
        sid = a.get("id", "?")
        if sid not in CHARTS:
            continue
        try:
            w, h = float(a["data-w"]), float(a["data-h"])
            x, y = float(a["data-x"]), float(a["data-y"])
        except (KeyError, ValueError):
            errs.append("%s: no layout size" % sid)
            continue
        if not (w > 50 and h > 30):
            errs.append("%s: laid out at %gx%g" % (sid, w, h))
        marks = [int(n) for n in a.get("data-marks", "").split(",") if n != ""]
        empty = int(a.get("data-empty", "0"))
        if empty == 0 and (len(marks) != len(CHARTS[sid]) or min(marks) == 0):
            errs.append("%s: marks drawn %s for %s" % (sid, marks, CHARTS[sid]))
        if not a.get("aria-label"):
            errs.append("%s: no aria-label" % sid)
        rects[sid] = {"x": x, "y": y, "w": w, "h": h, "marks": marks, "empty": empty}
    for sid in CHARTS:
        if sid not in rects and not any(e.startswith(sid) for e in errs):
            errs.append("%s: not in the DOM" % sid)
    json.dump(rects, open(rects_out, "w"), indent=1)
    fail(errs)


def shot(png, rects_in):
    from PIL import Image

    im = Image.open(png).convert("RGB")
    rects = json.load(open(rects_in))
    errs = []
    for sid, r in sorted(rects.items()):
        box = (int(r["x"]), int(r["y"]), int(r["x"] + r["w"]), int(r["y"] + r["h"]))
        if box[2] > im.width or box[3] > im.height:
            errs.append("%s: %s lies outside the %dx%d screenshot" % (sid, box, im.width, im.height))
            continue
        crop = im.crop(box)
        px = list(crop.getdata())
        ink = sum(1 for p in px if min(p) < 235) / len(px)
        colours = len(set(px))
        # A drawn chart has axes, text and coloured marks: some ink and many
        # distinct colours (anti-aliasing); a blank or failed area has
        # almost none. The empty state is text only.
        want_ink, want_colours = (0.003, 8) if r["empty"] else (0.02, 40)
        if ink < want_ink or colours < want_colours:
            errs.append("%s: blank in the screenshot (ink %.4f, %d colours)" % (sid, ink, colours))
        if not r["empty"]:
            # the marks are coloured (blue line and bars, orange forecasts,
            # green and red points); axes and text are grey
            vivid = sum(1 for p in px if max(p) - min(p) > 60)
            if vivid < 20:
                errs.append("%s: no coloured mark in the screenshot" % sid)
    fail(errs)


def netlog(path):
    """A request the page made is one whose initiator is an origin (a file://
    document's is "null") or whose network isolation key is the file://
    site; Chromium's own background requests carry "not an origin" and
    another key. Local files and data: URLs are not network requests and
    do not appear in the NetLog."""
    d = json.load(open(path))
    types = {v: k for k, v in d["constants"]["logEventTypes"].items()}
    errs = []
    seen = 0
    for e in d["events"]:
        t = types.get(e["type"])
        p = e.get("params") or {}
        if t not in ("URL_REQUEST_START_JOB", "CORS_REQUEST", "REQUEST_ALIVE") or "url" not in p:
            continue
        seen += 1
        url = p["url"]
        scheme = url.split(":", 1)[0]
        if scheme in ("file", "data", "chrome", "chrome-extension", "devtools", "about"):
            continue
        page = p.get("initiator", "not an origin") != "not an origin" or "file://" in p.get(
            "network_isolation_key", ""
        )
        if page:
            errs.append("%s: the page requested %s" % (path, url))
    fail(sorted(set(errs)))


class Fetchers(html.parser.HTMLParser):
    URL_ATTRS = {"src", "srcset", "poster", "data", "action", "formaction", "background",
                 "xlink:href", "ping", "manifest", "codebase", "archive", "longdesc", "cite"}
    BAD_TAGS = {"img", "iframe", "frame", "object", "embed", "link", "base", "audio", "video",
                "source", "track", "image", "use", "feimage", "input", "form", "portal"}
    CSS = re.compile(r"url\s*\(|@import|https?:|//|image-set|src\s*\(", re.I)

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.errs = []
        self.scripts = 0
        self.in_style = False

    def handle_starttag(self, tag, attrs):
        pos = "line %d" % self.getpos()[0]
        if tag in self.BAD_TAGS:
            self.errs.append("%s: <%s>" % (pos, tag))
        if tag == "script":
            a = dict(attrs)
            self.scripts += 1
            if a.get("type") != "application/json" or "src" in a:
                self.errs.append("%s: a script that runs" % pos)
        if tag == "style":
            self.in_style = True
        for k, v in attrs:
            v = v or ""
            if k in self.URL_ATTRS:
                self.errs.append("%s: %s=" % (pos, k))
            elif k == "href" and not v.startswith("#"):
                self.errs.append("%s: href=%s" % (pos, v))
            elif k.startswith("on"):
                self.errs.append("%s: %s handler" % (pos, k))
            elif k != "content" and self.CSS.search(v):
                self.errs.append("%s: %s=\"%s\"" % (pos, k, v))

    def handle_endtag(self, tag):
        if tag == "style":
            self.in_style = False

    def handle_data(self, data):
        if self.in_style and self.CSS.search(data):
            self.errs.append("line %d: the style sheet fetches: %s" % (self.getpos()[0], self.CSS.search(data).group(0)))


def static(path):
    text = open(path, encoding="utf-8").read()
    p = Fetchers()
    p.feed(text)
    errs = ["%s: %s" % (path, e) for e in p.errs]
    if p.scripts != 1:
        errs.append("%s: %d script elements, expected the evidence block alone" % (path, p.scripts))
    # The markup outside the evidence block (JSON data that nothing fetches)
    # names no URL scheme at all.
    head, _, rest = text.partition('<script type="application/json" id="resque-report">')
    markup = head + rest.partition("</script>")[2]
    for pat in ("src=", "url(", "@import", "http:", "https:", "srcset"):
        if pat in markup.lower():
            errs.append("%s: '%s' in the markup" % (path, pat))
    for m in re.finditer(r'href="([^"]*)"', markup):
        if not m.group(1).startswith("#"):
            errs.append("%s: href=\"%s\"" % (path, m.group(1)))
    fail(errs)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"inject": inject, "dom": dom, "shot": shot, "netlog": netlog, "static": static}[cmd](*args)
