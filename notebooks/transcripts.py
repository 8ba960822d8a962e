"""What was said: search meetings by their transcripts, captions, chat, topics and agendas; talk time.

Reads the published serving snapshot (``pipelines.paths.serving_path()``, ``MW_SERVING``) read-only:
the search documents and their full-text index (``search.documents``, published with the marts; the
same search as ``python -m pipelines search``) and the marts ``analytics.fct_meeting_talk_time`` and
``analytics.fct_transcript_segments``. Empty until ``make run`` (or ``make recordings`` then
``python -m pipelines transcripts``) has copied and read the text files.
Run: ``python notebooks/transcripts.py`` | ``marimo edit notebooks/transcripts.py`` | ``make report``.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="What was said: search and talk time")


@app.cell
def _():
    import altair as alt
    import marimo as mo
    import polars as pl

    from pipelines.report import checked, snapshot_or_stop, table_exists
    from pipelines.transcripts import search

    return alt, checked, mo, pl, search, snapshot_or_stop, table_exists


@app.cell
def _(mo, snapshot_or_stop, table_exists):
    con, q = snapshot_or_stop(mo)
    has_index = table_exists(con, "search", "documents")
    totals = q(
        """
        select count(*) as segments, count(distinct meeting_uuid) as meetings,
            count(distinct speaker) as speakers,
            coalesce(sum(duration_seconds) filter (where segment_kind <> 'chat'), 0)::double / 3600 as hours
        from analytics.fct_transcript_segments
        """
    ).row(0, named=True)
    mo.md(
        f"""
        # What was said

        **{totals["segments"]:,} transcript cues and chat messages** from {totals["meetings"]:,} meetings,
        {totals["speakers"]:,} speakers, {totals["hours"]:.1f} hours of transcribed talk. Speaker names are
        as Zoom wrote them; see `docs/transcripts.md` for what is stored and how to turn it off.
        """
    )
    return con, has_index, q, totals


@app.cell
def _(has_index, mo, q, totals):
    mo.stop(
        not totals["segments"],
        mo.callout(
            mo.md(
                "No transcript, captions or chat in this snapshot yet: `make run` copies and reads them "
                "(or `make recordings`, then `python -m pipelines transcripts`)."
            ),
            kind="info",
        ),
    )
    # The example query: the word (not a stopword) said in the most meetings, from a sample of the
    # segments; the stopwords are the index's.
    _example = (
        q(
            """
            with words as (
                select meeting_uuid, unnest(string_split_regex(lower(segment_text), '\\PL+')) as word
                from (
                    select meeting_uuid, segment_text from analytics.fct_transcript_segments
                    using sample reservoir(100000 rows) repeatable (7)
                )
            )
            select word from words
            where length(word) >= 4 and word not in (select sw from fts_search_documents.stopwords)
            group by word
            order by count(distinct meeting_uuid) desc, count(*) desc, word
            limit 1
            """
        )
        if has_index
        else None
    )
    query = mo.ui.text(
        value=_example["word"][0] if _example is not None and _example.height else "",
        label="Search what was said (topics, agendas, transcripts, captions, chat)",
        full_width=True,
    )
    mo.vstack([query])
    return (query,)


@app.cell
def _(con, has_index, mo, query, search):
    mo.stop(
        not has_index,
        mo.callout(mo.md("This snapshot has no search index: republish it (`make transform`)."), kind="warn"),
    )
    hits = search.search(con, query.value, limit=10) if query.value.strip() else []
    return (hits,)


@app.cell
def _(alt, checked, hits, mo, pl, query, search):
    def _offset(seconds):
        if seconds is None:
            return ""
        s = int(seconds)
        return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"

    if hits:
        ranked = pl.DataFrame(
            {
                "rank": list(range(1, len(hits) + 1)),
                "meeting": [
                    f"{h.started_at:%Y-%m-%d} {h.topic or '(no topic)'}" if h.started_at else h.topic or "?"
                    for h in hits
                ],
                "host": [h.host_name or h.host_email or "" for h in hits],
                "score": [round(h.score, 3) for h in hits],
                "matches": [h.matches for h in hits],
            }
        )
        snippets = pl.DataFrame(
            [
                {
                    "rank": n,
                    "meeting": f"{h.started_at:%Y-%m-%d %H:%M}" if h.started_at else "",
                    "topic": h.topic,
                    "kind": s.kind,
                    "offset": _offset(s.start_offset_s),
                    "speaker": s.speaker,
                    "snippet": search.highlight(s.text, query.value),
                    "file": s.dest_url,
                    "meeting_uuid": h.meeting_uuid,
                }
                for n, h in enumerate(hits, 1)
                for s in h.snippets
            ]
        )
        _chart = checked(
            alt.Chart(ranked)
            .mark_bar()
            .encode(
                x=alt.X("score:Q", title="Score (sum of the matches' BM25)"),
                y=alt.Y(
                    "meeting:N", sort=ranked["meeting"].to_list(), title=None, axis=alt.Axis(labelLimit=360)
                ),
                color=alt.Color("matches:Q", title="Matches", scale=alt.Scale(scheme="blues")),
                tooltip=["rank:Q", "meeting:N", "host:N", "score:Q", "matches:Q"],
            )
            .properties(width=420, height=alt.Step(20), title=f"Meetings that say {query.value!r}")
        )
        results_view = mo.vstack(
            [
                _chart,
                mo.md(
                    "Each meeting's best snippets: where in the recording (`offset`, `hh:mm:ss`) and where "
                    "the file is."
                ),
                mo.ui.table(snippets, selection=None, page_size=30),
            ]
        )
    else:
        results_view = mo.callout(mo.md(f"No meeting says {query.value!r}."), kind="info")
    mo.vstack([results_view])
    return


@app.cell
def _(mo, q):
    talk_meetings = q(
        """
        select meeting_uuid, any_value(topic) as topic, any_value(meeting_started_at) as started_at,
            any_value(host_name) as host_name, any_value(meeting_talk_seconds)::double as talk_seconds,
            any_value(speaker_count) as speakers
        from analytics.fct_meeting_talk_time
        group by 1
        order by talk_seconds desc, meeting_uuid
        """
    )
    _labels = {
        f"{r['started_at']:%Y-%m-%d %H:%M} {r['topic'] or '(no topic)'} ({r['host_name'] or '?'})": r[
            "meeting_uuid"
        ]
        for r in talk_meetings.iter_rows(named=True)
    }
    mo.stop(
        not _labels,
        mo.callout(mo.md("No meeting has a transcript or captions to count talk time from."), kind="info"),
    )
    meeting = mo.ui.dropdown(
        options=_labels, value=next(iter(_labels)), label="Talk time in the meeting", full_width=True
    )
    mo.vstack(
        [
            mo.md(
                "## Talk time\n\nFrom each meeting's audio transcript (else its captions): a speaker's talk "
                "seconds are the sum of their cues' durations. The meeting below is the one with the most "
                "transcribed talk; pick another."
            ),
            meeting,
        ]
    )
    return meeting, talk_meetings


@app.cell
def _(alt, checked, meeting, q):
    speakers = q(
        """
        select coalesce(speaker, '(nobody named)') as speaker, talk_seconds::double as talk_seconds,
            word_count::bigint as word_count, talk_share::double as talk_share, is_host, topic
        from analytics.fct_meeting_talk_time
        where meeting_uuid = ?
        order by talk_seconds desc, speaker
        """,
        [meeting.value],
    )
    _topic = speakers["topic"][0] if speakers.height else meeting.value
    checked(
        alt.Chart(speakers)
        .mark_bar()
        .encode(
            x=alt.X("talk_seconds:Q", title="Talk seconds"),
            y=alt.Y("speaker:N", sort="-x", title=None, axis=alt.Axis(labelLimit=260)),
            color=alt.Color(
                "is_host:N",
                title="Host",
                scale=alt.Scale(domain=[True, False], range=["#d97706", "#2563eb"]),
            ),
            tooltip=[
                "speaker:N",
                alt.Tooltip("talk_seconds:Q", format=",.1f"),
                "word_count:Q",
                alt.Tooltip("talk_share:Q", format=".0%", title="share"),
            ],
        )
        .properties(width=520, height=alt.Step(20), title=f"Talk seconds per speaker: {_topic}")
    )
    return


@app.cell
def _(alt, checked, mo, q):
    host_share = q(
        """
        select meeting_uuid, any_value(host_talk_share)::double as host_talk_share,
            any_value(speaker_count) as speakers
        from analytics.fct_meeting_talk_time
        group by 1
        having any_value(host_talk_share) is not null
        """
    )
    _median = host_share["host_talk_share"].median() if host_share.height else None
    _hist = (
        alt.Chart(host_share)
        .mark_bar()
        .encode(
            x=alt.X(
                "host_talk_share:Q",
                bin=alt.Bin(extent=[0, 1], step=0.05),
                title="Host's share of the meeting's talk",
                axis=alt.Axis(format="%"),
            ),
            y=alt.Y("count():Q", title="Meetings", axis=alt.Axis(tickMinStep=1)),
            tooltip=[alt.Tooltip("count():Q", title="meetings")],
        )
        .properties(width=520, height=240, title="How much of the talk is the host's, across meetings")
    )
    mo.stop(
        not host_share.height,
        mo.callout(mo.md("No meeting has a transcript with its host's talk to count."), kind="info"),
    )
    mo.vstack(
        [
            mo.md(
                f"""
                ### The host's share, across meetings

                {host_share.height:,} meetings with a transcript; median host share
                **{(_median or 0):.0%}**. The host is recognised by name: a host who renamed themselves in
                the meeting counts as a participant.
                """
            ),
            checked(_hist),
        ]
    )
    return


@app.cell
def _(mo, pl, talk_meetings):
    mo.vstack(
        [
            mo.md("Meetings by transcribed talk:"),
            mo.ui.table(
                talk_meetings.with_columns(pl.col("talk_seconds").round(1)), selection=None, page_size=15
            ),
        ]
    )
    return


if __name__ == "__main__":
    app.run()
