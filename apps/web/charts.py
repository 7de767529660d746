"""Acknowledgements over time as a small inline SVG, drawn on the server (no chart library)."""

from datetime import datetime

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 600, 200, 44, 12, 12, 28


def ack_chart_svg(
    series: list[tuple[datetime, int]], *, total: int, start: datetime, end: datetime | None = None
) -> str:
    """A step line of the cumulative number of people who acknowledged, against the total.
    `series`: (minute, people acknowledging in it), oldest first."""
    end = end or timezone.now()
    span = max((end - start).total_seconds(), 60.0)
    done = sum(n for _t, n in series)
    top = max(total, done, 1)

    def x(t):
        return PAD_L + (W - PAD_L - PAD_R) * min(max((t - start).total_seconds() / span, 0.0), 1.0)

    def y(n):
        return PAD_T + (H - PAD_T - PAD_B) * (1 - n / top)

    points = [(x(start), y(0))]
    cumulative = 0
    for t, n in series:
        cumulative += n
        points.append((x(t), points[-1][1]))
        points.append((x(t), y(cumulative)))
    points.append((x(end), points[-1][1]))
    # At most a few hundred vertices: thin out very long series, keeping the last point exact.
    if len(points) > 600:
        step = len(points) // 600 + 1
        points = [*points[::step], points[-1]]
    poly = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
    label = _("%(done)s of %(total)s people acknowledged") % {"done": done, "total": total}
    ticks = format_html_join(
        "",
        '<text x="{}" y="{}" font-size="11" text-anchor="{}">{}</text>',
        [
            (PAD_L, H - 8, "start", date_format(timezone.localtime(start), "H:i")),
            (W - PAD_R, H - 8, "end", date_format(timezone.localtime(end), "H:i")),
        ],
    )
    return format_html(
        '<svg viewBox="0 0 {w} {h}" role="img" aria-label="{label}" xmlns="http://www.w3.org/2000/svg">'
        "<title>{label}</title>"
        '<rect x="{pl}" y="{pt}" width="{iw}" height="{ih}" fill="#f7f7f7" stroke="#999"/>'
        '<line x1="{pl}" x2="{xr}" y1="{ytot}" y2="{ytot}" stroke="#4a4a4a" stroke-dasharray="4 3"/>'
        '<text x="{tx}" y="{tyt}" font-size="11" text-anchor="end">{total}</text>'
        '<text x="{tx}" y="{ty0}" font-size="11" text-anchor="end">0</text>'
        '<polyline points="{poly}" fill="none" stroke="#0a6b2d" stroke-width="2.5"/>'
        "{ticks}</svg>",
        w=W,
        h=H,
        label=label,
        pl=PAD_L,
        pt=PAD_T,
        iw=W - PAD_L - PAD_R,
        ih=H - PAD_T - PAD_B,
        xr=W - PAD_R,
        ytot=f"{y(total):.1f}",
        tx=PAD_L - 6,
        tyt=f"{y(total) + 4:.1f}",
        ty0=f"{y(0) + 4:.1f}",
        total=total,
        poly=poly,
        ticks=ticks,
    )
