"""What was said in the meetings: transcripts, captions and chat as data, and full-text search.

* :mod:`pipelines.transcripts.parse`  WebVTT and chat parsers (one cue per cue or message)
* :mod:`pipelines.transcripts.stage`  ``python -m pipelines transcripts``: reads the copied files back
  from the recordings destination and loads ``transcripts.cues`` incrementally (quarantine included)
* :mod:`pipelines.transcripts.search` ``search.documents`` + DuckDB fts index, ranked meeting search
* :mod:`pipelines.transcripts.cli`    the two commands' flags and handlers

``[transcripts] enabled = false`` in ``.dlt/config.toml`` (or ``TRANSCRIPTS__ENABLED=false``) turns
the stage off: what people said then never reaches the warehouse (see docs/transcripts.md).
"""
