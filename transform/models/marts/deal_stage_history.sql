{#-
  One row per stay of a deal in a stage: when it entered, when it left, the days between.
  A deal whose moves were loaded (deal_stage_changes, selected in the tap) has a row per move;
  any other deal (the stream not selected, or its history still waiting in the tap's backlog)
  has one row, its current stage since deals.stage_change_time (or its add_time).
-#}
with deals as (
    select * from {{ ref('stg_deals') }}
),

stages as (
    select * from {{ ref('stg_stages') }}
),

moves as (
    select
        changes.deal_id,
        changes.to_stage_id as stage_id,
        changes.pipeline_id,
        changes.{{ adapter.quote('time') }} as entered_at,
        changes.stage_change_id as tie_breaker
    from {{ ref('stg_deal_stage_changes') }} as changes
    inner join deals on deals.id = changes.deal_id
    where changes.to_stage_id is not null
        and changes.{{ adapter.quote('time') }} is not null
),

deals_with_moves as (
    select distinct deal_id from moves
),

stays as (
    select
        deal_id,
        stage_id,
        pipeline_id,
        entered_at,
        tie_breaker,
        'deal_stage_changes' as source
    from moves

    union all

    select
        deals.id as deal_id,
        deals.stage_id,
        deals.pipeline_id,
        coalesce(deals.stage_change_time, deals.add_time) as entered_at,
        '' as tie_breaker,
        'deals' as source
    from deals
    left join deals_with_moves on deals_with_moves.deal_id = deals.id
    where deals_with_moves.deal_id is null
        and deals.stage_id is not null
        and coalesce(deals.stage_change_time, deals.add_time) is not null
),

ordered as (
    select
        stays.*,
        row_number() over (
            partition by deal_id order by entered_at, tie_breaker
        ) as stay_number,
        lead(entered_at) over (
            partition by deal_id order by entered_at, tie_breaker
        ) as next_entered_at
    from stays
),

closed as (
    select
        ordered.*,
        deals.status as deal_status,
        case
            when ordered.next_entered_at is not null then 'next_stage'
            when deals.status in ('won', 'lost') then deals.status
        end as left_by,
        case
            when ordered.next_entered_at is not null then ordered.next_entered_at
            when deals.status = 'won' then coalesce(deals.won_time, deals.close_time)
            when deals.status = 'lost' then coalesce(deals.lost_time, deals.close_time)
        end as left_time
    from ordered
    inner join deals on deals.id = ordered.deal_id
)

select
    cast(closed.deal_id as {{ dbt.type_string() }})
        || '-' || cast(closed.stay_number as {{ dbt.type_string() }}) as deal_stage_history_id,
    closed.deal_id,
    closed.stay_number,
    coalesce(stages.pipeline_id, closed.pipeline_id) as pipeline_id,
    closed.stage_id,
    stages.name as stage_name,
    closed.entered_at,
    -- A deal does not leave before it entered (a time the API rounded, a clock's skew).
    case
        when closed.left_time < closed.entered_at then closed.entered_at
        else closed.left_time
    end as left_at,
    closed.left_by,
    closed.left_by is null as is_current,
    case
        when closed.left_time < closed.entered_at then cast(0 as {{ pipedrive_double() }})
        else {{ pipedrive_days_between('closed.entered_at', 'closed.left_time') }}
    end as days_in_stage,
    closed.deal_status,
    closed.source
from closed
left join stages on stages.id = closed.stage_id
