-- A deal's stays do not overlap: each one is left when (or before) the next is entered.
select *
from (
    select
        deal_id,
        stay_number,
        left_at,
        lead(entered_at) over (partition by deal_id order by stay_number) as next_entered_at
    from {{ ref('deal_stage_history') }}
) as stays
where next_entered_at is not null
    and (left_at is null or left_at > next_entered_at)
