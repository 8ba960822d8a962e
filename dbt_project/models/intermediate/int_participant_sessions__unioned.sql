{#-
    Zoom attendance sessions (waiting-room stints excluded: they are not attendance, see
    fct_waiting_room_stints) and MEETS attendance rows in one shape, with a person key that
    identifies the same person across rejoins (and across the two sources): for Zoom rows the key
    of int_zoom_sessions__identified (Zoom's email, the account member's, the matching MEETS
    attendance row's, the Zoom user id, or the name within the meeting); for MEETS rows the email,
    else 'guest:' + meeting (Zoom uuid, else 'meets:' + event id) + ':' + lower-cased name.
    A view: fct_participant_sessions is its one reader (the other marts read that table), so the
    rows are computed and stored once per run. The SQL is macros/participant_sessions_unioned.sql,
    which fct_participant_sessions calls with the touched-meeting filter on its incremental builds.
-#}

{{ participant_sessions_unioned() }}
