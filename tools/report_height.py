#!/usr/bin/env python3
"""Measures how tall a Borderline report.html is in headless Chromium and screenshots it full-page.

    python3 tools/report_height.py RUN/report.html [--width 1400] [--out shot.png] [--max-height 6000]

Prints the page height in CSS pixels at that window width (document.documentElement.scrollHeight
after every picture has loaded) and, with --out, writes a full-page screenshot of that size. With
--max-height it exits 1 when the page is taller. Development tool only (docs/report.md):
needs `chromium` (Debian: apt-get install chromium) and Pillow (pip install pillow) for the
screenshot's check; Borderline itself never runs it.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

MEASURE = """
<script>
window.addEventListener('load', function () {
  var h = Math.max(document.documentElement.scrollHeight, document.body.scrollHeight);
  var m = document.createElement('meta');
  m.setAttribute('name', 'borderline-page-height');
  m.setAttribute('content', String(h));
  document.head.appendChild(m);
});
</script>
"""


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("report_height.py: no chromium on PATH (Debian: apt-get install chromium)")


def run(browser, args):
    base = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--disable-dev-shm-usage", "--force-device-scale-factor=1", "--virtual-time-budget=10000"]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=300)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--out", help="full-page screenshot (PNG) to write")
    parser.add_argument("--max-height", type=int, help="exit 1 when the page is taller than this")
    a = parser.parse_args()
    if not os.path.isfile(a.report):
        sys.exit(f"report_height.py: {a.report}: no such file")
    browser = chromium()
    html = open(a.report, encoding="utf-8").read()
    with tempfile.TemporaryDirectory() as tmp:
        # A copy beside nothing else: the report is self-contained (pictures are data URIs).
        probe = os.path.join(tmp, "report.html")
        with open(probe, "w", encoding="utf-8") as f:
            f.write(html.replace("</body>", MEASURE + "</body>") if "</body>" in html else html + MEASURE)
        r = run(browser, [f"--window-size={a.width},1000", "--dump-dom", "file://" + probe])
        m = re.search(r'name="borderline-page-height" content="(\d+)"', r.stdout)
        if not m:
            sys.exit(f"report_height.py: chromium did not report the height (status {r.returncode}): {r.stderr[-800:]}")
        height = int(m.group(1))
        if a.out:
            out = os.path.abspath(a.out)
            r = run(browser, [f"--window-size={a.width},{height}", f"--screenshot={out}", "file://" + os.path.abspath(a.report)])
            if not os.path.isfile(out):
                sys.exit(f"report_height.py: no screenshot written (status {r.returncode}): {r.stderr[-800:]}")
            try:
                from PIL import Image
                with Image.open(out) as image:
                    if image.size != (a.width, height):
                        print(f"warning: screenshot is {image.size[0]}×{image.size[1]}, expected {a.width}×{height}", file=sys.stderr)
            except ImportError:
                print("warning: Pillow is not installed; the screenshot's size was not checked", file=sys.stderr)
    print(height)
    if a.max_height is not None and height > a.max_height:
        print(f"report is {height} px tall at {a.width} px wide, more than {a.max_height}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
