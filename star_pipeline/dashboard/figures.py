"""The overview's and projects' charts as Plotly figure specifications (plain JSON: data and layout).

Plotly's JavaScript, served from the installed `plotly` package (never a CDN), draws them in the browser; the
numbers they show are also in each page's HTML, so a page reads without JavaScript. The Python side of plotly is
not imported here (it takes about a second to import): a figure is a dict, which the tests validate against
plotly's schema.
"""

from __future__ import annotations

# 20 distinguishable colours (a stacked day may hold many models; Plotly's default repeats after 10)
COLORWAY = ["#3b6fb6", "#e07b39", "#4e9a50", "#c0392b", "#8a5cc2", "#8c6d31", "#d6619c", "#6b6b6b", "#b5b82d",
            "#2aa8b8", "#9bb7e0", "#f2b27d", "#9fd39a", "#f09a94", "#c7afe0", "#c9a97a", "#f1b4d2", "#b5b5b5",
            "#dadc8b", "#93d3dc"]
LAYOUT = {
    "colorway": COLORWAY,
    "margin": {"l": 56, "r": 16, "t": 36, "b": 40}, "height": 300, "font": {"size": 12},
    "legend": {"orientation": "h", "y": -0.18}, "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
}


def _layout(title: str, **extra) -> dict:
    return {**LAYOUT, "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 14}}, **extra}


def per_day(data: dict, measure: str) -> dict:
    """Cost (USD) or tokens per day, one stacked bar trace per model or source."""
    key = "cost" if measure == "cost" else "tokens"
    traces = [{"type": "bar", "name": series["name"], "x": data["days"], "y": series[key],
               "hovertemplate": "%{x}<br>%{fullData.name}: " + ("$%{y:,.2f}" if key == "cost" else "%{y:,}") +
               "<extra></extra>"} for series in data["series"]]
    title = "Cost per day (USD)" if key == "cost" else "Tokens per day"
    return {"data": traces, "layout": _layout(title, barmode="stack", xaxis={"type": "date"},
                                              yaxis={"tickprefix": "$" if key == "cost" else ""})}


def weeks(week_days: dict) -> dict:
    """This week's cost day by day against last week's."""
    return {"data": [
        {"type": "bar", "name": "last week", "x": week_days["labels"], "y": week_days["last"], "marker": {"color": "#b8c4d6"},
         "hovertemplate": "%{x}: $%{y:,.2f}<extra>last week</extra>"},
        {"type": "bar", "name": "this week", "x": week_days["labels"], "y": week_days["this"], "marker": {"color": "#3b6fb6"},
         "hovertemplate": "%{x}: $%{y:,.2f}<extra>this week</extra>"},
    ], "layout": _layout("This week against last week (USD)", barmode="group", yaxis={"tickprefix": "$"})}


def top_projects(projects: list[dict]) -> dict:
    """The projects that cost most, as horizontal bars (the largest on top)."""
    ordered = list(reversed(projects))
    return {"data": [{"type": "bar", "orientation": "h", "x": [p["cost"] for p in ordered],
                      "y": [p["project"] for p in ordered], "marker": {"color": "#3b6fb6"},
                      "hovertemplate": "%{y}: $%{x:,.2f}<extra></extra>"}],
            "layout": _layout("Top projects by cost (USD)", xaxis={"tickprefix": "$"},
                              yaxis={"automargin": True}, height=max(200, 40 + 28 * len(projects)))}
