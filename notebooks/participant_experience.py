"""Participant experience: devices, networks and locations against call quality, drops and rejoins.

Reads the published serving snapshot (``pipelines.paths.serving_path()``, ``MW_SERVING``) read-only.
Run: ``python notebooks/participant_experience.py`` | ``marimo edit notebooks/participant_experience.py`` |
``make report`` (static HTML in ``reports/``).
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Participant experience")


@app.cell
def _():
    import altair as alt
    import marimo as mo
    import polars as pl

    from pipelines.report import checked, snapshot_or_stop

    return alt, checked, mo, pl, snapshot_or_stop


@app.cell
def _(mo, snapshot_or_stop):
    con, q = snapshot_or_stop(mo)

    return con, q


@app.cell
def _(con, q):
    # Per Zoom session: QoS minutes, minutes with an audio/video/share violation, minutes over the CPU
    # threshold; and the session's place among the person's sessions in the meeting (rejoins).
    # The violation flags are found by name (is_<metric>_violation) so new metrics join in by themselves.
    _flags = [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_catalog = 'serving' "
            "and table_schema = 'analytics' and table_name = 'fct_qos_minutes' "
            "and column_name like 'is\\_%\\_violation' escape '\\' order by ordinal_position"
        ).fetchall()
    ]
    _av = " or ".join(f"{f}" for f in _flags if f != "is_cpu_usage_violation") or "false"
    _cpu = "is_cpu_usage_violation" if "is_cpu_usage_violation" in _flags else "false"
    con.execute(
        f"""
        create or replace temp view session_experience as
        with minutes as (
            select
                meeting_uuid,
                participant_id,
                minute_at,
                coalesce(bool_or(stream_kind in ('audio', 'video', 'share') and coalesce({_av}, false)), false)
                    as is_bad,
                coalesce(bool_or(stream_kind = 'cpu' and coalesce({_cpu}, false)), false) as is_cpu_high
            from analytics.fct_qos_minutes
            group by all
        ),
        per_session as (
            select
                meeting_uuid,
                participant_id,
                count(*) as qos_minutes,
                count(*) filter (where is_bad) as bad_minutes,
                count(*) filter (where is_cpu_high) as cpu_high_minutes
            from minutes
            group by all
        )
        select
            s.meeting_uuid,
            s.participant_id,
            s.person_key,
            s.joined_at,
            coalesce(s.device, 'unknown') as device,
            coalesce(s.os, 'unknown') as os,
            coalesce(s.client, 'unknown') as client,
            coalesce(s.network_type, 'unknown') as network_type,
            coalesce(s.connection_type, 'unknown') as connection_type,
            coalesce(s.location, 'unknown') as location,
            coalesce(s.data_center, 'unknown') as data_center,
            coalesce(s.is_dropped, false) as is_dropped,
            s.duration_seconds,
            coalesce(p.qos_minutes, 0) as qos_minutes,
            coalesce(p.bad_minutes, 0) as bad_minutes,
            coalesce(p.cpu_high_minutes, 0) as cpu_high_minutes,
            row_number() over (partition by s.meeting_uuid, s.person_key order by s.joined_at, s.participant_id)
                as session_no,
            count(*) over (partition by s.meeting_uuid, s.person_key) as person_sessions
        from analytics.fct_participant_sessions as s
        left join per_session as p
            on s.meeting_uuid = p.meeting_uuid and s.participant_id = p.participant_id
        where s.source = 'zoom'
        """
    )
    totals = q(
        """
        select
            count(*) as sessions,
            count(distinct meeting_uuid) as meetings,
            count(distinct person_key) as people,
            count(*) filter (where session_no = 1) as attendances,
            count(*) filter (where session_no = 1 and person_sessions > 1) as rejoined,
            sum(is_dropped::int)::bigint as dropped,
            sum(qos_minutes)::bigint as qos_minutes,
            sum(bad_minutes)::bigint as bad_minutes
        from session_experience
        """
    ).row(0, named=True)
    experience = "session_experience"  # the temp view above; cells that query it depend on this name
    return experience, totals


@app.cell
def _(mo, totals):
    _att = totals["attendances"] or 0
    mo.md(
        f"""
        # Participant experience

        **{totals["sessions"]:,} Zoom sessions** (each join/leave is one) of {totals["people"]:,} people
        in {totals["meetings"]:,} meetings. {totals["rejoined"]:,} of {_att:,} attendances
        (a person in a meeting) needed more than one session:
        a **rejoin rate of {(totals["rejoined"] / _att if _att else 0):.1%}**;
        {totals["dropped"] or 0:,} sessions ended by a connection problem (Zoom's leave reason).
        {(totals["bad_minutes"] or 0) / (totals["qos_minutes"] or 1):.1%} of the
        {totals["qos_minutes"] or 0:,} participant-minutes with QoS samples had an audio, video or
        screen-share metric over its threshold (*bad minutes*).

        Device, network and location are Zoom's, per session. MEETS attendance reports the same
        sessions again for the meetings it scheduled, so only Zoom's rows are counted here.
        """
    )
    return


@app.cell
def _(mo, totals):
    mo.stop(
        not totals["sessions"],
        mo.callout(mo.md("The snapshot holds no participant sessions yet: nothing to plot."), kind="info"),
    )
    return


@app.cell
def _(alt, experience, q):
    def by_dimension(dim, limit=12):
        """Sessions, bad-minute share, drop rate and rejoin rate per value of ``dim`` (top by sessions)."""
        return q(
            f"""
            select
                {dim} as value,
                count(*) as sessions,
                sum(bad_minutes) / nullif(sum(qos_minutes), 0) as bad_minute_share,
                avg(is_dropped::int) as dropped_share,
                count(*) filter (where session_no = 1 and person_sessions > 1)
                    / nullif(count(*) filter (where session_no = 1), 0) as rejoin_rate,
                sum(cpu_high_minutes) / nullif(sum(qos_minutes), 0) as cpu_high_share
            from {experience}
            group by 1
            order by sessions desc, value
            limit {int(limit)}
            """
        )

    _MEASURES = [
        ("bad_minute_share", "Bad minutes (a/v/share)", "reds"),
        ("dropped_share", "Sessions dropped", "oranges"),
        ("rejoin_rate", "Attendances with a rejoin", "purples"),
    ]

    def dimension_chart(dim, title, limit=12):
        """One row of bars per value of ``dim``, one panel per measure."""
        data = by_dimension(dim, limit)
        order = data.sort("bad_minute_share", descending=True, nulls_last=True)["value"].to_list()
        panels = []
        for i, (field, label, scheme) in enumerate(_MEASURES):
            panels.append(
                alt.Chart(data)
                .mark_bar()
                .encode(
                    y=alt.Y(
                        "value:N",
                        sort=order,
                        title=None,
                        axis=alt.Axis(labels=i == 0, ticks=i == 0, labelLimit=200),
                    ),
                    x=alt.X(f"{field}:Q", title=label, axis=alt.Axis(format="%")),
                    color=alt.Color(f"{field}:Q", scale=alt.Scale(scheme=scheme), legend=None),
                    tooltip=[
                        alt.Tooltip("value:N", title=dim),
                        "sessions:Q",
                        alt.Tooltip("bad_minute_share:Q", format=".1%", title="bad minutes"),
                        alt.Tooltip("dropped_share:Q", format=".1%", title="dropped"),
                        alt.Tooltip("rejoin_rate:Q", format=".1%", title="rejoin rate"),
                        alt.Tooltip("cpu_high_share:Q", format=".1%", title="CPU over threshold"),
                    ],
                )
                .properties(width=170, height=alt.Step(20))
            )
        return alt.hconcat(*panels, spacing=8).properties(title=title), data

    return by_dimension, dimension_chart


@app.cell
def _(mo):
    mo.md(
        """
        ## Devices, networks, locations

        Per value: the share of the sessions' QoS minutes that were bad, the share of sessions that
        ended by a connection problem, and the share of attendances that took more than one session
        (attributed to the first session's device, network, location). Sorted by bad minutes.
        """
    )
    return


@app.cell
def _(checked, dimension_chart):
    device_chart, devices = dimension_chart("device", "By device")
    checked(device_chart)
    return (devices,)


@app.cell
def _(checked, dimension_chart):
    network_chart, networks = dimension_chart("network_type", "By network type")
    checked(network_chart)
    return (networks,)


@app.cell
def _(checked, dimension_chart):
    location_chart, locations = dimension_chart("location", "By location (12 with the most sessions)")
    checked(location_chart)
    return (locations,)


@app.cell
def _(alt, checked, experience, mo, q):
    _grid = q(
        f"""
        select
            device,
            network_type,
            count(*) as sessions,
            sum(bad_minutes) / nullif(sum(qos_minutes), 0) as bad_minute_share
        from {experience}
        group by all
        having count(*) >= 5
        """
    )
    _base = alt.Chart(_grid).encode(
        x=alt.X("network_type:N", title="Network"),
        y=alt.Y("device:N", title="Device"),
    )
    _heat = _base.mark_rect().encode(
        color=alt.Color(
            "bad_minute_share:Q",
            title="Bad minutes",
            scale=alt.Scale(scheme="reds"),
            legend=alt.Legend(format="%"),
        ),
        tooltip=["device:N", "network_type:N", "sessions:Q", alt.Tooltip("bad_minute_share:Q", format=".1%")],
    ) + _base.mark_text(fontSize=10).encode(text=alt.Text("bad_minute_share:Q", format=".0%"))
    mo.vstack(
        [
            mo.md("### Device x network\n\nBad-minute share of each combination with at least 5 sessions."),
            checked(_heat.properties(width=alt.Step(70), height=alt.Step(26))),
        ]
    )
    return


@app.cell
def _(mo):
    mo.md(
        """
        ## Rejoins

        How many sessions an attendance took, whether people rejoin more when their call is bad, and
        the rejoin and drop rates over time.
        """
    )
    return


@app.cell
def _(alt, checked, experience, q):
    _per_attendance = q(
        f"""
        with attendances as (
            select
                meeting_uuid,
                person_key,
                count(*) as sessions,
                sum(bad_minutes) / nullif(sum(qos_minutes), 0) as bad_share
            from {experience}
            group by all
        )
        select
            case
                when bad_share is null then 'no QoS'
                when bad_share = 0 then '0 %'
                when bad_share <= 0.05 then '0-5 %'
                when bad_share <= 0.15 then '5-15 %'
                else '> 15 %'
            end as bad_minutes,
            count(*) as attendances,
            avg((sessions > 1)::int) as rejoin_rate,
            avg(sessions) as sessions_per_attendance
        from attendances
        group by 1
        """
    )
    _histogram = q(
        f"""
        select least(person_sessions, 4) as n, count(*) as attendances
        from {experience}
        where session_no = 1
        group by 1
        order by 1
        """
    )
    _hist = (
        alt.Chart(_histogram)
        .mark_bar()
        .encode(
            x=alt.X("n:O", title="Sessions per attendance (4 = 4 or more)", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("attendances:Q", title="Attendances"),
            tooltip=["n:O", "attendances:Q"],
        )
        .properties(width=220, height=220, title="Sessions per attendance")
    )
    _vs_quality = (
        alt.Chart(_per_attendance)
        .mark_bar()
        .encode(
            x=alt.X(
                "bad_minutes:N",
                title="Bad minutes of the attendance",
                sort=["no QoS", "0 %", "0-5 %", "5-15 %", "> 15 %"],
                axis=alt.Axis(labelAngle=0),
            ),
            y=alt.Y("rejoin_rate:Q", title="Attendances with a rejoin", axis=alt.Axis(format="%")),
            color=alt.Color("rejoin_rate:Q", scale=alt.Scale(scheme="purples"), legend=None),
            tooltip=["bad_minutes:N", "attendances:Q", alt.Tooltip("rejoin_rate:Q", format=".1%")],
        )
        .properties(width=260, height=220, title="Rejoin rate vs call quality")
    )
    rejoin_chart = alt.hconcat(_hist, _vs_quality)
    checked(rejoin_chart)
    return


@app.cell
def _(alt, checked, experience, pl, q):
    _daily = q(
        f"""
        select
            date_trunc('day', joined_at)::date as day,
            count(*) filter (where session_no = 1 and person_sessions > 1)
                / nullif(count(*) filter (where session_no = 1), 0) as "rejoin rate",
            avg(is_dropped::int) as "sessions dropped"
        from {experience}
        group by 1
        order by 1
        """
    )
    _long = _daily.unpivot(index="day", variable_name="measure", value_name="share").with_columns(
        pl.col("day").cast(pl.Utf8)
    )
    _line = alt.Chart(_long).encode(
        x=alt.X("day:T", title="Day"),
        y=alt.Y("share:Q", title="Share", axis=alt.Axis(format="%")),
        color=alt.Color("measure:N", title=None),
        tooltip=[alt.Tooltip("day:T"), "measure:N", alt.Tooltip("share:Q", format=".1%")],
    )
    trend_chart = (_line.mark_line() + _line.mark_point(filled=True)).properties(
        width=560, height=220, title="Rejoins and drops per day"
    )
    checked(trend_chart)
    return


@app.cell
def _(alt, checked, mo, q):
    _browsers = q(
        """
        select coalesce(browser, 'unknown') as browser, count(*) as sessions
        from analytics.fct_participant_sessions
        where source = 'meets'
        group by 1
        order by 2 desc
        limit 12
        """
    )
    if _browsers.height:
        meets_view = checked(
            alt.Chart(_browsers)
            .mark_bar()
            .encode(
                y=alt.Y("browser:N", sort="-x", title=None),
                x=alt.X("sessions:Q", title="Attendance rows"),
                tooltip=["browser:N", "sessions:Q"],
            )
            .properties(width=400, height=alt.Step(18), title="MEETS attendance: client as MEETS reports it")
        )
    else:
        meets_view = mo.callout(mo.md("No MEETS attendance in this snapshot."), kind="info")
    mo.vstack([meets_view])
    return


@app.cell
def _(devices, locations, mo, networks, pl):
    def _table(df):
        return mo.ui.table(df.with_columns(pl.col(pl.Float64).round(4)), selection=None, page_size=15)

    mo.vstack(
        [
            mo.md("### The numbers behind the bars"),
            mo.ui.tabs(
                {"devices": _table(devices), "networks": _table(networks), "locations": _table(locations)}
            ),
        ]
    )
    return


if __name__ == "__main__":
    app.run()
