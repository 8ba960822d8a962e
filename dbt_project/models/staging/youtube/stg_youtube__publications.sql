with

source as (

    select * from {{ source('youtube', 'publications') }}
    where status = 'published'

),

renamed as (

    select
        ---------- ids
        file_key as recording_file_id,
        video_id as youtube_video_id,
        ---------- attributes
        target as youtube_target,
        video_url as youtube_url,
        privacy_effective as youtube_privacy_status,
        quota_units as youtube_quota_units,
        ---------- timestamps
        {{ to_utc('published_at') }} as youtube_published_at,
        row_number() over (
            partition by file_key order by (target = 'youtube') desc, published_at desc
        ) as target_rank

    from source

),

final as (

    select * exclude (target_rank)
    from renamed
    where target_rank = 1

)

select * from final
