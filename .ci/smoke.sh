#!/usr/bin/env bash
# Smoke test of the main job as a user runs it: a real article served on 127.0.0.1, a report citing it
# de-fanged, `archiver run` from the README's venv; then the archived text must be the article's, and
# every record of the archive and of its WARC export must read with warcio.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/site/news" "$work/reports"
cp tests/pages/article.html "$work/site/news/mishustin.html"
port=$("$bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$work/site" && exec "$OLDPWD/$bin/python" -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
server=$!
for _ in $(seq 50); do
    "$bin/python" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
    sleep 0.1
done
printf 'Smoke report\n\nSeptember 3, 2020\n\nThe Prime Minister spoke of progress.[1]\n\n[1] http://127(.)0(.)0(.)1:%s/news/mishustin.html;\n' \
    "$port" > "$work/reports/smoke.txt"

"$bin/archiver" run "$work/reports/smoke.txt" --archive "$work/archive" --allow-private --delay 0 --json > "$work/run.json"
"$bin/archiver" check smoke 1 --json --archive "$work/archive" > "$work/check.json"
"$bin/archiver" export --format warc --output "$work/export.warc.gz" --archive "$work/archive"
"$bin/python" - "$work" <<'PY'
import json, sys
from pathlib import Path
from warcio.archiveiterator import ArchiveIterator

work = Path(sys.argv[1])
run = json.loads((work / "run.json").read_text())
assert run["status"] == "completed" and run["this_run"] == {"ok": 1}, run
link = json.loads((work / "check.json").read_text())["urls"][0]
text = link["archived_text"] or ""
assert link["verdict"] == "ok", link
assert "Председатель правительства России Михаил Мишустин заявил в Минске" in text, text
assert "Подпишитесь на нашу рассылку" not in text, "boilerplate in the main text"
responses = 0
for path in [*sorted((work / "archive" / "warc").glob("*.warc.gz")), work / "export.warc.gz"]:
    with path.open("rb") as stream:
        for record in ArchiveIterator(stream):
            body = record.content_stream().read()
            if record.rec_type == "response":
                responses += 1
                assert "Мишустин".encode() in body
assert responses == 2, responses
print(f"smoke: archived {len(text)} characters of the article's main text; {responses} WARC responses read")
PY
"$bin/warcio" check "$work"/archive/warc/*.warc.gz "$work/export.warc.gz"
echo "smoke: warcio check passed"
