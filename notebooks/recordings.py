"""Recordings: cloud storage by user and month, what Zoom is about to auto-delete, and what was copied.

Reads the published serving snapshot (``pipelines.paths.serving_path()``, ``MW_SERVING``) read-only: the
recordings mart ``analytics.fct_recording_files`` and the copy inventory ``recordings.inventory``
(written by ``make recordings``; absent until that has run and the snapshot was published again).
Run: ``python notebooks/recordings.py`` | ``marimo edit notebooks/recordings.py`` | ``make report``.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Recordings")


@app.cell
def _():
    from datetime import UTC, datetime, timedelta

    import altair as alt
    import marimo as mo
    import polars as pl

    from pipelines.report import checked, snapshot_or_stop, table_exists

    return UTC, alt, checked, datetime, mo, pl, snapshot_or_stop, table_exists, timedelta


@app.cell
def _(mo, snapshot_or_stop):
    con, q = snapshot_or_stop(mo)

    return con, q


@app.cell
def _(UTC, datetime, timedelta):
    today = datetime.now(UTC).date()
    # "About to be auto-deleted": Zoom deletes the recording within this many days.
    horizon_days = 30
    horizon = today + timedelta(days=horizon_days)
    return horizon, horizon_days, today


@app.cell
def _(con, table_exists):
    # The copy inventory: absent before the first `make recordings` (+ publish), maybe empty.
    has_inventory = table_exists(con, "recordings", "inventory")
    inventory_rows = (
        con.execute("select count(*) from recordings.inventory").fetchone()[0] if has_inventory else 0
    )
    # one row per Zoom file: copied to at least one destination? (file_key = recording_file_id)
    copy_status_sql = (
        """
        select
            file_key as recording_file_id,
            case
                when bool_or(status = 'copied') then 'copied'
                when bool_or(status = 'failed') then 'failed'
                when bool_or(status = 'gone') then 'gone'
                else 'not copied yet'
            end as copy_status
        from recordings.inventory
        where source = 'zoom'
        group by 1
        """
        if inventory_rows
        else "select null::varchar as recording_file_id, null::varchar as copy_status where false"
    )
    return copy_status_sql, has_inventory, inventory_rows


@app.cell
def _(q):
    totals = q(
        """
        select
            count(*) as files,
            count(distinct meeting_uuid) as recordings,
            coalesce(sum(file_size_bytes) filter (where not is_trashed), 0)::bigint as live_bytes,
            coalesce(sum(file_size_bytes) filter (where is_trashed), 0)::bigint as trash_bytes,
            count(*) filter (where is_trashed) as trashed_files,
            count(*) filter (where has_passcode) as passcode_files
        from analytics.fct_recording_files
        """
    ).row(0, named=True)
    _biggest = max(totals["live_bytes"], totals["trash_bytes"], 1)
    unit, unit_bytes = ("GB", 1e9) if _biggest >= 5e9 else ("MB", 1e6)
    return totals, unit, unit_bytes


@app.cell
def _(has_inventory, inventory_rows, mo, today, totals, unit, unit_bytes):
    if not has_inventory:
        _inv = (
            "The snapshot has **no recordings inventory** yet: `make recordings` writes it to the "
            "warehouse, and it shows up here after the next publish (`make transform`)."
        )
    elif not inventory_rows:
        _inv = (
            "The recordings inventory is **empty**: `make recordings` has not copied or planned anything yet."
        )
    else:
        _inv = f"The recordings inventory has {inventory_rows:,} rows (file x destination)."
    mo.md(
        f"""
        # Recordings

        Zoom cloud recordings in the snapshot: **{totals["files"]:,} files** of {totals["recordings"]:,}
        recordings, **{totals["live_bytes"] / unit_bytes:,.1f} {unit}** live and
        {totals["trash_bytes"] / unit_bytes:,.1f} {unit} in the trash ({totals["trashed_files"]} files);
        {totals["passcode_files"]} files are passcode-protected. Sizes are Zoom's declared sizes;
        today is {today} (UTC).

        {_inv}
        """
    )
    return


@app.cell
def _(mo, totals):
    mo.stop(
        not totals["files"],
        mo.callout(mo.md("The snapshot holds no recording files: nothing to plot."), kind="info"),
    )
    return


@app.cell
def _(mo):
    mo.md(
        """
        ## Storage by user and month

        Live (not trashed) files by the host of the meeting and the month it was recorded; the ten
        hosts with the most storage, the rest together.
        """
    )
    return


@app.cell
def _(alt, checked, pl, q, unit, unit_bytes):
    _storage = q(
        """
        with per_host as (
            select
                coalesce(u.full_name, u.email, f.host_zoom_user_id, 'unknown host') as host,
                strftime(date_trunc('month', f.recording_meeting_started_at), '%Y-%m') as month,
                f.file_type,
                coalesce(sum(f.file_size_bytes), 0)::bigint as bytes
            from analytics.fct_recording_files as f
            left join analytics.dim_users as u on f.host_zoom_user_id = u.zoom_user_id
            where not f.is_trashed
            group by all
        ),
        ranked as (
            select host, dense_rank() over (order by sum(bytes) desc, host) as rank
            from per_host
            group by host
        )
        select
            case when r.rank <= 10 then p.host else 'other hosts' end as host,
            p.month,
            p.file_type,
            sum(p.bytes)::bigint as bytes
        from per_host as p
        join ranked as r using (host)
        group by all
        """
    ).with_columns((pl.col("bytes") / unit_bytes).alias("size"))
    storage_by_host = _storage.group_by("host", "month").agg(pl.col("size").sum())
    _order = (
        storage_by_host.group_by("host")
        .agg(pl.col("size").sum())
        .sort("size", descending=True)["host"]
        .to_list()
    )
    _by_month = (
        alt.Chart(storage_by_host)
        .mark_bar()
        .encode(
            x=alt.X("month:O", title="Month recorded", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("size:Q", title=f"Storage ({unit})", stack="zero"),
            color=alt.Color("host:N", title="Host", sort=_order),
            order=alt.Order("size:Q", sort="descending"),
            tooltip=["month:O", "host:N", alt.Tooltip("size:Q", format=",.1f", title=unit)],
        )
        .properties(width=alt.Step(60), height=260, title="Per month, by host")
    )
    _types = _storage.group_by("host", "file_type").agg(pl.col("size").sum())
    _by_host = (
        alt.Chart(_types)
        .mark_bar()
        .encode(
            y=alt.Y("host:N", sort=_order, title=None, axis=alt.Axis(labelLimit=220)),
            x=alt.X("size:Q", title=f"Storage ({unit})"),
            color=alt.Color("file_type:N", title="File type"),
            tooltip=["host:N", "file_type:N", alt.Tooltip("size:Q", format=",.2f", title=unit)],
        )
        .properties(width=320, height=alt.Step(20), title="Per host, by file type")
    )
    storage_chart = alt.hconcat(_by_month, _by_host).resolve_scale(color="independent")
    checked(storage_chart)
    return (storage_by_host,)


@app.cell
def _(horizon_days, mo):
    mo.md(
        f"""
        ## About to be auto-deleted

        Recordings Zoom deletes automatically (the account's auto-delete setting) within the next
        {horizon_days} days, and any already past their date, by the day Zoom deletes them; colored
        by whether `make recordings` has copied them.
        """
    )
    return


@app.cell
def _(alt, checked, copy_status_sql, horizon, mo, pl, q, today, unit, unit_bytes):
    expiring = q(
        f"""
        with copy_status as ({copy_status_sql})
        select
            f.auto_delete_date,
            f.auto_delete_date < ?::date as is_overdue,
            f.topic,
            f.title,
            f.file_type,
            f.file_size_bytes,
            coalesce(u.email, f.host_zoom_user_id) as host,
            coalesce(c.copy_status, 'not copied yet') as copy_status,
            f.recording_file_id
        from analytics.fct_recording_files as f
        left join analytics.dim_users as u on f.host_zoom_user_id = u.zoom_user_id
        left join copy_status as c on f.recording_file_id = c.recording_file_id
        where f.is_auto_delete and not f.is_trashed and f.auto_delete_date <= ?::date
        order by f.auto_delete_date, f.title, f.file_type
        """,
        [today, horizon],
    )
    if expiring.height:
        _daily = (
            expiring.with_columns(
                pl.when(pl.col("is_overdue"))
                .then(pl.lit(str(today)))
                .otherwise(pl.col("auto_delete_date").cast(pl.Utf8))
                .alias("day"),
                (pl.col("file_size_bytes").fill_null(0) / unit_bytes).alias("size"),
            )
            .group_by("day", "copy_status")
            .agg(pl.col("size").sum(), pl.len().alias("files"))
        )
        _statuses = ["not copied yet", "failed", "gone", "copied"]
        expiring_view = checked(
            alt.Chart(_daily)
            .mark_bar()
            .encode(
                x=alt.X("yearmonthdate(day):T", title="Zoom deletes on (overdue files on today)"),
                y=alt.Y("size:Q", title=f"Size ({unit})"),
                color=alt.Color(
                    "copy_status:N",
                    title="Copy",
                    sort=_statuses,
                    scale=alt.Scale(domain=_statuses, range=["#d62728", "#ff7f0e", "#7f7f7f", "#2ca02c"]),
                ),
                tooltip=[
                    alt.Tooltip("day:T"),
                    "copy_status:N",
                    "files:Q",
                    alt.Tooltip("size:Q", format=",.2f", title=unit),
                ],
            )
            .properties(width=560, height=220, title=f"Auto-deleted by {horizon}")
        )
    else:
        expiring_view = mo.callout(
            mo.md(f"No recording is due for auto-deletion by {horizon}."), kind="success"
        )
    _not_copied = expiring.filter(pl.col("copy_status") != "copied")
    mo.vstack(
        [
            expiring_view,
            mo.md(
                f"**{expiring.height} files** due by {horizon}, "
                f"{expiring.filter(pl.col('is_overdue')).height} of them past their date; "
                f"**{_not_copied.height} not copied** (soonest first):"
            ),
            mo.ui.table(
                _not_copied.select(
                    "auto_delete_date", "host", "title", "file_type", "file_size_bytes", "copy_status"
                ),
                selection=None,
                page_size=10,
            ),
        ]
    )
    return (expiring,)


@app.cell
def _(mo):
    mo.md(
        """
        ## Copy status

        What `make recordings` did, from the inventory (`recordings.inventory`: one row per file and
        destination; `copied` = streamed, size and SHA-256 verified; `failed` = retried on the next run;
        `gone` = deleted at the source before it could be copied).
        """
    )
    return


@app.cell
def _(alt, checked, has_inventory, inventory_rows, mo, pl, q, unit, unit_bytes):
    if not has_inventory:
        _view = mo.callout(
            mo.md(
                "**No recordings inventory in this snapshot.** Run `make recordings` to copy the files "
                "(it writes `recordings.inventory` in the warehouse), then publish again with "
                "`make transform` and re-run this notebook."
            ),
            kind="warn",
        )
    elif not inventory_rows:
        _view = mo.callout(
            mo.md("**The recordings inventory is empty**: nothing has been planned or copied yet."),
            kind="info",
        )
    else:
        _inv = q(
            """
            select
                source,
                status,
                dest_root,
                count(*) as files,
                coalesce(sum(coalesce(size, expected_size)), 0)::bigint as bytes
            from recordings.inventory
            group by all
            """
        ).with_columns((pl.col("bytes") / unit_bytes).alias("size"))
        _statuses = ["copied", "planned", "skipped", "failed", "gone"]
        _scale = alt.Scale(domain=_statuses, range=["#2ca02c", "#1f77b4", "#bcbd22", "#ff7f0e", "#7f7f7f"])
        _files = (
            alt.Chart(_inv)
            .mark_bar()
            .encode(
                y=alt.Y("source:N", title=None),
                x=alt.X("sum(files):Q", title="Files"),
                color=alt.Color("status:N", title="Status", sort=_statuses, scale=_scale),
                tooltip=["source:N", "status:N", "dest_root:N", "files:Q"],
            )
            .properties(width=300, height=alt.Step(30), title="Files by status")
        )
        _bytes = _files.encode(
            x=alt.X("sum(size):Q", title=f"Size ({unit})"),
            tooltip=["source:N", "status:N", "dest_root:N", alt.Tooltip("size:Q", format=",.2f", title=unit)],
        ).properties(title="Size by status")
        _coverage = q(
            """
            with copy_status as (
                select file_key, bool_or(status = 'copied') as copied
                from recordings.inventory
                where source = 'zoom'
                group by 1
            )
            select
                strftime(date_trunc('month', f.recording_meeting_started_at), '%Y-%m') as month,
                count(*) as files,
                avg(coalesce(c.copied, false)::int) as copied_share
            from analytics.fct_recording_files as f
            left join copy_status as c on f.recording_file_id = c.file_key
            where not f.is_trashed
            group by 1
            order by 1
            """
        )
        _cov = (
            alt.Chart(_coverage)
            .mark_bar(color="#2ca02c")
            .encode(
                x=alt.X("month:O", title="Month recorded", axis=alt.Axis(labelAngle=0)),
                y=alt.Y(
                    "copied_share:Q",
                    title="Zoom files copied",
                    scale=alt.Scale(domain=[0, 1]),
                    axis=alt.Axis(format="%"),
                ),
                tooltip=["month:O", "files:Q", alt.Tooltip("copied_share:Q", format=".1%")],
            )
            .properties(width=alt.Step(60), height=200, title="Live Zoom files copied, by month")
        )
        _problems = q(
            """
            select source, status, file_type, topic, start_time, attempts, error, dest_url
            from recordings.inventory
            where status in ('failed', 'gone')
            order by status, start_time desc nulls last
            limit 200
            """
        )
        _view = mo.vstack(
            [
                checked(alt.hconcat(alt.vconcat(_files, _bytes), _cov)),
                mo.md(f"**Failed or gone** ({_problems.height}):"),
                mo.ui.table(_problems, selection=None, page_size=10) if _problems.height else mo.md("_none_"),
            ]
        )
    mo.vstack([_view])
    return


if __name__ == "__main__":
    app.run()
