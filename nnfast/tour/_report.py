"""The tour's reports: ``index.html`` (self-contained, offline), ``report.md`` and ``summary.json``."""
import datetime
import html
import json
import os

__all__ = ["write_reports"]

_CSS = """
:root { --ink: #1f2933; --muted: #52606d; --line: #d9e2ec; --accent: #0b5cad;
        --card: #ffffff; --page: #f3f5f8; --good: #1d7a46; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--page); color: var(--ink);
       font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
             sans-serif; }
header { background: #12324f; color: #fff; padding: 28px 0 22px; }
header h1 { margin: 0 0 4px; font-size: 30px; letter-spacing: 0.2px; }
header p { margin: 0; color: #cfe0f1; }
.wrap { max-width: 1120px; margin: 0 auto; padding: 0 20px; }
main { padding: 22px 0 40px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
        padding: 20px 24px; margin: 0 0 22px; box-shadow: 0 1px 3px rgba(16, 42, 67, 0.06); }
.card h2 { margin: 0 0 8px; font-size: 22px; color: #102a43; }
.card h3 { margin: 18px 0 6px; font-size: 16px; color: #243b53; }
.lead { color: var(--muted); margin: 0 0 12px; }
.summary-line { font-weight: 600; color: var(--good); margin: 0 0 12px; }
nav ol { margin: 6px 0 0; padding-left: 22px; columns: 2; }
nav a, table a { color: var(--accent); text-decoration: none; }
nav a:hover, table a:hover { text-decoration: underline; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 4px; font-size: 14px; }
th, td { border-bottom: 1px solid var(--line); padding: 6px 10px; text-align: left;
         vertical-align: top; }
th { background: #f0f4f8; color: #243b53; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:hover td { background: #fafcfe; }
.table-wrap { overflow-x: auto; }
.note { color: var(--muted); font-size: 13px; margin: 2px 0 10px; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr));
           gap: 18px; margin: 14px 0 6px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 10px;
         background: #fff; }
figure.wide { grid-column: 1 / -1; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figure.wide img { max-height: 880px; width: auto; }
figcaption { color: var(--muted); font-size: 13.5px; margin-top: 8px; }
code { font: 13.5px ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono",
       monospace; background: #eef2f6; padding: 1px 5px; border-radius: 4px; }
.took { color: var(--muted); font-size: 13px; text-align: right; margin: 8px 0 0; }
footer { color: var(--muted); font-size: 13px; padding: 0 0 30px; }
@media (max-width: 640px) { .figures { grid-template-columns: 1fr; } nav ol { columns: 1; } }
"""

_MODE = {True: "quick mode", False: "full tour"}


def _esc(text):
    return html.escape(str(text), quote=True)


def _is_number(cell):
    if cell == "-":  # a missing value in a column of numbers
        return True
    text = cell.replace(",", "").replace("%", "").replace(" / ", "").strip()
    try:
        float(text)
    except ValueError:
        return False
    return True


def _html_table(columns, rows):
    numeric = [all(_is_number(row[c]) for row in rows) for c in range(len(columns))]
    head = "".join(f'<th class="num">{_esc(c)}</th>' if n else f"<th>{_esc(c)}</th>"
                   for c, n in zip(columns, numeric))
    body = "".join("<tr>" + "".join(f'<td class="num">{_esc(v)}</td>' if n else f"<td>{_esc(v)}</td>"
                                    for v, n in zip(row, numeric)) + "</tr>" for row in rows)
    return (f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _figure_is_wide(path):
    from PIL import Image  # a dependency of matplotlib

    with Image.open(path) as img:
        width, height = img.size
    return width > 1.9 * height or width > 1000


def _layout(figures, out_dir):
    """Which figures take the page's whole width: the wide ones, and any left alone in a row.

    The others go two to a row; a figure that would sit alone beside an
    empty half (the last of an odd run) spans the row instead.
    """
    wide = [f.wide if f.wide is not None else _figure_is_wide(os.path.join(out_dir, f.file))
            for f in figures]
    run = 0
    for i, full_width in enumerate(wide + [True]):
        if full_width:
            if run % 2:
                wide[i - 1] = True
            run = 0
        else:
            run += 1
    return wide


def _subtitle(tour, data):
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"{data.title[0].upper() + data.title[1:]}, {_MODE[tour.quick]}; "
            f"{tour.seconds:.0f} s on {tour.machine['cpu']} ({tour.machine['cores']} cores, "
            f"{tour.machine['nnfast threads']} nnfast threads, load average "
            f"{tour.machine['load average'].split()[0]}); {stamp}")


def _html(tour, data):
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>nnfast tour</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
             '<header><div class="wrap"><h1>nnfast tour</h1>',
             f"<p>{_esc(_subtitle(tour, data))}</p></div></header>", '<main class="wrap">']
    rows = "".join(
        f'<tr><td><a href="#{_esc(s.key)}">{_esc(s.title)}</a></td><td>{_esc(s.summary)}</td>'
        f'<td class="num">{s.seconds:.1f} s</td></tr>' for s in tour.sections)
    parts.append(
        '<section class="card" id="summary"><h2>Summary</h2>'
        f'<p class="lead">Every exercise below ran in this tour on {_esc(data.source)} '
        "(the perceptron and the small MLP exercises use their own synthetic data). "
        "Figures and numbers are from this run.</p>"
        '<div class="table-wrap"><table><thead><tr><th>section</th><th>result</th>'
        f'<th class="num">time</th></tr></thead><tbody>{rows}'
        f'<tr><td><b>whole tour</b></td><td></td><td class="num"><b>{tour.seconds:.1f} s</b>'
        "</td></tr></tbody></table></div>")
    toc = "".join(f'<li><a href="#{_esc(s.key)}">{_esc(s.title)}</a></li>' for s in tour.sections)
    parts.append(f'<nav><h3>Contents</h3><ol>{toc}<li><a href="#machine">The machine and '
                 "software</a></li></ol></nav></section>")
    for s in tour.sections:
        parts.append(f'<section class="card" id="{_esc(s.key)}"><h2>{_esc(s.title)}</h2>')
        parts.append(f'<p class="lead">{_esc(s.intro)}</p>')
        parts.append(f'<p class="summary-line">{_esc(s.summary)}</p>')
        if s.figures:
            parts.append('<div class="figures">')
            wide = _layout(s.figures, tour.out_dir)
            for f, full_width in zip(s.figures, wide):
                parts.append(('<figure class="wide">' if full_width else "<figure>")
                             + f'<img src="{_esc(f.file)}" alt="{_esc(f.caption)}" loading="lazy">'
                             f"<figcaption>{_esc(f.caption)}</figcaption></figure>")
            parts.append("</div>")
        for t in s.tables:
            parts.append(f"<h3>{_esc(t.title)}</h3>{_html_table(t.columns, t.rows)}")
            if t.note:
                parts.append(f'<p class="note">{_esc(t.note)}</p>')
        if s.files:
            links = ", ".join(f'<a href="{_esc(name)}">{_esc(name)}</a>' for name in s.files)
            parts.append(f'<p class="note">Data: {links}</p>')
        for note in s.notes:
            parts.append(f"<p>{_esc(note)}</p>")
        parts.append(f'<p class="took">{_esc(s.key)}: {s.seconds:.1f} s</p></section>')
    machine_rows = [[k, v] for k, v in tour.machine.items()]
    command = _command(tour)
    parts.append('<section class="card" id="machine"><h2>The machine and software</h2>'
                 + _html_table(["", ""], machine_rows)
                 + f'<p class="note">To run this tour again: <code>{_esc(command)}</code></p>'
                 "</section>")
    parts.append("</main>")
    parts.append('<footer class="wrap">Written by nnfast tour. Every figure is a PNG in this '
                 'folder; the numbers are also in <a href="report.md">report.md</a> and '
                 '<a href="summary.json">summary.json</a>.</footer>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _command(tour):
    words = ["nnfast", "tour"]
    if tour.dataset != "sample":
        words += ["--dataset", tour.dataset]
    if tour.quick:
        words.append("--quick")
    return " ".join(words)


def _md_cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(columns, rows):
    numeric = [all(_is_number(row[c]) for row in rows) for c in range(len(columns))]
    lines = ["| " + " | ".join(_md_cell(c) for c in columns) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in rows]
    return lines


def _markdown(tour, data):
    lines = ["# nnfast tour", "", _subtitle(tour, data), "", "## Summary", ""]
    lines += _md_table(["section", "result", "seconds"],
                       [[f"[{s.title}](#{s.key})", s.summary, f"{s.seconds:.1f}"]
                        for s in tour.sections] + [["whole tour", "", f"{tour.seconds:.1f}"]])
    lines.append("")
    for s in tour.sections:
        lines += [f'<a id="{s.key}"></a>', "", f"## {s.title}", "", s.intro, "",
                  f"**{s.summary}** ({s.seconds:.1f} s)", ""]
        for t in s.tables:
            lines += [f"### {t.title}", ""] + _md_table(t.columns, t.rows) + [""]
            if t.note:
                lines += [f"_{t.note}_", ""]
        if s.files:
            lines += ["Data: " + ", ".join(f"[{name}]({name})" for name in s.files), ""]
        for note in s.notes:
            lines += [note, ""]
        for f in s.figures:
            lines += [f"![{_md_cell(f.caption)}]({f.file})", "", f"_{f.caption}_", ""]
    lines += ["## The machine and software", ""]
    lines += _md_table(["", ""], [[k, v] for k, v in tour.machine.items()])
    lines += ["", f"To run this tour again: `{_command(tour)}`", ""]
    return "\n".join(lines)


def _summary(tour):
    return {
        "dataset": tour.dataset, "quick": tour.quick, "seconds": round(tour.seconds, 3),
        "machine": tour.machine, "left_out": tour.left_out,
        "sections": {s.key: {"title": s.title, "summary": s.summary,
                             "seconds": round(s.seconds, 3), "numbers": s.numbers,
                             "figures": [f.file for f in s.figures], "files": s.files}
                     for s in tour.sections},
    }


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def write_reports(tour, data):
    """Write ``index.html``, ``report.md`` and ``summary.json`` into ``tour.out_dir``.

    Parameters
    ----------
    tour : TourResult
        The finished tour (sections, timings, machine).
    data : TourData
        The data set it ran on.

    Returns
    -------
    list of str
        Every file of the tour, relative to the output folder: the figures,
        the sections' data files, then the three reports.
    """
    outputs = {"index.html": _html(tour, data), "report.md": _markdown(tour, data),
               "summary.json": json.dumps(_summary(tour), indent=2, default=_json_default) + "\n"}
    for name, text in outputs.items():
        with open(os.path.join(tour.out_dir, name), "w", encoding="utf-8") as f:
            f.write(text)
    return ([f.file for s in tour.sections for f in s.figures]
            + [name for s in tour.sections for name in s.files] + list(outputs))
