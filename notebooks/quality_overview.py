"""Meeting quality overview: how often meetings have audio / video / screen-share problems, and where.

Reads the published serving snapshot (``pipelines.paths.serving_path()``, ``MW_SERVING``) read-only.
Run: ``python notebooks/quality_overview.py`` | ``marimo edit notebooks/quality_overview.py`` |
``make report`` (static HTML in ``reports/``).
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Meeting quality overview")


@app.cell
def _():
    import altair as alt
    import marimo as mo
    import polars as pl

    from pipelines.report import checked, serving_file, snapshot_or_stop, table_exists

    return alt, checked, mo, pl, serving_file, snapshot_or_stop, table_exists


@app.cell
def _(mo, snapshot_or_stop, table_exists):
    con, q = snapshot_or_stop(mo)

    # when the snapshot was published (publish_snapshot writes main.snapshot_info)
    published_at = (
        q("select max(published_at) from main.snapshot_info").item()
        if table_exists(con, "main", "snapshot_info")
        else None
    )
    return published_at, q


@app.cell
def _(mo, published_at, q, serving_file):
    overview = q(
        """
        select
            count(*) as meetings,
            min(started_at)::date as first_day,
            max(started_at)::date as last_day,
            count(distinct host_user_id) as hosts,
            sum(qos_minutes)::bigint as qos_minutes,
            avg((has_audio_issue or has_video_issue or has_share_issue)::int) as any_issue_share
        from analytics.fct_meetings
        """
    ).row(0, named=True)
    mo.md(
        f"""
        # Meeting quality overview

        Snapshot `{serving_file()}`{f", published {published_at:%Y-%m-%d %H:%M} UTC" if published_at else ""}.
        **{overview["meetings"]:,} meetings** by {overview["hosts"]} hosts from {overview["first_day"]}
        to {overview["last_day"]}, {overview["qos_minutes"] or 0:,} participant-minutes with QoS samples.
        **{(overview["any_issue_share"] or 0):.0%}** of the meetings had an audio, video or screen-share issue.

        A meeting *has an issue* of a kind when one of that kind's metrics (latency, jitter, packet loss,
        frame rate; CPU for `cpu`) crosses its threshold in more than the share of measured
        participant-minutes set by the dbt variable `quality_issue_share` (default 10 %). Thresholds
        come from the dbt seed `qos_thresholds` (table below).
        """
    )
    return (overview,)


@app.cell
def _(mo, overview):
    mo.stop(
        not overview["meetings"],
        mo.callout(mo.md("The snapshot holds no meetings yet: nothing to plot."), kind="info"),
    )
    return


@app.cell
def _(alt, checked, pl, q):
    # Grain: days for up to ~3 months of meetings, weeks beyond.
    _span = q("select date_diff('day', min(started_at), max(started_at)) from analytics.fct_meetings").item()
    grain = "day" if (_span or 0) <= 92 else "week"
    _daily = q(
        f"""
        select
            date_trunc('{grain}', started_at)::date as period,
            count(*) as meetings,
            avg(has_audio_issue::int) as audio,
            avg(has_video_issue::int) as video,
            avg(has_share_issue::int) as share,
            avg(has_cpu_issue::int) as cpu,
            avg((has_audio_issue or has_video_issue or has_share_issue)::int) as "any (a/v/share)"
        from analytics.fct_meetings
        group by 1
        order by 1
        """
    )
    issues_over_time = _daily.unpivot(
        index=["period", "meetings"], variable_name="issue", value_name="share_of_meetings"
    ).with_columns(pl.col("period").cast(pl.Utf8))
    _base = alt.Chart(issues_over_time).encode(
        x=alt.X("period:T", title=grain.capitalize()),
        y=alt.Y("share_of_meetings:Q", title="Share of meetings with the issue", axis=alt.Axis(format="%")),
        color=alt.Color("issue:N", title="Issue", sort=["any (a/v/share)", "audio", "video", "share", "cpu"]),
        tooltip=[
            alt.Tooltip("period:T", title=grain),
            "issue:N",
            alt.Tooltip("share_of_meetings:Q", format=".0%", title="share"),
            alt.Tooltip("meetings:Q", title="meetings"),
        ],
    )
    issues_chart = (_base.mark_line() + _base.mark_point(filled=True, size=40)).properties(
        width=640, height=280, title=f"Share of meetings with quality issues, per {grain}"
    )
    checked(issues_chart)
    return (issues_over_time,)


@app.cell
def _(mo):
    mo.md(
        """
        ## Worst hosts

        Hosts with at least 3 meetings, ranked by the share of their meetings with an audio, video or
        screen-share issue. A host's meetings suffer from their participants' networks too: read this as
        *where to look*, not as blame.
        """
    )
    return


@app.cell
def _(alt, checked, q):
    hosts = q(
        """
        select
            coalesce(host_name, host_user_id, host_zoom_user_id, 'unknown host')
                || coalesce(' (' || host_dept || ')', '') as host,
            count(*) as meetings,
            avg((has_audio_issue or has_video_issue or has_share_issue)::int) as any_issue,
            avg(has_audio_issue::int) as audio,
            avg(has_video_issue::int) as video,
            avg(has_share_issue::int) as share,
            avg(has_cpu_issue::int) as cpu
        from analytics.fct_meetings
        group by 1
        having count(*) >= 3
        order by any_issue desc, meetings desc, host
        limit 15
        """
    )
    _long = hosts.unpivot(
        index=["host", "meetings", "any_issue"], variable_name="issue", value_name="share_of_meetings"
    )
    _order = hosts["host"].to_list()
    _heat = alt.Chart(_long).encode(
        x=alt.X("issue:N", title=None, sort=["audio", "video", "share", "cpu"]),
        y=alt.Y("host:N", sort=_order, title=None, axis=alt.Axis(labelLimit=260)),
    )
    _bars = (
        alt.Chart(hosts)
        .mark_bar()
        .encode(
            x=alt.X("any_issue:Q", title="Meetings with any a/v/share issue", axis=alt.Axis(format="%")),
            y=alt.Y("host:N", sort=_order, title=None, axis=alt.Axis(labelLimit=260)),
            color=alt.Color("any_issue:Q", scale=alt.Scale(scheme="orangered"), legend=None),
            tooltip=["host:N", "meetings:Q", alt.Tooltip("any_issue:Q", format=".0%")],
        )
        .properties(width=300, height=alt.Step(18), title="Worst hosts")
    )
    _cells = _heat.mark_rect().encode(
        color=alt.Color(
            "share_of_meetings:Q",
            title="Share",
            scale=alt.Scale(scheme="orangered"),
            legend=alt.Legend(format="%"),
        ),
        tooltip=["host:N", "issue:N", alt.Tooltip("share_of_meetings:Q", format=".0%"), "meetings:Q"],
    ) + _heat.mark_text(fontSize=10).encode(text=alt.Text("share_of_meetings:Q", format=".0%"))
    hosts_chart = alt.hconcat(
        _bars, _cells.properties(width=220, height=alt.Step(18), title="By kind of issue")
    ).resolve_scale(color="independent")
    checked(hosts_chart)
    return (hosts,)


@app.cell
def _(mo):
    mo.md(
        """
        ## Worst courses

        Meetings MEETS scheduled for an LMS course (`meets_course_id`), per course, with at least 3 meetings.
        """
    )
    return


@app.cell
def _(alt, checked, mo, q):
    courses = q(
        """
        select
            coalesce(c.course_name, 'course ' || m.meets_course_id::varchar)
                || coalesce(' [' || c.platform_type || ']', '') as course,
            count(*) as meetings,
            avg((m.has_audio_issue or m.has_video_issue or m.has_share_issue)::int) as any_issue,
            avg(m.has_audio_issue::int) as audio,
            avg(m.has_video_issue::int) as video,
            avg(m.has_share_issue::int) as share,
            sum(m.distinct_people)::bigint as attendees
        from analytics.fct_meetings as m
        left join analytics.dim_courses as c on m.meets_course_id = c.meets_course_id
        where m.meets_course_id is not null
        group by 1
        having count(*) >= 3
        order by any_issue desc, meetings desc, course
        limit 15
        """
    )
    if courses.height:
        _long = courses.unpivot(
            index=["course", "meetings", "any_issue", "attendees"],
            variable_name="issue",
            value_name="share_of_meetings",
        )
        courses_view = checked(
            alt.Chart(_long)
            .mark_bar()
            .encode(
                y=alt.Y(
                    "course:N", sort=courses["course"].to_list(), title=None, axis=alt.Axis(labelLimit=320)
                ),
                x=alt.X(
                    "share_of_meetings:Q", title="Share of the course's meetings", axis=alt.Axis(format="%")
                ),
                yOffset=alt.YOffset("issue:N", sort=["audio", "video", "share"]),
                color=alt.Color("issue:N", title="Issue", sort=["audio", "video", "share"]),
                tooltip=[
                    "course:N",
                    "issue:N",
                    alt.Tooltip("share_of_meetings:Q", format=".0%"),
                    "meetings:Q",
                ],
            )
            .properties(width=520, height=alt.Step(8), title="Worst courses (audio / video / share issues)")
        )
    else:
        courses_view = mo.callout(
            mo.md("No meeting is linked to a MEETS course in this snapshot."), kind="info"
        )
    mo.vstack([courses_view])
    return (courses,)


@app.cell
def _(mo):
    mo.md(
        """
        ## Violation proportions by metric

        For each metric, the share of measured participant-minutes that crossed the threshold: pooled
        over all meetings (bars), and how it spreads across meetings (box: quartiles, whiskers: 10th
        and 90th percentile, tick: the worst meeting).
        """
    )
    return


@app.cell
def _(alt, checked, q):
    metrics = q(
        """
        select
            stream_kind,
            metric,
            any_value(unit) as unit,
            any_value(threshold_comparator) || ' ' || any_value(threshold_value)::varchar as threshold,
            sum(violating_minutes) / nullif(sum(measured_minutes), 0) as pooled_proportion,
            quantile_cont(violating_proportion, 0.10) as p10,
            quantile_cont(violating_proportion, 0.25) as p25,
            quantile_cont(violating_proportion, 0.50) as median,
            quantile_cont(violating_proportion, 0.75) as p75,
            quantile_cont(violating_proportion, 0.90) as p90,
            max(violating_proportion) as worst,
            count(violating_proportion) as meetings,
            count(*) filter (where is_issue) as meetings_with_issue
        from analytics.fct_meeting_quality
        where level = 'kind' and threshold_comparator is not null
        group by 1, 2
        order by 1, 2
        """
    )
    _kinds = ["audio", "video", "share", "cpu"]
    _pooled = (
        alt.Chart(metrics)
        .mark_bar()
        .encode(
            x=alt.X("metric:N", title=None),
            xOffset=alt.XOffset("stream_kind:N", sort=_kinds),
            y=alt.Y("pooled_proportion:Q", title="Violating share of minutes", axis=alt.Axis(format="%")),
            color=alt.Color("stream_kind:N", title="Stream", sort=_kinds),
            tooltip=[
                "stream_kind:N",
                "metric:N",
                "threshold:N",
                alt.Tooltip("pooled_proportion:Q", format=".1%"),
                "meetings_with_issue:Q",
            ],
        )
        .properties(width=420, height=260, title="Pooled over all meetings")
    )
    _spread_base = alt.Chart(metrics).encode(
        y=alt.Y("stream_kind:N", title=None, sort=_kinds, scale=alt.Scale(paddingInner=0.3)),
        color=alt.Color("stream_kind:N", sort=_kinds, legend=None),
    )
    _spread = (
        (
            _spread_base.mark_rule().encode(
                x=alt.X("p10:Q", title="Per-meeting violating share", axis=alt.Axis(format="%")), x2="p90:Q"
            )
            + _spread_base.mark_bar(height={"band": 0.6}).encode(x="p25:Q", x2="p75:Q")
            + _spread_base.mark_tick(color="black", thickness=2, size=12).encode(x="median:Q")
            + _spread_base.mark_tick(color="firebrick", size=10).encode(
                x="worst:Q",
                tooltip=[
                    "stream_kind:N",
                    "metric:N",
                    alt.Tooltip("median:Q", format=".1%"),
                    alt.Tooltip("p90:Q", format=".1%"),
                    alt.Tooltip("worst:Q", format=".1%"),
                ],
            )
        )
        .properties(width=260, height=alt.Step(16))
        .facet(row=alt.Row("metric:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")))
        .resolve_scale(y="independent")
    )
    metrics_chart = alt.hconcat(_pooled, _spread.properties(title="Spread across meetings"))
    checked(metrics_chart)
    return (metrics,)


@app.cell
def _(metrics, mo, pl):
    mo.vstack(
        [
            mo.md("Thresholds and the numbers behind the charts:"),
            mo.ui.table(
                metrics.select(
                    "stream_kind",
                    "metric",
                    "unit",
                    "threshold",
                    pl.col("pooled_proportion").round(4),
                    pl.col("median").round(4),
                    pl.col("p90").round(4),
                    pl.col("worst").round(4),
                    "meetings_with_issue",
                ),
                selection=None,
                page_size=20,
            ),
        ]
    )
    return


@app.cell
def _(mo, q):
    worst_meetings = q(
        """
        select
            started_at,
            topic,
            host_name,
            distinct_people as people,
            round(audio_worst_violating_proportion, 3) as audio_worst,
            round(video_worst_violating_proportion, 3) as video_worst,
            round(share_worst_violating_proportion, 3) as share_worst,
            zoom_audio_quality,
            meeting_uuid
        from analytics.fct_meetings
        order by greatest(
            coalesce(audio_worst_violating_proportion, 0),
            coalesce(video_worst_violating_proportion, 0),
            coalesce(share_worst_violating_proportion, 0)
        ) desc, started_at desc
        limit 10
        """
    )
    mo.vstack(
        [
            mo.md(
                "## The 10 worst meetings\n\nBy their worst metric's violating share (join "
                "`analytics.fct_meeting_quality` on `meeting_uuid` for the detail)."
            ),
            mo.ui.table(worst_meetings, selection=None),
        ]
    )
    return


if __name__ == "__main__":
    app.run()
